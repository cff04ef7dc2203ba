"""kgen bench --patch / --base-patch: each side of a comparison gets its own
patches, both sides may be one tree, and a directory is a series."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kgen import cli
from kgen.errors import EnvironmentProblem, UsageError
from kgen.runner.bench.pipeline import BenchResult
from kgen.runner.harness.patches import expand_patch_paths, patched_label

REVERT = Path(__file__).resolve().parents[3] / "series" / "revert-batched-free"
PATCH = """\
--- a/mm/page_alloc.c
+++ b/mm/page_alloc.c
@@ -1,2 +1,3 @@
 /* allocator */
+/* patched */
 int x;
"""


def _tree(root: Path) -> Path:
    for rel, text in {"Makefile": "VERSION = 7\nPATCHLEVEL = 3\n", "mm/Makefile": "\n",
                      "mm/Kconfig": "\n", "mm/page_alloc.c": "/* allocator */\nint x;\n",
                      "tools/testing/kunit/kunit.py": "\n", "include/linux/gfp.h": "\n"
                      }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_directory_is_its_patch_files_in_name_order(tmp_path):
    for name in ("0002-b.patch", "0001-a.patch", "README.md", "0003-c.diff"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in expand_patch_paths([tmp_path])] == \
        ["0001-a.patch", "0002-b.patch", "0003-c.diff"]
    assert expand_patch_paths([tmp_path / "README.md"]) == [tmp_path / "README.md"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="without .patch files"):
        expand_patch_paths([empty])


def test_the_label_names_the_tree_and_the_patches_as_given(tmp_path):
    assert patched_label(tmp_path, []) == ""
    assert patched_label(tmp_path, [Path("series/r/7.3")]) == f"{tmp_path} + series/r/7.3"


def test_base_patch_needs_compare(tmp_path):
    assert cli.main(["bench", "--kernel", str(_tree(tmp_path)),
                     "--base-patch", str(tmp_path / "p.diff")]) == 2


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_each_side_gets_its_own_patches_on_one_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("KGEN_CACHE", str(tmp_path / "cache"))
    tree = _tree(tmp_path / "tree")
    (tmp_path / "p.diff").write_text(PATCH)
    seen = []

    def fake_bench(target, req):
        seen.append((target.tree, req.patched, req.label))
        return BenchResult(target.tree, "um", [], {"kernel.version": "7.3", "boots": "2",
                           "iterations.high_order": "1", "iterations.contig16384": "1",
                           "config": "c"}, label=req.label)

    def fake_pair(target, base, new):
        return fake_bench(target, base), fake_bench(target, new)

    # One tree on both sides: the pair, booted alternately (test below).
    monkeypatch.setattr("kgen.runner.bench.pair.run_bench_pair", fake_pair)
    out = tmp_path / "out"
    assert cli.main(["bench", "--compare", str(tree), str(tree), "--base-patch",
                     str(tmp_path / "p.diff"), "--boots", "2", "--out", str(out)]) == 0
    (base_tree, base_files, base_label), (new_tree, new_files, new_label) = seen
    assert base_tree == new_tree
    assert base_files == {"mm/page_alloc.c": b"/* allocator */\n/* patched */\nint x;\n"}
    assert new_files == {} and new_label == ""
    assert base_label.endswith(" + " + str(tmp_path / "p.diff"))
    assert (tree / "mm/page_alloc.c").read_text() == "/* allocator */\nint x;\n"
    assert base_label in (out / "bench.md").read_text()


def test_the_kept_revert_series_are_complete():
    """7.3/ and 7.2/ hold the same three patches but 0003 (memdesc_section()
    takes a pointer in 7.3): README.md says why there are two."""
    names = {v: [p.name for p in expand_patch_paths([REVERT / v])] for v in ("7.3", "7.2")}
    assert names["7.3"] == names["7.2"] and len(names["7.3"]) == 3
    for name in names["7.3"][:2]:
        assert (REVERT / "7.3" / name).read_bytes() == (REVERT / "7.2" / name).read_bytes()
    assert "memdesc_section(&page->flags)" in (REVERT / "7.3" / names["7.3"][2]).read_text()
    assert "memdesc_section(page->flags)" in (REVERT / "7.2" / names["7.2"][2]).read_text()


def test_one_trees_two_kernels_boot_alternately_and_the_last_image_stays(tmp_path, monkeypatch):
    """run_bench_pair builds base then new, keeps each image aside, boots
    base, new, base, new ..., each with its own image in place, and leaves
    the last build's image in the build dir."""
    from kgen.runner.bench import pair
    from kgen.runner.bench.pipeline import BenchPlan, BenchRequest
    from kgen.runner.harness.session import SessionConfig

    build_dir = tmp_path / "build"
    build_dir.mkdir()
    events = []

    class FakeSession:
        def __init__(self, target, config):
            self.target, self.build_dir = target, build_dir

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def path(self, suffix):
            return tmp_path / f"bench.{suffix}"

        def properties(self):
            return {"kernel.version": "7.3.4"}

        def unpatch(self):
            events.append("unpatch")

    def fake_build(session, req, kunitconfig):
        (build_dir / "linux").write_text(req.label)
        events.append(f"build {req.label}")

    def fake_round(session, n, req, vmalloc, prefix=""):
        booted = (build_dir / "linux").read_text()
        events.append(f"boot {prefix}{n}: {booted}")
        return {"x": float(n)}, tmp_path / f"{prefix}{n}.log"

    class Arch:
        name, kernel_image, bench_too_noisy, vmalloc_loops = "um", "", {}, 1

    class Target:
        tree, arch = tmp_path, Arch()

    plan = BenchPlan(SessionConfig(build_dir), "", {}, False, 1, 1)
    monkeypatch.setattr(pair, "Session", FakeSession)
    monkeypatch.setattr(pair, "plan_bench", lambda target, req: plan)
    monkeypatch.setattr(pair, "build_bench", fake_build)
    monkeypatch.setattr(pair, "bench_round", fake_round)
    base = BenchRequest(boots=2, label="reverted", patched={"mm/x.c": b"y"})
    new = BenchRequest(boots=2, label="tree")
    got = pair.run_bench_pair(Target(), base, new)
    assert got[0].properties["boots.order"] == "alternating"

    def broken_round(session, n, req, vmalloc, prefix=""):
        if prefix == "new.":
            raise EnvironmentProblem("boot 1 produced no benchmark lines")
        return {"x": 1.0}, tmp_path / "log"

    monkeypatch.setattr(pair, "bench_round", broken_round)
    with pytest.raises(EnvironmentProblem, match=r"^new \(tree\): boot 1 produced"):
        pair.run_bench_pair(Target(), base, new)
    assert (build_dir / "linux").read_text() == "tree"
    events.clear()
    monkeypatch.setattr(pair, "bench_round", fake_round)
    got = pair.run_bench_pair(Target(), base, new)
    assert events == ["build reverted", "build tree",
                      "boot base.1: reverted", "boot new.1: tree",
                      "boot base.2: reverted", "boot new.2: tree"]
    assert (build_dir / "linux").read_text() == "tree"
    assert not list(tmp_path.glob("bench.*.image"))
    assert [r.label for r in got] == ["reverted", "tree"]
    assert got[0].properties["boots.order"] == "alternating"
