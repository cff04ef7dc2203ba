"""Fetch Debian's linux-source package into kgen's cache.

The package comes from the trixie-backports suite of the Debian mirror the
machine's apt sources already use.  kgen reads that mirror from the apt
configuration, then runs apt with a private state directory (its own
sources.list, lists and archive cache under the kgen cache), so the
system's apt sources and state are never changed.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import EnvironmentProblem

PACKAGE = "linux-source-7.3"
SUITE = "trixie-backports"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# Suites of the Debian archive proper (not security, not third parties).
_DEBIAN_SUITE = re.compile(
    r"^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|"
    r"oldstable)(-updates|-backports|-proposed-updates)?$")


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]


def _apt_paths() -> tuple[Path, Path]:
    """sources.list and sources.list.d as apt itself is configured."""
    try:
        out = subprocess.run(
            ["apt-config", "shell", "L", "Dir::Etc::sourcelist/f",
             "D", "Dir::Etc::sourceparts/d"],
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")
    values = dict(re.findall(r"^(\w)='(.*)'$", out, re.M))
    return (Path(values.get("L", "/etc/apt/sources.list")),
            Path(values.get("D", "/etc/apt/sources.list.d")))


def _parse_one_line(text: str) -> list[AptSource]:
    sources = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)   # drop [options]
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb":
            sources.append(AptSource(parts[1], (parts[2],)))
    return sources


def _parse_deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            sources.append(AptSource(uri, tuple(fields.get("suites", "").split())))
    return sources


def system_apt_sources() -> list[AptSource]:
    listfile, partsdir = _apt_paths()
    sources: list[AptSource] = []
    if listfile.is_file():
        sources += _parse_one_line(listfile.read_text(errors="replace"))
    if partsdir.is_dir():
        for path in sorted(partsdir.iterdir()):
            if path.suffix == ".list":
                sources += _parse_one_line(path.read_text(errors="replace"))
            elif path.suffix == ".sources":
                sources += _parse_deb822(path.read_text(errors="replace"))
    return sources


def debian_mirror(sources: list[AptSource] | None = None) -> str:
    """The URI of the first configured source that serves a Debian suite."""
    for source in system_apt_sources() if sources is None else sources:
        if any(_DEBIAN_SUITE.match(s) for s in source.suites):
            return source.uri.rstrip("/")
    raise EnvironmentProblem(
        "no Debian archive found in the apt sources (looked for a 'deb' entry "
        "with a suite such as bookworm or trixie); kgen fetches "
        f"{PACKAGE} from that mirror's {SUITE} suite")


class PrivateApt:
    """apt-get / apt-cache with their own state, lists and archive cache."""

    def __init__(self, root: Path, mirror: str):
        self.root = root
        self.mirror = mirror

    def _options(self) -> list[str]:
        r = self.root
        return [
            "-o", f"Dir::Etc::SourceList={r / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={r / 'sources.list.d'}",
            "-o", "Dir::Etc::Preferences=/dev/null",
            "-o", f"Dir::Etc::PreferencesParts={r / 'preferences.d'}",
            "-o", f"Dir::State={r / 'state'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", f"Dir::Cache={r / 'cache'}",
            "-o", "Debug::NoLocking=1",
        ]

    def prepare(self) -> None:
        for sub in ("sources.list.d", "preferences.d", "state/lists/partial",
                    "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        signed = f"[signed-by={KEYRING}] " if KEYRING.is_file() else ""
        (self.root / "sources.list").write_text(
            f"deb {signed}{self.mirror} {SUITE} main\n")

    def run(self, *args: str, cwd: Path | None = None) -> str:
        cmd = [args[0], *self._options(), *args[1:]]
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        except FileNotFoundError:
            raise EnvironmentProblem(f"{args[0]} not found: kgen needs apt "
                                     "(a Debian system) to fetch the kernel") from None
        if proc.returncode:
            raise EnvironmentProblem(
                f"{' '.join(args)} failed:\n{(proc.stderr or proc.stdout).strip()}")
        return proc.stdout


def _unpack(deb: Path, dest: Path, log) -> Path:
    """Unpack the .deb's source tarball to dest/<tarball stem>, atomically."""
    work = dest / f".unpack-{deb.stem}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        tar_member = f"./usr/src/{PACKAGE}.tar.xz"
        log(f"unpacking {deb.name}")
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                                stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(work), tar_member],
                       stdin=fsys.stdout, check=True)
        if fsys.wait():
            raise EnvironmentProblem(f"dpkg-deb could not read {deb}")
        tarball = work / tar_member
        subprocess.run(["tar", "-xJf", str(tarball), "-C", str(work)], check=True)
        tarball.unlink()
        tree = work / PACKAGE
        if not (tree / "tools/testing/kunit/kunit.py").is_file():
            raise EnvironmentProblem(f"{deb.name} did not contain a kernel tree")
        final = dest / PACKAGE
        shutil.rmtree(final, ignore_errors=True)
        tree.rename(final)
        return final
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EnvironmentProblem(f"unpacking {deb} failed: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fetch_kernel_source(cache: Path, log=print) -> Path:
    """Return the unpacked tree, downloading and unpacking it if needed."""
    trees = cache / "sources"
    tree = trees / PACKAGE
    stamp = trees / f"{PACKAGE}.kgen-version"
    if stamp.is_file() and (tree / "tools/testing/kunit/kunit.py").is_file():
        return tree
    mirror = debian_mirror()
    apt = PrivateApt(cache / "apt", mirror)
    apt.prepare()
    log(f"fetching {PACKAGE} from {mirror} {SUITE}")
    apt.run("apt-get", "-q", "update")
    version = apt.run("apt-cache", "show", "--no-all-versions", PACKAGE)
    match = re.search(r"^Version: (\S+)", version, re.M)
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for old in debs.glob(f"{PACKAGE}_*.deb"):
        old.unlink()
    apt.run("apt-get", "-q", "download", PACKAGE, cwd=debs)
    deb = next(debs.glob(f"{PACKAGE}_*.deb"), None)
    if deb is None:
        raise EnvironmentProblem(f"apt-get download {PACKAGE} produced no .deb")
    tree = _unpack(deb, trees, log)
    stamp.write_text(f"{PACKAGE} {match.group(1) if match else '?'} from {mirror} {SUITE}\n")
    deb.unlink()
    return tree
