"""Test power (issue 12): bugs the suite used to let through, on UML 7.3.

Each fixture patch in tests/fixtures/patches/ breaks the 7.3 free path in a
way only one of the new expectations sees:

- w1: the batched free skips free_pages_prepare() for clean-looking pages
  (expect.prepared);
- w5: the batched free hands every page over as an order-0 chunk
  (expect.batched);
- w6: vfree() leaks the pages[] array of a VM_MAP_PUT_PAGES area
  (expect.balanced of the vmalloc family);
- issue 26: PGFREE not counted for the batched free's pcp chunks
  (expect.pgfree), vm_area_free_pages() freeing from the array's start
  (the vrealloc cases), nolock frees that skip free_pages_prepare() (the
  nolock suite).

`kgen run --patch` builds the cached tree as if the patch were applied (only
the patched object is rebuilt, the tree is never written).  Each test runs
the shipped spec twice on the patched kernel: as shipped, where the named
cases must fail with their expectation's message, and with that one
expectation switched off, which is what the suite checked before, and which
must pass: the new check is what catches the bug.

KGEN_TEST_UM_BUILD_DIR, if set, is the build dir for these runs instead of
the tree's default one (to keep a shared default dir's .config as it is).
"""
from __future__ import annotations

import os

import pytest
import yaml
from conftest import REPO, kgen, planned
from junitparser import Error, Failure, JUnitXml
from treehash import tree_digest

PATCHES = REPO / "tests" / "fixtures" / "patches"
SUITES = REPO / "spec" / "suites"


def _results(junit) -> dict[str, str]:
    """Case -> "" if it passed or skipped, else its failure messages."""
    out = {}
    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            out[f"{suite.name}.{case.name}"] = " | ".join(
                r.message or "" for r in case.result if isinstance(r, (Failure, Error)))
    return out


# Checks that came after issue 12's, off in its "before" runs: PGFREE
# (issue 26) also sees w6's leaked array, short by its pages.
LATER_KEYS = ("pgfree",)


def _without(spec, key: str, tmp_path):
    """The spec with expect.<key> (and the later checks) switched off in
    every case."""
    data = yaml.safe_load(spec.read_text())
    for case in data["cases"]:
        for off in (key, *LATER_KEYS):
            case.setdefault("expect", {})[off] = False
    out = tmp_path / spec.name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _run(tree, spec, patch, junit):
    build_dir = os.environ.get("KGEN_TEST_UM_BUILD_DIR")
    proc = kgen("run", "--kernel", str(tree), "--spec", str(spec),
                "--patch", str(PATCHES / patch), "--junit", str(junit),
                *(["--build-dir", build_dir] if build_dir else []))
    return proc, _results(junit)


@pytest.mark.parametrize("patch, spec, key, failing, message", [
    ("w1-skip-prepare-for-clean-pages.patch", "contig_split.yaml", "prepared",
     # Every batched API; the __free_page() loop still prepares.
     lambda name: "free=free_page_loop" not in name,
     "pages reached the buddy without free_pages_prepare()"),
    pytest.param(
        "w5-free-batches-at-order-0.patch", "contig_split.yaml", "batched",
        # Order-0 spans are order-0 chunks anyway; the loop is only logged.
        lambda name: "free=free_page_loop" not in name and "order=0" not in name,
        "pages were not freed in whole chunks",
        marks=pytest.mark.extended(
            "about 35 s warm; in CI expect.batched is shown catching chunks on "
            "another pcp list (below) and a boundary fix that frees page by page "
            "(test_boundary.py)")),
    ("w6-vfree-leaks-put-pages-array.patch", "vmalloc.yaml", "balanced",
     # Only arrays above 8 KiB are page allocations.
     lambda name: "vmap_contiguous" in name,
     "NR_FREE_PAGES rose by"),
])
def test_patched_free_path_fails_only_the_new_check(kernel_tree, tmp_path, patch, spec,
                                                     key, failing, message):
    before = tree_digest(kernel_tree)
    proc, results = _run(kernel_tree, SUITES / spec, patch, tmp_path / "new.xml")
    assert tree_digest(kernel_tree) == before
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = {name for name, msg in results.items() if msg}
    want = {name for name in results if failing(name)}
    # A broken kernel may crash in a case the check fails (w1 leaves
    # unprepared pages in the buddy: a later put_page() may BUG); the
    # parameters after it in that case then cannot run.  Those are the
    # crash's, not a false failure of an unaffected case.
    crashed = {name for name in failed
               if any(results[name].startswith(f"not run: the kernel stopped in {w}")
                      for w in want & failed)}
    assert want and failed - crashed == want - crashed, (
        sorted((failed - crashed) ^ (want - crashed)), proc.stdout[-2000:])
    for name in failed - crashed:
        assert (f"expect.{key}: " in results[name] and message in results[name]
                or "kernel output ended while this test was running" in results[name]), \
            results[name]

    old, old_results = _run(kernel_tree, _without(SUITES / spec, key, tmp_path), patch,
                            tmp_path / "old.xml")
    assert old.returncode == 0, old.stdout[-3000:] + old.stderr[-3000:]
    assert not any(old_results.values())


def _without_cases(spec, prefix: str, tmp_path):
    """The spec without the cases whose name starts with prefix."""
    data = yaml.safe_load(spec.read_text())
    data["cases"] = [c for c in data["cases"] if not c["name"].startswith(prefix)]
    out = tmp_path / spec.name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.mark.parametrize("patch, spec, key, new_cases", [
    # Issue 26 item 1: PGFREE is short by every pcp chunk of the batched free.
    ("pgfree-skips-prepared-chunks.patch", "contig_split.yaml", "pgfree", None),
    # Issue 26 item 3: only vrealloc()'s shrink frees from a start above 0.
    ("vrealloc-frees-head.patch", "vmalloc.yaml", None, "vrealloc_"),
])
def test_issue_26_fixtures_fail_only_the_new_checks(kernel_tree, tmp_path, patch, spec, key,
                                                     new_cases):
    """Each fixture fails cases of the new check (or the new cases) only, and
    the spec as it was before (the check off, the cases gone) passes on the
    same patched kernel.  Two UML boots with one rebuilt object each: about
    1 minute warm."""
    proc, results = _run(kernel_tree, SUITES / spec, patch, tmp_path / "new.xml")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = {name: msg for name, msg in results.items() if msg}
    assert failed
    if key:
        assert all(f"expect.{key}: " in msg for msg in failed.values()), failed
        before = _without(SUITES / spec, key, tmp_path)
    else:
        assert all(name.split(".", 1)[1].startswith(f"kgen_vmalloc_{new_cases}")
                   for name in failed), failed
        before = _without_cases(SUITES / spec, new_cases, tmp_path)
    old, old_results = _run(kernel_tree, before, patch, tmp_path / "old.xml")
    assert old.returncode == 0, old.stdout[-3000:] + old.stderr[-3000:]
    assert not any(old_results.values())


def test_nolock_frees_that_skip_the_prepare_step_fail_every_nolock_case(kernel_tree, tmp_path):
    """Issue 26 item 5: free_pages_nolock() and free_frozen_pages_nolock()
    called from every context their kernel-doc allows; a nolock path that
    skips free_pages_prepare() fails each case UML runs on expect.prepared.
    (No spec called a nolock free before, so the old suite passes it.)
    One UML boot, about 30 s warm."""
    proc, results = _run(kernel_tree, SUITES / "nolock.yaml", "nolock-skips-prepare.patch",
                         tmp_path / "new.xml")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = planned(kernel_tree, SUITES / "nolock.yaml")
    assert ran and {n for n, msg in results.items() if msg} == ran
    assert all("expect.prepared: " in results[n] for n in ran)


def test_batched_chunks_on_another_pcp_list_fail_expect_batched(kernel_tree, tmp_path):
    """Issue 26 item 2: the batched free files its chunks on the MOVABLE pcp
    list whatever their pageblock's migratetype.  Sizes and counters stay
    right, so the lower-bound check (each page in a unit at least its
    chunk's order) passed it; the exact check looks at the list too, in one
    scan under stop_machine().  split_page() spans come from unmovable
    pageblocks: every case whose chunks of order 3 or less reach a pcp list
    fails, in every attempt.  One UML boot, about 30 s warm."""
    proc, results = _run(kernel_tree, SUITES / "contig_split.yaml",
                         "batched-chunks-filed-movable.patch", tmp_path / "new.xml")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = {name: msg for name, msg in results.items() if msg}
    assert len(failed) >= 10, failed
    assert all("expect.batched: " in msg and "on another pcp list than their migratetype's"
               in msg and "[reproduced in" in msg for msg in failed.values()), failed
    # The per-page loop is not batched: never checked, never failed.
    assert not any("free=free_page_loop" in name for name in failed), failed
