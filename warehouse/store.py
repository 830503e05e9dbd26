"""The working warehouse: connection, DDL, and the writes every load shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

DDL = (Path(__file__).parent / "ddl.sql").read_text()


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    # Checkpoint when the write-ahead log reaches 256 MB rather than 16 MB: a first load
    # commits a transaction per file, and a checkpoint after each cost more than the
    # writes. Commits stay durable in the log; closing the connection checkpoints.
    con.execute("SET checkpoint_threshold = '256MB'")
    con.execute(DDL)
    _renamed(con)
    return con


def _renamed(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse of an earlier version, under today's names: the DfE's statistics were
    staged as stage.published (a word that now means only the published database)."""
    if table_exists(con, "stage.published") and not table_exists(con, "stage.dfe_statistics"):
        con.execute("DROP VIEW IF EXISTS core.published_statistics")
        con.execute("ALTER TABLE stage.published RENAME TO dfe_statistics")
        con.execute("UPDATE audit.files SET table_name = 'stage.dfe_statistics' "
                    "WHERE table_name = 'stage.published'")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str,
               frame: pl.DataFrame) -> Iterator[None]:
    """`frame` readable as the view `name` for the block, handed over as Arrow without
    copying it. Registered as a polars frame, it would be converted to classic Arrow strings:
    for the national census a second (1.9 GB) copy and a second. Arrow's string views are
    polars' own layout, and DuckDB reads them as they are."""
    con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))
    try:
        yield
    finally:
        con.unregister(name)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure (or a kill) part-way leaves the warehouse as it was."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
        "AND table_name = ?", [schema, name]).fetchall()[0][0])


def replace_periods(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame,
                    period_columns: tuple[str, ...], sha256: str,
                    stamps: Mapping[str, str] | None = None) -> int:
    """Insert `frame`, first deleting the rows of every period it holds (the values of
    `period_columns`); with no period columns the frame replaces the whole table. Each row
    is stamped with its file's `sha256` (and `stamps`, other text constant over the file,
    such as the SHA-256 of another file its rows point into), here rather than as a column
    of the frame: DuckDB writes one constant for a whole file, where a column repeats the 64
    characters on every row (nationally 150 MB and half a second of the census's write).

    The table is created from the frame's schema the first time. Returns the rows deleted.
    """
    stamped = {"sha256": sha256, **(stamps or {})}
    with registered(con, "_incoming", frame):
        rows = "SELECT *, {} FROM _incoming".format(
            ", ".join(f'?::VARCHAR AS "{c}"' for c in stamped))
        if not table_exists(con, table):
            _create(con, table, frame, "_incoming", *(f'"{c}" VARCHAR' for c in stamped))
            con.execute(f"INSERT INTO {table} {rows}", list(stamped.values()))
            return 0
        _evolve(con, table, "_incoming")
        have = columns(con, table)
        for name in (c for c in stamped if c not in have):  # empty for the rows already there
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" VARCHAR')
        if period_columns:
            same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM t.{c}" for c in period_columns)
            deleted = con.execute(f"DELETE FROM {table} t WHERE EXISTS "
                                  f"(SELECT 1 FROM (SELECT DISTINCT {', '.join(period_columns)} "
                                  f"FROM _incoming) i WHERE {same})").fetchone()[0]
        else:
            deleted = con.execute(f"DELETE FROM {table}").fetchone()[0]
        con.execute(f"INSERT INTO {table} BY NAME {rows}", list(stamped.values()))
        return deleted


# Text that is different on (nearly) every row: keyed pseudonyms (random hex, one a child) and
# record ids. DuckDB's string compression (a dictionary, then FSST) finds little in them to
# share, and analysing them was the costliest part of writing the national census (5 of its
# 14 CPU-seconds on a 2-core Xeon were pupil_id) and half of writing the core tables (3.5 of
# 7.5). Stored as they are, they take about twice the disk (nationally some 220 MB more) and
# read back faster.
UNIQUE_TEXT_COLUMNS = frozenset({"pupil_id", "upn_id", "uln_id", "person_id", "identity_id",
                                 "plan_id", "request_id", "nativeid"})


def _unique_text(name: str) -> bool:
    return name in UNIQUE_TEXT_COLUMNS or name.endswith("tableid")


def _create(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, relation: str,
            *extra: str) -> None:
    """An empty `table` with the columns of `frame` (registered as `relation`) and `extra`
    column definitions: its enums as ENUM columns of the same codes (DuckDB would make them
    VARCHAR), its unique text (pseudonyms, record ids) stored uncompressed."""
    defs = []
    for name, kind in columns(con, f"(SELECT * FROM {relation})").items():
        dtype = frame.schema[name]
        if isinstance(dtype, pl.Enum):
            kind = "ENUM({})".format(", ".join(
                "'" + c.replace("'", "''") + "'" for c in dtype.categories))
        elif kind == "VARCHAR" and _unique_text(name):
            kind += " USING COMPRESSION uncompressed"
        defs.append(f'"{name}" {kind}')
    con.execute(f"CREATE TABLE {table} ({', '.join([*defs, *extra])})")


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {relation}").fetchall()}


def _evolve(con: duckdb.DuckDBPyConnection, table: str, incoming: str) -> None:
    """A staging table made by an earlier version takes what a newer file brings: columns it
    lacks (a newer SEN2 version's fields) are added, empty for the rows already there, and a
    column that now arrives as text (table ids, once whole numbers) becomes text, its values
    kept as they were written."""
    have = columns(con, table)
    for name, kind in columns(con, f"(SELECT * FROM {incoming})").items():
        if name not in have:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind}')
        elif kind == "VARCHAR" and have[name] != "VARCHAR":
            con.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" TYPE VARCHAR')


def supersede(con: duckdb.DuckDBPyConnection, table: str, by: str) -> None:
    """Mark loaded files none of whose rows are left in `table` as superseded by `by`."""
    con.execute(
        f"UPDATE audit.files f SET status = 'superseded', message = ? WHERE table_name = ? "
        f"AND status = 'loaded' AND rows_loaded > 0 AND NOT EXISTS "
        f"(SELECT 1 FROM {table} t WHERE t.sha256 = f.sha256)", [f"replaced by {by}", table])


def write_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame,
                comment: str | None = None) -> None:
    """Replace a derived (core or kpi) table wholesale."""
    with registered(con, "_frame", frame):
        if any(map(_unique_text, frame.columns)) or pl.Enum in frame.dtypes:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            _create(con, table, frame, "_frame")
            con.execute(f"INSERT INTO {table} SELECT * FROM _frame")
        else:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")
    if comment:
        quoted = comment.replace("'", "''")
        con.execute(f"COMMENT ON TABLE {table} IS '{quoted}'")


def read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str, str]]]:
    """sha256 -> [(source, original name, status)] of every file seen before."""
    known: dict[str, list[tuple[str, str, str]]] = {}
    for sha, source, name, status in con.execute(
            "SELECT sha256, source, original_name, status FROM audit.files").fetchall():
        known.setdefault(sha, []).append((source, name, status))
    return known


def record_file(con: duckdb.DuckDBPyConnection, *, sha256: str, source: str,
                original_name: str, run_id: str, status: str, rows_read: int = 0,
                rows_loaded: int = 0, rows_quarantined: int = 0, message: str | None = None,
                period: str | None = None, encoding: str | None = None,
                unknown_columns: list[str] | None = None, archived_as: str | None = None,
                table_name: str | None = None) -> None:
    # A replayed file (backfill) keeps the run that first loaded it.
    first = con.execute("SELECT first_run_id FROM audit.files WHERE sha256 = ? AND "
                        "original_name = ?", [sha256, original_name]).fetchall()
    if first:
        run_id = first[0][0]
        con.execute("DELETE FROM audit.files WHERE sha256 = ? AND original_name = ?",
                    [sha256, original_name])
    con.execute(
        "INSERT INTO audit.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sha256, source, original_name, rows_read, rows_loaded, rows_quarantined, run_id,
         status, message, period, encoding,
         ", ".join(unknown_columns) if unknown_columns else None, archived_as,
         dt.datetime.now(dt.UTC), table_name])


def record_quarantine(con: duckdb.DuckDBPyConnection, run_id: str, sha256: str, source: str,
                      quarantine: pl.DataFrame) -> None:
    if quarantine.height == 0:
        return
    rows = quarantine.select(pl.lit(run_id).alias("run_id"), pl.lit(sha256).alias("sha256"),
                             pl.lit(source).alias("source"), "row_number", "column_name",
                             "rule", "value_masked")
    con.execute("DELETE FROM audit.quarantine WHERE sha256 = ?", [sha256])  # a replay
    with registered(con, "_q", rows):
        con.execute("INSERT INTO audit.quarantine SELECT * FROM _q")


def record_sen2_rejected(con: duckdb.DuckDBPyConnection, export: dt.date, module: str,
                         sha256: str, records: pl.DataFrame) -> None:
    """A SEN2 module's quarantined rows with their record ids
    (warehouse.sen2_export.rejected_records), in place of any the export's module had."""
    con.execute("DELETE FROM audit.sen2_rejected WHERE export_date = ? AND module = ?",
                [export, module])
    if records.height == 0:
        return
    rows = records.select(pl.lit(export).alias("export_date"), pl.lit(module).alias("module"),
                          pl.lit(sha256).alias("sha256"), "row_number", "table_id",
                          "native_id", "column_name", "rule", "value_masked")
    with registered(con, "_r", rows):
        con.execute("INSERT INTO audit.sen2_rejected SELECT * FROM _r")


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, flow: str) -> None:
    con.execute("INSERT INTO audit.runs (run_id, flow, started_at, status) VALUES (?, ?, ?, ?)",
                [run_id, flow, dt.datetime.now(dt.UTC), "running"])


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str,
               error: str | None = None, files_new: int | None = None,
               as_of: dt.date | None = None) -> None:
    con.execute("UPDATE audit.runs SET finished_at = ?, status = ?, error = ?, files_new = ?, "
                "as_of = ? WHERE run_id = ?",
                [dt.datetime.now(dt.UTC), status, error, files_new, as_of, run_id])


def unpublished_work(con: duckdb.DuckDBPyConnection, published: Path) -> int:
    """How much a run killed part-way left unpublished: files loaded after the last publish,
    or (killed between recording its publish and the file swap) a published file that is
    not the last publish recorded. The next run publishes it even with nothing new."""
    pending = loaded_since_last_publish(con)
    last = con.execute("SELECT run_id FROM audit.runs WHERE status = 'published' "
                       "ORDER BY finished_at DESC LIMIT 1").fetchall()
    if not last:
        return pending
    if not published.exists():
        return pending + 1
    reader = duckdb.connect(str(published), read_only=True)
    try:
        shown = reader.execute("SELECT run_id FROM audit.runs WHERE status = 'published' "
                               "ORDER BY finished_at DESC LIMIT 1").fetchall()
    finally:
        reader.close()
    return pending + (shown != last)


def loaded_since_last_publish(con: duckdb.DuckDBPyConnection) -> int:
    """Files loaded after the last recorded publish."""
    return con.execute("""
        SELECT count(*) FROM audit.files WHERE status IN ('loaded', 'superseded')
        AND loaded_at > coalesce((SELECT max(finished_at) FROM audit.runs
                                  WHERE status = 'published'), TIMESTAMPTZ '1900-01-01')
    """).fetchall()[0][0]
