"""kgen run --patch: patched copies for the overlay; the tree is never written."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kgen.errors import UsageError
from kgen.runner.harness.overlay import Overlay
from kgen.runner.harness.patches import patched_files, touched_files
from kgen.runner.harness.session import Session, SessionConfig, drop_stale_objects

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "patches" / "bug-under-zone-lock.patch"
PATCH = """\
--- a/mm/page_alloc.c
+++ b/mm/page_alloc.c
@@ -1,2 +1,3 @@
 /* allocator */
+/* patched */
 int x;
"""


def tree(root: Path) -> Path:
    for rel, text in {"Makefile": "VERSION = 7\n", "mm/Makefile": "obj-y += page_alloc.o\n",
                      "mm/Kconfig": "\n", "mm/page_alloc.c": "/* allocator */\nint x;\n",
                      "tools/testing/kunit/kunit.py": "\n", "include/linux/gfp.h": "\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_patch_lands_in_the_overlay_only(tmp_path):
    src = tree(tmp_path / "tree")
    (tmp_path / "p.diff").write_text(PATCH)
    files = patched_files(src, [tmp_path / "p.diff"])
    assert files == {"mm/page_alloc.c": b"/* allocator */\n/* patched */\nint x;\n"}
    assert (src / "mm/page_alloc.c").read_text() == "/* allocator */\nint x;\n"
    ov = Overlay(src, tmp_path / "ov")
    ov.sync({}, files)
    real = ov.root / "mm/page_alloc.c"
    assert not real.is_symlink() and b"patched" in real.read_bytes()
    ov.sync({})
    assert real.is_symlink()
    assert (src / "mm/page_alloc.c").read_text() == "/* allocator */\nint x;\n"


def test_each_build_dir_remembers_what_it_built_from(tmp_path, monkeypatch):
    monkeypatch.setenv("KGEN_CACHE", str(tmp_path / "cache"))
    src = tree(tmp_path / "tree")
    sessions = {name: Session(SessionConfig(src, "um", tmp_path / "build" / name,
                                            log=lambda m: None))
                for name in ("um", "arm64")}
    patched = {"mm/page_alloc.c": b"patched\n"}
    assert sessions["um"]._patched_sources_changed(patched) == ["mm/page_alloc.c"]
    assert sessions["um"]._patched_sources_changed(patched) == []
    # Another build dir never built the patched file: nothing stale there.
    assert sessions["arm64"]._patched_sources_changed({}) == []
    # Back to the tree's file: the first build dir's object is stale.
    assert sessions["um"]._patched_sources_changed({}) == ["mm/page_alloc.c"]


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_a_patch_that_does_not_apply_changes_nothing(tmp_path):
    src = tree(tmp_path / "tree")
    (tmp_path / "p.diff").write_text(PATCH.replace("int x;", "int y;"))
    with pytest.raises(UsageError, match="does not apply"):
        patched_files(src, [tmp_path / "p.diff"])
    assert (src / "mm/page_alloc.c").read_text() == "/* allocator */\nint x;\n"


def test_fixture_touches_page_alloc_only():
    assert touched_files(FIXTURE.read_text()) == ["mm/page_alloc.c"]


def test_objects_of_a_changed_source_are_dropped(tmp_path):
    build, root = tmp_path / "build", tmp_path / "ov"
    (build / "mm").mkdir(parents=True)
    (build / "mm/page_alloc.o").write_text("o")
    (build / "mm/.page_alloc.o.cmd").write_text(f"deps := {root}/mm/page_alloc.c \\\n")
    (build / "mm/slub.o").write_text("o")
    (build / "mm/.slub.o.cmd").write_text(f"deps := {root}/mm/slub.c \\\n")
    dropped = drop_stale_objects(build, root, ["mm/page_alloc.c"])
    assert dropped == [build / "mm/page_alloc.o"]
    assert (build / "mm/slub.o").exists() and not (build / "mm/page_alloc.o").exists()


def test_trees_of_one_major_version_have_their_own_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("KGEN_CACHE", str(tmp_path / "cache"))
    locks = set()
    for name in ("linux-source-7.2", "linux-source-7.3"):
        src = tree(tmp_path / name)
        session = Session(SessionConfig(src, "um", tmp_path / "build" / name, log=print))
        locks.add(session._lock.file.name)
        session._lock.file.close()
    assert len(locks) == 2
