"""kgen run --coverage on UML 7.3 (issue 16): gcov counters -> lcov -> table.

Slow: the first run builds the coverage kernel (CONFIG_GCOV and debug info
on every object) cold in its own build dir (`<tree>-um-cov`): 463 s on 2
cores; later runs are warm.  Needs lcov (scripts/test.sh installs it).
"""
from __future__ import annotations

import re
import shutil

import pytest
from conftest import kgen
from treehash import tree_digest

from kgen.cache import default_build_dir

pytestmark = pytest.mark.slow


def _lines(table: str, name: str) -> tuple[int, int]:
    """(hit, total) lines of one function's row in functions.txt."""
    row = next(line for line in table.splitlines() if line.startswith(name + " "))
    hit, total = re.split(r"\s{2,}", row)[3].split()[0].split("/")
    return int(hit), int(total)


def test_coverage_of_the_free_path(kernel_tree, tmp_path):
    if shutil.which("lcov") is None:
        pytest.skip("lcov missing (apt-get install lcov; scripts/test.sh installs it)")
    plain = default_build_dir(kernel_tree, "um") / ".config"
    plain_config = plain.read_bytes() if plain.is_file() else None
    before = tree_digest(kernel_tree / "mm")
    out = tmp_path / "cov"
    proc = kgen("run", "--kernel", str(kernel_tree), "--coverage", "--coverage-dir", str(out),
                "--junit", str(tmp_path / "j.xml"), "kgen_refcount_hold", "kgen_vmalloc")
    assert proc.returncode == 0
    assert (out / "coverage.info").is_file() and (out / "html" / "index.html").is_file()
    table = (out / "functions.txt").read_text()
    # refcount_hold frees split spans with __free_contig_range() and holds
    # pages, so the loop ran; vmalloc's cases vfree() both vmalloc() and
    # vmap(VM_MAP_PUT_PAGES) areas: every line of vm_area_free_pages() ran.
    # vfree_bh_disabled, vfree_reset_perms and vfree_not_vmalloc reach
    # vfree()'s vfree_atomic(), vm_reset_perms() and "nonexistent vm area"
    # lines: every line of vfree() ran too.
    hit, total = _lines(table, "__free_contig_range_common")
    assert 0 < hit <= total
    hit, total = _lines(table, "vm_area_free_pages")
    assert hit == total > 0
    hit, total = _lines(table, "vfree")
    assert hit == total > 0
    assert tree_digest(kernel_tree / "mm") == before
    # The plain build dir is not the coverage one and has no gcov.
    if plain_config is not None:
        assert plain.read_bytes() == plain_config
        assert b"CONFIG_GCOV=y" not in plain_config
