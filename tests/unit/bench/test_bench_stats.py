"""Benchmark statistics: parsing the kernel's lines, spread, Welch comparison."""
from __future__ import annotations

import pytest

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


def test_test_vmalloc_summary_lines():
    from kgen.runner.bench.stats import parse_test_vmalloc
    lines = [
        "Summary: fix_size_alloc_test passed: 1 failed: 0 xfailed: 0 repeat: 1 loops: 1000 avg: 5280 usec",
        "Summary: vm_map_ram_test passed: 0 failed: 1 xfailed: 0 repeat: 1 loops: 1000 avg: 9 usec",
    ]
    rows = parse_test_vmalloc(lines, "p:1 h:0")
    assert rows == {"test_vmalloc.fix_size_alloc_test p:1 h:0 (per run of 1000 loops)": 5280000.0}
