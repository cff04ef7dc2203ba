"""Overlay: the user's tree is never written; generated files land in mm/kgen."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kgen.runner.harness.overlay import Overlay


def fake_tree(root: Path) -> Path:
    for rel, text in {
        "Makefile": "VERSION = 7\n",
        "mm/Makefile": "obj-y += page_alloc.o\n",
        "mm/Kconfig": "menu \"mm\"\nendmenu\n",
        "mm/page_alloc.c": "/* allocator */\n",
        "tools/testing/kunit/kunit.py": "print('kunit')\n",
        "tools/testing/kunit/qemu_configs/um.py": "x = 1\n",
        "tools/testing/selftests/x.sh": "true\n",
        "tools/perf/perf.c": "\n",
        "include/linux/gfp.h": "/* gfp */\n",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def manifest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, files in os.walk(root):
        for name in files + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            out[rel] = (os.readlink(path) if path.is_symlink()
                        else hashlib.sha256(path.read_bytes()).hexdigest())
    return out


@pytest.fixture
def tree(tmp_path):
    return fake_tree(tmp_path / "linux")


def test_sync_builds_the_view_without_touching_the_tree(tree, tmp_path):
    before = manifest(tree)
    ov = Overlay(tree, tmp_path / "ov")
    changed = ov.sync({"kgen_x_kunit.c": "/* x */\n", "Makefile": "obj-y += x.o\n"})
    assert manifest(tree) == before
    root = ov.root
    assert (root / "include").is_symlink()
    assert (root / "mm/page_alloc.c").is_symlink()
    assert not (root / "mm").is_symlink() and not (root / "tools/testing/kunit").is_symlink()
    assert (root / "tools/testing/kunit/kunit.py").read_text() == "print('kunit')\n"
    assert (root / "tools/perf").is_symlink()
    assert (root / "mm/Makefile").read_text().endswith("obj-y += kgen/\n")
    assert 'source "mm/kgen/Kconfig"' in (root / "mm/Kconfig").read_text()
    names = {p.name for p in changed}
    assert {"kgen_x_kunit.c", "Makefile", "kgen_kunit.c", "kgen_kunit.h", "Kconfig"} <= names


def test_resync_is_incremental_and_follows_the_tree(tree, tmp_path):
    ov = Overlay(tree, tmp_path / "ov")
    ov.sync({"a_kunit.c": "a\n"})
    assert ov.sync({"a_kunit.c": "a\n"}) == []
    (tree / "mm/new.c").write_text("new\n")
    (tree / "include/linux/gfp.h").unlink()
    changed = ov.sync({"b_kunit.c": "b\n"})
    assert (ov.root / "mm/new.c").is_symlink()
    assert [p.name for p in changed] == ["b_kunit.c"]
    assert not (ov.root / "mm/kgen/a_kunit.c").exists()
    (tree / "mm/Makefile").write_text("obj-y += other.o\n")
    ov.sync({"b_kunit.c": "b\n"})
    assert (ov.root / "mm/Makefile").read_text().startswith("obj-y += other.o\n")


def test_a_stale_symlinked_mm_is_replaced_not_written_through(tree, tmp_path):
    ov = Overlay(tree, tmp_path / "ov")
    ov.root.mkdir(parents=True)
    (ov.root / "mm").symlink_to(tree / "mm")
    before = manifest(tree)
    ov.sync({"a_kunit.c": "a\n"})
    assert manifest(tree) == before
    assert not (ov.root / "mm").is_symlink()
