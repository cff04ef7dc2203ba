"""Load spec files: YAML -> positions -> schema check -> semantic check -> model.

Every problem is reported as ``path:line:col: message``; a spec with any
problem yields no model at all, so no C is ever generated from it.
"""
from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from kgen import families
from kgen.arch import arch

from .model import Case, Guest, Spec
from .problems import JsonPath, Positions, SpecError, SpecProblem
from .steps import SWEEP_KEYS, RawCase

__all__ = ["SpecError", "SpecProblem", "expand_spec_paths", "load_spec", "load_specs",
           "schema"]

# Guest RAM kgen asks QEMU for (TCG on a build machine).
MAX_GUEST_MB = 8192


@functools.cache
def schema() -> dict:
    """spec/schema.json with every family's fragment added, in registry
    order: its span.alloc values, span and sweep keys, misuses, $defs."""
    base = json.loads(resources.files(__package__).joinpath("schema.json").read_text())
    out = copy.deepcopy(base)
    defs = out["$defs"]
    for name in families.FAMILIES:
        fragment = families.schema_fragment(name)
        defs["span"]["properties"]["alloc"]["enum"] += fragment["alloc"]
        defs["span"]["properties"].update(fragment.get("span", {}))
        defs["sweep"]["properties"].update(fragment.get("sweep", {}))
        defs["case"]["properties"]["misuse"]["enum"] += fragment.get("misuse", [])
        defs["case"]["properties"].update(fragment.get("case", {}))
        defs.update(fragment.get("$defs", {}))
    return out


def _to_data(node: yaml.Node, path: JsonPath, pos: Positions,
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


def _parse_yaml(path: Path, text: str) -> tuple[Any, Positions, list[SpecProblem]]:
    pos = Positions()
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


def _schema_problems(path: Path, data: Any, pos: Positions) -> list[SpecProblem]:
    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        # For oneOf failures the best sub-error says more than "is not valid".
        best = jsonschema.exceptions.best_match([err])
        where = tuple(best.absolute_path)
        field = ".".join(str(p) for p in where) or "(top level)"
        problems.append(SpecProblem(path, *pos.at(where), f"{field}: {best.message}"))
    return problems


def _build_case(path: Path, idx: int, raw: dict, pos: Positions,
                problems: list[SpecProblem]) -> Case | None:
    """Checks every case has, then its family's rules (kgen.families)."""
    c = RawCase(path, idx, raw, pos, problems)
    if len(c.spoil_keys) > 1:
        c.problem((), "use poison or bad_state in one case, not both")
        return None
    _sweep_conflicts(c)
    case = families.rules(c.family).build(c)
    if case is not None and _foreign_keys(c):
        return None
    return case


def _sweep_conflicts(c: RawCase) -> None:
    """A value is given once: in the case (or its span), or in the sweep."""
    span_and_swept = {key for name in families.FAMILIES
                      for key in families.rules(name).span_and_swept}
    for key in c.sweep:
        if key in span_and_swept and key in c.span:
            c.problem(("sweep", key), f"{key} is set in span and swept: pick one")
        elif key in SWEEP_KEYS and key in c.raw:
            c.problem(("sweep", key), f"{key} is set and swept: pick one")


def _foreign_keys(c: RawCase) -> bool:
    """Span and sweep keys of another family, which this family's rules
    did not refuse themselves (they name the keys they know): refused here,
    so that no family's key is ever silently ignored."""
    own = families.schema_fragment(c.family)
    found = False
    for where, keys, mine in (("span", c.span, own.get("span", {})),
                              ("sweep", c.sweep, own.get("sweep", {}))):
        common = schema()["$defs"][where]["properties"].keys() - _family_keys(where)
        for key in sorted(set(keys) - set(mine) - common):
            c.problem((where, key), f"{key} does not apply to {c.alloc} spans")
            found = True
    return found


@functools.cache
def _family_keys(where: str) -> frozenset[str]:
    """Every family's own span (or sweep) keys."""
    return frozenset(key for name in families.FAMILIES
                     for key in families.schema_fragment(name).get(where, {}))


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


def _read_checked(path: Path) -> tuple[Any, Positions]:
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


def _build_cases(path: Path, raw_cases: list[dict], pos: Positions) -> list[Case]:
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


def _build_guest(path: Path, data: dict, pos: Positions) -> Guest | None:
    """Phase 4: the guest layout a suite boots in, if it has one."""
    if "guest" not in data:
        return None
    raw = data["guest"]
    guest = Guest(memory_mb=raw.get("memory_mb"), nodes_mb=tuple(raw.get("nodes_mb", [])),
                  movablecore_mb=raw.get("movablecore_mb"),
                  boundary_cma_mb=raw.get("boundary_cma_mb"),
                  dma_limit_mb=raw.get("dma_limit_mb"), cma_mb=raw.get("cma_mb"))
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
    if guest.cma_mb and guest.cma_mb * 4 > total:
        out.append((("cma_mb",), f"cma {guest.cma_mb}M is more than a quarter of a "
                    f"{total}M guest: the kernel's own allocations would crowd it"))
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
