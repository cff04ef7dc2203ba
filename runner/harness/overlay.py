"""A build view of a kernel tree that holds kgen's generated tests.

kgen never writes into the user's kernel tree.  Instead it keeps, in its
cache, an *overlay*: a directory whose entries are symlinks into the tree,
except for the few paths kgen must change:

  mm/                      real directory; its entries are symlinks ...
  mm/Makefile, mm/Kconfig  ... except these copies, with one line appended
  mm/kgen/                 the helper library and the generated suites
  tools/testing/kunit/     a copy: kunit.py locates the tree through the
                           realpath of its own file, so a symlink would send
                           it back to the user's tree

kunit.py runs from the overlay with O= a build dir in the cache, so the
user's tree stays byte-identical whatever happens to the run (success,
failure, Ctrl-C, SIGKILL).  Symlinks follow edits to the tree, and files are
only rewritten when their contents change, so make rebuilds incrementally.
"""
from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

from kgen.kernel import helper_files
from kgen.runner.harness.patches import Patched

# Paths (relative to the tree) that the overlay materialises as real
# directories; everything else in them is a symlink to the tree.
_REAL_DIRS = ("mm", "tools", "tools/testing")
_COPIED_DIRS = ("tools/testing/kunit",)
_WIRING = {
    "mm/Makefile": "\n# kgen: generated KUnit tests\nobj-y += kgen/\n",
    "mm/Kconfig": '\n# kgen: generated KUnit tests\nsource "mm/kgen/Kconfig"\n',
}
KGEN_SUBDIR = "mm/kgen"


def _parents(paths) -> set[str]:
    """Every ancestor directory of the given tree-relative paths."""
    out = set()
    for rel in paths:
        parent = os.path.dirname(rel)
        while parent:
            out.add(parent)
            parent = os.path.dirname(parent)
    return out


def _write_if_changed(path: Path, data: bytes, mode_from: Path | None = None) -> bool:
    if path.parent.is_symlink():
        raise RuntimeError(f"refusing to write through a symlinked directory: {path}")
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return False
    if path.is_symlink() or path.is_file():
        path.unlink()
    tmp = path.with_name(f".{path.name}.kgen-tmp")
    tmp.write_bytes(data)
    if mode_from is not None and mode_from.is_file():
        # A patched script keeps the tree file's executable bit.
        tmp.chmod(mode_from.stat().st_mode & 0o777)
    tmp.replace(path)
    return True


def _remove(path: Path) -> None:
    """Remove a file, symlink or (real) directory of the overlay."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _ensure_symlink(link: Path, target: Path) -> None:
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(target)


def _sync_copy(src: Path, dst: Path) -> None:
    """Mirror directory src into dst by copying (only changed files)."""
    dst.mkdir(parents=True, exist_ok=True)
    wanted = {p.name for p in src.iterdir() if p.name != "__pycache__"}
    for entry in dst.iterdir():
        if entry.name not in wanted and entry.name != "__pycache__":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for name in sorted(wanted):
        s, d = src / name, dst / name
        if s.is_dir():
            _sync_copy(s, d)
        elif not d.is_file() or not filecmp.cmp(s, d, shallow=False):
            shutil.copy2(s, d)


class Overlay:
    """The overlay directory for one kernel tree."""

    def __init__(self, tree: Path, root: Path):
        self.tree = tree.resolve()
        self.root = root

    @property
    def kunit_py(self) -> Path:
        return self.root / "tools/testing/kunit/kunit.py"

    def _sync_dir(self, rel: str, real_dirs: tuple[str, ...], patched: set[str]) -> None:
        src = self.tree / rel if rel else self.tree
        dst = self.root / rel if rel else self.root
        if dst.is_symlink():
            # Was a symlink into the tree: writing through it would change
            # the user's tree.  Replace it with a real directory.
            dst.unlink()
        dst.mkdir(parents=True, exist_ok=True)
        # A directory only the patches create has nothing in the tree.
        names = ({p.name for p in src.iterdir()} - {".git"}) if src.is_dir() else set()
        special = {r.split("/")[-1] for r in (*real_dirs, *_COPIED_DIRS, *_WIRING, *patched)
                   if os.path.dirname(r) == rel}
        if rel == "mm":
            special.add("kgen")
        for entry in dst.iterdir():
            if entry.name not in names and entry.name not in special:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        for name in sorted(names - special):
            _ensure_symlink(dst / name, src / name)

    def sync(self, generated: dict[str, str],
             patched: Patched | None = None) -> list[Path]:
        """Bring the overlay up to date; return the generated files that changed.

        patched: tree-relative path -> contents for files patches changed
        (kgen run --patch, kgen validate), None for a file they delete.
        They become real files in the overlay (a deleted one is hidden);
        every other file stays a symlink, so the tree is still never
        written.  Build dirs that built from other versions of these files
        must drop those objects (session.py does, per build dir).
        """
        self.sync_tree(patched)
        return self.sync_generated(generated)

    def sync_tree(self, patched: Patched | None = None) -> None:
        """The tree side of the overlay: symlinks, patched copies, the copied
        kunit tool and the wiring lines; patched={} puts back the tree's
        version of every file a series touched."""
        patched = patched or {}
        self.root.mkdir(parents=True, exist_ok=True)
        # Directories holding a patched file become real (never write
        # through a symlink into the tree); the copied ones already are.
        copied = tuple(f"{d}/" for d in (*_COPIED_DIRS, KGEN_SUBDIR))
        real_dirs = _REAL_DIRS + tuple(sorted(
            d for d in _parents(patched) - set(_REAL_DIRS) - {""}
            if not f"{d}/".startswith(copied) and d not in _COPIED_DIRS))
        for rel in ("",) + real_dirs:
            self._sync_dir(rel, real_dirs, set(patched))
        for rel in _COPIED_DIRS:
            _sync_copy(self.tree / rel, self.root / rel)
        for rel, data in patched.items():
            if rel in _WIRING:
                continue
            if data is None:
                _remove(self.root / rel)
            else:
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                _write_if_changed(self.root / rel, data, mode_from=self.tree / rel)
        for rel, line in _WIRING.items():
            # A patch to mm/Makefile or mm/Kconfig keeps its change: the
            # wiring line goes below the patched text.
            base = patched.get(rel)
            if base is None:
                base = (self.tree / rel).read_bytes()
            _write_if_changed(self.root / rel, base + line.encode())

    def sync_generated(self, generated: dict[str, str]) -> list[Path]:
        """Write the helper library and the generated suites into mm/kgen;
        return the files that changed."""
        kgen_dir = self.root / KGEN_SUBDIR
        kgen_dir.mkdir(exist_ok=True)
        files = helper_files()
        files.update({name: text.encode() for name, text in generated.items()})
        changed = []
        for entry in kgen_dir.iterdir():
            if entry.name not in files:
                entry.unlink()
        for name, data in sorted(files.items()):
            if _write_if_changed(kgen_dir / name, data):
                changed.append(kgen_dir / name)
        return changed
