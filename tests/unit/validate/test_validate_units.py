"""Series parsing, patching scratch copies and classification (no kernel build)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kgen.errors import UsageError
from kgen.runner.harness.patches import PatchText, Scratch
from kgen.runner.validate.classify import Allowed, classify, merge_repeats
from kgen.runner.validate.pipeline import checkout_to_base
from kgen.runner.validate.series import from_directory, from_mbox, load_series

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


def _git_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    (repo / "f.c").write_text("a\n")
    git("add", "f.c")
    git("commit", "-qm", "base")
    return repo, git


def test_git_range(tmp_path):
    repo, git = _git_repo(tmp_path)
    (repo / "f.c").write_text("b\n")
    git("commit", "-qam", "mm: change f")
    (repo / "f.c").write_text("c\n")
    git("commit", "-qam", "mm: change f again")
    # Whatever the user's config says, the patches are what patch -p1 reads.
    git("config", "diff.noprefix", "true")
    git("config", "format.suffix", ".txt")
    git("config", "format.coverLetter", "true")
    base, patches = load_series("HEAD~2..HEAD", repo, tmp_path / "work")
    assert base == git("rev-parse", "HEAD~2")
    assert [p.subject for p in patches] == ["mm: change f", "mm: change f again"]
    assert [p.commit for p in patches] == [git("rev-parse", "HEAD~1"), git("rev-parse", "HEAD")]
    assert "--- a/f.c\n+++ b/f.c" in patches[0].text


def test_git_range_problems_are_usage_errors(tmp_path):
    repo, git = _git_repo(tmp_path)
    git("checkout", "-qb", "side")
    (repo / "f.c").write_text("side\n")
    git("commit", "-qam", "side")
    git("checkout", "-q", "-")
    (repo / "f.c").write_text("main\n")
    git("commit", "-qam", "main")
    with pytest.raises(UsageError, match="'nope' is not a commit"):
        load_series("nope..HEAD", repo, tmp_path / "work")
    with pytest.raises(UsageError, match="two dots"):
        load_series("HEAD~1...HEAD", repo, tmp_path / "work")
    with pytest.raises(UsageError, match="not an ancestor"):
        load_series("side..HEAD", repo, tmp_path / "work")
    with pytest.raises(UsageError, match="no patches found"):
        load_series("HEAD..HEAD", repo, tmp_path / "work")
    git("merge", "-q", "--no-edit", "-X", "ours", "side")
    with pytest.raises(UsageError, match="merge commits"):
        load_series("HEAD~2..HEAD", repo, tmp_path / "work")


def test_unknown_series_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not an mbox file"):
        load_series(str(tmp_path / "nope"), tmp_path, tmp_path)


def test_scratch_patches_copies_and_a_failed_patch_changes_nothing(tmp_path):
    src = tmp_path / "src"
    (src / "mm").mkdir(parents=True)
    real = Path.home() / ".cache/kgen/sources/linux-source-7.3/mm/page_alloc.c"
    if not real.exists():
        pytest.skip("needs the cached 7.3 tree for real patch context (kgen kernel fetch)")
    (src / "mm" / "page_alloc.c").write_bytes(real.read_bytes())
    before = (src / "mm" / "page_alloc.c").read_bytes()
    patches = from_directory(SERIES)
    with Scratch(src) as scratch:
        assert scratch.apply(PatchText("1/3", patches[0].text)) is None
        patched = scratch.files()
        assert list(patched) == ["mm/page_alloc.c"] and patched["mm/page_alloc.c"] != before
        assert (src / "mm" / "page_alloc.c").read_bytes() == before
        # The same patch again no longer applies: it fails, saying why,
        # and the scratch copy keeps what it had.
        failed = scratch.apply(PatchText("1/3 again", patches[0].text))
        assert failed and "Reversed (or previously applied) patch" in failed
        assert scratch.files() == patched
    assert (src / "mm" / "page_alloc.c").read_bytes() == before


def test_classification():
    steps = ["base", "1/3", "2/3", "3/3"]
    per_step = [
        {"s.a": "pass", "s.b": "pass", "s.c": "fail", "s.d": "pass", "s.f": "skip"},
        {"s.a": "pass", "s.b": "fail", "s.c": "fail", "s.d": "pass", "s.e": "pass",
         "s.f": "skip"},
        {"s.a": "pass", "s.b": "pass", "s.c": "fail", "s.e": "pass"},
        None,                                    # did not build
    ]
    cls = classify(steps, per_step)
    assert [(c.case, c.kind) for c in cls.changes[1]] == [("s.b", "regression"),
                                                          ("s.e", "new")]
    assert [(c.case, c.kind) for c in cls.changes[2]] == [("s.b", "fixed"),
                                                          ("s.d", "no-result"),
                                                          ("s.f", "missing")]
    assert cls.changes[2][1].arrow == "pass → no result"
    assert cls.changes[3] == []
    assert cls.persistent == ["s.c"]
    assert cls.table["s.a"] == ["pass", "pass", "pass", "not-run"]


def test_pass_to_skip_and_lost_results_are_classes_of_their_own():
    cls = classify(["base", "1/1"], [
        {"s.a": "pass", "s.b": "pass", "s.c": "fail", "s.d": "skip", "s.e": "error"},
        {"s.a": "skip", "s.c": "skip", "s.d": "pass"}])
    kinds = {c.case: (c.kind, c.arrow) for c in cls.changes[1]}
    assert kinds == {"s.a": ("skipped", "pass → skip"),
                     "s.b": ("no-result", "pass → no result"),
                     "s.c": ("skipped", "fail → skip"),       # a failure hidden by a skip
                     "s.e": ("no-result", "error → no result")}
    assert cls.regressions(1) == []            # skip -> pass is not a change that fails
    assert cls.problems(1) == {"skipped": ["s.a", "s.c"], "no-result": ["s.b", "s.e"]}


def test_repeats_that_disagree_are_flaky_not_regressions():
    merged, flaky = merge_repeats([{"s.a": "pass", "s.b": "fail", "s.c": "pass"},
                                   {"s.a": "fail", "s.b": "fail"}])
    assert merged == {"s.a": "flaky", "s.b": "fail", "s.c": "flaky"}
    assert flaky == {"s.a": ["pass", "fail"], "s.c": ["pass", "absent"]}
    cls = classify(["base", "1/1"], [{"s.a": "pass", "s.b": "fail", "s.c": "pass"}, merged],
                   [{}, flaky])
    assert cls.regressions(1) == []
    assert cls.problems(1) == {"flaky": ["s.a", "s.c"]}


def test_a_flaky_step_does_not_hide_a_later_regression():
    cls = classify(["base", "1/2", "2/2"],
                   [{"s.a": "pass"}, {"s.a": "flaky"}, {"s.a": "fail"}],
                   [{}, {"s.a": ["pass", "fail"]}, {}])
    assert [(c.kind, c.before) for c in cls.changes[2]] == [("regression", "pass")]


def test_what_fails_a_validation_and_what_the_allow_options_accept():
    cls = classify(["base", "1/2", "2/2"],
                   [{"s.a": "pass", "s.b": "pass", "s.c": "pass", "s.d": "pass"},
                    {"s.a": "skip", "s.b": "pass", "s.c": "pass", "s.d": "flaky"},
                    {"s.a": "skip", "s.c": "pass", "s.d": "pass"}],
                   [{}, {"s.d": ["pass", "fail"]}, {}])
    assert cls.blocking(Allowed()) == {"skipped": 1, "flaky": 1, "no-result": 1}
    assert cls.blocking(Allowed(skips=True)) == {"flaky": 1, "no-result": 1}
    assert cls.blocking(Allowed(skips=True, missing=True, flaky=True)) == {}
    worse = classify(["base", "1/1"], [{"s.a": "pass"}, {"s.a": "error"}])
    assert worse.blocking(Allowed(skips=True, missing=True, flaky=True)) == \
        {"regression": 1}     # nothing accepts a regression


def test_flaky_base_fails_the_validation_too():
    cls = classify(["base", "1/1"], [{"s.a": "flaky"}, {"s.a": "pass"}],
                   [{"s.a": ["pass", "fail"]}, {}])
    assert cls.blocking(Allowed()) == {"flaky": 1}
    assert cls.changes[1] == []


def _dot_git(repo: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(repo)), p.lstat().st_size, p.lstat().st_mtime_ns)
                  for p in (repo / ".git").rglob("*"))


def test_reading_a_git_range_writes_nothing_in_the_repository(tmp_path):
    repo, git = _git_repo(tmp_path)
    (repo / "f.c").write_text("b\n")
    git("commit", "-qam", "mm: change f")
    os.utime(repo / "f.c", (1_000_000, 1_000_000))   # a stale index entry
    before = _dot_git(repo)
    base, _ = load_series("HEAD~1..HEAD", repo, tmp_path / "work")
    to_base = checkout_to_base(repo, base)
    with Scratch(repo) as scratch:
        assert to_base and scratch.apply(to_base) is None
        assert scratch.files() == {"f.c": b"a\n"}
    assert _dot_git(repo) == before and (repo / "f.c").read_text() == "b\n"


def test_the_base_step_is_the_checkout_plus_the_diff_to_base(tmp_path):
    repo, git = _git_repo(tmp_path)
    (repo / "g.c").write_text("new\n")
    git("add", "g.c")
    (repo / "f.c").write_text("b\n")
    git("commit", "-qam", "change f, add g")
    head = git("rev-parse", "HEAD")
    # BASE is HEAD: the base step is the checked-out tree as it is.
    assert checkout_to_base(repo, head) is None
    # An older BASE: its differences become the base step's files, g.c
    # (absent at BASE) hidden; uncommitted changes elsewhere stay.
    (repo / "h.c").write_text("untracked\n")
    with Scratch(repo) as scratch:
        assert scratch.apply(checkout_to_base(repo, git("rev-parse", "HEAD~1"))) is None
        assert scratch.files() == {"f.c": b"a\n", "g.c": None}


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
    with Scratch(tree) as scratch:
        assert scratch.apply(PatchText("1/1", patches[0].text, patches[0].strip)) is None
        assert scratch.files() == {"mm/page_alloc.c": b"int a;\nint b2;\nint c;\n"}
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
    with Scratch(old) as scratch:
        assert scratch.apply(PatchText("1/1", patches[0].text, patches[0].strip)) is None


def test_one_format_patch_file_keeps_its_subject(tmp_path):
    _, patches = load_series(str(SERIES / "0002-warn.patch"), tmp_path, tmp_path / "work")
    assert [(p.subject, p.strip) for p in patches] == [
        ("mm/page_alloc: warn on large frozen range frees", 1)]


def test_a_file_without_a_diff_is_a_clear_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n--- not a diff\n")
    with pytest.raises(UsageError, match="neither an mbox .* nor a unified diff"):
        load_series(str(notes), tmp_path, tmp_path / "work")


def _validate_with_fake_runs(tmp_path, monkeypatch, series_text: str, interrupt_at=None):
    """validate() with kgen run replaced: which files each step's run gets,
    and whether the overlay was put back."""
    from kgen.runner.results.model import RunResult
    from kgen.runner.run.pipeline import RunOutcome
    from kgen.runner.validate import pipeline
    from kgen.target.target import resolve_target
    tree = _small_tree(tmp_path / "tree")
    series = tmp_path / "fix.patch"
    series.write_text(series_text)
    seen, restored = [], []

    def fake_run(target, req):
        seen.append(dict(req.patched))
        if interrupt_at is not None and len(seen) == interrupt_at:
            raise KeyboardInterrupt
        return RunOutcome(RunResult(), plan=None)
    monkeypatch.setattr(pipeline, "run", fake_run)
    monkeypatch.setattr(pipeline, "_restore",
                        lambda target, req: restored.append(target.tree))
    req = pipeline.ValidateRequest(series=str(series), specs=[],
                                   out_dir=tmp_path / "out", log=lambda m: None)
    target = resolve_target(tree, "um")
    return lambda: pipeline.validate(target, req), target.tree, seen, restored


FIX = ("--- a/mm/page_alloc.c\n+++ b/mm/page_alloc.c\n@@ -1,3 +1,3 @@\n"
       " int a;\n-int b;\n+int b2;\n int c;\n")


def test_validate_runs_the_plain_tree_then_the_patched_files_then_restores(
        tmp_path, monkeypatch):
    validate, tree, seen, restored = _validate_with_fake_runs(tmp_path, monkeypatch, FIX)
    outcome = validate()
    assert [s.state.value for s in outcome.steps] == ["ok", "ok"]
    assert seen == [{}, {"mm/page_alloc.c": b"int a;\nint b2;\nint c;\n"}]
    assert restored == [tree]
    assert (tree / "mm/page_alloc.c").read_text() == "int a;\nint b;\nint c;\n"


def test_validate_restores_the_overlay_on_ctrl_c(tmp_path, monkeypatch):
    validate, tree, seen, restored = _validate_with_fake_runs(
        tmp_path, monkeypatch, FIX, interrupt_at=2)
    with pytest.raises(KeyboardInterrupt):
        validate()
    assert len(seen) == 2 and restored == [tree]


def test_a_first_patch_that_does_not_apply_builds_nothing(tmp_path, monkeypatch):
    validate, _tree, seen, restored = _validate_with_fake_runs(
        tmp_path, monkeypatch, FIX.replace("int a;", "int zz;"))
    outcome = validate()
    assert [s.state.value for s in outcome.steps] == ["not-run", "apply-failed"]
    assert "FAILED" in outcome.steps[1].detail and outcome.incomplete
    assert seen == [] and restored == []


def test_a_pass_and_an_unconfirmed_run_are_not_flaky():
    # One repeat's counter mismatched once and matched when the case
    # repeated in that boot: noise in one run, not runs that disagree.
    merged, flaky = merge_repeats([{"s.a": "pass", "s.b": "fail"},
                                   {"s.a": "unconfirmed", "s.b": "unconfirmed"}])
    assert merged == {"s.a": "unconfirmed", "s.b": "flaky"}
    assert flaky == {"s.b": ["fail", "unconfirmed"]}
    cls = classify(["base", "1/1"], [{"s.a": "pass"}, {"s.a": merged["s.a"]}], [{}, {}])
    assert cls.regressions(1) == [] and cls.problems(1) == {}
