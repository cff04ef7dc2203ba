"""One build-and-boot session: a tree's overlay, one build dir, one arch.

`kgen run`, `kgen bench` and (through run) `kgen validate` all go through
it: lock the overlay, write the generated files and the kunitconfig, build,
then boot as often as needed.  Every file a session writes beside its build
dir is named here (``Session.path``), so logs are found in one place.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kgen import __version__
from kgen.errors import EnvironmentProblem
from kgen.git_tree import head_commit
from kgen.runner.harness import accel_probe, kunit_tool, qemu_shim
from kgen.runner.harness.overlay import Overlay
from kgen.runner.harness.patches import Patched
from kgen.target.target import Target

# Most telling first: a compiler/linker diagnostic, then kunit.py's own
# explanations (e.g. a Kconfig option that could not be set), then anything.
_BUILD_ERROR_PATTERNS = (
    re.compile(r":\d+:\d+: (fatal )?error: "),
    re.compile(r"undefined reference to|ld: .*error"),
    re.compile(r"Not all Kconfig options|Missing: |were not set"),
    re.compile(r"ERROR:|\berror:|Error \d"),
)


def first_error_line(lines: list[str]) -> str:
    """The line of a build log that best says why the build failed."""
    for pattern in _BUILD_ERROR_PATTERNS:
        for line in lines:
            if pattern.search(line):
                return line.strip().removeprefix("ERROR:root:")
    return lines[-1].strip() if lines else "build failed"


def drop_stale_objects(build_dir: Path, overlay_root: Path, rels: list[str]) -> list[Path]:
    """Delete the build outputs made from (or including) the given tree files.

    A file that goes back from a patched copy to the symlink into the tree
    looks *older* than its object to make, which would keep the patched
    object.  kbuild lists each target's sources and headers, with the
    overlay's absolute paths, in its .<target>.cmd file (objects, linker
    scripts, generated headers ...); every target whose list names a
    changed file is removed, so make builds it again.  Kconfig files are
    listed in include/config/auto.conf.cmd instead, relative to the tree:
    when one changed, auto.conf goes, so make runs syncconfig again (kbuild
    tracks each CONFIG_ symbol per object, so only users of the symbols
    that changed are rebuilt).
    """
    if not rels or not build_dir.is_dir():
        return []
    needles = [f"{overlay_root}/{rel}".encode() for rel in rels]
    dropped = []
    for cmd in build_dir.rglob(".*.cmd"):
        try:
            text = cmd.read_bytes()
        except OSError:
            continue
        if any(n in text for n in needles):
            target = cmd.with_name(cmd.name[1:-len(".cmd")])
            if target.is_file():
                target.unlink()
                dropped.append(target)
    auto_conf = build_dir / "include/config/auto.conf"
    try:
        kconfig_deps = {line.strip().rstrip("\\").strip()
                        for line in (build_dir / "include/config/auto.conf.cmd")
                        .read_text(errors="replace").splitlines()}
    except OSError:
        kconfig_deps = set()
    if auto_conf.is_file() and kconfig_deps & set(rels):
        auto_conf.unlink()
        dropped.append(auto_conf)
    return sorted(dropped)


def _digests(patched: Patched) -> dict[str, str]:
    return {rel: "deleted" if data is None else hashlib.sha256(data).hexdigest()
            for rel, data in patched.items()}


class OverlayLock:
    """One kgen command per overlay at a time (they share files and build dirs)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w")

    def __enter__(self):
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise EnvironmentProblem(f"another kgen run holds {self.file.name}") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


@dataclass(frozen=True)
class BootLimits:
    """How long a command's boots may take (--timeout, --stall-timeout)."""

    # Seconds for all boots of a session together (the build is not
    # counted): each boot gets what is left as kunit.py's --timeout.
    timeout: int = 600
    # Seconds without console output before a boot counts as hung; None:
    # the arch's default for the accelerator (kgen.arch).
    stall_seconds: float | None = None


@dataclass
class SessionConfig:
    """What a session builds and how it boots by default, on top of its Target."""

    build_dir: Path
    limits: BootLimits = field(default_factory=BootLimits)
    jobs: int | None = None
    kernel_args: list[str] = field(default_factory=list)
    qemu_args: list[str] = field(default_factory=list)
    log: Callable[[str], None] = print


class Session:
    """Build once, boot many times, in one overlay and build dir.

    Use as a context manager: it holds the overlay lock while it lives.
    """

    def __init__(self, target: Target, config: SessionConfig):
        self.target = target
        self.config = config
        self.build_dir = config.build_dir.resolve()
        self.overlay = Overlay(target.tree, target.paths.overlay)
        # Not with_suffix(): "linux-source-7.3-<hash>" would lose ".3-<hash>",
        # and the 7.2 and 7.3 trees would share one lock.
        self._lock = OverlayLock(self.overlay.root.parent / f"{self.overlay.root.name}.lock")
        self._invocation = kunit_tool.Invocation(
            kunit_py=self.overlay.kunit_py, build_dir=self.build_dir,
            kunitconfig=self.path("kunitconfig"), arch=target.arch,
            jobs=config.jobs or kunit_tool.Invocation.jobs, timeout=config.limits.timeout,
            kernel_args=list(config.kernel_args), qemu_args=list(config.qemu_args),
            accel=target.accel, shim_dir=qemu_shim.install(target.paths.qemu_shim),
            stall_seconds=self._stall_seconds(target.accel))
        self._boots_started: float | None = None
        # The accelerator boots use: the target's, until choose_accel()
        # settles "auto".
        self.accel = target.accel
        self.accel_reason = ""

    def _stall_seconds(self, accel: str) -> float:
        # Until --accel auto is resolved, assume the slower TCG.
        return self.config.limits.stall_seconds or self.target.arch.default_stall_seconds(
            "tcg" if accel == accel_probe.AUTO else accel)

    def choose_accel(self) -> accel_probe.AccelChoice | None:
        """Resolve --accel auto against the built kernel image, once per
        host, kernel version and .config (cached); say which accelerator
        boots use and why.
        None for UML."""
        guest = self.target.arch
        if not guest.uses_qemu:
            return None
        config = self.build_dir / ".config"
        identity = (self.target.version + ":" + hashlib.sha256(
            config.read_bytes() if config.is_file() else b"").hexdigest())
        choice = accel_probe.resolve(self.accel, guest,
                                     self.build_dir / guest.kernel_image, identity,
                                     self.target.paths.accel_probe)
        if self.accel == accel_probe.AUTO:
            self.config.log(f"kgen: --accel auto: {choice.accel.upper()}, {choice.reason}")
        self.accel = self._invocation.accel = choice.accel
        self._invocation.stall_seconds = self._stall_seconds(choice.accel)
        self.accel_reason = choice.reason
        return choice

    def __enter__(self) -> Session:
        self._lock.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    def path(self, suffix: str) -> Path:
        """A file beside the build dir: <build dir name>.<suffix>."""
        return self.build_dir.parent / f"{self.build_dir.name}.{suffix}"

    def prepare(self, generated: dict[str, str], kunitconfig: str,
                patched: Patched | None = None) -> list[Path]:
        """Write the generated files (and patched tree files) into the
        overlay and the kunitconfig beside the build dir; return the
        generated files that changed."""
        changed = self.overlay.sync(generated, patched)
        self.build_dir.mkdir(parents=True, exist_ok=True)
        self._drop_outputs_of_changed_sources(patched or {})
        self.path("kunitconfig").write_text(kunitconfig)
        return changed

    def unpatch(self) -> list[Path]:
        """Put the tree's version of every patched file back into the
        overlay and drop what this build dir built from the patched ones,
        so the next build of the plain tree is incremental *and* right.

        Not needed for correctness (the next prepare() does the same from
        the record beside the build dir, even after a SIGKILL), but it
        leaves the overlay as `kgen run` made it when a patched build ends.
        """
        self.overlay.sync_tree({})
        return self._drop_outputs_of_changed_sources({})

    def _drop_outputs_of_changed_sources(self, patched: Patched) -> list[Path]:
        sources = self.patched_sources_changed(patched)
        stale = drop_stale_objects(self.build_dir, self.overlay.root, sources)
        if stale:
            shown = ", ".join(sources[:4]) + (f" and {len(sources) - 4} more"
                                              if len(sources) > 4 else "")
            self.config.log(f"kgen: {len(stale)} build output(s) of {shown} dropped: "
                            "make builds them again from the version now in place")
        # Only now: a Ctrl-C while dropping leaves the old record, so the
        # next session drops them again.
        self._write_record(patched)
        return stale

    @property
    def stall_seconds(self) -> float:
        return self._invocation.stall_seconds or 0.0

    def properties(self) -> dict[str, str]:
        """What every report of this session records: arch, kernel (and its
        commit, "-dirty" if tracked files differ, in a git tree), kgen, and
        for a QEMU guest the accelerator (timings under TCG are ratios,
        not absolute numbers)."""
        props = {"arch": self.target.arch.name,
                 "kernel.version": self.target.version,
                 "kernel.tree": str(self.target.tree),
                 "kgen.version": __version__}
        commit = head_commit(self.target.tree)
        if commit:      # a git work tree: which checkout was tested
            props["kernel.commit"] = commit
        if self.target.arch.uses_qemu:
            props["qemu.accel"] = self.accel
            if self.accel_reason:
                props["qemu.accel.reason"] = self.accel_reason
        return props

    def remaining(self) -> float:
        """Seconds left of the session's boot budget (--timeout)."""
        timeout = self.config.limits.timeout
        if self._boots_started is None:
            return float(timeout)
        return timeout - (time.monotonic() - self._boots_started)

    def patched_sources_changed(self, patched: Patched) -> list[str]:
        """Tree files this build dir last built from another version of.

        The record lives beside the build dir, not in the shared overlay:
        each build dir (arch, --kconfig variant) has its own objects, and
        any of them may still hold a patched file's object.
        """
        record = self.path("patched.json")
        before = json.loads(record.read_text()) if record.is_file() else {}
        now = _digests(patched)
        return sorted(rel for rel in set(before) | set(now) if before.get(rel) != now.get(rel))

    def _write_record(self, patched: Patched) -> None:
        record = self.path("patched.json")
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(_digests(patched), indent=1, sort_keys=True))

    def build(self, log_suffix: str = "build.log") -> kunit_tool.PhaseResult:
        """Build the kernel; once it is built, settle --accel auto (the
        probe boots the image just built)."""
        built = kunit_tool.build(self._invocation, self.path(log_suffix))
        if built.ok:
            self.choose_accel()
        return built

    def boot(self, log_suffix: str, glob: str = "", *,
             kernel_args: Sequence[str] = (),
             qemu_args: Sequence[str] = (),
             replace_kernel_args: Callable[[list[str]], list[str]] | None = None,
             ) -> tuple[kunit_tool.PhaseResult, Path]:
        """Boot the built kernel once; return its console and log path.

        glob: kunit.py's filter ("suite" or "suite.case"); kernel_args and
        qemu_args are added to the session's; replace_kernel_args, if given,
        rewrites the session's kernel args first (bench boots that change
        one parameter).
        """
        if self._boots_started is None:
            self._boots_started = time.monotonic()
        base = self._invocation.kernel_args
        if replace_kernel_args is not None:
            base = replace_kernel_args(list(base))
        inv = replace(self._invocation, kernel_args=[*base, *kernel_args],
                      qemu_args=[*self._invocation.qemu_args, *qemu_args],
                      timeout=max(1, math.ceil(self.remaining())))
        log_path = self.path(log_suffix)
        return kunit_tool.execute(inv, log_path, glob), log_path
