"""Render a validated Spec into one KUnit C file (one suite per spec file).

Output is deterministic: the same spec and kgen version give byte-identical
C, so a rerun touches no file and the kernel build stays incremental.
"""
from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from kgen.ids import TestId
from kgen.spec.model import (
    ALLOCS,
    BOUNDARIES,
    FREE_APIS,
    LAYOUTS,
    SPOILS,
    Case,
    Selector,
    Spec,
    Variant,
)

_SEL_KINDS = {
    "first": "KGEN_SEL_FIRST",
    "last": "KGEN_SEL_LAST",
    "middle": "KGEN_SEL_MIDDLE",
    "index": "KGEN_SEL_INDEX",
    "every": "KGEN_SEL_EVERY",
}
# Characters a parameter description may carry into a C string literal.
_SAFE_DESC = re.compile(r"^[a-z0-9_=,+]*$")


@dataclass
class _SelTable:
    c_name: str
    items: list[dict]


def _cwrap(text: str) -> list[str]:
    """Wrap free text for a C block comment; it can never close the comment."""
    text = text.replace("*/", "* /").strip()
    lines: list[str] = []
    for para in text.split("\n\n"):
        if lines:
            lines.append("")
        lines += textwrap.wrap(" ".join(para.split()), 72) or []
    return lines


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["cwrap"] = _cwrap
    env.filters["c_str"] = c_string_or_null
    env.filters["c_ptr"] = lambda name: name or "NULL"
    env.filters["c_bool"] = lambda value: "true" if value else "false"
    return env


def c_string(text: str) -> str:
    """A C string literal for kgen-built text (skip reasons)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if " " <= c <= "~" else "?" for c in escaped) + '"'


def c_string_or_null(text: str | None) -> str:
    """c_string(text), or NULL for None (an optional const char * field)."""
    return "NULL" if text is None else c_string(text)


class _Selectors:
    """The static kgen_sel tables of one case, shared by equal selector sets."""

    def __init__(self, c_name: str):
        self.c_name = c_name
        self.tables: dict[tuple[Selector, ...], _SelTable] = {}

    def table(self, sels: tuple[Selector, ...]) -> str | None:
        """The C name of the table holding sels; None for no selectors."""
        if not sels:
            return None
        if sels not in self.tables:
            self.tables[sels] = _SelTable(
                f"{self.c_name}_sel{len(self.tables)}",
                [{"c_kind": _SEL_KINDS[s.kind], "arg": s.arg} for s in sels])
        return self.tables[sels].c_name


def _boundary_param(case: Case, variant: Variant, _sels: _Selectors) -> dict:
    return {"kind": BOUNDARIES[case.boundary or "zone"],
            # The loader admits only fixed zone names, never free text.
            "upper_zone": case.upper_zone, "nr_each": variant.each_side,
            "api": FREE_APIS[variant.free]}


def _array_param(case: Case, variant: Variant, _sels: _Selectors) -> dict:
    return {"nr_pages": variant.nr_pages,
            "layout": LAYOUTS.get(variant.layout or "", "KGEN_ARRAY_SORTED"),
            "merge_order": _merge_order(case, variant),
            "batched": case.checks_batching(variant)}


def _span_param(case: Case, variant: Variant, sels: _Selectors) -> dict:
    return {"order": variant.order, "api": FREE_APIS[variant.free],
            "hold": sels.table(variant.hold), "nr_hold": len(variant.hold),
            "refs": variant.hold_refs,
            "spoil": sels.table(variant.spoil), "nr_spoil": len(variant.spoil),
            "batched": case.checks_batching(variant)}


def _param_builder(case: Case):
    if case.boundary_family:
        return _boundary_param
    return _array_param if case.array_family else _span_param


def _case_view(spec: Spec, case: Case, skips: Mapping[TestId, str],
               unchecked: Mapping[TestId, str], boots: Mapping[TestId, int]) -> dict:
    """Plain data the template turns into one case's C (no C text here)."""
    test = TestId(spec.suite, case.name)
    sels = _Selectors(test.function)
    build = _param_builder(case)
    params = []
    for variant in case.variants:
        desc = variant.describe(case.swept)
        assert _SAFE_DESC.match(desc), desc   # the loader only admits these
        # The plan decided; the generator only writes the decision down.
        tid = TestId(spec.suite, case.name, desc if case.parameterised else "")
        param = build(case, variant, sels) | {"skip": skips.get(tid), "desc": desc,
                                              "unchecked": unchecked.get(tid)}
        if param["unchecked"] and "batched" in param:
            param["batched"] = False     # the tree does not batch: only log
        params.append(param)
    return {
        "name": case.name,
        "c_name": test.function,
        "line": case.line,
        "description": case.description,
        "parameterised": case.parameterised,
        "params": params,
        "selectors": list(sels.tables.values()),
        "any_hold": any(v.hold for v in case.variants),
        "any_spoil": any(v.spoil for v in case.variants),
        "spoil_kind": SPOILS.get(case.spoil_kind or "", ""),
        "bad_state": case.spoil_kind == "bad_state",
        "alloc": ALLOCS.get((case.alloc, case.compound), ""),
        "array": case.array_family,
        "boundary": case.boundary_family,
        "span_alloc": case.alloc,
        "huge": case.huge,
        "contiguous": case.contiguous,
        "reset_perms": case.reset_perms,
        "bh_disabled": case.bh_disabled,
        "misuse": case.misuse,
        "guarded": case.guards,
        "e": case.expect,
        "boot": boots.get(test, 0),
    }


def _merge_order(case: Case, variant: Variant) -> int:
    """Order every freed page of a vmalloc-family case must be back in.

    -1 means the vmalloc area's own page order (PMD order when vmalloc_huge()
    got huge pages, else 0).  A page array freed whole merges back to its
    block's order; gaps keep every page's buddy allocated.
    """
    if case.expect.merged is None:
        return 0
    if case.alloc == "vmalloc" or case.contiguous:
        return -1     # the area's page order; a contiguous range's own order
    if case.alloc == "vmap":
        return 0      # separately allocated order-0 pages
    size_order = variant.nr_pages.bit_length() - 1
    return {"sorted": size_order, "reversed": size_order, "gaps": 0,
            "interleaved": size_order - 1}[variant.layout or "sorted"]


def spec_hash(spec: Spec) -> str:
    return hashlib.sha256(spec.path.read_bytes()).hexdigest()


def render_suite(spec: Spec, skips: Mapping[TestId, str] | None = None,
                 unchecked: Mapping[TestId, str] | None = None,
                 boots: Mapping[TestId, int] | None = None) -> str:
    """The C source of the KUnit suite for one spec.

    skips: the plan's skip reason for each test that cannot run on this
    tree and arch (kgen.runner.run.plan); every other test runs.
    unchecked: for tests that run, what they cannot check on this tree;
    such a test that passes ends as a skip with this reason.
    boots: the complaint boot of each case (no param) that has one; every
    other case runs in the main boot.
    """
    skips = skips or {}
    unchecked = unchecked or {}
    boots = boots or {}
    template = _environment().get_template("suite.c.j2")
    return template.render(
        spec=spec,
        spec_name=spec.path.name,
        spec_hash=spec_hash(spec)[:16],
        cases=[_case_view(spec, c, skips, unchecked, boots) for c in spec.cases],
        guest=spec.guest is not None,
    )


def render_caps(have: Mapping[str, bool]) -> str:
    """kgen_caps.h: KGEN_HAVE_<NAME> 1/0 for what the probed tree has."""
    return _environment().get_template("kgen_caps.h.j2").render(defines=sorted(have.items()))


def suite_filename(spec: Spec) -> str:
    return f"{spec.suite}_kunit.c"


def render_makefile(specs: list[Spec]) -> str:
    objects = [suite_filename(s)[:-2] + ".o" for s in specs]
    return _environment().get_template("Makefile.j2").render(objects=objects)


def render_all(specs: list[Spec], skips: Mapping[TestId, str],
               have: Mapping[str, bool],
               unchecked: Mapping[TestId, str] | None = None,
               boots: Mapping[TestId, int] | None = None) -> dict[str, str]:
    """File name -> contents of everything generated for mm/kgen/.

    skips: the plan's decisions (TestId -> reason); have: KGEN_HAVE_<NAME>
    values for kgen_caps.h (Capabilities.have()); unchecked: the plan's
    expectations a running test cannot check (Plan.unchecked()); boots: the
    plan's complaint boot of each case that has one (Plan.boots()).
    """
    files = {suite_filename(s): render_suite(s, skips, unchecked, boots) for s in specs}
    files["Makefile"] = render_makefile(specs)
    files["kgen_caps.h"] = render_caps(have)
    return files


def write_files(files: dict[str, str], outdir: Path) -> list[Path]:
    """Write files whose contents changed (keeps mtimes for make); return them."""
    outdir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in sorted(files.items()):
        target = outdir / name
        if target.exists() and target.read_text() == text:
            continue
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
        changed.append(target)
    return changed
