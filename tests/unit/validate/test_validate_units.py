"""Series parsing, work-tree patching and classification (no kernel build)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kgen.errors import UsageError
from kgen.runner.validate.classify import classify, merge_repeats
from kgen.runner.validate.series import from_directory, from_mbox, load_series
from kgen.runner.validate.worktree import WorkTree

SERIES = Path(__file__).resolve().parents[2] / "fixtures" / "series"


def test_mbox_skips_the_cover_letter():
    patches = from_mbox(SERIES / "series.mbox")
    assert [p.subject for p in patches] == [
        "mm/page_alloc: explain chunk alignment in free_prepared_contig_range()",
        "mm/page_alloc: warn on large frozen range frees",
        "mm/page_alloc: drop the last page of long contiguous runs"]
    assert all("diff --git a/mm/page_alloc.c" in p.text for p in patches)


def test_directory_of_patches_in_order():
    patches = from_directory(SERIES)
    assert [Path(p.source).name for p in patches] == [
        "0001-harmless.patch", "0002-warn.patch", "0003-leak.patch"]
    assert patches[1].subject == "mm/page_alloc: warn on large frozen range frees"


def test_git_range(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")

    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                       capture_output=True)
    git("init", "-q")
    (repo / "f.c").write_text("a\n")
    git("add", "f.c")
    git("commit", "-qm", "base")
    (repo / "f.c").write_text("b\n")
    git("commit", "-qam", "mm: change f")
    base, patches = load_series("HEAD~1..HEAD", repo, tmp_path / "work")
    assert base == "HEAD~1" and [p.subject for p in patches] == ["mm: change f"]


def test_unknown_series_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not an mbox file"):
        load_series(str(tmp_path / "nope"), tmp_path, tmp_path)


def test_worktree_applies_and_resets_with_fresh_mtimes(tmp_path):
    src = tmp_path / "src"
    (src / "mm").mkdir(parents=True)
    (src / "mm" / "page_alloc.c").write_text(
        (Path.home() / ".cache/kgen/sources/linux-source-7.3/mm/page_alloc.c").read_text()
        if (Path.home() / ".cache/kgen/sources/linux-source-7.3/mm/page_alloc.c").exists()
        else "")
    if not (src / "mm" / "page_alloc.c").read_text():
        pytest.skip("needs the cached 7.3 tree for real patch context (kgen kernel fetch)")
    before = (src / "mm" / "page_alloc.c").read_bytes()
    os.utime(src / "mm" / "page_alloc.c", (1_000_000, 1_000_000))
    work = WorkTree(src, tmp_path / "work")
    work.reset()
    patches = from_directory(SERIES)
    assert work.apply(patches[0].text).ok
    patched = (work.path / "mm" / "page_alloc.c").read_bytes()
    assert patched != before and (src / "mm" / "page_alloc.c").read_bytes() == before
    # A patch that no longer applies fails without touching anything.
    failed = work.apply(patches[0].text)
    assert not failed.ok and (work.path / "mm" / "page_alloc.c").read_bytes() == patched
    work.reset()
    assert (work.path / "mm" / "page_alloc.c").read_bytes() == before
    assert os.stat(work.path / "mm" / "page_alloc.c").st_mtime > 1_000_000


def test_classification():
    steps = ["base", "1/3", "2/3", "3/3"]
    per_step = [
        {"s.a": "pass", "s.b": "pass", "s.c": "fail", "s.d": "pass"},
        {"s.a": "pass", "s.b": "fail", "s.c": "fail", "s.d": "pass", "s.e": "pass"},
        {"s.a": "pass", "s.b": "pass", "s.c": "fail", "s.e": "pass"},
        None,                                    # did not build
    ]
    cls = classify(steps, per_step)
    assert [(c.case, c.kind) for c in cls.changes[1]] == [("s.b", "regression"),
                                                          ("s.e", "new")]
    assert [(c.case, c.kind) for c in cls.changes[2]] == [("s.b", "fixed"),
                                                          ("s.d", "missing")]
    assert cls.changes[3] == []
    assert cls.persistent == ["s.c"]
    assert cls.table["s.a"] == ["pass", "pass", "pass", "not-run"]


def test_repeats_disagreeing_are_unstable_not_regressions():
    merged, unstable = merge_repeats([{"s.a": "pass", "s.b": "fail"},
                                      {"s.a": "fail", "s.b": "fail"}])
    assert merged == {"s.a": "unstable", "s.b": "fail"} and unstable == {"s.a"}
    cls = classify(["base", "1/1"], [{"s.a": "pass", "s.b": "fail"}, merged], unstable)
    assert cls.regressions(1) == []
