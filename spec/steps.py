"""The steps every family's loader rules share (kgen.families.*.rules):
the raw case and where its problems go, sweep expansion, the checks every
variant gets, expectations common to all, known issues, and the Case.

A family's rules decide what its cases may say and build them with these;
the loader (kgen.spec.loader) reads, validates and dispatches by family.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgen import families
from kgen.kernel_range import BadConstraint, parse_range

from .model import (
    BAD_PAGE_STATE,
    MERGED_MAX,
    PER_BAD_PAGE,
    Axis,
    Case,
    Expect,
    ExplicitNeeds,
    KnownIssue,
    Need,
    Selector,
    Variant,
    splat_counts,
)
from .problems import JsonPath, Positions, SpecProblem

# KUnit truncates parameter descriptions at KUNIT_PARAM_DESC_SIZE (128).
MAX_PARAM_DESC = 127
# Keep one generated suite bounded: each parameter is a boot-time test.
MAX_VARIANTS_PER_CASE = 256
# bad_page() stops printing after 60 reports a minute; stay well below.
MAX_BAD_STATE_PAGES = 40
# Sweep keys every family reads (a family may refuse some) ...
COMMON_SWEEP_KEYS = ("order", "free", "hold", "hold_refs", "poison", "bad_state")


def _all_sweep_keys() -> tuple[str, ...]:
    """Every sweep key, the families' own in registry order (schema order)."""
    own = [k for name in families.FAMILIES for k in families.schema_fragment(name)
           .get("sweep", {})]
    # Two families may share a key (span and race both take context).
    return COMMON_SWEEP_KEYS + tuple(dict.fromkeys(own))


SWEEP_KEYS = _all_sweep_keys()


class RawCase:
    """One schema-valid case as written, and where its problems go."""

    def __init__(self, path: Path, idx: int, raw: dict, pos: Positions,
                 problems: list[SpecProblem]):
        self.path, self.raw, self.pos, self.problems = path, raw, pos, problems
        self.where: JsonPath = ("cases", idx)
        self.span: dict = raw["span"]
        self.sweep: dict = raw.get("sweep", {})
        self.alloc: str = self.span["alloc"]
        self.family: str = families.family_of(self.alloc, raw)
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


@dataclass(frozen=True)
class FamilyRules:
    """What the loader and the model ask of a family (its rules.py RULES).

    sweep_keys: its own sweep keys, each also a span key that gives the
    value when the case does not sweep it, with its label in KUnit
    parameter descriptions.  span_and_swept: span keys a case must not both
    set and sweep.  build: the raw case -> Case, or None after reporting
    its problems.  needs_of: what one variant needs beyond what every case
    needs (Case.needs_of).  nr_pages: the pages a variant frees, from its
    sweep values.
    """

    name: str
    build: Callable[[RawCase], Case | None]
    needs_of: Callable[[Case, Variant], set[Need]]
    nr_pages: Callable[[dict[str, Any]], int]
    sweep_keys: dict[str, str] = dataclasses.field(default_factory=dict)
    span_and_swept: tuple[str, ...] = ()


def selector(raw: Any) -> Selector:
    if isinstance(raw, bool):
        raise ValueError(f"not a page selector: {raw!r}")
    if isinstance(raw, int):
        return Selector("index", raw)
    if isinstance(raw, dict):
        return Selector("every", raw["every"])
    return Selector(raw)


def merged(raw: Any) -> int | None:
    if raw is True or raw == "max":
        return MERGED_MAX
    if raw is False:
        return None
    return int(raw)


def only_keys(c: RawCase, case_keys: set[str], expect_keys: set[str], what: str) -> bool:
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


# The boundary family's span keys, which the span and vmalloc families
# refuse with a message of their own (boundary_keys_misplaced()); a key
# of any other family is refused by the loader (kgen.spec.loader).
BOUNDARY_SPAN_KEYS = ("boundary", "upper_zone", "pages_each_side")


def boundary_keys_misplaced(c: RawCase) -> bool:
    """Outside the boundary family: boundary keys are a mistake."""
    if any(k in c.span for k in BOUNDARY_SPAN_KEYS) or "pages_each_side" in c.sweep:
        c.problem(("span",), "boundary, upper_zone and pages_each_side belong to "
                  "boundary spans (alloc: boundary)")
        return True
    return False


def no_variant_check(c: RawCase, variant: Variant) -> None:
    """Boundary spans: _boundary_case_ok checked the free APIs."""



# ---- Sweep expansion and the checks of every variant ------------------------

def axis_defaults(c: RawCase, order: int | None) -> dict[str, Any]:
    """The value of each sweep axis where the case does not sweep it."""
    raw, span = c.raw, c.span
    return {
        "order": order,
        "free": raw.get("free"),
        "hold": raw.get("hold", []),
        "hold_refs": raw.get("hold_refs", 1),
        "poison": raw.get("poison", []),
        "bad_state": raw.get("bad_state", []),
        # A family's own sweep keys default to its span keys of that name.
        **{key: span.get(key) for key in SWEEP_KEYS[len(COMMON_SWEEP_KEYS):]},
    }


def expand_sweep(c: RawCase, defaults: dict[str, Any], check_variant
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
        variant = variant_of(c, dict(zip(SWEEP_KEYS, combo)))
        check_selectors(c, variant)
        check_variant(c, variant)
        check_description(c, variant, swept, seen)
        variants.append(variant)
    return swept, variants


def variant_of(c: RawCase, values: dict[str, Any]) -> Variant:
    """One point of the sweep: every key's value -> the variant."""
    rules = families.rules(c.family)
    spoil = values["poison"] or values["bad_state"]
    return Variant(order=values["order"], free=values["free"],
                   hold=tuple(selector(s) for s in values["hold"]),
                   hold_refs=values["hold_refs"],
                   spoil=tuple(selector(s) for s in spoil),
                   axes=tuple(Axis(key, label, values[key])
                              for key, label in rules.sweep_keys.items()),
                   nr_pages=rules.nr_pages(values))


def check_selectors(c: RawCase, variant: Variant) -> None:
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


def check_description(c: RawCase, variant: Variant, swept: tuple[str, ...],
                       seen: set[str]) -> None:
    """KUnit parameter descriptions fit and are unique."""
    desc = variant.describe(swept)
    if len(desc) > MAX_PARAM_DESC:
        c.problem(("sweep",), f"parameter description too long ({len(desc)} > "
                  f"{MAX_PARAM_DESC}): {desc[:40]}...")
    if swept and desc in seen:
        c.problem(("sweep",), f"sweep produces the parameter {desc!r} twice")
    seen.add(desc)


def bad_page_budget(c: RawCase, variants: list[Variant], expect: Expect) -> None:
    """bad_page() prints 60 reports a minute and then nothing: a case must
    expect few enough that every one of them is seen and counted."""
    total = sum(splat_counts(expect.splats, v).get(BAD_PAGE_STATE, 0) for v in variants)
    if total > MAX_BAD_STATE_PAGES:
        where = ("expect", "splats") if "splats" in c.raw.get("expect", {}) \
            else c.given("bad_state")
        c.problem(where, f"{total} bad-page reports expected in one case; the "
                  f"kernel stops printing them after 60 a minute, keep it under "
                  f"{MAX_BAD_STATE_PAGES}")


def splats(c: RawCase) -> tuple[tuple[str, int], ...]:
    """expect.splats as (kind, exact count): a mapping as written, a list
    once each; by default one "Bad page state" per bad_state page."""
    raw = c.raw.get("expect", {}).get("splats")
    if raw is None:
        return ((BAD_PAGE_STATE, PER_BAD_PAGE),) if c.spoil_kind == "bad_state" else ()
    if isinstance(raw, list):
        return tuple((kind, 1) for kind in raw)
    return tuple(sorted(raw.items()))


def explicit_needs(raw: dict) -> ExplicitNeeds:
    return ExplicitNeeds(kconfig=tuple(raw.get("kconfig", [])),
                         memory_mb=raw.get("memory_mb"),
                         kernel_args=tuple(raw.get("kernel_args", [])),
                         kconfig_off=tuple(raw.get("kconfig_off", [])),
                         arches=tuple(raw.get("arches", [])),
                         why=" ".join(raw.get("why", "").split()))


def make_case(c: RawCase, swept: tuple[str, ...], variants: list[Variant], expect: Expect,
              guards: bool, options: Any = None) -> Case:
    """The Case, with its known issues; options are the family's own."""
    raw = c.raw
    variants = with_known_issues(c, swept, variants)
    return Case(name=raw["name"], line=c.pos.at(c.where)[0], variants=variants,
                swept=swept, expect=expect, guards=guards,
                description=raw.get("description", ""), alloc=c.alloc,
                compound=c.compound, spoil_kind=c.spoil_kind, misuse=c.misuse,
                force=raw.get("force", False), needs=explicit_needs(raw.get("needs", {})),
                family=c.family, options=options)



# ---- Known issues ------------------------------------------------------------

def _axis_value(key: str, raw: Any) -> Any:
    """A swept value as the variant holds it, for comparing with `when`."""
    if key in ("hold", "poison", "bad_state"):
        return tuple(selector(s) for s in raw)
    return raw


def _variant_value(variant: Variant, key: str) -> Any:
    """The value a variant has on one sweep axis."""
    if key in ("poison", "bad_state"):
        return variant.spoil
    if key in COMMON_SWEEP_KEYS:
        return getattr(variant, key)
    return variant.axis(key)


def with_known_issues(c: RawCase, swept: tuple[str, ...],
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


def _known_issue(c: RawCase, where: JsonPath, raw: dict) -> KnownIssue | None:
    kernels = None
    if "kernels" in raw:
        try:
            kernels = parse_range(raw["kernels"])
        except BadConstraint as err:
            c.problem(where + ("kernels",), f"known_issue.kernels: {err}")
            return None
    return KnownIssue(reason=" ".join(raw["reason"].split()), link=raw.get("link", ""),
                      kernels=kernels, line=c.pos.at(c.where + where)[0])


def _known_when(c: RawCase, where: JsonPath, when: dict,
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
