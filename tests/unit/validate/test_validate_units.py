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


def _small_tree(root: Path) -> Path:
    (root / "mm").mkdir(parents=True)
    (root / "mm" / "page_alloc.c").write_text("int a;\nint b;\nint c;\n")
    (root / "Makefile").write_text("all:\n")
    return root


def _diff_u(tmp_path: Path, cwd: Path, old: str, new: str) -> str:
    """Real `diff -u` output (exit 1 means the files differ)."""
    proc = subprocess.run(["diff", "-u", old, new], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    return proc.stdout


def test_bare_diff_u_at_the_top_of_the_tree_is_one_p0_patch(tmp_path):
    tree = _small_tree(tmp_path / "tree")
    changed = tmp_path / "page_alloc.c.new"
    changed.write_text("int a;\nint b2;\nint c;\n")
    (tree / "mm" / "page_alloc.c.orig").write_text((tree / "mm/page_alloc.c").read_text())
    text = _diff_u(tmp_path, tree, "mm/page_alloc.c.orig", str(changed)).replace(
        str(changed), "mm/page_alloc.c")
    (tree / "mm" / "page_alloc.c.orig").unlink()
    fix = tmp_path / "fix.diff"
    fix.write_text(text)
    base, patches = load_series(str(fix), tree, tmp_path / "work")
    assert base is None and len(patches) == 1
    assert patches[0].subject == "fix.diff" and patches[0].strip == 0
    work = WorkTree(tree, tmp_path / "work")
    work.reset()
    assert work.apply(patches[0].text, patches[0].strip).ok
    assert (work.path / "mm" / "page_alloc.c").read_text() == "int a;\nint b2;\nint c;\n"
    assert (tree / "mm" / "page_alloc.c").read_text() == "int a;\nint b;\nint c;\n"


def test_bare_diff_between_two_trees_and_git_diff_are_p1(tmp_path):
    old = _small_tree(tmp_path / "a")
    new = _small_tree(tmp_path / "b")
    (new / "mm" / "page_alloc.c").write_text("int a;\nint b;\nint c2;\n")
    fix = tmp_path / "fix.patch"
    fix.write_text(_diff_u(tmp_path, tmp_path, "a/mm/page_alloc.c", "b/mm/page_alloc.c"))
    _, patches = load_series(str(fix), old, tmp_path / "work")
    assert [(p.subject, p.strip) for p in patches] == [("fix.patch", 1)]

    repo = _small_tree(tmp_path / "repo")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                       capture_output=True)
    (repo / "mm" / "page_alloc.c").write_text("int a0;\nint b;\nint c;\n")
    git_diff = subprocess.run(["git", "-C", str(repo), "diff"], check=True,
                              capture_output=True, text=True).stdout
    (tmp_path / "wip.patch").write_text(git_diff)
    _, patches = load_series(str(tmp_path / "wip.patch"), old, tmp_path / "work")
    assert [(p.subject, p.strip) for p in patches] == [("wip.patch", 1)]
    work = WorkTree(old, tmp_path / "work")
    work.reset()
    assert work.apply(patches[0].text, patches[0].strip).ok


def test_one_format_patch_file_keeps_its_subject(tmp_path):
    _, patches = load_series(str(SERIES / "0002-warn.patch"), tmp_path, tmp_path / "work")
    assert [(p.subject, p.strip) for p in patches] == [
        ("mm/page_alloc: warn on large frozen range frees", 1)]


def test_a_file_without_a_diff_is_a_clear_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n--- not a diff\n")
    with pytest.raises(UsageError, match="neither an mbox .* nor a unified diff"):
        load_series(str(notes), tmp_path, tmp_path / "work")
