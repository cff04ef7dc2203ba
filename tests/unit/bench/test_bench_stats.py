"""Benchmark statistics: parsing the kernel's lines, spread, Welch comparison."""
from __future__ import annotations

from pathlib import Path

import pytest

from kgen.arch import arch
from kgen.runner.bench.stats import RATIO_ROW, Row, collect, compare, parse_boot

BOOT = """\
    # kgen_bench_high_order: kgen-bench: name=high_order.free_contig_range iterations=5000 total_ns=10000000
    # kgen_bench_high_order: kgen-bench: name=high_order.free_page_loop iterations=5000 total_ns=80000000
    # kgen_bench_contig: kgen-bench: name=contig16384.free_contig_range iterations=20 total_ns=2000000
""".splitlines()


def test_parse_boot_gives_ns_per_iteration_and_speedup():
    rows = parse_boot(BOOT)
    assert rows["high_order.free_contig_range"] == 2000.0
    assert rows["high_order.free_page_loop"] == 16000.0
    assert rows[RATIO_ROW] == 8.0
    assert rows["contig16384.free_contig_range"] == 100000.0


def test_row_statistics():
    row = Row("x", [10.0, 12.0, 14.0])
    assert row.mean == 12.0 and row.stdev == 2.0 and row.cv == pytest.approx(1 / 6)
    assert [r.name for r in collect([{"a": 1.0}, {"a": 2.0, "b": 3.0}])] == ["a", "b"]


def test_compare_marks_significant_changes_only():
    base = [Row("t", [100, 101, 99, 100, 100]), Row(RATIO_ROW, [8.0, 8.1, 7.9, 8.0, 8.0]),
            Row("same", [50, 55, 45, 52, 48])]
    new = [Row("t", [120, 121, 119, 120, 120]), Row(RATIO_ROW, [9.0, 9.1, 8.9, 9.0, 9.0]),
           Row("same", [51, 54, 46, 50, 49])]
    by = {c.name: c for c in compare(base, new)}
    assert by["t"].mark == "(R)" and by["t"].change == pytest.approx(0.2)
    assert by[RATIO_ROW].mark == "(I)"          # a higher speedup is better
    assert by["same"].mark == "" and by["same"].p_value > 0.05


def test_a_change_under_five_percent_is_never_marked():
    # 6.12 -> 7.3 on UML, 3 boots each: the per-page loop, the same code on
    # both, came out 2.3 % slower with p = 0.02 and was marked (R), which
    # made `kgen bench --compare` exit 1.
    base = [Row("high_order.free_page_loop", [16.0, 16.0, 16.1]),
            Row("high_order.free_contig_range", [16.2, 16.1, 16.2])]
    new = [Row("high_order.free_page_loop", [16.3, 16.5, 16.4]),
           Row("high_order.free_contig_range", [2.3, 2.4, 2.4])]
    by = {c.name: c for c in compare(base, new)}
    loop = by["high_order.free_page_loop"]
    assert loop.p_value < 0.05 and 0 < loop.change < 0.05 and loop.mark == ""
    assert by["high_order.free_contig_range"].mark == "(I)"
    assert compare(base, new, min_change=0)[0].mark == "(R)"
    assert compare(base, new, rule="ci95")[0].mark == ""


def test_test_vmalloc_summary_lines():
    from kgen.runner.bench.stats import parse_test_vmalloc
    lines = [
        "Summary: fix_size_alloc_test passed: 1 failed: 0 xfailed: 0 repeat: 1 loops: 1000 avg: 5280 usec",
        "Summary: vm_map_ram_test passed: 0 failed: 1 xfailed: 0 repeat: 1 loops: 1000 avg: 9 usec",
    ]
    rows = parse_test_vmalloc(lines, "p:1 h:0")
    assert rows == {"test_vmalloc.fix_size_alloc_test p:1 h:0 (per run of 1000 loops)": 5280000.0}


def _frozen_na(reason="needs alloc_contig_frozen_pages(): not declared in this tree "
                      "(include/linux/gfp.h)"):
    return {"contig16384.alloc_contig_frozen_pages": reason,
            "contig16384.free_contig_frozen_range": reason}


def test_collect_adds_na_rows_with_reason_unless_measured():
    rows = collect([{"a": 1.0}, {"a": 2.0}], {"b": "why b", "a": "ignored: measured"})
    assert [(r.name, r.measured, r.missing) for r in rows] == [
        ("a", True, ""), ("b", False, "why b")]


def test_compare_shows_rows_one_side_lacks_as_na_and_compares_the_rest():
    vmalloc = "test_vmalloc.fix_size_alloc_test p:1 h:0 (per run of 1000 loops)"
    base = collect([{"high_order.free_contig_range": 30.0, "high_order.free_page_loop": 31.0},
                    {"high_order.free_contig_range": 31.0, "high_order.free_page_loop": 30.0},
                    {"high_order.free_contig_range": 29.0, "high_order.free_page_loop": 29.5}],
                   _frozen_na() | {"test_vmalloc": "lib/test_vmalloc cannot be built in"})
    new = collect([{"high_order.free_contig_range": 9.0, "contig16384.free_contig_frozen_range": 5.0,
                    "contig16384.alloc_contig_frozen_pages": 7.0, vmalloc: 100.0},
                   {"high_order.free_contig_range": 9.5, "contig16384.free_contig_frozen_range": 5.5,
                    "contig16384.alloc_contig_frozen_pages": 7.5, vmalloc: 101.0},
                   {"high_order.free_contig_range": 9.2, "contig16384.free_contig_frozen_range": 5.2,
                    "contig16384.alloc_contig_frozen_pages": 7.2, vmalloc: 99.0}])
    by = {c.name: c for c in compare(base, new)}
    hi = by["high_order.free_contig_range"]
    assert hi.mark == "(I)" and hi.speedup == pytest.approx(30.0 / 9.2333, rel=1e-3)
    frozen = by["contig16384.free_contig_frozen_range"]
    assert frozen.mark == "n/a" and frozen.change is None and frozen.p_value is None
    assert frozen.reason == ("base: needs alloc_contig_frozen_pages(): not declared in "
                             "this tree (include/linux/gfp.h)")
    assert by[vmalloc].mark == "n/a"
    assert by[vmalloc].reason == "base: lib/test_vmalloc cannot be built in"
    assert "test_vmalloc" not in by        # its member rows carry the reason
    assert by["high_order.free_page_loop"].reason == "new: not measured"


def test_reports_render_na_rows_without_failing():
    import json
    from pathlib import Path

    from kgen.runner.bench.pipeline import BenchResult
    from kgen.runner.bench.report import as_json, as_run_result, compare_markdown, report_markdown
    props = {"kernel.version": "6.12.117", "boots": "2", "iterations.high_order": "10",
             "iterations.contig16384": "2", "config": "bench.config"}
    base = BenchResult(Path("/t/6.12"), "um", collect(
        [{"high_order.free_contig_range": 30.0}, {"high_order.free_contig_range": 31.0}],
        _frozen_na()), props)
    new = BenchResult(Path("/t/7.3"), "um", collect(
        [{"high_order.free_contig_range": 9.0, "contig16384.free_contig_frozen_range": 5.0},
         {"high_order.free_contig_range": 9.5, "contig16384.free_contig_frozen_range": 5.5}]),
        props | {"kernel.version": "7.3.1"})
    comparisons = compare(base.rows, new.rows)
    single = report_markdown(base)
    assert ("| contig16384.free_contig_frozen_range | n/a | | | needs "
            "alloc_contig_frozen_pages(): not declared") in single
    md = compare_markdown(base, new, comparisons)
    assert "| contig16384.free_contig_frozen_range | n/a | 5 ns | n/a: base: needs " in md
    assert "(I) | 3.30× |" in md
    data = json.loads(as_json(new, comparisons))
    na = {c["name"]: c for c in data["compare"]}["contig16384.free_contig_frozen_range"]
    assert na["mark"] == "n/a" and na["change"] is None and na["n/a"].startswith("base: ")
    assert json.loads(as_json(base))["rows"][1]["n/a"].startswith("needs ")
    cases = {c.name: c for c in as_run_result(base).suites[0].cases}
    assert cases["contig16384.free_contig_frozen_range"].status.value == "skipped"


def test_ci95_rule_is_stricter_than_welch_and_is_named():
    from kgen.runner.bench.stats import Row, compare, regressions

    # Means 1.5 % apart with a spread that keeps the 95 % CIs overlapping but
    # gives Welch p < 0.05 with 5 boots (with no floor on the change).
    base = [Row("high_order.free_contig_range", [100.0, 101.0, 99.0, 100.5, 99.5])]
    new = [Row("high_order.free_contig_range", [101.5, 102.5, 100.5, 102.0, 101.0])]
    welch = compare(base, new, min_change=0)
    ci = compare(base, new, rule="ci95", min_change=0)
    assert welch[0].mark == "(R)" and welch[0].p_value < 0.05
    assert regressions(welch) == welch
    assert base[0].ci95()[1] > new[0].ci95()[0]      # the intervals overlap
    assert ci[0].mark == "" and ci[0].p_value == welch[0].p_value
    far = [Row("high_order.free_contig_range", [150.0, 151.0, 149.0, 150.5, 149.5])]
    apart = compare(base, far, rule="ci95")
    assert apart[0].mark == "(R)" and apart[0].rule == "ci95"
    assert compare(far, base, rule="ci95")[0].mark == "(I)"


def test_compare_report_names_the_rule_per_marked_row():
    from kgen.runner.bench.pipeline import BenchResult
    from kgen.runner.bench.report import compare_markdown
    from kgen.runner.bench.stats import Row, compare

    base = BenchResult("/a", "um", [Row("x", [100.0, 101.0, 99.0])],
                       {"kernel.version": "6.12"}, [])
    new = BenchResult("/b", "um", [Row("x", [50.0, 51.0, 49.0])],
                      {"kernel.version": "7.3"}, [])
    text = compare_markdown(base, new, compare(base.rows, new.rows, rule="ci95"))
    assert "95 % confidence intervals" in text and "| 95 % CIs apart, change of 5% or more |" in text
    text = compare_markdown(base, new, compare(base.rows, new.rows))
    assert "Welch's t-test, α = 0.05" in text and "| Welch p < 0.05, change of 5% or more |" in text


def test_floor_row_gives_the_overhead_beside_the_speedup():
    from kgen import protocol as P
    from kgen.runner.bench.pipeline import BenchResult
    from kgen.runner.bench.report import report_markdown
    from kgen.runner.bench.stats import FLOOR_RATIO_ROW, RATIO_ROW, collect, compare, parse_boot

    def boot(batched, loop, floor):
        return parse_boot([f"    # kgen_bench_high_order: {P.KGEN_PROTO_BENCH_NAME}{name}"
                           f"{P.KGEN_PROTO_BENCH_ITERATIONS}10{P.KGEN_PROTO_BENCH_TOTAL_NS}{ns}"
                           for name, ns in ((P.KGEN_PROTO_BENCH_ROW_BATCHED, batched),
                                            (P.KGEN_PROTO_BENCH_ROW_LOOP, loop),
                                            (P.KGEN_PROTO_BENCH_ROW_FLOOR, floor))])

    first = boot(10_000, 60_000, 5_000)
    assert first[RATIO_ROW] == 6.0 and first[FLOOR_RATIO_ROW] == 2.0
    rows = collect([first, boot(11_000, 61_000, 5_100)])
    props = {"kernel.version": "7.3", "boots": "2", "iterations.high_order": "10",
             "iterations.contig16384": "1", "config": "bench.config"}
    text = report_markdown(BenchResult("/t", "um", rows, props, []))
    assert "faster than the per-page loop (loop ÷ batched" in text
    assert "**2.08×** the floor" in text
    # Closer to the floor is better: a larger overhead is a regression.
    worse = collect([boot(20_000, 60_000, 5_000), boot(21_000, 61_000, 5_100)])
    by = {c.name: c for c in compare(rows, worse)}
    assert by[FLOOR_RATIO_ROW].mark == "(R)" and by[RATIO_ROW].mark == "(R)"


def _frozen_boot(alloc, batched, loop):
    from kgen import protocol as P
    return parse_boot([f"    # kgen_bench_contig: {P.KGEN_PROTO_BENCH_NAME}{name}"
                       f"{P.KGEN_PROTO_BENCH_ITERATIONS}{n}{P.KGEN_PROTO_BENCH_TOTAL_NS}{ns}"
                       for name, n, ns in (
                           (P.KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC, 2, 2 * alloc),
                           (P.KGEN_PROTO_BENCH_ROW_FROZEN_FREE, 1, batched),
                           (P.KGEN_PROTO_BENCH_ROW_FROZEN_LOOP, 1, loop))])


def test_cma_style_ratios_free_alone_and_with_the_allocation():
    from kgen.runner.bench.stats import CMA_CYCLE_RATIO_ROW, CMA_FREE_RATIO_ROW
    rows = _frozen_boot(alloc=400_000, batched=100_000, loop=1_000_000)
    assert rows["contig16384.alloc_contig_frozen_pages"] == 400_000.0   # per allocation
    assert rows[CMA_FREE_RATIO_ROW] == 10.0
    # As the series' CMA test timed it: alloc + release, before / after.
    assert rows[CMA_CYCLE_RATIO_ROW] == 1_400_000 / 500_000
    # The same cycle as a time, for two kernels compared: the batched one.
    assert rows["contig16384.frozen alloc+free (batched)"] == 500_000
    slower = collect([_frozen_boot(400_000, 200_000, 1_000_000),
                      _frozen_boot(410_000, 210_000, 1_010_000)])
    faster = collect([_frozen_boot(400_000, 100_000, 1_000_000),
                      _frozen_boot(390_000, 105_000, 1_020_000)])
    by = {c.name: c for c in compare(slower, faster)}
    assert by[CMA_FREE_RATIO_ROW].mark == "(I)"     # a larger speedup is better
    assert by[CMA_CYCLE_RATIO_ROW].mark == "(I)"


def test_a_tree_without_the_frozen_allocator_lists_the_cma_ratios_as_na(monkeypatch):
    from kgen.runner.bench import pipeline
    from kgen.runner.bench.stats import CMA_CYCLE_RATIO_ROW, CMA_FREE_RATIO_ROW
    from kgen.target.capabilities import assume_all
    caps = assume_all(arch("um"))
    monkeypatch.setattr(caps, "unmet", lambda need: f"no {need.name}" if
                        "frozen" in need.name else "")
    from kgen.cache import cache_paths
    from kgen.target.target import Target
    monkeypatch.setattr(pipeline, "builtin_blocker", lambda *a: "")
    tree = Path("/nonexistent")
    na = pipeline.unavailable_rows(Target(tree, "7.3.0", arch("um"), "tcg", caps,
                                          cache_paths(tree, "um")))
    assert {CMA_FREE_RATIO_ROW, CMA_CYCLE_RATIO_ROW,
            "contig16384.free_frozen_page_loop"} <= set(na)


def test_a_tree_without_free_pages_bulk_lists_its_vfree_row_as_na(monkeypatch):
    from kgen import protocol as P
    from kgen.cache import cache_paths
    from kgen.runner.bench import pipeline
    from kgen.target.capabilities import assume_all
    from kgen.target.target import Target
    caps = assume_all(arch("um"))
    monkeypatch.setattr(caps, "unmet", lambda need: f"no {need.name}" if
                        need.name == "free_pages_bulk" else "")
    monkeypatch.setattr(pipeline, "builtin_blocker", lambda *a: "")
    tree = Path("/nonexistent")
    na = pipeline.unavailable_rows(Target(tree, "6.12.0", arch("um"), "tcg", caps,
                                          cache_paths(tree, "um")))
    # vfree() itself is measured on every tree.
    assert na == {P.KGEN_PROTO_BENCH_ROW_FREE_PAGES_BULK: "no free_pages_bulk"}


VMALLOC_ROW = "test_vmalloc.vm_map_ram_test (per run of 1000 loops)"


def _with_vmalloc(high, vmalloc):
    return {"high_order.free_contig_range": high, VMALLOC_ROW: vmalloc}


def test_test_vmalloc_rows_are_too_noisy_on_uml_only():
    from kgen.arch import arch
    from kgen.runner.bench.stats import mark_too_noisy
    boots = [_with_vmalloc(9.0, 11e6), _with_vmalloc(9.5, 3e6), _with_vmalloc(9.2, 30e6)]
    uml = collect(boots)
    mark_too_noisy(uml, arch("um").bench_too_noisy)
    by = {r.name: r for r in uml}
    assert by[VMALLOC_ROW].noise.startswith("too noisy on UML (host mmap): CV ")
    assert by[VMALLOC_ROW].noise.endswith(" % over 3 boots")
    assert by[VMALLOC_ROW].values            # the data is kept (bench.json)
    assert not by["high_order.free_contig_range"].noise
    # By arch, not by spread: a quiet UML row is as far from the guest
    # kernel's cost, and a guest's rows are numbers however they spread.
    quiet = collect([_with_vmalloc(9.0, 10e6), _with_vmalloc(9.1, 10.1e6)])
    mark_too_noisy(quiet, arch("um").bench_too_noisy)
    assert quiet[1].noise
    for guest in ("arm64", "x86_64"):
        rows = collect(boots)
        mark_too_noisy(rows, arch(guest).bench_too_noisy)
        assert not any(r.noise for r in rows)


def test_reports_show_noisy_rows_as_such_and_never_compare_them():
    import json
    from pathlib import Path

    from kgen.arch import arch
    from kgen.runner.bench.pipeline import BenchResult
    from kgen.runner.bench.report import (
        as_json,
        as_run_result,
        compare_markdown,
        junit_properties,
        report_markdown,
    )
    from kgen.runner.bench.stats import mark_too_noisy, regressions
    props = {"kernel.version": "7.3.4", "boots": "3", "iterations.high_order": "10",
             "iterations.contig16384": "2", "config": "bench.config"}

    def result(vmalloc):
        rows = collect([_with_vmalloc(9.0 + i / 10, v) for i, v in enumerate(vmalloc)])
        mark_too_noisy(rows, arch("um").bench_too_noisy)
        return BenchResult(Path("/t"), "um", rows, props)

    base, new = result([1e6, 1.1e6, 0.9e6]), result([9e6, 9.1e6, 8.9e6])
    text = report_markdown(new)
    assert f"| {VMALLOC_ROW} | too noisy to compare | | | too noisy on UML (host mmap): CV " \
        in text
    assert "9000.00 µs" not in text and "9.00 ms" not in text
    comparisons = compare(base.rows, new.rows)
    by = {c.name: c for c in comparisons}
    # Nine times slower, with a small spread: still not a regression on UML.
    assert by[VMALLOC_ROW].mark == "n/a" and not regressions(comparisons)
    assert by[VMALLOC_ROW].reason.startswith("base: too noisy on UML (host mmap)")
    assert "| too noisy to compare | too noisy to compare | n/a: base: too noisy" in \
        compare_markdown(base, new, comparisons)
    assert junit_properties(new)[f"bench.{VMALLOC_ROW}"].startswith(
        "too noisy to compare: too noisy on UML")
    assert f"bench.{VMALLOC_ROW}.mean" not in junit_properties(new)
    row = {r["name"]: r for r in json.loads(as_json(new))["rows"]}[VMALLOC_ROW]
    assert row["values"] == [9e6, 9.1e6, 8.9e6] and row["too noisy"].startswith("too noisy")
    case = {c.name: c for c in as_run_result(new).suites[0].cases}[VMALLOC_ROW]
    assert case.status.value == "skipped" and case.message.startswith("too noisy to compare")
