"""Read-only questions to git about the user's kernel tree.

kgen must leave a git work tree exactly as it found it: HEAD, branches,
index, stash and status.  Every git command here reads only.  The
environment's GIT_DIR and friends are dropped, so the command sees the tree
kgen was given rather than whatever repository the caller's environment
points at, and --no-optional-locks keeps status-like commands from
refreshing (rewriting) the tree's index.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

_REPOSITORY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                   "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR")


def git(tree: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    """`git args` in tree; text output captured; never raises on failure."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV}
    try:
        return subprocess.run(["git", "--no-optional-locks", "-C", str(tree), *args],
                              check=False, capture_output=True, text=True, env=env,
                              **kw)
    except FileNotFoundError:          # no git installed: not a git tree for us
        return subprocess.CompletedProcess(args, 127, "", "git: not installed")


def is_git_top(tree: Path) -> bool:
    """tree is the top of a git work tree (not a directory inside one)."""
    proc = git(tree, "rev-parse", "--show-toplevel")
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == tree.resolve()


@dataclass(frozen=True)
class GitHead:
    """The commit a tree (or a revision of it) is at, for reports."""

    commit: str               # full hash
    describe: str = ""        # `git describe --tags --always`
    branch: str = ""          # the checked-out branch, "" if detached or not HEAD
    url: str = ""             # the "origin" remote, when it is an https:// URL
    dirty: bool = False       # tracked files differ from the commit


def _out(tree: Path, *args: str) -> str:
    """stdout of a git command that succeeded, else ""."""
    proc = git(tree, *args)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _commit(tree: Path, rev: str) -> str:
    """rev's commit in tree, when tree is the top of a git work tree."""
    if not is_git_top(tree):
        return ""
    return _out(tree, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")


def _dirty(tree: Path) -> bool:
    """Tracked files differ from HEAD (build outputs and other untracked
    files do not count)."""
    return bool(_out(tree, "status", "--porcelain", "--untracked-files=no"))


def head_commit(tree: Path) -> str | None:
    """The commit id checked out in tree, with "-dirty" when tracked files
    differ from it; None when tree is not the top of a git work tree or has
    no commit yet."""
    commit = _commit(tree, "HEAD")
    if not commit:
        return None
    return commit + ("-dirty" if _dirty(tree) else "")


def git_head(tree: Path, rev: str = "HEAD") -> GitHead | None:
    """rev of the git work tree whose top is tree (with its describe, branch
    and origin URL, for KCIDB), or None if tree is not one or has no rev."""
    commit = _commit(tree, rev)
    if not commit:
        return None
    at_head = commit == _commit(tree, "HEAD")
    url = _out(tree, "remote", "get-url", "origin")
    return GitHead(
        commit=commit,
        describe=_out(tree, "describe", "--tags", "--always", commit),
        branch=_out(tree, "symbolic-ref", "--short", "-q", "HEAD") if at_head else "",
        url=url if url.startswith("https://") else "",
        dirty=at_head and _dirty(tree))
