"""Write results as KCIDB v5 JSON: the format of KernelCI's common results
database, which `kcidb-submit` sends there.

One checkout per source that was built (a tree, plus the patches applied
on top: `--patch`, or the steps of `kgen validate`), one build per kgen run
on it, and one test per KUnit case and per parameter of a parameterised
case.  Everything comes from the plain results model (RunResult) and the
specs; kgen holds no credentials and submits nothing itself.

Objects are named ``<origin>:<run id>[.<step>]`` (checkout), ``<checkout
id>.<arch>[.run<N>]`` (build) and ``<build id>.<test path>`` (test), so one
kgen run never collides with another.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from kgen.git_tree import GitHead
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status
from kgen.spec.model import Spec

# Every field written here exists since schema 5.0, so any KCIDB that
# speaks v5 takes the file (kcidb-validate accepts 5.0 up to its own 5.x).
SCHEMA_VERSION = {"major": 5, "minor": 0}
# The schema's limit for every log_excerpt.
LOG_EXCERPT_MAX = 16384
# An origin names the submitting CI system (schema: ^[a-z0-9_]+$).
ORIGIN = re.compile(r"[a-z0-9_]+")
DEFAULT_ORIGIN = "kgen"
# One node of a test path (schema: dot-separated [a-zA-Z0-9_-]+).
_NOT_PATH = re.compile(r"[^A-Za-z0-9_-]+")
# Pseudo-suite for run-level errors, as in the JUnit report.
ERRORS_NODE = "kgen"
# Run properties a build's misc leaves out: fields of their own, or a
# local path (which may hold a user name) in a report meant to be shared.
_NOT_BUILD_MISC = ("arch", "kernel.version", "kernel.tree")

# kgen error kinds that mean "this test never ran" (KCIDB: MISS, the
# harness could not run it) rather than "it ran and did not finish" (ERROR).
_NEVER_RAN = {ResultKind.NOT_RUN, ResultKind.BLOCKED}


def status_of(case: CaseResult) -> str:
    """KCIDB status of one kgen result.

    passed -> PASS; failed (an expectation, a splat, a missing declared
    splat) -> FAIL: the tested code is faulty; skipped -> SKIP;
    unconfirmed (a counter mismatch that a repeat did not show) -> DONE:
    the test completed without a verdict on the tested code; an error
    -> MISS if the case never ran (not run, blocked by a dead case),
    else ERROR (it crashed, wedged, faulted, timed out ...: its outcome is
    unknown).
    """
    if case.status is Status.PASSED:
        return "PASS"
    if case.status is Status.FAILED:
        return "FAIL"
    if case.status is Status.SKIPPED:
        return "SKIP"
    if case.status is Status.UNCONFIRMED:
        return "DONE"
    return "MISS" if case.kind in _NEVER_RAN else "ERROR"


@dataclass
class Checkout:
    """A source as it was built: a tree plus the patches applied on top."""

    tree: Path
    version: str                        # the tree's kernel version, e.g. 7.3.0
    git: GitHead | None = None          # None: not a git tree
    patches: list[tuple[str, bytes]] = field(default_factory=list)  # (name, text)
    valid: bool = True                  # False: a patch did not apply
    log: str = ""                       # why it is not valid (patch's output)
    step: str = ""                      # names the checkout among several (validate)
    runs: list[RunResult] = field(default_factory=list)


def new_run_id(now: datetime) -> str:
    """Unique per kgen command: the UTC time plus 24 random bits."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def patchset_hash(patches: Sequence[tuple[str, bytes]]) -> str:
    """KCIDB's patchset hash: sha256 over each patch's newline-terminated
    sha256, in order; "" when nothing was applied."""
    if not patches:
        return ""
    lines = "".join(hashlib.sha256(text).hexdigest() + "\n" for _, text in patches)
    return hashlib.sha256(lines.encode()).hexdigest()


def path_node(text: str) -> str:
    """text as one node of a KCIDB test path: runs of characters the
    schema does not allow become "_" ("order=9,free=x" -> "order_9_free_x")."""
    return _NOT_PATH.sub("_", text).strip("_") or "_"


def _excerpt(lines: Iterable[str], head: str = "") -> str:
    """head, then as many of the last lines as the schema's limit allows
    (the end of a log says most: the failure, the splat, the crash).
    NUL characters, which the schema refuses, are dropped."""
    head = head.replace("\0", "")[:LOG_EXCERPT_MAX]
    budget = LOG_EXCERPT_MAX - len(head)
    tail: list[str] = []
    for line in reversed(list(lines)):
        line = line.replace("\0", "")
        if len(line) + 1 > budget:
            break
        budget -= len(line) + 1
        tail.append(line)
    parts = ([head] if head else []) + tail[::-1]
    return "\n".join(parts)[:LOG_EXCERPT_MAX]


def _time(now: datetime) -> str:
    return now.astimezone(UTC).isoformat()


def spec_name(path: Path) -> str:
    """A spec file as reports shared beyond this machine name it: shipped
    specs as spec/suites/<file>, others by file name (their hash, in misc,
    tells them apart); never a local path, which may hold a user name."""
    shipped = Path(str(resources.files("kgen.spec").joinpath("suites"))).resolve()
    return f"spec/suites/{path.name}" if path.resolve().parent == shipped else path.name


def _case_sources(specs: Iterable[Spec]) -> dict[tuple[str, str], str]:
    """(suite, KUnit case name) -> "spec file:line" of the case."""
    return {(spec.suite, f"{spec.suite}_{case.name}"): f"{spec_name(spec.path)}:{case.line}"
            for spec in specs for case in spec.cases}


class _Writer:
    def __init__(self, origin: str, run_id: str, started: datetime, specs: Iterable[Spec]):
        self.origin = origin
        self.run_id = run_id
        self.started = _time(started)
        self.sources = _case_sources(specs)
        self.data: dict = {"version": dict(SCHEMA_VERSION), "checkouts": [],
                           "builds": [], "tests": []}

    def checkout(self, co: Checkout) -> None:
        cid = f"{self.origin}:{self.run_id}" + (f".{path_node(co.step)}" if co.step else "")
        obj = {"id": cid, "origin": self.origin, "tree_name": co.tree.name,
               "start_time": self.started, "valid": co.valid,
               "patchset_hash": patchset_hash(co.patches),
               "comment": f"Linux {co.version} ({co.tree.name})"
               + (f" with {len(co.patches)} patch(es)" if co.patches else ""),
               "misc": {"kernel_version": co.version,
                        "patches": [name for name, _ in co.patches]}}
        if co.step:
            obj["misc"]["step"] = co.step
        if co.git:
            obj |= {"git_commit_hash": co.git.commit, "git_commit_name": co.git.describe}
            if co.git.branch:
                obj["git_repository_branch"] = co.git.branch
            if co.git.url:
                obj["git_repository_url"] = co.git.url
            obj["misc"]["git_dirty"] = co.git.dirty
        if co.log:
            obj["log_excerpt"] = _excerpt(co.log.splitlines())
        self.data["checkouts"].append(obj)
        for number, result in enumerate(co.runs, 1):
            self.build(cid, result, number)

    def build(self, checkout_id: str, result: RunResult, number: int) -> None:
        props = result.properties
        arch = props.get("arch", "")
        bid = f"{checkout_id}.{path_node(arch)}" + (f".run{number}" if number > 1 else "")
        failed = next((e for e in result.errors if e.kind == ResultKind.BUILD), None)
        obj = {"id": bid, "checkout_id": checkout_id, "origin": self.origin,
               "architecture": arch, "start_time": self.started,
               "status": "FAIL" if failed else "PASS",
               "comment": f"KUnit kernel built by kgen {props.get('kgen.version', '')} "
                          "with the tree's tools/testing/kunit/kunit.py",
               "misc": {k.replace(".", "_"): v for k, v in sorted(props.items())
                        if k not in _NOT_BUILD_MISC}}
        if "kconfig.sha256" in props:
            obj["config_name"] = f"kgen-kunitconfig-{props['kconfig.sha256']}"
        command = next((line[2:] for line in result.build_log if line.startswith("$ ")), "")
        if command:
            obj["command"] = command
        if result.build_seconds is not None:
            obj["duration"] = round(result.build_seconds, 3)
        log = result.build_log or (failed.log if failed else [])
        if log or failed:
            obj["log_excerpt"] = _excerpt(log, failed.message if failed else "")
        self.data["builds"].append(obj)
        if not failed:
            self.tests(bid, result)

    def tests(self, build_id: str, result: RunResult) -> None:
        props = result.properties
        used: set[str] = set()
        for suite in result.suites:
            for case in suite.cases:
                case_node = case.function.removeprefix(f"{suite.name}_")
                nodes = [suite.name, case_node] + ([case.param] if case.param else [])
                path = ".".join(path_node(n) for n in nodes)
                self.test(build_id, _unique(path, used), case, props, suite.properties,
                          self.sources.get((suite.name, case.function), ""))
        for error in result.errors:
            if error.kind == ResultKind.BUILD:
                continue
            node = error.name.removeprefix(f"{error.suite}: ") if error.suite else error.name
            path = f"{path_node(error.suite or ERRORS_NODE)}.{path_node(node)}"
            self.test(build_id, _unique(path, used), error, props, {}, "")

    def test(self, build_id: str, path: str, case: CaseResult, props: dict[str, str],
             suite_props: dict[str, str], source: str) -> None:
        misc = {"kunit_name": case.name, "kgen_status": case.status.value}
        if case.param:
            misc["param"] = case.param
        if case.message:
            misc["message"] = case.message
        if case.kind:
            misc["kind"] = case.kind
        spec_file = suite_props.get("spec.file", "")
        if source or spec_file:
            misc["spec"] = source or spec_name(Path(spec_file))
        if "spec.sha256" in suite_props:
            misc["spec_sha256"] = suite_props["spec.sha256"]
        # A spec's known issue (reason, link, kernels, where), where the
        # results carry one: the test keeps its status, and the note says why.
        note = getattr(case, "known_issue", None)
        if note is not None:
            misc["known_issue"] = {k: v for k, v in vars(note).items() if v}
        obj = {"id": f"{build_id}.{path}", "build_id": build_id, "origin": self.origin,
               "path": path, "status": status_of(case),
               "environment": _environment(props, suite_props), "misc": misc}
        if case.message:
            obj["comment"] = " ".join(case.message.split())[:1000]
        if case.time is not None:
            obj["duration"] = case.time
        excerpt = _excerpt(case.details or case.log, case.message)
        if excerpt:
            obj["log_excerpt"] = excerpt
        self.data["tests"].append(obj)


def _unique(path: str, used: set[str]) -> str:
    """path, or path-2, path-3 ... if two results map to one path."""
    candidate, number = path, 1
    while candidate in used:
        number += 1
        candidate = f"{path}-{number}"
    used.add(candidate)
    return candidate


def _environment(props: dict[str, str], suite_props: dict[str, str]) -> dict:
    """Where the test ran: UML as a host process, or a QEMU guest."""
    arch = props.get("arch", "")
    if "qemu.accel" in props:
        comment = f"QEMU {arch} guest, accel {props['qemu.accel']}"
    else:
        comment = "user-mode Linux (UML) process" if arch == "um" else f"{arch} kernel"
    misc = {k.replace(".", "_"): props[k] for k in ("kernel_args", "qemu_args") if props.get(k)}
    if "guest" in suite_props:
        misc["guest_layout"] = suite_props["guest"]
    return {"comment": comment, "misc": misc}


def kcidb_report(checkouts: Sequence[Checkout], origin: str = DEFAULT_ORIGIN,
                 specs: Iterable[Spec] = (), started: datetime | None = None,
                 run_id: str | None = None) -> dict:
    """The KCIDB v5 document for the checkouts and the runs built on them."""
    if not ORIGIN.fullmatch(origin):
        raise ValueError(f"KCIDB origin {origin!r}: only a-z, 0-9 and _ are allowed")
    started = started or datetime.now(UTC)
    writer = _Writer(origin, run_id or new_run_id(started), started, specs)
    for checkout in checkouts:
        writer.checkout(checkout)
    return _without_home(writer.data, str(Path.home()))


def _without_home(value, home: str):
    """value with the home directory spelled "~" in every string: build
    commands and logs name kgen's cache under it, and a report meant to be
    shared should not carry the user's name."""
    if isinstance(value, str):
        return value.replace(f"{home}/", "~/") if home not in ("", "/") else value
    if isinstance(value, dict):
        return {k: _without_home(v, home) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_home(v, home) for v in value]
    return value


def write_kcidb(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
