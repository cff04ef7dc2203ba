"""Drive a tree's tools/testing/kunit/kunit.py by subprocess.

Two phases, so each can be reported on its own: ``kunit.py build``
(configure + make, with a progress line while it runs) and ``kunit.py exec
--raw_output=all`` (boot, full console captured for kgen's own parser).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from shutil import which

from kgen.arch import ARCHES, DEFAULT_ARCH, Arch
from kgen.runner.harness.console_watch import ConsoleWatch, Stop


@dataclass
class Invocation:
    """What to run kunit.py with."""

    kunit_py: Path
    build_dir: Path
    kunitconfig: Path
    arch: Arch = ARCHES[DEFAULT_ARCH]
    jobs: int = os.cpu_count() or 1
    timeout: int = 600
    kernel_args: list[str] = field(default_factory=list)
    qemu_args: list[str] = field(default_factory=list)
    accel: str = "tcg"
    shim_dir: Path | None = None
    # Stop a boot after this many seconds without console output (None:
    # only kunit.py's --timeout); see console_watch.py.
    stall_seconds: float | None = None

    def env(self) -> dict[str, str]:
        """kunit.py's environment: QEMU launched through kgen's accel shim."""
        env = dict(os.environ)
        # kunit.py prints the console with print(): unbuffered, it reaches
        # the log line by line, which the console watch needs.
        env["PYTHONUNBUFFERED"] = "1"
        if self.shim_dir is not None:
            env["PATH"] = f"{self.shim_dir}{os.pathsep}{env.get('PATH', '')}"
            env["KGEN_QEMU_ACCEL"] = self.accel
            env["KGEN_QEMU_SHIM_DIR"] = str(self.shim_dir)
        return env

    def common(self) -> list[str]:
        args = ["--build_dir", str(self.build_dir), "--arch", self.arch.name]
        cross = self.arch.cross_compile
        if cross:
            args += ["--cross_compile", cross]
        return args


@dataclass
class PhaseResult:
    ok: bool
    seconds: float
    output: list[str]
    timed_out: bool = False
    returncode: int = 0
    # Set when kgen's console watch ended the boot, and why.
    stopped: Stop | None = None


def missing_tools(arch: Arch) -> list[str]:
    """'tool (Debian package)' for each tool this arch needs that is absent."""
    return [f"{tool} (apt-get install {pkg})"
            for tool, pkg in arch.all_tools().items() if which(tool) is None]


def _count_objects(build_dir: Path, since: float) -> int:
    """Object files written since the build started (a rebuild overwrites
    existing ones, so counting all of them would show no progress)."""
    count = 0
    for root, _dirs, files in os.walk(build_dir):
        for name in files:
            if name.endswith(".o"):
                try:
                    count += os.stat(os.path.join(root, name)).st_mtime >= since
                except OSError:
                    pass
    return count


class _Progress(threading.Thread):
    """Prints elapsed time and objects built while make runs."""

    def __init__(self, label: str, build_dir: Path, stream=sys.stderr):
        super().__init__(daemon=True)
        self.label, self.build_dir, self.stream = label, build_dir, stream
        self.stop = threading.Event()
        self.start_time = time.monotonic()
        self.start_wall = time.time()
        self.tty = stream.isatty()

    def run(self) -> None:
        interval = 2 if self.tty else 30
        while not self.stop.wait(interval):
            elapsed = int(time.monotonic() - self.start_time)
            built = _count_objects(self.build_dir, self.start_wall)
            line = (f"  {self.label}: {elapsed // 60}m{elapsed % 60:02d}s, "
                    f"{built} objects compiled so far in {self.build_dir}")
            self.stream.write(f"\r{line}\033[K" if self.tty else line + "\n")
            self.stream.flush()
        if self.tty:
            self.stream.write("\r\033[K")


def _run(cmd: list[str], cwd: Path, log_path: Path, timeout: float | None,
         progress: _Progress | None = None,
         env: dict[str, str] | None = None,
         stall_seconds: float | None = None) -> PhaseResult:
    start = time.monotonic()
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        # Own process group: Ctrl-C or a timeout stops make / QEMU / UML too.
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=env)
        if progress:
            progress.start()
        watch = None
        if stall_seconds is not None:
            watch = ConsoleWatch(log_path, stall_seconds, lambda: _signal_group(proc))
            watch.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            if progress:
                progress.stop.set()
                progress.join()
            if watch:
                watch.done.set()
                watch.join()
    output = log_path.read_text(errors="replace").splitlines()
    stopped = watch.fired if watch else None
    if stopped:
        output.append(f"kgen: {stopped.describe()}")
        with open(log_path, "a") as log:
            log.write(output[-1] + "\n")
    return PhaseResult(ok=proc.returncode == 0 and not timed_out and not stopped,
                       seconds=time.monotonic() - start, output=output,
                       timed_out=timed_out, returncode=proc.returncode or 0,
                       stopped=stopped)


def _signal_group(proc: subprocess.Popen) -> None:
    """End a boot from the console watch: SIGTERM now, SIGKILL if it lingers.

    The waiting thread reaps the process; this only signals.
    """
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def build(inv: Invocation, log_path: Path) -> PhaseResult:
    """kunit.py build: olddefconfig from the kunitconfig, then make."""
    inv.build_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(inv.kunit_py), "build", *inv.common(),
           "--kunitconfig", str(inv.kunitconfig), "--jobs", str(inv.jobs)]
    return _run(cmd, inv.kunit_py.parents[3], log_path, timeout=None,
                progress=_Progress("building kernel", inv.build_dir), env=inv.env())


def execute(inv: Invocation, log_path: Path, filter_glob: str = "") -> PhaseResult:
    """kunit.py exec --raw_output=all: boot and capture the whole console.

    filter_glob ("suite" or "suite.case") limits the boot to those tests.
    """
    cmd = [sys.executable, str(inv.kunit_py), "exec", *inv.common(),
           "--raw_output=all", "--timeout", str(inv.timeout)]
    if filter_glob:
        cmd.append(filter_glob)
    for arg in inv.kernel_args:
        cmd += ["--kernel_args", arg]
    if inv.qemu_args:
        cmd += ["--qemu_args", " ".join(inv.qemu_args)]
    # kunit.py enforces --timeout itself; ours is a backstop for a wedged
    # tool.  The console watch ends a stuck kernel long before either.
    return _run(cmd, inv.kunit_py.parents[3], log_path, timeout=inv.timeout + 60,
                env=inv.env(), stall_seconds=inv.stall_seconds)
