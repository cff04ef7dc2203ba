"""Typed model of a loaded, validated spec (format v1).

The loader builds these from YAML; the generator renders them.  Every value
here has been checked, so the generator can trust names to be C identifiers
and numbers to be in range.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgen import families
from kgen import protocol as P
from kgen.arch import DEVICE_TREE
from kgen.kernel_range import KernelRange

# Spec name of a free API -> the C enum value the helper library expects.
FREE_APIS: dict[str, str] = {
    "free_contig_range": "KGEN_FREE_CONTIG_RANGE",
    "__free_contig_range": "KGEN_FREE___CONTIG_RANGE",
    "free_pages_bulk": "KGEN_FREE_PAGES_BULK",
    "free_page_loop": "KGEN_FREE_PAGE_LOOP",
    "free_contig_frozen_range": "KGEN_FREE_CONTIG_FROZEN_RANGE",
    "vfree": "KGEN_FREE_VFREE",       # vmalloc family calls vfree() itself
    "free_pages_nolock": "KGEN_FREE_PAGES_NOLOCK",
    "free_frozen_pages_nolock": "KGEN_FREE_FROZEN_PAGES_NOLOCK",
    "cma_release": "KGEN_FREE_CMA_RELEASE",
    "cma_release_frozen": "KGEN_FREE_CMA_RELEASE_FROZEN",
}
# Free APIs that take frozen pages (refcount 0), and only those.
FROZEN_APIS = ("free_contig_frozen_range", "free_frozen_pages_nolock", "cma_release_frozen")
# Free APIs that give pages back to the CMA area they came from: the only
# way to free a span taken from it (the area's bitmap must be cleared too).
CMA_APIS = ("cma_release", "cma_release_frozen")

# Spec context -> C enum kgen_free_context (kgen_context.c).
FREE_CONTEXTS: dict[str, str] = {
    "process": "KGEN_CTX_PROCESS",
    "spinlock": "KGEN_CTX_SPINLOCK",
    "raw_spinlock": "KGEN_CTX_RAW_SPINLOCK",
    "irqs_off": "KGEN_CTX_IRQS_OFF",
    "bh_off": "KGEN_CTX_BH_OFF",
    "hardirq": "KGEN_CTX_HARDIRQ",
}
# The contexts each free API's kernel-doc allows besides process context.
# The contiguous frees and __free_pages() "may be called in interrupt
# context or while holding a normal spinlock, but not in NMI context or
# while holding a raw spinlock"; the _nolock frees "can be called while
# holding raw_spin_lock or from IRQ and NMI" (NMI is not reachable from a
# KUnit case).  free_pages_bulk() calls cond_resched(), and vfree() defers
# to a work item in interrupt context (the vmalloc family's bh_disabled).
_ATOMIC = ("spinlock", "irqs_off", "bh_off", "hardirq")
API_CONTEXTS: dict[str, tuple[str, ...]] = {
    "free_contig_range": _ATOMIC,
    "__free_contig_range": _ATOMIC,
    "free_contig_frozen_range": _ATOMIC,
    "free_page_loop": _ATOMIC,
    "free_pages_nolock": _ATOMIC + ("raw_spinlock",),
    "free_frozen_pages_nolock": _ATOMIC + ("raw_spinlock",),
    "free_pages_bulk": (),
    "vfree": (),
    # cma_release()'s kernel-doc names no context; kgen calls it as its
    # callers (dma_free_contiguous(), hugetlb) do: from process context.
    "cma_release": (),
    "cma_release_frozen": (),
}


def context_refusal(api: str, context: str) -> str | None:
    """Why api cannot be called from context (per its kernel-doc), or None."""
    if context == "process" or context in API_CONTEXTS.get(api, ()):
        return None
    allowed = ", ".join(("process",) + API_CONTEXTS.get(api, ()))
    return f"{api}() cannot be called with context {context}: its kernel-doc allows {allowed}"


class NeedKind(enum.StrEnum):
    """What kind of thing a case needs."""

    KCONFIG = "kconfig"          # CONFIG_<name>=y
    KCONFIG_OFF = "kconfig_off"  # must be unset (a misuse that BUGs under DEBUG_VM)
    API = "api"                  # declared in the tree's headers
    SYMBOL = "symbol"            # a constant (vmstat item, flag) the tree declares
    BEHAVIOUR = "behaviour"      # the tree's code must not act as <name> says
    ARCH = "arch"                # one of Need.arches
    GUEST = "guest"              # a QEMU guest layout feature, e.g. two zones
    CPUS = "cpus"                # at least int(name) CPUs in the boot


@dataclass(frozen=True, order=True)
class Need:
    """Something a case needs from the kernel tree, its config or the arch."""

    kind: NeedKind
    name: str                    # option, API or guest feature; "" for ARCH
    why: str = ""
    arches: tuple[str, ...] = ()  # ARCH: the arches the case can run on

    def __str__(self) -> str:
        if self.kind == NeedKind.KCONFIG:
            return f"CONFIG_{self.name}"
        if self.kind == NeedKind.KCONFIG_OFF:
            return f"CONFIG_{self.name}=n"
        if self.kind == NeedKind.ARCH:
            return "arch " + " or ".join(self.arches)
        if self.kind == NeedKind.GUEST:
            return f"a guest with {self.name}"
        if self.kind == NeedKind.CPUS:
            return f"{self.name} CPUs"
        if self.kind == NeedKind.SYMBOL:
            return self.name
        if self.kind == NeedKind.BEHAVIOUR:
            return self.why
        return f"{self.name}()"

# Behaviour a tree may have that some cases cannot run against (probed in
# kgen.target.capabilities): before the batched free (Linux 6.12)
# free_contig_range() WARNs about every page with other references.
FREE_CONTIG_RANGE_WARNS_IN_USE = "free_contig_range_warns_in_use"
# Behaviour an expectation needs (probed the same way): the batched free
# (Linux 7.2+), which hands aligned chunks of a run to the allocator at
# once, and a vfree() that frees through it.  Before it (6.12) both free
# page by page, and expect.batched has nothing to check.
BATCHED_FREE = "batched_free"
BATCHED_VFREE = "batched_vfree"
# ... and a vrealloc() whose shrink frees the dropped tail pages (7.2+;
# before, the area kept them until vfree()).
VREALLOC_FREES_TAIL = "vrealloc_frees_tail"
# ... and pcp lists in use: without them every free goes straight to the
# buddy, where a batched and a per-page free end in the same state.
PCP_LISTS = "pcp_lists"
# Free APIs that batch; free_page_loop is the per-page reference.
BATCHED_APIS = ("free_contig_range", "__free_contig_range", "free_pages_bulk",
                "free_contig_frozen_range", "vfree", "cma_release", "cma_release_frozen")

# "merged: max" - every freed page in the largest block the holes allow.
MERGED_MAX = -1

# An expected splat count of "one per bad_state page of the variant": the
# default for bad_state cases, where free_pages_prepare() reports each
# refused page once (bad_page(), mm/page_alloc.c).
PER_BAD_PAGE = -1
BAD_PAGE_STATE = "Bad page state"


@dataclass(frozen=True)
class Selector:
    """A set of span pages: first, last, middle, one index, every Nth."""

    kind: str          # "first" | "last" | "middle" | "index" | "every"
    arg: int = 0

    def describe(self) -> str:
        if self.kind == "index":
            return str(self.arg)
        if self.kind == "every":
            return f"every{self.arg}"
        return self.kind

    def indices(self, nr_pages: int) -> set[int]:
        """Span indices this selector picks (mirrors kgen_sel_match in C)."""
        if self.kind == "first":
            return {0}
        if self.kind == "last":
            return {nr_pages - 1}
        if self.kind == "middle":
            return {nr_pages // 2}
        if self.kind == "index":
            return {self.arg} if self.arg < nr_pages else set()
        return set(range(0, nr_pages, self.arg))


@dataclass(frozen=True)
class KnownIssue:
    """A failure kgen knows about (spec `known_issue:`): reported as such,
    not failing the run; passing again is what fails it."""

    reason: str
    link: str = ""
    kernels: KernelRange | None = None   # None: every kernel
    line: int = 0                        # where the spec declares it

    def applies_to(self, kernel_version: str) -> bool:
        """Whether the issue is expected on this kernel."""
        return self.kernels is None or self.kernels.matches(kernel_version)


@dataclass(frozen=True)
class Axis:
    """One of a family's own sweep keys, as a variant holds it."""

    key: str           # the spec key (sweep.<key>, span.<key>)
    label: str         # its name in the KUnit parameter description
    value: Any


@dataclass(frozen=True)
class Variant:
    """One concrete run of a case: a point in its sweep."""

    order: int
    free: str
    hold: tuple[Selector, ...] = ()
    hold_refs: int = 1
    spoil: tuple[Selector, ...] = ()
    # The family's own sweep keys (pages, layout, pages_each_side ...).
    axes: tuple[Axis, ...] = ()
    # Pages the case frees; the family says how its keys make it.
    nr_pages: int = 1
    # The case's known issue for this parameter (spec `known_issue:`, the
    # first whose `when` it matches), if any.
    known_issue: KnownIssue | None = None

    def axis(self, key: str) -> Any:
        """The value of one of the family's sweep keys, or None."""
        return next((a.value for a in self.axes if a.key == key), None)

    def held_indices(self) -> set[int]:
        return _union(self.hold, self.nr_pages)

    def spoiled_indices(self) -> set[int]:
        return _union(self.spoil, self.nr_pages)

    def describe(self, keys: tuple[str, ...]) -> str:
        """KUnit parameter description naming the swept values."""
        parts = []
        for key in keys:
            if key == "order":
                parts.append(f"order={self.order}")
            elif key == "free":
                parts.append(f"free={self.free}")
            elif key == "hold":
                held = "+".join(s.describe() for s in self.hold) or "none"
                parts.append(f"hold={held}")
            elif key == "hold_refs":
                parts.append(f"refs={self.hold_refs}")
            elif key in ("poison", "bad_state"):
                spoiled = "+".join(s.describe() for s in self.spoil) or "none"
                parts.append(f"{key}={spoiled}")
            else:
                parts += [f"{a.label}={a.value}" for a in self.axes if a.key == key]
        return ",".join(parts)


def splat_counts(splats: tuple[tuple[str, int], ...], variant: Variant) -> dict[str, int]:
    """Expect.splats for one variant: kind -> exact number of reports."""
    return {kind: len(variant.spoiled_indices()) if count == PER_BAD_PAGE else count
            for kind, count in splats}


def _union(selectors: tuple[Selector, ...], nr_pages: int) -> set[int]:
    out: set[int] = set()
    for sel in selectors:
        out |= sel.indices(nr_pages)
    return out


@dataclass(frozen=True)
class Expect:
    """Which contract checks a case makes (see spec/README.md)."""

    freed: bool = True
    retained: bool = True
    held_refcount: int | None = None   # None: the refs the test took
    released: bool = True
    merged: int | None = MERGED_MAX    # None: not checked
    nr_free_pages: bool | int = True   # True: exactly the pages freed
    balanced: bool = True
    guards: bool = True
    no_warning: bool = True
    leaked: bool = True
    nr_vmalloc: bool = True            # vmalloc: NR_VMALLOC balanced
    no_straddle: bool = True           # boundary: no block holds two zones
    zones_kept: bool = True            # boundary: pages keep zone and node
    warnings: int | None = None        # WARN*() count a misuse must cause
    # Console reports the case must cause: (kind, exact count or PER_BAD_PAGE).
    splats: tuple[tuple[str, int], ...] = ()
    prepared: bool = True              # freed pages went through free_pages_prepare()
    batched: bool = True               # freed in whole chunks, seen before a drain
    pgfree: bool = True                # PGFREE rose by exactly the pages freed
    nr_free_cma: bool = False          # NR_FREE_CMA_PAGES rose by the CMA pages freed


@dataclass(frozen=True)
class ExplicitNeeds:
    """What a spec asks for beyond what kgen derives from it."""

    kconfig: tuple[str, ...] = ()
    memory_mb: int | None = None
    kernel_args: tuple[str, ...] = ()
    kconfig_off: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Guest:
    """A QEMU guest layout a suite boots in (spec `guest:`)."""

    memory_mb: int | None = None
    nodes_mb: tuple[int, ...] = ()
    movablecore_mb: int | None = None
    boundary_cma_mb: int | None = None
    dma_limit_mb: int | None = None
    cma_mb: int | None = None          # cma=<n>M: the default CMA area

    @property
    def device_tree(self) -> bool:
        """Whether kgen must edit QEMU's device tree for this layout."""
        return bool(self.boundary_cma_mb or self.dma_limit_mb)

    def cma_regions(self, ram_base: int) -> list[tuple[int, int]]:
        """(start, size) in bytes of the reusable region around each node
        boundary, for RAM laid out from ram_base in node order.

        CMA regions must be aligned to a pageblock: at most MAX_PAGE_ORDER,
        4 MiB on arm64 with 4K pages (2 MiB with kgen's HUGETLBFS), so the
        region is rounded out to 4 MiB on both ends, which suits either.
        """
        if not self.boundary_cma_mb:
            return []
        align, half = 4 << 20, (self.boundary_cma_mb << 20) // 2
        regions, boundary = [], ram_base
        for node_mb in self.nodes_mb[:-1]:
            boundary += node_mb << 20
            start = (boundary - half) // align * align
            end = -(-(boundary + half) // align) * align
            regions.append((start, end - start))
        return regions

    @property
    def total_mb(self) -> int | None:
        return self.memory_mb or (sum(self.nodes_mb) if self.nodes_mb else None)

    def qemu_args(self, cpus: int = 1) -> list[str]:
        """Memory and NUMA arguments; a later -m overrides kunit.py's.

        Every CPU sits on node 0 (QEMU refuses to leave CPUs out of the
        NUMA map in later versions).  With a CPU on node 1, its boot-time
        per-CPU allocations land at the start of node 1, and on arm64
        alloc_contig_range() then found the aligned node boundary busy
        (-EBUSY) in 7 of 8 boots: the layout is about that boundary.
        """
        args = ["-m", str(self.total_mb)] if self.total_mb else []
        for nid, size in enumerate(self.nodes_mb):
            where = f",cpus=0-{cpus - 1}" if nid == 0 and cpus > 1 else \
                ",cpus=0" if nid == 0 else ""
            args += ["-object", f"memory-backend-ram,id=kgen-mem{nid},size={size}M",
                     "-numa", f"node,nodeid={nid}{where},memdev=kgen-mem{nid}"]
        return args

    def kernel_args(self, suite: str) -> list[str]:
        """The layout's own arguments plus the name the suite checks for."""
        args = [f"{P.KGEN_PROTO_GUEST_ARG}{suite}"]
        if self.movablecore_mb:
            args.append(f"movablecore={self.movablecore_mb}M")
        if self.cma_mb:
            args.append(f"cma={self.cma_mb}M")
        return args


@dataclass
class Case:
    name: str
    line: int
    variants: list[Variant]
    swept: tuple[str, ...]
    expect: Expect
    guards: bool = True
    description: str = ""
    alloc: str = "split_page"
    compound: bool = False
    spoil_kind: str | None = None      # "poison" | "bad_state"
    misuse: str | None = None          # "tail_start" | "order_mismatch" | "compound_head"
    #                                    | "not_vmalloc" (vfree() of a direct-map address)
    force: bool = False                # run a misuse known to crash the kernel
    needs: ExplicitNeeds = ExplicitNeeds()
    family: str = ""                   # its family (kgen.families) ...
    options: Any = None                # ... and that family's span options

    @property
    def parameterised(self) -> bool:
        return bool(self.swept)

    @property
    def frozen(self) -> bool:
        return self.alloc in ("frozen", "cma_frozen")

    @property
    def complains(self) -> bool:
        """Makes the kernel complain on purpose: a declared splat, a bad
        page (TAINT_BAD_PAGE) or a misuse that WARNs.  Such a case runs in
        a complaint boot, where its taints and bad_page()'s ratelimit
        cannot hide another case's report."""
        return bool(self.expect.splats) or self.spoil_kind == "bad_state" \
            or self.misuse is not None

    def splat_counts(self, variant: Variant) -> dict[str, int]:
        """Console reports of each kind this variant must print, exactly."""
        return splat_counts(self.expect.splats, variant)

    def needs_of(self, variant: Variant, guest: Guest | None = None) -> list[Need]:
        """Everything this variant needs, derived from the spec."""
        why = self.needs.why or "spec needs:"
        needs = {Need(NeedKind.KCONFIG, k, why) for k in self.needs.kconfig}
        needs |= {Need(NeedKind.KCONFIG_OFF, k, why) for k in self.needs.kconfig_off}
        if self.needs.arches:
            needs.add(Need(NeedKind.ARCH, "", why, tuple(self.needs.arches)))
        if guest and guest.device_tree:
            needs.add(Need(NeedKind.GUEST, DEVICE_TREE, "guest layout"))
        if guest and guest.boundary_cma_mb:
            needs.add(Need(NeedKind.KCONFIG, "DMA_CMA", "device-tree shared-dma-pool regions"))
        if guest and guest.cma_mb:
            needs.add(Need(NeedKind.KCONFIG, "DMA_CMA", "the default CMA area (cma=)"))
        if variant.free not in ("free_page_loop", "vfree"):
            needs.add(Need(NeedKind.API, variant.free, "the API under test"))
        if variant.free == "free_contig_range" and variant.hold:
            needs.add(Need(NeedKind.BEHAVIOUR, FREE_CONTIG_RANGE_WARNS_IN_USE,
                           "a free_contig_range() that leaves held pages to their holders"))
        needs |= families.rules(self.family).needs_of(self, variant)
        if variant.free in ("free_contig_range", "free_contig_frozen_range"):
            needs.add(Need(NeedKind.KCONFIG, "CONTIG_ALLOC", "contiguous allocation"))
        if self.spoil_kind == "poison":
            needs.add(Need(NeedKind.KCONFIG, "MEMORY_FAILURE", "HWPoison pages"))
        if self.misuse:
            needs.add(Need(NeedKind.API, "kunit_warning_suppress", "counting the WARN"))
        if self.misuse == "compound_head":
            needs.add(Need(NeedKind.KCONFIG, "CONTIG_ALLOC", "free_contig_range()"))
        if self.misuse == "order_mismatch" and not self.force:
            needs.add(Need(NeedKind.KCONFIG_OFF, "DEBUG_VM",
                           "after its WARN the kernel frees with the wrong order, "
                           "which hits VM_BUG_ON_PAGE(compound_order != order) in "
                           "free_pages_prepare() under DEBUG_VM and crashes the kernel "
                           "(it runs with kgen run --kconfig CONFIG_DEBUG_VM=n)"))
        return sorted(needs)

    def checks_batching(self, variant: Variant) -> bool:
        """Whether expect.batched applies to this variant's free API."""
        return self.expect.batched and variant.free in BATCHED_APIS

    def expect_needs_of(self, variant: Variant) -> list[tuple[str, Need]]:
        """(expect key, need) pairs: what one expectation needs beyond the
        case.  A tree that lacks it runs the case without that check, and
        a case that passes everything else then ends as a skip that names
        what was not checked."""
        if not self.checks_batching(variant):
            return []
        pcp = Need(NeedKind.BEHAVIOUR, PCP_LISTS, "pcp lists in use")
        if variant.free == "vfree":
            return [("batched", Need(NeedKind.BEHAVIOUR, BATCHED_VFREE,
                                     "a vfree() that frees through the batched free")),
                    ("batched", pcp)]
        return [("batched", Need(NeedKind.BEHAVIOUR, BATCHED_FREE,
                                 f"a batched {variant.free}()")), ("batched", pcp)]


@dataclass
class Spec:
    path: Path
    suite: str
    cases: list[Case] = field(default_factory=list)
    description: str = ""
    guest: Guest | None = None
