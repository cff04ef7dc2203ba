"""i386 (x86_32, HIGHMEM, classic SPARSEMEM) on a real 7.3 kernel.

The one kgen arch whose struct pages are not contiguous across memory
sections and whose pages can lack a kernel mapping.  Cost on a 2-core
machine (2026-12-07, 7.3.4): a cold i386 build takes 250-260 s with
the machine to itself (411 s with the unit tests running alongside); warm,
the whole shipped set is one incremental build plus four boots (main,
complaints, two guest layouts), 56 s, and the fixture run one more
incremental build and a boot that goes silent after its oopses and is
stopped by a 20 s stall timeout (the default for i386 under TCG is 60 s;
a pristine section case prints within a second).
Marked slow: the first run costs a cold build.
"""
from __future__ import annotations

import re
import shutil

import pytest
from conftest import (REPO, classic_sections_run, fine, junit_results, kgen,
                      pristine_whole_set)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("qemu-system-i386"),
                       reason="i386 needs qemu-system-i386 (Debian's qemu-system-x86; "
                       "scripts/test.sh installs it)"),
]

SECTION_SPEC = str(REPO / "spec/suites/boundary_section.yaml")
FIXTURE = str(REPO / "tests/fixtures/patches/section-check-reads-run-start.patch")


def test_i386_whole_shipped_set_on_pristine_73(kernel_tree, results_dir):
    got = pristine_whole_set("i386", kernel_tree, results_dir / "i386.xml")
    # Sections: the classic SPARSEMEM cases run where struct pages are apart.
    classic_sections_run(got, "needs CONFIG_SPARSEMEM_VMEMMAP")

    # vmalloc takes highmem pages: the family's own checks must hold on
    # them (a direct-map check has nothing to check on a highmem page and
    # says so).
    for name, (state, msg, _) in got.items():
        if name.startswith("kgen_vmalloc."):
            assert fine(state, msg) or (state == "skipped" and "highmem" in msg), (name, msg)

    # The Normal|HighMem boundary of the default guest: two pages below a
    # MAX_PAGE_ORDER (1024-page) boundary.
    high = [v for k, v in got.items() if k.startswith("kgen_boundary_zone_highmem.")]
    assert high
    for state, msg, out in high:
        m = re.search(r"(?:boundary pfn|crosses pfn) (0x[0-9a-f]+)", msg + out)
        assert m and "Normal node 0 | HighMem node 0" in msg + out, (state, msg)
        assert (int(m.group(1), 16) + 2) % 1024 == 0, m.group(1)


def test_i386_catches_a_section_check_that_never_fires(kernel_tree, results_dir):
    junit = results_dir / "i386-section-fixture.xml"
    proc = kgen("run", "--arch", "i386", "--kernel", str(kernel_tree), "--spec", SECTION_SPEC,
                "--patch", FIXTURE, "--junit", str(junit), "--stall-timeout", "20",
                timeout=3600)
    assert proc.returncode != 0
    got = junit_results(junit)
    first = got["kgen_boundary_section.kgen_boundary_section_classic_sparse"
                "/free=__free_contig_range,each=1"]
    # The wrong struct pages past the edge are freed: the kernel dumps
    # them (pfns it never had), not merely a slow case.
    assert first[0] in ("failure", "error") and "page: refcount:" in first[2], first[:2]
