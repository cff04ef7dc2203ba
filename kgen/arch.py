"""One description per architecture kgen builds and boots.

Every per-arch fact lives here and nowhere else: tools and their Debian
packages, the cross prefix, what Kconfig the arch cannot have or cannot
turn off, which guest layouts it cannot give, where its RAM starts, how a
boot gets more memory, the QEMU machine, and how many benchmark iterations
fit a boot.  Code asks an ``Arch`` (``arch("arm64").ram_base``) instead of
comparing names, so adding an arch means adding one entry to ``ARCHES``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kgen.errors import UsageError

# Tools every kunit.py build needs, with the Debian package that has them.
BUILD_TOOLS: dict[str, str] = {
    "gcc": "gcc", "make": "make", "flex": "flex", "bison": "bison", "bc": "bc",
    "python3": "python3",
}

# HIGHMEM exists on 32-bit arches only: a 64-bit kernel maps all memory.
_NO_HIGHMEM = "{} is 64-bit: every page has a direct map, there is no HIGHMEM"

_VMEMMAP_FORCED = ("SPARSEMEM_VMEMMAP is def_bool y once the arch selects "
                   "SPARSEMEM_VMEMMAP_ENABLE (mm/Kconfig), and {} does: its struct "
                   "pages are always virtually contiguous")

# Why an x86 guest (64- or 32-bit) cannot be given an edited device tree.
_X86_NO_DEVICE_TREE = ("x86 boots from ACPI, and initmem_init() puts NODE_DATA at each "
                       "node's top before cma= reserves anything "
                       "(arch/x86/kernel/setup.c)")

# Guest-layout features, as named by spec needs (kgen.spec.model.Need).
TWO_ZONES = "two adjacent zones"
DEVICE_TREE = "an edited device tree"


@dataclass(frozen=True)
class Arch:
    """What kgen needs to know to build, configure and boot one arch."""

    name: str                          # kunit.py --arch
    # Tools beyond BUILD_TOOLS -> Debian package.
    tools: dict[str, str] = field(default_factory=dict)
    cross_compile: str | None = None   # kunit.py --cross_compile
    # QEMU system binary; None: the kernel runs as a host process (UML).
    qemu_binary: str | None = None
    # What kunit.py's qemu_configs/<arch>.py passes for the machine; a
    # device-tree dump must see the same machine.
    qemu_machine: tuple[str, ...] = ()
    # Physical address of the first byte of guest RAM.
    ram_base: int = 0
    # Kconfig options the arch cannot have -> why.
    kconfig_limits: dict[str, str] = field(default_factory=dict)
    # Options the arch cannot turn off -> why.
    forced_on: dict[str, str] = field(default_factory=dict)
    # Guest-layout features it cannot give -> why.
    guest_limits: dict[str, str] = field(default_factory=dict)
    # kgen bench: (high-order iterations, 16384-page iterations) per boot,
    # and lib/test_vmalloc's loop count.  TCG ran the high-order loop about
    # 200x slower on arm64 than UML did, so guests get fewer.
    bench_iterations: tuple[int, int] = (1000, 10)
    vmalloc_loops: int = 1000
    # kgen bench row groups this arch cannot measure meaningfully -> why:
    # they are reported as too noisy to compare, never as numbers.
    bench_too_noisy: dict[str, str] = field(default_factory=dict)
    # Seconds without console output after which a boot counts as hung,
    # per QEMU accelerator ("" for UML).  The longest quiet stretch of a
    # healthy run is one test case; TCG emulates every instruction, so a
    # guest under it gets more.
    stall_seconds: dict[str, float] = field(default_factory=lambda: {"": 30.0})
    # Host machines (uname -m) whose KVM can run this arch's guests.
    kvm_hosts: tuple[str, ...] = ()
    # The guest's serial console and kernel image, as kunit.py's
    # qemu_configs/<arch>.py name them (for kgen's own KVM probe boot).
    console: str = ""
    kernel_image: str = ""
    # kgen run --debug: why KASAN stays off on this arch, or "" when it is on.
    debug_no_kasan: str = ""
    # Most CPUs a kgen kernel of this arch boots: its CONFIG_NR_CPUS
    # default (the kernel clamps ncpus= to it silently), else a bound
    # that keeps TCG guests' vCPU threads near the host's cores.
    max_cpus: int = 8

    @property
    def uses_qemu(self) -> bool:
        return self.qemu_binary is not None

    @property
    def shapes_guests(self) -> bool:
        """Whether a spec's guest layout (memory, nodes, device tree) can be
        booted: only a QEMU guest can be shaped."""
        return self.uses_qemu

    def memory_args(self, memory_mb: int) -> tuple[list[str], list[str]]:
        """(kernel args, QEMU args) that give a boot memory_mb of RAM."""
        if self.uses_qemu:
            return [], ["-m", str(memory_mb)]
        return [f"mem={memory_mb}M"], []

    def cpu_args(self, cpus: int) -> tuple[list[str], list[str]]:
        """(kernel args, QEMU args) that boot cpus CPUs.

        UML starts one host thread per CPU (ncpus=), and only in seccomp
        mode: with ptrace userspace its os_early_checks() refuses ncpus > 1.
        """
        if cpus <= 1:
            return [], []
        if self.uses_qemu:
            # One socket per CPU: a guest layout puts CPU i on node i %
            # nodes, and x86 WARNs (topology_sane(), smpboot.c) when CPUs
            # of one package sit on different nodes.
            return [], ["-smp", f"{cpus},sockets={cpus},cores=1,threads=1"]
        return [f"ncpus={cpus}", "seccomp=on"], []

    def default_stall_seconds(self, accel: str) -> float:
        """How long a boot of this arch may print nothing before it is stopped."""
        return self.stall_seconds[accel if self.uses_qemu else ""]

    def all_tools(self) -> dict[str, str]:
        return dict(BUILD_TOOLS, **self.tools)


ARCHES: dict[str, Arch] = {a.name: a for a in (
    Arch(
        name="um",
        kconfig_limits={
            "MEMORY_FAILURE": "UML has no MEMORY_FAILURE (no ARCH_SUPPORTS_MEMORY_FAILURE)",
            "NUMA": "UML has no NUMA",
            "SPARSEMEM": "UML is FLATMEM: it has no memory sections",
            "DMA_CMA": ("UML has no DMA API (no HAS_DMA), so no DMA_CMA and no default "
                        "CMA area (cma=)"),
            "HIGHMEM": "UML has no HIGHMEM",
        },
        guest_limits={
            TWO_ZONES: ("UML has one node and one zone, ZONE_NORMAL (arch/um/kernel/mem.c), "
                        "and ignores movablecore= (its setup_arch() never parses early "
                        "params)"),
            DEVICE_TREE: "UML boots without a device tree",
        },
        bench_iterations=(5000, 20),
        vmalloc_loops=1000,
        # Decided by arch, not by a CV threshold: UML's vmalloc maps every
        # page with a host mmap()/munmap() call, so these rows time the
        # host's syscalls and scheduler (CV 6-131 % per row over 10 boots of
        # 7.3), and a row that happens to be quiet (fix_size p:512, 6 %)
        # times the host just the same.  A threshold would also let a row
        # flip between number and "noisy" from run to run.
        bench_too_noisy={"test_vmalloc": "too noisy on UML (host mmap)"},
        # arch/um/Kconfig: NR_CPUS_DEFAULT is 2 with SMP.
        max_cpus=2,
        debug_no_kasan=("7.3.4's UML with KASAN and init_on_free=1 (which kgen boots with) "
                        "reports a slab-out-of-bounds write in kfree() from "
                        "apply_wqattrs_cleanup() during boot, before any test: every "
                        "--debug run would fail on a pristine tree"),
    ),
    Arch(
        name="x86_64",
        tools={"qemu-system-x86_64": "qemu-system-x86"},
        qemu_binary="qemu-system-x86_64",
        kconfig_limits={"HIGHMEM": _NO_HIGHMEM.format("x86_64")},
        forced_on={"SPARSEMEM_VMEMMAP": _VMEMMAP_FORCED.format("x86_64")},
        guest_limits={
            DEVICE_TREE: _X86_NO_DEVICE_TREE,
        },
        bench_iterations=(2000, 10),
        vmalloc_loops=5000,
        stall_seconds={"kvm": 30.0, "tcg": 60.0},
        kvm_hosts=("x86_64",),
        console="console=ttyS0",
        kernel_image="arch/x86/boot/bzImage",
    ),
    Arch(
        name="i386",
        # qemu-system-i386 is in the same Debian package as
        # qemu-system-x86_64; the host's gcc builds x86_32 with -m32.
        tools={"qemu-system-i386": "qemu-system-x86"},
        qemu_binary="qemu-system-i386",
        kconfig_limits={
            "MEMORY_FAILURE": ("x86_32 with SPARSEMEM has no MEMORY_FAILURE: "
                               "X86_SUPPORTS_MEMORY_FAILURE depends on X86_64 || "
                               "!SPARSEMEM (arch/x86/Kconfig: SECTIONS_WIDTH leaves no "
                               "room in page flags), and kgen's i386 is SPARSEMEM for "
                               "its section boundaries"),
            "NUMA": "x86_32 has no NUMA (arch/x86/Kconfig: NUMA depends on X86_64)",
            "SPARSEMEM_VMEMMAP": ("x86_32 selects SPARSEMEM_STATIC, never "
                                  "SPARSEMEM_VMEMMAP_ENABLE (arch/x86/Kconfig, "
                                  "ARCH_SPARSEMEM_ENABLE)"),
        },
        guest_limits={
            DEVICE_TREE: _X86_NO_DEVICE_TREE,
        },
        bench_iterations=(2000, 10),
        vmalloc_loops=5000,
        # Measured like x86_64: KVM fails on an i386 guest here ("KVM
        # internal error. Suberror: 1" on an rdrand), so TCG it is.
        stall_seconds={"kvm": 30.0, "tcg": 60.0},
        kvm_hosts=("x86_64", "i686"),
        console="console=ttyS0",
        kernel_image="arch/x86/boot/bzImage",
        debug_no_kasan="x86_32 has no KASAN (arch/x86/Kconfig: HAVE_ARCH_KASAN if X86_64)",
        # arch/x86/Kconfig: NR_CPUS_RANGE_END and NR_CPUS_DEFAULT are 8 on
        # X86_32 with SMP.
        max_cpus=8,
    ),
    Arch(
        name="arm64",
        tools={"qemu-system-aarch64": "qemu-system-arm",
               "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu"},
        cross_compile="aarch64-linux-gnu-",
        qemu_binary="qemu-system-aarch64",
        qemu_machine=("-nodefaults", "-machine", "virt", "-cpu", "max"),
        # QEMU virt puts RAM at 1 GiB (hw/arm/virt.c, VIRT_MEM).
        ram_base=0x4000_0000,
        kconfig_limits={"HIGHMEM": _NO_HIGHMEM.format("arm64")},
        forced_on={"SPARSEMEM_VMEMMAP": _VMEMMAP_FORCED.format("arm64")},
        bench_iterations=(300, 3),
        vmalloc_loops=500,
        # arm64 under TCG runs the same loops 10-20x slower than x86_64 TCG.
        stall_seconds={"kvm": 30.0, "tcg": 90.0},
        kvm_hosts=("aarch64", "arm64"),
        console="console=ttyAMA0",
        kernel_image="arch/arm64/boot/Image.gz",
    ),
    Arch(
        name="arm",
        # 32-bit arm (ARMv7, QEMU virt's default cortex-a15), cross-built
        # with Debian's gcc-arm-linux-gnueabihf.  LPAE, HIGHMEM and classic
        # SPARSEMEM: kernel/kunit/configs/arm.config.
        tools={"qemu-system-arm": "qemu-system-arm",
               "arm-linux-gnueabihf-gcc": "gcc-arm-linux-gnueabihf"},
        cross_compile="arm-linux-gnueabihf-",
        qemu_binary="qemu-system-arm",
        # kunit.py's qemu_configs/arm.py: -machine virt, QEMU's default CPU.
        qemu_machine=("-machine", "virt"),
        # QEMU virt puts RAM at 1 GiB (hw/arm/virt.c, VIRT_MEM), as on arm64.
        ram_base=0x4000_0000,
        kconfig_limits={
            "MEMORY_FAILURE": ("arm32 does not select ARCH_SUPPORTS_MEMORY_FAILURE "
                               "(arch/arm/Kconfig), so it has no MEMORY_FAILURE"),
            "NUMA": "arm32 has no NUMA (no `config NUMA` in arch/arm/Kconfig)",
            "SPARSEMEM_VMEMMAP": ("arm32's ARCH_SPARSEMEM_ENABLE selects "
                                  "SPARSEMEM_STATIC, never SPARSEMEM_VMEMMAP_ENABLE "
                                  "(arch/arm/Kconfig)"),
        },
        guest_limits={
            # What kgen edits a device tree for: reusable regions at node
            # boundaries (NUMA) and a dma-ranges end of ZONE_DMA.
            DEVICE_TREE: ("arm32 has no NUMA, and takes ZONE_DMA's size from the machine "
                          "descriptor (arch/arm/mm/init.c), never from dma-ranges"),
        },
        # Not measured on arm: arm64's counts (both are TCG guests here).
        bench_iterations=(300, 3),
        vmalloc_loops=500,
        stall_seconds={"kvm": 30.0, "tcg": 90.0},
        # Linux dropped KVM for 32-bit arm hosts (5.7), and qemu-system-arm
        # has no KVM on arm64 hosts: always TCG.
        kvm_hosts=(),
        console="console=ttyAMA0",
        kernel_image="arch/arm/boot/zImage",
        # arm has HAVE_ARCH_KASAN.  One pristine --debug run with it on
        # 7.3.4 passed (201 passed, 0 failed, 99 skipped; build 310 s, run
        # 422 s cold); one run is not yet evidence against false alarms,
        # so it stays off until repeated runs are.
        debug_no_kasan=("KASAN on arm32 (HAVE_ARCH_KASAN) has passed one pristine kgen "
                        "run, too few to rule out false alarms; off until more have"),
        # arch/arm/Kconfig: NR_CPUS defaults to 4 with SMP.
        max_cpus=4,
    ),
)}
ARCH_NAMES = tuple(ARCHES)
DEFAULT_ARCH = "um"
# CPUs a kgen run boots by default (kgen run --cpus).  The free path is
# per-CPU lists, zone->lock and remote drains; one CPU exercises none of
# their concurrency.  Two: this machine kind has two cores, and MTTCG runs
# one vCPU per host thread.
DEFAULT_CPUS = 2


def arch(name: str) -> Arch:
    """The Arch called name, or a UsageError naming the known ones."""
    try:
        return ARCHES[name]
    except KeyError:
        raise UsageError(f"unknown arch {name!r}: kgen knows {', '.join(ARCH_NAMES)}") from None
