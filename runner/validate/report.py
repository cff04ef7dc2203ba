"""Render a validate outcome: an overall verdict, a verdict per patch and a
cases x steps table, as Markdown fit to paste into a reply to the series,
and as JSON."""
from __future__ import annotations

import json
import re

from kgen.runner.validate.classify import (
    ALLOW_OPTION,
    BAD,
    FLAKY,
    KNOWN_FAIL,
    KNOWN_PASS,
    REGRESSION,
    SKIPPED,
    Allowed,
    Change,
    Classification,
)
from kgen.runner.validate.pipeline import StepState, ValidateOutcome

STRICT = Allowed()      # no --allow-* option given

_CELL = {"pass": "✓", "fail": "✗ fail", "error": "✗ error", "skip": "skip",
         "absent": "– no result", "not-run": "not run", "flaky": "~ flaky",
         "known-fail": "✗ known issue", "known-pass": "✓ known issue passes"}

# The part of a message that differs between two reports of the same
# problem: the pid in a splat's "CPU#0: kunit_try_catch/142".
_VOLATILE = re.compile(r"(kunit_try_catch/)\d+")


def _names(cases: list[str]) -> str:
    return ", ".join(cases[:3]) + (" ..." if len(cases) > 3 else "")


def _allowed_note(kind: str, allowed: Allowed) -> str:
    return f" (allowed: {ALLOW_OPTION[kind]})" if allowed.allows(kind) else ""


def _step_problems(cls: Classification, step: int, allowed: Allowed) -> list[str]:
    """One phrase per kind of problem at a step, each change grouped by what
    it was and became ("pass → skip in 12 case(s): ...")."""
    parts = []
    for kind in (k for k in ALLOW_OPTION if k != FLAKY):
        by_arrow: dict[str, list[Change]] = {}
        for change in cls.of_kind(step, kind):
            by_arrow.setdefault(change.arrow, []).append(change)
        for arrow, changes in by_arrow.items():
            label = "REGRESSION" if kind == REGRESSION else arrow
            if kind == REGRESSION and len(by_arrow) > 1:
                label += f" ({arrow})"
            parts.append(f"{label} in {len(changes)} case(s): "
                         f"{_names([c.case for c in changes])}"
                         + _allowed_note(kind, allowed))
    flaky = cls.problems(step).get(FLAKY)
    if flaky:
        parts.append(f"flaky in {len(flaky)} case(s): {_names(flaky)}"
                     + _allowed_note(FLAKY, allowed))
    return parts


def verdicts(outcome: ValidateOutcome, allowed: Allowed = STRICT) -> list[str]:
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
                         + (f" ({known} of them known issues)" if known else "")
                         + "".join(f"; {p}" for p in _step_problems(cls, 0, allowed)))
        else:
            problems = _step_problems(cls, i, allowed)
            fixed = [c for c in cls.changes[i] if c.kind == "fixed"]
            if problems:
                lines.append(f"{label}: " + "; ".join(problems))
            else:
                lines.append(f"{label}: OK (no regression, no lost coverage" +
                             (f", {len(fixed)} fixed)" if fixed else ")"))
    return lines


def overall(outcome: ValidateOutcome, allowed: Allowed = STRICT) -> str:
    """The one-line verdict on the whole series."""
    if outcome.incomplete:
        # The step that broke the series, not the base it left unrun.
        unusable = [s for s in outcome.steps if not s.state.usable]
        broken = next((s for s in unusable if s.state is not StepState.NOT_RUN), unusable[0])
        return (f"INCOMPLETE: step {broken.name} {broken.state.upper()}; "
                "the steps after it did not run")
    cls = outcome.classification
    counts: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for step in range(len(cls.steps)):
        for change in cls.changes[step]:
            if change.kind in ALLOW_OPTION:
                label = "regression" if change.kind == REGRESSION else change.arrow
                counts[label] = counts.get(label, 0) + 1
                kinds[label] = change.kind
        flaky = cls.problems(step).get(FLAKY, [])
        if flaky:
            counts["flaky"] = counts.get("flaky", 0) + len(flaky)
            kinds["flaky"] = FLAKY
    blocking = {lbl: n for lbl, n in counts.items() if not allowed.allows(kinds[lbl])}
    accepted = {lbl: n for lbl, n in counts.items() if allowed.allows(kinds[lbl])}
    accepted_text = ", ".join(f"{n} {lbl} (allowed: {ALLOW_OPTION[kinds[lbl]]})"
                              for lbl, n in accepted.items())
    if not blocking:
        return "PASSED" + (f"; {accepted_text}" if accepted else
                           ": no regression, no lost coverage")
    hints = sorted({ALLOW_OPTION[kinds[lbl]] for lbl in blocking
                    if ALLOW_OPTION[kinds[lbl]]})
    return ("FAILED: " + ", ".join(f"{n} {lbl}" for lbl, n in blocking.items())
            + (f"; {accepted_text}" if accepted else "")
            + (f" (to accept lost coverage: {' '.join(hints)})" if hints else ""))


def markdown(outcome: ValidateOutcome, messages: dict[str, str] | None = None,
             allowed: Allowed = STRICT) -> str:
    cls = outcome.classification
    out = ["### kgen validate", "", f"**Verdict: {overall(outcome, allowed)}**", ""]
    out += [f"- {line}" for line in verdicts(outcome, allowed)]
    interesting = [n for n, row in cls.table.items()
                   if len(set(row)) > 1 or any(c in BAD or c == KNOWN_PASS for c in row)]
    nr_flaky = len({n for step in cls.flaky for n in step})
    out += ["", f"{len(cls.table)} case(s) per step; {len(interesting)} changed or failing"
            + (f"; persistent failures: {len(cls.persistent)}" if cls.persistent else "")
            + (f"; flaky: {nr_flaky}" if nr_flaky else ""), ""]
    if interesting:
        out.append("| case | " + " | ".join(s for s in cls.steps) + " |")
        out.append("|---|" + "---|" * len(cls.steps))
        for name in interesting:
            cells = [_CELL.get(c, c) for c in cls.table[name]]
            out.append(f"| `{name}` | " + " | ".join(cells) + " |")
    flaky_rows = [(cls.steps[i], name, runs) for i, step in enumerate(cls.flaky)
                  for name, runs in sorted(step.items())]
    if flaky_rows:
        out += ["", "Flaky (the result of each repeated run):", ""]
        out += [f"- `{name}` at {step}: {', '.join(runs)}"
                for step, name, runs in flaky_rows[:10]]
    if messages:
        # Cases that changed for one reason (26 skips that all say which
        # API the tree lacks) share one line.
        # So do the same WARN's splats that differ only in the pid of the
        # KUnit thread; else one patch's WARNs fill every line and a later
        # patch's failures are never shown.
        by_message: dict[str, list[str]] = {}
        shown: dict[str, str] = {}
        for name, msg in messages.items():
            key = _VOLATILE.sub(r"\1…", msg)
            shown.setdefault(key, msg)
            by_message.setdefault(key, []).append(name)
        out += ["", "Messages at the step where a case changed:", ""]
        for key, names in list(by_message.items())[:10]:
            msg = shown[key]
            who = ", ".join(f"`{n}`" for n in names[:3])
            if len(names) > 3:
                who += f" and {len(names) - 3} more"
            out.append(f"- {who}: {msg}")
    return "\n".join(out) + "\n"


def first_messages(outcome: ValidateOutcome) -> dict[str, str]:
    """Case -> its failure or skip message at the step where it regressed or
    became a skip (the skip reason says what the tree lacks)."""
    out: dict[str, str] = {}
    for i, step in enumerate(outcome.steps):
        changed = {c.case for c in outcome.classification.changes[i]
                   if c.kind in (REGRESSION, SKIPPED)} if i else set()
        for result in step.results[:1]:
            for suite in result.suites:
                for case in suite.cases:
                    key = f"{suite.name}.{case.name}"
                    if key in changed and key not in out:
                        out[key] = case.message[:200]
    return out


def as_json(outcome: ValidateOutcome, allowed: Allowed = STRICT) -> str:
    cls = outcome.classification
    return json.dumps({
        "verdict": overall(outcome, allowed),
        "blocking": outcome.blocking(allowed),
        "allowed": vars(allowed),
        "steps": [{"name": s.name, "subject": s.subject, "commit": s.commit,
                   "state": s.state, "detail": s.detail, "junit": [str(p) for p in s.junit]}
                  for s in outcome.steps],
        "table": cls.table,
        "changes": [[vars(c) for c in step] for step in cls.changes],
        "persistent": cls.persistent,
        "flaky": cls.flaky,
        "verdicts": verdicts(outcome, allowed),
    }, indent=1, ensure_ascii=False)
