"""Locate and describe the kernel tree a kgen command works on."""
from __future__ import annotations

import re
from pathlib import Path

from kgen.errors import UsageError

KUNIT_PY = Path("tools/testing/kunit/kunit.py")


def is_kernel_tree(path: Path) -> bool:
    return (path / KUNIT_PY).is_file() and (path / "Makefile").is_file()


def check_tree(path: Path) -> Path:
    """The tree at path, or a UsageError that says why it is not one."""
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    if not is_kernel_tree(path):
        raise UsageError(f"{path} is not a kernel tree: no {KUNIT_PY} (kgen drives "
                         "the tree's own kunit.py, so the tree must have KUnit)")
    return path.resolve()


def enclosing_tree(start: Path) -> Path | None:
    """The kernel tree containing start (kgen run inside a tree), if any."""
    for candidate in (start, *start.parents):
        if is_kernel_tree(candidate):
            return candidate.resolve()
    return None


def kernel_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL[EXTRAVERSION] from the top Makefile."""
    head = (tree / "Makefile").read_text(errors="replace")[:2000]
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION) = ?(.*)$",
                             head, re.MULTILINE))
    version = ".".join(fields.get(k, "?").strip() for k in
                       ("VERSION", "PATCHLEVEL", "SUBLEVEL"))
    return version + fields.get("EXTRAVERSION", "").strip()
