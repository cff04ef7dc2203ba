"""Kernel-side resources (kgen.kernel): the KUnit helper library, Kconfig
and per-arch kunitconfig fragments under kunit/.  No Python lives here."""
from importlib import resources


def kunit_dir():
    """Traversable for the kunit/ resource directory."""
    return resources.files(__package__).joinpath("kunit")


# Static files copied next to the generated suites in mm/kgen/.
HELPER_FILES = ("kgen_kunit.c", "kgen_kunit.h", "kgen_vmalloc.c", "kgen_boundary.c",
                "kgen_prepared.c", "kgen_batching.c", "kgen_confirm.c", "kgen_bench.c",
                "kgen_gcov.c",
                "kgen_protocol.h",
                "Kconfig")


def helper_files() -> dict[str, bytes]:
    """File name -> contents of the static helper library files."""
    return {name: kunit_dir().joinpath(name).read_bytes() for name in HELPER_FILES}
