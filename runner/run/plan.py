"""What a run will do on a tree and arch: which cases run, which skip and
why, and the kconfig, kernel and QEMU arguments the selected specs need."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from kgen import protocol as P
from kgen.arch import Arch
from kgen.errors import UsageError
from kgen.generator.render import render_all
from kgen.ids import TestGlob, TestId
from kgen.spec.model import BAD_PAGE_STATE, Case, KnownIssue, Spec, Variant
from kgen.target.capabilities import Capabilities


def test_id(spec: Spec, case: Case, variant: Variant) -> TestId:
    """The test one variant of a case is: a parameter if the case sweeps."""
    return TestId(spec.suite, case.name,
                  variant.describe(case.swept) if case.parameterised else "")


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

# Bad-page reports one complaint boot may expect.  bad_page() prints 60 a
# minute and then nothing (mm/page_alloc.c); a healthy complaint boot stays
# well below that, so a boot that reaches 60 has a kernel reporting more
# than the specs declare (kgen.runner.results.ratelimit).
COMPLAINT_BOOT_BAD_PAGES = 50


@dataclass
class PlannedCase:
    id: TestId
    skip: str | None = None   # reason, when it cannot run here
    needs: list[str] = field(default_factory=list)
    known_issue: str = ""     # the spec's known issue for it, if any
    # It runs, but an expectation cannot be checked here: why.  A run that
    # passes everything else ends as a KUnit skip with this reason.
    unchecked: str | None = None
    boot: int = 0             # 0: the main boot; N: complaint boot N

    @property
    def suite(self) -> str:
        return self.id.suite

    @property
    def name(self) -> str:
        """"<suite>_<case>" or "<suite>_<case>/<param>", as results name it."""
        return self.id.leaf


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
class ComplaintBoot:
    """A boot for the cases that make the kernel complain on purpose.

    A bad page sets TAINT_BAD_PAGE for the rest of the boot and counts
    towards bad_page()'s 60 reports a minute; an expected WARN is counted
    by KUnit's suppression.  In the main boot either would blind the
    checks of every later case, so these cases run here, after it, and
    skip in every other boot (kgen_boot_require() in the helper library).
    """

    number: int
    cases: list[TestId] = field(default_factory=list)   # whole cases, no param
    bad_pages: int = 0        # "Bad page state" reports its cases declare

    @property
    def kernel_args(self) -> list[str]:
        return [f"{P.KGEN_PROTO_COMPLAINT_BOOT_ARG}{self.number}"]

    @property
    def suites(self) -> list[str]:
        return list(dict.fromkeys(c.suite for c in self.cases))

    @property
    def glob(self) -> str:
        """kunit.py's filter_glob: the suite when there is only one."""
        return self.suites[0] if len(self.suites) == 1 else ""


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
        return {c.id: c.skip for c in self.cases if c.skip}

    def unchecked(self) -> dict[TestId, str]:
        """TestId -> what it cannot check and why, for tests that run."""
        return {c.id: c.unchecked for c in self.cases if c.unchecked and not c.skip}

    def boots(self) -> dict[TestId, int]:
        """Whole case (no param) -> the complaint boot it runs in, for the
        cases that have one: what the generator writes into the suites."""
        return {case: boot.number for boot in self.complaint_boots for case in boot.cases}

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
                needs = case.needs_of(variant, spec.guest)
                test = test_id(spec, case, variant)
                skip = caps.skip_reason(needs)
                if not skip:
                    needs_all += needs
                    zero_on_free |= case.expect.prepared
                known = variant.known_issue
                cases.append(PlannedCase(test, skip, [str(n) for n in needs],
                                         _known_text(known), _unchecked(case, variant, caps)))
    if zero_on_free:
        kernel_args.append(ZERO_ON_FREE_ARG)
    qemu_args: list[str] = []
    if memory:
        memory_kernel_args, qemu_args = caps.arch.memory_args(memory)
        kernel_args += memory_kernel_args
    cpus, cpus_note = caps.cpus(cpus)
    cpu_kernel_args, cpu_qemu_args = caps.arch.cpu_args(cpus)
    kernel_args += cpu_kernel_args
    qemu_args += cpu_qemu_args
    kernel_args += [a for a in extra_kernel_args or [] if a not in kernel_args]
    return Plan(arch=caps.arch.name, cases=cases, kconfig=caps.kconfig_wanted(needs_all),
                kernel_args=kernel_args, qemu_args=qemu_args,
                guest_boots=_guest_boots(specs, cases, caps.arch, cpus),
                complaint_boots=_complaint_boots(specs, cases),
                cpus=cpus, cpus_note=cpus_note)


def _complaint_boots(specs: list[Spec], cases: list[PlannedCase]) -> list[ComplaintBoot]:
    """The complaining cases that run here, packed in spec order into boots
    of at most COMPLAINT_BOOT_BAD_PAGES expected bad-page reports.

    A whole case goes to one boot (the C tests the boot per case); its
    parameters that cannot run here skip there with their reason.  Suites
    with a guest layout are left alone: they have a boot of their own.
    Each case's PlannedCase entries get the boot's number.
    """
    by_id = {c.id: c for c in cases}
    boots: list[ComplaintBoot] = []
    for spec in specs:
        if spec.guest:
            continue
        for case in spec.cases:
            if not case.complains:
                continue
            planned = [(by_id[test_id(spec, case, v)], v) for v in case.variants]
            runs = [v for p, v in planned if not p.skip]
            if not runs:
                continue
            reports = sum(case.splat_counts(v).get(BAD_PAGE_STATE, 0) for v in runs)
            if not boots or boots[-1].bad_pages + reports > COMPLAINT_BOOT_BAD_PAGES:
                boots.append(ComplaintBoot(len(boots) + 1))
            boots[-1].cases.append(TestId(spec.suite, case.name))
            boots[-1].bad_pages += reports
            for p, _ in planned:
                p.boot = boots[-1].number
    return boots


def _known_text(known: KnownIssue | None) -> str:
    if known is None:
        return ""
    return known.reason + (f" (on kernels {known.kernels})" if known.kernels else "")


def _unchecked(case, variant, caps: Capabilities) -> str | None:
    """Why expectations of a variant cannot be checked on this tree, or None."""
    reasons = [f"expect.{key} not checked: {why}"
               for key, need in case.expect_needs_of(variant)
               if (why := caps.unmet(need))]
    return "; ".join(reasons) or None


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


def generate(specs: list[Spec], caps: Capabilities, plan: Plan | None = None) -> dict[str, str]:
    """The generated mm/kgen/ files for specs on caps' tree and arch: the
    plan's skip decisions and the tree's KGEN_HAVE_ values, rendered."""
    plan = plan or make_plan(specs, caps)
    return render_all(specs, plan.skips(), caps.have(), plan.unchecked(), plan.boots())
