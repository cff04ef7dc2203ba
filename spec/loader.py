"""Load spec files: YAML -> positions -> schema check -> semantic check -> model.

Every problem is reported as ``path:line:col: message``; a spec with any
problem yields no model at all, so no C is ever generated from it.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from kgen.arch import arch
from kgen.errors import UsageError
from kgen.kernel_range import BadConstraint, parse_range

from .model import (
    ARRAY_ALLOCS,
    BAD_PAGE_STATE,
    BOUNDARY_FREE_APIS,
    MERGED_MAX,
    PER_BAD_PAGE,
    Case,
    Expect,
    ExplicitNeeds,
    Guest,
    KnownIssue,
    Selector,
    Spec,
    Variant,
    splat_counts,
)

# KUnit truncates parameter descriptions at KUNIT_PARAM_DESC_SIZE (128).
MAX_PARAM_DESC = 127
# Keep one generated suite bounded: each parameter is a boot-time test.
MAX_VARIANTS_PER_CASE = 256
SWEEP_KEYS = ("order", "free", "hold", "hold_refs", "poison", "bad_state", "pages",
              "layout", "pages_each_side")
# Guest RAM kgen asks QEMU for (TCG on a build machine).
MAX_GUEST_MB = 8192
# bad_page() stops printing after 60 reports a minute; stay well below.
MAX_BAD_STATE_PAGES = 40

JsonPath = tuple[Any, ...]


@dataclass(frozen=True)
class SpecProblem:
    path: Path
    line: int      # 1-based
    col: int       # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class SpecError(UsageError):
    """One or more problems in spec files (bad input, exit 2)."""

    def __init__(self, problems: list[SpecProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems

    def report(self) -> str:
        """Every problem as path:line:col: message, then the count."""
        return "\n".join([*map(str, self.problems),
                          f"kgen: {len(self.problems)} problem(s) in specs; nothing generated"])


@functools.cache
def schema() -> dict:
    text = resources.files(__package__).joinpath("schema.json").read_text()
    return json.loads(text)


class _Positions:
    """Maps a JSON path inside the document to its YAML source position."""

    def __init__(self) -> None:
        self.marks: dict[JsonPath, tuple[int, int]] = {}

    def at(self, path: JsonPath) -> tuple[int, int]:
        # Fall back to the closest enclosing node that has a position.
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))


def _to_data(node: yaml.Node, path: JsonPath, pos: _Positions,
             problems: list[tuple[JsonPath, str]]) -> Any:
    """Convert a composed YAML node to plain data, recording positions."""
    pos.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            if key in out:
                pos.marks[path + (key,)] = (key_node.start_mark.line + 1,
                                            key_node.start_mark.column + 1)
                problems.append((path + (key,), f"duplicate key {key!r}"))
                continue
            out[key] = _to_data(value_node, path + (key,), pos, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(n, path + (i,), pos, problems)
                for i, n in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _parse_yaml(path: Path, text: str) -> tuple[Any, _Positions, list[SpecProblem]]:
    pos = _Positions()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, pos, [SpecProblem(path, line, col,
                                       f"YAML syntax: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, pos, [SpecProblem(path, 1, 1, f"YAML: {exc}")]
    if node is None:
        return None, pos, [SpecProblem(path, 1, 1, "empty spec file")]
    dup: list[tuple[JsonPath, str]] = []
    data = _to_data(node, (), pos, dup)
    problems = [SpecProblem(path, *pos.at(p), msg) for p, msg in dup]
    return data, pos, problems


def _schema_problems(path: Path, data: Any, pos: _Positions) -> list[SpecProblem]:
    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        # For oneOf failures the best sub-error says more than "is not valid".
        best = jsonschema.exceptions.best_match([err])
        where = tuple(best.absolute_path)
        field = ".".join(str(p) for p in where) or "(top level)"
        problems.append(SpecProblem(path, *pos.at(where), f"{field}: {best.message}"))
    return problems


def _selector(raw: Any) -> Selector:
    if isinstance(raw, bool):
        raise ValueError(f"not a page selector: {raw!r}")
    if isinstance(raw, int):
        return Selector("index", raw)
    if isinstance(raw, dict):
        return Selector("every", raw["every"])
    return Selector(raw)


def _merged(raw: Any) -> int | None:
    if raw is True or raw == "max":
        return MERGED_MAX
    if raw is False:
        return None
    return int(raw)


class _RawCase:
    """One schema-valid case as written, and where its problems go."""

    def __init__(self, path: Path, idx: int, raw: dict, pos: _Positions,
                 problems: list[SpecProblem]):
        self.path, self.raw, self.pos, self.problems = path, raw, pos, problems
        self.where: JsonPath = ("cases", idx)
        self.span: dict = raw["span"]
        self.sweep: dict = raw.get("sweep", {})
        self.alloc: str = self.span["alloc"]
        self.compound: bool = self.span.get("compound", False)
        self.misuse: str | None = raw.get("misuse")
        self.spoil_keys = [k for k in ("poison", "bad_state") if k in raw or k in self.sweep]
        self.spoil_kind: str | None = self.spoil_keys[0] if self.spoil_keys else None

    def problem(self, sub: JsonPath, msg: str) -> None:
        self.problems.append(SpecProblem(self.path, *self.pos.at(self.where + sub), msg))

    def given(self, key: str) -> JsonPath:
        """Where a case key was given: the case itself, else its sweep."""
        return (key,) if key in self.raw else ("sweep", key)

    def swept_or(self, key: str, fallback: JsonPath) -> JsonPath:
        """Where a value came from: the sweep if it sweeps key, else fallback."""
        return ("sweep", key) if key in self.sweep else fallback


def _build_case(path: Path, idx: int, raw: dict, pos: _Positions,
                problems: list[SpecProblem]) -> Case | None:
    """Checks every case has, then its family's builder (_FAMILIES)."""
    c = _RawCase(path, idx, raw, pos, problems)
    if len(c.spoil_keys) > 1:
        c.problem((), "use poison or bad_state in one case, not both")
        return None
    _sweep_conflicts(c)
    return _FAMILIES[c.alloc](c)


def _sweep_conflicts(c: _RawCase) -> None:
    """A value is given once: in the case (or its span), or in the sweep."""
    for key in c.sweep:
        if key in ("order", "pages", "layout") and key in c.span:
            c.problem(("sweep", key), f"{key} is set in span and swept: pick one")
        elif key in SWEEP_KEYS and key in c.raw:
            c.problem(("sweep", key), f"{key} is set and swept: pick one")


# ---- Family builders -------------------------------------------------------
#
# Each checks what its family allows, then expands the sweep with its own
# per-variant check and builds its expectations.  The order of the checks
# is the order problems are reported in.  The array and boundary families
# admit only some keys (_array_case_ok, _boundary_case_ok), so the span
# families' rules about holds, spoils, misuse and guards cannot apply there.

def _build_split_case(c: _RawCase) -> Case | None:
    """split_page and contig spans: pages may be held, HWPoisoned or bad."""
    if not _span_shape_ok(c):
        return None
    if c.compound:
        c.problem(("span", "compound"), "compound spans are frozen: alloc: frozen")
    guards = _span_guards(c)
    _spoil_and_misuse_rules(c)
    return _finish_span_case(c, guards)


def _build_frozen_case(c: _RawCase) -> Case | None:
    """frozen spans (refcount 0), maybe one compound folio, maybe misused."""
    if not _span_shape_ok(c):
        return None
    guards = _span_guards(c)
    if c.raw.get("hold") or "hold" in c.sweep:
        c.problem(c.given("hold"),
                  "frozen pages have refcount 0: get_page_unless_zero() cannot hold them")
    _spoil_and_misuse_rules(c)
    return _finish_span_case(c, guards)


def _build_array_case(c: _RawCase) -> Case | None:
    """vmalloc, vmap and page_array: pages tracked as an array, order 0."""
    if not _array_case_ok(c) or _boundary_keys_misplaced(c):
        return None
    expanded = _expand_sweep(c, _axis_defaults(c, 0), _check_array_size)
    if expanded is None:
        return None
    swept, variants = expanded
    return _case(c, swept, variants, _array_expect(c), guards=False)


def _build_boundary_case(c: _RawCase) -> Case | None:
    """pages_each_side pages on each side of a zone, node or section boundary."""
    if not _boundary_case_ok(c):   # also checks the free API
        return None
    expanded = _expand_sweep(c, _axis_defaults(c, 0), _no_variant_check)
    if expanded is None:
        return None
    swept, variants = expanded
    return _case(c, swept, variants, _boundary_expect(c), guards=False)


# span.alloc -> the builder of its family.
_FAMILIES: dict[str, Callable[[_RawCase], Case | None]] = {
    "split_page": _build_split_case,
    "contig": _build_split_case,
    "frozen": _build_frozen_case,
    **dict.fromkeys(ARRAY_ALLOCS, _build_array_case),
    "boundary": _build_boundary_case,
}


# split_page, contig and frozen spans share these rules.

def _span_shape_ok(c: _RawCase) -> bool:
    """A split_page, contig or frozen span has an order and a free API."""
    if _boundary_keys_misplaced(c):
        return False
    span, sweep = c.span, c.sweep
    if (span.get("pages") is not None or "pages" in sweep or span.get("layout")
            or "layout" in sweep or "huge" in span or "reset_perms" in span
            or "bh_disabled" in span):
        c.problem(("span",), "pages, layout, huge, reset_perms and bh_disabled belong to "
                  "vmalloc/page_array spans")
    if span.get("order") is None and "order" not in sweep:
        c.problem(("span",), "span needs an order (or sweep.order)")
        return False
    if c.raw.get("free") is None and "free" not in sweep:
        c.problem((), "case needs a free API: free: or sweep.free")
        return False
    return True


def _boundary_keys_misplaced(c: _RawCase) -> bool:
    """Outside the boundary family: boundary keys are a mistake."""
    if any(k in c.span for k in _BOUNDARY_SPAN_KEYS) or "pages_each_side" in c.sweep:
        c.problem(("span",), "boundary, upper_zone and pages_each_side belong to "
                  "boundary spans (alloc: boundary)")
        return True
    return False


def _span_guards(c: _RawCase) -> bool:
    """Guard pages around the span: by default unless it is one folio."""
    guards = c.span.get("guards", not c.compound)
    if c.compound and guards:
        c.problem(("span", "guards"), "a compound span is one folio: it cannot have guards")
    return guards


def _spoil_and_misuse_rules(c: _RawCase) -> None:
    """Only a compound frozen span is misused; none of its pages is spoiled."""
    if c.compound and c.spoil_kind:
        c.problem(c.given(c.spoil_kind), "spoiling a page of a compound span is not supported")
    if c.raw.get("force") and c.misuse != "order_mismatch":
        c.problem(("force",), "force only applies to misuse: order_mismatch")
    if c.misuse == "not_vmalloc":
        c.problem(("misuse",), "misuse: not_vmalloc is a vfree() misuse: "
                  "span: {alloc: vmalloc} or {alloc: vmap}")
    elif c.misuse and not c.compound:
        c.problem(("misuse",), "misuse cases need a compound frozen span "
                  "(span: {alloc: frozen, compound: true})")


def _finish_span_case(c: _RawCase, guards: bool) -> Case | None:
    """split_page, contig, frozen: variants, bad-state budget, expectations."""
    expanded = _expand_sweep(c, _axis_defaults(c, c.span.get("order")), _check_span_free)
    if expanded is None:
        return None
    swept, variants = expanded
    expect = _span_expect(c, guards, variants)
    _bad_page_budget(c, variants, expect)
    return _case(c, swept, variants, expect, guards)


def _no_variant_check(c: _RawCase, variant: Variant) -> None:
    """Boundary spans: _boundary_case_ok checked the free APIs."""


def _check_span_free(c: _RawCase, variant: Variant) -> None:
    """split_page/contig spans and frozen spans each have their free APIs."""
    if variant.free == "vfree":
        c.problem(("free",), "vfree() frees vmalloc spans only")
    elif (variant.free == "free_contig_frozen_range") != (c.alloc == "frozen"):
        c.problem(c.swept_or("free", ("free",)),
                  "free_contig_frozen_range() frees frozen spans, and frozen spans "
                  "need free_contig_frozen_range()")


def _check_array_size(c: _RawCase, variant: Variant) -> None:
    """free_pages_bulk() takes a page_array of a power-of-two size; a
    contiguous vmap is one aligned alloc_contig_pages() range."""
    pages = variant.pages
    if c.alloc == "page_array" and (pages < 2 or pages & (pages - 1) or pages > 1024):
        c.problem(c.swept_or("pages", ("span", "pages")),
                  f"a page_array needs a power-of-two size from 2 to 1024, not {pages}")
    if c.span.get("contiguous") and pages & (pages - 1):
        c.problem(c.swept_or("pages", ("span", "pages")),
                  f"a contiguous vmap needs a power-of-two size, not {pages}")


# ---- What each family admits ----------------------------------------------

_BOUNDARY_SPAN_KEYS = ("boundary", "upper_zone", "pages_each_side")
_BOUNDARY_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs",
                       "known_issue"}
_BOUNDARY_EXPECT_KEYS = {"freed", "no_straddle", "zones_kept", "nr_free_pages",
                         "merged", "prepared", "balanced", "no_warning"}


def _only_keys(c: _RawCase, case_keys: set[str], expect_keys: set[str], what: str) -> bool:
    """A family that applies only some case keys and expectations says so."""
    ok = True
    for key in sorted(set(c.raw) - case_keys):
        c.problem((key,), f"{key} does not apply to {what} spans")
        ok = False
    for key in sorted(set(c.raw.get("expect", {})) - expect_keys):
        c.problem(("expect", key), f"expect.{key} does not apply to {what} spans "
                  f"(use {', '.join(sorted(expect_keys))})")
        ok = False
    return ok


def _boundary_case_ok(c: _RawCase) -> bool:
    raw, span, sweep, problem = c.raw, c.span, c.sweep, c.problem
    ok = _only_keys(c, _BOUNDARY_CASE_KEYS, _BOUNDARY_EXPECT_KEYS, "boundary")
    if not isinstance(raw.get("expect", {}).get("nr_free_pages", True), bool):
        problem(("expect", "nr_free_pages"), "boundary spans check nr_free_pages per "
                "zone: true or false")
        ok = False
    if raw.get("expect", {}).get("merged", True) not in (True, False, "max"):
        problem(("expect", "merged"), "boundary spans merge as far as each side's "
                "alignment allows: merged is true (or max) or false")
        ok = False
    for key in sorted(set(sweep) - {"free", "pages_each_side"}):
        problem(("sweep", key), "boundary spans sweep free or pages_each_side only")
        ok = False
    for key in sorted(set(span) - {"alloc", *_BOUNDARY_SPAN_KEYS}):
        problem(("span", key), f"{key} does not apply to boundary spans")
        ok = False
    if "boundary" not in span:
        problem(("span",), "a boundary span needs boundary: zone, node or section")
        ok = False
    if "upper_zone" in span and span.get("boundary") != "zone":
        problem(("span", "upper_zone"), "upper_zone applies to boundary: zone")
        ok = False
    if "pages_each_side" not in span and "pages_each_side" not in sweep:
        problem(("span",), "a boundary span needs pages_each_side (or sweep.pages_each_side)")
        ok = False
    frees = sweep.get("free", [raw.get("free")])
    for free in frees:
        if free not in BOUNDARY_FREE_APIS:
            problem(c.swept_or("free", ("free",)),
                    f"a boundary span is freed by one of {', '.join(BOUNDARY_FREE_APIS)}"
                    f", not {free}")
            ok = False
    return ok


# What a vmalloc-family case may use: these specs track pages as an array.
_ARRAY_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs",
                    "known_issue", "misuse"}
_ARRAY_EXPECT_KEYS = {"freed", "merged", "nr_vmalloc", "prepared", "batched",
                      "balanced", "no_warning", "warnings"}


def _array_case_ok(c: _RawCase) -> bool:
    raw, span, sweep, alloc, problem = c.raw, c.span, c.sweep, c.alloc, c.problem
    ok = _only_keys(c, _ARRAY_CASE_KEYS, _ARRAY_EXPECT_KEYS, alloc)
    for key in sorted(set(sweep) - {"pages", "layout"}):
        problem(("sweep", key), f"{alloc} spans sweep pages or layout only")
        ok = False
    for key in ("order", "guards", "compound"):
        if key in span:
            problem(("span", key), f"{key} does not apply to {alloc} spans (use pages)")
            ok = False
    if "pages" not in span and "pages" not in sweep:
        problem(("span",), f"a {alloc} span needs pages (or sweep.pages)")
        ok = False
    want = "free_pages_bulk" if alloc == "page_array" else "vfree"
    if raw.get("free") != want:
        problem(("free",) if "free" in raw else (), f"{alloc} spans are freed by {want}")
        ok = False
    if alloc != "page_array" and ("layout" in span or "layout" in sweep):
        problem(("span",), "layout applies to page_array spans")
        ok = False
    if alloc == "page_array" and "layout" not in span and "layout" not in sweep:
        problem(("span",), "a page_array span needs a layout (or sweep.layout)")
        ok = False
    if alloc != "vmalloc" and "huge" in span:
        problem(("span", "huge"), "huge applies to vmalloc spans")
        ok = False
    if alloc != "vmap" and "contiguous" in span:
        problem(("span", "contiguous"), "contiguous applies to vmap spans")
        ok = False
    for key in ("reset_perms", "bh_disabled"):
        if alloc == "page_array" and key in span:
            problem(("span", key), f"{key} applies to vmalloc and vmap spans "
                    "(it is about the vfree() of the area)")
            ok = False
    return _array_misuse_ok(c) and ok


def _array_misuse_ok(c: _RawCase) -> bool:
    """An area's only misuse: vfree() of an address vmalloc never gave out."""
    if c.misuse is None:
        return True
    if c.misuse != "not_vmalloc" or c.alloc == "page_array":
        c.problem(("misuse",), "vmalloc and vmap spans take misuse: not_vmalloc only; "
                  "page arrays take none")
        return False
    if c.span.get("bh_disabled"):
        # vfree_atomic() would WARN later, in a work item, outside the
        # case's warning suppression.
        c.problem(("span", "bh_disabled"), "misuse: not_vmalloc counts the WARN in the "
                  "case itself: it cannot defer vfree() with bh_disabled")
        return False
    return True


# ---- Shared steps: sweep expansion, expectations, needs --------------------

def _axis_defaults(c: _RawCase, order: int | None) -> dict[str, Any]:
    """The value of each sweep axis where the case does not sweep it."""
    raw, span = c.raw, c.span
    return {
        "order": order,
        "free": raw.get("free"),
        "hold": raw.get("hold", []),
        "hold_refs": raw.get("hold_refs", 1),
        "poison": raw.get("poison", []),
        "bad_state": raw.get("bad_state", []),
        "pages": span.get("pages"),
        "layout": span.get("layout"),
        "pages_each_side": span.get("pages_each_side"),
    }


def _expand_sweep(c: _RawCase, defaults: dict[str, Any], check_variant
                  ) -> tuple[tuple[str, ...], list[Variant]] | None:
    """The sweep's cross product as variants, each checked; None if too many.

    check_variant is the family's own check of one variant; it runs after
    the selector checks (which find nothing in families without selectors).
    """
    swept = tuple(k for k in SWEEP_KEYS if k in c.sweep)
    axes = [c.sweep[k] if k in c.sweep else [defaults[k]] for k in SWEEP_KEYS]
    combos = list(itertools.product(*axes))
    if len(combos) > MAX_VARIANTS_PER_CASE:
        c.problem(("sweep",), f"sweep expands to {len(combos)} parameters; "
                  f"at most {MAX_VARIANTS_PER_CASE} per case")
        return None
    variants: list[Variant] = []
    seen: set[str] = set()
    for combo in combos:
        variant = _variant(dict(zip(SWEEP_KEYS, combo)))
        _check_selectors(c, variant)
        check_variant(c, variant)
        _check_description(c, variant, swept, seen)
        variants.append(variant)
    return swept, variants


def _variant(values: dict[str, Any]) -> Variant:
    spoil = values["poison"] or values["bad_state"]
    return Variant(order=values["order"], free=values["free"],
                   hold=tuple(_selector(s) for s in values["hold"]),
                   hold_refs=values["hold_refs"],
                   spoil=tuple(_selector(s) for s in spoil),
                   pages=values["pages"], layout=values["layout"],
                   each_side=values["pages_each_side"])


def _check_selectors(c: _RawCase, variant: Variant) -> None:
    """Held and spoiled pages lie in the span, and no page is both."""
    for key, sels in (("hold", variant.hold), (c.spoil_kind, variant.spoil)):
        for sel_idx, sel in enumerate(sels):
            if sel.kind == "index" and sel.arg >= variant.nr_pages:
                c.problem(c.swept_or(key, (key, sel_idx)),
                          f"{key} index {sel.arg} is outside an order-{variant.order} "
                          f"span ({variant.nr_pages} pages)")
    if variant.held_indices() & variant.spoiled_indices():
        c.problem((), f"{variant.describe(SWEEP_KEYS)}: a page is both held and "
                  f"{c.spoil_kind}; its free would never reach free_pages_prepare()")


def _check_description(c: _RawCase, variant: Variant, swept: tuple[str, ...],
                       seen: set[str]) -> None:
    """KUnit parameter descriptions fit and are unique."""
    desc = variant.describe(swept)
    if len(desc) > MAX_PARAM_DESC:
        c.problem(("sweep",), f"parameter description too long ({len(desc)} > "
                  f"{MAX_PARAM_DESC}): {desc[:40]}...")
    if swept and desc in seen:
        c.problem(("sweep",), f"sweep produces the parameter {desc!r} twice")
    seen.add(desc)


def _bad_page_budget(c: _RawCase, variants: list[Variant], expect: Expect) -> None:
    """bad_page() prints 60 reports a minute and then nothing: a case must
    expect few enough that every one of them is seen and counted."""
    total = sum(splat_counts(expect.splats, v).get(BAD_PAGE_STATE, 0) for v in variants)
    if total > MAX_BAD_STATE_PAGES:
        where = ("expect", "splats") if "splats" in c.raw.get("expect", {}) \
            else c.given("bad_state")
        c.problem(where, f"{total} bad-page reports expected in one case; the "
                  f"kernel stops printing them after 60 a minute, keep it under "
                  f"{MAX_BAD_STATE_PAGES}")


def _splats(c: _RawCase) -> tuple[tuple[str, int], ...]:
    """expect.splats as (kind, exact count): a mapping as written, a list
    once each; by default one "Bad page state" per bad_state page."""
    raw = c.raw.get("expect", {}).get("splats")
    if raw is None:
        return ((BAD_PAGE_STATE, PER_BAD_PAGE),) if c.spoil_kind == "bad_state" else ()
    if isinstance(raw, list):
        return tuple((kind, 1) for kind in raw)
    return tuple(sorted(raw.items()))


def _span_expect(c: _RawCase, guards: bool, variants: list[Variant]) -> Expect:
    """Expectations of a split_page, contig or frozen span, checked."""
    raw = c.raw.get("expect", {})
    expect = Expect(
        freed=raw.get("freed", True),
        retained=raw.get("retained", True),
        held_refcount=raw.get("held_refcount"),
        released=raw.get("released", True),
        merged=_merged(raw.get("merged", "max")),
        nr_free_pages=raw.get("nr_free_pages", True),
        balanced=raw.get("balanced", True),
        guards=raw.get("guards", guards),
        no_warning=raw.get("no_warning", True),
        no_straddle=raw.get("no_straddle", False),
        zones_kept=raw.get("zones_kept", False),
        leaked=raw.get("leaked", True),
        nr_vmalloc=raw.get("nr_vmalloc", False),
        warnings=raw.get("warnings", 1 if c.misuse in ("tail_start", "compound_head")
                         else None),
        splats=_splats(c),
        prepared=raw.get("prepared", True),
        batched=raw.get("batched", True),
    )
    if expect.guards and not guards:
        c.problem(("expect", "guards"), "expect.guards needs span.guards: true")
    if expect.held_refcount is not None and not any(v.hold for v in variants):
        c.problem(("expect", "held_refcount"), "held_refcount without any held pages")
    if expect.warnings is not None and not c.misuse:
        c.problem(("expect", "warnings"), "expect.warnings counts the WARNs of a misuse: case")
    if raw.get("batched") and all(v.free == "free_page_loop" for v in variants):
        c.problem(("expect", "batched"), "free_page_loop frees page by page: "
                  "expect.batched applies to the batched free APIs")
    return expect


def _array_expect(c: _RawCase) -> Expect:
    """vmalloc family: _array_case_ok admitted only the keys used here."""
    raw = c.raw.get("expect", {})
    if "warnings" in raw and not c.misuse:
        c.problem(("expect", "warnings"), "expect.warnings counts the WARNs of a misuse: case")
    return Expect(freed=raw.get("freed", True), merged=_merged(raw.get("merged", "max")),
                  no_warning=raw.get("no_warning", True),
                  nr_vmalloc=raw.get("nr_vmalloc", c.alloc in ("vmalloc", "vmap")),
                  prepared=raw.get("prepared", True), batched=raw.get("batched", True),
                  balanced=raw.get("balanced", True), guards=False,
                  warnings=raw.get("warnings", 1 if c.misuse else None))


def _boundary_expect(c: _RawCase) -> Expect:
    """Boundary family: _boundary_case_ok admitted only the keys used here."""
    raw = c.raw.get("expect", {})
    return Expect(freed=raw.get("freed", True),
                  nr_free_pages=raw.get("nr_free_pages", True),
                  no_warning=raw.get("no_warning", True),
                  no_straddle=raw.get("no_straddle", True),
                  zones_kept=raw.get("zones_kept", True),
                  merged=_merged(raw.get("merged", "max")),
                  prepared=raw.get("prepared", True),
                  balanced=raw.get("balanced", True),
                  guards=False, batched=False)


def _needs(raw: dict) -> ExplicitNeeds:
    return ExplicitNeeds(kconfig=tuple(raw.get("kconfig", [])),
                         memory_mb=raw.get("memory_mb"),
                         kernel_args=tuple(raw.get("kernel_args", [])),
                         kconfig_off=tuple(raw.get("kconfig_off", [])),
                         arches=tuple(raw.get("arches", [])),
                         why=" ".join(raw.get("why", "").split()))


def _case(c: _RawCase, swept: tuple[str, ...], variants: list[Variant], expect: Expect,
          guards: bool) -> Case:
    raw, span = c.raw, c.span
    variants = _with_known_issues(c, swept, variants)
    return Case(name=raw["name"], line=c.pos.at(c.where)[0], variants=variants,
                swept=swept, expect=expect, guards=guards,
                description=raw.get("description", ""), alloc=c.alloc,
                compound=c.compound, spoil_kind=c.spoil_kind, misuse=c.misuse,
                force=raw.get("force", False), needs=_needs(raw.get("needs", {})),
                huge=span.get("huge", False), contiguous=span.get("contiguous", False),
                reset_perms=span.get("reset_perms", False),
                bh_disabled=span.get("bh_disabled", False),
                boundary=span.get("boundary"),
                upper_zone=span.get("upper_zone"))


# ---- Known issues ------------------------------------------------------------

def _axis_value(key: str, raw: Any) -> Any:
    """A swept value as the variant holds it, for comparing with `when`."""
    if key in ("hold", "poison", "bad_state"):
        return tuple(_selector(s) for s in raw)
    return raw


def _variant_value(variant: Variant, key: str) -> Any:
    """The value a variant has on one sweep axis."""
    attr = {"pages_each_side": "each_side", "poison": "spoil", "bad_state": "spoil"}
    return getattr(variant, attr.get(key, key))


def _with_known_issues(c: _RawCase, swept: tuple[str, ...],
                       variants: list[Variant]) -> list[Variant]:
    """Each variant with the first of the case's known issues that applies
    to it: one without `when`, or one whose `when` names its swept values."""
    raw = c.raw.get("known_issue")
    if raw is None:
        return variants
    entries = [((), raw)] if isinstance(raw, dict) else \
        [((i,), entry) for i, entry in enumerate(raw)]
    issues = []
    for sub, entry in entries:
        where = ("known_issue",) + sub
        issue = _known_issue(c, where, entry)
        when = _known_when(c, where, entry.get("when", {}), swept)
        if issue is not None and when is not None:
            issues.append((issue, when))
    out = []
    for variant in variants:
        match = next((issue for issue, when in issues
                      if all(_variant_value(variant, k) in values
                             for k, values in when.items())), None)
        out.append(dataclasses.replace(variant, known_issue=match) if match else variant)
    return out


def _known_issue(c: _RawCase, where: JsonPath, raw: dict) -> KnownIssue | None:
    kernels = None
    if "kernels" in raw:
        try:
            kernels = parse_range(raw["kernels"])
        except BadConstraint as err:
            c.problem(where + ("kernels",), f"known_issue.kernels: {err}")
            return None
    return KnownIssue(reason=" ".join(raw["reason"].split()), link=raw.get("link", ""),
                      kernels=kernels, line=c.pos.at(c.where + where)[0])


def _known_when(c: _RawCase, where: JsonPath, when: dict,
                swept: tuple[str, ...]) -> dict[str, list[Any]] | None:
    """`when` as axis -> values, each checked to be a value the case sweeps."""
    out: dict[str, list[Any]] = {}
    ok = True
    for key, values in when.items():
        if key not in swept:
            c.problem(where + ("when", key), f"known_issue.when: the case does not sweep "
                      f"{key!r}" + (f" (it sweeps {', '.join(swept)})" if swept
                                    else " (it sweeps nothing: leave `when` out)"))
            ok = False
            continue
        allowed = [_axis_value(key, v) for v in c.sweep[key]]
        out[key] = []
        for idx, value in enumerate(values):
            try:
                normal = _axis_value(key, value)
            except (TypeError, ValueError, KeyError):
                normal = None
            if normal is None or normal not in allowed:
                c.problem(where + ("when", key, idx), f"known_issue.when: {key} {value!r} "
                          f"is not one of the swept values {c.sweep[key]!r}")
                ok = False
            else:
                out[key].append(normal)
    return out if ok else None


def load_spec(path: Path) -> Spec:
    """Load and validate one spec file; raise SpecError listing every problem.

    Phases, each reporting all its problems before the next one runs: read
    the YAML with positions, check it against the schema, build every case,
    check the guest layout.
    """
    data, pos = _read_checked(path)
    cases = _build_cases(path, data["cases"], pos)
    guest = _build_guest(path, data, pos)
    return Spec(path=path, suite=data["suite"], cases=cases,
                description=data.get("description", ""), guest=guest)


def _read_checked(path: Path) -> tuple[Any, _Positions]:
    """Phases 1 and 2: the document with its positions, schema-valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(path, 1, 1, f"cannot read: {exc}")]) from None
    data, pos, problems = _parse_yaml(path, text)
    if data is None:
        raise SpecError(problems)
    problems += _schema_problems(path, data, pos)
    if problems:
        raise SpecError(problems)
    return data, pos


def _build_cases(path: Path, raw_cases: list[dict], pos: _Positions) -> list[Case]:
    """Phase 3: every case, with unique names."""
    problems: list[SpecProblem] = []
    cases: list[Case] = []
    names: set[str] = set()
    for idx, raw_case in enumerate(raw_cases):
        if raw_case["name"] in names:
            problems.append(SpecProblem(path, *pos.at(("cases", idx, "name")),
                                        f"duplicate case name {raw_case['name']!r}"))
        names.add(raw_case["name"])
        case = _build_case(path, idx, raw_case, pos, problems)
        if case:
            cases.append(case)
    if problems:
        raise SpecError(problems)
    return cases


def _build_guest(path: Path, data: dict, pos: _Positions) -> Guest | None:
    """Phase 4: the guest layout a suite boots in, if it has one."""
    if "guest" not in data:
        return None
    raw = data["guest"]
    guest = Guest(memory_mb=raw.get("memory_mb"), nodes_mb=tuple(raw.get("nodes_mb", [])),
                  movablecore_mb=raw.get("movablecore_mb"),
                  boundary_cma_mb=raw.get("boundary_cma_mb"),
                  dma_limit_mb=raw.get("dma_limit_mb"))
    problems = [SpecProblem(path, *pos.at(("guest",) + sub), msg)
                for sub, msg in _guest_problems(guest)]
    if problems:
        raise SpecError(problems)
    return guest


# Device-tree regions are placed for arm64 guests (QEMU virt), whose RAM
# base the Arch table holds.
_ARM64_RAM_BASE = arch("arm64").ram_base


def _guest_problems(guest: Guest) -> list[tuple[JsonPath, str]]:
    """What is wrong with a guest layout, as (place under guest:, message)."""
    out: list[tuple[JsonPath, str]] = []
    if guest.boundary_cma_mb and len(guest.nodes_mb) < 2:
        out.append((("boundary_cma_mb",), "boundary_cma_mb needs nodes_mb (two nodes or more)"))
    if guest.memory_mb and guest.nodes_mb and sum(guest.nodes_mb) != guest.memory_mb:
        out.append((("memory_mb",), f"guest.memory_mb {guest.memory_mb} is not the sum "
                    f"of nodes_mb ({sum(guest.nodes_mb)})"))
    total = guest.total_mb or 1024
    if total > MAX_GUEST_MB:
        out.append(((), f"guest memory {total} MiB is more than {MAX_GUEST_MB} MiB"))
    overlap = _cma_overlap(guest)
    if overlap:
        start, size = overlap
        out.append((("boundary_cma_mb",),
                    f"boundary_cma_mb {guest.boundary_cma_mb}: the region around a node "
                    f"boundary [{start:#x}, {start + size:#x}) overlaps the next one or "
                    "leaves its nodes; use smaller regions or larger nodes"))
    if guest.movablecore_mb and guest.movablecore_mb >= total:
        out.append((("movablecore_mb",), f"movablecore {guest.movablecore_mb}M leaves no "
                    f"kernel memory in a {total}M guest"))
    return out


def _cma_overlap(guest: Guest) -> tuple[int, int] | None:
    """The first reusable region that overlaps the next or leaves RAM, if any."""
    regions = guest.cma_regions(_ARM64_RAM_BASE)
    ram_end = _ARM64_RAM_BASE + (sum(guest.nodes_mb) << 20)
    for (start, size), (nxt, _) in zip(regions, regions[1:] + [(ram_end, 0)]):
        if start + size > nxt or start < _ARM64_RAM_BASE:
            return start, size
    return None


def load_specs(paths: list[Path]) -> list[Spec]:
    """Load several specs; report every problem in every file at once."""
    specs: list[Spec] = []
    problems: list[SpecProblem] = []
    for path in paths:
        try:
            specs.append(load_spec(path))
        except SpecError as err:
            problems += err.problems
    suites: dict[str, Path] = {}
    for spec in specs:
        if spec.suite in suites:
            problems.append(SpecProblem(spec.path, 1, 1, f"suite {spec.suite!r} is "
                                        f"also defined in {suites[spec.suite]}"))
        suites[spec.suite] = spec.path
    if problems:
        raise SpecError(problems)
    return specs


def expand_spec_paths(paths: list[Path]) -> list[Path]:
    """Files as given; directories expand to their *.yaml files, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.glob("*.yaml") if p.is_file())
        else:
            out.append(path)
    return out
