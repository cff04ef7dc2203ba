"""Errors that end a kgen command with a message (never a traceback)."""
from __future__ import annotations

# Exit codes, as documented in the README.
EXIT_OK = 0
EXIT_TEST_FAILURES = 1
EXIT_USAGE = 2          # bad arguments, bad specs, not a kernel tree
EXIT_BUILD = 3          # kernel fetch, config, build or boot failed
EXIT_INTERRUPTED = 130


class KgenError(Exception):
    """A problem the user can act on; printed as 'kgen: <message>'."""

    exit_code = EXIT_USAGE


class UsageError(KgenError):
    exit_code = EXIT_USAGE


class EnvironmentProblem(KgenError):
    """Missing tool, failed download, unpack error: exit like a build error."""

    exit_code = EXIT_BUILD
