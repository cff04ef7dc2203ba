"""Which objects a failed build could not compile, from real build logs."""
from __future__ import annotations

from pathlib import Path

from kgen.runner.harness.build_log import failed_objects

BUILD = Path(__file__).resolve().parents[2] / "fixtures" / "build"
OVERLAY = "/root/.cache/kgen/overlays/linux-source-7.3-943b473cf1"


def lines(name: str) -> list[str]:
    return (BUILD / name).read_text().splitlines()


def test_one_suite_with_an_undeclared_function():
    (target, failure), = failed_objects(lines("um_compile_error.log"), OVERLAY).items()
    assert target == "mm/kgen/kgen_selftest_hang_kunit.o"
    assert failure.source == "mm/kgen/kgen_selftest_hang_kunit.c"
    assert failure.first_error == (
        "mm/kgen/kgen_selftest_hang_kunit.c:69:9: error: implicit declaration of function "
        "‘kgen_no_such_function’ [-Werror=implicit-function-declaration]")
    assert failure.diagnostics[0] == ("mm/kgen/kgen_selftest_hang_kunit.c: In function "
                                      "‘kgen_selftest_hang_hangs’:")
    assert "kgen_no_such_function(span);" in failure.diagnostics[2]


def test_a_tree_whose_kunit_case_macro_takes_two_arguments():
    """kunit-case-takes-attributes.patch: the suites with a plain KUNIT_CASE()."""
    failed = failed_objects(lines("um_kunit_case_attributes.log"), OVERLAY)
    assert failed
    for target, failure in failed.items():
        assert target in ("mm/kgen/kgen_frozen_kunit.o", "mm/kgen/kgen_refcount_hold_kunit.o")
        assert failure.first_error.startswith(failure.source + ":")
        assert failure.first_error.endswith(
            'error: macro "KUNIT_CASE" requires 2 arguments, but only 1 given')
        assert OVERLAY not in failure.first_error
        assert all(OVERLAY not in line for line in failure.diagnostics)


def test_the_helper_library_is_an_object_too():
    """free-pages-bulk-may-sleep.patch breaks kgen_kunit.c; which objects
    are suites is the caller's business (run/builds.py)."""
    failed = failed_objects(lines("um_free_pages_bulk_may_sleep.log"), OVERLAY)
    assert failed and set(failed) <= {"mm/kgen/kgen_kunit.o", "mm/kgen/kgen_vmalloc.o"}
    for failure in failed.values():
        assert "free_pages_bulk" in failure.first_error
        assert "error: too few arguments to function" in failure.first_error


def test_failures_that_are_not_compiling_an_object():
    kconfig = ["[10:00:00] Configuring KUnit Kernel ...",
               ("ERROR:root:Not all Kconfig options selected in kunitconfig were in the "
                "generated .config."), "Missing: CONFIG_KGEN_NO_SUCH_OPTION=y"]
    assert failed_objects(kconfig) is None
    link = ["ld: mm/kgen/kgen_x_kunit.o: in function `f': undefined reference to `g'",
            "make[3]: *** [/o/scripts/Makefile.vmlinux:77: vmlinux] Error 1",
            "make[2]: *** [/o/Makefile:1242: vmlinux] Error 2"]
    assert failed_objects(link) is None


def test_make_names_an_object_the_compiler_said_nothing_about():
    """Killed compiler, full disk: no "error:" line for it, so not a compile
    failure kgen can blame on the source."""
    killed = ["make[5]: *** [/o/scripts/Makefile.build:295: mm/kgen/kgen_x_kunit.o] Error 137"]
    assert failed_objects(killed) is None
