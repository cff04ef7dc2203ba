"""Exit codes, and the errors that end a kgen command with a message (never
a traceback).

EXIT_CODES is the one table of exit codes: kgen/cli.py returns only these,
and README.md's "Exit codes" lists exactly these
(tests/unit/core/test_exit_codes.py checks both).  Every error that ends a
command derives from KgenError and carries its exit code; cli.main() is the
one place that prints it and turns it into the exit code.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_TEST_FAILURES = 1
EXIT_BAD_INPUT = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130

# Code -> what it means, one line each.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "pass: every test passed (or failed as its known_issue says, or was unconfirmed)",
    EXIT_TEST_FAILURES: "test failures: a failed case, a validate regression, a bench row "
                        "that regressed",
    EXIT_BAD_INPUT: "bad input: arguments, specs, not a kernel tree, a patch that does "
                    "not apply",
    EXIT_INFRA: "infrastructure: the kernel did not fetch, build or boot, or a tool is "
                "missing or failed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the kernel tree was never modified",
}


class KgenError(Exception):
    """A problem the user can act on; printed as 'kgen: <message>'."""

    exit_code = EXIT_BAD_INPUT

    def report(self) -> str:
        """What cli.main() prints on stderr before exiting with exit_code."""
        return f"kgen: {self}"


class UsageError(KgenError):
    """Bad input: arguments, specs, trees, patches (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class EnvironmentProblem(KgenError):
    """Infrastructure: a missing or failing tool, a failed download, unpack,
    build or boot (exit 3)."""

    exit_code = EXIT_INFRA
