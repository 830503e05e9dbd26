"""Landed files kept by content: `archive/<source>/<sha256><suffix>.enc`, sealed with the
archive key (warehouse/sealed.py), written once, never changed. The name is the SHA-256 of
the file as it landed, so that the same bytes are archived once whatever they are called.

A backfill replays from here; the landing folder may be cleaned by its owners. Reading an
archived file means a plaintext copy in HOME/.replay (0600, in a 0700 folder), made when a
run needs it and removed when it has read it, at the end of the run at the latest, and at
the start of the next if a run was killed. A file archived before the archive was encrypted
(`<sha256><suffix>`, no `.enc`) is read as it is; `sendboard archive encrypt` seals it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.permissions import private_dir
from warehouse.sealed import SealError, seal_file, sealed_with, unseal_file

SEALED = ".enc"


class ArchiveError(RuntimeError):
    """An archived file that cannot be read (the wrong archive key, damaged bytes); the
    message names it and says what is wrong."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_sealed(path: Path) -> bool:
    return path.name.endswith(SEALED)


def plain_suffix(path: Path) -> str:
    """The suffix the file landed with (`.csv` of `<sha>.csv.enc`)."""
    return Path(path.name.removesuffix(SEALED)).suffix.lower()


def archived(root: Path) -> Iterator[Path]:
    """Every file in the archive (not the hidden ones a copy in progress writes)."""
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            yield from sorted(p for p in folder.iterdir()
                              if p.is_file() and not p.name.startswith("."))


@dataclass(frozen=True)
class Archive:
    """The archive under `root`, sealed with `key` (32 bytes, never shown: repr=False);
    plaintext copies for reading go in `replay`."""

    root: Path
    key: bytes = field(repr=False)
    replay: Path

    def keep(self, path: Path, sha256: str, source: str) -> Path:
        """Seal a landed file into the archive (atomically; a no-op when its bytes are
        there already, sealed or as a plain copy from before encryption)."""
        plain = self.root / source / f"{sha256}{path.suffix.lower()}"
        target = plain.with_name(plain.name + SEALED)
        if target.exists():
            return target
        if plain.exists():
            return plain
        private_dir(self.root)
        private_dir(target.parent)
        # Per process and thread: files prepare on parallel threads, and two may hold the
        # same bytes (two modules of an export written alike).
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            seal_file(path, tmp, self.key)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def readable(self, path: Path, name: str, source: str) -> Path:
        """An archived file as a path a reader can open: a sealed one decrypted to a private
        copy in `replay` (forget() removes it), a plain one as it is. Raises ArchiveError,
        naming the file, for the wrong key or damaged bytes."""
        if not is_sealed(path):
            return path
        private_dir(self.replay)
        fd, copy = tempfile.mkstemp(dir=self.replay, prefix=f"{path.name[:12]}.",
                                    suffix=plain_suffix(path))  # 0600
        os.close(fd)
        try:
            unseal_file(path, Path(copy), self.key)
        except SealError as e:
            raise ArchiveError(f"the archived file {source}/{name} ({path}) {e}") from None
        return Path(copy)

    def forget(self, path: Path) -> None:
        """Remove a copy readable() made (a plain archived file is left where it is)."""
        if path.parent == self.replay:
            path.unlink(missing_ok=True)

    @contextmanager
    def opened(self, path: Path, name: str, source: str) -> Iterator[Path]:
        """readable() for the block only."""
        copy = self.readable(path, name, source)
        try:
            yield copy
        finally:
            self.forget(copy)

    def clear(self) -> None:
        """Remove the plaintext copies and half-written archive files a run left (one
        killed part-way): called with the home's run lock held, so no run is using them."""
        shutil.rmtree(self.replay, ignore_errors=True)
        if self.root.is_dir():
            for folder in (p for p in self.root.iterdir() if p.is_dir()):
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)

    def survey(self) -> tuple[list[Path], list[Path]]:
        """The archived files not yet sealed (archived before encryption), and the sealed
        ones whose header says another key sealed them."""
        files = list(archived(self.root))
        return ([p for p in files if not is_sealed(p)],
                [p for p in files if is_sealed(p) and not sealed_with(p, self.key)])
