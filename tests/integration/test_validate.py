"""kgen validate on a real series against 7.3 under UML.

The fixture series (tests/fixtures/series/series.mbox, cover letter
included) has a harmless patch, one that makes free_contig_frozen_range()
WARN, and one that leaks the last page of long contiguous runs.  validate
builds in `kgen run`'s overlay and warm build dir (no copy of the tree), so
each step rebuilds only mm/page_alloc.o; afterwards the overlay and the
build dir are back to the plain tree.
"""
from __future__ import annotations

import json
import os
import re

from conftest import REPO, kgen
from treehash import tree_digest

from kgen.cache import default_build_dir, overlay_dir

SERIES = REPO / "tests" / "fixtures" / "series"
SPECS = [REPO / "spec/suites/contig_split.yaml", REPO / "spec/suites/frozen.yaml"]


def test_validate_classifies_each_patch(kernel_tree, tmp_path):
    before = tree_digest(kernel_tree)
    out = tmp_path / "validate"
    proc = kgen("validate", "--kernel", str(kernel_tree),
                "--series", str(SERIES / "series.mbox"), "--out", str(out),
                *[a for s in SPECS for a in ("--spec", str(s))], timeout=3600)
    assert tree_digest(kernel_tree) == before
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    steps = report["steps"]
    assert [s["state"] for s in steps] == ["ok"] * 4
    regressions = [[c["case"] for c in step if c["kind"] == "regression"]
                   for step in report["changes"]]
    assert regressions[1] == []                                   # harmless
    assert regressions[2] and all(".kgen_frozen_" in c for c in regressions[2])  # WARN
    assert regressions[3] and all(".kgen_contig_split_" in c for c in regressions[3])
    verdicts = report["verdicts"]
    assert verdicts[1].startswith("1/3 mm/page_alloc: explain chunk alignment") and \
        ": OK" in verdicts[1]
    assert "REGRESSION" in verdicts[2] and "REGRESSION" in verdicts[3]
    md = (out / "report.md").read_text()
    assert "| case | base | 1/3 | 2/3 | 3/3 |" in md
    # The WARN is what broke the frozen cases: the messages say so.
    assert "WARNING: mm/page_alloc.c" in md and "at free_contig_frozen_range" in md
    # The leak (the last page of every run longer than 64 pages is kept) is
    # named by the first check it breaks: the page is missing from its chunk
    # right after the free (expect.batched) or from the buddy after the drain.
    short = [(int(a), int(b)) for a, b in re.findall(
        r"expect\.batched: (\d+) of (\d+) pages were not freed in whole chunks", md)]
    assert short or "expect.freed: 1 of" in md
    assert all(0 < a <= b for a, b in short), short       # each page counted once
    assert len(list(out.glob("step*.xml"))) == 4
    assert_overlay_is_plain(kernel_tree)


def assert_overlay_is_plain(tree):
    """What validate patched is back to `kgen run`'s view of the tree."""
    overlay = overlay_dir(tree)
    assert os.readlink(overlay / "mm/page_alloc.c") == str(tree.resolve() / "mm/page_alloc.c")
    build = default_build_dir(tree, "um")
    assert json.loads((build.parent / f"{build.name}.patched.json").read_text()) == {}


def _snapshot(path):
    return sorted((str(p.relative_to(path)), p.lstat().st_mtime_ns, p.lstat().st_size)
                  for p in path.rglob("*"))


def test_a_patch_that_does_not_apply_stops_the_series(kernel_tree, tmp_path):
    series = tmp_path / "series"
    series.mkdir()
    good = (SERIES / "0001-harmless.patch").read_text()
    (series / "0001-harmless.patch").write_text(good)
    (series / "0002-again.patch").write_text(good.replace("[PATCH 1/3]", "[PATCH 2/3]"))
    (series / "0003-after.patch").write_text(
        (SERIES / "0003-leak.patch").read_text())
    out = tmp_path / "out"
    proc = kgen("validate", "--kernel", str(kernel_tree), "--series", str(series),
                "--out", str(out), "--tip-only",
                "--spec", str(REPO / "spec/suites/contig_split.yaml"), timeout=3600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert [s["state"] for s in report["steps"]] == ["ok", "applied", "apply-failed",
                                                     "not-run"]
    assert "Reversed (or previously applied) patch detected" in report["steps"][2]["detail"] \
        or "FAILED" in report["steps"][2]["detail"]
    assert "APPLY-FAILED" in proc.stdout


def test_a_first_patch_that_does_not_apply_changes_nothing(kernel_tree, tmp_path):
    """Nothing to compare: validate says why at once and builds nothing."""
    bad = tmp_path / "bad.patch"
    bad.write_text((SERIES / "0001-harmless.patch").read_text().replace(
        "-\t\t/* We are limited by the largest buddy order. */",
        "-\t\t/* We are limited by the buddy order. */"))
    before = tree_digest(kernel_tree)
    build = default_build_dir(kernel_tree, "um")
    overlay, objects = _snapshot(overlay_dir(kernel_tree) / "mm"), _snapshot(build / "mm")
    out = tmp_path / "out"
    proc = kgen("validate", "--kernel", str(kernel_tree), "--series", str(bad),
                "--out", str(out), "--spec", str(REPO / "spec/suites/frozen.yaml"),
                timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "does not apply" in proc.stderr and "FAILED" in proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert [s["state"] for s in report["steps"]] == ["not-run", "apply-failed"]
    assert not list(out.glob("step*.xml"))
    assert tree_digest(kernel_tree) == before
    assert _snapshot(overlay_dir(kernel_tree) / "mm") == overlay
    assert _snapshot(build / "mm") == objects
