"""Where a `kgen run`'s time went: planning, generating, the build, each
boot, parsing the consoles.

The phases keep the order they first ran in; a phase that runs again
(parsing, after every boot) adds up.  The run prints them as one line after
its results ("time: plan 0.1 s, generate 0.3 s, build 21.8 s, boot main
2.0 s, parse 0.1 s, total 25.1 s") and records them as JUnit properties
("kgen.time.build_s", "kgen.time.boot.main_s"), so a CI dashboard can
plot a slow build or a boot that grew.  Timing is time.monotonic() at the
edges of each phase: no cost inside the warm UML loop.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PROPERTY_PREFIX = "kgen.time."
# Boots are named after their console log: "console.complaints1.log" is
# boot "complaints1", the main boot's "console.log" is boot "main".
BOOT = "boot"
MAIN_BOOT = "main"


def boot_name(log_suffix: str) -> str:
    """The boot a console log belongs to, for the time line."""
    name = log_suffix.removeprefix("console").removesuffix("log").strip(".")
    return name or MAIN_BOOT


class Timings:
    """Seconds per named phase of one run, in the order they first ran."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = clock()
        self.phases: dict[str, float] = {}
        self.total: float | None = None

    def add(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the with-block as (part of) phase name, even if it raises."""
        start = self.clock()
        try:
            yield
        finally:
            self.add(name, self.clock() - start)

    def stop(self) -> float:
        """The run's total, fixed once so the line and JUnit agree."""
        if self.total is None:
            self.total = self.clock() - self.started
        return self.total

    def line(self) -> str:
        """One line for the terminal, after the results."""
        parts = [f"{name} {seconds:.1f} s" for name, seconds in self.phases.items()]
        return "time: " + ", ".join([*parts, f"total {self.stop():.1f} s"])

    def properties(self) -> dict[str, str]:
        """kgen.time.<phase>_s for each phase and the total ("boot main" is
        kgen.time.boot.main_s)."""
        props = {f"{PROPERTY_PREFIX}{name.replace(' ', '.')}_s": f"{seconds:.2f}"
                 for name, seconds in self.phases.items()}
        props[f"{PROPERTY_PREFIX}total_s"] = f"{self.stop():.2f}"
        return props
