"""The lcov tracefile parser, function extents and the coverage table."""
from __future__ import annotations

import pytest

from kgen.runner.results.lcov import (
    InfoError,
    function_coverage,
    function_extent,
    parse_info,
    render_table,
)

SOURCE = """\
/* a comment with a brace { */
void foo(int x);

static void foo_helper(int x,
\t\tint y)
{
\tif (x) {
\t\tpr_info("}");
\t}
}

void foo(int x)
{
\tfoo_helper(x, 0);
}
"""

INFO = """\
TN:kgen
SF:/o/mm/a.c
FN:4,foo_helper
FNDA:0,foo_helper
FN:12,foo
FNDA:3,foo
DA:6,3
DA:7,3
DA:8,0
DA:14,3
BRDA:7,0,0,0
BRDA:7,0,1,3
BRDA:14,0,0,-
BRDA:14,0,1,-
end_of_record
SF:/o/mm/a.c
FNDA:2,foo
DA:8,1
BRDA:7,0,0,1
end_of_record
"""


def test_extent_skips_prototypes_comments_and_strings():
    assert function_extent(SOURCE, "foo_helper") == (4, 10)
    assert function_extent(SOURCE, "foo") == (12, 15)
    assert function_extent(SOURCE, "bar") is None


def test_records_for_one_file_add_up():
    cov = parse_info(INFO)["/o/mm/a.c"]
    assert cov.lines == {6: 3, 7: 3, 8: 1, 14: 3}
    assert cov.branches == {7: [1, 3], 14: [None, None]}
    assert cov.functions["foo"] == (12, 5)


def test_function_rows_count_only_their_lines():
    cov = parse_info(INFO)["/o/mm/a.c"]
    helper = function_coverage(cov, "foo_helper", 4, 10)
    assert (helper.lines_hit, helper.lines_total) == (3, 3)
    assert (helper.branches_hit, helper.branches_total) == (2, 2)
    assert helper.uncovered == [] and helper.untaken_branches == []
    foo = function_coverage(cov, "foo", 12, 15)
    assert (foo.branches_hit, foo.branches_total) == (0, 2)
    assert foo.untaken_branches == [14]
    assert foo.calls == 5


def test_a_function_without_fn_record_is_inlined():
    cov = parse_info(INFO.replace("FN:4,foo_helper\nFNDA:0,foo_helper\n", ""))["/o/mm/a.c"]
    row = function_coverage(cov, "foo_helper", 4, 10)
    assert row.calls is None
    assert "inlined" in render_table([row])


def test_table_lists_uncovered_lines_as_ranges():
    cov = parse_info("SF:/o/mm/b.c\nDA:3,0\nDA:4,0\nDA:5,0\nDA:7,1\nDA:9,0\nend_of_record\n")
    text = render_table([function_coverage(cov["/o/mm/b.c"], "f", 1, 10)])
    assert "3-5, 9" in text
    assert "1/5 20%" in text
    assert text.endswith("total: lines 1/5 20%, branches -")


def test_unreadable_line_says_where():
    with pytest.raises(InfoError, match="line 2"):
        parse_info("SF:/x.c\nDA:seven,1\nend_of_record\n")
