"""Reports of `kgen bench`: Markdown tables, JSON, JUnit properties."""
from __future__ import annotations

import json

from kgen import protocol as P
from kgen.runner.bench.pipeline import BenchResult
from kgen.runner.bench.stats import (
    ALPHA,
    CMA_CYCLE_RATIO_ROW,
    CMA_FREE_RATIO_ROW,
    FLOOR_RATIO_ROW,
    MIN_CHANGE,
    RATIO_ROW,
    Comparison,
    Row,
)
from kgen.runner.results.model import CaseResult, RunResult, Status, SuiteResult

# What a row too noisy to compare shows where its number would be.
TOO_NOISY = "too noisy to compare"


def _fmt(row: Row | None) -> str:
    if row is None or not row.measured:
        return "n/a"
    if row.noise:
        return TOO_NOISY
    if row.is_ratio:
        return f"{row.mean:.2f}×"
    return f"{row.mean / 1000:.2f} µs" if row.mean >= 1000 else f"{row.mean:.0f} ns"


def report_markdown(result: BenchResult) -> str:
    out = [f"### kgen bench — {result.arch}, Linux {result.properties['kernel.version']}",
           "", f"{result.properties['boots']} boots; high-order iterations per boot: "
           f"{result.properties['iterations.high_order']}; 16384-page iterations: "
           f"{result.properties['iterations.contig16384']}; "
           f"{result.properties['config']}"
           + (f"; QEMU accel {result.properties['qemu.accel']} (ratios only)"
              if "qemu.accel" in result.properties else ""), "",
           "| row | mean per iteration | stddev | CV | per boot |", "|---|---|---|---|---|"]
    for row in result.rows:
        if not row.measured:
            out.append(f"| {row.name} | n/a | | | {row.missing} |")
            continue
        if row.noise:
            out.append(f"| {row.name} | {TOO_NOISY} | | | {row.noise} |")
            continue
        per_boot = ", ".join(f"{v:.2f}" if row.is_ratio else f"{v / 1000:.1f}"
                             for v in row.values)
        unit = "" if row.is_ratio else " µs"
        out.append(f"| {row.name} | {_fmt(row)} | "
                   + (f"{row.stdev:.2f}" if row.is_ratio else f"{row.stdev / 1000:.2f} µs")
                   + f" | {row.cv * 100:.1f}% | {per_boot}{unit} |")
    return "\n".join(out + _gained_and_left(result.rows)) + "\n"


def _gained_and_left(rows: list[Row]) -> list[str]:
    """The speedup beside the overhead over the floor: how much the batched
    free gained over the per-page loop, and how far it still is from
    freeing the same pages as one unsplit block; then the CMA-style frozen
    speedups."""
    by = {r.name: r for r in rows if r.measured and not r.noise}
    gained, left = by.get(RATIO_ROW), by.get(FLOOR_RATIO_ROW)
    out = []
    if gained and left:
        out += ["", (f"High-order free, {P.KGEN_PROTO_BENCH_ROW_BATCHED}: "
                     f"**{gained.mean:.2f}×** faster than the per-page loop (loop ÷ batched, "
                     f"CV {gained.cv * 100:.1f}%), **{left.mean:.2f}×** the floor, one unsplit "
                     f"`__free_pages()` block (batched ÷ floor, CV {left.cv * 100:.1f}%).")]
    free, cycle = by.get(CMA_FREE_RATIO_ROW), by.get(CMA_CYCLE_RATIO_ROW)
    if free and cycle:
        out += ["", (f"CMA-style, 16384 frozen pages: {P.KGEN_PROTO_BENCH_ROW_FROZEN_FREE} "
                     f"**{free.mean:.2f}×** faster than the per-page `free_frozen_pages()` "
                     f"loop (CV {free.cv * 100:.1f}%); allocation included, "
                     f"**{cycle.mean:.2f}×** (CV {cycle.cv * 100:.1f}%).")]
    return out


def compare_markdown(base: BenchResult, new: BenchResult,
                     comparisons: list[Comparison]) -> str:
    out = [f"### kgen bench --compare ({base.arch})", "",
           f"base: {base.name} ({base.properties['kernel.version']}); "
           f"new: {new.name} ({new.properties['kernel.version']}); "
           f"{_rule_text(comparisons)}; (R) significant regression, "
           "(I) significant improvement; new vs base: how many times faster "
           "(for the speedup row: how many times larger); n/a: a side cannot "
           "measure the row"
           + ("; the boots alternated base, new, base, new ..., so host drift "
              "falls on both sides alike" if base.properties.get("boots.order")
              == "alternating" else "; all boots of base, then all of new"), "",
           "| row | base | new | change | new vs base | p | marked by |",
           "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        if c.change is None:
            out.append(f"| {c.name} | {_fmt(c.base)} | {_fmt(c.new)} | n/a: {c.reason} | | | |")
            continue
        out.append(f"| {c.name} | {_fmt(c.base)} | {_fmt(c.new)} | "
                   f"{c.change * 100:+.2f}% {c.mark} | {c.speedup:.2f}× | {c.p_value:.3g} | "
                   f"{_marked_by(c) if c.mark else ''} |")
    return "\n".join(out) + "\n"


_RULE_NAMES = {"welch": "Welch p < 0.05", "ci95": "95 % CIs apart"}


def _marked_by(c: Comparison) -> str:
    """The rule that marked a row, both halves: its test, and the floor
    its change cleared (a smaller one is never marked)."""
    # No "|" in it: the text goes into a Markdown table cell.
    return f"{_RULE_NAMES[c.rule]}, change of {MIN_CHANGE:.0%} or more"


def _rule_text(comparisons: list[Comparison]) -> str:
    rules = {c.rule for c in comparisons if c.change is not None}
    floor = f"changes under {MIN_CHANGE:.0%} are not marked"
    if rules == {"ci95"}:
        return ("significance rule: 95 % confidence intervals of the means do not "
                f"overlap (as the series' tables), {floor}; p: Welch's t-test, shown only")
    return f"significance rule: Welch's t-test, α = {ALPHA}, {floor}"


def as_json(result: BenchResult, comparisons: list[Comparison] | None = None) -> str:
    data = {"properties": result.properties,
            "rows": [{"name": r.name, "values": r.values, "mean": r.mean,
                      "stdev": r.stdev, "cv": r.cv,
                      "unit": "ratio" if r.is_ratio else "ns/iteration"}
                     | ({"too noisy": r.noise} if r.noise else {})
                     if r.measured else {"name": r.name, "values": [], "n/a": r.missing}
                     for r in result.rows]}
    if comparisons is not None:
        data["compare"] = [
            {"name": c.name, "change": c.change, "p_value": c.p_value, "mark": c.mark,
             "rule": c.rule, "speedup": c.speedup,
             "base_mean": c.base.mean if c.base and c.base.measured else None,
             "new_mean": c.new.mean if c.new and c.new.measured else None}
            | ({"n/a": c.reason} if c.change is None else {})
            for c in comparisons]
    return json.dumps(data, indent=1)


def junit_properties(result: BenchResult,
                     comparisons: list[Comparison] | None = None) -> dict[str, str]:
    props = dict(result.properties)
    for row in result.rows:
        if not row.measured:
            props[f"bench.{row.name}"] = f"n/a: {row.missing}"
            continue
        if row.noise:
            props[f"bench.{row.name}"] = f"{TOO_NOISY}: {row.noise}"
            continue
        props[f"bench.{row.name}.mean"] = f"{row.mean:.3f}"
        props[f"bench.{row.name}.cv"] = f"{row.cv:.4f}"
    for c in comparisons or []:
        if c.change is None:
            props[f"compare.{c.name}"] = f"n/a: {c.reason}"
            continue
        props[f"compare.{c.name}.change"] = f"{c.change:+.4f}{(' ' + c.mark) if c.mark else ''}"
        props[f"compare.{c.name}.p"] = f"{c.p_value:.4g}"
    return props


def as_run_result(result: BenchResult,
                  comparisons: list[Comparison] | None = None) -> RunResult:
    """The rows as one JUnit suite: a passed case per row, the figures as
    properties (CI dashboards read JUnit, not Markdown)."""
    suite = SuiteResult(P.KGEN_PROTO_BENCH_SUITE, [
        CaseResult(row.name, Status.PASSED, log=[f"values={row.values}"])
        if row.measured and not row.noise
        else CaseResult(row.name, Status.SKIPPED, message=f"{TOO_NOISY}: {row.noise}",
                        log=[f"values={row.values}"]) if row.noise
        else CaseResult(row.name, Status.SKIPPED, message=f"n/a: {row.missing}")
        for row in result.rows], properties=junit_properties(result, comparisons))
    return RunResult(suites=[suite])
