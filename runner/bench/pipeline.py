"""`kgen bench`: the benchmark lane, apart from the tests.

Builds a kernel for benchmarking (kernel/kunit/configs/bench.config: the
kgen_bench suite, no DEBUG_VM) in its own build dir, boots it N times and
reports ns per iteration per row, with mean, stddev and coefficient of
variation.  With two trees it compares them row by row (Welch's t-test).
Iteration counts scale with the arch: QEMU without KVM ran the high-order
loop about 200x slower than UML here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from kgen import __version__
from kgen.arch import DEFAULT_ARCH, arch
from kgen.cache import cache_root, default_build_dir, overlay_dir
from kgen.errors import EnvironmentProblem
from kgen.generator.render import render_all
from kgen.kernel import kunit_dir
from kgen.kernel_tree import kernel_version
from kgen.runner.bench.stats import ALPHA, Comparison, Row, collect, parse_boot, parse_test_vmalloc
from kgen.runner.harness import kunit_tool, qemu_shim
from kgen.runner.harness.overlay import Overlay
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import Status
from kgen.runner.run.capabilities import probe_tree
from kgen.runner.run.pipeline import OverlayLock, first_error_line

# Iterations and lib/test_vmalloc loop counts per arch: kgen.arch.Arch.
# On UML vmalloc maps pages with host mmap/munmap calls, so its absolute
# test_vmalloc numbers say little about real hardware.
# (label, kernel args) of the boots that run lib/test_vmalloc: the series'
# fix_size_alloc_test p:1/512 h:0/1 rows, then the other tests in one boot.
_FIX_SIZE = 1 << 0
_OTHERS = sum(1 << b for b in (1, 2, 3, 4, 7, 8, 9, 10))  # full_fit ... vm_map_ram
VMALLOC_BOOTS = [
    (f"p:{p} h:{h}", [f"test_vmalloc.run_test_mask={_FIX_SIZE}",
                      f"test_vmalloc.nr_pages={p}", f"test_vmalloc.use_huge={h}"])
    for h in (0, 1) for p in (1, 512)
] + [("", [f"test_vmalloc.run_test_mask={_OTHERS}"])]


@dataclass
class BenchRequest:
    tree: Path
    arch: str = DEFAULT_ARCH
    boots: int = 5
    iterations: int | None = None
    contig_iterations: int | None = None
    vmalloc: bool = True          # also run lib/test_vmalloc rows
    timeout: int = 1200
    accel: str = "tcg"
    log: Callable[[str], None] = print


@dataclass
class BenchResult:
    tree: Path
    arch: str
    rows: list[Row]
    properties: dict[str, str] = field(default_factory=dict)
    console_logs: list[Path] = field(default_factory=list)


def run_bench(req: BenchRequest) -> BenchResult:
    missing = kunit_tool.missing_tools(req.arch)
    if missing:
        raise EnvironmentProblem(f"missing tools for --arch {req.arch}: {', '.join(missing)}")
    high, contig = arch(req.arch).bench_iterations
    high = req.iterations or high
    contig = req.contig_iterations or contig
    build_dir = Path(f"{default_build_dir(req.tree, req.arch)}-bench")
    overlay = Overlay(req.tree, overlay_dir(req.tree))
    with OverlayLock(overlay.root.with_suffix(".lock")):
        # The overlay carries the suites too; the bench config leaves them out.
        overlay.sync(render_all([], {}, probe_tree(req.tree, req.arch).have()))
        build_dir.mkdir(parents=True, exist_ok=True)
        kunitconfig = build_dir.parent / f"{build_dir.name}.kunitconfig"
        kunitconfig.write_text(kunit_dir().joinpath("configs", "bench.config").read_text())
        inv = kunit_tool.Invocation(
            kunit_py=overlay.kunit_py, build_dir=build_dir, kunitconfig=kunitconfig,
            arch=req.arch, timeout=req.timeout, accel=req.accel,
            kernel_args=[f"kgen_bench.iterations={high}",
                         f"kgen_bench.contig_iterations={contig}",
                         "test_vmalloc.run_test_mask=0"],
            shim_dir=qemu_shim.install(cache_root() / "qemu-shim"))
        req.log(f"kgen bench: building the {req.arch} benchmark kernel in {build_dir}")
        built = kunit_tool.build(inv, build_dir.parent / f"{build_dir.name}.build.log")
        if not built.ok:
            raise EnvironmentProblem("benchmark kernel build failed: "
                                     + first_error_line(built.output))
        boots, logs = [], []
        for n in range(1, req.boots + 1):
            log_path = build_dir.parent / f"{build_dir.name}.console.boot{n}.log"
            booted = kunit_tool.execute(inv, log_path, "kgen_bench")
            rows = parse_boot(booted.output)
            if not rows:
                raise EnvironmentProblem(f"boot {n} produced no benchmark lines"
                                         f"{_why(booted.output)}; see {log_path}")
            req.log(f"kgen bench: boot {n}/{req.boots}: " + ", ".join(
                f"{k}={v:.1f}" for k, v in sorted(rows.items()) if "speedup" in k))
            if req.vmalloc:
                rows.update(_test_vmalloc_rows(inv, build_dir, n, req))
            boots.append(rows)
            logs.append(log_path)
    props = {"arch": req.arch, "kernel.version": kernel_version(req.tree),
             "kernel.tree": str(req.tree), "kgen.version": __version__,
             "boots": str(req.boots), "iterations.high_order": str(high),
             "iterations.contig16384": str(contig),
             "test_vmalloc.loops": str(arch(req.arch).vmalloc_loops) if req.vmalloc else "off",
             "config": "kernel/kunit/configs/bench.config (no DEBUG_VM)"}
    if arch(req.arch).uses_qemu:
        props["qemu.accel"] = req.accel
    return BenchResult(req.tree, req.arch, collect(boots), props, logs)


def _why(console: list[str]) -> str:
    """The benchmark cases' own failure messages, if they failed."""
    failed = [f"{c.name}: {c.message}" for s in parse_console(console).suites
              for c in s.cases if c.status is not Status.PASSED]
    return (": " + "; ".join(failed)) if failed else ""


def _test_vmalloc_rows(inv: kunit_tool.Invocation, build_dir: Path, boot: int,
                       req: BenchRequest) -> dict[str, float]:
    """One round of lib/test_vmalloc boots (no KUnit suite runs in them)."""
    rows: dict[str, float] = {}
    loops = arch(req.arch).vmalloc_loops
    for i, (label, args) in enumerate(VMALLOC_BOOTS):
        this = replace(inv, kernel_args=[a for a in inv.kernel_args
                                         if not a.startswith("test_vmalloc.")]
                       + args + [f"test_vmalloc.test_loop_count={loops}"])
        log_path = build_dir.parent / f"{build_dir.name}.console.boot{boot}.vmalloc{i}.log"
        booted = kunit_tool.execute(this, log_path, "kgen_no_kunit_suite")
        found = parse_test_vmalloc(booted.output, label)
        if not found:
            raise EnvironmentProblem(f"lib/test_vmalloc printed no Summary; see {log_path}")
        rows.update(found)
    return rows


def _fmt(row: Row) -> str:
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
        per_boot = ", ".join(f"{v:.2f}" if row.is_ratio else f"{v / 1000:.1f}"
                             for v in row.values)
        unit = "" if row.is_ratio else " µs"
        out.append(f"| {row.name} | {_fmt(row)} | "
                   + (f"{row.stdev:.2f}" if row.is_ratio else f"{row.stdev / 1000:.2f} µs")
                   + f" | {row.cv * 100:.1f}% | {per_boot}{unit} |")
    return "\n".join(out) + "\n"


def compare_markdown(base: BenchResult, new: BenchResult,
                     comparisons: list[Comparison]) -> str:
    out = [f"### kgen bench --compare ({base.arch})", "",
           f"base: {base.tree} ({base.properties['kernel.version']}); "
           f"new: {new.tree} ({new.properties['kernel.version']}); "
           f"Welch's t-test, α = {ALPHA}; (R) significant regression, "
           "(I) significant improvement", "",
           "| row | base | new | change | p |", "|---|---|---|---|---|"]
    for c in comparisons:
        out.append(f"| {c.name} | {_fmt(c.base)} | {_fmt(c.new)} | "
                   f"{c.change * 100:+.2f}% {c.mark} | {c.p_value:.3g} |")
    return "\n".join(out) + "\n"


def as_json(result: BenchResult, comparisons: list[Comparison] | None = None) -> str:
    data = {"properties": result.properties,
            "rows": [{"name": r.name, "values": r.values, "mean": r.mean,
                      "stdev": r.stdev, "cv": r.cv,
                      "unit": "ratio" if r.is_ratio else "ns/iteration"}
                     for r in result.rows]}
    if comparisons is not None:
        data["compare"] = [{"name": c.name, "change": c.change, "p_value": c.p_value,
                            "mark": c.mark, "base_mean": c.base.mean,
                            "new_mean": c.new.mean} for c in comparisons]
    return json.dumps(data, indent=1)


def junit_properties(result: BenchResult,
                     comparisons: list[Comparison] | None = None) -> dict[str, str]:
    props = dict(result.properties)
    for row in result.rows:
        props[f"bench.{row.name}.mean"] = f"{row.mean:.3f}"
        props[f"bench.{row.name}.cv"] = f"{row.cv:.4f}"
    for c in comparisons or []:
        props[f"compare.{c.name}.change"] = f"{c.change:+.4f}{(' ' + c.mark) if c.mark else ''}"
        props[f"compare.{c.name}.p"] = f"{c.p_value:.4g}"
    return props
