"""Numeric options are checked when they are parsed: a negative (or zero, or
non-numeric) value exits 2 with argparse's message, before any kernel tree
is looked at, built or booted."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from kgen import cli

# The type functions a numeric option must use; a plain int or float would
# take -5 and only fail (or not) after building.
CHECKED = {cli._positive_int, cli._positive_seconds, cli._boots}


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, path + (name,))


def _numeric_options() -> list[tuple[tuple[str, ...], str, object, bool]]:
    """(command, option, type, takes --kernel) for every numeric option."""
    out = []
    for path, parser in _commands(cli.build_parser()):
        options = {o for a in parser._actions for o in a.option_strings}
        for action in parser._actions:
            if action.type in CHECKED | {int, float}:
                out.append((path, action.option_strings[-1], action.type,
                            "--kernel" in options))
    return out


NUMERIC = _numeric_options()


def test_every_numeric_option_is_found_and_checked():
    found = {(" ".join(path), option) for path, option, _, _ in NUMERIC}
    assert {("run", "--timeout"), ("run", "--stall-timeout"), ("run", "--jobs"),
            ("plan", "--timeout"), ("plan", "--jobs"),
            ("validate", "--timeout"), ("validate", "--stall-timeout"),
            ("validate", "--repeat"), ("validate", "--bench-boots"),
            ("bench", "--timeout"), ("bench", "--stall-timeout"), ("bench", "--boots"),
            ("bench", "--iterations")} <= found
    plain = [f"kgen {' '.join(path)} {option}" for path, option, kind, _ in NUMERIC
             if kind not in CHECKED]
    assert not plain, "numeric options parsed without a check: " + ", ".join(plain)


def _never_reached(*args, **kwargs):
    raise AssertionError("parsing should have failed before any command ran")


@pytest.mark.parametrize("path, option, takes_kernel, value", [
    (path, option, takes_kernel, value) for path, option, _, takes_kernel in NUMERIC
    for value in ("-5", "0", "ten")])
def test_a_bad_value_exits_2_at_parse_time(monkeypatch, capsys, tmp_path, path, option,
                                           takes_kernel, value):
    for name in ("check_tree", "_resolve_tree", "fetch_kernel_source", "_load"):
        monkeypatch.setattr(cli, name, _never_reached)
    # A bogus tree too: were the value taken, the command would stop at it.
    kernel = ["--kernel", str(tmp_path / "no-such-tree")] if takes_kernel else []
    with pytest.raises(SystemExit) as exit_:
        cli.main([*path, *kernel, option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and value in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("option, value, expected", [
    ("--timeout", "5", 5), ("--stall-timeout", "0.5", 0.5), ("--jobs", "1", 1)])
def test_good_values_parse(option, value, expected):
    args = cli.build_parser().parse_args(["run", option, value])
    assert getattr(args, option[2:].replace("-", "_")) == expected


def test_boots_need_a_spread():
    parser = cli.build_parser()
    assert parser.parse_args(["bench", "--boots", "2"]).boots == 2
    assert parser.parse_args(["validate", "--series", "s", "--bench-boots", "2"]).bench_boots == 2
    for argv in (["bench", "--boots", "1"], ["validate", "--series", "s", "--bench-boots", "1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)


def test_stall_timeout_refuses_inf_and_nan():
    for value in ("inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli._positive_seconds(value)


def test_run_with_a_negative_timeout_does_not_build(tmp_path):
    """The issue's command, end to end: exit 2 at once, a clear message."""
    proc = subprocess.run([sys.executable, "-m", "kgen", "run", "--timeout", "-5",
                           "--kernel", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "argument --timeout: -5: must be a positive whole number" in proc.stderr
    assert "no such directory" not in proc.stderr and "Traceback" not in proc.stderr
