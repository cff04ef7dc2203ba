"""kgen run --patch: patched copies for the overlay; the tree is never written."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kgen.errors import UsageError
from kgen.runner.harness.overlay import Overlay
from kgen.runner.harness.patches import PatchText, Scratch, patched_files, touched_files
from kgen.runner.harness.session import Session, SessionConfig, drop_stale_objects
from kgen.target.target import resolve_target

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


def _session(src: Path, build_dir: Path, log) -> Session:
    return Session(resolve_target(src, "um"), SessionConfig(build_dir, log=log))


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
    sessions = {name: _session(src, tmp_path / "build" / name, log=lambda m: None)
                for name in ("um", "arm64")}
    patched = {"mm/page_alloc.c": b"patched\n"}
    um, arm64 = sessions["um"], sessions["arm64"]
    assert um.patched_sources_changed(patched) == ["mm/page_alloc.c"]
    um._drop_outputs_of_changed_sources(patched)
    assert um.patched_sources_changed(patched) == []
    # Another build dir never built the patched file: nothing stale there.
    assert arm64.patched_sources_changed({}) == []
    # Back to the tree's file: the first build dir's object is stale.
    assert um.patched_sources_changed({}) == ["mm/page_alloc.c"]
    # A deleted file is a version of its own.
    assert um.patched_sources_changed({"mm/page_alloc.c": None}) == ["mm/page_alloc.c"]


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
        session = _session(src, tmp_path / "build" / name, log=print)
        locks.add(session._lock.file.name)
        session._lock.file.close()
    assert len(locks) == 2


def _snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under root: symlink target or file contents."""
    return {str(p.relative_to(root)): ("link", os.readlink(p)) if p.is_symlink()
            else ("file", p.read_text()) if p.is_file() else ("dir", "")
            for p in sorted(root.rglob("*"))}


def _build_dir(build: Path, root: Path) -> None:
    """A build dir as kbuild leaves it: objects with their .cmd files."""
    (build / "mm").mkdir(parents=True, exist_ok=True)
    for name in ("page_alloc", "slub"):
        (build / f"mm/{name}.o").write_text("o")
        (build / f"mm/.{name}.o.cmd").write_text(
            f"source_mm/{name}.o := {root}/mm/{name}.c\ndeps_mm/{name}.o := \\\n"
            f"  {root}/include/linux/gfp.h \\\n")


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_added_deleted_and_wiring_files_in_the_overlay(tmp_path):
    src = tree(tmp_path / "tree")
    (src / "mm/gone.c").write_text("int gone;\n")
    (src / "scripts").mkdir()
    (src / "scripts/run.sh").write_text("echo a\n")
    (src / "scripts/run.sh").chmod(0o755)
    text = (
        "--- a/mm/gone.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-int gone;\n"
        "--- /dev/null\n+++ b/mm/damon/new.c\n@@ -0,0 +1 @@\n+int added;\n"
        "--- a/mm/Makefile\n+++ b/mm/Makefile\n@@ -1 +1,2 @@\n obj-y += page_alloc.o\n"
        "+obj-y += damon/\n"
        "--- a/scripts/run.sh\n+++ b/scripts/run.sh\n@@ -1 +1 @@\n-echo a\n+echo b\n")
    with Scratch(src) as scratch:
        assert scratch.apply(PatchText("p", text)) is None
        files = scratch.files()
    assert files["mm/gone.c"] is None and files["mm/damon/new.c"] == b"int added;\n"
    before = _snapshot(src)
    ov = Overlay(src, tmp_path / "ov")
    ov.sync({})
    plain = _snapshot(ov.root)
    ov.sync({}, files)
    assert not (ov.root / "mm/gone.c").exists() and not (ov.root / "mm/gone.c").is_symlink()
    assert (ov.root / "mm/damon/new.c").read_text() == "int added;\n"
    # The patch to mm/Makefile stays, with kgen's wiring line under it.
    makefile = (ov.root / "mm/Makefile").read_text()
    assert "obj-y += damon/" in makefile and "obj-y += kgen/" in makefile
    # A patched script stays executable, in a real directory of the overlay.
    assert not (ov.root / "scripts").is_symlink()
    assert os.access(ov.root / "scripts/run.sh", os.X_OK)
    assert (ov.root / "scripts/run.sh").read_text() == "echo b\n"
    assert _snapshot(src) == before
    # Back to the plain tree: exactly the overlay `kgen run` had.
    ov.sync_tree({})
    assert _snapshot(ov.root) == plain
    assert _snapshot(src) == before


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_a_file_one_patch_adds_and_the_next_deletes_reads_as_absent(tmp_path):
    src = tree(tmp_path / "tree")
    add = "--- /dev/null\n+++ b/mm/new.c\n@@ -0,0 +1 @@\n+int n;\n"
    delete = "--- a/mm/new.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-int n;\n"
    with Scratch(src) as scratch:
        assert scratch.apply(PatchText("1/2", add)) is None
        first = scratch.files(touched_files(add, 1))
        assert scratch.apply(PatchText("2/2", delete)) is None
        second = scratch.files(touched_files(delete, 1))
    # kgen validate's step 2 is step 1's files updated with step 2's.
    assert first == {"mm/new.c": b"int n;\n"} and (first | second) == {"mm/new.c": None}


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_a_failed_patch_leaves_scratch_overlay_and_build_dir_as_they_were(tmp_path, monkeypatch):
    monkeypatch.setenv("KGEN_CACHE", str(tmp_path / "cache"))
    src = tree(tmp_path / "tree")
    session = _session(src, tmp_path / "build", log=lambda m: None)
    with session, Scratch(src) as scratch:
        assert scratch.apply(PatchText("1/2", PATCH)) is None
        session.prepare({}, "", scratch.files())
        _build_dir(session.build_dir, session.overlay.root)
        state = (_snapshot(session.overlay.root), _snapshot(session.build_dir),
                 session.path("patched.json").read_text())
        files_before = scratch.files()
        # Hunk 2 does not apply (its context is not there), hunk 1 would:
        # patch(1) would have written half the patch.
        broken = ("--- a/include/linux/gfp.h\n+++ b/include/linux/gfp.h\n"
                  "@@ -1 +1,2 @@\n \n+/* gfp */\n"
                  "--- a/mm/page_alloc.c\n+++ b/mm/page_alloc.c\n@@ -1,2 +1,2 @@\n"
                  " /* nothing like this */\n-int y;\n+int z;\n")
        failed = scratch.apply(PatchText("2/2", broken))
        assert failed and "FAILED" in failed
        assert scratch.files() == files_before
        # What the scratch copy now holds builds exactly the overlay before.
        session.prepare({}, "", scratch.files())
        assert (_snapshot(session.overlay.root), _snapshot(session.build_dir),
                session.path("patched.json").read_text()) == state
    assert (src / "mm/page_alloc.c").read_text() == "/* allocator */\nint x;\n"


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_unpatch_drops_what_was_built_from_patched_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KGEN_CACHE", str(tmp_path / "cache"))
    src = tree(tmp_path / "tree")
    session = _session(src, tmp_path / "build", log=lambda m: None)
    with session:
        session.prepare({}, "", {})
        plain = _snapshot(session.overlay.root)
        _build_dir(session.build_dir, session.overlay.root)
        # Switching to a patched build drops only what uses the patched file.
        session.prepare({}, "", patched_files(src, [_write(tmp_path / "p.diff", PATCH)]))
        assert not (session.build_dir / "mm/page_alloc.o").exists()
        assert (session.build_dir / "mm/slub.o").exists()
        # make rebuilds page_alloc.o from the copy.  Going back must drop
        # it: the tree's file is older than that object.
        (session.build_dir / "mm/page_alloc.o").write_text("patched o")
        session.unpatch()
        assert not (session.build_dir / "mm/page_alloc.o").exists()
        assert (session.build_dir / "mm/slub.o").exists()
        assert _snapshot(session.overlay.root) == plain
        assert json.loads(session.path("patched.json").read_text()) == {}
        # Nothing changed since: a second restore drops nothing.
        (session.build_dir / "mm/page_alloc.o").write_text("o")
        assert session.unpatch() == []


def test_outputs_other_than_objects_and_kconfig_are_dropped_too(tmp_path):
    build, root = tmp_path / "build", tmp_path / "ov"
    (build / "arch/um/kernel").mkdir(parents=True)
    (build / "arch/um/kernel/vmlinux.lds").write_text("lds")
    (build / "arch/um/kernel/.vmlinux.lds.cmd").write_text(
        f"deps := {root}/include/linux/gfp.h \\\n")
    (build / "include/config").mkdir(parents=True)
    (build / "include/config/auto.conf").write_text("CONFIG_MMU=y\n")
    (build / "include/config/auto.conf.cmd").write_text(
        "deps_config := \\\n\tKconfig \\\n\tmm/Kconfig \\\n")
    assert drop_stale_objects(build, root, ["include/linux/gfp.h"]) == [
        build / "arch/um/kernel/vmlinux.lds"]
    assert (build / "include/config/auto.conf").exists()
    # A changed Kconfig file: make must run syncconfig again.
    assert drop_stale_objects(build, root, ["mm/Kconfig"]) == [
        build / "include/config/auto.conf"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
