"""kgen run and kgen validate --series BASE..TIP inside a git work tree (UML).

The tree is the cached linux-source-7.3 committed to git once (issue 11),
kept under the kgen cache as test-trees/linux-source-7.3-git and reused:
it is rebuilt only when it is not exactly what this file made.  Its series
branch (the harmless comment patch, then the leak) is made with plumbing
and fixed dates, so its commit ids are the same on every machine.

Cost, measured on 2 cores shared with other builds: the first time,
committing the tree (103 s; 2.4 GB of disk with .git) and one cold UML
build of it (validate builds in the same overlay and build dir as
`kgen run`, with no copy of the tree).  After that, a warm run (14 s) and
validates that rebuild mm/page_alloc.o per step.  Needs git, rsync and
the toolchain.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO, kgen

from kgen.cache import cache_root

SPEC = REPO / "spec/suites/contig_split.yaml"
SERIES = REPO / "tests/fixtures/series"
# Fixed identity and dates: the same tree gives the same commit ids.
_GIT_ENV = {"GIT_AUTHOR_NAME": "kgen test", "GIT_AUTHOR_EMAIL": "kgen@example.invalid",
            "GIT_COMMITTER_NAME": "kgen test",
            "GIT_COMMITTER_EMAIL": "kgen@example.invalid",
            "GIT_AUTHOR_DATE": "2026-11-25T12:00:00Z",
            "GIT_COMMITTER_DATE": "2026-11-25T12:00:00Z",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            # No automatic gc: after committing the whole tree, git starts
            # `gc --auto` in the background, which repacks .git while the
            # tests compare its files before and after each kgen command
            # (all three failed that way on a cold cache).
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "gc.auto",
            "GIT_CONFIG_VALUE_0": "0"}
BRANCH = "kgen-series"

pytestmark = pytest.mark.slow


def _git(tree: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True,
                          env={**os.environ, **_GIT_ENV, **(env or {})})
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def git_state(tree: Path) -> dict[str, str]:
    """Everything kgen must leave alone, read without writing anything:
    HEAD, refs, stash, worktrees, status including ignored files, and
    every file under .git (path, size, mtime)."""
    git = ["git", "--no-optional-locks", "-C", str(tree)]

    def out(*args: str) -> str:
        return subprocess.run(git + list(args), capture_output=True, text=True).stdout
    meta = hashlib.sha256()
    for path in sorted((tree / ".git").rglob("*")):
        st = path.lstat()
        meta.update(f"{path.relative_to(tree)} {st.st_size} {st.st_mtime_ns}\n".encode())
    return {"HEAD": out("rev-parse", "HEAD"), "branch": out("symbolic-ref", "-q", "HEAD"),
            "refs": out("for-each-ref"), "stash": out("stash", "list"),
            "worktrees": out("worktree", "list", "--porcelain"),
            "status": out("status", "--porcelain", "--ignored", "--untracked-files=all"),
            ".git": meta.hexdigest()}


def _make_series(tree: Path, base: str) -> str:
    """Branch BRANCH = base + the harmless patch + the leak, made in a
    private index: the work tree, HEAD and the real index stay as they are."""
    index = {"GIT_INDEX_FILE": str(tree / ".git" / "kgen-test-index")}
    _git(tree, "read-tree", base, env=index)
    parent = base
    for name in ("0001-harmless.patch", "0003-leak.patch"):
        _git(tree, "apply", "--cached", str(SERIES / name), env=index)
        subject = next(line for line in (SERIES / name).read_text().splitlines()
                       if line.startswith("Subject:")).split("] ", 1)[1]
        parent = _git(tree, "commit-tree", _git(tree, "write-tree", env=index),
                      "-p", parent, "-m", subject)
    (tree / ".git" / "kgen-test-index").unlink()
    _git(tree, "update-ref", f"refs/heads/{BRANCH}", parent)
    return parent


def _pristine(tree: Path) -> bool:
    if not (tree / ".git").is_dir():
        return False
    state = git_state(tree)
    return (state["branch"].strip() == "refs/heads/master" and not state["status"]
            and not state["stash"] and f"refs/heads/{BRANCH}" in state["refs"])


def ensure_git_tree(kernel_tree: Path) -> Path:
    """The cached 7.3 tree as a git work tree on master, with BRANCH: reused
    when it is exactly that, else made again (it belongs to the tests)."""
    tree = cache_root() / "test-trees" / "linux-source-7.3-git"
    if _pristine(tree):
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    tree.parent.mkdir(parents=True, exist_ok=True)
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(["rsync", "-a", f"{kernel_tree}/", f"{partial}/"], check=True)
    _git(partial, "init", "-q", "-b", "master")
    # Debian's top-level .gitignore ignores everything at the top ("/*"):
    # add by force, so every file of the fetched tree is tracked.
    _git(partial, "add", "-A", "-f")
    _git(partial, "commit", "-q", "-m", "linux-source-7.3 as fetched")
    _make_series(partial, "master")
    partial.rename(tree)
    assert _pristine(tree)
    return tree


@pytest.fixture(scope="module")
def git_tree(kernel_tree) -> Path:
    if not shutil.which("git") or not shutil.which("rsync"):
        pytest.skip("needs git and rsync")
    return ensure_git_tree(kernel_tree)


def _properties(junit: Path) -> dict[str, str]:
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    return {p.get("name"): p.get("value") for p in suite.iter("property")}


def test_run_inside_a_git_tree_leaves_it_untouched(git_tree, tmp_path):
    before = git_state(git_tree)
    junit = tmp_path / "run.xml"
    proc = kgen("run", "--spec", str(SPEC), "--junit", str(junit), cwd=git_tree,
                timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert git_state(git_tree) == before
    props = _properties(junit)
    assert props["kernel.tree"] == str(git_tree)
    assert props["kernel.commit"] == _git(git_tree, "rev-parse", "master")


def _validate_leaving_the_tree_alone(git_tree: Path, series: str, out: Path) -> dict:
    """`kgen validate --series` inside the tree: the leak makes it exit 1,
    and the tree's git state is exactly as before.  Returns report.json."""
    before = git_state(git_tree)
    proc = kgen("validate", "--series", series, "--spec", str(SPEC),
                "--out", str(out), cwd=git_tree, timeout=3600)
    assert git_state(git_tree) == before
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text())


def test_validate_a_git_range_inside_the_tree(git_tree, tmp_path):
    out = tmp_path / "validate"
    report = _validate_leaving_the_tree_alone(git_tree, f"master..{BRANCH}", out)
    commits = _git(git_tree, "rev-list", "--reverse", f"master..{BRANCH}").split()
    assert [s["state"] for s in report["steps"]] == ["ok"] * 3
    assert [s["commit"] for s in report["steps"]] == \
        [_git(git_tree, "rev-parse", "master"), *commits]
    assert report["verdicts"][1].startswith(
        "1/2 mm/page_alloc: explain chunk alignment") and ": OK" in report["verdicts"][1]
    regressions = [c["case"] for c in report["changes"][2] if c["kind"] == "regression"]
    assert regressions and all(c.startswith("kgen_contig_split.") for c in regressions)
    assert report["verdict"].startswith(f"FAILED: {len(regressions)} regression")
    assert _properties(out / "step02-run1.xml")["validate.commit"] == commits[1]


@pytest.mark.extended("about 30 s warm; validating a git range in CI is the test "
                      "above, from HEAD")
def test_validate_from_a_base_that_is_not_head(git_tree, tmp_path):
    """BASE..TIP with BASE != HEAD: the base step is the checkout plus
    `git diff HEAD BASE`, applied in the overlay, never in the tree."""
    out = tmp_path / "validate"
    report = _validate_leaving_the_tree_alone(git_tree, f"{BRANCH}~1..{BRANCH}", out)
    assert [s["state"] for s in report["steps"]] == ["ok"] * 2
    # The base already has the harmless comment patch; the leak regresses.
    regressions = [c["case"] for c in report["changes"][1] if c["kind"] == "regression"]
    assert regressions and all(c.startswith("kgen_contig_split.") for c in regressions)
    assert _properties(out / "step00-run1.xml")["validate.commit"] == \
        _git(git_tree, "rev-parse", f"{BRANCH}~1")
