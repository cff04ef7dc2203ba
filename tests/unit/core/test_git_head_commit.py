"""kernel.commit: the checked-out commit of a git tree, read without writing."""
from __future__ import annotations

import os
import subprocess

from kgen.git_tree import git_head, head_commit


def _repo(tmp_path):
    repo = tmp_path / "linux"
    (repo / "mm").mkdir(parents=True)
    (repo / "mm" / "page_alloc.c").write_text("a\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    return repo, git


def test_head_commit_of_a_git_tree(tmp_path, monkeypatch):
    repo, git = _repo(tmp_path)
    assert head_commit(repo) is None                    # no commit yet
    git("add", "-A")
    git("commit", "-qm", "base")
    sha = git("rev-parse", "HEAD")
    # The caller's GIT_DIR must not redirect the question to another repository.
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    assert head_commit(repo) == sha
    assert git_head(repo).commit == sha and not git_head(repo).dirty
    (repo / "untracked.o").write_text("")               # build output: not dirty
    assert head_commit(repo) == sha
    index = (repo / ".git" / "index").stat().st_mtime_ns
    (repo / "mm" / "page_alloc.c").write_text("changed\n")
    assert head_commit(repo) == sha + "-dirty"
    assert git_head(repo).dirty
    assert (repo / ".git" / "index").stat().st_mtime_ns == index   # index not refreshed


def test_no_commit_outside_a_git_tree_or_below_its_top(tmp_path):
    repo, git = _repo(tmp_path)
    git("add", "-A")
    git("commit", "-qm", "base")
    assert head_commit(tmp_path) is None
    assert head_commit(repo / "mm") is None
