"""Who may open the home's files: its owner only. The home folder and the archive are 0700,
the databases and the archived files 0600 (docs/privacy.md, "The archive"). Each is made so
when the pipeline creates it, and a run puts right any that has since become looser."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> bool:
    """Create `path` (and its parents) if need be and make it 0700; whether it was looser."""
    path.mkdir(parents=True, exist_ok=True)
    return _tighten(path, PRIVATE_DIR)


def private_file(path: Path) -> bool:
    """Make an existing file 0600; whether it was looser (False for no file)."""
    return _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> bool:
    try:
        now = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if now & 0o077 == 0 and now & mode == mode:
        return False
    os.chmod(path, mode)
    return now & 0o077 != 0


def tighten(root: Path, private_dirs: list[Path], private_files: list[Path],
            transient: list[Path] = ()) -> list[Path]:
    """The home's folders 0700 and files 0600 (every file below each of `private_dirs`,
    `private_files` and `transient`); the paths that were open to others, which a run
    reports, but for the `transient` (a database's write-ahead log, which DuckDB makes
    afresh with the default mode: within the 0700 home, only its owner reaches it)."""
    for f in transient:
        private_file(f)
    loose = [root] if private_dir(root) else []
    for folder in private_dirs:
        if not folder.exists():
            continue
        loose += [folder] if private_dir(folder) else []
        for entry in folder.rglob("*"):
            if entry.is_dir():
                loose += [entry] if private_dir(entry) else []
            elif entry.is_file() and private_file(entry):
                loose.append(entry)
    loose += [f for f in private_files if private_file(f)]
    if loose:
        log.warning("%d file(s) or folder(s) in %s were open to other users; made private "
                    "(0700 folders, 0600 files): %s", len(loose), root,
                    ", ".join(str(p.relative_to(root)) if p != root else "the home folder"
                              for p in loose[:5]) + (" ..." if len(loose) > 5 else ""))
    return loose
