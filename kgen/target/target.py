"""The Target: the kernel one command builds and boots, resolved once.

The CLI resolves it (``resolve_target``) from the tree it found and the
``--arch`` and ``--accel`` it was given, and hands it down: run, validate,
bench and the build session read the tree, its version, the ``Arch``, what
the tree provides and where the cache keeps its files from here, and none
of them looks an arch name up, reads the version or probes the tree again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgen.arch import Arch, arch
from kgen.cache import CachePaths, cache_paths
from kgen.kernel_tree import kernel_version
from kgen.target.capabilities import Capabilities, probe_tree


@dataclass(frozen=True)
class Target:
    tree: Path
    version: str                  # the tree's kernel version (Makefile)
    arch: Arch
    # The accelerator asked for: "auto", "kvm" or "tcg".  A session settles
    # "auto" once the kernel is built (harness/accel_probe.py).
    accel: str
    capabilities: Capabilities    # what the tree and arch provide
    paths: CachePaths             # where its overlay, builds and results go


def resolve_target(tree: Path, arch_name: str, accel: str = "tcg") -> Target:
    """The Target for a checked tree and the arch called arch_name: the
    version read, the tree probed, the cache paths named, each once."""
    found = arch(arch_name)
    return Target(tree=tree, version=kernel_version(tree), arch=found, accel=accel,
                  capabilities=probe_tree(tree, found), paths=cache_paths(tree, found.name))
