"""Cases that complain on purpose run in complaint boots of their own."""
from __future__ import annotations

from kgen.arch import arch
from kgen.cli import shipped_specs
from kgen.generator.decisions import COMPLAINT_BOOT_BAD_PAGES
from kgen.generator.render import render_suite
from kgen.ids import TestId
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.run.plan import make_plan
from kgen.runner.run.reconcile import (
    Boot,
    Boots,
    ComplaintBooted,
    complaint_share,
    main_share,
    reconcile,
)
from kgen.spec.loader import load_spec, load_specs
from kgen.target.capabilities import assume_all

FROZEN_BAD = TestId("kgen_frozen", "bad_page_in_middle")
FROZEN_MISUSE = TestId("kgen_frozen", "misuse_tail_start")
FROZEN_HEAD = TestId("kgen_frozen", "misuse_compound_head")
HWPOISON_BAD = TestId("kgen_hwpoison", "bad_state")
VMALLOC_MISUSE = TestId("kgen_vmalloc", "vfree_not_vmalloc")


def test_shipped_complainers_share_one_boot_after_the_main_one():
    plan = make_plan(load_specs(shipped_specs()), assume_all(arch("um")))
    (boot,) = plan.complaint_boots
    assert boot.number == 1 and boot.kernel_args == ["kgen_kunit.complaint_boot=1"]
    # bad_page_in_middle: 1 bad page; bad_state: 4 parameters of 1 each.
    # The order_mismatch misuse skips under DEBUG_VM: it stays in the main boot.
    assert boot.cases == [FROZEN_BAD, FROZEN_MISUSE, FROZEN_HEAD, HWPOISON_BAD,
                          VMALLOC_MISUSE]
    assert boot.bad_pages == 5
    assert boot.glob == ""            # two suites: no filter
    assert {c.boot for c in plan.cases if c.id.suite == "kgen_hwpoison"
            and c.id.case == "bad_state"} == {1}
    assert {c.boot for c in plan.cases if c.id.case in ("range", "poison_position")} == {0}
    assert "complaint boot 1: kernel args kgen_kunit.complaint_boot=1" in plan.render()


def test_boots_hold_at_most_the_bad_page_budget(tmp_path):
    cases = "".join(f"""
  - name: bad{i}
    span: {{alloc: split_page, order: 5}}
    free: free_contig_range
    bad_state: [{{every: 2}}]
""" for i in range(4))                 # 16 bad pages each
    spec = tmp_path / "many.yaml"
    spec.write_text(f"kgen: 1\nsuite: kgen_many\ncases:{cases}")
    plan = make_plan([load_spec(spec)], assume_all(arch("um")))
    assert [b.bad_pages for b in plan.complaint_boots] == [32, 32]
    assert all(b.bad_pages <= COMPLAINT_BOOT_BAD_PAGES for b in plan.complaint_boots)
    assert [b.glob for b in plan.complaint_boots] == ["kgen_many", "kgen_many"]


def test_generated_cases_say_which_boot_they_belong_to():
    specs = load_specs(shipped_specs())
    plan = make_plan(specs, assume_all(arch("um")))
    frozen = next(s for s in specs if s.suite == "kgen_frozen")
    c = render_suite(frozen, plan.skips(), plan.unchecked(), plan.boots())
    body = c.split("static void kgen_frozen_bad_page_in_middle(", 1)[1].split("\n}\n")[0]
    assert "kgen_boot_require(test, 1);" in body
    body = c.split("static void kgen_frozen_range(", 1)[1].split("\n}\n")[0]
    assert "kgen_boot_require(test, 0);" in body
    # The plan's skip comes first: a case that cannot run says why in any boot.
    assert body.index("kunit_skip(test, \"%s\", p->skip)") < body.index("kgen_boot_require")


def _skip(name: str) -> CaseResult:
    return CaseResult(name, Status.SKIPPED, message="runs in ...")


def _plan():
    return make_plan(load_specs(shipped_specs()), assume_all(arch("um")))


def test_main_boot_sets_the_complainers_aside_but_keeps_a_splat_in_them():
    main = RunResult(suites=[SuiteResult("kgen_frozen", [
        CaseResult.of(TestId("kgen_frozen", "range", "order=0"), Status.PASSED),
        _skip("kgen_frozen_bad_page_in_middle"),
        CaseResult.of(TestId("kgen_frozen", "misuse_tail_start"), Status.FAILED,
                      kind="splat:WARNING", message="WARNING: at mm/x.c"),
    ])])
    main = main_share(main, _plan())
    assert [c.name for c in main.suites[0].cases] == ["kgen_frozen_range/order=0"]
    (error,) = main.errors
    assert error.kind == "splat:WARNING" and "the main boot" in error.name


def test_main_boot_drops_complainers_a_crash_kept_from_starting():
    # The complaint boot runs them anyway: no error, and no recovery
    # reboot for them in the main boot.
    main = RunResult(suites=[SuiteResult("kgen_frozen", [
        CaseResult.of(TestId("kgen_frozen", "range", "order=0"), Status.ERROR,
                      kind=ResultKind.CRASH),
        CaseResult.of(TestId("kgen_frozen", "bad_page_in_middle"), Status.ERROR,
                      kind=ResultKind.NOT_RUN),
    ])])
    main = main_share(main, _plan())
    assert [c.name for c in main.suites[0].cases] == ["kgen_frozen_range/order=0"]
    assert main.errors == []


def test_complaint_boot_keeps_its_own_cases_and_merges_them():
    plan = _plan()
    (boot,) = plan.complaint_boots
    booted = RunResult(suites=[
        SuiteResult("kgen_contig_split", [_skip("kgen_contig_split_whole_span/x")]),
        SuiteResult("kgen_frozen", [_skip("kgen_frozen_range/order=0"),
                                    CaseResult.of(TestId("kgen_frozen", "bad_page_in_middle"),
                                               Status.PASSED)]),
    ], errors=[CaseResult("kgen_hwpoison", Status.ERROR, kind=ResultKind.NOT_RUN),
               CaseResult("kgen_refcount_hold", Status.ERROR, kind=ResultKind.NOT_RUN)])
    booted = complaint_share(booted, boot)
    assert [s.name for s in booted.suites] == ["kgen_frozen"]
    assert [c.name for c in booted.suites[0].cases] == ["kgen_frozen_bad_page_in_middle"]
    # Only a suite with cases of this boot is missing from it.
    assert [e.name for e in booted.errors] == ["kgen_hwpoison"]

    result = RunResult(suites=[SuiteResult("kgen_frozen", [
        CaseResult.of(TestId("kgen_frozen", "range", "order=0"), Status.PASSED)])])
    result = reconcile(plan, [], Boots(main=Boot(result),
                                       complaints=(ComplaintBooted(boot, Boot(booted)),)))
    cases = {c.name: c for c in result.suites[0].cases}
    assert cases["kgen_frozen_bad_page_in_middle"].status is Status.PASSED
    assert cases["kgen_frozen_bad_page_in_middle"].log[0] == \
        "kgen: result from complaint boot 1"
    assert result.errors[0].name == "complaint boot 1: kgen_hwpoison"
