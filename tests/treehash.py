"""Content manifest of a directory tree, to prove a kernel tree unchanged."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> digest of (type, mode, contents or link target)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames
                                          if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            h = hashlib.sha256(f"{stat.S_IFMT(st.st_mode)}:{stat.S_IMODE(st.st_mode)}:"
                               .encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
            else:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            out[os.path.relpath(path, root)] = h.hexdigest()
        for name in dirnames:
            out.setdefault(os.path.relpath(os.path.join(dirpath, name), root) + "/", "dir")
    return out
