"""`kgen bench`: the benchmark lane, apart from the tests.

Builds a kernel for benchmarking (kernel/kunit/configs/bench.config: the
kgen_bench suite, no DEBUG_VM) in its own build dir, boots it N times and
reports ns per iteration per row, with mean, stddev and coefficient of
variation.  With two trees it compares them row by row (Welch's t-test).
Iteration counts scale with the arch (kgen.arch): a QEMU guest without
KVM runs the high-order loop far slower than UML.  The reports are in
report.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kgen import protocol as P
from kgen.errors import EnvironmentProblem
from kgen.generator.render import render_all
from kgen.kernel import kunit_dir
from kgen.runner.bench.stats import (
    CMA_CYCLE_RATIO_ROW,
    CMA_CYCLE_ROW,
    CMA_FREE_RATIO_ROW,
    Row,
    collect,
    mark_too_noisy,
    parse_boot,
    parse_test_vmalloc,
)
from kgen.runner.harness import kunit_tool
from kgen.runner.harness.patches import Patched
from kgen.runner.harness.session import BootLimits, Session, SessionConfig, first_error_line
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import Status
from kgen.spec.model import Need, NeedKind
from kgen.target.capabilities import builtin_blocker
from kgen.target.target import Target

# Iterations and lib/test_vmalloc loop counts per arch: kgen.arch.Arch.
# On UML vmalloc maps pages with host mmap/munmap calls, so its
# test_vmalloc rows time the host: Arch.bench_too_noisy has them reported
# as too noisy to compare there.
# (label, kernel args) of the boots that run lib/test_vmalloc: the series'
# fix_size_alloc_test p:1/512 h:0/1 rows, then the other tests in one boot.
_FIX_SIZE = 1 << 0
_OTHERS = sum(1 << b for b in (1, 2, 3, 4, 7, 8, 9, 10))  # full_fit ... vm_map_ram
VMALLOC_BOOTS = [
    (f"p:{p} h:{h}", [f"test_vmalloc.run_test_mask={_FIX_SIZE}",
                      f"test_vmalloc.nr_pages={p}", f"test_vmalloc.use_huge={h}"])
    for h in (0, 1) for p in (1, 512)
] + [("", [f"test_vmalloc.run_test_mask={_OTHERS}"])]


# Group of the rows lib/test_vmalloc gives ("test_vmalloc.<test> ...").
VMALLOC_GROUP = "test_vmalloc"
_VMALLOC_CONFIG = "CONFIG_TEST_VMALLOC=y"


def unavailable_rows(target: Target) -> dict[str, str]:
    """Rows (or row groups) this tree cannot measure -> why: the reports
    show them as n/a with the reason, never as failures."""
    caps = target.capabilities
    out: dict[str, str] = {}
    frozen = [r for r in (caps.unmet(Need(NeedKind.API, api)) for api in
                          ("alloc_contig_frozen_pages", "free_contig_frozen_range")) if r]
    for row in (P.KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC, P.KGEN_PROTO_BENCH_ROW_FROZEN_FREE,
                P.KGEN_PROTO_BENCH_ROW_FROZEN_LOOP, CMA_FREE_RATIO_ROW, CMA_CYCLE_RATIO_ROW,
                CMA_CYCLE_ROW):
        if frozen:
            out[row] = "; ".join(frozen)
    bulk = caps.unmet(Need(NeedKind.API, "free_pages_bulk"))
    if bulk:
        out[P.KGEN_PROTO_BENCH_ROW_FREE_PAGES_BULK] = bulk
    blocker = builtin_blocker(target.tree, "TEST_VMALLOC", "lib/Kconfig.debug")
    if blocker:
        out[VMALLOC_GROUP] = f"lib/test_vmalloc cannot be built in: {blocker}"
    return out


def bench_config(unavailable: dict[str, str], tree_kconfig: list[str] | None = None) -> str:
    """bench.config, without lib/test_vmalloc where the tree cannot build it
    in (kunit.py fails a build whose .config lacks an option it asked for),
    plus the lines that fix the tree's kunit.py defaults (Capabilities)."""
    text = kunit_dir().joinpath("configs", "bench.config").read_text()
    if VMALLOC_GROUP in unavailable:
        text = text.replace(_VMALLOC_CONFIG + "\n",
                            f"# left out here: {unavailable[VMALLOC_GROUP]}\n")
    if tree_kconfig:
        text += "# kgen: this tree's kunit.py defaults, fixed\n" + "\n".join(tree_kconfig) + "\n"
    return text


@dataclass
class BenchRequest:
    """What one `kgen bench` of a Target asks for."""

    boots: int = 5
    iterations: int | None = None
    contig_iterations: int | None = None
    vmalloc: bool = True          # also run lib/test_vmalloc rows
    # For all boots together; bench allows an hour by default.
    limits: BootLimits = field(default_factory=lambda: BootLimits(timeout=3600))
    log: Callable[[str], None] = print
    # kgen validate --bench: the tree as patched (overlay copies, never
    # the tree itself), and what reports call it ("tip: 1/1 mm: ...").
    patched: Patched = field(default_factory=dict)
    label: str = ""


@dataclass
class BenchResult:
    tree: Path
    arch: str
    rows: list[Row]
    properties: dict[str, str] = field(default_factory=dict)
    console_logs: list[Path] = field(default_factory=list)
    label: str = ""

    @property
    def name(self) -> str:
        """How reports name what was measured: the label, else the tree."""
        return self.label or str(self.tree)


@dataclass
class BenchPlan:
    """What every boot of one Target's benchmark kernel shares."""

    config: SessionConfig
    kunitconfig: str
    unavailable: dict[str, str]
    vmalloc: bool         # lib/test_vmalloc boots too
    high: int             # high-order iterations per boot
    contig: int           # 16384-page iterations per boot


def plan_bench(target: Target, req: BenchRequest) -> BenchPlan:
    """Check the tools, scale the iterations, name the rows the tree lacks."""
    missing = kunit_tool.missing_tools(target.arch)
    if missing:
        raise EnvironmentProblem(f"missing tools for --arch {target.arch.name}: "
                                 f"{', '.join(missing)}")
    high, contig = target.arch.bench_iterations
    high = req.iterations or high
    contig = req.contig_iterations or contig
    config = SessionConfig(
        limits=req.limits, log=req.log, build_dir=target.paths.bench_build_dir,
        kernel_args=[f"{P.KGEN_PROTO_BENCH_ITERATIONS_ARG}{high}",
                     f"{P.KGEN_PROTO_BENCH_CONTIG_ARG}{contig}",
                     "test_vmalloc.run_test_mask=0"])
    unavailable = unavailable_rows(target)
    for name, why in sorted(unavailable.items()):
        req.log(f"kgen bench: {name}: n/a: {why}")
    return BenchPlan(config, bench_config(unavailable, target.capabilities.tree_kconfig),
                     unavailable, req.vmalloc and VMALLOC_GROUP not in unavailable,
                     high, contig)


def run_bench(target: Target, req: BenchRequest) -> BenchResult:
    """Build the benchmark kernel, boot it req.boots times, collect rows."""
    plan = plan_bench(target, req)
    with Session(target, plan.config) as session:
        try:
            build_bench(session, req, plan.kunitconfig)
            props = session.properties()
            boots, logs = [], []
            for n in range(1, req.boots + 1):
                rows, log_path = bench_round(session, n, req, plan.vmalloc)
                boots.append(rows)
                logs.append(log_path)
        finally:
            if req.patched:
                # Leave the overlay and the bench build dir for the plain tree.
                session.unpatch()
    return bench_result(target, req, plan, boots, logs, props)


def bench_round(session: Session, n: int, req: BenchRequest, vmalloc: bool,
                prefix: str = "") -> tuple[dict[str, float], Path]:
    """Boot n of the kernel in place: the KUnit rows, then lib/test_vmalloc's."""
    rows, log_path = _bench_boot(session, n, req, prefix)
    if vmalloc:
        rows.update(_test_vmalloc_rows(session, n, req, prefix))
    return rows, log_path


def bench_result(target: Target, req: BenchRequest, plan: BenchPlan,
                 boots: list[dict[str, float]], logs: list[Path],
                 props: dict[str, str]) -> BenchResult:
    """The rows over all boots, with the properties reports print."""
    unavailable = dict(plan.unavailable)
    props = props | {"boots": str(req.boots), "iterations.high_order": str(plan.high),
                     "iterations.contig16384": str(plan.contig),
                     "test_vmalloc.loops": (str(target.arch.vmalloc_loops) if plan.vmalloc
                                            else "n/a" if req.vmalloc else "off"),
                     "config": "kernel/kunit/configs/bench.config (no DEBUG_VM)"}
    if not req.vmalloc:
        unavailable.pop(VMALLOC_GROUP, None)
    rows = collect(boots, unavailable)
    mark_too_noisy(rows, target.arch.bench_too_noisy)
    return BenchResult(target.tree, target.arch.name, rows, props, logs, label=req.label)


def build_bench(session: Session, req: BenchRequest, kunitconfig: str) -> None:
    # The overlay carries the suites too; the bench config leaves them out.
    session.prepare(render_all([], {}, session.target.capabilities.have()),
                    kunitconfig, req.patched)
    req.log(f"kgen bench: building the {session.target.arch.name} benchmark kernel in "
            f"{session.build_dir}")
    built = session.build()
    if not built.ok:
        raise EnvironmentProblem("benchmark kernel build failed: "
                                 + first_error_line(built.output))


def _bench_boot(session: Session, n: int, req: BenchRequest,
                prefix: str = "") -> tuple[dict[str, float], Path]:
    booted, log_path = session.boot(f"console.{prefix}boot{n}.log", P.KGEN_PROTO_BENCH_SUITE)
    rows = parse_boot(booted.output)
    if booted.stopped:
        raise EnvironmentProblem(f"boot {n}: {booted.stopped.describe()}; see {log_path}")
    if not rows:
        raise EnvironmentProblem(f"boot {n} produced no benchmark lines"
                                 f"{_why(booted.output)}; see {log_path}")
    req.log(f"kgen bench: {prefix}boot {n}/{req.boots}: " + ", ".join(
        f"{k}={v:.1f}" for k, v in sorted(rows.items()) if "speedup" in k))
    return rows, log_path


def _why(console: list[str]) -> str:
    """The benchmark cases' own failure messages, if they failed."""
    failed = [f"{c.name}: {c.message}" for s in parse_console(console).suites
              for c in s.cases if c.status is not Status.PASSED]
    return (": " + "; ".join(failed)) if failed else ""


def _test_vmalloc_rows(session: Session, boot: int, req: BenchRequest,
                      prefix: str = "") -> dict[str, float]:
    """One round of lib/test_vmalloc boots (no KUnit suite runs in them)."""
    rows: dict[str, float] = {}
    loops = session.target.arch.vmalloc_loops
    for i, (label, args) in enumerate(VMALLOC_BOOTS):
        booted, log_path = session.boot(
            f"console.{prefix}boot{boot}.vmalloc{i}.log", "kgen_no_kunit_suite",
            kernel_args=[*args, f"test_vmalloc.test_loop_count={loops}"],
            replace_kernel_args=lambda base: [a for a in base
                                              if not a.startswith("test_vmalloc.")])
        found = parse_test_vmalloc(booted.output, label)
        if booted.stopped:
            raise EnvironmentProblem(f"lib/test_vmalloc boot: {booted.stopped.describe()}; "
                                     f"see {log_path}")
        if not found:
            raise EnvironmentProblem(f"lib/test_vmalloc printed no Summary; see {log_path}")
        rows.update(found)
    return rows
