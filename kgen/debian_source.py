"""Fetch Debian's linux-source-X.Y packages into kgen's cache.

kgen never names a package host.  It reads the Debian archives the machine's
apt sources already use (the main mirror and the security archive) from the
apt configuration, then runs apt with a private state directory under the
kgen cache (its own sources.list, lists, package cache and archive dir), so
the system's apt sources and state are never changed.  The private
sources.list names more suites than the system uses (see ``MAIN_SUITES``);
apt-cache on that private state tells which suite carries which
linux-source-X.Y, at which version.

Cache layout (under the kgen cache):
  sources/linux-source-X.Y                the tree `kgen kernel fetch X.Y` gives
  sources/linux-source-X.Y.kgen-version   its stamp: "PKG VERSION from URI SUITE"
  sources/linux-source-X.Y_<version>      a tree asked for by full Debian version
                                          when it is not the X.Y tree's version
  apt/                                    the private apt state
  debs/                                   a .deb while it is being unpacked
"""
from __future__ import annotations

import fcntl
import functools
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import EnvironmentProblem, UsageError

DEFAULT_SERIES = "7.3"
# Where each series comes from when no suite is asked for, if that suite
# carries it: 7.3's stable backport, not experimental's release candidate.
PREFERRED_SUITE = {"7.3": "trixie-backports"}
# The main-archive suites kgen searches on every main Debian mirror the system
# uses (in addition to the suites the system lists for it): the current and
# previous stable release with their updates and backports, unstable and
# experimental.  Together they carry every linux-source kgen has been asked
# for (6.12 in bookworm-backports and trixie, 7.2 in sid and
# trixie-backports, 7.3 in trixie-backports and experimental).  A security
# archive is searched only in the suites the system lists for it
# (bookworm-security carries 6.12 security builds): it has no
# backports/sid/experimental.  Add a suite here when a new release appears.
MAIN_SUITES = ("bookworm", "bookworm-updates", "bookworm-backports",
               "trixie", "trixie-backports", "sid", "experimental")
EXPERIMENTAL = frozenset({"experimental", "rc-buggy"})
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
LISTS_MAX_AGE = 24 * 3600       # seconds before `kernel list` runs apt-get update
# Suites of the Debian archive proper (not security, not third parties).
_DEBIAN_SUITE = re.compile(
    r"^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|"
    r"oldstable|experimental|rc-buggy)"
    r"(-updates|-backports|-backports-sloppy|-proposed-updates)?$")
_SECURITY_SUITE = re.compile(
    r"^(buster|bullseye|bookworm|trixie|forky|duke|stable|testing|oldstable)-security$")
_SERIES = re.compile(r"^([1-9][0-9]*|0)\.(0|[1-9][0-9]*)$")
# A full Debian version of a linux package: upstream X.Y[.Z][~rcN], then a
# Debian revision (-1, -1~bpo13+1, -1~exp1, -1~deb12u1).  No epoch.
_FULL_VERSION = re.compile(
    r"^(?P<series>(?:[1-9][0-9]*|0)\.(?:0|[1-9][0-9]*))(?:[.~+][0-9A-Za-z.+~]*)?"
    r"-[0-9A-Za-z.+~]+$")
_STAMP = re.compile(r"^(?P<package>\S+) (?P<version>\S+) from (?P<uri>\S+) (?P<suite>\S+)\s*$")


# --- the system's apt sources ------------------------------------------------

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
    values = dict(re.findall(r"^(\w)='(.*)'$", out, re.MULTILINE))
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
        "with a suite such as bookworm or trixie); kgen fetches linux-source "
        "packages from that mirror")


def search_suites(sources: list[AptSource]) -> dict[str, list[str]]:
    """For each Debian archive URI the system uses, the suites kgen searches.

    A main mirror (one the system uses for a suite like bookworm) gets
    MAIN_SUITES plus any other main suites the system lists for it; a
    security archive gets the -security suites the system lists for it.
    Third-party sources are left out.  URIs keep the system's order.
    """
    found: dict[str, list[str]] = {}
    for source in sources:
        uri = source.uri.rstrip("/")
        main = [s for s in source.suites if _DEBIAN_SUITE.match(s)]
        security = [s for s in source.suites if _SECURITY_SUITE.match(s)]
        if not main and not security:
            continue
        suites = found.setdefault(uri, [])
        for suite in [*(MAIN_SUITES if main else ()), *main, *security]:
            if suite not in suites:
                suites.append(suite)
    if not found:
        raise EnvironmentProblem(
            "no Debian archive found in the apt sources (looked for a 'deb' entry "
            "with a suite such as bookworm, trixie or bookworm-security); kgen "
            "fetches linux-source packages from the Debian mirror apt uses")
    return found


def private_sources_list(sources: list[AptSource], keyring: Path | None = KEYRING) -> str:
    """The private apt's sources.list: one line per archive and suite.

    Only the Packages indices are fetched (no translations or contents).
    """
    options = ["target=Packages"]
    if keyring is not None and keyring.is_file():
        options.insert(0, f"signed-by={keyring}")
    opts = f"[{' '.join(options)}] "
    lines = ["# Written by kgen from the system's apt sources; kgen's private apt state."]
    for uri, suites in search_suites(sources).items():
        lines += [f"deb {opts}{uri} {suite} main" for suite in suites]
    return "\n".join(lines) + "\n"


# --- Debian versions ---------------------------------------------------------

def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's comparison of an upstream version or a revision."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        ni = i
        while ni < len(a) and a[ni].isdigit():
            ni += 1
        nj = j
        while nj < len(b) and b[nj].isdigit():
            nj += 1
        an, bn = int(a[i:ni] or 0), int(b[j:nj] or 0)
        if an != bn:
            return -1 if an < bn else 1
        i, j = ni, nj
    return 0


def compare_versions(a: str, b: str) -> int:
    """<0, 0, >0 as Debian version a sorts before, with, after b."""
    def split(v: str) -> tuple[int, str, str]:
        epoch, _, rest = v.partition(":") if ":" in v else ("0", "", v)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
        return int(epoch or 0), upstream, revision
    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


version_key = functools.cmp_to_key(compare_versions)


# --- what to fetch -----------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """What `kgen kernel fetch [VERSION]` asks for."""
    series: str                 # "7.3"
    version: str | None = None  # a full Debian version, or None for "the best one"

    @property
    def package(self) -> str:
        return f"linux-source-{self.series}"


def parse_request(arg: str | None) -> Request:
    """VERSION as given on the command line: X.Y or a full Debian version."""
    if arg is None:
        return Request(DEFAULT_SERIES)
    text = arg.strip()
    text = text.removeprefix("linux-source-")
    if _SERIES.match(text):
        return Request(text)
    match = _FULL_VERSION.match(text)
    if match:
        return Request(match.group("series"), text)
    raise UsageError(
        f"{arg!r} is not a kernel version: give X.Y (such as 6.12, 7.2 or 7.3) or "
        "a full Debian version of linux-source-X.Y (such as 7.3.4-1~bpo13+1 or "
        "7.3~rc7-1~exp1); `kgen kernel list` shows what can be fetched")


@dataclass(frozen=True)
class Candidate:
    """One version of a linux-source package in one suite of one archive."""
    package: str
    version: str
    suite: str
    uri: str

    @property
    def series(self) -> str:
        return self.package[len("linux-source-"):]


_MADISON = re.compile(
    r"^\s*(?P<package>\S+)\s*\|\s*(?P<version>\S+)\s*\|\s*(?P<uri>\S+)\s+"
    r"(?P<suite>[^/\s]+)(?:/\S+)?\s+\S+\s+Packages\s*$")


def parse_madison(text: str) -> list[Candidate]:
    """Rows of `apt-cache madison` for binary packages (Sources rows skipped)."""
    found = []
    seen = set()
    for line in text.splitlines():
        match = _MADISON.match(line)
        if not match:
            continue
        cand = Candidate(match["package"], match["version"], match["suite"],
                         match["uri"].rstrip("/"))
        key = (cand.package, cand.version, cand.suite)
        if key not in seen:         # the same suite on two mirrors
            seen.add(key)
            found.append(cand)
    return found


def linux_source_packages(pkgnames: str) -> list[str]:
    """linux-source-X.Y names from `apt-cache pkgnames linux-source-`, by X.Y."""
    names = {n.strip() for n in pkgnames.split()
             if re.fullmatch(r"linux-source-\d+\.\d+", n.strip())}
    return sorted(names, key=lambda n: tuple(int(x) for x in n[13:].split(".")))


def _rank(cand: Candidate) -> tuple:
    """Sort key, best last: non-experimental first, then preferred suite, then version."""
    return (cand.suite not in EXPERIMENTAL,
            PREFERRED_SUITE.get(cand.series) == cand.suite,
            version_key(cand.version))


def choose(candidates: list[Candidate], request: Request) -> Candidate:
    """The candidate `kgen kernel fetch` takes for the request.

    X.Y: the newest version in the series' preferred suite if that suite has
    it, else the newest version outside experimental, experimental only when
    nothing else carries the series.  A full version: exactly that version
    (from a non-experimental suite if several carry it).
    """
    mine = [c for c in candidates if c.package == request.package]
    if not mine:
        series = sorted({c.series for c in candidates},
                        key=lambda s: tuple(int(x) for x in s.split(".")))
        have = ", ".join(series) if series else "none"
        raise UsageError(
            f"{request.package} is in none of the suites kgen searches "
            f"(fetchable series: {have}); see `kgen kernel list`")
    if request.version is not None:
        exact = [c for c in mine if c.version == request.version]
        if not exact:
            have = ", ".join(f"{c.version} ({c.suite})"
                             for c in sorted(mine, key=lambda c: version_key(c.version)))
            raise UsageError(f"{request.package} {request.version} is not in the "
                             f"suites kgen searches; they carry {have}")
        mine = exact
    return max(mine, key=_rank)


def best_per_series(candidates: list[Candidate]) -> dict[str, Candidate]:
    """For `kernel list`: what `kgen kernel fetch X.Y` would take, per X.Y."""
    return {s: choose(candidates, Request(s))
            for s in {c.series for c in candidates}}


# --- the cache ---------------------------------------------------------------

@dataclass(frozen=True)
class CachedTree:
    path: Path
    package: str
    version: str
    suite: str
    uri: str


def _tree_name(request: Request, version: str | None = None) -> str:
    """linux-source-X.Y, or linux-source-X.Y_<version> for a pinned version
    (~ becomes _, which no Debian version contains)."""
    if version is None:
        return request.package
    return f"{request.package}_{version.replace('~', '_').replace(':', '_')}"


def _is_tree(path: Path) -> bool:
    return (path / "tools/testing/kunit/kunit.py").is_file()


def read_stamp(stamp: Path) -> CachedTree | None:
    try:
        match = _STAMP.match(stamp.read_text().strip())
    except OSError:
        return None
    tree = stamp.with_name(stamp.name[:-len(".kgen-version")])
    if not match or not _is_tree(tree):
        return None
    return CachedTree(tree, match["package"], match["version"], match["suite"], match["uri"])


def cached_trees(cache: Path) -> list[CachedTree]:
    trees = [read_stamp(p) for p in (cache / "sources").glob("linux-source-*.kgen-version")]
    return sorted((t for t in trees if t),
                  key=lambda t: (tuple(int(x) for x in t.package[13:].split(".")
                                       if x.isdigit()), version_key(t.version)))


def cached_tree(cache: Path, request: Request) -> CachedTree | None:
    """The cached tree that satisfies the request, without any network."""
    sources = cache / "sources"
    main = read_stamp(sources / f"{request.package}.kgen-version")
    if request.version is None or (main and main.version == request.version):
        return main
    return read_stamp(sources / f"{_tree_name(request, request.version)}.kgen-version")


# --- the private apt ---------------------------------------------------------

class PrivateApt:
    """apt-get / apt-cache with their own state, lists and archive cache."""

    def __init__(self, root: Path, sources: list[AptSource] | None = None):
        self.root = root
        self.update_problem: str | None = None
        self.sources = system_apt_sources() if sources is None else sources

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
            # Keep the binary package cache between calls (some systems turn
            # it off): apt-cache then answers in 0.1 s instead of seconds.
            "-o", "Dir::Cache::pkgcache=pkgcache.bin",
            "-o", "Acquire::Languages=none",
            "-o", "Debug::NoLocking=1",
        ]

    @property
    def _updated(self) -> Path:
        return self.root / "state" / "kgen-updated"

    def prepare(self) -> None:
        for sub in ("sources.list.d", "preferences.d", "state/lists/partial",
                    "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        text = private_sources_list(self.sources)
        listfile = self.root / "sources.list"
        if not listfile.is_file() or listfile.read_text() != text:
            listfile.write_text(text)

    def lists_age(self) -> float | None:
        """Seconds since the last update of the current sources.list, or None."""
        try:
            if self._updated.read_text() != (self.root / "sources.list").read_text():
                return None
            return max(0.0, time.time() - self._updated.stat().st_mtime)
        except OSError:
            return None

    def update(self, log, force: bool = False) -> None:
        """apt-get update, unless the lists are fresh (< LISTS_MAX_AGE)."""
        age = self.lists_age()
        if not force and age is not None and age < LISTS_MAX_AGE:
            return
        suites = search_suites(self.sources)
        log(f"kgen: updating package lists ({sum(map(len, suites.values()))} suite(s) "
            f"of {', '.join(suites)}) in {self.root}")
        try:
            self.run("apt-get", "-q", "update")
        except EnvironmentProblem as exc:
            # One suite the mirror lacks (a partial mirror without
            # experimental, say) fails the whole update, yet apt has fetched
            # the other suites' lists: go on with them, and say so.  The
            # lists are not marked fresh, so the next call tries again.
            self.update_problem = str(exc)
            log(f"kgen: warning: {exc}\nkgen: going on with the lists apt has")
            return
        self.update_problem = None
        self._updated.write_text((self.root / "sources.list").read_text())

    def checked_candidates(self) -> list[Candidate]:
        """candidates(), but none at all after a failed update is an error."""
        found = self.candidates()
        if not found and self.update_problem:
            raise EnvironmentProblem(self.update_problem)
        return found

    def candidates(self, packages: list[str] | None = None) -> list[Candidate]:
        """Every version of the packages (default: every linux-source-X.Y)."""
        if packages is None:
            packages = linux_source_packages(self.run("apt-cache", "pkgnames", "linux-source-"))
        if not packages:
            return []
        return parse_madison(self.run("apt-cache", "madison", *packages))

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


@contextmanager
def _fetch_lock(cache: Path, log):
    """One fetch at a time per cache (two would share the private apt state)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".kgen-fetch.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"kgen: waiting for another kgen fetching into {cache}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack(deb: Path, package: str, final: Path, log) -> Path:
    """Unpack the .deb's source tarball to final, atomically."""
    dest = final.parent
    work = dest / f".unpack-{deb.stem}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        tar_member = f"./usr/src/{package}.tar.xz"
        log(f"kgen: unpacking {deb.name}")
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                                stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(work), tar_member],
                       stdin=fsys.stdout, check=True)
        if fsys.wait():
            raise EnvironmentProblem(f"dpkg-deb could not read {deb}")
        tarball = work / tar_member
        subprocess.run(["tar", "-xJf", str(tarball), "-C", str(work)], check=True)
        tarball.unlink()
        tree = work / package
        if not _is_tree(tree):
            raise EnvironmentProblem(f"{deb.name} did not contain a kernel tree")
        shutil.rmtree(final, ignore_errors=True)
        tree.rename(final)
        return final
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EnvironmentProblem(f"unpacking {deb} failed: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _download(apt: PrivateApt, cand: Candidate, debs: Path) -> Path:
    debs.mkdir(parents=True, exist_ok=True)
    for old in debs.glob(f"{cand.package}_*.deb"):
        old.unlink()
    apt.run("apt-get", "-q", "download", f"{cand.package}={cand.version}", cwd=debs)
    deb = next(debs.glob(f"{cand.package}_*.deb"), None)
    if deb is None:
        raise EnvironmentProblem(f"apt-get download {cand.package} produced no .deb")
    return deb


def fetch_kernel_source(cache: Path, log=print, request: Request | None = None) -> Path:
    """Return the unpacked tree, downloading and unpacking it if needed.

    A cached tree is returned at once, without apt or network.
    """
    request = request or Request(DEFAULT_SERIES)
    hit = cached_tree(cache, request)
    if hit:
        return hit.path
    with _fetch_lock(cache, log):
        hit = cached_tree(cache, request)      # another kgen may have just fetched it
        if hit:
            return hit.path
        apt = PrivateApt(cache / "apt")
        apt.prepare()
        apt.update(log)
        cand = choose(apt.checked_candidates(), request)
        # A version asked for by name never replaces the X.Y tree (build dirs
        # and other users rely on it): it gets a directory of its own.
        trees = cache / "sources"
        final = trees / _tree_name(request, request.version)
        stamp = trees / f"{final.name}.kgen-version"
        log(f"kgen: fetching {cand.package} {cand.version} from {cand.uri} {cand.suite}")
        try:
            deb = _download(apt, cand, cache / "debs")
        except EnvironmentProblem:
            # The lists may be up to a day old and the mirror may have moved on.
            apt.update(log, force=True)
            cand = choose(apt.checked_candidates(), request)
            log(f"kgen: retrying with {cand.package} {cand.version} from {cand.suite}")
            deb = _download(apt, cand, cache / "debs")
        stamp.unlink(missing_ok=True)
        tree = _unpack(deb, cand.package, final, log)
        stamp.write_text(f"{cand.package} {cand.version} from {cand.uri} {cand.suite}\n")
        deb.unlink()
        return tree


def fetchable(cache: Path, log=print, refresh: bool = False) -> tuple[list[Candidate], float]:
    """Every linux-source-X.Y version the searched suites carry, and the
    lists' age in seconds (apt-get update first if they are stale)."""
    with _fetch_lock(cache, log):
        apt = PrivateApt(cache / "apt")
        apt.prepare()
        apt.update(log, force=refresh)
        return apt.checked_candidates(), apt.lists_age() or 0.0
