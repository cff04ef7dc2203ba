"""Drive gcov data through Debian's lcov: reset, capture, HTML.

A UML kernel built with CONFIG_GCOV links the host's libgcov: every
instrumented object writes its counters, as a .gcda file beside its .o in
the build dir, when the UML process exits, and adds them to a .gcda that
is already there.  So counters are deleted before a run's first boot, and
every boot of the run (main, reboots, complaint boots) adds to them.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from shutil import which

from kgen.errors import EnvironmentProblem

# lcov 1.16 leaves branch data out unless asked.
_BRANCHES = ["--rc", "lcov_branch_coverage=1"]
TOOLS = {"lcov": "lcov", "genhtml": "lcov", "gcov": "gcc"}


def missing_tools() -> list[str]:
    """'tool (apt-get install pkg)' for each coverage tool that is absent."""
    return [f"{tool} (apt-get install {pkg})" for tool, pkg in TOOLS.items()
            if which(tool) is None]


def reset_counters(build_dir: Path) -> int:
    """Delete every .gcda under build_dir; return how many there were."""
    gone = 0
    for gcda in build_dir.rglob("*.gcda"):
        gcda.unlink(missing_ok=True)
        gone += 1
    return gone


@dataclass
class Captured:
    info: Path
    html: Path | None
    output: str


class LcovFailed(EnvironmentProblem):
    """lcov or genhtml exited non-zero; the message holds its output's tail
    (a tool failed: exit 3)."""


def _call(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise LcovFailed(f"{' '.join(cmd[:2])} failed ({proc.returncode}):\n{tail}")
    return proc.stdout + proc.stderr


def capture(build_dir: Path, subdir: str, sources: list[str], out_dir: Path,
            test_name: str, html: bool = True) -> Captured:
    """lcov --capture over build_dir/subdir, cut down to the source files
    whose paths end in one of sources, then genhtml; all into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    whole = out_dir / "capture.info"
    info = out_dir / "coverage.info"
    log = _call(["lcov", "--capture", "--quiet", "--directory", str(build_dir / subdir),
                 "--test-name", test_name, "--output-file", str(whole), *_BRANCHES],
                build_dir)
    log += _call(["lcov", "--extract", str(whole), *(f"*/{s}" for s in sources),
                  "--quiet", "--output-file", str(info), *_BRANCHES], build_dir)
    whole.unlink(missing_ok=True)
    page = None
    if html:
        page = out_dir / "html"
        log += _call(["genhtml", "--quiet", "--branch-coverage", "--legend",
                      "--title", test_name, "--output-directory", str(page), str(info),
                      *_BRANCHES], build_dir)
    return Captured(info, page, log)
