"""kgen bench on UML: the batched free beats the per-page loop in the same boot.

Acceptance from the issue: at least 3x, with the spread over >= 5 boots in
the report.  The first run builds the benchmark kernel (no DEBUG_VM) cold,
about 5 minutes; later runs only boot.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import kgen
from junitparser import JUnitXml

RATIO = "high_order.speedup (loop / batched)"


@pytest.mark.extended("about 50 s warm, five bench boots; the revert comparison "
                      "below benches the same kernel in CI")
def test_bench_uml_batched_free_is_at_least_3x_faster(kernel_tree, tmp_path):
    out = tmp_path / "bench"
    proc = kgen("bench", "--kernel", str(kernel_tree), "--boots", "5", "--out", str(out),
                timeout=3600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads((out / "bench.json").read_text())
    rows = {r["name"]: r for r in data["rows"]}
    ratio = rows[RATIO]
    assert len(ratio["values"]) == 5
    assert ratio["mean"] >= 3.0, ratio
    for name in ("high_order.free_contig_range", "high_order.free_page_loop",
                 "contig16384.alloc_contig_pages", "contig16384.free_contig_frozen_range"):
        assert len(rows[name]["values"]) == 5 and rows[name]["mean"] > 0
    vmalloc = [n for n in rows if n.startswith("test_vmalloc.fix_size_alloc_test p:512 h:1")]
    assert vmalloc and len(rows[vmalloc[0]]["values"]) == 5
    md = (out / "bench.md").read_text()
    assert "| high_order.speedup (loop / batched) |" in md and "CV" in md
    (suite,) = list(JUnitXml.fromfile(str(out / "bench.xml")))
    props = {p.name: p.value for p in suite.properties()}
    assert float(props[f"bench.{RATIO}.mean"]) >= 3.0


REVERT = Path(__file__).resolve().parents[2] / "series" / "revert-batched-free" / "7.3"


def test_bench_compare_7_3_reverted_against_7_3_on_uml(kernel_tree, tmp_path):
    """The series' own experiment in one tree: the revert as --base-patch,
    both kernels in the one bench build dir, boots alternating.  The
    series' paths are at least 3x faster on 7.3; the per-page loop, the
    same code in both kernels, is within a third of 1x.  Costs two
    rebuilds of mm/page_alloc.o and mm/vmalloc.o and 2 x 2 boots on a warm
    bench build dir (about 2 min)."""
    out = tmp_path / "bench"
    proc = kgen("bench", "--compare", str(kernel_tree), str(kernel_tree), "--base-patch",
                str(REVERT), "--boots", "2", "--out", str(out), timeout=3600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    md = (out / "bench.md").read_text()
    assert "the boots alternated base, new" in md
    compared = {c["name"]: c for c in json.loads((out / "bench.json").read_text())["compare"]}
    # Two boots a side are too few for Welch's test to mark every row: in
    # CI vfree512.free_pages_bulk came out 6.98x faster yet unmarked.  The
    # marks are the 5-boot tables' business (docs/bench.md); here the
    # ratios must show the series, and the unchanged loop must not.
    for row in ("high_order.free_contig_range", "vfree512.free_pages_bulk",
                "contig16384.free_contig_frozen_range"):
        assert compared[row]["mark"] != "(R)" and compared[row]["speedup"] >= 3.0, compared[row]
    # Nor the loop's mark: in one CI run, with unit tests running beside
    # it, the loop came out 1.13x "faster" on 7.3 than reverted at p 0.042
    # (marked (I)) from two boots a side.  Its ratio is what must stay
    # near 1x.
    loop = compared["high_order.free_page_loop"]
    assert 0.75 <= loop["speedup"] <= 1.33, loop
