"""Everything kgen writes into mm/kgen/ for specs on a tree and arch."""
from __future__ import annotations

from typing import Protocol

from kgen.generator.decisions import decide
from kgen.generator.render import render_all
from kgen.ids import TestId
from kgen.spec.model import Spec
from kgen.target.capabilities import Capabilities


class Decided(Protocol):
    """What the suites record of a plan: a run's Plan, or Decisions."""

    def skips(self) -> dict[TestId, str]: ...
    def unchecked(self) -> dict[TestId, str]: ...
    def boots(self) -> dict[TestId, int]: ...


def generate(specs: list[Spec], caps: Capabilities,
             plan: Decided | None = None) -> dict[str, str]:
    """The generated mm/kgen/ files for specs on caps' tree and arch: the
    plan's skip decisions and the tree's KGEN_HAVE_ values, rendered.
    Without a plan, the decisions a run would make (decide())."""
    plan = plan or decide(specs, caps)
    return render_all(specs, plan.skips(), caps.have(), plan.unchecked(), plan.boots())
