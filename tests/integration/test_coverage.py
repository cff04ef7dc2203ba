"""kgen run --coverage on UML 7.3 (issue 16): gcov counters -> lcov -> table.

Slow: the first run builds the coverage kernel (CONFIG_GCOV, debug info)
cold in its own build dir (`<tree>-um-cov`), ~4 min on 2 cores; later runs
are warm.  Needs lcov (scripts/test.sh installs it).
"""
from __future__ import annotations

import re
import shutil

import pytest
from conftest import kgen
from treehash import tree_digest

from kgen.cache import default_build_dir

pytestmark = pytest.mark.slow


def _row(table: str, name: str) -> list[str]:
    line = next(l for l in table.splitlines() if l.startswith(name + " "))
    return re.split(r"\s{2,}", line)


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
    # refcount_hold frees split spans with __free_contig_range and holds
    # pages: the loop and the put_page_testzero() refusal both ran.
    common = _row(table, "__free_contig_range_common")
    hit, total = map(int, common[3].split()[0].split("/"))
    assert 0 < hit <= total
    # vmalloc's cases vfree() vmap(VM_MAP_PUT_PAGES) areas and plain ones.
    assert _row(table, "vm_area_free_pages")[3].startswith(
        _row(table, "vm_area_free_pages")[3].split("/")[1].split()[0] + "/")
    assert tree_digest(kernel_tree / "mm") == before
    # The plain build dir was not touched by the coverage build.
    if plain_config is not None:
        assert plain.read_bytes() == plain_config
        assert b"CONFIG_GCOV=y" not in plain_config
