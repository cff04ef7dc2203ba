"""32-bit arm (QEMU virt, LPAE, HIGHMEM, classic SPARSEMEM) on a real 7.3 kernel.

Like i386, an arch whose struct pages are not contiguous across memory
sections and whose HighMem pages have no kernel mapping.  Cost on a 2-core
machine (2026-12-07, 7.3.4, TCG): a cold arm build takes 197 s; warm, the
whole shipped set is one incremental build plus five boots (main,
complaints, three guest layouts), 74-78 s; the fixture run one more
incremental build and a boot that kgen stops 5 s after a task died
holding a lock, 20 s.

Opt-in, like the x86_64 boundaries: CI does not spend a cold arm build.
Set KGEN_TEST_ARM=1 to run it.
"""
from __future__ import annotations

import os
import re
import shutil

import pytest
from conftest import (REPO, classic_sections_run, fine, junit_results, kgen,
                      pristine_whole_set)

SECTION_SPEC = str(REPO / "spec/suites/boundary_section.yaml")
FIXTURE = str(REPO / "tests/fixtures/patches/section-check-reads-run-start.patch")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("KGEN_TEST_ARM") != "1",
                       reason="arm needs a cold arm build (~3.5 min on 2 cores) that CI "
                       "does not spend; set KGEN_TEST_ARM=1 to run it"),
    pytest.mark.skipif(not shutil.which("arm-linux-gnueabihf-gcc") or
                       not shutil.which("qemu-system-arm"),
                       reason="arm needs gcc-arm-linux-gnueabihf and qemu-system-arm "
                       "(scripts/test.sh installs them)"),
]


def test_arm_whole_shipped_set_on_pristine_73(kernel_tree, results_dir):
    got = pristine_whole_set("arm", kernel_tree, results_dir / "arm.xml")
    # Sections: the classic SPARSEMEM cases run where struct pages are apart.
    classic_sections_run(got, "SPARSEMEM_STATIC")

    # vmalloc takes HighMem pages; the CMA areas (cma=128M and the default
    # one) sit in HighMem at the top of the 1 GiB guest: the families'
    # checks must hold on pages without a kernel mapping.
    for name, (state, msg, _) in got.items():
        if name.startswith(("kgen_vmalloc.", "kgen_cma.")):
            assert fine(state, msg) or (state == "skipped" and "direct map" in msg), (name, msg)
    assert any(s == "passed" for k, (s, _, _) in got.items() if k.startswith("kgen_cma."))

    # movablecore=256M takes ZONE_MOVABLE out of HighMem.
    movable = [v for k, v in got.items() if k.startswith("kgen_boundary_zone.kgen_boundary_zone_movable/")]
    assert len(movable) == 12 and all(fine(s, m) for s, m, _ in movable)
    assert all("HighMem node 0 | Movable node 0" in out for _, _, out in movable)

    # The Normal|HighMem boundary of the default guest: whatever a case
    # ends as, it names the boundary, which lies where lowmem ends.
    high = [v for k, v in got.items() if k.startswith("kgen_boundary_zone_highmem.")]
    assert len(high) == 16
    for state, msg, out in high:
        m = re.search(r"(?:boundary pfn|crosses pfn) (0x[0-9a-f]+)", msg + out)
        assert m and "Normal node 0 | HighMem node 0" in msg + out, (state, msg)
        assert fine(state, msg) or state == "skipped", (state, msg)


def test_arm_catches_a_section_check_that_never_fires(kernel_tree, results_dir):
    junit = results_dir / "arm-section-fixture.xml"
    proc = kgen("run", "--arch", "arm", "--kernel", str(kernel_tree), "--spec", SECTION_SPEC,
                "--patch", FIXTURE, "--junit", str(junit), timeout=3600)
    assert proc.returncode != 0
    got = junit_results(junit)
    first = got["kgen_boundary_section.kgen_boundary_section_classic_sparse"
                "/free=__free_contig_range,each=1"]
    assert first[0] in ("failure", "error"), first
