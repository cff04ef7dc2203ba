"""Benchmark statistics: per-row mean, stddev, coefficient of variation over
boots, and the series-style comparison with Welch's t-test."""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from scipy import stats

from kgen import protocol as P

ALPHA = 0.05
_LINE = re.compile(re.escape(P.KGEN_PROTO_BENCH_NAME) + r"(?P<name>[\w.]+)"
                   + re.escape(P.KGEN_PROTO_BENCH_ITERATIONS) + r"(?P<n>\d+)"
                   + re.escape(P.KGEN_PROTO_BENCH_TOTAL_NS) + r"(?P<ns>\d+)")
RATIO_ROW = "high_order.speedup (loop / batched)"
_VMALLOC_SUMMARY = re.compile(r"Summary: (?P<test>\w+) passed: (?P<passed>\d+) failed: "
                              r"(?P<failed>\d+) .*?avg: (?P<usec>\d+) usec")


def parse_test_vmalloc(lines: list[str], label: str) -> dict[str, float]:
    """lib/test_vmalloc "Summary:" lines -> row "test_vmalloc.<test> <label>"
    in ns (the test's own average per run, reported in usec).  A test that
    failed gives no row: its time would not mean anything."""
    rows = {}
    for line in lines:
        match = _VMALLOC_SUMMARY.search(line)
        if match and int(match["failed"]) == 0:
            loops = re.search(r"loops: (\d+)", line)
            name = (f"test_vmalloc.{match['test']}" + (f" {label}" if label else "")
                    + (f" (per run of {loops.group(1)} loops)" if loops else ""))
            rows[name] = int(match["usec"]) * 1000.0
    return rows


def parse_boot(lines: list[str]) -> dict[str, float]:
    """Row -> ns per iteration for one boot; adds the batched-free speedup."""
    rows: dict[str, float] = {}
    for line in lines:
        match = _LINE.search(line)
        if match and int(match["n"]):
            rows[match["name"]] = int(match["ns"]) / int(match["n"])
    batched = rows.get(P.KGEN_PROTO_BENCH_ROW_BATCHED)
    loop = rows.get(P.KGEN_PROTO_BENCH_ROW_LOOP)
    if batched and loop:
        rows[RATIO_ROW] = loop / batched
    return rows


@dataclass
class Row:
    name: str
    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def cv(self) -> float:
        return self.stdev / self.mean if self.mean else 0.0

    @property
    def is_ratio(self) -> bool:
        return self.name == RATIO_ROW


def collect(boots: list[dict[str, float]]) -> list[Row]:
    names = sorted({n for boot in boots for n in boot})
    return [Row(n, [b[n] for b in boots if n in b]) for n in names]


@dataclass
class Comparison:
    name: str
    base: Row
    new: Row
    change: float      # (new - base) / base
    p_value: float
    mark: str          # "(R)" regression, "(I)" improvement, "" not significant


def compare(base: list[Row], new: list[Row], alpha: float = ALPHA) -> list[Comparison]:
    """Welch's t-test per row.  Times: higher is worse; the speedup ratio:
    higher is better."""
    by_name = {r.name: r for r in new}
    out = []
    for row in base:
        other = by_name.get(row.name)
        if other is None or len(row.values) < 2 or len(other.values) < 2:
            continue
        result = stats.ttest_ind(other.values, row.values, equal_var=False)
        p = float(result.pvalue)
        change = (other.mean - row.mean) / row.mean if row.mean else 0.0
        worse = change < 0 if row.is_ratio else change > 0
        mark = ("(R)" if worse else "(I)") if p < alpha else ""
        out.append(Comparison(row.name, row, other, change, p, mark))
    return out
