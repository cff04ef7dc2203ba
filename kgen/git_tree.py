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


def head_commit(tree: Path) -> str | None:
    """The commit id checked out in tree, with "-dirty" when tracked files
    differ from it; None when tree is not the top of a git work tree or has
    no commit yet."""
    if not is_git_top(tree):
        return None
    head = git(tree, "rev-parse", "--verify", "--quiet", "HEAD")
    if head.returncode or not head.stdout.strip():
        return None
    changed = git(tree, "status", "--porcelain", "--untracked-files=no")
    dirty = changed.returncode == 0 and bool(changed.stdout.strip())
    return head.stdout.strip() + ("-dirty" if dirty else "")
