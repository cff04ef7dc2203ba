"""Where kgen keeps kernel sources, overlays, build dirs and results.

Every path under the cache root is named here and nowhere else
(``CachePaths``); the whole layout is in docs/install.md.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CachePaths:
    """The places one tree and arch use under the cache root."""

    root: Path
    key: str        # tree_key(tree)
    arch: str       # the arch's name, as it appears in paths

    @property
    def overlay(self) -> Path:
        """The tree's overlay, shared by every arch (one lock for all)."""
        return self.root / "overlays" / self.key

    def build_dir(self, kconfig: dict[str, bool] | None = None,
                  coverage: bool = False, debug: bool = False) -> Path:
        """Per tree and arch; a --kconfig variant, a --coverage and a --debug
        build get their own (a changed .config means a near-full rebuild,
        which would cool the default dir)."""
        name = f"{self.key}-{self.arch}"
        if kconfig:
            text = ",".join(f"{k}={'y' if v else 'n'}" for k, v in sorted(kconfig.items()))
            name += "-k" + hashlib.sha256(text.encode()).hexdigest()[:8]
        if coverage:
            name += "-cov"
        if debug:
            name += "-debug"
        return self.root / "build" / name

    @property
    def bench_build_dir(self) -> Path:
        """kgen bench's kernel (bench.config, no DEBUG_VM): a dir of its own."""
        return Path(f"{self.build_dir()}-bench")

    @property
    def coverage(self) -> Path:
        """Where `kgen run --coverage` writes its tracefile and HTML by default."""
        return self.root / "coverage" / f"{self.key}-{self.arch}"

    @property
    def junit(self) -> Path:
        """`kgen run`'s JUnit file by default."""
        return self.root / "results" / f"{self.key}-{self.arch}.xml"

    @property
    def validate_results(self) -> Path:
        return self.root / "validate-results" / self.key

    @property
    def bench_results(self) -> Path:
        return self.root / "bench-results" / self.key

    @property
    def qemu_shim(self) -> Path:
        """The QEMU launcher that keeps only kgen's accelerator (host-wide)."""
        return self.root / "qemu-shim"

    @property
    def accel_probe(self) -> Path:
        """--accel auto's cached probe results (host-wide)."""
        return self.root / "accel-probe.json"


def cache_paths(tree: Path, arch: str) -> CachePaths:
    """The cache layout for tree and the arch called arch, under cache_root()."""
    return CachePaths(cache_root(), tree_key(tree), arch)


def overlay_dir(tree: Path) -> Path:
    # The overlay is per tree: any arch's paths name it.
    return cache_paths(tree, "").overlay


def default_build_dir(tree: Path, arch: str, kconfig: dict[str, bool] | None = None,
                      coverage: bool = False) -> Path:
    return cache_paths(tree, arch).build_dir(kconfig, coverage)


def coverage_dir(tree: Path, arch: str) -> Path:
    return cache_paths(tree, arch).coverage
