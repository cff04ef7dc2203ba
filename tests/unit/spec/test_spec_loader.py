"""Spec loading: valid specs load; every invalid one names file:line:col."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kgen.cli import shipped_specs
from kgen.spec.loader import SpecError, load_spec, load_specs
from kgen.spec.model import MERGED_MAX, Selector

VALID = """\
kgen: 1
suite: kgen_example
cases:
  - name: one
    span: {alloc: split_page, order: 3}
    free: free_contig_range
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, text))
    return [str(p) for p in err.value.problems]


def test_minimal_spec_defaults(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    assert spec.suite == "kgen_example"
    (case,) = spec.cases
    assert case.line == 4 and not case.parameterised
    (variant,) = case.variants
    assert (variant.order, variant.free, variant.hold) == (3, "free_contig_range", ())
    assert case.expect.merged == MERGED_MAX and case.expect.balanced and case.guards


def test_sweep_is_cross_product_with_descriptions(tmp_path):
    spec = load_spec(write(tmp_path, """\
        kgen: 1
        suite: kgen_sweep
        cases:
          - name: swept
            span: {alloc: split_page}
            hold: [first, {every: 2}]
            sweep:
              order: [1, 2]
              free: [free_pages_bulk, free_page_loop]
        """))
    case = spec.cases[0]
    assert case.swept == ("order", "free")
    assert [v.describe(case.swept) for v in case.variants] == [
        "order=1,free=free_pages_bulk", "order=1,free=free_page_loop",
        "order=2,free=free_pages_bulk", "order=2,free=free_page_loop"]
    assert case.variants[0].hold == (Selector("first"), Selector("every", 2))
    assert case.variants[2].held_indices() == {0, 2}


@pytest.mark.parametrize("text, expected", [
    ("kgen: 2\nsuite: s\ncases: []\n", "s.yaml:1:7: kgen: 1 was expected"),
    (VALID.replace("kgen_example", "Bad-Name"), "s.yaml:2:8: suite: 'Bad-Name' does not match"),
    (VALID.replace("order: 3", "order: 13"), "s.yaml:5:38: cases.0.span.order: 13 is greater than the maximum of 12"),
    (VALID.replace("free_contig_range", "kfree"), "s.yaml:6:11: cases.0.free: 'kfree' is not one of"),
    (VALID + "    bogus: 1\n", "s.yaml:4:5: cases.0: Additional properties are not allowed ('bogus'"),
    (VALID.replace("name: one", "name: one; system(\"rm\")"), "s.yaml:4:11: cases.0.name:"),
    (VALID + "    hold: [99]\n", "s.yaml:7:12: hold index 99 is outside an order-3 span (8 pages)"),
    (VALID + "    sweep: {order: [1, 2]}\n", "s.yaml:7:20: order is set in span and swept"),
    (VALID.replace("    free: free_contig_range\n", ""), "s.yaml:4:5: case needs a free API"),
    (VALID.replace(", order: 3", ""), "s.yaml:5:11: span needs an order"),
    (VALID + "    expect: {held_refcount: 2}\n", "s.yaml:7:29: held_refcount without any held pages"),
    (VALID.replace("{alloc: split_page, order: 3}", "{alloc: split_page, order: 3, guards: false}")
     + "    expect: {guards: true}\n", "s.yaml:7:22: expect.guards needs span.guards: true"),
    (VALID + "  - name: one\n    span: {alloc: split_page, order: 1}\n    free: free_pages_bulk\n",
     "s.yaml:7:11: duplicate case name 'one'"),
    (VALID.replace("suite: kgen_example\n", "suite: kgen_example\nsuite: other\n"),
     "s.yaml:3:1: duplicate key 'suite'"),
    ("kgen: 1\nsuite: [unclosed\n", "s.yaml:3:1: YAML syntax"),
    ("", "s.yaml:1:1: empty spec file"),
    ("- just\n- a list\n", "s.yaml:1:1: (top level): ['just', 'a list'] is not of type 'object'"),
    (VALID.replace("order: 3", "order: true"), "s.yaml:5:38: cases.0.span.order: True is not of type 'integer'"),
])
def test_invalid_specs_name_the_place(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(p.startswith(str(tmp_path / expected.split(":")[0])) and
               expected.split(":", 1)[1] in p[len(str(tmp_path)) + 1:] for p in found), found


AREA = """\
kgen: 1
suite: kgen_a
cases:
  - name: a
    span: {alloc: vmalloc, pages: 8}
    free: vfree
    sweep: {realloc_to: [2, 16]}
"""

FROZEN = """\
kgen: 1
suite: kgen_f
cases:
  - name: f
    span: {alloc: frozen, order: 3}
    free: free_contig_frozen_range
"""

CMA = """\
kgen: 1
suite: kgen_c
guest: {cma_mb: 64}
cases:
  - name: c
    span: {alloc: cma, order: 3}
    free: cma_release
"""


@pytest.mark.parametrize("text, message", [
    (FROZEN + "    hold: [first]\n", "frozen pages have refcount 0"),
    (FROZEN.replace("free_contig_frozen_range", "free_contig_range"),
     "frozen spans need one of them"),
    (VALID.replace("free_contig_range", "free_contig_frozen_range"),
     "free_contig_frozen_range() and free_frozen_pages_nolock() free frozen spans"),
    (VALID.replace("free_contig_range", "free_frozen_pages_nolock"),
     "free_contig_frozen_range() and free_frozen_pages_nolock() free frozen spans"),
    (VALID.replace("free: free_contig_range", "free: free_pages_bulk")
     .replace("order: 3", "order: 3, context: irqs_off"),
     "free_pages_bulk() cannot be called with context irqs_off: its kernel-doc allows process"),
    (VALID.replace("order: 3", "order: 3, context: raw_spinlock"),
     "free_contig_range() cannot be called with context raw_spinlock"),
    (VALID + "    poison: [first]\n    bad_state: [last]\n", "not both"),
    (AREA.replace("[2, 16]", "[2, 8]"),
     "realloc_to 8 is the area's size: vrealloc() would change nothing"),
    (AREA.replace("alloc: vmalloc", "alloc: vmap"),
     "realloc_to applies to vmalloc spans"),
    (AREA.replace("pages: 8", "pages: 8, remote_node: true, huge: true"),
     "remote_node applies to vmalloc spans that are not huge"),
    (VALID + "    hold: [first]\n    poison: [first]\n", "a page is both held and poison"),
    (VALID.replace("order: 3}", "order: 3, compound: true}"), "compound spans are frozen"),
    (FROZEN.replace("order: 3}", "order: 3, compound: true, guards: true}"),
     "cannot have guards"),
    (FROZEN.replace("order: 3}", "order: 3, compound: true}") + "    poison: [1]\n",
     "spoiling a page of a compound span"),
    (FROZEN + "    misuse: tail_start\n", "misuse cases need a compound frozen span"),
    (VALID + "    expect: {warnings: 1}\n", "expect.warnings counts the WARNs"),
    (VALID.replace("order: 3", "order: 6") + "    bad_state: [{every: 1}]\n",
     "64 bad-page reports expected in one case"),
    (VALID + "    needs: {kconfig: [numa]}\n", "does not match"),
    (VALID + "    needs: {kernel_args: [\"a; rm -rf /\"]}\n", "does not match"),
    (VALID + "    poison: [9]\n", "poison index 9 is outside an order-3 span"),
    (CMA + "    hold: [first]\n", "CMA spans cannot be held"),
    (CMA + "    poison: [first]\n", "CMA spans are not spoiled"),
    (CMA.replace("free: cma_release", "free: free_contig_range"),
     "a span from the CMA area goes back with cma_release()"),
    (VALID.replace("free: free_contig_range", "free: cma_release"),
     "a span from the CMA area goes back with cma_release()"),
    (CMA.replace("alloc: cma,", "alloc: cma_frozen,"), "frozen spans need one of them"),
    (VALID + "    expect: {nr_free_cma: true}\n", "expect.nr_free_cma applies to spans from"),
    (CMA.replace("cma_mb: 64", "cma_mb: 512"), "more than a quarter of a 1024M guest"),
])
def test_family_rules(tmp_path, text, message):
    found = problems(tmp_path, text)
    assert any(message in p for p in found), found


VM = """\
kgen: 1
suite: kgen_v
cases:
  - name: v
    span: {alloc: vmalloc, pages: 3}
    free: vfree
"""


@pytest.mark.parametrize("text, message", [
    (VM.replace("free: vfree", "free: free_pages_bulk"), "vmalloc spans are freed by vfree"),
    (VM.replace("pages: 3", "order: 3"), "a vmalloc span needs pages"),
    (VM + "    hold: [first]\n", "hold does not apply to vmalloc spans"),
    (VM + "    expect: {guards: true}\n", "expect.guards does not apply to vmalloc spans"),
    (VM.replace("vmalloc, pages: 3", "page_array, pages: 3, layout: gaps")
     .replace("vfree", "free_pages_bulk"), "power-of-two size from 2 to 1024, not 3"),
    (VM.replace("vmalloc, pages: 3", "page_array, pages: 4").replace("vfree", "free_pages_bulk"),
     "a page_array span needs a layout"),
    (VALID.replace("order: 3}", "order: 3, pages: 4}"),
     "pages, layout, huge, reset_perms and bh_disabled belong to"),
    (VM.replace("vmalloc, pages: 3", "page_array, pages: 4, layout: sorted, reset_perms: true")
     .replace("vfree", "free_pages_bulk"), "reset_perms applies to vmalloc and vmap spans (it is about"),
    (VALID.replace("free_contig_range", "vfree"), "vfree() frees vmalloc spans only"),
    (VM + "    misuse: tail_start\n", "take misuse: not_vmalloc only"),
    (VM.replace("vmalloc, pages: 3", "page_array, pages: 4, layout: sorted")
     .replace("vfree", "free_pages_bulk") + "    misuse: not_vmalloc\n", "page arrays take none"),
    (VM.replace("pages: 3", "pages: 3, bh_disabled: true") + "    misuse: not_vmalloc\n",
     "cannot defer vfree() with bh_disabled"),
    (VM + "    expect: {warnings: 1}\n", "expect.warnings counts the WARNs of a misuse"),
    (FROZEN + "    misuse: not_vmalloc\n", "misuse: not_vmalloc is a vfree() misuse"),
])
def test_vmalloc_family_rules(tmp_path, text, message):
    found = problems(tmp_path, text)
    assert any(message in p for p in found), found


BOUNDARY = """\
kgen: 1
suite: kgen_b
cases:
  - name: b
    span: {alloc: boundary, boundary: zone, pages_each_side: 8}
    free: __free_contig_range
"""


@pytest.mark.parametrize("text, message", [
    (VM.replace("vmalloc, pages: 3", "vmap, pages: 3, contiguous: true"),
     "a contiguous vmap needs a power-of-two size, not 3"),
    (VM.replace("pages: 3", "pages: 4, contiguous: true"), "contiguous applies to vmap spans"),
    (VALID.replace("free_contig_range", "free_page_loop") + "    expect: {batched: true}\n",
     "free_page_loop frees page by page: expect.batched applies to the batched"),
    (BOUNDARY + "    expect: {merged: 3}\n", "merged is true (or max) or false"),
    (BOUNDARY + "    expect: {guards: true}\n", "expect.guards does not apply to boundary"),
])
def test_power_expectation_rules(tmp_path, text, message):
    found = problems(tmp_path, text)
    assert any(message in p for p in found), found


def test_power_expectations_default_on(tmp_path):
    span = load_spec(write(tmp_path, VALID)).cases[0]
    assert span.expect.prepared and span.expect.batched
    vmap = load_spec(write(tmp_path, VM.replace("vmalloc, pages: 3",
                                                "vmap, pages: 4, contiguous: true"))).cases[0]
    assert vmap.options.contiguous and vmap.expect.balanced and vmap.expect.batched
    assert "CONFIG_CONTIG_ALLOC" in map(str, vmap.needs_of(vmap.variants[0]))
    bound = load_spec(write(tmp_path, BOUNDARY)).cases[0]
    assert bound.expect.merged == MERGED_MAX and bound.expect.balanced
    assert bound.expect.prepared and bound.expect.batched
    # A boundary span is checked for whole chunks where the tree batches.
    assert [k for k, _ in bound.expect_needs_of(bound.variants[0])] == ["batched", "batched"]


def test_vmalloc_sweep(tmp_path):
    spec = load_spec(write(tmp_path, VM.replace("pages: 3}", "}") +
                           "    sweep: {pages: [1, 513]}\n"))
    case = spec.cases[0]
    assert case.family == "vmalloc" and [v.describe(case.swept) for v in case.variants] == [
        "pages=1", "pages=513"]
    assert case.expect.nr_vmalloc and not case.guards


def test_sweep_too_large(tmp_path):
    found = problems(tmp_path, """\
        kgen: 1
        suite: kgen_big
        cases:
          - name: big
            span: {alloc: split_page}
            sweep:
              order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
              free: [free_contig_range, __free_contig_range, free_pages_bulk, free_page_loop]
              hold_refs: [1, 2, 3, 4, 5, 6]
        """)
    assert any("expands to 312 parameters" in p for p in found)


def test_duplicate_suites_across_files(tmp_path):
    a = write(tmp_path, VALID, "a.yaml")
    b = write(tmp_path, VALID, "b.yaml")
    with pytest.raises(SpecError) as err:
        load_specs([a, b])
    assert "suite 'kgen_example' is also defined in" in str(err.value)


def test_all_problems_reported_at_once(tmp_path):
    a = write(tmp_path, VALID.replace("order: 3", "order: 99"), "a.yaml")
    b = write(tmp_path, VALID.replace("kgen: 1", "kgen: 7"), "b.yaml")
    with pytest.raises(SpecError) as err:
        load_specs([a, b])
    assert {p.path.name for p in err.value.problems} == {"a.yaml", "b.yaml"}


def test_unreadable_file(tmp_path):
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "missing.yaml")
    assert "cannot read" in str(err.value)


def test_shipped_specs_load_with_at_least_20_cases():
    specs = load_specs(shipped_specs())
    assert len(specs) >= 2
    assert sum(len(c.variants) for s in specs for c in s.cases) >= 20


def test_problems_keep_their_order_and_places(tmp_path):
    """Problems come case by case, each case's in the order of its checks."""
    found = problems(tmp_path, """\
        kgen: 1
        suite: kgen_order
        cases:
          - name: a
            span: {alloc: frozen, compound: true, order: 2, guards: true}
            free: free_contig_range
            force: true
            poison: [9]
            expect: {warnings: 2, held_refcount: 3}
          - name: a
            span: {alloc: vmap, pages: 5, layout: sorted, huge: false}
            free: vfree
          - name: b
            span: {alloc: contig, order: 3, boundary: zone}
            free: free_page_loop
        """)
    assert [p[len(str(tmp_path)) + 1:] for p in found] == [
        "s.yaml:5:61: a compound span is one folio: it cannot have guards",
        "s.yaml:8:13: spoiling a page of a compound span is not supported",
        "s.yaml:7:12: force only applies to misuse: order_mismatch",
        "s.yaml:8:14: poison index 9 is outside an order-2 span (4 pages)",
        "s.yaml:6:11: free_contig_frozen_range() and free_frozen_pages_nolock() free "
        "frozen spans, and frozen spans need one of them",
        "s.yaml:9:42: held_refcount without any held pages",
        "s.yaml:9:24: expect.warnings counts the WARNs of a misuse: case",
        "s.yaml:10:11: duplicate case name 'a'",
        "s.yaml:11:11: layout applies to page_array spans",
        "s.yaml:11:57: huge applies to vmalloc spans",
        "s.yaml:14:11: boundary, upper_zone and pages_each_side belong to boundary spans "
        "(alloc: boundary)",
    ]


def test_every_alloc_in_the_schema_has_a_family():
    from kgen import families
    from kgen.spec.loader import schema
    allocs = schema()["$defs"]["span"]["properties"]["alloc"]["enum"]
    assert len(allocs) == len(set(allocs))
    for alloc in allocs:
        assert families.rules(families.family_of(alloc)).build


def test_another_familys_key_is_never_silently_ignored(tmp_path):
    """A span key of another family that the case's own rules do not name
    is refused by the loader, at its line (vmap's contiguous on a span)."""
    assert problems(tmp_path, """\
        kgen: 1
        suite: kgen_s
        cases:
          - name: c
            span: {alloc: split_page, order: 2, contiguous: true}
            free: free_page_loop
        """) == [f"{tmp_path / 's.yaml'}:5:53: contiguous does not apply to split_page spans"]
