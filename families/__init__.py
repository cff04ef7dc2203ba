"""The family registry (kgen.families): one line per spec family.

A family is one way to allocate the pages a case frees (a pfn span, a
vmalloc area, a span across a zone boundary ...).  Each lives in its own
package here, which holds everything about it:

  schema.json      its schema fragment: the span.alloc values it owns, its
                   span and sweep keys, its misuses, its own case keys
                   ("case") and the case key that makes a case its own
                   ("claims"; spec/schema.json is the rest)
  rules.py         its loader rules and needs (kgen.spec's layer): RULES
  view.py          its template view (kgen.generator's layer): VIEW
  suite.c.j2       its template part: Jinja macros for its parameter
                   fields and its attempt body
  kgen_<name>*.c/h its C helpers, copied into mm/kgen/ next to the core
                   library; kgen_<name>.h is its header

Adding a family: a new package and one line in FAMILIES.  The registry
imports nothing of kgen itself, so every layer may ask it: the spec
loader for rules, the generator for views and parts, the kernel overlay
for C files (docs/architecture.md, "Adding a family").
"""
from __future__ import annotations

import functools
import importlib
import json
from importlib import resources
from importlib.abc import Traversable

# In schema order: a family's span.alloc values and keys are listed after
# those of the families above it.
FAMILIES: tuple[str, ...] = (
    "span",       # split_page, contig, frozen: one pfn span inside a block
    "vmalloc",    # vmalloc, vmap, page_array: pages tracked as an array
    "boundary",   # a span across a zone, node or section boundary
    "race",       # frees under actors on other CPUs, or from atomic contexts
)


def package_dir(name: str) -> Traversable:
    """The family's directory: its schema fragment, template part, C files."""
    return resources.files(f"{__name__}.{name}")


@functools.cache
def schema_fragment(name: str) -> dict:
    """The family's schema.json: "alloc", "span", "sweep", "misuse", "$defs"."""
    return json.loads(package_dir(name).joinpath("schema.json").read_text())


def family_of(alloc: str, case: dict | None = None) -> str:
    """The family of a case: one whose fragment "claims" a case key the
    case has (it then takes the spans of other families and says which
    in its rules), else the one that owns its span.alloc value."""
    for name in FAMILIES:
        claims = schema_fragment(name).get("claims")
        if claims and case is not None and claims in case:
            return name
    return next(name for name in FAMILIES if alloc in schema_fragment(name)["alloc"])


def rules(name: str):
    """The family's loader rules (its rules.py RULES)."""
    return importlib.import_module(f"{__name__}.{name}.rules").RULES


def view(name: str):
    """The family's template view (its view.py VIEW)."""
    return importlib.import_module(f"{__name__}.{name}.view").VIEW


def c_files() -> dict[str, Traversable]:
    """File name -> file of every family's C helpers, in registry order."""
    out: dict[str, Traversable] = {}
    for name in FAMILIES:
        for entry in sorted(package_dir(name).iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".c", ".h")):
                out[entry.name] = entry
    return out
