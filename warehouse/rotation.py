"""`sendboard rotate-key`: the warehouse re-pseudonymised under a new key, from the archive.

Pseudonyms cannot be translated from one key to another (that would need the raw
identifiers), so every loaded archived file is replayed with the new key, as
`sendboard backfill --all` replays them (the same loads, in first-load order), into a new
warehouse built beside the old one, `.warehouse.duckdb.<run id>.tmp`. The audit history
(runs, files, quarantine, quality checks, earlier keys) is copied into it first; it is
rebuilt, passes the quality gate and records the rotation, then a rename puts it in the old
one's place. Until that rename the old warehouse is exactly as it was, whatever fails (the
half-built one is removed then, or by the next run if the process was killed). Then it is
published: a publish that fails after the rename is redone by the next run
(store.unpublished_work), as after any run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse import leftovers, pseudonym_key, sen2_readiness, store
from warehouse.backfill import archived_files, replay_batches
from warehouse.files import FileOutcome, LandedFile
from warehouse.pseudonym_key import SHOWN, KeyMismatch, fingerprint
from warehouse.publish import fsync
from warehouse.run import Steps, load_batches, run_lock
from warehouse.settings import ConfigError, Home, Settings

log = logging.getLogger(__name__)

FLOW_NAME = "sendboard-rotate-key"


class RotationFailed(RuntimeError):
    """The new warehouse could not be built as the old one was: the old one stays."""


@dataclass
class Rotation:
    run_id: str
    old_fingerprint: str
    new_fingerprint: str
    files: list[FileOutcome] = field(default_factory=list)
    as_of: dt.date | None = None
    seconds: float = 0.0

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)


def rotate(settings: Settings, old_key: bytes, new_key: bytes, run_id: str, steps: Steps,
           logger: logging.Logger | logging.LoggerAdapter = log) -> Rotation:
    """Re-pseudonymise the warehouse of `settings.home` from `old_key` (which must be the
    key it was built with) to `new_key`, swap it in and publish it (see the module's
    note). Raises ConfigError (KeyMismatch for a wrong current key) before any work,
    RotationFailed or the failing step's error with the old warehouse unchanged."""
    h = settings.home
    started = time.perf_counter()
    done = Rotation(run_id, fingerprint(old_key), fingerprint(new_key))
    if done.old_fingerprint == done.new_fingerprint:
        raise ConfigError("SENDBOARD_NEW_PSEUDONYM_KEY is the key already in use: nothing "
                          "to rotate")
    if not h.warehouse.exists():
        raise ConfigError(f"there is no warehouse in {h.root} to rotate the key of")
    with run_lock(h):
        leftovers.remove(h, logger)
        files = _files_to_replay(h, done.old_fingerprint, logger)
        tmp = leftovers.temporary(h.warehouse, run_id)
        logger.info("rotate-key: replaying %d archived file(s) with the new key (fingerprint "
                    "%s) into a new warehouse beside the old one", len(files),
                    done.new_fingerprint[:SHOWN])
        try:
            _build(tmp, h.warehouse, settings, files, new_key, done, steps, logger)
            _swap(tmp, h.warehouse)
        finally:
            settings.archive.clear()  # the plaintext copies the replay decrypted
            for path in (tmp, tmp.with_name(tmp.name + ".wal")):
                path.unlink(missing_ok=True)
        logger.info("rotate-key: the re-pseudonymised warehouse is in place: %s", h.warehouse)
        con = store.connect(h.warehouse)
        try:
            steps.publish(con, h.published, run_id)
        finally:
            con.close()
        steps.pack(settings)
    done.seconds = time.perf_counter() - started
    return done


def _files_to_replay(h: Home, old: str, logger: logging.Logger | logging.LoggerAdapter
                     ) -> list[LandedFile]:
    """Every loaded archived file, once the current key is proved to be the warehouse's."""
    wal = h.warehouse.with_name(h.warehouse.name + ".wal")
    if wal.exists():
        # Committed work of a run killed before its checkpoint: written into the file now,
        # so that no log of the old warehouse is left beside the one that replaces it.
        duckdb.connect(str(h.warehouse)).close()
    con = duckdb.connect(str(h.warehouse), read_only=True)
    try:
        have = (pseudonym_key.recorded(con)
                if store.table_exists(con, "audit.key_fingerprint") else None)
        if have is not None and have != old:
            raise KeyMismatch(
                f"SENDBOARD_PSEUDONYM_KEY is not the key this warehouse was built with (its "
                f"fingerprint is {old[:SHOWN]}, the warehouse's {have[:SHOWN]}): rotate-key "
                "needs the current key there and the new one in SENDBOARD_NEW_PSEUDONYM_KEY; "
                "nothing was changed")
        if have is None:
            logger.warning("rotate-key: this warehouse has no record of its key (built before "
                           "sendboard kept one): SENDBOARD_PSEUDONYM_KEY is taken as its key "
                           "(the replay needs no old key, only the archive)")
        files = archived_files(con, None, None, None)
        unreplayed = _staged_files(con) - {f.sha256 for f in files}
    finally:
        con.close()
    if unreplayed:
        # Replaying the rest would drop their rows from the rotated warehouse.
        raise RotationFailed(
            f"{len(unreplayed)} file(s) whose rows are in the warehouse are not in the archive "
            f"to replay (e.g. {sorted(unreplayed)[0][:12]}): their rows cannot be "
            "pseudonymised again, so the key cannot be rotated; nothing was changed")
    if not files:
        raise ConfigError(f"the warehouse in {h.root} holds no loaded file: nothing to rotate")
    return files


def _staged_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The files (by SHA-256) that rows of the staging tables came from."""
    tables = [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'stage' "
        "AND column_name = 'sha256'").fetchall()]
    return {sha for t in tables for (sha,) in con.execute(
        f'SELECT DISTINCT sha256 FROM stage."{t}"').fetchall()}


def _build(tmp: Path, old: Path, settings: Settings, files: list[LandedFile], new_key: bytes,
           done: Rotation, steps: Steps, logger: logging.Logger | logging.LoggerAdapter
           ) -> None:
    """The new warehouse at `tmp`: history, replay, rebuild, gate, the rotation's records."""
    for path in (tmp, tmp.with_name(tmp.name + ".wal")):
        path.unlink(missing_ok=True)
    con = store.connect(tmp)
    try:
        _copy_history(con, old)
        store.start_run(con, done.run_id, FLOW_NAME)
        done.files = load_batches(con, replay_batches(files, settings.archive), new_key,
                                  done.run_id, settings.archive, steps, logger)
        failed = [f for f in done.files if f.status != "loaded"]
        if failed:
            raise RotationFailed(
                f"{len(failed)} archived file(s) did not load again as they had: " + "; ".join(
                    f"{f.source}/{f.name}: {f.status} {f.message or ''}".strip()
                    for f in failed[:5]) + "; the warehouse and its key are unchanged")
        _quarantine_runs_back(con)
        result = steps.build(con, settings, None)
        done.as_of = result.as_of
        # The readiness issues name children by pseudonym: checked again under the new key.
        for export in sen2_readiness.checked_exports(con):
            sen2_readiness.check_export(con, done.run_id, export)
        steps.check(con, settings, done.run_id)
        with store.transaction(con):
            pseudonym_key.record_rotation(con, done.run_id, done.old_fingerprint,
                                          done.new_fingerprint, len(files), done.rows_loaded)
            # As a run records itself before its publish: the published copy carries it.
            store.finish_run(con, done.run_id, "published", files_new=len(files),
                             as_of=result.as_of)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _copy_history(con: duckdb.DuckDBPyConnection, old: Path) -> None:
    """Every audit table of the old warehouse into the new one (its tables as the DDL makes
    them, columns matched by name; any other audit table as it was), and which run recorded
    each file's quarantine (a replay records it again under the rotation's run)."""
    quoted = str(old).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS old_warehouse (READ_ONLY)")
    try:
        mine = _audit_tables(con, "current_database()")
        for table in _audit_tables(con, "'old_warehouse'"):
            source = f"old_warehouse.audit.{table}"
            if table in mine:
                con.execute(f"INSERT INTO audit.{table} BY NAME SELECT * FROM {source}")
            else:
                con.execute(f"CREATE TABLE audit.{table} AS SELECT * FROM {source}")
        con.execute("CREATE TEMP TABLE quarantine_runs AS SELECT sha256, any_value(run_id) "
                    "AS run_id FROM old_warehouse.audit.quarantine GROUP BY sha256")
    finally:
        # Detached before anything else runs: the pipeline's lookups by table name would
        # otherwise find the old warehouse's tables too.
        con.execute("DETACH old_warehouse")


def _audit_tables(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    return {t for (t,) in con.execute(
        f"SELECT table_name FROM duckdb_tables() WHERE database_name = {database} "
        "AND schema_name = 'audit' AND NOT temporary").fetchall()}


def _quarantine_runs_back(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("UPDATE audit.quarantine q SET run_id = r.run_id FROM quarantine_runs r "
                "WHERE q.sha256 = r.sha256")
    con.execute("DROP TABLE quarantine_runs")


def _swap(tmp: Path, target: Path) -> None:
    """The new warehouse renamed over the old one: atomic, and durable once the folder is
    synced."""
    if target.with_name(target.name + ".wal").exists():
        raise RotationFailed(f"{target} gained a write-ahead log while it was rotated; the "
                             "warehouse and its key are unchanged: run rotate-key again")
    fsync(tmp)
    os.replace(tmp, target)
    fsync(target.parent)

