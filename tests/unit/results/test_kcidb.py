"""KCIDB v5 output, checked with KernelCI's own schema package (kcidb-io).

kcidb-validate and kcidb-submit validate with kcidb_io's schema classes;
these tests do the same, on results parsed from real captured consoles.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from kcidb_io import schema

from kgen.cli import shipped_specs
from kgen.git_tree import git_head
from kgen.runner.results.kcidb import (
    LOG_EXCERPT_MAX,
    Checkout,
    kcidb_report,
    patchset_hash,
    path_node,
    status_of,
    write_kcidb,
)
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.validate.kcidb_steps import step_checkouts
from kgen.runner.validate.pipeline import Step, StepState, ValidateOutcome
from kgen.runner.validate.series import Patch
from kgen.spec.loader import load_specs
from kgen.target.target import resolve_target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
STARTED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROPS = {"arch": "um", "kernel.version": "7.3.4", "kgen.version": "0.1.0",
         "kconfig.sha256": "0123456789abcdef", "kernel_args": ""}


def fixture_result(name: str) -> RunResult:
    log = FIXTURES / "ktap" / f"{name}.log"
    known = json.loads(log.with_name(f"{log.stem}.expected.json").read_text()).get("_known_cases")
    result = parse_console(log.read_text(errors="replace").splitlines(), known_cases=known)
    result.properties.update(PROPS)
    result.build_log = [f"$ python3 {Path.home()}/.cache/kgen/overlays/linux-source-7.3/"
                        "tools/testing/kunit/kunit.py build --arch um",
                        "[12:00:00] Elapsed time: 14.602s"]
    result.build_seconds = 14.6
    return result


def report(*runs: RunResult, **checkout) -> dict:
    co = Checkout(Path("/src/linux-source-7.3"), "7.3.4", runs=list(runs), **checkout)
    return kcidb_report([co], "kgen", load_specs(shipped_specs()), STARTED, "run1")


def valid(data: dict) -> dict:
    """Valid for schema 5.0 exactly and for the newest schema kcidb-io has."""
    schema.V5_0.validate_exactly(data)
    schema.LATEST.validate(data)
    return data


@pytest.mark.parametrize("name", sorted(str(p.relative_to(FIXTURES / "ktap").with_suffix(""))
                                         for p in (FIXTURES / "ktap").rglob("*.log")))
def test_every_captured_console_gives_valid_kcidb(name):
    result = fixture_result(name)
    data = valid(report(result))
    assert data["version"] == {"major": 5, "minor": 0}
    assert len(data["checkouts"]) == 1 and len(data["builds"]) == 1
    # One test per case and parameter, plus one per run-level error.
    assert len(data["tests"]) == len(result.all_cases())
    assert len({t["id"] for t in data["tests"]}) == len(data["tests"])
    for test in data["tests"]:
        assert test["id"] == f"{test['build_id']}.{test['path']}"
        assert all(test["path"].split("."))


def test_paths_statuses_and_messages_from_a_real_failure():
    data = valid(report(fixture_result("um_validate_leak_and_warn_patches")))
    failed = [t for t in data["tests"] if t["status"] == "FAIL"]
    assert failed
    leak = next(t for t in failed if "expect.freed" in t["misc"]["message"])
    suite, case, param = leak["path"].split(".")
    assert suite == "kgen_contig_split" and not case.startswith("kgen_")
    assert param == path_node(leak["misc"]["param"])   # e.g. order_9_free_free_pages_bulk
    assert leak["log_excerpt"].startswith(leak["misc"]["message"])
    assert leak["comment"].startswith("expect.freed:")
    # The spec's source: file and the case's line.
    spec_file, line = leak["misc"]["spec"].rsplit(":", 1)
    assert spec_file == "spec/suites/contig_split.yaml" and int(line) > 0
    # No local path: a shared report must not carry a user name.
    text = json.dumps(data)
    assert "/src/" not in text and f"{Path.home()}/" not in text
    assert data["builds"][0]["command"].startswith("python3 ~/.cache/kgen/overlays/")
    warned = [t for t in failed if t["misc"]["kind"] == "splat:WARNING"]
    assert warned and all("WARNING" in t["log_excerpt"] for t in warned)


def test_crash_is_error_and_what_never_ran_is_miss():
    data = valid(report(fixture_result("um_bug_panic")))
    statuses = {t["misc"]["kunit_name"]: t["status"] for t in data["tests"]}
    assert "ERROR" in statuses.values() and "MISS" in statuses.values()
    assert "PASS" in statuses.values()


@pytest.mark.parametrize("status, kind, kcidb", [
    (Status.PASSED, "", "PASS"), (Status.FAILED, ResultKind.EXPECTATION, "FAIL"),
    (Status.FAILED, "splat:WARNING", "FAIL"), (Status.SKIPPED, "", "SKIP"),
    (Status.ERROR, ResultKind.CRASH, "ERROR"), (Status.ERROR, ResultKind.WEDGED, "ERROR"),
    (Status.ERROR, ResultKind.TIMEOUT, "ERROR"), (Status.ERROR, ResultKind.FAULT, "ERROR"),
    (Status.ERROR, ResultKind.NOT_RUN, "MISS"), (Status.ERROR, ResultKind.BLOCKED, "MISS"),
])
def test_status_mapping(status, kind, kcidb):
    assert status_of(CaseResult("c", status, kind=kind)) == kcidb


def test_build_failure_is_a_failed_build_with_its_error_and_no_tests():
    log = (FIXTURES / "build" / "um_compile_error.log").read_text().splitlines()
    result = RunResult(properties=dict(PROPS), build_log=log, build_seconds=3.0)
    result.errors.append(CaseResult("build", Status.ERROR, kind=ResultKind.BUILD,
                                    message="mm/kgen/x.c:1:2: error: boom", log=log[-60:]))
    data = valid(report(result))
    build = data["builds"][0]
    assert build["status"] == "FAIL" and data["tests"] == []
    assert build["log_excerpt"].startswith("mm/kgen/x.c:1:2: error: boom")
    assert build["architecture"] == "um" and build["duration"] == 3.0
    assert build["config_name"] == "kgen-kunitconfig-0123456789abcdef"


def test_log_excerpts_keep_the_schema_limit():
    case = CaseResult("kgen_s_c", Status.FAILED, kind=ResultKind.EXPECTATION,
                      message="expect.x: wrong", details=["line %d \0" % i for i in range(50000)])
    result = RunResult(properties=dict(PROPS))
    result.suites.append(SuiteResult("kgen_s", [case]))
    test = valid(report(result))["tests"][0]
    assert len(test["log_excerpt"]) <= LOG_EXCERPT_MAX
    assert test["log_excerpt"].startswith("expect.x: wrong\n")
    assert test["log_excerpt"].endswith("line 49999 ") and "\0" not in test["log_excerpt"]


def test_patchset_hash_is_kcidbs(tmp_path):
    patches = [(p.name, p.read_bytes()) for p in sorted((FIXTURES / "series").glob("*.patch"))]
    # The submitter guide's recipe: sha256sum *.patch | cut -c-64 | sha256sum
    lines = "".join(hashlib.sha256(text).hexdigest() + "\n" for _, text in patches)
    shell = subprocess.run("sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64",
                           shell=True, cwd=FIXTURES / "series", capture_output=True,
                           text=True, check=True).stdout.strip()
    assert patchset_hash(patches) == hashlib.sha256(lines.encode()).hexdigest() == shell
    assert patchset_hash([]) == ""
    data = valid(report(fixture_result("um_shipped_pass"), patches=patches))
    assert data["checkouts"][0]["patchset_hash"] == shell
    assert data["checkouts"][0]["misc"]["patches"] == [n for n, _ in patches]


def _git_tree(tmp_path: Path) -> Path:
    repo = tmp_path / "linux"
    repo.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    (repo / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\n")
    for args in (["init", "-q", "-b", "mm-fix"], ["add", "."], ["commit", "-qm", "base"],
                 ["tag", "v7.3"], ["remote", "add", "origin",
                                   "https://git.kernel.org/pub/scm/linux/kernel/git/x/y.git"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                       capture_output=True)
    return repo


def test_git_tree_gives_commit_describe_branch_and_url_without_writing(tmp_path):
    repo = _git_tree(tmp_path)
    (repo / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 1\n")
    index = repo / ".git" / "index"
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    head = git_head(repo)
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    assert head.commit == commit and head.describe == "v7.3" and head.branch == "mm-fix"
    assert head.url.startswith("https://git.kernel.org/") and head.dirty
    assert git_head(repo / "..") is None and git_head(tmp_path / "nope") is None
    data = valid(kcidb_report([Checkout(repo, "7.3.0", head, runs=[])], "my_ci",
                              started=STARTED, run_id="r"))
    checkout = data["checkouts"][0]
    assert checkout["id"] == "my_ci:r" and checkout["origin"] == "my_ci"
    assert checkout["git_commit_hash"] == commit and checkout["git_commit_name"] == "v7.3"
    assert checkout["tree_name"] == "linux" and checkout["misc"]["git_dirty"] is True


def test_validate_steps_become_checkouts(tmp_path):
    patches = [Patch("mm: one", "diff one\n", "a#1"), Patch("mm: two", "diff two\n", "a#2"),
               Patch("mm: three", "diff three\n", "a#3")]
    ok = fixture_result("um_shipped_pass")
    steps = [Step("base", results=[ok]), Step("1/3", "mm: one", results=[ok, ok]),
             Step("2/3", "mm: two", StepState.APPLY_FAILED, "Hunk #1 FAILED at 10."),
             Step("3/3", "mm: three", StepState.NOT_RUN)]
    outcome = ValidateOutcome(steps, None, patches)   # the classification is not read
    checkouts = step_checkouts(resolve_target(_git_tree(tmp_path), "um"), outcome)
    assert [c.step for c in checkouts] == ["step0", "step1", "step2"]
    data = valid(kcidb_report(checkouts, started=STARTED, run_id="r"))
    by_id = {c["id"]: c for c in data["checkouts"]}
    assert by_id["kgen:r.step0"]["patchset_hash"] == ""
    assert by_id["kgen:r.step1"]["misc"]["patches"] == ["1/3 mm: one"]
    broken = by_id["kgen:r.step2"]
    assert broken["valid"] is False and "Hunk #1 FAILED" in broken["log_excerpt"]
    assert [b["id"] for b in data["builds"]] == ["kgen:r.step0.um", "kgen:r.step1.um",
                                                 "kgen:r.step1.um.run2"]


def test_written_file_is_json_and_cli_refuses_a_bad_origin(tmp_path):
    out = tmp_path / "k" / "kcidb.json"
    write_kcidb(report(fixture_result("um_skip_and_fail")), out)
    valid(json.loads(out.read_text()))
    proc = subprocess.run([sys.executable, "-m", "kgen", "run", "--kcidb", str(out),
                           "--kcidb-origin", "My-CI"], capture_output=True, text=True)
    assert proc.returncode == 2 and "KCIDB origins are lower-case" in proc.stderr


def test_a_known_issue_note_goes_to_misc_and_the_status_stays():
    case = CaseResult("kgen_s_c/each=512", Status.ERROR, kind=ResultKind.CRASH,
                      message="kernel BUG at mm/page_alloc.c:957!")
    case.known_issue = SimpleNamespace(reason="bad_range() BUG across the boundary",
                                       link="findings/0001.patch", kernels="",
                                       where="boundary_zone_dma.yaml:40")
    result = RunResult(properties=dict(PROPS))
    result.suites.append(SuiteResult("kgen_s", [case]))
    test = valid(report(result))["tests"][0]
    assert test["status"] == "ERROR"
    assert test["misc"]["known_issue"] == {"reason": "bad_range() BUG across the boundary",
                                           "link": "findings/0001.patch",
                                           "where": "boundary_zone_dma.yaml:40"}
