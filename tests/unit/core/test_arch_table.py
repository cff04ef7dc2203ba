"""kgen/arch.py against what the setup script installs and what each arch's
Kconfig fragment sets."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgen.arch import ARCHES
from kgen.target.capabilities import fragment_options

LIB_SH = Path(__file__).resolve().parents[3] / "scripts/lib.sh"


def _debian_packages() -> set[str]:
    text = LIB_SH.read_text()
    block = re.search(r'^DEBIAN_PACKAGES="([^"]*)"', text, re.MULTILINE)
    assert block, "scripts/lib.sh has no DEBIAN_PACKAGES"
    return set(block.group(1).split())


@pytest.mark.parametrize("name", sorted(ARCHES))
def test_setup_installs_every_package_an_arch_needs(name):
    missing = set(ARCHES[name].all_tools().values()) - _debian_packages()
    assert not missing, f"--arch {name} needs {sorted(missing)}: add them to scripts/lib.sh"


@pytest.mark.parametrize("name", sorted(ARCHES))
def test_fragment_sets_nothing_the_arch_cannot_have(name):
    clash = fragment_options(name) & set(ARCHES[name].kconfig_limits)
    assert not clash, f"{name}.config sets {sorted(clash)}, which kgen/arch.py says {name} lacks"
