"""Which files a failed kernel build could not compile, from its log.

make names every target whose recipe failed: ``make[5]: *** [...:295:
mm/kgen/kgen_frozen_kunit.o] Error 1``.  The compiler's own diagnostics
("<path>:<line>:<col>: error: ...") say why.  A failing recipe's target is
reported with the recipe's exit code (gcc: 1); every make above it then
reports its own directory target with "Error 2", which says nothing new.

``failed_objects`` reads both, so a caller can tell "these object files did
not compile" from every other way a build fails (Kconfig, link, a killed
make), for which it returns None.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# "make[5]: *** [/overlay/scripts/Makefile.build:295: mm/kgen/x.o] Error 1"
_MAKE_FAILED = re.compile(
    r"make(?:\[\d+\])?: \*\*\* \[(?:\S*:\d+: )?(?P<target>[^\]\s]+)\] Error (?P<code>\d+)")
# Exit code of a recursive make whose child failed: only passes a failure on.
_PROPAGATED = "2"
# "/overlay/mm/kgen/x.c:69:9: error: ..." (also "fatal error:").
_ERROR = re.compile(r"(?P<path>\S+?):\d+(?::\d+)?: (?:fatal )?error: ")
# Source excerpt lines gcc prints under a diagnostic: "   69 | code", "  |  ^~~".
_EXCERPT = re.compile(r"^\s+(?:\d+\s+)?\|")
# kunit.py prefixes the first line of make's output with its logger's tag.
_LOGGER = "ERROR:root:"
# Diagnostic lines kept per file.
MAX_DIAGNOSTICS = 24


@dataclass
class CompileFailure:
    """One object file the build could not compile, and why."""

    source: str                  # build-relative source, "mm/kgen/x.c"
    first_error: str             # the compiler's first error line for it
    diagnostics: list[str] = field(default_factory=list)


def _clean(line: str, prefix: str) -> str:
    line = line.strip().removeprefix(_LOGGER)
    return line.replace(prefix, "") if prefix else line


def failed_objects(lines: list[str], source_root: str = "") -> dict[str, CompileFailure] | None:
    """Object -> failure for each object make could not build, or None.

    None: the build failed some other way (no failed object at all, or a
    failed target that is not an object file: vmlinux, a generated header,
    Kconfig).  ``source_root``: the directory the compiler's paths start
    with (the overlay); it is cut from the messages, so they read
    "mm/kgen/x.c:69:9: error: ...".
    """
    targets = []
    for line in lines:
        match = _MAKE_FAILED.search(line)
        if match and match.group("code") != _PROPAGATED and match.group("target") not in targets:
            targets.append(match.group("target"))
    if not targets or not all(t.endswith(".o") for t in targets):
        return None
    prefix = source_root.rstrip("/") + "/" if source_root else ""
    failures = {}
    for target in targets:
        source = target[:-len(".o")] + ".c"
        first = _first_error(lines, source)
        if first is None:
            return None          # make says it failed, the compiler never said why
        failures[target] = CompileFailure(
            source, _clean(first, prefix), _diagnostics(lines, source, prefix))
    return failures


def _mentions(line: str, source: str) -> bool:
    """Does the line name the source file (as a path, absolute or relative)?"""
    at = line.find(source)
    return at >= 0 and (at == 0 or line[at - 1] in "/ '‘\"") and \
        line[at + len(source):at + len(source) + 1] in (":", "", " ", "'", "’", "\"")


def _first_error(lines: list[str], source: str) -> str | None:
    """The first error in the source itself; else the first error after a
    line that names it (an error in a header the source includes, or in a
    macro it expands, is reported at the header's line)."""
    for line in lines:
        match = _ERROR.search(line)
        if match and _mentions(match.group("path") + ":", source):
            return line
    named = False
    for line in lines:
        named = named or _mentions(line, source)
        if named and _ERROR.search(line):
            return line
    return None


def _diagnostics(lines: list[str], source: str, prefix: str) -> list[str]:
    """The compiler's lines about one source: each line that names it, with
    the code excerpt that follows."""
    out: list[str] = []
    keep = False
    for line in lines:
        if _mentions(line, source):
            keep = True
        elif not _EXCERPT.match(line):
            keep = False
        if keep:
            out.append(_clean(line, prefix) if not _EXCERPT.match(line) else line.rstrip())
    return out[:MAX_DIAGNOSTICS]
