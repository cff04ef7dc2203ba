"""`kgen run` says where its time went: plan, generate, build, each boot,
parse, total, on one line and as JUnit properties."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import xmlschema

from kgen.cli import shipped_specs
from kgen.generator.capabilities import assume_all
from kgen.runner.harness.kunit_tool import PhaseResult
from kgen.runner.results.junit import write_junit
from kgen.runner.run import pipeline
from kgen.runner.run.plan import make_plan
from kgen.runner.run.timings import Timings, boot_name
from kgen.spec.loader import load_specs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class Clock:
    """A clock that moves only when told."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_phases_keep_their_order_and_add_up():
    clock = Clock()
    timings = Timings(clock)
    with timings.phase("build"):
        clock.now += 21.84
    with timings.phase("boot main"):
        clock.now += 2.0
    with timings.phase("parse"):
        clock.now += 0.05
    with timings.phase("boot complaints1"):
        clock.now += 0.5
    with timings.phase("parse"):
        clock.now += 0.05
    clock.now += 0.01          # outside any phase: only in the total
    assert list(timings.phases) == ["build", "boot main", "parse", "boot complaints1"]
    assert timings.line() == ("time: build 21.8 s, boot main 2.0 s, parse 0.1 s, "
                              "boot complaints1 0.5 s, total 24.5 s")
    props = timings.properties()
    assert props["kgen.time.build_s"] == "21.84"
    assert props["kgen.time.boot.main_s"] == "2.00"
    assert props["kgen.time.boot.complaints1_s"] == "0.50"
    assert props["kgen.time.parse_s"] == "0.10"
    assert props["kgen.time.total_s"] == "24.45"


def test_total_is_fixed_once_so_line_and_junit_agree():
    clock = Clock()
    timings = Timings(clock)
    clock.now += 3.0
    props = timings.properties()
    clock.now += 60.0          # printing the summary later does not move it
    assert timings.line() == "time: total 3.0 s"
    assert props["kgen.time.total_s"] == "3.00"


def test_a_phase_that_raises_is_still_counted():
    clock = Clock()
    timings = Timings(clock)
    with pytest.raises(KeyboardInterrupt), timings.phase("build"):
        clock.now += 4.0
        raise KeyboardInterrupt
    assert timings.phases == {"build": 4.0}


@pytest.mark.parametrize("suffix, name", [
    ("console.log", "main"),
    ("console.rerun2.log", "rerun2"),
    ("console.complaints1.log", "complaints1"),
    ("console.complaints1.rerun1.log", "complaints1.rerun1"),
    ("console.guest3.log", "guest3"),
    ("console.guest3.rerun1.log", "guest3.rerun1"),
])
def test_boots_are_named_after_their_console_log(suffix, name):
    assert boot_name(suffix) == name


class FakeSession:
    """Builds at once and boots into a real captured UML console."""

    def __init__(self, config):
        self.config = config
        self.build_dir = Path("/nonexistent/build")
        self.overlay = SimpleNamespace(root=Path("/nonexistent/overlay"))
        self.accel = "tcg"
        self.boots: list[str] = []
        self.console = (FIXTURES / "ktap" / "um_shipped_pass.log").read_text().splitlines()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def properties(self):
        return {"arch": "um", "kernel.version": "7.3.4"}

    def prepare(self, generated, kunitconfig, patched=None):
        return []

    def build(self, suffix="build.log"):
        return PhaseResult(ok=True, seconds=1.0, output=["built"])

    def boot(self, suffix, glob="", **_):
        self.boots.append(suffix)
        return PhaseResult(ok=True, seconds=0.5, output=self.console), Path(suffix)

    def remaining(self):
        return 600.0

    def path(self, suffix):
        return Path(f"/nonexistent/{suffix}")


def test_a_run_times_each_phase_and_each_boot(monkeypatch, tmp_path):
    specs = [s for s in load_specs(shipped_specs()) if s.suite in ("kgen_contig_split",
                                                                   "kgen_frozen")]
    plan = make_plan(specs, assume_all("um"))
    assert plan.complaint_boots        # the frozen suite's bad page boots alone
    sessions: list[FakeSession] = []

    def session(config):
        sessions.append(FakeSession(config))
        return sessions[-1]

    monkeypatch.setattr(pipeline, "Session", session)
    monkeypatch.setattr(pipeline, "_check_tools", lambda arch: None)
    monkeypatch.setattr(pipeline, "plan_run", lambda req: (plan, assume_all("um")))
    monkeypatch.setattr(pipeline, "mark_known_issues", lambda *a: None)
    outcome = pipeline.run(pipeline.RunRequest(tree=tmp_path, specs=specs,
                                               log=lambda line: None))
    phases = list(outcome.timings.phases)
    assert phases[:4] == ["plan", "generate", "build", "boot main"]
    assert "parse" in phases and "boot complaints1" in phases
    # Every boot the session saw has its own phase, named after its log.
    assert {f"boot {boot_name(s)}" for s in sessions[0].boots} == \
        {p for p in phases if p.startswith("boot ")}
    props = outcome.result.properties
    for phase in phases:
        assert float(props[f"kgen.time.{phase.replace(' ', '.')}_s"]) >= 0
    assert float(props["kgen.time.total_s"]) >= sum(outcome.timings.phases.values()) - 0.01
    line = outcome.timings.line()
    assert line.startswith("time: plan ") and "boot complaints1 " in line
    assert line.endswith(f"total {outcome.timings.total:.1f} s")
    # The figures reach every JUnit testsuite, and the XML stays valid.
    out = tmp_path / "run.xml"
    write_junit(outcome.result, out)
    xmlschema.XMLSchema(str(FIXTURES / "xsd" / "junit-10.xsd")).validate(str(out))
    assert out.read_text().count('name="kgen.time.build_s"') == \
        len(outcome.result.suites) + bool(outcome.result.errors)
