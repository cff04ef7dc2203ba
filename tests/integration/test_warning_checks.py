"""The warning checks see every case (issue 12, W2), on UML 7.3.

Two fixture patches against mm/page_alloc.c, built with `kgen run --patch`
(the tree is never written), break the free path in ways the old checks
could not see:

- bad-page-reported-twice.patch: a page free_pages_prepare() refuses is
  checked once more, so one bad page gives two "Bad page state" reports.
  Everything else is unchanged.  Expected reports used to be excused by
  kind; now they are counted.
- refused-page-retried.patch: a refused page is checked 16 more times, so a
  page the free path no longer owns (held by another reference) is
  reported as bad.  In one shared boot the bad-state cases ran first,
  printed more than bad_page()'s 60 reports a minute and set
  TAINT_BAD_PAGE, so the held-page cases after them reported into silence
  under a taint that was set already.  Now the complaining cases run in a
  complaint boot of their own.

kgen before these checks (commit a732601) passed both patches, exit 0 (see
the README).  Here each must fail, and only where the bug shows.
"""
from __future__ import annotations

from conftest import REPO, kgen
from junitparser import Error, Failure, JUnitXml
from treehash import tree_digest

SUITES = REPO / "spec" / "suites"
PATCHES = REPO / "tests" / "fixtures" / "patches"
BATCHED = ("free_contig_range", "__free_contig_range", "free_pages_bulk")


def _run(tree, junit, *extra):
    return kgen("run", "--kernel", str(tree), "--junit", str(junit),
                "--spec", str(SUITES / "frozen.yaml"),
                "--spec", str(SUITES / "hwpoison.yaml"),
                "--spec", str(SUITES / "refcount_hold.yaml"), *extra)


def _outcomes(junit) -> dict[str, tuple[str, str, str]]:
    """leaf -> (outcome, type, message); outcome "" for a pass."""
    out = {}
    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            bad = [r for r in case.result if isinstance(r, (Failure, Error))]
            skipped = case.result and not bad
            out[case.name] = (("failure" if isinstance(bad[0], Failure) else "error",
                               bad[0].type or "", bad[0].message or "") if bad
                              else ("skipped", "", "") if skipped else ("", "", ""))
    return out


def test_clean_run_passes_with_the_complainers_in_their_own_boot(kernel_tree, results_dir):
    junit = results_dir / "warn-clean.xml"
    proc = _run(kernel_tree, junit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kgen: complaint boot 1: kgen_frozen_bad_page_in_middle" in proc.stderr
    found = _outcomes(junit)
    assert found["kgen_frozen_bad_page_in_middle"] == ("", "", "")
    assert found["kgen_hwpoison_bad_state/free=free_pages_bulk,bad_state=middle"] == \
        ("", "", "")
    system_out = {c.name: c.system_out or "" for s in JUnitXml.fromfile(str(junit)) for c in s}
    assert "result from complaint boot 1" in system_out["kgen_frozen_bad_page_in_middle"]


def test_a_bad_page_reported_twice_fails_its_count(kernel_tree, results_dir):
    junit = results_dir / "warn-twice.xml"
    before = tree_digest(kernel_tree)
    proc = _run(kernel_tree, junit, "--patch", str(PATCHES / "bad-page-reported-twice.patch"))
    assert tree_digest(kernel_tree) == before
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = _outcomes(junit)
    twice = {f"kgen_hwpoison_bad_state/free={api},bad_state=middle" for api in BATCHED}
    twice.add("kgen_frozen_bad_page_in_middle")
    for leaf in twice:
        outcome, kind, message = found[leaf]
        assert (outcome, kind) == ("failure", "expect.splats"), (leaf, found[leaf])
        assert "expected exactly 1 Bad page state report" in message and "saw 2" in message
    # The per-page loop never reaches the batched path: one report, a pass.
    assert found["kgen_hwpoison_bad_state/free=free_page_loop,bad_state=middle"][0] == ""
    # Nothing else failed: the count is the only check that sees this bug.
    others = {leaf: o for leaf, o in found.items()
              if leaf not in twice and o[0] in ("failure", "error")}
    assert not others, others


def test_a_bad_page_after_a_burst_of_reports_is_still_seen(kernel_tree, results_dir):
    junit = results_dir / "warn-retried.xml"
    proc = _run(kernel_tree, junit, "--patch", str(PATCHES / "refused-page-retried.patch"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = _outcomes(junit)
    # The held-page cases run in the main boot, with clear taints and a
    # quiet console: their bad pages are seen, by the console and the taint.
    # They print 17 reports a held page themselves, so after the first few
    # the rest of the boot is muted: those are errors, never passes, and
    # kgen boots them again.
    held = {leaf: o for leaf, o in found.items() if leaf.startswith("kgen_refcount_hold")
            and "/free=free_page_loop" not in leaf}
    assert held and all(o[0] in ("failure", "error") for o in held.values()), held
    assert {o[1] for o in held.values()} <= {"splat:Bad page state", "expectation",
                                             "muted"}, held
    # The first held page of the boot: its taint check sees a clear
    # baseline turn BAD_PAGE, and its log holds the reports.
    outcome, kind, message = found["kgen_refcount_hold_hold_position/hold=first"]
    assert (outcome, kind) == ("failure", "expectation"), message
    assert message.startswith("expect.no_warning: kernel taint 0x20 appeared")
    assert "BUG: Bad page state in process" in message
    assert "booting again for kgen_refcount_hold." in proc.stderr
    # In the complaint boot each bad page gives 17 reports instead of one.
    # The 60th lands in the third parameter; the fourth one's single report
    # (the per-page loop, which this patch does not touch) is then never
    # printed, and its count says so.
    counts = {}
    for api in BATCHED + ("free_page_loop",):
        outcome, kind, message = found[f"kgen_hwpoison_bad_state/free={api},bad_state=middle"]
        assert (outcome, kind) == ("failure", "expect.splats"), (api, message)
        counts[api] = int(message.rsplit("saw ", 1)[1].split()[0])
    assert counts == {"free_contig_range": 17, "__free_contig_range": 17,
                      "free_pages_bulk": 9, "free_page_loop": 0}, counts
    assert found["kgen_frozen_bad_page_in_middle"][2].endswith("saw 17")
