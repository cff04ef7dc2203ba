"""Parse every captured console log in tests/fixtures/ktap/ and compare.

Fixtures are real kunit.py ``--raw_output=all`` captures from our own runs.
Each ``<name>.log`` needs a sidecar ``<name>.expected.json``: an object
mapping every result the parser must produce to its expectation::

    {
      "kgen_free.free_simple": "passed",
      "kgen_free.free_orders/order=9,hold=first": {
          "status": "failed",
          "kind": "expectation",
          "message": ["EXPECTATION FAILED at", "free.c:42"]
      },
      "kgen.boot": {"status": "error", "kind": "splat:WARNING"},
      "_known_cases": {"kgen_free": ["free_simple", "free_orders"]}
    }

Keys are "<suite>.<case>" (CaseResult names, so "<case>/<param>" for
parameters) and "kgen.<name>" for RunResult.errors.  The key set must
match exactly.  A value is a status ("passed", "failed", "skipped",
"error") or an object with "status" and optionally "kind" (exact) and
"message" (substring or list of substrings).  Keys starting with "_" are
parser options: "_known_cases" is passed as ``known_cases``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, RunResult

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ktap"
# Subdirectories group captures of one study (scope/: the boundary
# finding's scope table, one log per table cell).
LOGS = sorted(FIXTURES.rglob("*.log"))

if not LOGS:
    pytest.skip(f"no captured KTAP fixtures in {FIXTURES} yet (*.log with "
                "a *.expected.json sidecar)", allow_module_level=True)


def results_by_key(result: RunResult) -> dict[str, CaseResult]:
    found = {f"{s.name}.{c.name}": c for s in result.suites for c in s.cases}
    found.update({f"kgen.{e.name}": e for e in result.errors})
    return found


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(FIXTURES).with_suffix(""))
                                           for p in LOGS])
def test_fixture(log: Path):
    sidecar = log.with_name(log.stem + ".expected.json")
    assert sidecar.exists(), f"{log.name} has no {sidecar.name}"
    expected = json.loads(sidecar.read_text())
    console = log.read_text(encoding="utf-8", errors="replace").splitlines()
    result = parse_console(console, known_cases=expected.get("_known_cases"))

    found = results_by_key(result)
    wanted = {k: v for k, v in expected.items() if not k.startswith("_")}
    assert sorted(found) == sorted(wanted)
    for key, want in wanted.items():
        want = {"status": want} if isinstance(want, str) else want
        case = found[key]
        assert case.status.value == want["status"], f"{key}: {case.message}"
        if "kind" in want:
            assert case.kind == want["kind"], key
        substrings = want.get("message", [])
        for part in [substrings] if isinstance(substrings, str) else substrings:
            assert part in case.message, f"{key}: {case.message!r}"
