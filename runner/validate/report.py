"""Render a validate outcome: verdict per patch and a cases x steps table,
as Markdown fit to paste into a reply to the series, and as JSON."""
from __future__ import annotations

import json

from kgen.runner.validate.classify import BAD, KNOWN_FAIL, KNOWN_PASS
from kgen.runner.validate.pipeline import StepState, ValidateOutcome

_CELL = {"pass": "✓", "fail": "✗ fail", "error": "✗ error", "skip": "skip",
         "absent": "–", "not-run": "not run", "unstable": "~ unstable",
         "known-fail": "✗ known issue", "known-pass": "✓ known issue passes"}


def verdicts(outcome: ValidateOutcome) -> list[str]:
    lines = []
    cls = outcome.classification
    for i, step in enumerate(outcome.steps):
        label = f"{step.name} {step.subject}".strip()
        if step.state is StepState.APPLIED:
            lines.append(f"{label}: applied (not run: --tip-only)")
        elif step.state is not StepState.OK:
            first = step.detail.strip().splitlines()[:3]
            lines.append(f"{label}: {step.state.upper()}" +
                         (f" — {' | '.join(first)}" if first else ""))
        elif i == 0:
            failing = sum(1 for row in cls.table.values() if row[0] in BAD)
            known = sum(1 for row in cls.table.values() if row[0] == KNOWN_FAIL)
            lines.append(f"{label}: ran, {failing} case(s) already failing"
                         + (f" ({known} of them known issues)" if known else ""))
        else:
            regs = cls.regressions(i)
            fixed = [c for c in cls.changes[i] if c.kind == "fixed"]
            if regs:
                names = ", ".join(c.case for c in regs[:3]) + (" ..." if len(regs) > 3 else "")
                lines.append(f"{label}: REGRESSION in {len(regs)} case(s): {names}")
            else:
                lines.append(f"{label}: OK (no regression" +
                             (f", {len(fixed)} fixed)" if fixed else ")"))
    return lines


def markdown(outcome: ValidateOutcome, messages: dict[str, str] | None = None) -> str:
    cls = outcome.classification
    out = ["### kgen validate", ""]
    out += [f"- {line}" for line in verdicts(outcome)]
    interesting = [n for n, row in cls.table.items()
                   if len(set(row)) > 1 or any(c in BAD or c == KNOWN_PASS for c in row)]
    out += ["", f"{len(cls.table)} case(s) per step; {len(interesting)} changed or failing"
            + (f"; persistent failures: {len(cls.persistent)}" if cls.persistent else "")
            + (f"; unstable: {len(cls.unstable)}" if cls.unstable else ""), ""]
    if interesting:
        out.append("| case | " + " | ".join(s for s in cls.steps) + " |")
        out.append("|---|" + "---|" * len(cls.steps))
        for name in interesting:
            cells = [_CELL.get(c, c) for c in cls.table[name]]
            out.append(f"| `{name}` | " + " | ".join(cells) + " |")
    if messages:
        out += ["", "First failure messages:", ""]
        out += [f"- `{name}`: {msg}" for name, msg in list(messages.items())[:10]]
    return "\n".join(out) + "\n"


def first_messages(outcome: ValidateOutcome) -> dict[str, str]:
    """Case -> first failure message of a regressed case, at its step."""
    out: dict[str, str] = {}
    for i, step in enumerate(outcome.steps):
        regressed = {c.case for c in outcome.classification.regressions(i)} if i else set()
        for result in step.results[:1]:
            for suite in result.suites:
                for case in suite.cases:
                    key = f"{suite.name}.{case.name}"
                    if key in regressed and key not in out:
                        out[key] = case.message[:200]
    return out


def as_json(outcome: ValidateOutcome) -> str:
    cls = outcome.classification
    return json.dumps({
        "steps": [{"name": s.name, "subject": s.subject, "state": s.state,
                   "detail": s.detail, "junit": [str(p) for p in s.junit]}
                  for s in outcome.steps],
        "table": cls.table,
        "changes": [[vars(c) for c in step] for step in cls.changes],
        "persistent": cls.persistent,
        "unstable": sorted(cls.unstable),
        "verdicts": verdicts(outcome),
    }, indent=1, ensure_ascii=False)
