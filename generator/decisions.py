"""Per test, what the generated C writes down: run or skip and why, what a
running test cannot check, and the complaint boot a case runs in.

`kgen generate` needs these decisions and nothing else of a run's plan, so
they live here; kgen.runner.run.plan builds the rest of a run (kconfig,
kernel and QEMU arguments, guest boots) around them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kgen import protocol as P
from kgen.ids import TestId
from kgen.spec.model import BAD_PAGE_STATE, Case, KnownIssue, Need, Spec, Variant
from kgen.target.capabilities import Capabilities

# Bad-page reports one complaint boot may expect.  bad_page() prints 60 a
# minute and then nothing (mm/page_alloc.c), and kgen's results call cases
# muted from 45 seen (kgen.runner.results.ratelimit.MUTED_FROM: a console
# can lose reports unseen).  A healthy complaint boot stays below that, so
# a boot that reaches it has a kernel reporting more than the specs declare.
COMPLAINT_BOOT_BAD_PAGES = 40


def test_id(spec: Spec, case: Case, variant: Variant) -> TestId:
    """The test one variant of a case is: a parameter if the case sweeps."""
    return TestId(spec.suite, case.name,
                  variant.describe(case.swept) if case.parameterised else "")


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


def plan_test(spec: Spec, case: Case, variant: Variant,
              caps: Capabilities) -> tuple[PlannedCase, list[Need]]:
    """One test's decision on caps' tree and arch, and what it needs."""
    needs = case.needs_of(variant, spec.guest)
    planned = PlannedCase(test_id(spec, case, variant), caps.skip_reason(needs),
                          [str(n) for n in needs], _known_text(variant.known_issue),
                          _unchecked(case, variant, caps))
    return planned, needs


def complaint_boots(specs: list[Spec], cases: list[PlannedCase]) -> list[ComplaintBoot]:
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


@dataclass
class Decisions:
    """Every test's decision, and the complaint boots: what the generated
    suites need from a plan (kgen.runner.run.plan.Plan has the same three
    methods)."""

    cases: list[PlannedCase]
    complaint_boots: list[ComplaintBoot]

    def skips(self) -> dict[TestId, str]:
        return skips_of(self.cases)

    def unchecked(self) -> dict[TestId, str]:
        return unchecked_of(self.cases)

    def boots(self) -> dict[TestId, int]:
        return boots_of(self.complaint_boots)


def decide(specs: list[Spec], caps: Capabilities) -> Decisions:
    """Every test of specs on caps' tree and arch, as a run would plan it."""
    cases = [plan_test(spec, case, variant, caps)[0]
             for spec in specs for case in spec.cases for variant in case.variants]
    return Decisions(cases, complaint_boots(specs, cases))


def skips_of(cases: list[PlannedCase]) -> dict[TestId, str]:
    """TestId -> skip reason for every test that cannot run: what the
    generator writes into the suites."""
    return {c.id: c.skip for c in cases if c.skip}


def unchecked_of(cases: list[PlannedCase]) -> dict[TestId, str]:
    """TestId -> what it cannot check and why, for tests that run."""
    return {c.id: c.unchecked for c in cases if c.unchecked and not c.skip}


def boots_of(boots: list[ComplaintBoot]) -> dict[TestId, int]:
    """Whole case (no param) -> the complaint boot it runs in, for the
    cases that have one: what the generator writes into the suites."""
    return {case: boot.number for boot in boots for case in boot.cases}
