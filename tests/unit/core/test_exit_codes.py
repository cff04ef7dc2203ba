"""The exit codes: one table in kgen/errors.py, the same codes in the README,
and every error that ends a command carries one of them."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from kgen.errors import EXIT_CODES, KgenError

REPO = Path(__file__).resolve().parents[3]
# The modules that define errors ending a command, besides kgen.errors.
ERROR_MODULES = ("kgen.spec.loader", "kgen.runner.harness.lcov_tool")


def readme_exit_codes(text: str) -> dict[int, str]:
    """Code -> meaning from the table under README's "## Exit codes"."""
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$", section, re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def test_the_readme_lists_exactly_the_codes_of_the_table():
    listed = readme_exit_codes((REPO / "README.md").read_text())
    assert sorted(listed) == sorted(EXIT_CODES), (
        f"README.md's exit codes {sorted(listed)} are not kgen/errors.py's "
        f"EXIT_CODES {sorted(EXIT_CODES)}")
    assert all(listed.values()), "an exit code without a meaning in README.md"


def test_the_table_is_the_one_the_issue_asked_for():
    assert sorted(EXIT_CODES) == [0, 1, 2, 3, 130]
    assert all(meaning and "\n" not in meaning for meaning in EXIT_CODES.values())


def test_the_parser_reads_a_table():
    text = ("# x\n\n## Exit codes\n\n| code | meaning |\n|---|---|\n| 0 | pass |\n"
            "| 7 | odd: a | b |\n\n## Next\n\n| 9 | not here |\n")
    assert readme_exit_codes(text) == {0: "pass", 7: "odd: a | b"}


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_every_error_that_ends_a_command_has_a_code_of_the_table():
    for name in ERROR_MODULES:
        importlib.import_module(name)
    errors = _subclasses(KgenError) | {KgenError}
    assert {"SpecError", "LcovFailed", "UsageError", "EnvironmentProblem"} <= \
        {e.__name__ for e in errors}
    wrong = {e.__name__: e.exit_code for e in errors if e.exit_code not in EXIT_CODES}
    assert not wrong


def test_the_cli_returns_named_codes_only():
    """No bare number as a command's exit code: each is a name of the table."""
    tree = ast.parse((REPO / "kgen/cli.py").read_text())
    bare = [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, int)]
    assert not bare, f"kgen/cli.py returns bare exit codes on lines {bare}"
