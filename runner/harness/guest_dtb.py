"""arm64 guest device trees with reusable (CMA) regions at node boundaries.

QEMU virt builds the guest's device tree itself.  To keep boot-time
allocations (NODE_DATA, the memmap, both placed top-down in each node) off
the pages around a node boundary, kgen asks QEMU for that tree
(`-machine dumpdtb=`), adds a `shared-dma-pool` reusable reserved-memory
region around each boundary, and boots with `-dtb`.  The kernel reserves
such regions while scanning the tree, before NUMA setup.  A region that
spans two zones cannot become a CMA area: cma_activate_area() then gives
all its pages to the buddy allocator ("Expose all pages to the buddy"), so
a test finds them free on both sides of the boundary.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from kgen.arch import Arch
from kgen.errors import EnvironmentProblem


def _cells(value: int) -> str:
    return f"{value >> 32:#x} {value & 0xffffffff:#x}"


def dma_limit_dts(limit: int) -> str:
    """A node whose dma-ranges make ZONE_DMA end at limit.

    arm64 takes the DMA zone's end from the lowest "highest CPU address a
    DMA master can reach" in the tree (of_dma_get_max_cpu_address()), so one
    bus node that maps [0, limit) is enough.
    """
    return "\n".join(["", "/ {", "\tkgen-dma-limit {", "\t\t#address-cells = <2>;",
                      "\t\t#size-cells = <2>;", "\t\tranges;",
                      f"\t\tdma-ranges = <0x0 0x0 0x0 0x0 {_cells(limit)}>;",
                      "\t};", "};", ""])


def reserved_memory_dts(regions: list[tuple[int, int]]) -> str:
    """A dts overlay fragment (merged by dtc) declaring the regions."""
    if not regions:
        return ""
    lines = ["", "/ {", "\treserved-memory {", "\t\t#address-cells = <2>;",
             "\t\t#size-cells = <2>;", "\t\tranges;"]
    for start, size in regions:
        lines += [f"\t\tkgen-cma@{start:x} {{",
                  '\t\t\tcompatible = "shared-dma-pool";',
                  "\t\t\treusable;",
                  f"\t\t\treg = <{_cells(start)} {_cells(size)}>;",
                  "\t\t};"]
    lines += ["\t};", "};", ""]
    return "\n".join(lines)


def _run(cmd: list[str], what: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"{what}: {cmd[0]} did not finish within 120 s") from None
    except FileNotFoundError:
        package = "device-tree-compiler" if cmd[0] == "dtc" else "qemu-system-arm"
        raise EnvironmentProblem(f"{what}: {cmd[0]} not found "
                                 f"(apt-get install {package})") from None
    if done.returncode:
        raise EnvironmentProblem(f"{what} failed: {' '.join(cmd)}\n{done.stderr.strip()}")
    return done.stdout


def build(guest: Arch, qemu_args: list[str], regions: list[tuple[int, int]], out: Path,
          accel: str = "tcg", dma_limit: int | None = None) -> Path:
    """Write out (a .dtb) for a guest of arch guest booted with qemu_args;
    return it.  Only arm64 guests get one (Arch.guest_limits: x86 boots
    from ACPI).

    The accelerator is the boot's own: with KVM QEMU describes a different
    GIC and PMU, and the tree must match the machine that boots it.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    dumped = out.with_suffix(".qemu.dtb")
    _run([guest.qemu_binary, *guest.qemu_machine, "-accel", accel, *qemu_args, "-nographic",
          "-machine", f"dumpdtb={dumped}"], "dumping QEMU's device tree")
    dts = _run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(dumped)], "decompiling it")
    if regions and "reserved-memory" in dts:
        raise EnvironmentProblem("QEMU's device tree already has /reserved-memory; "
                                 "kgen does not merge into it")
    if dma_limit and "dma-ranges" in dts:
        raise EnvironmentProblem("QEMU's device tree already has dma-ranges; "
                                 "kgen does not merge into them")
    source = out.with_suffix(".dts")
    source.write_text(dts + reserved_memory_dts(regions)
                      + (dma_limit_dts(dma_limit) if dma_limit else ""))
    _run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(out), str(source)],
         "compiling the device tree with kgen's regions")
    return out
