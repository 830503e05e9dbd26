"""Which pseudonymisation key a warehouse was built with, so that a run with another one stops
before it loads anything.

Pseudonyms link a child across censuses and to SEN2 only while every file is pseudonymised
with the same key; a run with another key would load pupils that link to nobody, and the
published counts would look fine. The warehouse keeps the key's fingerprint, HMAC-SHA256 of
a fixed label under the key: two keys give two fingerprints, and the fingerprint gives
nothing of the key (no more than any HMAC output does; it stays out of the published copy
all the same). `sendboard rotate-key` (warehouse/rotation.py) is the one way to change it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from pathlib import Path

import duckdb

from warehouse import store
from warehouse.settings import ConfigError

log = logging.getLogger(__name__)

LABEL = b"sendboard pseudonym key fingerprint v1"
# Enough of a fingerprint to tell keys apart on a console, in messages and the log.
SHOWN = 12


class KeyMismatch(ConfigError):
    """The key given is not the one the warehouse's pseudonyms were made with."""


def fingerprint(key: bytes) -> str:
    return hmac.new(key, LABEL, hashlib.sha256).hexdigest()


def recorded(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the key in use, or None for a warehouse that has none recorded
    (new, or built before sendboard recorded it)."""
    rows = con.execute("SELECT fingerprint FROM audit.key_fingerprint WHERE retired_at IS NULL "
                       "ORDER BY first_used_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def holds_pseudonyms(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a file was ever loaded: until then no pseudonym was made with any key."""
    return bool(con.execute("SELECT count(*) FROM audit.files WHERE status IN "
                            "('loaded', 'superseded')").fetchall()[0][0])


def mismatch(given: str, have: str) -> str:
    return (f"SENDBOARD_PSEUDONYM_KEY is not the key this warehouse was built with (its "
            f"fingerprint is {given[:SHOWN]}, the warehouse's {have[:SHOWN]}): pupils "
            "pseudonymised with it would link to none loaded before, so nothing was loaded. "
            "Set SENDBOARD_PSEUDONYM_KEY to the warehouse's key and run again; to change the "
            "key, run `sendboard rotate-key` with the current key in SENDBOARD_PSEUDONYM_KEY "
            "and the new one in SENDBOARD_NEW_PSEUDONYM_KEY (docs/privacy.md).")


def check(con: duckdb.DuckDBPyConnection, key: bytes, run_id: str,
          logger: logging.Logger | logging.LoggerAdapter = log) -> None:
    """At the start of a run, before anything is recorded: raise KeyMismatch for another key
    than the warehouse's; record the key of a home's first run; a warehouse built before
    fingerprints were kept adopts this run's key, and the log says so (once: it is recorded
    from then on)."""
    given, have = fingerprint(key), recorded(con)
    if given == have:
        return
    built = holds_pseudonyms(con)
    if have is not None and built:
        raise KeyMismatch(mismatch(given, have))
    with store.transaction(con):
        # A key recorded by a run that loaded nothing made no pseudonym: replaced.
        con.execute("DELETE FROM audit.key_fingerprint WHERE retired_at IS NULL")
        con.execute("INSERT INTO audit.key_fingerprint VALUES (?, ?, ?, NULL)",
                    [given, dt.datetime.now(dt.UTC), run_id])
    if built:
        logger.warning(
            "this warehouse was built before sendboard recorded its pseudonymisation key: "
            "it adopts this run's key (fingerprint %s), and from now on a run with another "
            "key stops before loading. If its pupils were pseudonymised with another key, "
            "they will not link to this run's: `sendboard rotate-key` re-pseudonymises them "
            "from the archive (docs/privacy.md).", given[:SHOWN])
    else:
        logger.info("pseudonymisation key recorded for this warehouse (fingerprint %s)",
                    given[:SHOWN])


def check_before_run(warehouse: Path, key: bytes) -> None:
    """The same refusal before a command-line run starts Prefect, read-only. A warehouse
    that cannot be opened (a run writing to it, a file that is no database) is left to the
    run's own check, under its lock."""
    if not warehouse.exists():
        return
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return
    try:
        if not (store.table_exists(con, "audit.key_fingerprint")
                and store.table_exists(con, "audit.files")):
            return
        have, built = recorded(con), holds_pseudonyms(con)
    finally:
        con.close()
    given = fingerprint(key)
    if have is not None and built and have != given:
        raise KeyMismatch(mismatch(given, have))


def record_rotation(con: duckdb.DuckDBPyConnection, run_id: str, old: str, new: str,
                    files: int, rows: int) -> None:
    """The new key in use, the old one retired, and the rotation's audit row (inside the
    caller's transaction)."""
    now = dt.datetime.now(dt.UTC)
    con.execute("UPDATE audit.key_fingerprint SET retired_at = ? WHERE retired_at IS NULL",
                [now])
    con.execute("INSERT INTO audit.key_fingerprint VALUES (?, ?, ?, NULL)", [new, now, run_id])
    con.execute("INSERT INTO audit.key_rotations VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, now, old, new, files, rows])
