"""`kgen validate --bench`: benchmark the series' base against its tip."""
from __future__ import annotations

from pathlib import Path

from kgen.cache import cache_root, tree_key
from kgen.errors import KgenError
from kgen.runner.bench.pipeline import BenchRequest, run_bench
from kgen.runner.bench.report import as_json, compare_markdown
from kgen.runner.bench.stats import compare
from kgen.runner.validate.pipeline import ValidateOutcome, ValidateRequest
from kgen.runner.validate.series import load_series
from kgen.runner.validate.worktree import WorkTree


def bench_base_and_tip(req: ValidateRequest, outcome: ValidateOutcome, boots: int) -> str:
    """Markdown for the report: the comparison, or why there is none.

    Writes bench.json into req.out_dir when both ends ran.
    """
    work = WorkTree(req.tree, cache_root() / "validate" / tree_key(req.tree))
    tip_ok = outcome.steps[-1].state.usable
    git_base, _ = load_series(req.series, req.tree, work.root)
    if not tip_ok or git_base:
        return ("kgen bench: not run (" + ("the series did not apply or build to its tip"
                if not tip_ok else "base of a git range: bench the BASE checkout instead")
                + ")\n")
    results = []
    for label, tree in (("base", req.tree), ("tip", work.path)):
        try:
            results.append(run_bench(BenchRequest(
                tree=tree, arch=req.arch, boots=boots,
                timeout=req.timeout, accel=req.accel, log=req.log)))
        except KgenError as err:
            # The series may break the benchmark itself; the validate
            # report still stands, and says so.
            return f"kgen bench: could not run at {label}: {err}\n"
    comparisons = compare(results[0].rows, results[1].rows)
    Path(req.out_dir / "bench.json").write_text(as_json(results[1], comparisons))
    return compare_markdown(results[0], results[1], comparisons)
