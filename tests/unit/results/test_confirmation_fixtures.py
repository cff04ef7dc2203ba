"""Confirmation by repetition and report attribution, on real consoles.

The logs are captures of `kgen run` on 7.3.4 UML with the fixture patches
that make noise or a deferred-path WARN on demand (tests/fixtures/ktap/
README.md says how each was taken).
"""
from __future__ import annotations

from pathlib import Path

from kgen.runner.results.attribution import attempt_windows
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, Status
from kgen.runner.results.splats import CASE_TASK, find_splats

KTAP = Path(__file__).resolve().parents[2] / "fixtures" / "ktap"
HOLD_FIRST = "kgen_refcount_hold_hold_position/hold=first"


def case(log: str, name: str = HOLD_FIRST) -> CaseResult:
    result = parse_console((KTAP / f"{log}.log").read_text().splitlines())
    return next(c for s in result.suites for c in s.cases if c.name == name)


def test_counter_noise_once_is_two_attempts_and_unconfirmed():
    noisy = case("um_noise_one_page_once")
    assert noisy.status is Status.UNCONFIRMED and noisy.attempts == 2
    windows = attempt_windows(noisy)
    assert len(windows) == 2
    assert any("kgen: attempt 1: expect.nr_free_pages" in line for line in windows[0])
    assert not any("kgen: attempt 1:" in line for line in windows[1])
    assert any("kgen: unconfirmed: " in line for line in windows[1])


def test_a_kworker_report_names_its_task_and_is_not_the_case_s():
    noisy = case("um_noise_warn_in_kworker_once")
    splats = find_splats(noisy.log)
    assert [s.foreign for s in splats] == [True]
    assert splats[0].origin.comm.startswith("kworker/")
    assert noisy.status is Status.UNCONFIRMED and "kworker/0:1 (pid 10, CPU 0)" in noisy.message


def test_a_report_that_comes_back_fails_the_case_even_from_a_kworker():
    bug = case("um_warn_in_kworker_every_free")
    assert bug.status is Status.FAILED
    assert [any(s.foreign for s in find_splats(w)) for w in attempt_windows(bug)] == [True, True]


def test_the_case_s_own_thread_is_kunit_s_try_catch():
    own = [s for s in find_splats((KTAP / "arm64_bug_oops_try_faulted.log").read_text()
                                  .splitlines()) if s.origin]
    assert own and all(s.origin.comm == CASE_TASK and not s.foreign for s in own)


def test_a_reproduced_leak_has_one_window_per_attempt():
    leak = case("um_vfree_leak_reproduced", "kgen_vmalloc_vmap_contiguous/pages=2048")
    assert leak.status is Status.FAILED and leak.attempts == 4
    assert len(attempt_windows(leak)) == 4
