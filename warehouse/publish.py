"""Publish: write a complete new sendboard.duckdb beside the old one, then swap it in.

BI tools open sendboard.duckdb read-only. DuckDB allows one writing process or many readers
of a file, never both, so the pipeline never writes to the published file: it builds a new
file and renames it over the old one (atomic on POSIX). A reader that has the old file open
keeps reading the old version to the end of its connection; a new connection sees the new
one; nobody ever sees half a publish. A run that fails before the rename leaves the
published file exactly as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from warehouse.leftovers import temporary
from warehouse.permissions import PRIVATE_FILE

# Aggregates and audit only: person-level core tables stay in the working warehouse, and so
# do the audit tables that list a child's records (the SEN2 readiness issues) and the
# pseudonymisation key's fingerprints (warehouse/pseudonym_key.py): BI readers have no use for
# them, and a fingerprint would let anyone holding the published file test guesses at the key
# offline.
PUBLISHED_SCHEMAS = ("kpi", "public", "audit")
UNPUBLISHED = ("audit.sen2_rejected", "audit.sen2_issues", "audit.key_fingerprint",
               "audit.key_rotations")


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema IN (SELECT unnest(?)) ORDER BY 1, 2",
        [list(PUBLISHED_SCHEMAS)]).fetchall()
    return [f"{s}.{t}" for s, t in rows if f"{s}.{t}" not in UNPUBLISHED]


def publish(con: duckdb.DuckDBPyConnection, target: Path, run_id: str) -> list[str]:
    """Copy the published schemas into a fresh file and atomically replace `target`."""
    tmp = temporary(target, run_id)
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    tables = published_tables(con)
    con.execute(f"ATTACH '{tmp}' AS pub")
    try:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"CREATE SCHEMA pub.{schema}")
        for table in tables:
            con.execute(f"CREATE TABLE pub.{table} AS SELECT * FROM {table}")
            comment = con.execute(
                "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name || '.' || table_name = ?", [table]).fetchall()
            if comment and comment[0][0]:
                quoted = comment[0][0].replace("'", "''")
                con.execute(f"COMMENT ON TABLE pub.{table} IS '{quoted}'")
        con.execute("CHECKPOINT pub")
    finally:
        con.execute("DETACH pub")
    # Its owner's only, as the home is (docs/privacy.md): BI tools read it as that user.
    os.chmod(tmp, PRIVATE_FILE)
    fsync(tmp)
    os.replace(tmp, target)
    fsync(target.parent)
    return tables


def fsync(path: Path) -> None:
    """Flush a file (or a folder, after a rename in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
