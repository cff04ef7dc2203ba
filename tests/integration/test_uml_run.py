"""End to end on UML: specs -> KUnit C -> kunit.py -> KTAP -> JUnit."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, kgen
from junitparser import Error, Failure, JUnitXml, Skipped
from kcidb_io import schema
from treehash import tree_digest

SELFTEST_SPECS = REPO / "tests" / "integration" / "specs"


def junit_cases(path: Path) -> dict[str, object]:
    xml = JUnitXml.fromfile(str(path))
    return {f"{suite.name}.{case.name}": case for suite in xml for case in suite}


def test_shipped_specs_pass_and_tree_is_unchanged(kernel_tree, results_dir):
    before = tree_digest(kernel_tree)
    junit = results_dir / "shipped.xml"
    proc = kgen("run", "--kernel", str(kernel_tree), "--junit", str(junit))
    assert tree_digest(kernel_tree) == before
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cases = junit_cases(junit)
    assert len(cases) >= 20
    bad = {name: case.result for name, case in cases.items()
           if any(isinstance(r, (Failure, Error)) for r in case.result)}
    assert not bad
    # Every generated case reported, and parameters are separate testcases.
    assert "kgen_contig_split.kgen_contig_split_whole_span/order=9,free=free_pages_bulk" in cases
    assert "passed, 0 failed" in proc.stdout


def test_selection_boots_only_what_it_names_and_kcidb_validates(kernel_tree, results_dir):
    junit, kcidb = results_dir / "selected.xml", results_dir / "selected.kcidb.json"
    proc = kgen("run", "kgen_refcount_hold.hold_position/hold=last",
                "kgen_hwpoison.*bad_state*", "--kernel", str(kernel_tree),
                "--junit", str(junit), "--kcidb", str(kcidb))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cases = junit_cases(junit)
    assert "kgen_refcount_hold.kgen_refcount_hold_hold_position/hold=last" in cases
    assert len(cases) == 5 and sum(n.startswith("kgen_hwpoison.kgen_hwpoison_bad_state/")
                                   for n in cases) == 4
    # Only the selected suites were generated, so only they ran in the kernel.
    console = Path(re.search(r"^console log: (.*)$", proc.stdout, re.MULTILINE).group(1))
    booted = set(re.findall(r"^    # Subtest: (kgen_\w+)$", console.read_text(), re.MULTILINE))
    assert booted == {"kgen_refcount_hold", "kgen_hwpoison"}
    data = json.loads(kcidb.read_text())
    schema.V5_0.validate_exactly(data)
    schema.LATEST.validate(data)
    assert sorted(t["path"] for t in data["tests"])[-1] == \
        "kgen_refcount_hold.hold_position.hold_last"
    assert {t["status"] for t in data["tests"]} == {"PASS"}
    assert data["builds"][0]["status"] == "PASS"
    assert data["checkouts"][0]["tree_name"] == kernel_tree.name


def test_wrong_expectation_fails_naming_it(kernel_tree, results_dir):
    before = tree_digest(kernel_tree)
    junit = results_dir / "wrong.xml"
    proc = kgen("run", "--kernel", str(kernel_tree), "--junit", str(junit),
                "--spec", str(SELFTEST_SPECS / "wrong_expectation.yaml"))
    assert tree_digest(kernel_tree) == before
    assert proc.returncode == 1, proc.stdout + proc.stderr
    cases = junit_cases(junit)
    wrong = cases["kgen_selftest_wrong.kgen_selftest_wrong_wrong_free_delta"]
    (failure,) = [r for r in wrong.result if isinstance(r, Failure)]
    assert "expect.nr_free_pages" in failure.message
    assert "changed by 4, expected 3" in failure.message
    right = cases["kgen_selftest_wrong.kgen_selftest_wrong_right_free_delta"]
    assert not [r for r in right.result if isinstance(r, (Failure, Error, Skipped))]


def _default_sigint() -> None:
    """A shell starts background jobs with SIGINT ignored, and Python keeps an
    ignored SIGINT ignored: give kgen the Ctrl-C a terminal would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_build_leaves_tree_unchanged(kernel_tree, tmp_path):
    # The interrupt must land while the build runs, whatever the machine's
    # speed: a `make` first on PATH says when kunit.py has started it and
    # then waits, so the test, not a timer, decides when Ctrl-C comes.
    fake = tmp_path / "bin"
    fake.mkdir()
    started = tmp_path / "make-started"
    (fake / "make").write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 600\n")
    (fake / "make").chmod(0o755)
    spec = tmp_path / "interrupt.yaml"
    spec.write_text("kgen: 1\nsuite: kgen_selftest_int\n"
                    "cases:\n  - name: c\n    span: {alloc: split_page, order: 1}\n"
                    "    free: free_page_loop\n")
    before = tree_digest(kernel_tree)
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen([sys.executable, "-m", "kgen", "run", "--kernel",
                             str(kernel_tree), "--spec", str(spec),
                             "--build-dir", str(tmp_path / "build"),
                             "--junit", str(tmp_path / "int.xml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert started.exists(), "kunit.py never started make: " + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        # A kgen left running would hold the overlay lock for later tests.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    assert tree_digest(kernel_tree) == before
    # No kunit.py, make or UML process outlives kgen.
    leftovers = subprocess.run(["pgrep", "-f", str(kernel_tree.name) + ".*kunit.py"],
                               capture_output=True, text=True).stdout.split()
    assert [p for p in leftovers if int(p) != os.getpid()] == []
