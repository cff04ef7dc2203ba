"""Real-kernel integration tests: they build and boot UML on linux-source-7.3.

They need the toolchain and the cached tree (scripts/test.sh provides both)
and take minutes on a cold build dir, seconds per rebuild after that.  They
share the default per-tree build dir with `kgen run`, so CI reuses the cache.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from kgen.cache import cache_root

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))


# The extended tier: kernel tests that CI's 25-minute warm budget on a
# 2-core machine leaves out (`.ci/run` skips them, saying so and what each
# costs); KGEN_TEST_EXTENDED=1 runs them.  Each covers a path that a test
# in CI also reaches, with more boots or another arch.
EXTENDED = os.environ.get("KGEN_TEST_EXTENDED") == "1"


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.kernel)
        tier = item.get_closest_marker("extended")
        if tier and not EXTENDED:
            item.add_marker(pytest.mark.skip(
                reason=f"extended tier ({tier.args[0]}): outside CI's 25-min warm budget; "
                "set KGEN_TEST_EXTENDED=1 to run it"))


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    missing = [t for t in ("gcc", "make", "flex", "bison", "bc") if not shutil.which(t)]
    if missing:
        pytest.skip(f"kernel build tools missing: {', '.join(missing)} "
                    "(scripts/test.sh installs them)")
    proc = subprocess.run([sys.executable, "-m", "kgen", "kernel", "fetch"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tree = Path(proc.stdout.strip().splitlines()[-1])
    assert (tree / "tools/testing/kunit/kunit.py").is_file()
    return tree


def kgen(*args: str, timeout: int = 1800, **kw) -> subprocess.CompletedProcess:
    """Run the kgen CLI as a user would; output is shown when a test fails."""
    proc = subprocess.run([sys.executable, "-m", "kgen", *args], capture_output=True,
                          text=True, timeout=timeout, **kw)
    print(f"$ kgen {' '.join(args)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def planned(tree: Path, *specs: Path | str, arch: str = "um", skips: bool = False) -> set[str]:
    """`suite.case/param` of every case kgen's plan runs for these specs
    (with skips=True, also those it plans to skip), so a test checks
    against the specs as they are, not a count written down when they were
    smaller."""
    proc = kgen("plan", "--kernel", str(tree), "--arch", arch,
                *[a for spec in specs for a in ("--spec", str(spec))])
    assert proc.returncode == 0, proc.stderr
    found = (re.match(r"  (kgen_\S+): (RUN|SKIP)\b", line) for line in proc.stdout.splitlines())
    return {m.group(1) for m in found if m and (skips or m.group(2) == "RUN")}


def clean(case) -> bool:
    """A junitparser case that passed, or ended "unconfirmed": a counter
    that moved once and matched on the repeat (noise from the other CPU or
    a kernel thread, docs/confirmation.md) is not a failure of the kernel."""
    return all(isinstance(r, Skipped) and r.type == "unconfirmed" for r in case.result)


def junit_results(junit) -> dict[str, tuple[str, str, str]]:
    """"suite.case" -> (state, message, system-out) of a kgen JUnit file;
    state is passed, failure, error or skipped."""
    out = {}
    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            state, message = "passed", ""
            for r in case.result:
                if isinstance(r, (Failure, Error, Skipped)):
                    state, message = type(r).__name__.lower(), r.message or ""
            out[f"{suite.name}.{case.name}"] = (state, message, case.system_out or "")
    return out


def fine(state: str, msg: str) -> bool:
    """Passed, or unconfirmed: a counter that moved once and matched on the
    repeat (noise from the other CPU, docs/confirmation.md) is not a
    failure of a pristine kernel."""
    return state == "passed" or (state == "skipped" and msg.startswith("unconfirmed:"))


def pristine_whole_set(arch: str, tree: Path, junit: Path) -> dict[str, tuple[str, str, str]]:
    """`kgen run --arch arch` of the shipped set on a pristine tree: exit 0,
    no failure or error, every skip naming its reason.  Its results."""
    proc = kgen("run", "--arch", arch, "--kernel", str(tree), "--junit", str(junit),
                timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    got = junit_results(junit)
    assert not [k for k, (s, _, _) in got.items() if s in ("failure", "error")]
    assert all(m for s, m, _ in got.values() if s == "skipped")
    return got


def classic_sections_run(got: dict[str, tuple[str, str, str]], vmemmap_reason: str) -> None:
    """On a classic-SPARSEMEM arch the six classic section cases pass at an
    edge whose struct pages are really apart (each section's memmap
    allocated on its own), so a batched free that walked page++ across it
    would touch the wrong struct page; the vmemmap cases skip saying why."""
    section = {k: v for k, v in got.items() if k.startswith("kgen_boundary_section.")}
    classic = {k: v for k, v in section.items() if "_classic_sparse/" in k}
    assert len(classic) == 6 and all(fine(s, m) for s, m, _ in classic.values()), classic
    assert all("struct pages not contiguous" in out for _, _, out in classic.values())
    for name, (state, msg, _) in section.items():
        if "_vmemmap/" in name:
            assert state == "skipped" and vmemmap_reason in msg, name


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("results")


os.environ.setdefault("KGEN_CACHE", str(cache_root()))
