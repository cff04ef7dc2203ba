"""Locate and describe the kernel tree a kgen command works on."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import UsageError

KUNIT_PY = Path("tools/testing/kunit/kunit.py")


def is_kernel_tree(path: Path) -> bool:
    return (path / KUNIT_PY).is_file() and (path / "Makefile").is_file()


def check_tree(path: Path) -> Path:
    """The tree at path, or a UsageError that says why it is not one."""
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    if not is_kernel_tree(path):
        raise UsageError(f"{path} is not a kernel tree: no {KUNIT_PY} (kgen drives "
                         "the tree's own kunit.py, so the tree must have KUnit)")
    return path.resolve()


def enclosing_tree(start: Path) -> Path | None:
    """The kernel tree containing start (kgen run inside a tree), if any."""
    for candidate in (start, *start.parents):
        if is_kernel_tree(candidate):
            return candidate.resolve()
    return None


def kernel_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL[EXTRAVERSION] from the top Makefile."""
    head = (tree / "Makefile").read_text(errors="replace")[:2000]
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION) = ?(.*)$",
                             head, re.MULTILINE))
    version = ".".join(fields.get(k, "?").strip() for k in
                       ("VERSION", "PATCHLEVEL", "SUBLEVEL"))
    return version + fields.get("EXTRAVERSION", "").strip()


@dataclass(frozen=True)
class GitHead:
    """The commit a tree (or a revision of it) is at, for reports."""

    commit: str               # full hash
    describe: str = ""        # `git describe --tags --always`
    branch: str = ""          # the checked-out branch, "" if detached or not HEAD
    url: str = ""             # the "origin" remote, when it is an https:// URL
    dirty: bool = False       # tracked files differ from the commit


def git_head(tree: Path, rev: str = "HEAD") -> GitHead | None:
    """rev of the git work tree whose top is tree, or None if tree is not one.

    Only reads: status runs with --no-optional-locks, so even the index's
    cached file stats are left as they were.
    """
    if shutil.which("git") is None:
        return None

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "--no-optional-locks", "-C", str(tree), *args],
                              capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    top = git("rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != tree.resolve():
        return None
    commit = git("rev-parse", "--verify", "-q", f"{rev}^{{commit}}")
    if not commit:
        return None
    url = git("remote", "get-url", "origin")
    at_head = commit == git("rev-parse", "-q", "--verify", "HEAD^{commit}")
    return GitHead(
        commit=commit,
        describe=git("describe", "--tags", "--always", commit),
        branch=git("symbolic-ref", "--short", "-q", "HEAD") if at_head else "",
        url=url if url.startswith("https://") else "",
        dirty=at_head and bool(git("status", "--porcelain", "--untracked-files=no")))
