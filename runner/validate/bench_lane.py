"""`kgen validate --bench`: benchmark the series' base against its tip.

Both ends build in the bench build dir of the user's tree, through the
same overlay as the steps (the tip's patched files as copies; the tree is
never written), and boot alternately (runner/bench/pair.py), so drift of
the host between the two ends cannot mark a row; the overlay is put back
for the plain tree afterwards.
"""
from __future__ import annotations

from pathlib import Path

from kgen.errors import KgenError
from kgen.runner.bench.pair import run_bench_pair
from kgen.runner.bench.pipeline import BenchRequest
from kgen.runner.bench.report import as_json, compare_markdown
from kgen.runner.bench.stats import compare
from kgen.runner.harness.session import BootLimits
from kgen.runner.validate.pipeline import ValidateOutcome, ValidateRequest
from kgen.target.target import Target


def bench_base_and_tip(target: Target, req: ValidateRequest, outcome: ValidateOutcome,
                       boots: int) -> str:
    """Markdown for the report: the comparison, or why there is none.

    Writes bench.json into req.out_dir when both ends ran.
    """
    base, tip = outcome.steps[0], outcome.steps[-1]
    if not tip.state.usable:
        return "kgen bench: not run (the series did not apply or build to its tip)\n"
    at_base = f" at {outcome.git_base[:12]}" if outcome.git_base else ""
    labels = {"base": f"{target.tree}{at_base}",
              "tip": f"{target.tree}{at_base} + patches 1-{len(outcome.patches)}"}
    # validate's --timeout, without its --stall-timeout, as before.
    ends = [BenchRequest(boots=boots, limits=BootLimits(req.limits.timeout), log=req.log,
                         patched=step.files, label=labels[label])
            for label, step in (("base", base), ("tip", tip))]
    try:
        results = run_bench_pair(target, *ends)
    except KgenError as err:
        # The series may break the benchmark itself; the validate report
        # still stands, and says so.
        return f"kgen bench: could not run: {err}\n"
    comparisons = compare(results[0].rows, results[1].rows)
    Path(req.out_dir / "bench.json").write_text(as_json(results[1], comparisons))
    return compare_markdown(results[0], results[1], comparisons)
