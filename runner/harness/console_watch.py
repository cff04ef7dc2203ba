"""Stop a boot as soon as its kernel has stopped making progress.

A free-path bug often dies under ``zone->lock``: the dying task keeps the
lock (and interrupts off), every later test spins on it, and the console
goes silent.  kunit.py would wait for its whole ``--timeout`` (600 s a
boot).  kgen reads the console while the boot runs instead and stops it:

- at once (after a short grace for the rest of the report) when the kernel
  says it cannot go on: a task that died holding a lock or with interrupts
  off (``make_task_dead()``'s "exited with irqs disabled / preempt_count"
  notes), a panic, a soft or hard lockup, an RCU stall, a hung task;
- after ``stall_seconds`` without any console output: the backstop for a
  kernel that hangs without a word (interrupts off on a single CPU leaves
  no detector running).

What this does not do: turn every oops into a reboot.  An oops that holds
no lock is caught by KUnit's try-catch ("try faulted") and the boot goes
on, as it should; only the notes above mean the kernel is wedged.
"""
from __future__ import annotations

import enum
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class StopKind(enum.StrEnum):
    WEDGED = "wedged"        # alive but stuck behind what a dead task held
    PANICKED = "panicked"    # the kernel panicked and will print no more
    STALLED = "stalled"      # no console output for too long


@dataclass(frozen=True)
class Stop:
    """Why kgen stopped a boot."""

    kind: StopKind
    reason: str       # what it means, for a reader
    line: str = ""    # the console line that showed it
    seconds: float = 0.0  # into the boot

    def describe(self) -> str:
        text = f"kgen stopped the kernel after {self.seconds:.0f}s: {self.reason}"
        return text + (f" ({self.line.strip()})" if self.line else "")


# (pattern, kind, meaning).  First match wins; each names a state the
# kernel does not recover from by itself.
SIGNS: list[tuple[re.Pattern[str], StopKind, str]] = [
    (re.compile(r"note: \S+\[\d+\] exited with (?:irqs disabled|preempt_count \d+)"),
     StopKind.WEDGED, "a task died holding a lock or with interrupts off; "
     "everything that needs that lock now waits forever"),
    (re.compile(r"Kernel panic - not syncing"), StopKind.PANICKED, "kernel panic"),
    (re.compile(r"BUG: soft lockup"), StopKind.WEDGED, "soft lockup"),
    (re.compile(r"Watchdog detected hard LOCKUP|NMI watchdog: .*hard LOCKUP"),
     StopKind.WEDGED, "hard lockup"),
    (re.compile(r"rcu: INFO: \S+ (?:self-)?detected stalls? on CPU|"
                r"rcu_\w+ self-detected stall"), StopKind.WEDGED, "RCU stall"),
    (re.compile(r"INFO: task \S+ blocked for more than \d+ seconds"),
     StopKind.WEDGED, "hung task"),
]
# Seconds of console kept flowing after a sign, so the report (backtrace,
# lock held, registers) lands in the log before the boot is stopped.
GRACE_SECONDS = 2.0
_POLL_SECONDS = 0.2


def sign_of(line: str) -> tuple[StopKind, str] | None:
    """(kind, meaning) if line says the kernel cannot go on, else None."""
    for pattern, kind, meaning in SIGNS:
        if pattern.search(line):
            return kind, meaning
    return None


class ConsoleWatch(threading.Thread):
    """Follows a growing console log; calls stop() when the kernel is stuck.

    ``stop`` must end the boot (kill its process group).  After it fired,
    ``fired`` says why.
    """

    def __init__(self, log_path: Path, stall_seconds: float, stop: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(daemon=True)
        self.log_path, self.stall_seconds, self._stop_boot = log_path, stall_seconds, stop
        self.clock = clock
        self.fired: Stop | None = None
        self.done = threading.Event()
        self._pos = 0
        self._partial = ""

    def run(self) -> None:
        start = last_output = self.clock()
        sign: tuple[StopKind, str, str, float] | None = None
        while not self.done.wait(_POLL_SECONDS):
            now = self.clock()
            lines = self._new_lines()
            if lines:
                last_output = now
            for line in lines:
                found = sign_of(line) if sign is None else None
                if found:
                    sign = (found[0], found[1], line, now - start)
            if sign and now - sign[3] - start >= GRACE_SECONDS:
                self._fire(Stop(sign[0], sign[1], sign[2], sign[3]))
                return
            if now - last_output >= self.stall_seconds:
                self._fire(Stop(StopKind.STALLED,
                                f"no console output for {self.stall_seconds:.0f}s",
                                seconds=now - start))
                return

    def _fire(self, stop: Stop) -> None:
        self.fired = stop
        self._stop_boot()

    def _new_lines(self) -> list[str]:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._pos)
                data = log.read()
        except OSError:
            return []
        self._pos += len(data)
        text = self._partial + data.decode(errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        return lines
