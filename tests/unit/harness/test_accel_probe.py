"""--accel auto: the decision, the probe's reading of a console, the cache."""
from __future__ import annotations

import subprocess
import sys

from kgen.arch import arch
from kgen.runner.harness import accel_probe
from kgen.runner.harness.accel_probe import AccelChoice, ProbeOutcome, _watch, resolve

X86, ARM = arch("x86_64"), arch("arm64")


def _image(tmp_path, data=b"bzImage"):
    img = tmp_path / "bzImage"
    img.write_bytes(data)
    return img


def _never(*_):
    raise AssertionError("no probe boot expected")


def test_explicit_choice_wins_without_probe(tmp_path):
    for accel in ("kvm", "tcg"):
        choice = resolve(accel, X86, _image(tmp_path), "7.3:cfg", tmp_path / "c.json",
                     probe=_never,
                         host_machine="x86_64", kvm_usable=lambda: None)
        assert choice.accel == accel and "given" in choice.reason


def test_foreign_arch_guest_is_tcg_without_probe(tmp_path):
    choice = resolve("auto", ARM, _image(tmp_path), "7.3:cfg", tmp_path / "c.json",
                     probe=_never,
                     host_machine="x86_64", kvm_usable=lambda: None)
    assert choice == AccelChoice("tcg", "a arm64 guest on a x86_64 host: KVM runs only "
                                        "guests of the host's arch")


def test_arm_guest_is_tcg_without_probe_on_every_host(tmp_path):
    """Linux has no KVM for 32-bit arm hosts since 5.7, and qemu-system-arm
    has none on arm64 hosts: no probe boot, whatever the host."""
    for host in ("x86_64", "aarch64", "armv7l"):
        choice = resolve("auto", arch("arm"), _image(tmp_path), "7.3:cfg",
                         tmp_path / "c.json", probe=_never,
                         host_machine=host, kvm_usable=lambda: None)
        assert choice.accel == "tcg" and not choice.probed, host


def test_i386_guest_on_x86_64_host_is_probed_like_x86_64(tmp_path):
    """KVM can run an i386 guest on an x86_64 host in principle; here it
    fails ("KVM internal error"), which the probe boot finds out."""
    seen = []

    def fails(guest, image):
        seen.append(guest.name)
        return ProbeOutcome(False, "console silent for 20 s after 40 lines")

    choice = resolve("auto", arch("i386"), _image(tmp_path), "7.3:cfg",
                     tmp_path / "c.json", probe=fails,
                     host_machine="x86_64", kvm_usable=lambda: None)
    assert seen == ["i386"] and choice.accel == "tcg" and choice.probed


def test_unusable_dev_kvm_is_tcg_without_probe(tmp_path):
    choice = resolve("auto", X86, _image(tmp_path), "7.3:cfg", tmp_path / "c.json",
                     probe=_never,
                     host_machine="x86_64",
                     kvm_usable=lambda: "/dev/kvm cannot be opened (No such file)")
    assert choice.accel == "tcg" and "/dev/kvm" in choice.reason


def test_probe_result_decides_and_is_cached_per_image(tmp_path):
    cache = tmp_path / "c.json"
    calls = []

    def hangs(guest, image):
        calls.append(image)
        return ProbeOutcome(False, "no console output in 20 s")

    kw = {"host_machine": "x86_64", "kvm_usable": lambda: None}
    first = resolve("auto", X86, _image(tmp_path), "7.3:cfg", cache, probe=hangs, **kw)
    assert (first.accel, first.probed) == ("tcg", True)
    assert first.reason == "KVM probe boot failed: no console output in 20 s"
    again = resolve("auto", X86, _image(tmp_path), "7.3:cfg", cache, probe=_never, **kw)
    assert again.accel == "tcg" and not again.probed and "(cached probe)" in again.reason
    # An edited image of the same kernel and config is not probed again ...
    same = resolve("auto", X86, _image(tmp_path, b"edited"), "7.3:cfg", cache,
                   probe=_never, **kw)
    assert same.accel == "tcg"
    # ... another kernel or config is, and a finished boot means KVM.
    boots = resolve("auto", X86, _image(tmp_path, b"other"), "7.2:cfg", cache,
                    probe=lambda g, i: ProbeOutcome(True, "reached 'Run /init'"), **kw)
    assert boots.accel == "kvm" and len(calls) == 1


def _console(script: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def test_watch_takes_a_finished_boot():
    proc = _console("print('Linux version 7.3'); print('Run /init as init process')")
    assert _watch(proc, silence=5, limit=10).booted
    proc.wait()


def test_watch_kills_a_silent_guest():
    proc = _console("import time; time.sleep(30)")
    out = _watch(proc, silence=0.5, limit=10)
    proc.kill()
    proc.wait()
    assert not out.booted and out.detail == "no console output in 0 s"


def test_watch_takes_a_stall_after_output_as_hung():
    proc = _console("import sys, time; print('Linux version 7.3', flush=True); time.sleep(30)")
    out = _watch(proc, silence=1, limit=10)
    proc.kill()
    proc.wait()
    assert not out.booted and "silent" in out.detail and "Linux version" in out.detail


def test_watch_qemu_exit_before_boot_is_a_failure():
    proc = _console("print('qemu: could not access KVM kernel module'); raise SystemExit(1)")
    out = _watch(proc, silence=5, limit=10)
    assert not out.booted and "exited (1)" in out.detail


def test_choices_default_is_auto():
    assert accel_probe.CHOICES[0] == accel_probe.AUTO
