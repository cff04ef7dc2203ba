"""Where a spec is wrong: problems at path:line:col, and the error that
carries them (bad input, exit 2)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgen.errors import UsageError

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


class Positions:
    """Maps a JSON path inside the document to its YAML source position."""

    def __init__(self) -> None:
        self.marks: dict[JsonPath, tuple[int, int]] = {}

    def at(self, path: JsonPath) -> tuple[int, int]:
        # Fall back to the closest enclosing node that has a position.
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))
