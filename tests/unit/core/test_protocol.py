"""kgen/protocol.py and kernel/kunit/kgen_protocol.h name the same strings.

The header is what the C prints and registers; protocol.py is what the
Python sends and parses.  Every #define must have a Python constant of the
same name and value, and every KGEN_PROTO_* constant a #define.  The last
tests feed lines built from the constants to the parsers kgen uses today,
so a value that no longer matches them fails here too.
"""
import re

import pytest

from kgen import protocol
from kgen.kernel import helper_files, kunit_dir
from kgen.runner.bench.stats import RATIO_ROW, parse_boot
from kgen.runner.results.ktap import parse_console
from kgen.spec.model import Guest

HEADER = "kgen_protocol.h"
_DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)(.*)$")
_LITERAL = re.compile(r'^"((?:[^"\\]|\\["\\])*)"$')


def header_defines(text: str) -> dict[str, str]:
    """#define NAME "value" lines of the header -> {NAME: value}.

    Anything else that defines a value (an expression, concatenated
    literals, a continued line) is an error: the header promises one plain
    string literal per name.
    """
    defines: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _DEFINE.match(line)
        if not match:
            continue
        name, rest = match.group(1), match.group(2).strip()
        if not rest and name.startswith("_") and name.endswith("_H"):
            continue        # the include guard
        literal = _LITERAL.match(rest)
        assert literal, f"{HEADER}:{number}: {name} is not one string literal: {rest!r}"
        assert name not in defines, f"{HEADER}:{number}: {name} defined twice"
        defines[name] = re.sub(r"\\(.)", r"\1", literal.group(1))
    return defines


def python_constants() -> dict[str, str]:
    return {name: value for name, value in vars(protocol).items()
            if name.startswith("KGEN_PROTO_")}


@pytest.fixture(scope="module")
def defines() -> dict[str, str]:
    return header_defines(kunit_dir().joinpath(HEADER).read_text())


def test_header_defines_only_kgen_proto_strings(defines):
    assert defines, f"no #define found in {HEADER}"
    assert all(name.startswith("KGEN_PROTO_") for name in defines), sorted(defines)


def test_every_define_has_the_python_constant(defines):
    python = python_constants()
    for name, value in defines.items():
        assert name in python, f"{HEADER} defines {name}; kgen/protocol.py lacks it"
        assert python[name] == value, f"{name}: C {value!r} != Python {python[name]!r}"


def test_every_python_constant_has_the_define(defines):
    for name, value in python_constants().items():
        assert isinstance(value, str), f"kgen/protocol.py: {name} is not a str"
        assert name in defines, f"kgen/protocol.py has {name}; {HEADER} lacks it"


def test_header_parser_rejects_what_it_cannot_compare():
    assert header_defines('#define KGEN_PROTO_A\t"a \\"b\\" \\\\"\n') == \
        {"KGEN_PROTO_A": 'a "b" \\'}
    with pytest.raises(AssertionError, match="not one string literal"):
        header_defines('#define KGEN_PROTO_A "a" "b"\n')
    with pytest.raises(AssertionError, match="not one string literal"):
        header_defines('#define KGEN_PROTO_A KGEN_PROTO_B "b"\n')


def test_header_is_copied_into_the_kernel_tree():
    assert HEADER in helper_files()


# -- the values are the ones the Python side uses today ----------------------

def _ktap(case_lines: list[str], result: str) -> list[str]:
    return ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: kgen_p",
            "    1..1", *case_lines, f"    {result} 1 c", "ok 1 kgen_p"]


def test_time_line_gives_the_case_time():
    (suite,) = parse_console(_ktap([f"    # c: {protocol.KGEN_PROTO_TIME_US}1500"],
                                   "ok")).suites
    assert suite.cases[0].time == pytest.approx(0.0015)


def test_expect_prefix_leads_the_failure_message():
    (suite,) = parse_console(_ktap([
        "    # c: EXPECTATION FAILED at mm/kgen/kgen_kunit.c:1",
        "    Expected bad == 0, but", "        bad == 1 (0x1)",
        f"{protocol.KGEN_PROTO_EXPECT}freed: 1 of 4 pages not in the buddy"],
        "not ok")).suites
    assert suite.cases[0].message.startswith(f"{protocol.KGEN_PROTO_EXPECT}freed: 1 of 4")


def test_log_lines_are_the_context_of_a_crash():
    lines = _ktap([f"    # c: {protocol.KGEN_PROTO_LOG}chunk [0x0, 0x8) straddles"], "ok")
    (suite,) = parse_console(lines[:-2]).suites      # the kernel died in the case
    assert "chunk [0x0, 0x8) straddles" in suite.cases[0].message


def test_guest_argument_is_the_one_kgen_passes():
    args = Guest(movablecore_mb=64).kernel_args("kgen_x")
    assert f"{protocol.KGEN_PROTO_GUEST_ARG}kgen_x" in args


def test_bench_line_and_rows_are_the_ones_kgen_bench_parses():
    def line(row: str, n: int, ns: int) -> str:
        return (f"    # kgen_bench_high_order: {protocol.KGEN_PROTO_BENCH_NAME}{row}"
                f"{protocol.KGEN_PROTO_BENCH_ITERATIONS}{n}"
                f"{protocol.KGEN_PROTO_BENCH_TOTAL_NS}{ns}")
    rows = parse_boot([line(protocol.KGEN_PROTO_BENCH_ROW_BATCHED, 10, 1000),
                       line(protocol.KGEN_PROTO_BENCH_ROW_LOOP, 10, 8000)])
    assert rows[protocol.KGEN_PROTO_BENCH_ROW_BATCHED] == 100
    assert rows[RATIO_ROW] == 8
