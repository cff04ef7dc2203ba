"""Benchmark statistics: per-row mean, stddev, coefficient of variation over
boots, and the series-style comparison with Welch's t-test."""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from scipy import stats

from kgen import protocol as P

ALPHA = 0.05
# A change smaller than this is never marked, however small its p: with
# CVs under 1 % over a few boots, two kernels differ "significantly" by
# 2 % in code neither changed (6.12 -> 7.3's per-page loop: +2.3 %,
# p = 0.02), which says nothing about the free path under test.
MIN_CHANGE = 0.05
# How a row's change is judged significant.  "welch": Welch's t-test at
# ALPHA.  "ci95": the two 95 % confidence intervals of the mean do not
# overlap, the rule the series' own tables (Arm's fastpath numbers) state;
# stricter than Welch, so it marks fewer rows.
RULES = ("welch", "ci95")
_LINE = re.compile(re.escape(P.KGEN_PROTO_BENCH_NAME) + r"(?P<name>[\w.]+)"
                   + re.escape(P.KGEN_PROTO_BENCH_ITERATIONS) + r"(?P<n>\d+)"
                   + re.escape(P.KGEN_PROTO_BENCH_TOTAL_NS) + r"(?P<ns>\d+)")
RATIO_ROW = "high_order.speedup (loop / batched)"
# How far the batched free is above the floor (the same pages freed as one
# unsplit block): what the series gained is RATIO_ROW, what is left is this.
FLOOR_RATIO_ROW = "high_order.overhead (batched / floor)"
# CMA-style: 16384 frozen pages freed page by page (free_frozen_pages(), as
# before the series) over free_contig_frozen_range(); and the same with the
# allocation added, as the series' CMA test timed cma_alloc() + cma_release()
# (1406 -> 402 us per iteration, 3.5x).
CMA_FREE_RATIO_ROW = "contig16384.frozen free speedup (loop / batched)"
CMA_CYCLE_RATIO_ROW = "contig16384.frozen alloc+free speedup (loop / batched)"
# The series' CMA test as one time row: one frozen allocation plus its
# free_contig_frozen_range(), per iteration (the series: 1406 -> 402 us).
# Comparing it across two kernels (a revert against the tree) gives the
# series' before/after directly, not a ratio within one kernel.
CMA_CYCLE_ROW = "contig16384.frozen alloc+free (batched)"
# Ratio rows -> whether higher is better (times are always better lower).
RATIO_ROWS = {RATIO_ROW: True, FLOOR_RATIO_ROW: False,
              CMA_FREE_RATIO_ROW: True, CMA_CYCLE_RATIO_ROW: True}
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
    floor = rows.get(P.KGEN_PROTO_BENCH_ROW_FLOOR)
    if batched and loop:
        rows[RATIO_ROW] = loop / batched
    if batched and floor:
        rows[FLOOR_RATIO_ROW] = batched / floor
    alloc = rows.get(P.KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC)
    frozen = rows.get(P.KGEN_PROTO_BENCH_ROW_FROZEN_FREE)
    frozen_loop = rows.get(P.KGEN_PROTO_BENCH_ROW_FROZEN_LOOP)
    if alloc and frozen:
        rows[CMA_CYCLE_ROW] = alloc + frozen
    if frozen and frozen_loop:
        rows[CMA_FREE_RATIO_ROW] = frozen_loop / frozen
        if alloc:
            rows[CMA_CYCLE_RATIO_ROW] = (alloc + frozen_loop) / (alloc + frozen)
    return rows


@dataclass
class Row:
    """One benchmark row: its value in each boot that measured it.

    A row this tree cannot measure has no values and says why in missing
    ("n/a" in the reports).  A missing row may name a group of rows
    ("test_vmalloc" for every test_vmalloc.* row).  A row measured on an
    arch where it says nothing about the kernel (test_vmalloc on UML) keeps
    its values but says why in noise: the reports show that, not a number,
    and --compare never marks it.
    """

    name: str
    values: list[float]
    missing: str = ""
    noise: str = ""

    @property
    def measured(self) -> bool:
        return bool(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else float("nan")

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def cv(self) -> float:
        return self.stdev / self.mean if self.mean else 0.0

    @property
    def is_ratio(self) -> bool:
        return self.name in RATIO_ROWS

    @property
    def higher_is_better(self) -> bool:
        """Only the speedups; times and the overhead over the floor are
        better lower."""
        return RATIO_ROWS.get(self.name, False)

    def ci95(self) -> tuple[float, float]:
        """95 % confidence interval of the mean (Student's t, n - 1 dof)."""
        n = len(self.values)
        half = stats.t.ppf(0.975, n - 1) * self.stdev / n ** 0.5
        return self.mean - half, self.mean + half


def collect(boots: list[dict[str, float]],
            unavailable: dict[str, str] | None = None) -> list[Row]:
    """Rows over all boots, then a value-less row for each row (or group of
    rows) in unavailable, with the reason, unless a boot measured it."""
    names = sorted({n for boot in boots for n in boot})
    rows = [Row(n, [b[n] for b in boots if n in b]) for n in names]
    return rows + [Row(n, [], why) for n, why in sorted((unavailable or {}).items())
                   if n not in names]


def mark_too_noisy(rows: list[Row], groups: dict[str, str]) -> None:
    """Rows of a group (group -> why, kgen.arch.Arch.bench_too_noisy) are
    reported as too noisy, with the spread they showed, not as numbers."""
    for row in rows:
        why = next((why for group, why in groups.items()
                    if row.name == group or row.name.startswith(group + ".")), "")
        if why and row.measured:
            row.noise = why + (f": CV {row.cv * 100:.0f} % over {len(row.values)} boots"
                               if len(row.values) > 1 else "")


def _missing_reason(rows: dict[str, Row], name: str) -> str:
    """Why the side holding rows has no measurement of name: its own
    missing row, or that of the group name belongs to ("test_vmalloc")."""
    for key, row in rows.items():
        if row.missing and (key == name or name.startswith(key + ".")):
            return row.missing
    row = rows.get(name)
    if row is not None and row.noise:
        return row.noise
    if row is not None and row.measured:
        return "measured in only one boot (statistics need two)"
    return "not measured"


@dataclass
class Comparison:
    name: str
    base: Row | None
    new: Row | None
    change: float | None   # (new - base) / base; None when a side is n/a
    p_value: float | None
    mark: str          # "(R)" regression, "(I)" improvement, "" not significant, "n/a"
    reason: str = ""   # n/a: which side lacks the row, and why
    rule: str = "welch"   # what judged significance (RULES)

    @property
    def speedup(self) -> float | None:
        """How many times better new is than base: base / new for times,
        new / base for the speedup ratio."""
        if self.change is None or not self.base or not self.new or not self.new.mean:
            return None
        return (self.new.mean / self.base.mean if self.base.higher_is_better
                else self.base.mean / self.new.mean)


def compare(base: list[Row], new: list[Row], alpha: float = ALPHA,
            rule: str = "welch", min_change: float = MIN_CHANGE) -> list[Comparison]:
    """Welch's t-test per row (the p value is always given); with rule
    "ci95" a change is significant only when the rows' 95 % confidence
    intervals do not overlap.  Either way a change smaller than min_change
    (a fraction of base) is not marked.  Times: higher is worse; the
    speedup ratio: higher is better.

    A row one side cannot measure (an API its kernel lacks, a test module it
    cannot build in) is n/a, with the reason that side gave; the other rows
    still compare.  A missing group row is not listed on its own when the
    other side measured rows of the group: those rows carry its reason.
    """
    by_base = {r.name: r for r in base}
    by_new = {r.name: r for r in new}
    names = list(by_base) + [n for n in by_new if n not in by_base]
    out = []
    for name in names:
        b, n = by_base.get(name), by_new.get(name)
        if _covered_group(name, b, by_new) or _covered_group(name, n, by_base):
            continue
        if b is not None and n is not None and len(b.values) >= 2 and len(n.values) >= 2 \
                and not b.noise and not n.noise:
            result = stats.ttest_ind(n.values, b.values, equal_var=False)
            p = float(result.pvalue)
            change = (n.mean - b.mean) / b.mean if b.mean else 0.0
            worse = change < 0 if b.higher_is_better else change > 0
            significant = (p < alpha if rule == "welch" else _apart(b, n)) \
                and abs(change) >= min_change
            mark = ("(R)" if worse else "(I)") if significant else ""
            out.append(Comparison(name, b, n, change, p, mark, rule=rule))
            continue
        reasons = [f"{side}: {_missing_reason(rows, name)}"
                   for side, row, rows in (("base", b, by_base), ("new", n, by_new))
                   if row is None or len(row.values) < 2 or row.noise]
        out.append(Comparison(name, b, n, None, None, "n/a", "; ".join(reasons)))
    return out


def _apart(a: Row, b: Row) -> bool:
    """The two rows' 95 % confidence intervals do not overlap."""
    (a_lo, a_hi), (b_lo, b_hi) = a.ci95(), b.ci95()
    return a_hi < b_lo or b_hi < a_lo


def regressions(comparisons: list[Comparison]) -> list[Comparison]:
    return [c for c in comparisons if c.mark == "(R)"]


def _covered_group(name: str, row: Row | None, other: dict[str, Row]) -> bool:
    """row is a missing group whose members the other side measured."""
    return (row is not None and not row.measured
            and any(o.startswith(name + ".") for o in other))
