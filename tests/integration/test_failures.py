"""Real failing boots and builds: a crash, and a kernel that cannot be configured."""
from __future__ import annotations

from conftest import REPO, kgen
from junitparser import Error, JUnitXml
from treehash import tree_digest

SPECS = REPO / "tests" / "integration" / "specs"


def cases(path) -> dict:
    return {f"{s.name}.{c.name}": c for s in JUnitXml.fromfile(str(path)) for c in s}


def test_crash_is_reported_and_the_rest_runs_in_another_boot(kernel_tree, results_dir):
    junit = results_dir / "crash.xml"
    before = tree_digest(kernel_tree)
    proc = kgen("run", "--kernel", str(kernel_tree), "--junit", str(junit),
                "--spec", str(SPECS / "crash.yaml"),
                "--spec", str(SPECS / "crash_next_suite.yaml"))
    assert tree_digest(kernel_tree) == before
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # The misuse and the cases after it make the kernel complain on
    # purpose: they run in the complaint boot, and the crash is there.
    assert "kgen: complaint boot 1: kgen_selftest_crash_crashes" in proc.stderr
    assert "booting again for kgen_selftest_crash.kgen_selftest_crash_after in " \
        "complaint boot 1" in proc.stderr
    found = cases(junit)
    crash = found["kgen_selftest_crash.kgen_selftest_crash_crashes"]
    (error,) = [r for r in crash.result if isinstance(r, Error)]
    assert error.type == "crash"
    assert "VM_BUG_ON_PAGE" in (error.text or "") or "kernel BUG" in (error.text or "")
    # Before the crash: passed in the main boot.  After it: run by reruns.
    for name in ("kgen_selftest_crash.kgen_selftest_crash_before",
                 "kgen_selftest_crash.kgen_selftest_crash_after",
                 "kgen_selftest_crash_next.kgen_selftest_crash_next_runs_on_rerun"):
        assert not found[name].result, (name, found[name].result)
    assert "rerun boot" in (found["kgen_selftest_crash.kgen_selftest_crash_after"]
                            .system_out or "")


def test_unconfigurable_kernel_is_a_build_error_with_junit(kernel_tree, tmp_path):
    spec = tmp_path / "bad_config.yaml"
    spec.write_text("kgen: 1\nsuite: kgen_selftest_badcfg\ncases:\n  - name: c\n"
                    "    span: {alloc: split_page, order: 1}\n    free: free_page_loop\n"
                    "    needs: {kconfig: [KGEN_NO_SUCH_OPTION]}\n")
    junit = tmp_path / "badcfg.xml"
    proc = kgen("run", "--kernel", str(kernel_tree), "--junit", str(junit),
                "--spec", str(spec))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    (case,) = list(suite)
    (error,) = [r for r in case.result if isinstance(r, Error)]
    assert case.name == "build" and error.type == "build"
    assert "KGEN_NO_SUCH_OPTION" in (error.text or "")
