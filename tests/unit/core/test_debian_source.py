"""Reading the Debian mirror from apt sources (no network here)."""
from __future__ import annotations

import pytest

from kgen.debian_source import AptSource, _parse_deb822, _parse_one_line, debian_mirror
from kgen.errors import EnvironmentProblem


def test_deb822_sources():
    text = """\
Types: deb
URIs: http://mirror.example.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example.invalid/debian
Suites: bookworm
"""
    assert _parse_deb822(text) == [
        AptSource("http://mirror.example.invalid/debian", ("bookworm", "bookworm-updates")),
        AptSource("http://mirror.example.invalid/debian-security", ("bookworm-security",)),
    ]


def test_one_line_sources_with_options_and_comments():
    text = """\
# comment
deb [arch=amd64 signed-by=/k.gpg] http://m.example.invalid/debian trixie main
deb-src http://m.example.invalid/debian trixie main
deb http://other.example.invalid/apt stable-thing main  # trailing
"""
    assert _parse_one_line(text) == [
        AptSource("http://m.example.invalid/debian", ("trixie",)),
        AptSource("http://other.example.invalid/apt", ("stable-thing",)),
    ]


def test_mirror_skips_third_party_and_security():
    sources = [
        AptSource("https://vendor.example.invalid/apt", ("cloud-sdk-bookworm",)),
        AptSource("http://sec.example.invalid/debian-security", ("bookworm-security",)),
        AptSource("http://m.example.invalid/debian/", ("bookworm", "bookworm-updates")),
    ]
    assert debian_mirror(sources) == "http://m.example.invalid/debian"


def test_no_debian_mirror_is_a_clear_error():
    with pytest.raises(EnvironmentProblem, match="no Debian archive found"):
        debian_mirror([AptSource("https://vendor.example.invalid/apt", ("nodistro",))])
