"""The concurrency family (families/race): what a spec may say, what it
becomes, and whose reports are the case's own."""
from __future__ import annotations

import pytest

# The spec writer and problem list every loader test uses.
from test_spec_loader import problems, write

from kgen import families
from kgen.arch import arch
from kgen.generator.generate import generate
from kgen.runner.results.splats import find_splats
from kgen.runner.run.plan import make_plan
from kgen.spec.loader import load_spec
from kgen.target.capabilities import assume_all

GOOD = """\
kgen: 1
suite: kgen_r
cases:
  - name: scan
    span: {alloc: split_page, order: 4}
    race: {actors: [drain, scanner], iterations: 7, hold_ns: 50}
    sweep:
      free: [__free_contig_range, free_pages_bulk]
  - name: atomic
    span: {alloc: frozen, order: 3}
    free: free_contig_frozen_range
    race: {iterations: 2}
    sweep:
      context: [spinlock, bh_off]
"""


def test_a_case_with_race_belongs_to_the_family_whatever_its_span(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    scan, atomic = spec.cases
    assert scan.family == atomic.family == "race"
    assert scan.options.actors == ("scanner", "drain")      # spec order is not C order
    assert scan.options.iterations == 7 and scan.options.hold_ns == 50
    assert [v.axis("context") for v in atomic.variants] == ["spinlock", "bh_off"]
    # Without race: the same span is the span family's.
    assert families.family_of("split_page", {"span": {}}) == "span"


def test_generated_parameters_name_actors_and_contexts(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    caps = assume_all(arch("um"))
    out = generate([spec], caps, make_plan([spec], caps))
    suite = out["kgen_r_kunit.c"]
    assert ".actors = KGEN_ACTOR_SCANNER | KGEN_ACTOR_DRAIN," in suite
    assert ".context = KGEN_CTX_BH_OFF" in suite and ".iterations = 7, .hold_ns = 50," in suite
    assert "\tkgen_race_run(test, p);" in suite
    # The overlay copies the family's C beside the suites.
    from kgen.kernel import helper_files
    helpers = helper_files()
    assert "kgen_race.c" in helpers and "kgen_race.h" in helpers
    assert b'#include "kgen_race.h"' in helpers["kgen_families.h"]


@pytest.mark.parametrize("case, where, says", [
    # free_pages_bulk() calls cond_resched(): never from an atomic context.
    ("    span: {alloc: split_page, order: 2, context: irqs_off}\n"
     "    free: free_pages_bulk\n    race: {}\n", ":5:", "cannot be called with context irqs_off"),
    ("    span: {alloc: vmalloc, pages: 4}\n    free: vfree\n    race: {}\n",
     ":5:", "split_page, contig or frozen"),
    ("    span: {alloc: split_page, order: 2}\n    free: free_contig_range\n"
     "    race: {actors: [churn], hold_ns: 5}\n", ":7:", "needs actors: [scanner]"),
    ("    span: {alloc: split_page, order: 2}\n    free: free_contig_range\n"
     "    race: {actors: [scanner, scanner]}\n", ":7:", "non-unique"),
    ("    span: {alloc: split_page, order: 2}\n    free: free_contig_range\n"
     "    race: {iterations: 0}\n", ":7:", "minimum"),
    ("    span: {alloc: split_page, order: 2}\n    free: free_contig_range\n"
     "    poison: [first]\n    race: {}\n", ":7:", "poison does not apply to race"),
    ("    span: {alloc: frozen, order: 2}\n    free: free_contig_frozen_range\n"
     "    hold: [first]\n    race: {}\n", ":7:", "refcount 0"),
    # cma_release() of a span that never came from the CMA area.
    ("    span: {alloc: split_page, order: 2}\n    free: cma_release\n    race: {}\n",
     ":6:", "the span family's cma spans"),
])
def test_lint_errors_point_at_the_line(tmp_path, case, where, says):
    text = "kgen: 1\nsuite: kgen_r\ncases:\n  - name: c\n" + case
    found = problems(tmp_path, text)
    assert any(where in p and says in p for p in found), found


def test_an_actors_report_is_the_cases_own_another_tasks_is_not():
    def lines(comm: str) -> list[str]:
        return ["WARNING: mm/page_alloc.c:1 at free_one_page+0x1/0x2, CPU#1: x",
                f"CPU: 1 UID: 0 PID: 77 Comm: {comm} Not tainted 7.3.4 #1",
                "---[ end trace 0000000000000000 ]---"]
    assert not find_splats(lines("kgen_race_scan"))[0].foreign
    assert not find_splats(lines("kunit_try_catch"))[0].foreign
    assert find_splats(lines("kworker/1:2"))[0].foreign
