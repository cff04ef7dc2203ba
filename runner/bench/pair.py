"""`kgen bench --compare T T` with patches on a side: one tree's two
kernels, built in its one bench build dir, booted alternately.

Booting the base N times and then the new kernel N times puts whatever
the host did between the two halves into every row, and Welch's test,
which sees only the spread within a side, marks it: on this 2-core
machine rows of code neither kernel changed came out 10-14 % apart, and
the same command an hour earlier gave -2 % (docs/bench.md).  Here each
side is built in turn and its bootable image set aside; the boots then
go base, new, base, new ..., so drift lands on both sides alike.

The sides share one .config (bench.config); only their patched files
differ, so swapping the image is all a boot of the other side needs.
kunit.py exec boots whatever image the build dir holds.  Afterwards the
image of the last build is put back, and a patched last side is unpatched
as run_bench does, so the next build sees a consistent build dir.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from kgen.errors import EnvironmentProblem
from kgen.runner.bench.pipeline import (
    BenchRequest,
    BenchResult,
    bench_result,
    bench_round,
    build_bench,
    plan_bench,
)
from kgen.runner.harness.session import Session
from kgen.target.target import Target

SIDES = ("base", "new")


def kernel_image(session: Session) -> Path:
    """The file kunit.py exec boots: UML's `linux`, else the QEMU image."""
    return session.build_dir / (session.target.arch.kernel_image or "linux")


def run_bench_pair(target: Target, base: BenchRequest,
                   new: BenchRequest) -> tuple[BenchResult, BenchResult]:
    """Build both sides of target, then boot them alternately, base first."""
    plan = plan_bench(target, new)
    reqs = dict(zip(SIDES, (base, new), strict=True))
    boots: dict[str, list[dict[str, float]]] = {s: [] for s in SIDES}
    logs: dict[str, list[Path]] = {s: [] for s in SIDES}
    props: dict[str, dict[str, str]] = {}
    with Session(target, plan.config) as session:
        image = kernel_image(session)
        kept = {s: session.path(f"{s}.image") for s in SIDES}
        side = SIDES[0]
        try:
            for side in SIDES:
                build_bench(session, reqs[side], plan.kunitconfig)
                shutil.copy2(image, kept[side])
                props[side] = session.properties() | {"boots.order": "alternating"}
            for n in range(1, new.boots + 1):
                for side in SIDES:
                    shutil.copy2(kept[side], image)
                    rows, log_path = bench_round(session, n, reqs[side], plan.vmalloc,
                                                 prefix=f"{side}.")
                    boots[side].append(rows)
                    logs[side].append(log_path)
        except EnvironmentProblem as err:
            # Say which kernel broke: a series may break the benchmark itself.
            raise EnvironmentProblem(f"{side} ({reqs[side].label or target.tree}): "
                                     f"{err}") from None
        finally:
            # The last build's image, matching the objects in the build dir.
            if kept[SIDES[-1]].is_file():
                shutil.copy2(kept[SIDES[-1]], image)
            for path in kept.values():
                path.unlink(missing_ok=True)
            if new.patched:
                session.unpatch()
    results = [bench_result(target, reqs[s], plan, boots[s], logs[s], props[s]) for s in SIDES]
    return results[0], results[1]
