"""Read a patch series: an mbox (cover letter skipped) such as one
`git format-patch` file, a bare unified diff (`git diff`, `diff -u`), a
directory of .patch files, or a git range BASE..TIP in a git tree."""
from __future__ import annotations

import email
import email.policy
import mailbox
import re
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import UsageError
from kgen.git_tree import git as _git
from kgen.runner.harness.patches import FILE_HEADER

_SUBJECT_TAG = re.compile(r"^\s*(\[[^\]]*\]\s*)+")
_PATCH_NUMBER = re.compile(r"\[[^\]]*?(\d+)/(\d+)[^\]]*\]")
# A unified diff has at least one file header followed by a hunk.
_UNIFIED_DIFF = re.compile(r"^\+\+\+ .*\n@@ ", re.MULTILINE)


@dataclass(frozen=True)
class Patch:
    subject: str      # without the [PATCH n/m] tag
    text: str         # the diff (and commit message), as patch -p1 reads it
    source: str       # file or mbox message it came from
    commit: str = ""  # for BASE..TIP in a git tree: the commit it came from
    strip: int = 1    # patch -pN: 1 for a/ b/ prefixes, 0 for tree-relative paths


def _is_cover_letter(subject: str, body: str) -> bool:
    match = _PATCH_NUMBER.search(subject)
    if match and match.group(1).lstrip("0") == "":
        return True
    return "diff --git" not in body and "\n--- " not in body


def _message_text(msg: email.message.Message) -> str:
    if msg.is_multipart():
        parts = [p.get_payload(decode=True) or b"" for p in msg.walk()
                 if p.get_content_type() == "text/plain"]
        return b"\n".join(parts).decode(errors="replace")
    payload = msg.get_payload(decode=True)
    return payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)


def from_mbox(path: Path) -> list[Patch]:
    patches = []
    for index, msg in enumerate(mailbox.mbox(str(path), create=False)):
        subject = " ".join(str(msg.get("Subject", "")).split())
        body = _message_text(msg)
        if _is_cover_letter(subject, body):
            continue
        patches.append(Patch(_SUBJECT_TAG.sub("", subject) or f"message {index}",
                             body, f"{path}#{index}"))
    return patches


def _subject_of(text: str, fallback: str) -> str:
    match = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", text, re.MULTILINE)
    if not match:
        return fallback
    return _SUBJECT_TAG.sub("", " ".join(match.group(1).split())) or fallback


def from_directory(path: Path) -> list[Patch]:
    files = sorted(p for p in path.iterdir() if p.suffix in (".patch", ".diff"))
    patches = []
    for file in files:
        text = file.read_text(errors="replace")
        subject = _subject_of(text, file.stem)
        if re.search(r"^Subject:.*\b0+/\d+\]", text, re.MULTILINE) and "diff --git" not in text:
            continue   # a cover letter saved as 0000-cover-letter.patch
        patches.append(Patch(subject, text, str(file)))
    return patches


def _commit(tree: Path, rev: str, spec: str) -> str:
    proc = _git(tree, "rev-parse", "--verify", "--quiet", "--end-of-options",
                f"{rev}^{{commit}}")
    if proc.returncode or not proc.stdout.strip():
        raise UsageError(f"--series {spec}: {rev!r} is not a commit in {tree}")
    return proc.stdout.strip()


# format-patch as GNU patch -p1 reads it, whatever the user's git config
# says (diff.noprefix, format.suffix, format.coverLetter, format.useAutoBase,
# diff.external ...).  Renames become a delete and an add.  A binary change
# stays a git binary patch, which patch(1) refuses: the step fails to apply
# rather than silently dropping the change.
_FORMAT_PATCH = ["format-patch", "-q", "--no-base", "--no-cover-letter", "--no-renames",
                 "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/",
                 "--suffix=.patch"]


def from_file(path: Path, tree: Path) -> list[Patch]:
    """One file: an mbox (``git format-patch`` output, one patch or many)
    or a bare unified diff, which is one patch named after its file."""
    text = path.read_text(errors="replace")
    if text.startswith("From "):
        return from_mbox(path)
    if not _UNIFIED_DIFF.search(text):
        raise UsageError(f"--series {path}: neither an mbox (git format-patch output, "
                         "which starts with a 'From ' line) nor a unified diff "
                         "(no '+++ file' line followed by an '@@' hunk)")
    headers = re.split(r"^(?:diff |--- )", text, maxsplit=1, flags=re.MULTILINE)[0]
    return [Patch(_subject_of(headers, path.name), text, str(path),
                  strip=strip_level(text, tree))]


def strip_level(text: str, tree: Path) -> int:
    """How many leading path components patch(1) must strip from a diff.

    `git diff` and `diff -u a/ b/` name files a/mm/x.c, b/mm/x.c (-p1);
    `diff -u mm/x.c.orig mm/x.c` run at the top of the tree names them
    as they are (-p0).  The level at which every file header names a file
    of the tree (old or new side; a new file always fits) wins, -p1 first.
    When neither fits, -p1: patch then says which file it cannot find.
    """
    pairs = FILE_HEADER.findall(text)

    def fits(strip: int) -> bool:
        def exists(name: str) -> bool:
            parts = name.split("/")[strip:]
            return bool(parts) and (tree / "/".join(parts)).is_file()
        return all(old == "/dev/null" or exists(old) or exists(new) for old, new in pairs)

    return 1 if fits(1) or not fits(0) else 0


def from_git_range(tree: Path, spec: str, workdir: Path) -> tuple[str, list[Patch]]:
    """(base commit id, patches) for BASE..TIP, via git format-patch.

    Nothing in the tree is written: no checkout, no index refresh.  Each
    patch records the commit it came from.
    """
    if "..." in spec:
        raise UsageError(f"--series {spec}: use BASE..TIP (two dots): the patches "
                         "on TIP since BASE")
    base_rev, _, tip_rev = spec.partition("..")
    base = _commit(tree, base_rev or "HEAD", spec)
    tip = _commit(tree, tip_rev or "HEAD", spec)
    commits = _git(tree, "rev-list", "--reverse", "--no-merges", f"{base}..{tip}")
    merges = _git(tree, "rev-list", "--merges", f"{base}..{tip}")
    if merges.stdout.strip():
        raise UsageError(f"--series {spec}: the range holds merge commits "
                         f"({merges.stdout.split()[0][:12]} ...); kgen validate applies "
                         "a linear series")
    if not _git(tree, "merge-base", "--is-ancestor", base, tip).returncode == 0:
        raise UsageError(f"--series {spec}: {base_rev} is not an ancestor of "
                         f"{tip_rev or 'HEAD'}, so the range is not a series on top of it")
    out = workdir / "format-patch"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.patch"):
        old.unlink()
    proc = _git(tree, *_FORMAT_PATCH, "-o", str(out), f"{base}..{tip}")
    if proc.returncode:
        raise UsageError(f"git format-patch {spec} failed: {proc.stderr.strip()}")
    patches = from_directory(out)
    ids = commits.stdout.split()
    if len(ids) != len(patches):
        raise UsageError(f"--series {spec}: {len(ids)} commit(s) but git format-patch "
                         f"wrote {len(patches)} patch(es)")
    return base, [Patch(p.subject, p.text, f"{spec}: {sha[:12]}", sha)
                  for p, sha in zip(patches, ids)]


def load_series(series: str, tree: Path, workdir: Path) -> tuple[str | None, list[Patch]]:
    """(git base or None, patches) for whatever series names."""
    path = Path(series)
    if path.is_dir():
        patches = from_directory(path)
        base = None
    elif path.is_file():
        patches = from_file(path, tree)
        base = None
    elif ".." in series and (tree / ".git").exists():
        # A git range: (tree / ".git") is a directory, or a file in a
        # `git worktree add` checkout.
        base, patches = from_git_range(tree, series, workdir)
    else:
        raise UsageError(f"--series {series}: not an mbox file, a patch file, a "
                         "directory of .patch files, or a BASE..TIP range in a git tree")
    if not patches:
        raise UsageError(f"--series {series}: no patches found")
    return base, patches
