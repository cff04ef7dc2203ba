"""Choose QEMU's accelerator for kunit.py.

kunit.py (7.3) always passes ``-accel kvm -accel hvf -accel tcg``, so QEMU
takes KVM whenever /dev/kvm opens.  Under nested KVM that lacks CPU
features the guest needs, an x86_64 7.3 guest can hang at 100% CPU with no
console output, so kgen must be able to say "TCG".  It puts a directory first on kunit.py's PATH
whose qemu-system-* entries run this module: it drops the ``-accel``
options kgen did not choose and execs the real QEMU.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

from kgen.arch import ARCHES

# Every QEMU binary an Arch boots with (kgen/arch.py).
QEMU_BINARIES = tuple(a.qemu_binary for a in ARCHES.values() if a.qemu_binary)
ENV_ACCEL = "KGEN_QEMU_ACCEL"
ENV_SHIM_DIR = "KGEN_QEMU_SHIM_DIR"


def filter_args(args: list[str], accel: str) -> list[str]:
    """Keep only -accel <accel>; add it if kunit.py did not offer it."""
    out: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "-accel" and i + 1 < len(args):
            i += 2
            continue
        out.append(args[i])
        i += 1
    return ["-accel", accel] + out


def real_binary(name: str, shim_dir: str) -> str | None:
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if os.path.abspath(p) != os.path.abspath(shim_dir))
    return shutil.which(name, path=path)


def main() -> None:
    name = os.path.basename(sys.argv[0])
    shim_dir = os.environ.get(ENV_SHIM_DIR, os.path.dirname(sys.argv[0]))
    real = real_binary(name, shim_dir)
    if real is None:
        sys.exit(f"kgen qemu shim: {name} not found on PATH")
    accel = os.environ.get(ENV_ACCEL, "tcg")
    args = filter_args(sys.argv[1:], accel)
    # Into the console log, so a reader of kunit.py's "-accel kvm ..." line
    # knows what actually ran.
    print(f"kgen qemu shim: {name} with -accel {accel} only", file=sys.stderr, flush=True)
    os.execv(real, [real, *args])


def install(directory: Path) -> Path:
    """Write launcher scripts for every QEMU binary into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    launcher = f"#!{sys.executable}\nfrom kgen.runner.harness.qemu_shim import main\nmain()\n"
    for name in QEMU_BINARIES:
        path = directory / name
        if not path.is_file() or path.read_text() != launcher:
            path.write_text(launcher)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


if __name__ == "__main__":
    main()
