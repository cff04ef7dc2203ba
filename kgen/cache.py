"""Where kgen keeps kernel sources, overlays and build dirs."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """$KGEN_CACHE, else ~/.cache/kgen (XDG_CACHE_HOME respected)."""
    env = os.environ.get("KGEN_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "kgen").resolve()


def tree_key(tree: Path) -> str:
    """Short stable name for a kernel tree: its basename plus a path hash."""
    real = str(tree.resolve())
    return f"{tree.resolve().name}-{hashlib.sha256(real.encode()).hexdigest()[:10]}"


def overlay_dir(tree: Path) -> Path:
    return cache_root() / "overlays" / tree_key(tree)


def default_build_dir(tree: Path, arch: str, kconfig: dict[str, bool] | None = None,
                      coverage: bool = False) -> Path:
    """Per tree and arch; a --kconfig variant and a --coverage build get
    their own (a changed .config means a near-full rebuild, which would
    cool the default dir)."""
    name = f"{tree_key(tree)}-{arch}"
    if kconfig:
        text = ",".join(f"{k}={'y' if v else 'n'}" for k, v in sorted(kconfig.items()))
        name += "-k" + hashlib.sha256(text.encode()).hexdigest()[:8]
    if coverage:
        name += "-cov"
    return cache_root() / "build" / name


def coverage_dir(tree: Path, arch: str) -> Path:
    """Where `kgen run --coverage` writes its tracefile and HTML by default."""
    return cache_root() / "coverage" / f"{tree_key(tree)}-{arch}"
