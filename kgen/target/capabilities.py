"""What a kernel tree and an arch can provide, and whether a case's needs fit.

Three sources, each checked where it lives:
- APIs: declarations in the tree's headers (an older tree such as Debian's
  linux-source-6.12 predates __free_contig_range() and free_pages_bulk());
- Kconfig options an arch cannot have (UML has no MEMORY_FAILURE, no NUMA);
- options kgen always sets (DEBUG_VM), for needs that require them unset.

A need that cannot be met turns the case into a KUnit skip whose reason
names it; nothing is silently dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kgen.arch import ARCHES, DEFAULT_ARCH, Arch
from kgen.kernel import kunit_dir
from kgen.spec.model import (
    BATCHED_FREE,
    BATCHED_VFREE,
    FREE_CONTIG_RANGE_WARNS_IN_USE,
    PCP_LISTS,
    VREALLOC_FREES_TAIL,
    Need,
    NeedKind,
)

# API -> (header relative to the tree, pattern of its declaration); a
# declaration that moved between headers names each, separated by " or ".
API_PROBES: dict[str, tuple[str, str]] = {
    "free_contig_range": ("include/linux/gfp.h", r"\bvoid\s+free_contig_range\s*\("),
    "__free_contig_range": ("include/linux/gfp.h", r"\bvoid\s+__free_contig_range\s*\("),
    "free_pages_bulk": ("include/linux/gfp.h", r"\bvoid\s+free_pages_bulk\s*\("),
    "free_contig_frozen_range": ("include/linux/gfp.h",
                                 r"\bvoid\s+free_contig_frozen_range\s*\("),
    "alloc_contig_frozen_pages": ("include/linux/gfp.h",
                                  r"#define\s+alloc_contig_frozen_pages\b"),
    "kunit_warning_suppress": ("include/kunit/test.h",
                               r"#define\s+kunit_warning_suppress\b"),
    "alloc_frozen_pages": ("mm/page_alloc.h", r"#define\s+alloc_frozen_pages\b"),
    # alloc_contig_range(start, end, acr_flags_t, gfp) since 6.16; a
    # migratetype before.  Not a need: the helper library adapts to either.
    "acr_flags": ("include/linux/gfp.h", r"#define\s+ACR_FLAGS_NONE\b"),
    # The node vmstat item vmalloc pages are charged to; 6.12 counts them
    # in mm/vmalloc.c's private nr_vmalloc_pages instead, which
    # vmalloc_nr_pages() reads (gone once NR_VMALLOC came).
    "NR_VMALLOC": ("include/linux/mmzone.h", r"^\s*NR_VMALLOC\s*,"),
    "vmalloc_nr_pages": ("include/linux/vmalloc.h",
                         r"\bunsigned\s+long\s+vmalloc_nr_pages\s*\(\s*void\s*\)"),
    "vrealloc": ("include/linux/vmalloc.h", r"#define\s+vrealloc\("),
    # The _nolock frees (BPF, kmalloc_nolock()): since 6.15 and 6.18.
    "free_pages_nolock": ("include/linux/gfp.h", r"\bvoid\s+free_pages_nolock\s*\("),
    "free_frozen_pages_nolock": ("mm/internal.h or mm/page_alloc.h",
                                 r"\bvoid\s+free_frozen_pages_nolock\s*\("),
    # Spans from the default CMA area (the span family's cma and
    # cma_frozen); the frozen pair came with the frozen ranges (7.2).
    "cma_alloc": ("include/linux/cma.h", r"\bstruct\s+page\s+\*cma_alloc\s*\("),
    "cma_release": ("include/linux/cma.h", r"\bbool\s+cma_release\s*\("),
    "cma_alloc_frozen": ("include/linux/cma.h", r"\bstruct\s+page\s+\*cma_alloc_frozen\s*\("),
    "cma_release_frozen": ("include/linux/cma.h", r"\bbool\s+cma_release_frozen\s*\("),
}
# A need met by any of several symbols: the helper library reads whichever
# the tree has (kgen_nr_vmalloc()).
ALTERNATIVES: dict[str, tuple[str, ...]] = {"NR_VMALLOC": ("vmalloc_nr_pages",)}
# Behaviour some cases cannot run against: name -> (source file, pattern
# that shows it, what the tree does), for NeedKind.BEHAVIOUR.
BEHAVIOUR_PROBES: dict[str, tuple[str, str, str]] = {
    FREE_CONTIG_RANGE_WARNS_IN_USE: (
        "mm/page_alloc.c", r'WARN\(count != 0, "%lu pages are still in use',
        "free_contig_range() frees page by page and WARNs that pages are still "
        "in use when one has other references"),
}
# Behaviour an expectation needs, found by what shows it: name -> (source
# file, pattern that shows the behaviour, what the tree does without it).
# A tree where the pattern is absent lacks the behaviour.
NEEDED_BEHAVIOUR_PROBES: dict[str, tuple[str, str, str]] = {
    BATCHED_FREE: (
        "mm/page_alloc.c", r"\bFPI_PREPARED\b",
        "free_contig_range() frees page by page and there is no batched free "
        "(FPI_PREPARED)"),
    BATCHED_VFREE: (
        "mm/vmalloc.c", r"\bfree_pages_bulk\s*\(",
        "vfree() frees the area page by page with __free_page()"),
    VREALLOC_FREES_TAIL: (
        "mm/vmalloc.c", r"vm_area_free_pages\(vm,\s*new_nr_pages",
        "vrealloc() keeps a shrunk area's tail pages until vfree()"),
}
# Kconfig a tree's own kunit.py defaults get wrong for kgen:
# (arch, file, pattern that shows the problem, kunitconfig lines).
KCONFIG_FIXES: list[tuple[str, str, str, tuple[str, ...]]] = [
    # 6.12's arch_uml.config enables PCI over virtio, whose device ID
    # defaults to -1: um_pci_init() then WARNs "No virtio device ID
    # configured for PCI" in every boot, which kgen reports as a boot error.
    # 7.x enables KUNIT_UML_PCI instead.  kgen needs no PCI.
    ("um", "tools/testing/kunit/configs/arch_uml.config",
     r"^CONFIG_UML_PCI_OVER_VIRTIO=y",
     ("# CONFIG_UML_PCI_OVER_VIRTIO is not set",)),
]
# kunitconfig lines kgen run adds wherever the tree offers the option,
# whatever specs are selected (so switching spec sets never changes
# .config): (arch, file, pattern that shows the option, lines).
RUN_KCONFIG: list[tuple[str, str, str, tuple[str, ...]]] = [
    # 7.x without SMP never uses the pcp lists (UP_BYPASSES_PCP): every free
    # goes straight to the buddy, so on a UP UML the batched free's pcp path
    # never runs, and a batched and a per-page free end in the same state.
    # UML offers SMP since 7.2; kgen boots it with ncpus=N seccomp=on
    # (kgen.arch.Arch.cpu_args).
    ("um", "arch/um/Kconfig", r"^config SMP\b", ("CONFIG_SMP=y",)),
]
# mm/page_alloc.c of 7.x: without SMP, pcp_spin_trylock() is NULL.
UP_BYPASSES_PCP = ("mm/page_alloc.c", r"#define\s+pcp_spin_trylock\(ptr\)\s*\\\s*NULL")

# Files whose presence the helper library adapts to.
FILE_PROBES = {"mm_page_alloc_h": "mm/page_alloc.h"}

# Options every kgen build sets (kernel/kunit/configs/base.config).
ALWAYS_ON = {"DEBUG_VM", "DEBUG_KERNEL", "KUNIT", "CMA", "COMPACTION", "CONTIG_ALLOC"}



@dataclass
class Capabilities:
    arch: Arch
    apis: dict[str, bool] = field(default_factory=dict)
    files: dict[str, bool] = field(default_factory=dict)
    # Behaviour the tree shows that a need cannot live with: a
    # BEHAVIOUR_PROBES pattern found, a NEEDED_BEHAVIOUR_PROBES one missing.
    behaviours: dict[str, bool] = field(default_factory=dict)
    # kunitconfig lines KCONFIG_FIXES add for this tree and arch.
    tree_kconfig: list[str] = field(default_factory=list)
    # kunitconfig lines RUN_KCONFIG add for this tree and arch (kgen run only).
    run_kconfig: list[str] = field(default_factory=list)
    # Without SMP this tree's page allocator never uses the pcp lists.
    up_bypasses_pcp: bool = False
    tree: Path | None = None
    # kgen run --kconfig: what the user set (True) or unset (False).
    kconfig_overrides: dict[str, bool] = field(default_factory=dict)
    # CPUs the boots get (cpus()) and why fewer than asked; 0 where no boot
    # is planned (kgen generate), and then no case skips for CPUs.
    boot_cpus: int = 0
    boot_cpus_note: str = ""

    def smp(self) -> bool:
        """Whether kgen run builds this arch with CONFIG_SMP."""
        if self.kconfig_overrides.get("SMP") is False:
            return False
        return self.arch.name != "um" or "CONFIG_SMP=y" in self.run_kconfig

    def cpus(self, wanted: int) -> tuple[int, str]:
        """How many CPUs boots get when wanted are asked for, and why fewer."""
        if wanted <= 1:
            return 1, ""
        if self.kconfig_overrides.get("SMP") is False:
            return 1, "one CPU: CONFIG_SMP unset by kgen run --kconfig"
        if not self.smp():
            return 1, ("one CPU: this tree's UML has no SMP (no `config SMP` in "
                       "arch/um/Kconfig; UML gained it in 7.2)")
        most = self.arch.max_cpus
        if wanted > most:
            return most, f"{most} CPUs: the most a kgen {self.arch.name} kernel boots (NR_CPUS)"
        return wanted, ""

    def unmet(self, need: Need) -> str | None:
        """Why need cannot be met here, or None if it can."""
        if need.kind == NeedKind.BEHAVIOUR and need.name == PCP_LISTS:
            if self.up_bypasses_pcp and not self.smp():
                return (f"needs {need}: without CONFIG_SMP this tree frees straight to "
                        f"the buddy (pcp_spin_trylock() is NULL, {UP_BYPASSES_PCP[0]}), "
                        "where a batched and a per-page free end the same")
            return None
        if need.kind in (NeedKind.API, NeedKind.SYMBOL):
            names = (need.name, *ALTERNATIVES.get(need.name, ()))
            if not any(self.apis.get(n, False) for n in names):
                where = API_PROBES.get(need.name, ("the tree", ""))[0]
                also = "".join(f", nor {n}() ({API_PROBES[n][0]})"
                               for n in names[1:])
                return f"needs {need}: not declared in this tree ({where}){also}"
        elif need.kind == NeedKind.BEHAVIOUR and self.behaviours.get(need.name):
            where, _, does = (BEHAVIOUR_PROBES | NEEDED_BEHAVIOUR_PROBES)[need.name]
            return f"needs {need}: in this tree {does} ({where})"
        elif need.kind == NeedKind.KCONFIG and self.kconfig_overrides.get(need.name) is False:
            return f"needs {need}: unset by kgen run --kconfig"
        elif need.kind == NeedKind.KCONFIG:
            limit = self.arch.kconfig_limits.get(need.name)
            if limit:
                return f"needs {need}: {limit}"
        elif need.kind == NeedKind.KCONFIG_OFF and need.name in self.arch.forced_on:
            return f"needs {need}: {self.arch.forced_on[need.name]}"
        elif need.kind == NeedKind.KCONFIG_OFF and self.kconfig_overrides.get(need.name) is False:
            return None
        elif (need.kind == NeedKind.KCONFIG_OFF and need.name in ALWAYS_ON
              or need.kind == NeedKind.ARCH and self.arch.name not in need.arches):
            return f"needs {need}: {need.why}"
        elif need.kind == NeedKind.GUEST and need.name in self.arch.guest_limits:
            return f"needs {need}: {self.arch.guest_limits[need.name]}"
        elif need.kind == NeedKind.CPUS and 0 < self.boot_cpus < int(need.name):
            why = f" ({self.boot_cpus_note})" if self.boot_cpus_note else " (kgen run --cpus)"
            return f"needs {need} ({need.why}): this boot has {self.boot_cpus}{why}"
        return None

    def have(self) -> dict[str, bool]:
        """KGEN_HAVE_<NAME> values for the generated kgen_caps.h.

        "__free_contig_range" -> "__FREE_CONTIG_RANGE"; "free_pages_bulk" ->
        "FREE_PAGES_BULK"; probed files by their key.
        """
        out = {("__" + api[2:].upper() if api.startswith("__") else api.upper()):
               self.apis.get(api, False) for api in API_PROBES}
        out.update({key.upper(): self.files.get(key, False) for key in FILE_PROBES})
        return out

    def skip_reason(self, needs: list[Need]) -> str | None:
        reasons = [r for r in map(self.unmet, needs) if r]
        return "; ".join(reasons) if reasons else None

    def kconfig_wanted(self, needs: list[Need]) -> list[str]:
        """CONFIG_X=y lines for needs this arch can meet, beyond the fixed
        base and arch fragments (which already hold what the shipped
        families need, so the common case adds nothing), then the lines
        that fix this tree's kunit.py defaults (KCONFIG_FIXES) and the
        options kgen run sets wherever the tree has them (RUN_KCONFIG)."""
        fixed = ALWAYS_ON | fragment_options(self.arch.name)
        return sorted({f"CONFIG_{n.name}=y" for n in needs
                       if n.kind == NeedKind.KCONFIG and n.name not in fixed
                       and not self.unmet(n)}) + self.tree_kconfig + self.run_kconfig


def fragment_options(arch: str) -> set[str]:
    """Options set to y by kernel/kunit/configs/<arch>.config."""
    text = kunit_dir().joinpath("configs", f"{arch}.config").read_text()
    return set(re.findall(r"^CONFIG_(\w+)=y$", text, re.MULTILINE))


def probe_tree(tree: Path, arch: Arch) -> Capabilities:
    """Read which APIs and constants the tree declares, and how it behaves."""
    cache: dict[str, str] = {}

    def found(rel: str, pattern: str) -> bool:
        if rel not in cache:
            path = tree / rel
            cache[rel] = path.read_text(errors="replace") if path.is_file() else ""
        return re.search(pattern, cache[rel], re.MULTILINE) is not None

    apis = {api: any(found(h, pattern) for h in headers.split(" or "))
            for api, (headers, pattern) in API_PROBES.items()}
    behaviours = {name: found(rel, pattern)
                  for name, (rel, pattern, _) in BEHAVIOUR_PROBES.items()}
    behaviours |= {name: not found(rel, pattern)
                   for name, (rel, pattern, _) in NEEDED_BEHAVIOUR_PROBES.items()}
    files = {key: (tree / rel).is_file() for key, rel in FILE_PROBES.items()}
    tree_kconfig = [line for fix_arch, rel, pattern, lines in KCONFIG_FIXES
                    if fix_arch == arch.name and found(rel, pattern) for line in lines]
    run_kconfig = [line for opt_arch, rel, pattern, lines in RUN_KCONFIG
                   if opt_arch == arch.name and found(rel, pattern) for line in lines]
    return Capabilities(arch=arch, apis=apis, files=files, behaviours=behaviours,
                        tree_kconfig=tree_kconfig, run_kconfig=run_kconfig,
                        up_bypasses_pcp=found(*UP_BYPASSES_PCP), tree=tree)


def assume_all(arch: Arch = ARCHES[DEFAULT_ARCH]) -> Capabilities:
    """Capabilities of a tree that has every API (for generation without a tree)."""
    return Capabilities(arch=arch, apis={a: True for a in API_PROBES},
                        files={k: True for k in FILE_PROBES})


def builtin_blocker(tree: Path, option: str, kconfig: str) -> str | None:
    """Why CONFIG_<option> cannot be =y in this tree, or None if it can.

    Catches a module-only entry ("depends on m" in the option's block of the
    Kconfig file kconfig): Linux 6.12's TEST_VMALLOC, which kunit.py's
    built-in kernels cannot have.
    """
    path = tree / kconfig
    text = path.read_text(errors="replace") if path.is_file() else ""
    entry = re.search(rf"^config {re.escape(option)}\s*\n(.*?)(?=^\S|\Z)", text,
                      re.MULTILINE | re.DOTALL)
    if entry is None:
        return f"CONFIG_{option} does not exist in this tree ({kconfig})"
    if re.search(r"^\s*depends on m\s*$", entry.group(1), re.MULTILINE):
        return (f"CONFIG_{option} depends on m in this tree ({kconfig}): it can only be "
                f"a module, and kgen's kernels boot without modules")
    return None
