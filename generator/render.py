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

from kgen import families
from kgen.ids import TestId
from kgen.kernel import library_objects
from kgen.spec.model import Case, Selector, Spec

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
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(__package__, "templates"),
                                    jinja2.FunctionLoader(_family_part)]),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["cwrap"] = _cwrap
    env.filters["c_str"] = c_string_or_null
    env.filters["c_ptr"] = lambda name: name or "NULL"
    env.filters["c_bool"] = lambda value: "true" if value else "false"
    # A family's macro output ends its last line; the line that calls it too.
    env.filters["chomp"] = lambda text: text.removesuffix("\n")
    return env


def _family_part(name: str) -> str | None:
    """The source of families/<family>/suite.c.j2, for "families/<family>"."""
    if not name.startswith("families/"):
        return None
    return families.package_dir(name.split("/")[1]).joinpath("suite.c.j2").read_text()


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


def _case_view(spec: Spec, case: Case, skips: Mapping[TestId, str],
               unchecked: Mapping[TestId, str], boots: Mapping[TestId, int]) -> dict:
    """Plain data the template turns into one case's C (no C text here)."""
    test = TestId(spec.suite, case.name)
    sels = _Selectors(test.function)
    view = families.view(case.family)
    params = []
    for variant in case.variants:
        desc = variant.describe(case.swept)
        assert _SAFE_DESC.match(desc), desc   # the loader only admits these
        # The plan decided; the generator only writes the decision down.
        tid = TestId(spec.suite, case.name, desc if case.parameterised else "")
        param = view.param(case, variant, sels) | {"skip": skips.get(tid), "desc": desc,
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
        "family": case.family,
        "param_type": view.param_type,
        "skip_unchecked": view.skip_unchecked,
        "misuse": case.misuse,
        "e": case.expect,
        "boot": boots.get(test, 0),
    } | view.case(case)


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
    env = _environment()
    template = env.get_template("suite.c.j2")
    parts = {name: env.get_template(f"families/{name}").module for name in families.FAMILIES}
    return template.render(
        parts=parts,
        spec=spec,
        spec_name=spec.path.name,
        spec_hash=spec_hash(spec)[:16],
        cases=[_case_view(spec, c, skips, unchecked, boots) for c in spec.cases],
        guest=spec.guest is not None,
        suite_exits=sorted({families.view(c.family).suite_exit for c in spec.cases} - {None}),
    )


def render_caps(have: Mapping[str, bool]) -> str:
    """kgen_caps.h: KGEN_HAVE_<NAME> 1/0 for what the probed tree has."""
    return _environment().get_template("kgen_caps.h.j2").render(defines=sorted(have.items()))


def suite_filename(spec: Spec) -> str:
    return f"{spec.suite}_kunit.c"


def render_makefile(specs: list[Spec]) -> str:
    objects = [suite_filename(s)[:-2] + ".o" for s in specs]
    return _environment().get_template("Makefile.j2").render(objects=objects,
                                                             library=library_objects())


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
