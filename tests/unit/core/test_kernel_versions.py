"""`kgen kernel fetch [VERSION]` and `kgen kernel list` without network.

The apt-cache samples below are shaped like the real output of apt-cache on
kgen's private state (mirror URIs replaced by example ones).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kgen import cli, debian_source
from kgen.debian_source import (
    AptSource,
    Candidate,
    PrivateApt,
    Request,
    best_per_series,
    cached_tree,
    cached_trees,
    choose,
    compare_versions,
    fetch_kernel_source,
    linux_source_packages,
    parse_madison,
    parse_request,
    private_sources_list,
    search_suites,
)
from kgen.errors import EnvironmentProblem, UsageError

MAIN = "http://mirror.example/debian"
SEC = "http://mirror.example/debian-security"

MADISON = f"""\
linux-source-6.1 |  6.1.192-3 | {SEC} bookworm-security/main amd64 Packages
linux-source-6.1 |  6.1.192-1 | {MAIN} bookworm/main amd64 Packages
linux-source-6.12 | 6.12.117-1 | {MAIN} trixie/main amd64 Packages
linux-source-6.12 | 6.12.117-1~deb12u1 | {SEC} bookworm-security/main amd64 Packages
linux-source-6.12 | 6.12.115-2~deb12u1 | {SEC} bookworm-security/main amd64 Packages
linux-source-6.12 | 6.12.107-1 | {MAIN} trixie/main amd64 Packages
linux-source-6.12 | 6.12.95-1~bpo12+1 | {MAIN} bookworm-backports/main amd64 Packages
linux-source-7.2 |   7.2.13-1 | {MAIN} sid/main amd64 Packages
linux-source-7.2 | 7.2.12-1~bpo13+1 | {MAIN} trixie-backports/main amd64 Packages
linux-source-7.3 | 7.3.4-1~bpo13+1 | {MAIN} trixie-backports/main amd64 Packages
linux-source-7.3 | 7.3~rc7-1~exp1 | {MAIN} experimental/main amd64 Packages
linux-source-7.3 | 7.3~rc7-1~exp1 | http://other.example/debian/ experimental/main amd64 Packages
     linux |   7.3.4-1~bpo13+1 | {MAIN} trixie-backports/main Sources
"""

PKGNAMES = "linux-source-7.3\nlinux-source-6.1\nlinux-source-7.2\nlinux-source-6.12\n" \
           "linux-source\nlinux-source-7.3-rt\n"


def cands() -> list[Candidate]:
    return parse_madison(MADISON)


# --- VERSION argument --------------------------------------------------------

@pytest.mark.parametrize("arg, series, version", [
    (None, "7.3", None),
    ("6.12", "6.12", None),
    ("7.2", "7.2", None),
    ("linux-source-6.12", "6.12", None),
    ("7.3~rc7-1~exp1", "7.3", "7.3~rc7-1~exp1"),
    ("7.3.4-1~bpo13+1", "7.3", "7.3.4-1~bpo13+1"),
    ("6.12.117-1~deb12u1", "6.12", "6.12.117-1~deb12u1"),
    ("7.2.13-1", "7.2", "7.2.13-1"),
])
def test_parse_request(arg, series, version):
    request = parse_request(arg)
    assert (request.series, request.version) == (series, version)
    assert request.package == f"linux-source-{series}"


@pytest.mark.parametrize("arg", [
    "", "7", "7.", ".3", "7.3.4", "v7.3", "07.3", "7.03", "7.3-", "1:7.3.4-1",
    "7.3.4-1 7.2", "7.3/experimental", "linux-source-", "latest", "6.12;rm -rf /",
    "../7.3", "7.3.4_1",
])
def test_bad_versions_are_usage_errors(arg):
    with pytest.raises(UsageError, match="is not a kernel version"):
        parse_request(arg)


def _kgen(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {"KGEN_CACHE": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(cache)}
    return subprocess.run([sys.executable, "-m", "kgen", *args], capture_output=True,
                          text=True, env=env)


def test_cli_bad_version_exits_2_without_traceback(tmp_path):
    proc = _kgen("kernel", "fetch", "7.3.4", cache=tmp_path)
    assert proc.returncode == 2
    assert "'7.3.4' is not a kernel version" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "apt").exists()     # rejected before apt ran


def _fake_tree(sources: Path, name: str, stamp: str) -> Path:
    tree = sources / name
    (tree / "tools/testing/kunit").mkdir(parents=True)
    (tree / "tools/testing/kunit/kunit.py").write_text("")
    (sources / f"{name}.kgen-version").write_text(stamp)
    return tree


def test_cli_cached_tree_returns_at_once_and_path_is_last_line(tmp_path):
    tree = _fake_tree(tmp_path / "sources", "linux-source-7.3",
                      f"linux-source-7.3 7.3.4-1~bpo13+1 from {MAIN} trixie-backports\n")
    for args in ((), ("7.3",), ("7.3.4-1~bpo13+1",)):
        proc = _kgen("kernel", "fetch", *args, cache=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1] == str(tree)
    assert not (tmp_path / "apt").exists()     # no apt, no network


# --- Debian version order ----------------------------------------------------

@pytest.mark.parametrize("low, high", [
    ("7.3~rc7-1~exp1", "7.3.4-1~bpo13+1"),
    ("7.3~rc7-1~exp1", "7.3-1"),
    ("6.12.117-1~deb12u1", "6.12.117-1"),
    ("6.12.115-2~deb12u1", "6.12.117-1~deb12u1"),
    ("6.12.95-1~bpo12+1", "6.12.107-1"),
    ("7.2.12-1~bpo13+1", "7.2.13-1"),
    ("7.2.13-1", "7.3~rc7-1~exp1"),
    ("1.0~~", "1.0~"),
    ("1.0", "1.0a"),
    ("1.0a", "1.0+"),
    ("1.0-1", "1.0-1+b1"),
    ("9.9-1", "1:0.1-1"),
])
def test_debian_version_order(low, high):
    assert compare_versions(low, high) < 0
    assert compare_versions(high, low) > 0
    assert compare_versions(low, low) == 0


def test_version_order_agrees_with_dpkg():
    if not shutil.which("dpkg"):
        pytest.skip("no dpkg")
    versions = [c.version for c in cands()] + ["7.3-1", "1.0~~", "1.0+", "1:0.1-1"]
    for a in versions:
        for b in versions:
            lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0
            assert (compare_versions(a, b) < 0) == lt, (a, b)


# --- apt-cache output --------------------------------------------------------

def test_parse_madison():
    found = cands()
    assert found[0] == Candidate("linux-source-6.1", "6.1.192-3", "bookworm-security", SEC)
    assert Candidate("linux-source-7.2", "7.2.13-1", "sid", MAIN) in found
    # Sources rows are skipped; a suite carried by two mirrors counts once.
    assert all(c.package.startswith("linux-source-") for c in found)
    assert [c.version for c in found if c.suite == "experimental"] == ["7.3~rc7-1~exp1"]
    assert len(found) == 11


def test_linux_source_packages():
    assert linux_source_packages(PKGNAMES) == [
        "linux-source-6.1", "linux-source-6.12", "linux-source-7.2", "linux-source-7.3"]


# --- which suite -------------------------------------------------------------

@pytest.mark.parametrize("arg, version, suite", [
    (None, "7.3.4-1~bpo13+1", "trixie-backports"),
    ("7.3", "7.3.4-1~bpo13+1", "trixie-backports"),
    ("6.12", "6.12.117-1", "trixie"),
    ("7.2", "7.2.13-1", "sid"),
    ("6.1", "6.1.192-3", "bookworm-security"),
    ("7.3~rc7-1~exp1", "7.3~rc7-1~exp1", "experimental"),
    ("6.12.117-1~deb12u1", "6.12.117-1~deb12u1", "bookworm-security"),
    ("7.2.12-1~bpo13+1", "7.2.12-1~bpo13+1", "trixie-backports"),
])
def test_choose(arg, version, suite):
    cand = choose(cands(), parse_request(arg))
    assert (cand.version, cand.suite) == (version, suite)


def test_preferred_suite_wins_over_a_newer_version_elsewhere():
    newer = Candidate("linux-source-7.3", "7.3.5-1", "sid", MAIN)
    assert choose(cands() + [newer], Request("7.3")).suite == "trixie-backports"
    # Without the preferred suite the newest non-experimental version wins.
    others = [c for c in cands() if c.suite != "trixie-backports"] + [newer]
    assert choose(others, Request("7.3")).version == "7.3.5-1"


def test_experimental_only_when_nothing_else_has_the_series():
    rc = [Candidate("linux-source-7.4", "7.4~rc2-1~exp1", "experimental", MAIN),
          Candidate("linux-source-7.4", "7.4~rc1-1~exp1", "experimental", MAIN)]
    assert choose(cands() + rc, Request("7.4")).version == "7.4~rc2-1~exp1"
    newer_rc = Candidate("linux-source-7.3", "7.3.9~rc1-1~exp1", "experimental", MAIN)
    assert choose(cands() + [newer_rc], Request("7.3")).suite == "trixie-backports"


def test_unknown_series_and_version_are_usage_errors():
    with pytest.raises(UsageError, match=r"linux-source-5.10 is in none of the suites.*"
                       r"fetchable series: 6.1, 6.12, 7.2, 7.3"):
        choose(cands(), Request("5.10"))
    with pytest.raises(UsageError, match=r"7.2.1-1 is not in the suites kgen searches; "
                       r"they carry 7.2.12-1~bpo13\+1 \(trixie-backports\), 7.2.13-1 \(sid\)"):
        choose(cands(), parse_request("7.2.1-1"))


def test_best_per_series():
    best = best_per_series(cands())
    assert {s: (c.version, c.suite) for s, c in best.items()} == {
        "6.1": ("6.1.192-3", "bookworm-security"),
        "6.12": ("6.12.117-1", "trixie"),
        "7.2": ("7.2.13-1", "sid"),
        "7.3": ("7.3.4-1~bpo13+1", "trixie-backports"),
    }


# --- the private sources.list ------------------------------------------------

SYSTEM = [
    AptSource(MAIN + "/", ("bookworm", "bookworm-updates")),
    AptSource(SEC, ("bookworm-security",)),
    AptSource("https://vendor.example/apt", ("cloud-sdk-bookworm",)),
    AptSource("https://nodesource.example/node_20.x", ("nodistro",)),
]


def test_search_suites_from_system_sources():
    assert search_suites(SYSTEM) == {
        MAIN: ["bookworm", "bookworm-updates", "bookworm-backports", "trixie",
               "trixie-backports", "sid", "experimental"],
        SEC: ["bookworm-security"],
    }


def test_search_suites_keeps_extra_system_suites_and_merges_uris():
    system = [AptSource(MAIN, ("forky",)), AptSource(MAIN + "/", ("forky-updates",)),
              AptSource(SEC, ("trixie-security", "forky-security"))]
    found = search_suites(system)
    assert found[MAIN][-2:] == ["forky", "forky-updates"]
    assert found[MAIN].count("sid") == 1
    assert found[SEC] == ["trixie-security", "forky-security"]


def test_no_debian_archive_is_a_clear_error():
    with pytest.raises(EnvironmentProblem, match="no Debian archive found"):
        search_suites(SYSTEM[2:])


def test_private_sources_list(tmp_path):
    keyring = tmp_path / "archive.gpg"
    keyring.write_bytes(b"")
    text = private_sources_list(SYSTEM, keyring)
    lines = [l for l in text.splitlines() if not l.startswith("#")]
    opts = f"[signed-by={keyring} target=Packages]"
    assert lines[0] == f"deb {opts} {MAIN} bookworm main"
    assert lines[6] == f"deb {opts} {MAIN} experimental main"
    assert lines[7:] == [f"deb {opts} {SEC} bookworm-security main"]
    assert "vendor" not in text and "nodesource" not in text
    no_key = private_sources_list(SYSTEM, tmp_path / "missing.gpg")
    assert f"deb [target=Packages] {MAIN} sid main" in no_key


def test_no_host_names_in_the_code():
    code = Path(debian_source.__file__).read_text() + Path(cli.__file__).read_text()
    assert "debian.org" not in code and "http://" not in code and "https://" not in code


# --- private apt: lists freshness --------------------------------------------

class RecordingApt(PrivateApt):
    def __init__(self, root: Path):
        super().__init__(root, SYSTEM)
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args, cwd=None):
        self.calls.append(args)
        if args[:2] == ("apt-cache", "pkgnames"):
            return PKGNAMES
        if args[:2] == ("apt-cache", "madison"):
            return "".join(l + "\n" for l in MADISON.splitlines()
                           if l.split("|")[0].strip() in args[2:])
        return ""


def test_update_reuses_fresh_lists_and_redoes_after_a_sources_change(tmp_path):
    apt = RecordingApt(tmp_path / "apt")
    apt.prepare()
    assert apt.lists_age() is None
    apt.update(log=lambda m: None)
    apt.update(log=lambda m: None)
    assert apt.calls == [("apt-get", "-q", "update")]
    assert apt.lists_age() < 60
    apt.update(log=lambda m: None, force=True)
    assert len(apt.calls) == 2
    apt.sources = SYSTEM + [AptSource(MAIN, ("forky",))]
    apt.prepare()
    assert apt.lists_age() is None
    apt.update(log=lambda m: None)
    assert len(apt.calls) == 3


def test_candidates_asks_pkgnames_then_madison(tmp_path):
    apt = RecordingApt(tmp_path / "apt")
    found = apt.candidates()
    assert apt.calls[0] == ("apt-cache", "pkgnames", "linux-source-")
    assert apt.calls[1] == ("apt-cache", "madison", "linux-source-6.1", "linux-source-6.12",
                            "linux-source-7.2", "linux-source-7.3")
    assert len(found) == 11


# --- the cache ---------------------------------------------------------------

def test_cached_trees_and_old_stamps(tmp_path):
    sources = tmp_path / "sources"
    old = _fake_tree(sources, "linux-source-7.3",
                     f"linux-source-7.3 7.3.4-1~bpo13+1 from {MAIN} trixie-backports\n")
    rc = _fake_tree(sources, "linux-source-7.3_7.3_rc7-1_exp1",
                    f"linux-source-7.3 7.3~rc7-1~exp1 from {MAIN} experimental\n")
    lts = _fake_tree(sources, "linux-source-6.12",
                     f"linux-source-6.12 6.12.117-1 from {MAIN} trixie\n")
    (sources / "linux-source-7.2").mkdir()          # half unpacked, no stamp
    broken = _fake_tree(sources, "linux-source-7.1", "garbage\n")
    assert [t.path for t in cached_trees(tmp_path)] == [lts, rc, old]
    assert cached_tree(tmp_path, Request("7.3")).path == old
    assert cached_tree(tmp_path, parse_request("7.3.4-1~bpo13+1")).path == old
    assert cached_tree(tmp_path, parse_request("7.3~rc7-1~exp1")).path == rc
    assert cached_tree(tmp_path, parse_request("7.2")) is None
    assert cached_tree(tmp_path, parse_request("7.1")) is None and broken.exists()
    (old / "tools/testing/kunit/kunit.py").unlink()
    assert cached_tree(tmp_path, Request("7.3")) is None


def _fake_deb(debs: Path, package: str, version: str) -> None:
    """A linux-source .deb as Debian builds it: usr/src/<package>.tar.xz."""
    stage = debs.parent / f"stage-{package}"
    src = stage / "src" / package / "tools/testing/kunit"
    src.mkdir(parents=True)
    (src / "kunit.py").write_text("# " + version)
    root = stage / "deb"
    (root / "usr/src").mkdir(parents=True)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: kgen <kgen@example.invalid>\nDescription: test\n")
    with tarfile.open(root / f"usr/src/{package}.tar.xz", "w:xz") as tar:
        tar.add(stage / "src" / package, arcname=package)
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-Zgzip", "--build", str(root),
                    str(debs / f"{package}_{version.replace(':', '%3a')}_all.deb")],
                   check=True, capture_output=True)
    shutil.rmtree(stage)


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="no dpkg-deb")
def test_fetch_downloads_unpacks_and_stamps(tmp_path, monkeypatch):
    downloads = []

    class FakeApt(RecordingApt):
        def __init__(self, root):
            super().__init__(root)

        def run(self, *args, cwd=None):
            if args[:3] == ("apt-get", "-q", "download"):
                package, version = args[3].split("=")
                downloads.append((package, version))
                _fake_deb(cwd, package, version)
                return ""
            return super().run(*args, cwd=cwd)

    monkeypatch.setattr(debian_source, "PrivateApt", FakeApt)
    logs: list[str] = []
    tree = fetch_kernel_source(tmp_path, log=logs.append, request=Request("7.2"))
    assert tree == tmp_path / "sources/linux-source-7.2"
    assert (tree / "tools/testing/kunit/kunit.py").read_text() == "# 7.2.13-1"
    assert (tmp_path / "sources/linux-source-7.2.kgen-version").read_text() == \
        f"linux-source-7.2 7.2.13-1 from {MAIN} sid\n"
    assert downloads == [("linux-source-7.2", "7.2.13-1")]
    assert not list((tmp_path / "debs").iterdir())
    assert any("fetching linux-source-7.2 7.2.13-1" in m for m in logs)
    # Cached now: no apt at all.
    assert fetch_kernel_source(tmp_path, log=logs.append, request=Request("7.2")) == tree
    assert len(downloads) == 1
    # A full version that is not the X.Y tree's gets a directory of its own.
    rc = fetch_kernel_source(tmp_path, log=logs.append,
                             request=parse_request("7.3~rc7-1~exp1"))
    assert rc == tmp_path / "sources/linux-source-7.3_7.3_rc7-1_exp1"
    assert (tmp_path / "sources/linux-source-7.3_7.3_rc7-1_exp1.kgen-version").read_text() \
        .startswith("linux-source-7.3 7.3~rc7-1~exp1 from ")
    assert not (tmp_path / "sources/linux-source-7.3").exists()
    assert [t.version for t in cached_trees(tmp_path)] == ["7.2.13-1", "7.3~rc7-1~exp1"]
    with pytest.raises(UsageError, match=r"fetchable series: 6.1, 6.12, 7.2, 7.3"):
        fetch_kernel_source(tmp_path, log=logs.append, request=Request("5.10"))


# --- kgen kernel list --------------------------------------------------------

def test_kernel_list_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KGEN_CACHE", str(tmp_path))
    tree = _fake_tree(tmp_path / "sources", "linux-source-7.3",
                      f"linux-source-7.3 7.3.4-1~bpo13+1 from {MAIN} trixie-backports\n")
    monkeypatch.setattr(debian_source, "fetchable",
                        lambda cache, log, refresh: (cands(), 600.0))
    assert cli.main(["kernel", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["SERIES", "VERSION", "SUITE", "PATH"]
    assert out[2].split() == ["7.3", "7.3.4-1~bpo13+1", "trixie-backports", str(tree)]
    rows = [line.split() for line in out[5:]]
    assert rows[0] == ["PACKAGE", "VERSION", "SUITE"]
    assert ["linux-source-6.12", "6.12.117-1", "trixie", "*"] in rows
    assert ["linux-source-6.12", "6.12.117-1~deb12u1", "bookworm-security"] in rows
    assert ["linux-source-6.12", "6.12.115-2~deb12u1", "bookworm-security"] not in rows
    assert ["linux-source-7.3", "7.3.4-1~bpo13+1", "trixie-backports", "*", "cached"] in rows
    assert ["linux-source-7.3", "7.3~rc7-1~exp1", "experimental"] in rows
    assert "10 min old" in out[4]
    assert cli.main(["kernel", "list", "--all"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["linux-source-6.12", "6.12.115-2~deb12u1", "bookworm-security"] in rows


# --- a mirror that lacks a suite -------------------------------------------------

class FailingUpdateApt(RecordingApt):
    """apt-get update exits 100 (one suite has no Release file); lists may exist."""

    def __init__(self, root: Path, lists: bool):
        super().__init__(root)
        self.lists = lists

    def run(self, *args, cwd=None):
        if args[:3] == ("apt-get", "-q", "update"):
            self.calls.append(args)
            raise EnvironmentProblem("apt-get -q update failed:\nE: The repository "
                                     f"'{MAIN} experimental Release' does not have a "
                                     "Release file.")
        if not self.lists and args[0] == "apt-cache":
            return ""
        return super().run(*args, cwd=cwd)


def test_partial_update_goes_on_with_the_lists_apt_has(tmp_path):
    logs: list[str] = []
    apt = FailingUpdateApt(tmp_path / "apt", lists=True)
    apt.prepare()
    apt.update(logs.append)
    assert "does not have a Release file" in logs[-1] and "going on" in logs[-1]
    assert choose(apt.checked_candidates(), Request("7.2")).version == "7.2.13-1"
    assert apt.lists_age() is None          # not marked fresh: next call retries
    apt.update(logs.append)
    assert len([c for c in apt.calls if c[1:] == ("-q", "update")]) == 2


def test_failed_update_without_lists_is_an_environment_problem(tmp_path):
    apt = FailingUpdateApt(tmp_path / "apt", lists=False)
    apt.prepare()
    apt.update(lambda m: None)
    with pytest.raises(EnvironmentProblem, match="does not have a Release file"):
        apt.checked_candidates()
