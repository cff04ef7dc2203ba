"""`kgen run --coverage`: line and branch coverage of the free path on UML.

The route is the one kunit.py's documentation gives for UML
(Documentation/dev-tools/kunit/running_tips.rst, "Generating code coverage
reports under UML"): CONFIG_GCOV with gcc, whose objects link the host's
libgcov, which writes .gcda files into the build dir.  With gcc 12 that
takes kgen_gcov.c (kernel/kunit/): gcc's own exit-time writer sits in a
section UML's linker script drops, so no .gcda appeared until kgen wrote
them at halt.  The kernel's own CONFIG_GCOV_KERNEL keeps its counters in debugfs
instead, which a kunit.py boot (no userspace) cannot read out.  Such a
kernel gets its own build dir (``-cov``): instrumented objects would cool
the plain one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kgen.arch import Arch
from kgen.errors import EnvironmentProblem, UsageError
from kgen.runner.harness import lcov_tool
from kgen.runner.results.lcov import (
    FunctionCoverage,
    InfoError,
    function_coverage,
    function_extent,
    parse_info,
    render_table,
)

# The functions under test, in call order, and the files that define them.
FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("free_contig_range", "mm/page_alloc.c"),
    ("__free_contig_range", "mm/page_alloc.c"),
    ("__free_contig_range_common", "mm/page_alloc.c"),
    ("free_prepared_contig_range", "mm/page_alloc.c"),
    ("free_pages_bulk", "mm/page_alloc.c"),
    ("free_contig_frozen_range", "mm/page_alloc.c"),
    ("vm_area_free_pages", "mm/vmalloc.c"),
    ("vfree", "mm/vmalloc.c"),
)
SOURCES = sorted({path for _name, path in FUNCTIONS})
BUILD_DIR_SUFFIX = "-cov"


def check_arch(target: Arch) -> None:
    """Coverage needs UML: CONFIG_GCOV is arch/um's."""
    if target.name != "um":
        raise UsageError(f"--coverage works on UML only (arch/um's CONFIG_GCOV), "
                         f"not --arch {target.name}")


# A global mangle_path() in the tree (fs/seq_file.c before 7.3, which
# renamed it seq_mangle_path()) collides with the one in gcc's libgcov.a:
# UML's CONFIG_GCOV kernel then fails to link ("multiple definition of
# `mangle_path'"), seen with Debian 12's gcc 12 on 7.2.13.
_GCOV_CLASH = re.compile(r"^char \*mangle_path\(", re.MULTILINE)


def check_tree(tree: Path) -> None:
    """Refuse, before any build, a tree whose coverage kernel cannot link."""
    seq_file = tree / "fs" / "seq_file.c"
    text = seq_file.read_text(errors="replace") if seq_file.is_file() else ""
    if _GCOV_CLASH.search(text):
        raise UsageError(
            "--coverage: this tree's fs/seq_file.c defines mangle_path(), and so does "
            "gcc's libgcov.a, so UML's CONFIG_GCOV kernel fails to link (multiple "
            "definition of `mangle_path'); Linux 7.3 renamed it seq_mangle_path()")


def check_tools() -> None:
    """lcov, genhtml and gcov on the host."""
    missing = lcov_tool.missing_tools()
    if missing:
        raise EnvironmentProblem("--coverage needs " + ", ".join(missing))


def start(build_dir: Path) -> int:
    """Before the first boot: drop counters an earlier run left."""
    return lcov_tool.reset_counters(build_dir)


@dataclass
class CoverageReport:
    rows: list[FunctionCoverage]
    info: Path
    html: Path | None
    # Functions the source or the tracefile did not have, with why.
    missing: list[str]

    def render(self) -> str:
        text = render_table(self.rows)
        for line in self.missing:
            text += f"\n{line}"
        return text


def report_from_info(info_text: str) -> tuple[list[FunctionCoverage], list[str]]:
    """The functions under test, from a tracefile and the sources it names.
    A tracefile kgen cannot read is lcov's failure (exit 3), not the user's."""
    try:
        files = parse_info(info_text)
    except InfoError as err:
        raise EnvironmentProblem(str(err)) from None
    rows, missing = [], []
    for name, rel in FUNCTIONS:
        cov = next((f for p, f in files.items() if p.endswith("/" + rel)), None)
        if cov is None:
            missing.append(f"{name}: no coverage data for {rel}")
            continue
        try:
            source = Path(cov.path).read_text(errors="replace")
        except OSError as err:
            missing.append(f"{name}: cannot read {cov.path}: {err.strerror}")
            continue
        extent = function_extent(source, name)
        if extent is None:
            missing.append(f"{name}: no definition in {cov.path}")
            continue
        rows.append(function_coverage(cov, name, *extent))
    return rows, missing


def collect(build_dir: Path, out_dir: Path, test_name: str = "kgen") -> CoverageReport:
    """After the last boot: the tracefile, HTML and the functions' table."""
    if not any((build_dir / "mm").glob("*.gcda")):
        raise EnvironmentProblem(
            f"--coverage: the boots wrote no gcov counters (.gcda) into {build_dir}/mm: "
            "a boot writes them when it halts (kgen_gcov.c), not when it panics "
            "or is stopped")
    try:
        captured = lcov_tool.capture(build_dir, "mm", SOURCES, out_dir, test_name)
    except lcov_tool.LcovFailed as err:
        raise EnvironmentProblem(f"--coverage: {err}") from None
    rows, missing = report_from_info(captured.info.read_text())
    report = CoverageReport(rows, captured.info, captured.html, missing)
    (out_dir / "functions.txt").write_text(report.render() + "\n")
    return report
