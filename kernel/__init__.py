"""Kernel-side resources (kgen.kernel): the KUnit helper library, Kconfig
and per-arch kunitconfig fragments under kunit/.  No Python lives here."""
from importlib import resources


def kunit_dir():
    """Traversable for the kunit/ resource directory."""
    return resources.files(__package__).joinpath("kunit")
