"""Every long option of every kgen command is documented.

Walks the parser `kgen.cli.build_parser()` builds, subcommands and their
subcommands included, and fails when a long option (`--xxx`) appears in
neither README.md nor any docs/*.md page.  docs/cli.md is where each one
is meant to be; the failure names the command and the option.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from kgen.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
# argparse's own; documented once, not per command.
EXEMPT = {"--help"}


def _commands(parser: argparse.ArgumentParser, path: str):
    """(command path, parser) for the parser and every subparser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


def _long_options() -> dict[str, set[str]]:
    """Long option -> the commands that take it."""
    out: dict[str, set[str]] = {}
    for path, parser in _commands(build_parser(), "kgen"):
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option not in EXEMPT:
                    out.setdefault(option, set()).add(path)
    return out


def _docs_text() -> str:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(page.read_text() for page in pages)


def _mentioned(option: str, text: str) -> bool:
    # Whole option only: --kcidb-origin does not document --kcidb.
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_the_walk_reaches_every_command():
    commands = {c for cmds in _long_options().values() for c in cmds}
    # Nested subcommands too: `kgen kernel list` sits two levels down.
    assert {"kgen run", "kgen validate", "kgen bench", "kgen kernel list"} <= commands


def test_every_long_option_is_in_the_readme_or_docs():
    text = _docs_text()
    missing = sorted(f"{option} ({', '.join(sorted(commands))})"
                     for option, commands in _long_options().items()
                     if not _mentioned(option, text))
    assert not missing, ("CLI options documented neither in README.md nor in docs/*.md "
                         "(add them to docs/cli.md): " + "; ".join(missing))


def test_the_check_sees_a_missing_option():
    assert not _mentioned("--kcidb", "use --kcidb-origin ORIGIN")
    assert _mentioned("--kcidb", "`--kcidb FILE`")
    assert _mentioned("--jobs", "| `--jobs` | `N` |")
