"""Load spec files: YAML -> positions -> schema check -> semantic check -> model.

Every problem is reported as ``path:line:col: message``; a spec with any
problem yields no model at all, so no C is ever generated from it.
"""
from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .model import (ARRAY_ALLOCS, BOUNDARY_FREE_APIS, MERGED_MAX, Case, Expect,
                    ExplicitNeeds, Guest, Selector, Spec, Variant)

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


class SpecError(Exception):
    """One or more problems in spec files."""

    def __init__(self, problems: list[SpecProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


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


def _build_case(path: Path, idx: int, raw: dict, pos: _Positions,
                problems: list[SpecProblem]) -> Case | None:
    where: JsonPath = ("cases", idx)

    def problem(sub: JsonPath, msg: str) -> None:
        problems.append(SpecProblem(path, *pos.at(where + sub), msg))

    span = raw["span"]
    sweep = raw.get("sweep", {})
    alloc = span["alloc"]
    compound = span.get("compound", False)
    spoil_keys = [k for k in ("poison", "bad_state") if k in raw or k in sweep]
    if len(spoil_keys) > 1:
        problem((), "use poison or bad_state in one case, not both")
        return None
    spoil_kind = spoil_keys[0] if spoil_keys else None
    base = {
        "order": span.get("order"),
        "free": raw.get("free"),
        "hold": raw.get("hold", []),
        "hold_refs": raw.get("hold_refs", 1),
        "poison": raw.get("poison", []),
        "bad_state": raw.get("bad_state", []),
        "pages": span.get("pages"),
        "layout": span.get("layout"),
        "pages_each_side": span.get("pages_each_side"),
    }
    for key in sweep:
        if key in ("order", "pages", "layout") and key in span:
            problem(("sweep", key), f"{key} is set in span and swept: pick one")
        elif key in base and key in raw:
            problem(("sweep", key), f"{key} is set and swept: pick one")
    array = alloc in ARRAY_ALLOCS
    if array and not _array_case_ok(raw, span, sweep, alloc, problem):
        return None
    boundary = alloc == "boundary"
    if boundary and not _boundary_case_ok(raw, span, sweep, problem):
        return None
    if not boundary and any(k in span for k in _BOUNDARY_SPAN_KEYS) or \
            "pages_each_side" in sweep and not boundary:
        problem(("span",), "boundary, upper_zone and pages_each_side belong to "
                "boundary spans (alloc: boundary)")
        return None
    if not array and (base["pages"] is not None or "pages" in sweep
                      or base["layout"] or "layout" in sweep or "huge" in span):
        problem(("span",), "pages, layout and huge belong to vmalloc/page_array spans")
    if array or boundary:
        base["order"] = 0
    elif base["order"] is None and "order" not in sweep:
        problem(("span",), "span needs an order (or sweep.order)")
        return None
    if base["free"] is None and "free" not in sweep:
        problem((), "case needs a free API: free: or sweep.free")
        return None
    if compound and alloc != "frozen":
        problem(("span", "compound"), "compound spans are frozen: alloc: frozen")
    guards = span.get("guards", not compound)
    if compound and guards:
        problem(("span", "guards"), "a compound span is one folio: it cannot have guards")
    if alloc == "frozen" and (raw.get("hold") or "hold" in sweep):
        problem(("hold",) if "hold" in raw else ("sweep", "hold"),
                "frozen pages have refcount 0: get_page_unless_zero() cannot hold them")
    if compound and spoil_kind:
        problem((spoil_kind,) if spoil_kind in raw else ("sweep", spoil_kind),
                "spoiling a page of a compound span is not supported")
    misuse = raw.get("misuse")
    if raw.get("force") and misuse != "order_mismatch":
        problem(("force",), "force only applies to misuse: order_mismatch")
    if misuse and not compound:
        problem(("misuse",), "misuse cases need a compound frozen span "
                "(span: {alloc: frozen, compound: true})")

    swept = tuple(k for k in SWEEP_KEYS if k in sweep)
    axes = [sweep[k] if k in sweep else [base[k]] for k in SWEEP_KEYS]
    combos = list(itertools.product(*axes))
    if len(combos) > MAX_VARIANTS_PER_CASE:
        problem(("sweep",), f"sweep expands to {len(combos)} parameters; "
                f"at most {MAX_VARIANTS_PER_CASE} per case")
        return None

    variants: list[Variant] = []
    seen: set[str] = set()
    for order, free, hold, refs, poison, bad_state, pages, layout, each in combos:
        variant = Variant(order=order, free=free,
                          hold=tuple(_selector(s) for s in hold),
                          hold_refs=refs,
                          spoil=tuple(_selector(s) for s in (poison or bad_state)),
                          pages=pages, layout=layout, each_side=each)
        if alloc == "page_array" and (pages < 2 or pages & (pages - 1) or pages > 1024):
            problem(("sweep", "pages") if "pages" in sweep else ("span", "pages"),
                    f"a page_array needs a power-of-two size from 2 to 1024, not {pages}")
        for key, sels in (("hold", variant.hold), (spoil_kind, variant.spoil)):
            for sel_idx, sel in enumerate(sels):
                if sel.kind == "index" and sel.arg >= variant.nr_pages:
                    sub = ("sweep", key) if key in sweep else (key, sel_idx)
                    problem(sub, f"{key} index {sel.arg} is outside an order-{order} "
                            f"span ({variant.nr_pages} pages)")
        if variant.held_indices() & variant.spoiled_indices():
            problem((), f"{variant.describe(SWEEP_KEYS)}: a page is both held and "
                    f"{spoil_kind}; its free would never reach free_pages_prepare()")
        frozen_api = free == "free_contig_frozen_range"
        if array or boundary:
            pass   # _array_case_ok / _boundary_case_ok checked the free API
        elif free == "vfree":
            problem(("free",), "vfree() frees vmalloc spans only")
        elif frozen_api != (alloc == "frozen"):
            problem(("sweep", "free") if "free" in sweep else ("free",),
                    "free_contig_frozen_range() frees frozen spans, and frozen spans "
                    "need free_contig_frozen_range()")
        desc = variant.describe(swept)
        if len(desc) > MAX_PARAM_DESC:
            problem(("sweep",), f"parameter description too long ({len(desc)} > "
                    f"{MAX_PARAM_DESC}): {desc[:40]}...")
        if swept and desc in seen:
            problem(("sweep",), f"sweep produces the parameter {desc!r} twice")
        seen.add(desc)
        variants.append(variant)
    if spoil_kind == "bad_state":
        total = sum(len(v.spoiled_indices()) for v in variants)
        if total > MAX_BAD_STATE_PAGES:
            problem(("bad_state",) if "bad_state" in raw else ("sweep", "bad_state"),
                    f"{total} bad pages in one case; the kernel stops printing "
                    f"bad-page reports after 60 a minute, keep it under "
                    f"{MAX_BAD_STATE_PAGES}")

    raw_expect = raw.get("expect", {})
    expect = Expect(
        freed=raw_expect.get("freed", True),
        retained=raw_expect.get("retained", True),
        held_refcount=raw_expect.get("held_refcount"),
        released=raw_expect.get("released", True),
        merged=_merged(raw_expect.get("merged", "max")),
        nr_free_pages=raw_expect.get("nr_free_pages", True),
        balanced=raw_expect.get("balanced", True),
        guards=raw_expect.get("guards", guards),
        no_warning=raw_expect.get("no_warning", True),
        no_straddle=raw_expect.get("no_straddle", boundary),
        zones_kept=raw_expect.get("zones_kept", boundary),
        leaked=raw_expect.get("leaked", True),
        nr_vmalloc=raw_expect.get("nr_vmalloc", alloc in ("vmalloc", "vmap")),
        warnings=raw_expect.get("warnings", 1 if misuse == "tail_start" else None),
        splats=tuple(raw_expect.get(
            "splats", ["Bad page state"] if spoil_kind == "bad_state" else [])),
    )
    if array:
        guards = False
        expect = Expect(freed=expect.freed, merged=expect.merged, no_warning=expect.no_warning,
                        nr_vmalloc=expect.nr_vmalloc, guards=False)
    if boundary:
        guards = False
        expect = Expect(freed=expect.freed, nr_free_pages=expect.nr_free_pages,
                        no_warning=expect.no_warning, no_straddle=expect.no_straddle,
                        zones_kept=expect.zones_kept, guards=False, merged=None,
                        balanced=False)
    if expect.guards and not guards:
        problem(("expect", "guards"), "expect.guards needs span.guards: true")
    if expect.held_refcount is not None and not any(v.hold for v in variants):
        problem(("expect", "held_refcount"), "held_refcount without any held pages")
    if expect.warnings is not None and not misuse:
        problem(("expect", "warnings"), "expect.warnings counts the WARNs of a misuse: case")
    raw_needs = raw.get("needs", {})
    needs = ExplicitNeeds(kconfig=tuple(raw_needs.get("kconfig", [])),
                          memory_mb=raw_needs.get("memory_mb"),
                          kernel_args=tuple(raw_needs.get("kernel_args", [])),
                          kconfig_off=tuple(raw_needs.get("kconfig_off", [])),
                          arches=tuple(raw_needs.get("arches", [])),
                          why=" ".join(raw_needs.get("why", "").split()))
    return Case(name=raw["name"], line=pos.at(where)[0], variants=variants,
                swept=swept, expect=expect, guards=guards and not array,
                description=raw.get("description", ""), alloc=alloc,
                compound=compound, spoil_kind=spoil_kind, misuse=misuse,
                force=raw.get("force", False), needs=needs, huge=span.get("huge", False),
                boundary=span.get("boundary"), upper_zone=span.get("upper_zone"))


_BOUNDARY_SPAN_KEYS = ("boundary", "upper_zone", "pages_each_side")
_BOUNDARY_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs"}
_BOUNDARY_EXPECT_KEYS = {"freed", "no_straddle", "zones_kept", "nr_free_pages",
                         "no_warning"}


def _only_keys(raw: dict, case_keys: set[str], expect_keys: set[str], what: str,
               problem) -> bool:
    """A family that applies only some case keys and expectations says so."""
    ok = True
    for key in sorted(set(raw) - case_keys):
        problem((key,), f"{key} does not apply to {what} spans")
        ok = False
    for key in sorted(set(raw.get("expect", {})) - expect_keys):
        problem(("expect", key), f"expect.{key} does not apply to {what} spans "
                f"(use {', '.join(sorted(expect_keys))})")
        ok = False
    return ok


def _boundary_case_ok(raw: dict, span: dict, sweep: dict, problem) -> bool:
    ok = _only_keys(raw, _BOUNDARY_CASE_KEYS, _BOUNDARY_EXPECT_KEYS, "boundary", problem)
    if not isinstance(raw.get("expect", {}).get("nr_free_pages", True), bool):
        problem(("expect", "nr_free_pages"), "boundary spans check nr_free_pages per "
                "zone: true or false")
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
            problem(("sweep", "free") if "free" in sweep else ("free",),
                    f"a boundary span is freed by one of {', '.join(BOUNDARY_FREE_APIS)}"
                    f", not {free}")
            ok = False
    return ok


# What a vmalloc-family case may use: these specs track pages as an array.
_ARRAY_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs"}
_ARRAY_EXPECT_KEYS = {"freed", "merged", "nr_vmalloc", "no_warning"}


def _array_case_ok(raw: dict, span: dict, sweep: dict, alloc: str, problem) -> bool:
    ok = _only_keys(raw, _ARRAY_CASE_KEYS, _ARRAY_EXPECT_KEYS, alloc, problem)
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
    return ok


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


# arm64 virt: RAM starts at 1 GiB.
_ARM64_RAM_BASE = 0x4000_0000


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
