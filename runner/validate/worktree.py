"""A throwaway copy of the user's kernel tree for applying a patch series.

kgen validate never touches the user's tree: it mirrors it (rsync) into
the cache, applies patches there, and builds from there through the usual
overlay.  The copy's path is stable, so its build dir stays warm across
validate runs.  rsync restores a patched file with its *old* mtime, older
than the object built from the patched text, so every file a previous
series touched is re-touched after the reset: make must rebuild it.

For BASE..TIP in a git tree the copy is BASE's tree, exported with
`git archive` (read-only for the user's repository).  Exported files carry
the commit's date as their mtime, which says nothing about when their
content last changed, so that copy is compared by content and only files
whose content differs are rewritten, with a fresh mtime.  So is the first
copy from a plain tree after a git export (or after another tree): its
mtimes say nothing about what the copy last held.  Reading both trees
costs 10-35 s for a kernel tree on 2 cores; a plain tree copied again
after itself takes the quick size-and-mtime check (about 3 s).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import EnvironmentProblem
from kgen.git_tree import git

_PATCHING = re.compile(r"^patching file '?([^'\n]+)'?$", re.MULTILINE)


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
        """Make the copy equal to the source tree (or to commit git_base in it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        origin = self._export(git_base) if git_base else self.source
        record = self.root / "origin.txt"
        label = f"git {origin.name}" if git_base else f"tree {self.source}"
        if not git_base and record.is_file() and record.read_text() == label:
            # The same tree as last time: size and mtime say what changed.
            how = ["-a"]
        else:
            # A git export (commit-date mtimes), or a different origin than
            # last time: by content.  What differs is rewritten with a fresh
            # mtime, so make rebuilds it; what does not keeps its own.
            how = ["-rlpD", "--checksum"]
        record.unlink(missing_ok=True)
        proc = subprocess.run(["rsync", *how, "--delete", "--exclude=/.git",
                               f"{origin}/", f"{self.path}/"],
                              check=False, capture_output=True, text=True)
        if proc.returncode:
            raise EnvironmentProblem(f"copying {origin} failed: {proc.stderr.strip()}")
        record.write_text(label)
        if self._touched_list.exists():
            now = time.time()
            for rel in self._touched_list.read_text().splitlines():
                target = self.path / rel
                if target.exists():
                    os.utime(target, (now, now))
            self._touched_list.unlink()

    def _export(self, base: str) -> Path:
        """BASE's tree, exported once per commit; only the newest export is
        kept (each is a whole kernel tree)."""
        sha = git(self.source, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
        if sha.returncode:
            raise EnvironmentProblem(f"{base}: not a commit in {self.source}")
        sha_id = sha.stdout.strip()
        export = self.root / f"export-{sha_id[:12]}"
        for old in self.root.glob("export-*"):
            if old != export:
                shutil.rmtree(old)
        if export.is_dir():
            return export
        partial = self.root / f".partial-export-{sha_id[:12]}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        archive = subprocess.Popen(["git", "-C", str(self.source), "archive", sha_id],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        tar = subprocess.run(["tar", "-x", "-C", str(partial)], stdin=archive.stdout,
                             check=False, capture_output=True, text=True)
        archive.stdout.close()
        err = archive.stderr.read().decode(errors="replace")
        if archive.wait() or tar.returncode:
            shutil.rmtree(partial, ignore_errors=True)
            raise EnvironmentProblem(f"exporting {base} from {self.source} failed: "
                                     f"{(err + tar.stderr).strip()}")
        partial.rename(export)
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
