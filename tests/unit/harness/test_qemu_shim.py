"""The accelerator shim kunit.py's QEMU goes through."""
from __future__ import annotations

import os
import subprocess

from kgen.runner.harness.qemu_shim import filter_args, install


def test_only_the_chosen_accel_remains():
    kunit_args = ["-nodefaults", "-m", "1024", "-kernel", "Image", "-append", "x",
                  "-accel", "kvm", "-accel", "hvf", "-accel", "tcg", "-machine", "virt"]
    assert filter_args(kunit_args, "tcg") == [
        "-accel", "tcg", "-nodefaults", "-m", "1024", "-kernel", "Image",
        "-append", "x", "-machine", "virt"]
    assert filter_args(["-accel", "tcg"], "kvm") == ["-accel", "kvm"]


def test_launcher_execs_the_real_binary_with_filtered_args(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    fake = real_dir / "qemu-system-x86_64"
    fake.write_text("#!/bin/sh\necho \"$@\"\n")
    fake.chmod(0o755)
    shim = install(tmp_path / "shim")
    env = dict(os.environ, PATH=f"{shim}{os.pathsep}{real_dir}",
               KGEN_QEMU_ACCEL="tcg", KGEN_QEMU_SHIM_DIR=str(shim))
    out = subprocess.run(["qemu-system-x86_64", "-accel", "kvm", "-m", "1"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["-accel", "tcg", "-m", "1"]


def test_every_arch_qemu_binary_gets_a_launcher(tmp_path):
    shim = install(tmp_path / "shim")
    for name in ("qemu-system-x86_64", "qemu-system-i386", "qemu-system-aarch64",
                 "qemu-system-arm"):
        assert os.access(shim / name, os.X_OK), name
