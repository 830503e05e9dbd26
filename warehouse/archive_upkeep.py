"""The archive's two jobs besides keeping files: sealing the files archived before sendboard
encrypted its archive (`sendboard archive encrypt`, once), and removing the files older than
the retention (`sendboard archive purge`). Both run with the home's run lock held, so that
no run reads the archive meanwhile. Neither touches a landing file, a derived table or an
audit row: a purge adds its own (audit.archive_purges)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse import store
from warehouse.archive import SEALED, Archive, archived, is_sealed, sha256_of
from warehouse.sealed import seal_file, unseal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sealed:
    plain: Path
    sealed: Path | None  # None: left as it was, `problem` says why
    problem: str | None = None


def seal_plain_files(con: duckdb.DuckDBPyConnection, archive: Archive) -> list[Sealed]:
    """Each plain archived file sealed beside itself, the sealed copy checked (decrypted,
    its SHA-256 the one its name gives), audit.files pointed at it, then the plain file
    removed. A file whose bytes are not those its name says is left as it is, reported."""
    done = []
    for plain in [p for p in archived(archive.root) if not is_sealed(p)]:
        sha = plain.name.split(".")[0]
        if sha256_of(plain) != sha:
            done.append(Sealed(plain, None, "its bytes do not have the SHA-256 its name "
                                            "gives: left as it is, for a person to look at"))
            continue
        target = plain.with_name(plain.name + SEALED)
        tmp = plain.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            seal_file(plain, tmp, archive.key, durable=True)
            if _sealed_sha256(tmp, archive.key) != sha:  # (never expected: a disk fault)
                done.append(Sealed(plain, None, "its sealed copy did not read back the same: "
                                                "left as it is"))
                continue
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        with store.transaction(con):
            con.execute("UPDATE audit.files SET archived_as = ? WHERE sha256 = ? AND source = ?",
                        [str(target), sha, plain.parent.name])
        plain.unlink()
        done.append(Sealed(plain, target))
    return done


def _sealed_sha256(path: Path, key: bytes) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in unseal(f, key):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Due:
    """An archived file past the retention: its names as loaded (none for a file archived
    but never recorded, an export that waited for a part that never came) and when it was
    first loaded (the latest of its names' first loads: it arrived again then)."""

    path: Path
    source: str
    sha256: str
    names: list[str]
    first_loaded: dt.datetime

    @property
    def label(self) -> str:
        names = ", ".join(self.names) or "(never loaded)"
        return f"{self.source}/{names} ({self.sha256[:12]}, first loaded " \
               f"{self.first_loaded:%Y-%m-%d})"


def due(con: duckdb.DuckDBPyConnection, root: Path, older_than_days: int,
        now: dt.datetime) -> list[Due]:
    """The archived files first loaded more than `older_than_days` before `now`."""
    cutoff = now - dt.timedelta(days=older_than_days)
    loads: dict[tuple[str, str], list[tuple[str, dt.datetime]]] = {}
    for source, sha, name, first in con.execute(
            "SELECT f.source, f.sha256, f.original_name, coalesce(r.started_at, f.loaded_at) "
            "FROM audit.files f LEFT JOIN audit.runs r ON r.run_id = f.first_run_id "
            "ORDER BY f.original_name").fetchall():
        loads.setdefault((source, sha), []).append((name, first))
    out = []
    for path in archived(root):
        key = (path.parent.name, path.name.split(".")[0])
        names = loads.get(key, [])
        when = max(first for _, first in names) if names else dt.datetime.fromtimestamp(
            path.stat().st_mtime, dt.UTC)
        if when < cutoff:
            out.append(Due(path, key[0], key[1], [n for n, _ in names], when))
    return out


def purge(con: duckdb.DuckDBPyConnection, files: list[Due], reason: str,
          now: dt.datetime) -> None:
    """Record each file's removal (a row a name), then remove it: a purge killed part-way
    leaves files recorded and still there, which the next purge removes, never a file gone
    unrecorded."""
    recorded = {(a, n) for a, n in con.execute(
        "SELECT archived_as, original_name FROM audit.archive_purges").fetchall()}
    rows = [[f.sha256, f.source, name, str(f.path), f.first_loaded, now, reason]
            for f in files for name in (f.names or [None])
            if (str(f.path), name) not in recorded]
    with store.transaction(con):
        if rows:
            con.executemany("INSERT INTO audit.archive_purges VALUES (?, ?, ?, ?, ?, ?, ?)",
                            rows)
    for f in files:
        f.path.unlink(missing_ok=True)
        log.info("purged %s", f.label)


def retention_notes(con: duckdb.DuckDBPyConnection, root: Path, retention_days: int,
                    now: dt.datetime) -> list[str]:
    """A run's note of the archived files past the retention (a run never deletes them:
    `sendboard archive purge` does, when the LA schedules it)."""
    if retention_days == 0:
        return []
    files = due(con, root, retention_days, now)
    if not files:
        return []
    return [f"{len(files)} archived file(s) are older than the retention of {retention_days} "
            "days (SENDBOARD_ARCHIVE_RETENTION_DAYS): `sendboard archive purge` removes them"]
