"""kgen run --coverage: its own build dir and config, UML only."""
from __future__ import annotations

from pathlib import Path

import pytest

from kgen.arch import arch
from kgen.cache import default_build_dir
from kgen.errors import EXIT_INFRA, EnvironmentProblem, UsageError
from kgen.runner.harness import lcov_tool
from kgen.runner.harness.kunitconfig import compose
from kgen.runner.run import coverage


def test_coverage_build_gets_its_own_dir():
    tree = Path("/nonexistent/linux")
    plain = default_build_dir(tree, "um")
    cov = default_build_dir(tree, "um", coverage=True)
    assert cov != plain and cov.name == plain.name + "-cov"
    assert default_build_dir(tree, "um", {"DEBUG_VM": False}, coverage=True).name.endswith("-cov")


def test_coverage_config_only_with_coverage():
    assert "CONFIG_GCOV=y" in compose("um", coverage=True)
    assert "CONFIG_DEBUG_INFO=y" in compose("um", coverage=True)
    assert "GCOV" not in compose("um")


def test_coverage_is_uml_only():
    coverage.check_arch(arch("um"))
    with pytest.raises(UsageError, match="UML only"):
        coverage.check_arch(arch("arm64"))


def test_reset_deletes_only_counters(tmp_path):
    (tmp_path / "mm").mkdir()
    for name in ("page_alloc.gcda", "page_alloc.gcno", "page_alloc.o"):
        (tmp_path / "mm" / name).write_text("x")
    assert lcov_tool.reset_counters(tmp_path) == 1
    assert sorted(p.name for p in (tmp_path / "mm").iterdir()) == ["page_alloc.gcno",
                                                                    "page_alloc.o"]


def test_lcov_failures_are_infrastructure_errors(tmp_path):
    """lcov exiting non-zero, or a tracefile kgen cannot read: exit 3, with
    the message as it was (the test results of the run stand)."""
    assert issubclass(lcov_tool.LcovFailed, EnvironmentProblem)
    assert lcov_tool.LcovFailed("x").exit_code == EXIT_INFRA
    with pytest.raises(EnvironmentProblem, match=r"^line 2: cannot read 'DA:seven,1'$"):
        coverage.report_from_info("SF:/x.c\nDA:seven,1\nend_of_record\n")


def test_a_tree_whose_mangle_path_clashes_with_libgcov_is_refused(tmp_path):
    # 7.2.13's fs/seq_file.c (line 441) and 7.3.4's, as Debian ships them.
    (tmp_path / "fs").mkdir()
    seq = tmp_path / "fs" / "seq_file.c"
    seq.write_text("char *seq_mangle_path(char *s, const char *p, const char *esc)\n{\n")
    coverage.check_tree(tmp_path)
    seq.write_text("char *mangle_path(char *s, const char *p, const char *esc)\n{\n")
    with pytest.raises(UsageError, match="multiple definition of `mangle_path'"):
        coverage.check_tree(tmp_path)
