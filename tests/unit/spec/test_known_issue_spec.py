"""Spec `known_issue:` and its kernel version constraints."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kgen.kernel_range import BadConstraint, parse_range, parse_version
from kgen.spec.loader import SpecError, load_spec

BOUNDARY = """\
kgen: 1
suite: kgen_k
cases:
  - name: contig
    span: {alloc: boundary, boundary: zone}
    free: __free_contig_range
    sweep:
      pages_each_side: [1, 8, 512]
    known_issue:
      reason: straddling
        chunk
      link: https://example.invalid/1
      kernels: ">=7.2"
      when: {pages_each_side: [512]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "k.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, text))
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize("text, version, expected", [
    (">=7.2", "7.3.4", True), (">=7.2", "7.2.0", True), (">=7.2", "6.12.117", False),
    (">=7.2", "7.3.0-rc7", True), ("<7.3", "7.3.4", False), ("<7.3", "7.2.13", True),
    (">=7.2, <7.4", "7.3.4", True), (">=7.2,<7.4", "7.4.1", False),
    ("7.3", "7.3.4", True), ("==7.3", "7.2.13", False), ("7.3.4", "7.3.4", True),
    ("7.3.4", "7.3.5", False), ("!=7.3", "7.3.1", False), (">7.3", "7.3.9", False),
    (">7.3.1", "7.3.4", True), ("<=6.12", "6.12.117", True),
    (">=7.2", "not a version", False),
])
def test_constraints(text, version, expected):
    assert parse_range(text).matches(version) is expected


@pytest.mark.parametrize("text", ["", "=>7.2", "7", ">= 7.x", "7.2.1.1", ">=7.2,", "latest"])
def test_bad_constraints_say_how_to_write_one(text):
    with pytest.raises(BadConstraint, match="OP VERSION"):
        parse_range(text)


def test_version_numbers():
    assert parse_version("7.3.0-rc7") == (7, 3, 0)
    assert parse_version("6.12") == (6, 12, 0)
    assert parse_version("?.?.?") is None


def test_known_issue_on_parameter_values(tmp_path):
    (case,) = load_spec(write(tmp_path, BOUNDARY)).cases
    issues = [v.known_issue for v in case.variants]
    assert issues[:2] == [None, None]
    assert issues[2].reason == "straddling chunk"
    assert issues[2].link == "https://example.invalid/1"
    assert str(issues[2].kernels) == ">=7.2"
    assert issues[2].line == 10
    assert issues[2].applies_to("7.3.4") and not issues[2].applies_to("6.12.117")


def test_known_issue_on_a_whole_case_and_lists(tmp_path):
    spec = load_spec(write(tmp_path, """\
        kgen: 1
        suite: kgen_k
        cases:
          - name: whole
            span: {alloc: split_page, order: 3}
            free: __free_contig_range
            known_issue: {reason: every kernel}
          - name: listed
            span: {alloc: split_page}
            free: __free_contig_range
            sweep: {order: [1, 2, 3], hold: [[first], [last]]}
            known_issue:
              - {reason: first, when: {order: [1], hold: [[last]]}}
              - {reason: rest}
        """))
    whole, listed = spec.cases
    assert whole.variants[0].known_issue.reason == "every kernel"
    assert whole.variants[0].known_issue.applies_to("anything")
    got = {v.describe(listed.swept): v.known_issue.reason for v in listed.variants}
    assert got["order=1,hold=last"] == "first"
    assert got["order=1,hold=first"] == "rest"
    assert set(got.values()) == {"first", "rest"}


@pytest.mark.parametrize("text, expected", [
    (BOUNDARY.replace('">=7.2"', '"=>7.2"'),
     "k.yaml:13:16: known_issue.kernels: '=>7.2' is not a kernel version constraint"),
    (BOUNDARY.replace("[512]}", "[513]}"),
     "k.yaml:14:32: known_issue.when: pages_each_side 513 is not one of the swept values"),
    (BOUNDARY.replace("{pages_each_side: [512]}", "{free: [vfree]}"),
     ("k.yaml:14:20: known_issue.when: the case does not sweep 'free' (it sweeps "
      "pages_each_side)")),
    (BOUNDARY.replace("      reason: straddling\n        chunk\n", ""),
     "k.yaml:10:7: cases.0.known_issue: 'reason' is a required property"),
    (BOUNDARY.replace("link: https://example.invalid/1", "link: two words"),
     "k.yaml:12:13: cases.0.known_issue.link: 'two words' does not match"),
    (BOUNDARY.replace("when:", "whne:"), "'whne' was unexpected"),
])
def test_bad_known_issues_name_the_place(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
