"""A throwaway copy of the user's kernel tree for applying a patch series.

kgen validate never touches the user's tree: it mirrors it (rsync) into
the cache, applies patches there, and builds from there through the usual
overlay.  The copy's path is stable, so its build dir stays warm across
validate runs.  rsync restores a patched file with its *old* mtime, older
than the object built from the patched text, so every file a previous
series touched is re-touched after the reset: make must rebuild it.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import EnvironmentProblem

_PATCHING = re.compile(r"^patching file '?([^'\n]+)'?$", re.M)


@dataclass
class Applied:
    ok: bool
    output: str


class WorkTree:
    def __init__(self, source: Path, root: Path):
        self.source = source.resolve()
        self.root = root
        self.path = root / "tree"
        self._touched_list = root / "touched-files.txt"

    def reset(self, git_base: str | None = None) -> None:
        """Make the copy equal to the source tree (or to git_base in it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        origin = self._export(git_base) if git_base else self.source
        proc = subprocess.run(["rsync", "-a", "--delete", "--exclude=/.git",
                               f"{origin}/", f"{self.path}/"],
                              capture_output=True, text=True)
        if proc.returncode:
            raise EnvironmentProblem(f"copying {origin} failed: {proc.stderr.strip()}")
        if self._touched_list.exists():
            now = time.time()
            for rel in self._touched_list.read_text().splitlines():
                target = self.path / rel
                if target.exists():
                    os.utime(target, (now, now))
            self._touched_list.unlink()

    def _export(self, base: str) -> Path:
        """BASE's tree, exported once per commit."""
        sha = subprocess.run(["git", "-C", str(self.source), "rev-parse", base],
                             capture_output=True, text=True, check=True).stdout.strip()
        export = self.root / f"export-{sha[:12]}"
        if not export.is_dir():
            export.mkdir(parents=True)
            archive = subprocess.Popen(["git", "-C", str(self.source), "archive", sha],
                                       stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", str(export)], stdin=archive.stdout, check=True)
            archive.wait()
        return export

    def apply(self, text: str, strip: int = 1) -> Applied:
        """patch -p<strip>, checked with --dry-run first so a failure changes nothing."""
        base = ["patch", f"-p{strip}", "--batch", "--forward", "-d", str(self.path)]
        dry = subprocess.run(base + ["--dry-run"], input=text, capture_output=True,
                             text=True)
        if dry.returncode:
            return Applied(False, (dry.stdout + dry.stderr).strip())
        real = subprocess.run(base, input=text, capture_output=True, text=True)
        touched = _PATCHING.findall(real.stdout)
        with open(self._touched_list, "a") as f:
            f.writelines(f"{rel}\n" for rel in touched)
        return Applied(real.returncode == 0, (real.stdout + real.stderr).strip())
