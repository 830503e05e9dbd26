"""SEN2 return readiness: the checks of transforms/sen2_checks.py on a staged export, their
issues recorded, compared with the run before and with the previous export, and the workbook
caseworkers fix records from.

Issues name the case management system's own ids (the module's `*tableid` and NativeId) and
the child's pseudonym: they stay in the working warehouse (audit.sen2_issues, never
published). The published database carries the counts (audit.sen2_issue_summary), which the
internal board pack shows. Check by check: docs/sen2-readiness.md.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from schemas.contracts import SEN2_MODULES
from transforms.calendar import january_census_day
from transforms.sen2_checks import (
    CHECKS,
    COLUMNS_READ,
    QUARANTINE_CHECKS,
    find_issues,
    quarantine_issues,
)
from transforms.sen2_compare import COMPARE_CHECKS, compare_exports
from transforms.timing import stage
from warehouse import store

log = logging.getLogger(__name__)

SEVERITY_ORDER = ("error", "query", "quality")
# Every check an issue can have, in the order reports list them.
CATALOGUE = {c.id: c for c in (*CHECKS, *QUARANTINE_CHECKS, *COMPARE_CHECKS)}


class NoExport(RuntimeError):
    """The warehouse holds no SEN2 export (or not the one asked for)."""


@dataclass(frozen=True)
class Readiness:
    export: dt.date
    census_day: dt.date
    previous: dt.date | None  # the export compared with, if one is staged
    issues: pl.DataFrame  # transforms.sen2_checks.ISSUE_SCHEMA
    summary: pl.DataFrame  # a row a check with issues now or at the run before: see summary()
    totals: pl.DataFrame | None  # measure, previous, current, change_pct, flagged

    def count(self, severity: str) -> int:
        return int(self.issues.filter(pl.col("severity") == severity).height)


def census_day_of(export: dt.date) -> dt.date:
    """The January census day of the return an export prepares: an autumn export (September
    to December) is for the coming January, any other for this year's."""
    return january_census_day(export.year + 1 if export.month >= 9 else export.year)


def exports(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """The SEN2 exports staged, newest first."""
    if not store.table_exists(con, "stage.sen2_namedplan"):
        return []
    return [d for (d,) in con.execute("SELECT DISTINCT export_date FROM stage.sen2_namedplan "
                                      "ORDER BY 1 DESC").fetchall()]


def latest_unchecked(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the newest export staged has no recorded check (every check records its
    counts, zeros too, so a clean export counts as checked)."""
    staged = exports(con)
    return bool(staged) and not con.execute(
        "SELECT count(*) FROM audit.sen2_issue_counts WHERE export_date = ?",
        [staged[0]]).fetchone()[0]


def checked_exports(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """The staged exports whose issues are recorded, oldest first."""
    staged = set(exports(con))
    return sorted(d for (d,) in con.execute("SELECT DISTINCT export_date FROM "
                                            "audit.sen2_issues").fetchall() if d in staged)


# Per module, the columns beyond its ids that the checks (transforms.sen2_checks) and the
# comparison with the previous export (transforms.sen2_compare: plan dates, the person's
# pseudonyms) read; a module not named here is read whole.
CHECKED_COLUMNS: dict[str, set[str]] = {
    m: set(columns) | {"namedplan": {"startdate", "ceasedate"},
                       "person": {"upn_id", "uln_id"}}.get(m, set())
    for m, columns in COLUMNS_READ.items()}


def staged_export(con: duckdb.DuckDBPyConnection, export: dt.date) -> dict[str, pl.DataFrame]:
    """Every module of an export as staged, with the columns the checks and the comparison
    with the previous export read: the ids that link the modules, NativeId, and
    transforms.sen2_checks' columns (nationally, reading every column was 1.7 s of the
    readiness check)."""
    out = {}
    for m in SEN2_MODULES:
        if not store.table_exists(con, f"stage.sen2_{m}"):
            continue
        wanted = CHECKED_COLUMNS.get(m)
        columns = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'stage' "
            "AND table_name = ? ORDER BY ordinal_position", [f"sen2_{m}"]).fetchall()
            if c != "sha256" and (wanted is None or c in wanted or c.endswith("tableid")
                                  or c == "nativeid")]
        out[m] = store.read(con, "SELECT " + ", ".join(f'"{c}"' for c in columns)
                            + f" FROM stage.sen2_{m} WHERE export_date = ?", [export])
    return out


def check_export(con: duckdb.DuckDBPyConnection, run_id: str, export: dt.date | None = None,
                 today: dt.date | None = None) -> Readiness:
    """Run every check on an export (default: the latest), compare it with the export before
    it, and record the issues and their counts (one transaction)."""
    staged = exports(con)
    if not staged:
        raise NoExport("no SEN2 export has been loaded yet: land one in sen2/ and run")
    export = export or staged[0]
    if export not in staged:
        raise NoExport(f"no SEN2 export of {export} is loaded; loaded: "
                       + ", ".join(str(d) for d in staged))
    today = today or dt.date.today()
    census_day = census_day_of(export)
    with stage("sen2 readiness"):
        current = staged_export(con, export)
        gias = (store.read(con, "SELECT * EXCLUDE (sha256) FROM stage.establishments")
                if store.table_exists(con, "stage.establishments") else None)
        rejected = store.read(con, "SELECT module, table_id, native_id, column_name, rule, "
                                   "value_masked FROM audit.sen2_rejected WHERE export_date = ? "
                                   "ORDER BY module, row_number, column_name", [export])
        parts = [find_issues(current, gias, census_day, today), quarantine_issues(rejected)]
        earlier = [d for d in staged if d < export]
        previous, totals = (earlier[0] if earlier else None), None
        if previous is not None:
            vanished, totals = compare_exports(current, staged_export(con, previous))
            parts.append(vanished)
        issues = pl.concat(parts)
        _record(con, run_id, export, issues, totals, previous)
        return Readiness(export, census_day, previous, issues, summary(con, export), totals)


def _record(con: duckdb.DuckDBPyConnection, run_id: str, export: dt.date,
            issues: pl.DataFrame, totals: pl.DataFrame | None,
            previous: dt.date | None) -> None:
    counts = pl.DataFrame({"check_id": list(CATALOGUE),
                           "severity": [c.severity for c in CATALOGUE.values()]}).join(
        issues.group_by("check_id").agg(pl.len().alias("issues")), on="check_id",
        how="left").with_columns(pl.col("issues").fill_null(0).cast(pl.Int64))
    now = dt.datetime.now(dt.UTC)
    with store.transaction(con):
        con.execute("DELETE FROM audit.sen2_issues WHERE export_date = ?", [export])
        with store.registered(con, "_issues", issues):
            con.execute("INSERT INTO audit.sen2_issues SELECT ?, ?, check_id, severity, module, "
                        "table_id, native_id, person_id, fields, values_masked FROM _issues",
                        [run_id, export])
        con.execute("DELETE FROM audit.sen2_issue_counts WHERE run_id = ? AND export_date = ?",
                    [run_id, export])
        with store.registered(con, "_counts", counts):
            con.execute("INSERT INTO audit.sen2_issue_counts SELECT ?, ?, ?, check_id, "
                        "severity, issues FROM _counts", [run_id, now, export])
        _write_summary(con)
        if totals is not None:
            frame = totals.select(pl.lit(export).alias("export_date"),
                                  pl.lit(previous).alias("previous_export"), pl.all())
            with store.registered(con, "_totals", frame):
                con.execute("CREATE TABLE IF NOT EXISTS audit.sen2_export_totals AS "
                            "SELECT * FROM _totals LIMIT 0")
                con.execute("DELETE FROM audit.sen2_export_totals WHERE export_date = ?",
                            [export])
                con.execute("INSERT INTO audit.sen2_export_totals SELECT * FROM _totals")


def _write_summary(con: duckdb.DuckDBPyConnection) -> None:
    """audit.sen2_issue_summary: for each export and check, the count at its latest check,
    at the check before, at the previous export's latest check, and when the check first
    found an issue in that export. Counts only: it is published."""
    con.execute("""
        CREATE OR REPLACE TABLE audit.sen2_issue_summary AS
        WITH ranked AS (
            SELECT *, row_number() OVER (PARTITION BY export_date, check_id
                                         ORDER BY checked_at DESC) AS k
            FROM audit.sen2_issue_counts),
        latest AS (SELECT * FROM ranked WHERE k = 1),
        exports AS (SELECT export_date, lag(export_date) OVER (ORDER BY export_date) AS previous
                    FROM (SELECT DISTINCT export_date FROM audit.sen2_issue_counts))
        SELECT l.export_date, l.check_id, l.severity, l.issues, l.checked_at,
               b.issues AS issues_check_before, p.issues AS issues_previous_export,
               e.previous AS previous_export,
               (SELECT min(c.checked_at) FROM audit.sen2_issue_counts c
                WHERE c.export_date = l.export_date AND c.check_id = l.check_id
                  AND c.issues > 0) AS first_seen
        FROM latest l
        JOIN exports e USING (export_date)
        LEFT JOIN ranked b ON b.export_date = l.export_date AND b.check_id = l.check_id
                          AND b.k = 2
        LEFT JOIN latest p ON p.export_date = e.previous AND p.check_id = l.check_id
        ORDER BY l.export_date, l.check_id""")


def summary(con: duckdb.DuckDBPyConnection, export: dt.date) -> pl.DataFrame:
    """The export's checks that found something now, at the check before or at the previous
    export: check_id, severity, message, action, issues, before (the check before), previous
    (the previous export), first_seen; in severity then catalogue order."""
    rows = store.read(con, "SELECT check_id, severity, issues, issues_check_before AS before, "
                           "issues_previous_export AS previous, first_seen FROM "
                           "audit.sen2_issue_summary WHERE export_date = ?", [export])
    return described(rows.filter((pl.col("issues") > 0) | (pl.col("before") > 0)
                                 | (pl.col("previous") > 0)))


def described(rows: pl.DataFrame) -> pl.DataFrame:
    """Counts by check with each check's message and action, in report order."""
    order = {c: i for i, c in enumerate(CATALOGUE)}
    return rows.with_columns(
        pl.col("check_id").replace_strict({k: c.message for k, c in CATALOGUE.items()},
                                          default=None).alias("message"),
        pl.col("check_id").replace_strict({k: c.action for k, c in CATALOGUE.items()},
                                          default=None).alias("action"),
        pl.col("severity").replace_strict({s: i for i, s in enumerate(SEVERITY_ORDER)},
                                          return_dtype=pl.Int8).alias("_s"),
        pl.col("check_id").replace_strict(order, default=len(order),
                                          return_dtype=pl.Int32).alias("_c"),
    ).sort("_s", "_c").drop("_s", "_c")


# A workbook of more issues than this is not written by the run (xlsxwriter writes about
# 15,000 rows a second: the national sample's 214,000 took 16 s) but by `sendboard
# sen2-check`, on demand; an LA's export has hundreds to a few thousand.
RUN_WORKBOOK_MAX_ISSUES = 50_000


def check_loaded(con: duckdb.DuckDBPyConnection, run_id: str, files: list, reports: Path,
                 logger: logging.Logger | logging.LoggerAdapter = log) -> str | None:
    """A run's readiness step: when the run loaded SEN2 files, or the latest export staged
    was never checked (a run killed after loading it, before its checks were recorded),
    check the latest export and write its workbook. Returns a problem for the run's summary
    (the checks failed), or None: a check that fails must not hold back the board's KPI
    tables."""
    if not (any(f.source == "sen2" and f.status == "loaded" for f in files)
            or latest_unchecked(con)):
        return None
    try:
        r = check_export(con, run_id)
        book = None
        if r.issues.height <= RUN_WORKBOOK_MAX_ISSUES:
            with stage("sen2 readiness"):
                book = write_workbook(r, reports)
    except Exception as e:  # reported, and the run goes on to publish
        logger.exception("SEN2 readiness checks failed")
        return f"SEN2 readiness checks failed: {type(e).__name__}: {e}"
    logger.info("SEN2 readiness of the export of %s: %s; %s", r.export,
                ", ".join(f"{r.count(s):,} {s}" for s in SEVERITY_ORDER),
                f"workbook {book}" if book else
                f"{r.issues.height:,} issues: `sendboard sen2-check` writes their workbook")
    return None


def start_check(con: duckdb.DuckDBPyConnection, run_id: str, files: list, reports: Path,
                logger: logging.Logger | logging.LoggerAdapter = log) -> Future:
    """check_loaded on a connection of its own in a thread of its own: the run starts it
    before the quality gate, which is Python holding the interpreter lock while the checks
    are polars and DuckDB, which let go of it (nationally the checks take 5 s, the gate 3).
    `.result()` is check_loaded's."""
    cursor = con.cursor()

    def work() -> str | None:
        try:
            return check_loaded(cursor, run_id, files, reports, logger)
        finally:
            cursor.close()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sen2-readiness")
    try:
        return pool.submit(contextvars.copy_context().run, work)
    finally:
        pool.shutdown(wait=False)


# ------------------------------------------------------------------------------------------
# The workbook caseworkers work from: internal reports folder only.
# ------------------------------------------------------------------------------------------

# What a caseworker is shown: the system's ids and the fields, never a pseudonym (it finds
# nothing in the case management system) nor anything personal (values are masked as in
# quarantine).
WORKBOOK_COLUMNS = ("module", "table_id", "native_id", "fields", "values_masked")


def workbook_name(export: dt.date) -> str:
    return f"sen2-issues-{export.isoformat()}.xlsx"


def write_workbook(r: Readiness, reports: Path) -> Path:
    """reports/sen2-issues-<export date>.xlsx: a summary sheet, then a sheet a check with
    issues (its message and action above its records), written whole then renamed into
    place."""
    import xlsxwriter

    reports.mkdir(parents=True, exist_ok=True)
    target = reports / workbook_name(r.export)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    found = r.issues.group_by("check_id").agg(pl.len().alias("issues"))
    with xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False,
                                        "strings_to_urls": False}) as wb:
        bold = wb.add_format({"bold": True})
        head = wb.add_worksheet("summary")
        head.write(0, 0, f"SEN2 return readiness: export of {r.export}, return census day "
                         f"{r.census_day}" + (f", compared with the export of {r.previous}"
                                               if r.previous else ""), bold)
        head.write(1, 0, "Records are named by the case management system's table id and "
                         "NativeId. Values of personal fields are withheld.")
        table = described(found.join(r.summary.select("check_id", "severity", "before",
                                                      "previous"), on="check_id", how="left")
                          .with_columns(pl.col("check_id").replace_strict(
                              {k: c.severity for k, c in CATALOGUE.items()}).alias("severity")))
        table.select("severity", "check_id", "issues", "before", "previous", "message",
                     "action").write_excel(wb, "summary", position=(3, 0),
                                           table_style="Table Style Light 9", autofit=True)
        for check_id in table["check_id"]:
            c = CATALOGUE[check_id]
            sheet = wb.add_worksheet(_sheet_name(check_id))
            sheet.write(0, 0, f"{c.severity}: {c.message}", bold)
            sheet.write(1, 0, f"What to do: {c.action}")
            rows = r.issues.filter(pl.col("check_id") == check_id).select(WORKBOOK_COLUMNS)
            rows.write_excel(wb, sheet.name, position=(3, 0), table_style="Table Style Light 9",
                             autofit=rows.height <= 5000)
    os.replace(tmp, target)
    return target


def _sheet_name(check_id: str) -> str:
    # A sheet name has at most 31 characters; check ids are unique within their first 31.
    return check_id[:31]


def summary_lines(r: Readiness) -> list[str]:
    """The readiness summary as the command line prints it."""
    lines = [f"SEN2 export of {r.export} (return census day {r.census_day})"
             + (f", compared with {r.previous}" if r.previous else "") + ":",
             "  " + ", ".join(f"{r.count(s):,} {s}" for s in SEVERITY_ORDER)]
    for row in r.summary.iter_rows(named=True):
        trend = "" if row["before"] is None else f" (check before: {row['before']:,})"
        lines.append(f"  {row['severity']:<7} {row['issues']:>8,}  {row['check_id']}: "
                     f"{row['message']}{trend}")
    if r.totals is not None:
        for row in r.totals.filter(pl.col("flagged")).iter_rows(named=True):
            moved = ("from none" if row["change_pct"] is None
                     else f"{row['change_pct']:+.1f}%")
            lines.append(f"  totals: {row['measure']} moved {moved} since {r.previous} "
                         f"({row['previous']:,} -> {row['current']:,})")
    return lines
