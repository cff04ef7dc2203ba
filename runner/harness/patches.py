"""Apply patches to copies of the files they touch, never to the tree.

`kgen run --patch FILE` and every patched step of `kgen validate` build
the user's tree *as if* the patches were applied: the overlay (overlay.py)
holds the patched files as real copies and everything else as symlinks
into the untouched tree, and the build shares the tree's warm build dir,
so only what the patches touch is rebuilt (session.py drops the objects
that depend on a file whose version changed).

The patches are applied to a scratch copy of just the files they touch
(``Scratch``), never to the overlay: a patch that does not apply leaves
the scratch copy, and so the overlay and the build dir, exactly as before.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import EnvironmentProblem, UsageError

# Tree-relative path -> its contents with the patches applied; None: the
# patches delete it (the overlay then hides the tree's file).
Patched = dict[str, bytes | None]

# A file header: "--- old" directly followed by "+++ new" (a timestamp may
# follow after a tab).  Pairs only, so a removed line "-- x" or an added
# line "++ y" inside a hunk is never taken for a header.
FILE_HEADER = re.compile(r"^--- ([^\t\n]+)[^\n]*\n\+\+\+ ([^\t\n]+)", re.MULTILINE)
# patch(1) skips these silently: the step would miss part of the change.
_BINARY = re.compile(r"^(GIT binary patch|Binary files .* differ)$", re.MULTILINE)


@dataclass(frozen=True)
class PatchText:
    """One patch to apply: a name for messages, the diff, patch -p level."""

    name: str
    text: str
    strip: int = 1


def _stripped(name: str, strip: int) -> str | None:
    if name == "/dev/null":
        return None
    parts = name.strip().split("/")[strip:]
    return "/".join(parts) if parts else None


def touched_files(text: str, strip: int = 1) -> list[str]:
    """Tree-relative paths a unified diff changes, adds or deletes (after -p<strip>)."""
    rels = set()
    for old, new in FILE_HEADER.findall(text):
        for name in (old, new):
            rel = _stripped(name, strip)
            if rel:
                rels.add(rel)
    return sorted(rels)


class Scratch:
    """Copies of the files a series touches, with the series applied so far.

    Lives in a temporary directory (use as a context manager).  Each
    ``apply`` works on a staging copy of the scratch files (a few files,
    not the tree) and only replaces the scratch files when patch(1)
    succeeded, so a failed patch changes nothing.
    """

    def __init__(self, tree: Path):
        self.tree = tree.resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="kgen-patch-")
        self.work = Path(self._tmp.name) / "files"
        self.work.mkdir()
        self.touched: set[str] = set()
        # Files that were in the scratch copy at some point: one a later
        # patch deletes must read as absent, not be left out.
        self._existed: set[str] = set()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc) -> None:
        self._tmp.cleanup()

    def apply(self, patch: PatchText) -> str | None:
        """Apply one patch; None when it applied, else why not (patch's output)."""
        if shutil.which("patch") is None:
            raise EnvironmentProblem("applying patches needs patch(1) (apt-get install patch)")
        rels = touched_files(patch.text, patch.strip)
        if not rels:
            return f"{patch.name}: no unified diff in it ('--- a/...' / '+++ b/...' lines)"
        if _BINARY.search(patch.text):
            return (f"{patch.name}: holds a binary change, which patch(1) cannot apply "
                    "(it would silently skip it)")
        staging = self.work.parent / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(self.work, staging, symlinks=True)
        for rel in rels:
            if rel not in self.touched and (self.tree / rel).is_file():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                # copy(): the mode too, so an executable script stays one.
                shutil.copy(self.tree / rel, staging / rel)
        # --fuzz=0: like `git am`, a hunk whose context does not match
        # exactly fails (a shifted hunk is fine); fuzz could land it in the
        # wrong place and validate a change nobody wrote.
        # --reject-file=-: no .rej file, whose name patch would print,
        # although the staging copy it would sit in is deleted.
        cmd = ["patch", f"-p{patch.strip}", "--batch", "--forward", "--fuzz=0",
               "--no-backup-if-mismatch", "--reject-file=-", "-d", str(staging)]
        done = subprocess.run(cmd, input=patch.text, capture_output=True, text=True,
                              check=False)
        if done.returncode:
            shutil.rmtree(staging, ignore_errors=True)
            return (done.stdout + done.stderr).replace(f"{staging}/", "").strip()
        shutil.rmtree(self.work)
        staging.rename(self.work)
        self.touched.update(rels)
        self._existed.update(rel for rel in rels if (self.work / rel).is_file())
        return None

    def files(self, rels: list[str] | None = None) -> Patched:
        """Every file touched so far (or just rels) -> its current contents
        (None: absent)."""
        out: Patched = {}
        for rel in sorted(self.touched if rels is None else rels):
            if (self.work / rel).is_file():
                out[rel] = (self.work / rel).read_bytes()
            elif (self.tree / rel).exists() or rel in self._existed:
                out[rel] = None
            # Else nothing to hide: e.g. the "--- mm/x.c.orig" side of a
            # `diff -u` that patch(1) never opened.
        return out


def expand_patch_paths(patch_paths: list[Path]) -> list[Path]:
    """The patch files the --patch arguments name, in order: a directory
    (a series such as series/revert-batched-free/7.3) stands for its
    *.patch and *.diff files in name order, as `kgen validate --series`
    reads one."""
    out: list[Path] = []
    for path in patch_paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".patch", ".diff"))
            if not files:
                raise UsageError(f"--patch {path}: a directory without .patch files")
            out += files
        else:
            out.append(path)
    return out


def patched_label(tree: Path, patch_paths: list[Path]) -> str:
    """How reports name a tree built with patches: "TREE + PATCH ..." as
    given on the command line (a directory stays one name); "" unpatched."""
    if not patch_paths:
        return ""
    return f"{tree} + " + " + ".join(str(p) for p in patch_paths)


def patched_files(tree: Path, patch_paths: list[Path]) -> Patched:
    """`kgen run --patch`, `kgen bench --patch`: the patched files after
    applying the patches in order."""
    if not patch_paths:
        return {}
    texts = []
    for path in expand_patch_paths(patch_paths):
        try:
            texts.append(PatchText(f"--patch {path}", path.read_text(errors="replace")))
        except OSError as err:
            raise UsageError(f"--patch {path}: {err.strerror}") from None
        if not touched_files(texts[-1].text):
            raise UsageError(f"--patch {path}: no unified diff in it ('+++ b/...' lines)")
    with Scratch(tree) as scratch:
        for patch in texts:
            failed = scratch.apply(patch)
            if failed:
                raise UsageError(f"{patch.name} does not apply to the tree:\n{failed}")
        return scratch.files()
