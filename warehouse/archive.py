"""Landed files kept by content: `archive/<source>/<sha256><suffix>`, written once, never
changed. A backfill replays from here; the landing folder may be cleaned by its owners."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def archive(path: Path, sha256: str, source: str, archive_root: Path) -> Path:
    """Copy a landed file into the archive (atomically; a no-op when it is there already)."""
    target = archive_root / source / f"{sha256}{path.suffix.lower()}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Per process and thread: files prepare on parallel threads, and two may hold the same
    # bytes (two modules of an export written alike).
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, target)
    return target
