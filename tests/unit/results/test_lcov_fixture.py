"""The lcov parser on a tracefile captured from a real coverage run.

tests/fixtures/lcov/um-7.3-free-path.info is the coverage.info that
`kgen run --coverage` wrote for linux-source-7.3 on UML with the shipped
specs, cut down to the lines of the eight functions under test (the sidecar
JSON says how it was captured, their extents in the 7.3 sources, and the
table kgen printed for that run).
"""
from __future__ import annotations

import json
from pathlib import Path

from kgen.runner.results.lcov import function_coverage, parse_info

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lcov"


def test_real_tracefile_gives_the_table_of_that_run():
    info = parse_info((FIXTURES / "um-7.3-free-path.info").read_text())
    meta = json.loads((FIXTURES / "um-7.3-free-path.expected.json").read_text())
    for name, (rel, first, last) in meta["extents"].items():
        cov = info["/kgen-overlay/" + rel]
        row = function_coverage(cov, name, first, last)
        want = meta["rows"][name]
        assert [row.lines_hit, row.lines_total, row.branches_hit, row.branches_total] == \
            want["lines"] + want["branches"], name
        assert row.uncovered == want["uncovered"], name
        assert row.calls == want["calls"], name
