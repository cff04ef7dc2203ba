"""Read a patch series: an mbox (cover letter skipped) such as one
`git format-patch` file, a bare unified diff (`git diff`, `diff -u`), a
directory of .patch files, or a git range BASE..TIP in a git tree."""
from __future__ import annotations

import email
import email.policy
import mailbox
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import UsageError

_SUBJECT_TAG = re.compile(r"^\s*(\[[^\]]*\]\s*)+")
_PATCH_NUMBER = re.compile(r"\[[^\]]*?(\d+)/(\d+)[^\]]*\]")
# A unified diff has at least one file header followed by a hunk.
_UNIFIED_DIFF = re.compile(r"^\+\+\+ .*\n@@ ", re.M)
# "--- old" / "+++ new" file headers; a timestamp may follow after a tab.
_FILE_HEADER = re.compile(r"^--- ([^\t\n]+)[^\n]*\n\+\+\+ ([^\t\n]+)", re.M)


@dataclass(frozen=True)
class Patch:
    subject: str      # without the [PATCH n/m] tag
    text: str         # the diff (and commit message), as patch -p1 reads it
    source: str       # file or mbox message it came from
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
    match = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", text, re.M)
    if not match:
        return fallback
    return _SUBJECT_TAG.sub("", " ".join(match.group(1).split())) or fallback


def from_directory(path: Path) -> list[Patch]:
    files = sorted(p for p in path.iterdir() if p.suffix in (".patch", ".diff"))
    patches = []
    for file in files:
        text = file.read_text(errors="replace")
        subject = _subject_of(text, file.stem)
        if re.search(r"^Subject:.*\b0+/\d+\]", text, re.M) and "diff --git" not in text:
            continue   # a cover letter saved as 0000-cover-letter.patch
        patches.append(Patch(subject, text, str(file)))
    return patches


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
    headers = re.split(r"^(?:diff |--- )", text, maxsplit=1, flags=re.M)[0]
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
    pairs = _FILE_HEADER.findall(text)

    def fits(strip: int) -> bool:
        def exists(name: str) -> bool:
            parts = name.split("/")[strip:]
            return bool(parts) and (tree / "/".join(parts)).is_file()
        return all(old == "/dev/null" or exists(old) or exists(new) for old, new in pairs)

    return 1 if fits(1) or not fits(0) else 0


def from_git_range(tree: Path, spec: str, workdir: Path) -> tuple[str, list[Patch]]:
    """(base commit, patches) for BASE..TIP, via git format-patch."""
    base, _, _tip = spec.partition("..")
    out = workdir / "format-patch"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.patch"):
        old.unlink()
    proc = subprocess.run(["git", "-C", str(tree), "format-patch", "-q", "-o", str(out),
                           spec], capture_output=True, text=True)
    if proc.returncode:
        raise UsageError(f"git format-patch {spec} failed: {proc.stderr.strip()}")
    return base, from_directory(out)


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
        base, patches = from_git_range(tree, series, workdir)
    else:
        raise UsageError(f"--series {series}: not an mbox file, a patch file, a "
                         "directory of .patch files, or a BASE..TIP range in a git tree")
    if not patches:
        raise UsageError(f"--series {series}: no patches found")
    return base, patches
