"""Choose KVM or TCG for a QEMU guest: ``--accel auto``.

On a workstation with working KVM a guest runs many times faster than under
TCG.  On a cloud VM with nested KVM that lacks CPU features the guest needs,
a 7.3 x86_64 guest started with KVM hangs at 100 % CPU and prints nothing.
So kgen does not trust /dev/kvm: it boots the built kernel once under KVM
with the tests disabled and takes KVM only if that boot reaches the end of
init.  Anything else (no /dev/kvm, a guest of another arch, QEMU refusing
KVM, silence, a stall) means TCG, with one line saying why.

The answer is cached per host and kernel: kernel version and .config, not
the image's bytes, since whether KVM can run a kernel does not change when
a test or mm/page_alloc.c is edited, and the edit-run loop must not pay for
a probe every time.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import select
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kgen.arch import Arch

AUTO = "auto"
CHOICES = (AUTO, "kvm", "tcg")

# Lines that show the guest finished booting: with the tests off and no
# root file system, a kunit kernel either starts init or panics looking for
# a root; either way the whole boot ran under KVM.
BOOTED = re.compile(r"Run /init as init process|Freeing unused kernel|"
                    r"VFS: Unable to mount root|Kernel panic - not syncing")
# A guest that prints nothing at all for this long is taken as hung.
SILENCE_SECONDS = 20.0
# A guest that prints but has not finished booting by then is taken as hung.
BOOT_SECONDS = 90.0


@dataclass(frozen=True)
class AccelChoice:
    """The accelerator a session's boots use, and why."""

    accel: str
    reason: str
    probed: bool = False   # a probe boot ran now (not cached, not decided up front)


@dataclass(frozen=True)
class ProbeOutcome:
    """What one KVM probe boot showed."""

    booted: bool
    detail: str


def resolve(requested: str, guest: Arch, image: Path, identity: str, cache_file: Path,
            probe: Callable[[Arch, Path], ProbeOutcome] | None = None,
            host_machine: str | None = None,
            kvm_usable: Callable[[], str | None] | None = None) -> AccelChoice:
    """The accelerator for boots of image on guest's arch.

    An explicit kvm or tcg always wins.  For auto: KVM only for a guest of
    the host's own arch, with /dev/kvm usable, and a probe boot (or a cached
    probe of the same image on the same host) that finished booting.
    """
    if requested != AUTO:
        return AccelChoice(requested, f"--accel {requested} given")
    host_machine = host_machine or platform.machine()
    if host_machine not in guest.kvm_hosts:
        return AccelChoice("tcg", f"a {guest.name} guest on a {host_machine} host: "
                                  "KVM runs only guests of the host's arch")
    blocked = (kvm_usable or _kvm_usable)()
    if blocked:
        return AccelChoice("tcg", blocked)
    key = _cache_key(guest, identity)
    cached = _load(cache_file).get(key)
    if cached:
        return AccelChoice(cached["accel"], cached["reason"] + " (cached probe)")
    outcome = (probe or probe_kvm)(guest, image)
    choice = (AccelChoice("kvm", f"KVM probe boot finished: {outcome.detail}", probed=True)
              if outcome.booted else
              AccelChoice("tcg", f"KVM probe boot failed: {outcome.detail}", probed=True))
    _store(cache_file, key, choice)
    return choice


def _kvm_usable() -> str | None:
    """None if /dev/kvm can be opened read-write, else why not."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as err:
        return f"/dev/kvm cannot be opened ({err.strerror})"
    os.close(fd)
    return None


def probe_kvm(guest: Arch, image: Path, silence: float = SILENCE_SECONDS,
              limit: float = BOOT_SECONDS) -> ProbeOutcome:
    """Boot image under KVM with the tests off; kill it when it goes quiet.

    Booted means a line of BOOTED appeared before limit, without a silence
    of silence seconds first.
    """
    cmd = [guest.qemu_binary or "", "-nodefaults", "-m", "512", "-kernel", str(image),
           "-append", f"{guest.console} kunit.enable=0 panic=-1", "-no-reboot",
           "-nographic", "-accel", "kvm", "-serial", "stdio", *guest.qemu_machine]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as err:
        return ProbeOutcome(False, f"{cmd[0]} did not start ({err.strerror})")
    try:
        return _watch(proc, silence, limit)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _watch(proc: subprocess.Popen, silence: float, limit: float) -> ProbeOutcome:
    start = last = time.monotonic()
    lines: list[str] = []
    pending = b""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    while True:
        now = time.monotonic()
        if now - start > limit:
            return ProbeOutcome(False, f"{len(lines)} console lines but no finished boot "
                                       f"in {limit:.0f} s (last: {_last(lines)})")
        if now - last > silence:
            what = (f"no console output in {silence:.0f} s" if not lines else
                    f"console silent for {silence:.0f} s after {len(lines)} lines "
                    f"(last: {_last(lines)})")
            return ProbeOutcome(False, what)
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            proc.wait()
            return ProbeOutcome(False, f"QEMU exited ({proc.returncode}) before the guest "
                                       f"finished booting (last: {_last(lines)})")
        last = time.monotonic()
        pending += chunk
        *done, pending = pending.split(b"\n")
        for raw in done:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if BOOTED.search(line):
                return ProbeOutcome(True, f"reached {line.strip()[:80]!r} in "
                                          f"{time.monotonic() - start:.1f} s")


def _last(lines: list[str]) -> str:
    return repr(lines[-1].strip()[:80]) if lines else "none"


def _cache_key(guest: Arch, identity: str) -> str:
    """Host (kernel, CPU model, QEMU binary) and the guest kernel's identity."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    host = f"{platform.node()}|{platform.release()}|{cpu}|{guest.qemu_binary}"
    return f"{guest.name}:{digest}:{hashlib.sha256(host.encode()).hexdigest()[:16]}"


def _load(cache_file: Path) -> dict:
    try:
        return json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}


def _store(cache_file: Path, key: str, choice: AccelChoice) -> None:
    data = _load(cache_file)
    data[key] = {"accel": choice.accel, "reason": choice.reason}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(cache_file.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(cache_file)
