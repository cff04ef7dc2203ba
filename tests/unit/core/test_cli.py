"""CLI behaviour that needs no kernel build: exit codes and messages."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kgen.arch import arch
from kgen.cli import shipped_specs


def kgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kgen", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_lint_shipped_specs_ok():
    proc = kgen("lint", *map(str, shipped_specs()))
    assert proc.returncode == 0
    assert "KUnit case(s)" in proc.stdout


def test_lint_reports_file_line_col_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kgen: 1\nsuite: kgen_x\ncases:\n  - name: a\n"
                   "    span: {alloc: split_page, order: 30}\n    free: free_page_loop\n")
    proc = kgen("lint", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:5:38: cases.0.span.order: 30 is greater than the maximum of 12" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_with_bad_spec_generates_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kgen: 1\nsuite: kgen_x\ncases: []\n")
    out = tmp_path / "out"
    proc = kgen("generate", "--spec", str(bad), "-o", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert "bad.yaml:3:8" in proc.stderr


def test_not_a_kernel_tree_is_a_usage_error(tmp_path):
    proc = kgen("run", "--kernel", str(tmp_path))
    assert proc.returncode == 2
    assert "is not a kernel tree" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_directory(tmp_path):
    proc = kgen("run", "--kernel", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such directory" in proc.stderr


def test_generate_writes_suites_and_helpers(tmp_path):
    proc = kgen("generate", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert {"kgen_kunit.c", "kgen_kunit.h", "Kconfig", "Makefile",
            "kgen_contig_split_kunit.c", "kgen_refcount_hold_kunit.c"} <= names


def test_missing_tools_name_the_debian_package(monkeypatch):
    from kgen.runner.harness import kunit_tool
    monkeypatch.setenv("PATH", "/nonexistent")
    missing = kunit_tool.missing_tools(arch("arm64"))
    assert "flex (apt-get install flex)" in missing
    assert "aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu)" in missing
    assert "qemu-system-aarch64 (apt-get install qemu-system-arm)" in missing


def _fake_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    (tree / "tools/testing/kunit").mkdir(parents=True)
    (tree / "tools/testing/kunit/kunit.py").write_text("")
    (tree / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\n")
    return tree


def test_ctrl_c_is_130_from_the_one_handler(monkeypatch, capsys, tmp_path):
    import ast

    from kgen import cli
    from kgen.runner.run import pipeline

    def interrupted(target, req):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run", interrupted)
    junit = tmp_path / "r.xml"
    assert cli.main(["run", "--kernel", str(_fake_tree(tmp_path)), "--junit", str(junit),
                     "kgen_contig_split"]) == 130
    assert capsys.readouterr().err.endswith(
        "kgen: interrupted; the kernel tree was never modified\n")
    assert not junit.exists()
    source = ast.parse(Path(cli.__file__).read_text())
    handlers = [h for h in ast.walk(source) if isinstance(h, ast.ExceptHandler)
                and isinstance(h.type, ast.Name) and h.type.id == "KeyboardInterrupt"]
    assert len(handlers) == 1
