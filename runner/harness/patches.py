"""Apply patches to copies of the files they touch, never to the tree.

`kgen run --patch FILE` builds the user's tree *as if* the patch were
applied: the overlay (overlay.py) holds the patched files as real copies
and everything else as symlinks into the untouched tree, and the run
shares the tree's warm build dir, so only what the patch touches is
rebuilt.  The patch is checked with ``patch --dry-run`` first: a patch that
does not apply changes nothing.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from kgen.errors import EnvironmentProblem, UsageError

# "+++ b/mm/page_alloc.c" (git, diff -u with a/ b/ prefixes; -p1 strips one).
_TARGET = re.compile(r"^\+\+\+ (?:[^/\s]+/)(\S+)", re.MULTILINE)


def touched_files(text: str) -> list[str]:
    """Tree-relative paths a unified diff changes (after -p1)."""
    return sorted({m.group(1) for m in _TARGET.finditer(text) if m.group(1) != "/dev/null"})


def patched_files(tree: Path, patch_paths: list[Path]) -> dict[str, bytes]:
    """Tree-relative path -> contents after applying the patches in order."""
    if not patch_paths:
        return {}
    if shutil.which("patch") is None:
        raise EnvironmentProblem("--patch needs patch(1) (apt-get install patch)")
    texts = []
    for path in patch_paths:
        try:
            texts.append(path.read_text(errors="replace"))
        except OSError as err:
            raise UsageError(f"--patch {path}: {err.strerror}") from None
        if not touched_files(texts[-1]):
            raise UsageError(f"--patch {path}: no unified diff in it ('+++ b/...' lines)")
    rels = sorted({rel for text in texts for rel in touched_files(text)})
    with tempfile.TemporaryDirectory(prefix="kgen-patch-") as tmp:
        work = Path(tmp)
        for rel in rels:
            if (tree / rel).is_file():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(tree / rel, work / rel)
        for path, text in zip(patch_paths, texts):
            _apply(work, path, text)
        return {rel: (work / rel).read_bytes() for rel in rels if (work / rel).is_file()}


def _apply(work: Path, path: Path, text: str) -> None:
    for dry in (True, False):
        done = subprocess.run(["patch", "-p1", "--batch", "--forward", "--fuzz=0",
                               "--no-backup-if-mismatch", "-d", str(work),
                               *(["--dry-run"] if dry else [])],
                              input=text, capture_output=True, text=True)
        if done.returncode:
            output = (done.stdout + done.stderr).strip()
            raise UsageError(f"--patch {path} does not apply to the tree:\n{output}")
