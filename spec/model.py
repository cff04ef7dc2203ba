"""Typed model of a loaded, validated spec (format v1).

The loader builds these from YAML; the generator renders them.  Every value
here has been checked, so the generator can trust names to be C identifiers
and numbers to be in range.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Spec name of a free API -> the C enum value the helper library expects.
FREE_APIS: dict[str, str] = {
    "free_contig_range": "KGEN_FREE_CONTIG_RANGE",
    "__free_contig_range": "KGEN_FREE___CONTIG_RANGE",
    "free_pages_bulk": "KGEN_FREE_PAGES_BULK",
    "free_page_loop": "KGEN_FREE_PAGE_LOOP",
}

# "merged: max" - every freed page in the largest block the holes allow.
MERGED_MAX = -1


@dataclass(frozen=True)
class Selector:
    """A set of span pages: first, last, middle, one index, every Nth."""

    kind: str          # "first" | "last" | "middle" | "index" | "every"
    arg: int = 0

    def describe(self) -> str:
        if self.kind == "index":
            return str(self.arg)
        if self.kind == "every":
            return f"every{self.arg}"
        return self.kind

    def indices(self, nr_pages: int) -> set[int]:
        """Span indices this selector picks (mirrors kgen_sel_match in C)."""
        if self.kind == "first":
            return {0}
        if self.kind == "last":
            return {nr_pages - 1}
        if self.kind == "middle":
            return {nr_pages // 2}
        if self.kind == "index":
            return {self.arg} if self.arg < nr_pages else set()
        return set(range(0, nr_pages, self.arg))


@dataclass(frozen=True)
class Variant:
    """One concrete run of a case: a point in its sweep."""

    order: int
    free: str
    hold: tuple[Selector, ...] = ()
    hold_refs: int = 1

    @property
    def nr_pages(self) -> int:
        return 1 << self.order

    def held_indices(self) -> set[int]:
        held: set[int] = set()
        for sel in self.hold:
            held |= sel.indices(self.nr_pages)
        return held

    def describe(self, keys: tuple[str, ...]) -> str:
        """KUnit parameter description naming the swept values."""
        parts = []
        for key in keys:
            if key == "order":
                parts.append(f"order={self.order}")
            elif key == "free":
                parts.append(f"free={self.free}")
            elif key == "hold":
                held = "+".join(s.describe() for s in self.hold) or "none"
                parts.append(f"hold={held}")
            elif key == "hold_refs":
                parts.append(f"refs={self.hold_refs}")
        return ",".join(parts)


@dataclass(frozen=True)
class Expect:
    """Which contract checks a case makes (see spec/README.md)."""

    freed: bool = True
    retained: bool = True
    held_refcount: int | None = None   # None: the refs the test took
    released: bool = True
    merged: int | None = MERGED_MAX    # None: not checked
    nr_free_pages: bool | int = True   # True: exactly the pages freed
    balanced: bool = True
    guards: bool = True
    no_warning: bool = True


@dataclass
class Case:
    name: str
    line: int
    variants: list[Variant]
    swept: tuple[str, ...]
    expect: Expect
    guards: bool = True
    description: str = ""

    @property
    def parameterised(self) -> bool:
        return bool(self.swept)


@dataclass
class Spec:
    path: Path
    suite: str
    cases: list[Case] = field(default_factory=list)
    description: str = ""
