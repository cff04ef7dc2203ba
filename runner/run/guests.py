"""Suites that boot in a guest layout of their own (spec `guest:`).

Such a suite skips in the main boot ("runs only in a boot with guest
layout ...") and gets its own boot here, in the QEMU memory/NUMA layout
and, on arm64, the edited device tree its spec declares.  Its results then
replace the main boot's placeholders (reconcile.py).
"""
from __future__ import annotations

from kgen.errors import EnvironmentProblem
from kgen.runner.harness import guest_dtb
from kgen.runner.results.model import ResultKind, RunResult
from kgen.runner.run import recovery
from kgen.runner.run.boots import BootArgs, Booter, error_result
from kgen.runner.run.plan import GuestBoot
from kgen.runner.run.reconcile import Boot, GuestBooted

# Guest-layout suites free across zone and node boundaries under zone->lock.
# An oops there leaves the lock held and every later case hangs until
# kunit.py's timeout; panicking instead ends the boot at once, and recovery
# boots again for the cases that did not run.
GUEST_PANIC_ARGS = ["oops=panic", "panic=-1"]


def layout(guest: GuestBoot) -> str:
    """The layout as one line, for logs and properties."""
    return " ".join(guest.qemu_args + guest.kernel_args)


def _not_booted(guest: GuestBoot, kind: str, name: str, message: str) -> GuestBooted:
    """A guest boot that did not happen: the error that says why."""
    return GuestBooted(guest, layout(guest), Boot(RunResult(errors=[
        error_result(name, kind, message, [])])))


def boot_guests(booter: Booter, guests: list[GuestBoot], props: dict[str, str],
                accel: str) -> tuple[GuestBooted, ...]:
    """Boot each guest layout in turn, with recovery."""
    log = booter.session.config.log
    out = []
    for number, guest in enumerate(guests, 1):
        if booter.time_left() <= 0:
            out.append(_not_booted(
                guest, ResultKind.NOT_RUN, "not-booted",
                "not run: the run's --timeout was used up before this guest boot"))
            continue
        log(f"kgen: booting {guest.suite} in its guest layout: {layout(guest)}")
        try:
            qemu_args = guest.qemu_args + _device_tree_args(booter, guest, accel)
        except EnvironmentProblem as err:
            # The other suites' results stand; this one cannot boot.
            out.append(_not_booted(guest, ResultKind.BOOT, "device-tree", str(err)))
            continue
        stem = f"console.guest{number}"
        kernel_args = guest.kernel_args + GUEST_PANIC_ARGS

        def again(glob: str, rerun: int, stem=stem, qemu_args=qemu_args,
                  kernel_args=kernel_args) -> RunResult:
            log(f"kgen: booting the guest layout again for {glob} (not run after a crash)")
            return booter.boot(BootArgs(f"{stem}.rerun{rerun}.log", glob,
                                        kernel_args, qemu_args))

        booted = booter.boot(BootArgs(f"{stem}.log", guest.suite, kernel_args, qemu_args))
        recovered = recovery.recover(booted, again, booter.time_left)
        out.append(GuestBooted(guest, layout(guest), recovered))
        props[f"guest.{guest.suite}"] = layout(guest)
        if recovered.reruns:
            props[f"guest.{guest.suite}.reboots"] = str(len(recovered.reruns))
    return tuple(out)


def _device_tree_args(booter: Booter, guest: GuestBoot, accel: str) -> list[str]:
    if not guest.device_tree:
        return []
    dtb = guest_dtb.build(booter.session.target.arch, guest.qemu_args, guest.cma_regions,
                          booter.session.path(f"{guest.suite}.dtb"), accel, guest.dma_limit)
    return ["-dtb", str(dtb)]
