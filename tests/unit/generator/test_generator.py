"""Generator: deterministic, spec-driven, kernel style (unit level)."""
from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from kgen.cache import cache_root
from kgen.cli import shipped_specs
from kgen.generator.generate import generate
from kgen.generator.render import render_suite, write_files
from kgen.kernel import helper_files
from kgen.spec.loader import load_spec, load_specs
from kgen.target.capabilities import assume_all


def spec_from(tmp_path: Path, text: str):
    path = tmp_path / "g.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec(path)


def test_rendering_is_deterministic():
    specs = load_specs(shipped_specs())
    assert generate(specs, assume_all()) == generate(load_specs(shipped_specs()), assume_all())


def test_one_param_entry_per_variant_and_one_case_per_spec_case():
    for spec in load_specs(shipped_specs()):
        text = render_suite(spec)
        assert f'.name = "{spec.suite}"' in text
        for case in spec.cases:
            if case.parameterised:
                entries = re.findall(r'\.desc = "([^"]*)"',
                                     text.split(f"{spec.suite}_{case.name}_params[]")[1]
                                     .split("};")[0])
                assert entries == [v.describe(case.swept) for v in case.variants]
                assert f"KUNIT_CASE_PARAM({spec.suite}_{case.name}," in text
            else:
                assert f"KUNIT_CASE({spec.suite}_{case.name})" in text


def test_expectations_follow_the_spec(tmp_path):
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        cases:
          - name: c
            span: {alloc: split_page, order: 2, guards: false}
            free: free_pages_bulk
            expect: {merged: 1, nr_free_pages: 3, balanced: false, guards: false}
        """)
    text = render_suite(spec)
    assert "kgen_expect_merged(test, span, 1);" in text
    assert "kgen_expect_free_delta(test, span, before, 3);" in text
    assert "kgen_expect_balanced" not in text
    assert "kgen_expect_guards_intact" not in text
    assert "kgen_expect_retained" not in text        # nothing held
    assert "KGEN_LAYOUT_BARE" in text and "KGEN_FREE_PAGES_BULK" in text


def test_power_checks_are_generated_where_they_apply(tmp_path):
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        cases:
          - name: c
            span: {alloc: split_page, order: 2}
            sweep: {free: [free_pages_bulk, free_page_loop]}
          - name: quiet
            span: {alloc: split_page, order: 2}
            free: free_pages_bulk
            expect: {prepared: false, batched: false}
          - name: v
            span: {alloc: vmap, pages: 2048, contiguous: true}
            free: vfree
          - name: b
            span: {alloc: boundary, boundary: node, pages_each_side: 8}
            free: free_pages_bulk
        """)
    text = render_suite(spec)
    c = text.split("static void kgen_g_c_attempt(")[1].split("static void")[0]
    # The check comes before the drain; the loop parameter only logs.
    assert c.index("kgen_expect_span_batched(test, span, p->api, p->batched);") < \
        c.index("kgen_drain(span);") < c.index("kgen_expect_prepared(test, span);")
    wrapper = text.split("static void kgen_g_c(")[1].split("static void")[0]
    # The case skips and picks its boot once, then runs its body as
    # attempts that a counter mismatch repeats (kgen_confirm.c).
    assert wrapper.index("kunit_skip(test") < wrapper.index("kgen_boot_require(") < \
        wrapper.index("kgen_run_confirmed(test, kgen_g_c_attempt, p);") < \
        wrapper.index("kgen_skip_unchecked(test, p->unchecked);")
    assert "kgen_boot_require" not in c and "kunit_skip" not in c
    params = text.split("kgen_g_c_params[] = {")[1].split("};")[0]
    assert params.count(".batched = true") == 1 and params.count(".batched = false") == 1
    off = text.split("static void kgen_g_quiet_attempt(")[1].split("static void")[0]
    assert "kgen_expect_span_batched" not in off and "kgen_expect_prepared" not in off
    v = text.split("static void kgen_g_v_attempt(")[1].split("static void")[0]
    assert "kgen_vmap_put_pages(test, p->nr_pages, true);" in v
    for call in ("kgen_expect_array_batched(test, arr, p->batched);",
                 "kgen_expect_array_prepared(test, arr);", "kgen_expect_array_balanced(test, arr);"):
        assert call in v
    b = text.split("static void kgen_g_b_attempt(")[1].split("static void")[0]
    for call in ("kgen_expect_bspan_merged(test, bs);", "kgen_expect_bspan_prepared(test, bs);",
                 "kgen_expect_bspan_balanced(test, bs);"):
        assert call in b
    # Boundary spans are checked for whole chunks too, before any drain.
    assert b.index("kgen_bspan_free(bs, p->api);") < \
        b.index("kgen_expect_bspan_batched(test, bs, p->batched);") < \
        b.index("kgen_expect_bspan_freed(test, bs);")
    assert "kgen_skip_unchecked(test, p->unchecked);" in text.split("static void kgen_g_b(")[1]


def test_pgfree_is_read_right_around_the_free(tmp_path):
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        cases:
          - name: c
            span: {alloc: split_page, order: 2}
            free: __free_contig_range
          - name: nocheck
            span: {alloc: split_page, order: 2}
            free: __free_contig_range
            expect: {pgfree: false}
          - name: v
            span: {alloc: vmalloc, pages: 8}
            free: vfree
          - name: b
            span: {alloc: boundary, boundary: node, pages_each_side: 8}
            free: free_pages_bulk
          - name: n
            span: {alloc: frozen, order: 3}
            free: free_frozen_pages_nolock
            sweep: {context: [raw_spinlock, hardirq]}
        """)
    text = render_suite(spec)
    c = text.split("static void kgen_g_c_attempt(")[1].split("static void")[0]
    # PGFREE is read right around the call, the pcp lists before any drain.
    assert c.index("pgfree = kgen_pgfree();") < c.index("kgen_span_free_in(") < \
        c.index("pgfree = kgen_pgfree() - pgfree;") < c.index("kgen_drain(span);")
    assert "kgen_expect_pgfree(test, pgfree," in c
    off = text.split("static void kgen_g_nocheck_attempt(")[1].split("static void")[0]
    assert "pgfree" not in off
    v = text.split("static void kgen_g_v_attempt(")[1].split("static void")[0]
    assert "kgen_expect_array_pgfree(test, arr);" in v
    b = text.split("static void kgen_g_b_attempt(")[1].split("static void")[0]
    assert "kgen_expect_bspan_pgfree(test, bs);" in b
    params = text.split("kgen_g_n_params[] = {")[1].split("};")[0]
    assert ".api = KGEN_FREE_FROZEN_PAGES_NOLOCK" in params
    assert ".context = KGEN_CTX_RAW_SPINLOCK" in params and ".context = KGEN_CTX_HARDIRQ" in params


def test_free_text_cannot_escape_the_comment(tmp_path):
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        description: "evil */ int x; /*"
        cases:
          - name: c
            description: "also */ evil"
            span: {alloc: split_page, order: 0}
            free: free_page_loop
        """)
    text = render_suite(spec)
    body = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    assert "evil" not in body and "int x" not in body


def test_write_files_only_touches_changed(tmp_path):
    files = {"a.c": "one\n", "b.c": "two\n"}
    assert len(write_files(files, tmp_path)) == 2
    before = os.stat(tmp_path / "a.c").st_mtime_ns
    assert write_files(files, tmp_path) == []
    assert write_files({"a.c": "one\n", "b.c": "three\n"}, tmp_path) == [tmp_path / "b.c"]
    assert os.stat(tmp_path / "a.c").st_mtime_ns == before


def _checkpatch() -> Path | None:
    tree = cache_root() / "sources" / "linux-source-7.3"
    script = tree / "scripts" / "checkpatch.pl"
    return script if script.is_file() else None


@pytest.mark.skipif(_checkpatch() is None,
                    reason="checkpatch.pl comes from the cached kernel tree: run `kgen kernel fetch`")
def test_generated_and_helper_c_are_checkpatch_clean(tmp_path):
    files = generate(load_specs(shipped_specs()), assume_all())
    files.update({n: d.decode() for n, d in helper_files().items()})
    write_files(files, tmp_path)
    for name in sorted(files):
        if not name.endswith((".c", ".h")):
            continue
        proc = subprocess.run(["perl", str(_checkpatch()), "--no-tree", "--terse",
                               "--show-types", "-f", str(tmp_path / name)],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and "ERROR" not in proc.stdout and \
            "WARNING" not in proc.stdout, proc.stdout


def test_reset_perms_marks_the_area_before_the_free(tmp_path):
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        cases:
          - name: r
            span: {alloc: vmalloc, pages: 4, reset_perms: true}
            free: vfree
          - name: plain
            span: {alloc: vmalloc, pages: 4}
            free: vfree
        """)
    text = render_suite(spec)
    r = text.split("static void kgen_g_r_attempt(")[1].split("static void")[0]
    assert r.index("kgen_vmalloc_area(") < r.index("kgen_vm_flush_reset_perms(test, arr);") \
        < r.index("kgen_vfree_area(arr, false);")
    plain = text.split("static void kgen_g_plain_attempt(")[1].split("static void")[0]
    assert "kgen_vm_flush_reset_perms" not in plain
    assert "kgen_vfree_area(arr, false);" in plain


def test_bh_disabled_vfree(tmp_path):
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        cases:
          - name: bh
            span: {alloc: vmap, pages: 4, bh_disabled: true}
            free: vfree
        """)
    bh = render_suite(spec).split("static void kgen_g_bh_attempt(")[1].split("static void")[0]
    assert "kgen_vfree_area(arr, true);" in bh


@pytest.mark.parametrize("span, free, misuse, call, real_free", [
    ("{alloc: vmalloc, pages: 4}", "vfree", "not_vmalloc",
     "kgen_vfree_misuse_not_vmalloc(test, arr, 1);", "kgen_vfree_area(arr, false);"),
    ("{alloc: frozen, compound: true, order: 4}", "free_contig_frozen_range", "compound_head",
     "kgen_span_misuse_compound_head(test, span, 1);", "kgen_span_free_in(span, p->api, p->context);"),
])
def test_misuse_counts_one_warn_before_the_real_free(tmp_path, span, free, misuse, call,
                                                     real_free):
    spec = spec_from(tmp_path, f"""\
        kgen: 1
        suite: kgen_g
        cases:
          - name: m
            span: {span}
            free: {free}
            misuse: {misuse}
        """)
    case = spec.cases[0]
    assert case.complains and case.expect.warnings == 1
    m = render_suite(spec).split("static void kgen_g_m_attempt(")[1].split("static void")[0]
    assert m.index(call) < m.index(real_free)


def test_cma_spans_run_only_in_their_own_boot_and_check_the_cma_counter(tmp_path):
    """A span-family suite with a guest layout (cma_mb) checks that it runs
    in the boot kgen made for it, as the boundary family's suites do; its
    CMA counter is read right around the free and again after the
    release."""
    spec = spec_from(tmp_path, """\
        kgen: 1
        suite: kgen_g
        guest: {cma_mb: 64}
        cases:
          - name: c
            span: {alloc: cma_frozen, order: 4}
            free: cma_release_frozen
        """)
    assert spec.guest.kernel_args("kgen_g") == ["kgen_kunit.guest=kgen_g", "cma=64M"]
    text = render_suite(spec)
    wrapper = text.split("static void kgen_g_c(")[1].split("static void")[0]
    assert 'kgen_guest_require(test, "kgen_g");' in wrapper
    body = text.split("static void kgen_g_c_attempt(")[1].split("static void")[0]
    assert "kgen_span_alloc(test, KGEN_ALLOC_CMA_FROZEN," in body
    assert body.index("cma = kgen_zone_nr_free_cma(span->zone);") < \
        body.index("kgen_span_free_in(span, p->api, p->context);") < \
        body.index("kgen_expect_cma_delta(test, span, cma, span->nr_pages);") < \
        body.index("kgen_span_release(span);") < body.index("kgen_expect_cma_balanced(test, span);")
    assert ".api = KGEN_FREE_CMA_RELEASE_FROZEN" in text
