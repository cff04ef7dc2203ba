"""What a run will do on a tree and arch: which cases run, which skip and
why, and the kconfig, kernel and QEMU arguments the selected specs need."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from kgen.arch import Arch
from kgen.errors import UsageError
from kgen.generator.decisions import (
    ComplaintBoot,
    PlannedCase,
    boots_of,
    complaint_boots,
    plan_test,
    skips_of,
    test_id,
    unchecked_of,
)
from kgen.ids import TestGlob, TestId
from kgen.spec.model import Spec
from kgen.target.capabilities import Capabilities


def select(specs: list[Spec], globs: list[str]) -> list[Spec]:
    """The specs cut down to the tests the globs name (kunit.py style).

    Suites, cases and parameters nothing selects are dropped, so they are
    neither generated nor booted.  A glob that selects nothing is an error
    that says which part of it found no match.
    """
    if not globs:
        return specs
    parsed = [TestGlob.parse(g) for g in globs]
    for glob in parsed:
        _check_selects(specs, glob)
    out = []
    for spec in specs:
        cases = []
        for case in spec.cases:
            variants = [v for v in case.variants
                        if any(g.matches(test_id(spec, case, v)) for g in parsed)]
            if variants:
                cases.append(replace(case, variants=variants))
        if cases:
            out.append(replace(spec, cases=cases))
    return out


def _check_selects(specs: list[Spec], glob: TestGlob) -> None:
    suites = [s for s in specs if glob.matches_suite(s.suite)]
    if not suites:
        raise UsageError(f"{glob.text!r} selects nothing: no suite matches {glob.suite!r} "
                         f"(suites: {_some(s.suite for s in specs)})")
    tests = [(case, test_id(spec, case, v)) for spec in suites for case in spec.cases
             for v in case.variants]
    cases = [(case, t) for case, t in tests if glob.matches_case(t)]
    if not cases:
        names = sorted({t.function for _, t in tests})
        raise UsageError(f"{glob.text!r} selects nothing: no case of "
                         f"{', '.join(s.suite for s in suites)} matches {glob.case!r} "
                         f"(cases: {_some(names)})")
    if not any(glob.matches(t) for _, t in cases):
        params = sorted({t.param for _, t in cases if t.param})
        raise UsageError(f"{glob.text!r} selects nothing: no parameter of the matching "
                         f"case(s) matches {glob.param!r} (parameters: "
                         f"{_some(params) or 'none, the cases are not parameterised'})")


def _some(names, limit: int = 12) -> str:
    """A readable list of at most limit names."""
    names = list(names)
    more = f", … {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# expect.prepared: free_pages_prepare() zeroes every page it prepares, so
# a free page that still holds the test's pattern was never prepared.
ZERO_ON_FREE_ARG = "init_on_free=1"

@dataclass
class GuestBoot:
    """A suite that boots on its own, in the QEMU guest layout its spec declares."""

    suite: str
    qemu_args: list[str]
    kernel_args: list[str]
    # arm64: (start, size) of reusable regions to add to QEMU's device tree.
    cma_regions: list[tuple[int, int]] = field(default_factory=list)
    # arm64: physical address where ZONE_DMA ends (a device-tree dma-ranges).
    dma_limit: int | None = None

    @property
    def device_tree(self) -> bool:
        return bool(self.cma_regions or self.dma_limit)


@dataclass
class Plan:
    arch: str
    cases: list[PlannedCase]
    kconfig: list[str]        # CONFIG_X=y beyond base + arch fragments
    kernel_args: list[str]
    qemu_args: list[str]
    guest_boots: list[GuestBoot] = field(default_factory=list)
    complaint_boots: list[ComplaintBoot] = field(default_factory=list)
    cpus: int = 1
    cpus_note: str = ""       # why fewer CPUs than asked for, if so

    @property
    def nr_run(self) -> int:
        return sum(1 for c in self.cases if not c.skip)

    @property
    def nr_skip(self) -> int:
        return sum(1 for c in self.cases if c.skip)

    def skips(self) -> dict[TestId, str]:
        """TestId -> skip reason for every test that cannot run: what the
        generator writes into the suites."""
        return skips_of(self.cases)

    def unchecked(self) -> dict[TestId, str]:
        """TestId -> what it cannot check and why, for tests that run."""
        return unchecked_of(self.cases)

    def boots(self) -> dict[TestId, int]:
        """Whole case (no param) -> the complaint boot it runs in, for the
        cases that have one: what the generator writes into the suites."""
        return boots_of(self.complaint_boots)

    def render(self) -> str:
        lines = [f"arch {self.arch}: {self.nr_run} case(s) run, "
                 f"{self.nr_skip} skip"]
        lines.append(f"cpus: {self.cpus}" + (f" ({self.cpus_note})" if self.cpus_note else ""))
        lines.append("kconfig (beyond base): " + (" ".join(self.kconfig) or "-"))
        lines.append("kernel args: " + (" ".join(self.kernel_args) or "-"))
        lines.append("qemu args: " + (" ".join(self.qemu_args) or "-"))
        for boot in self.guest_boots:
            lines.append(f"guest boot for {boot.suite}: qemu args "
                         f"{' '.join(boot.qemu_args) or '-'}; kernel args "
                         f"{' '.join(boot.kernel_args)}")
            for start, size in boot.cma_regions:
                lines.append(f"  device tree: reusable CMA region [{start:#x}, "
                             f"{start + size:#x})")
            if boot.dma_limit:
                lines.append(f"  device tree: dma-ranges limit, ZONE_DMA ends at "
                             f"{boot.dma_limit:#x}")
        for boot in self.complaint_boots:
            lines.append(f"complaint boot {boot.number}: kernel args "
                         f"{' '.join(boot.kernel_args)}; {len(boot.cases)} case(s), "
                         f"{boot.bad_pages} bad-page report(s) expected")
        for case in self.cases:
            state = f"SKIP  ({case.skip})" if case.skip else "RUN"
            if case.known_issue:
                state += f"  [known issue: {case.known_issue}]"
            if case.unchecked and not case.skip:
                state += f"   ({case.unchecked})"
            if case.boot and not case.skip:
                state += f" in complaint boot {case.boot}"
            lines.append(f"  {case.suite}.{case.name}: {state}")
        return "\n".join(lines)


def make_plan(specs: list[Spec], caps: Capabilities,
              extra_kernel_args: list[str] | None = None, cpus: int = 1) -> Plan:
    cpus, cpus_note = caps.cpus(cpus)
    caps = replace(caps, boot_cpus=cpus, boot_cpus_note=cpus_note)
    cases: list[PlannedCase] = []
    needs_all = []
    memory = 0
    kernel_args: list[str] = []
    zero_on_free = False
    for spec in specs:
        for case in spec.cases:
            memory = max(memory, case.needs.memory_mb or 0)
            kernel_args += [a for a in case.needs.kernel_args if a not in kernel_args]
            for variant in case.variants:
                planned, needs = plan_test(spec, case, variant, caps)
                if not planned.skip:
                    needs_all += needs
                    zero_on_free |= case.expect.prepared
                cases.append(planned)
    if zero_on_free:
        kernel_args.append(ZERO_ON_FREE_ARG)
    qemu_args: list[str] = []
    if memory:
        memory_kernel_args, qemu_args = caps.arch.memory_args(memory)
        kernel_args += memory_kernel_args
    cpu_kernel_args, cpu_qemu_args = caps.arch.cpu_args(cpus)
    kernel_args += cpu_kernel_args
    qemu_args += cpu_qemu_args
    kernel_args += [a for a in extra_kernel_args or [] if a not in kernel_args]
    return Plan(arch=caps.arch.name, cases=cases, kconfig=caps.kconfig_wanted(needs_all),
                kernel_args=kernel_args, qemu_args=qemu_args,
                guest_boots=_guest_boots(specs, cases, caps.arch, cpus),
                complaint_boots=complaint_boots(specs, cases),
                cpus=cpus, cpus_note=cpus_note)


def _guest_boots(specs: list[Spec], cases: list[PlannedCase],
                 target: Arch, cpus: int = 1) -> list[GuestBoot]:
    """One extra boot per suite with a guest layout that has a case to run.

    UML has no QEMU guest to shape; its guest-layout cases are skips that
    name the missing feature, so there is nothing to boot for them.
    """
    if not target.shapes_guests:
        return []
    runnable = {c.suite for c in cases if not c.skip}
    # The layout's -numa nodes name their CPUs, and its device tree is
    # dumped with these arguments, so the CPU count rides along here too.
    _, cpu_qemu_args = target.cpu_args(cpus)
    return [GuestBoot(spec.suite, spec.guest.qemu_args(cpus) + cpu_qemu_args,
                      spec.guest.kernel_args(spec.suite),
                      spec.guest.cma_regions(target.ram_base),
                      spec.guest.dma_limit_mb << 20 if spec.guest.dma_limit_mb else None)
            for spec in specs if spec.guest and spec.suite in runnable]
