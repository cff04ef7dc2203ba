"""Render a validated Spec into one KUnit C file (one suite per spec file).

Output is deterministic: the same spec and kgen version give byte-identical
C, so a rerun touches no file and the kernel build stays incremental.
"""
from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ..spec.model import FREE_APIS, Case, Selector, Spec

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
    return env


def _case_view(suite: str, case: Case) -> dict:
    c_name = f"{suite}_{case.name}"
    tables: dict[tuple[Selector, ...], _SelTable] = {}
    params = []
    for variant in case.variants:
        hold = "NULL"
        if variant.hold:
            if variant.hold not in tables:
                tables[variant.hold] = _SelTable(
                    f"{c_name}_hold{len(tables)}",
                    [{"c_kind": _SEL_KINDS[s.kind], "arg": s.arg} for s in variant.hold])
            hold = tables[variant.hold].c_name
        desc = variant.describe(case.swept)
        assert _SAFE_DESC.match(desc), desc   # the loader only admits these
        params.append({
            "order": variant.order,
            "api": FREE_APIS[variant.free],
            "hold": hold,
            "nr_hold": len(variant.hold),
            "refs": variant.hold_refs,
            "desc": desc,
        })
    return {
        "name": case.name,
        "c_name": c_name,
        "line": case.line,
        "description": case.description,
        "parameterised": case.parameterised,
        "params": params,
        "selectors": list(tables.values()),
        "any_hold": any(v.hold for v in case.variants),
        "layout": "KGEN_LAYOUT_GUARDED" if case.guards else "KGEN_LAYOUT_BARE",
        "e": case.expect,
    }


def spec_hash(spec: Spec) -> str:
    return hashlib.sha256(spec.path.read_bytes()).hexdigest()


def render_suite(spec: Spec) -> str:
    """The C source of the KUnit suite for one spec."""
    template = _environment().get_template("suite.c.j2")
    return template.render(
        spec=spec,
        spec_name=spec.path.name,
        spec_hash=spec_hash(spec)[:16],
        cases=[_case_view(spec.suite, c) for c in spec.cases],
    )


def suite_filename(spec: Spec) -> str:
    return f"{spec.suite}_kunit.c"


def render_makefile(specs: list[Spec]) -> str:
    objects = [suite_filename(s)[:-2] + ".o" for s in specs]
    return _environment().get_template("Makefile.j2").render(objects=objects)


def render_all(specs: list[Spec]) -> dict[str, str]:
    """File name -> contents of everything generated for mm/kgen/."""
    files = {suite_filename(s): render_suite(s) for s in specs}
    files["Makefile"] = render_makefile(specs)
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
