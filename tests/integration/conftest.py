"""Real-kernel integration tests: they build and boot UML on linux-source-7.3.

They need the toolchain and the cached tree (scripts/test.sh provides both)
and take minutes on a cold build dir, seconds per rebuild after that.  They
share the default per-tree build dir with `kgen run`, so CI reuses the cache.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kgen.cache import cache_root

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.kernel)


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


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("results")


os.environ.setdefault("KGEN_CACHE", str(cache_root()))
