"""Stage -> core: the tables the KPIs are computed from, read from what is staged.

The core tables of the latest whole SEN2 export (plans, placements, needs, requests), the
census rows the KPIs count, and what says where each table's rows came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from schemas.contracts import SEN2_MODULES
from transforms.kpis import active_on
from transforms.sen2 import (
    CORE_COLUMNS,
    core_needs,
    core_placements,
    core_plans,
    core_requests,
    ids_as_text,
    whole_number_ids,
)
from warehouse import store
from warehouse.reference import new_la_code


def missing_sources(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the KPI tables cannot be built yet, or None when they can."""
    if not store.table_exists(con, "stage.sen2_namedplan"):
        return ("no SEN2 export has been loaded: land one in sen2/ "
                "(Blade-Export_<DD-MM-YYYY>_<module>.csv files)")
    export = con.execute("SELECT max(export_date) FROM stage.sen2_namedplan").fetchall()[0][0]
    for module in SEN2_MODULES:
        table = f"stage.sen2_{module}"
        if not store.table_exists(con, table) or not con.execute(
                f"SELECT count(*) FROM {table} WHERE export_date = ?", [export]).fetchall()[0][0]:
            return f"the SEN2 export of {export} has no {module} rows loaded"
    return None


def optional(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame | None:
    return store.read(con, f"SELECT * FROM {table}") if store.table_exists(con, table) else None


def files_in(con: duckdb.DuckDBPyConnection, table: str, what: str) -> str:
    """`what` plus the files (name and SHA-256 prefix) whose rows are in `table` now."""
    rows = con.execute(
        f"SELECT f.original_name, f.sha256 FROM audit.files f WHERE f.sha256 IN "
        f"(SELECT DISTINCT sha256 FROM {table}) ORDER BY 1").fetchall()
    if len(rows) > 3:
        return f"{what} ({len(rows)} files)"
    return f"{what} ({', '.join(f'{n} {s[:12]}' for n, s in rows)})"


@dataclass(frozen=True)
class Core:
    """The latest whole SEN2 export's core tables."""

    export: dt.date
    source: str
    plans: pl.DataFrame
    placements: pl.DataFrame
    needs: pl.DataFrame
    requests: pl.DataFrame
    la_code: str | None


def _present(con: duckdb.DuckDBPyConnection, module: str) -> str:
    """The select list of a module's core columns; a column its staged table does not have
    yet (a warehouse staged before the contract named it, until its next export) is NULL."""
    have = store.columns(con, f"stage.sen2_{module}")
    return ", ".join(c if c in have else f'NULL AS "{c}"' for c in CORE_COLUMNS[module])


def read_core(con: duckdb.DuckDBPyConnection, groups: pl.DataFrame) -> Core:
    """The core tables of the latest whole SEN2 export (missing_sources says when there is
    none)."""
    export = con.execute("SELECT max(export_date) FROM stage.sen2_namedplan").fetchall()[0][0]
    # Without the file hash of every row (nationally, 80 bytes a row for 9 million rows):
    # the source line names the files, from one distinct query.
    stage = whole_number_ids({m: store.read(
        con, f"SELECT {_present(con, m)} FROM stage.sen2_{m} WHERE export_date = ?",
        [export]) for m in SEN2_MODULES})
    shas = [s for (s,) in con.execute(
        "SELECT DISTINCT left(sha256, 12) AS s FROM stage.sen2_namedplan WHERE export_date = ? "
        "ORDER BY s", [export]).fetchall()]
    plans = core_plans(stage)
    lea = stage["sen2"]["lea"].drop_nulls().to_list()
    return Core(export, f"SEN2 export {export} ({', '.join(shas)})", plans,
                 core_placements(stage, plans, groups), core_needs(stage, plans),
                 core_requests(stage), new_la_code(lea[0]) if lea else None)


def census_rows(con: duckdb.DuckDBPyConnection, trace: bool = False) -> pl.DataFrame:
    """The census columns the KPIs use (not the whole table: nationally, gigabytes). A Blade
    return made before autumn 2017 has no URN: it is GIAS's for the LAEstab, the
    establishment open on the census day, else the last opened with that LAEstab (GIAS's
    dates are not always right for long-open schools). `trace`: each row's file (sha256)
    and row number too, for `sendboard explain`."""
    traced = ", c.sha256, c.row_number" if trace else ""
    unknown = con.execute("SELECT count(*) FROM stage.census WHERE urn IS NULL").fetchall()[0][0]
    if not unknown or not store.table_exists(con, "stage.establishments"):
        return store.read(con, "SELECT census_date, la_number, laestab, urn, pupil_id, "
                               "enrol_status::VARCHAR AS enrol_status, "
                               f"sen_provision::VARCHAR AS sen_provision{traced} "
                               "FROM stage.census c")
    return store.read(con, f"""
        WITH days AS (SELECT DISTINCT census_date, laestab FROM stage.census
                      WHERE urn IS NULL),
        gias AS (
            SELECT d.census_date, d.laestab, first(e.urn ORDER BY
                       (coalesce(e.open_date, DATE '1900-01-01') <= d.census_date
                        AND (e.close_date IS NULL OR e.close_date > d.census_date)) DESC,
                       e.open_date DESC NULLS LAST) AS urn
            FROM days d JOIN stage.establishments e
              ON e.la_code || e.establishment_number = d.laestab
            GROUP BY d.census_date, d.laestab)
        SELECT c.census_date, c.la_number, c.laestab, coalesce(c.urn, g.urn) AS urn,
               c.pupil_id, c.enrol_status::VARCHAR AS enrol_status,
               c.sen_provision::VARCHAR AS sen_provision{traced}
        FROM stage.census c LEFT JOIN gias g USING (census_date, laestab)""")


def census_la_code(census: pl.DataFrame | None) -> str | None:
    """The LA's ONS code from the school census's LA number, when there is no SEN2 export."""
    if census is None or census.height == 0:
        return None
    return new_la_code(census["la_number"].cast(pl.Utf8).mode().sort()[0])


def census_against_sen2(census: pl.DataFrame, plans: pl.DataFrame,
                         placements: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Spring census EHCP pupils (the local side) against SEN2 plans placed, that January
    census day, in the schools that made that census return (the other side)."""
    spring = census.filter(pl.col("census_date").dt.month() == 1)
    pupils = spring.filter(pl.col("enrol_status").is_in(["C", "M"])
                           & (pl.col("sen_provision") == "E")).group_by("census_date").agg(
        pl.col("pupil_id").n_unique().cast(pl.Float64).alias("local_value"))
    schools = spring.select("census_date", "urn").unique()
    placed = (schools.join(placements.filter(pl.col("placement_rank") == 1), on="urn")
              .filter((pl.col("entry_date") <= pl.col("census_date"))
                      & (pl.col("leaving_date").is_null()
                         | (pl.col("leaving_date") > pl.col("census_date"))))
              .join(plans.select("plan_id", "start_date", "cease_date"), on="plan_id")
              .filter(active_on(pl.col("census_date")))
              .group_by("census_date").agg(pl.col("plan_id").n_unique().cast(pl.Float64)
                                           .alias("sen2")))
    year = pl.col("census_date").dt.year().cast(pl.Int32).alias("year")
    measure = pl.lit("census_ehcp_pupils").alias("measure")
    local = pupils.select(year, measure, "local_value", pl.lit(
        "published_value is the LA's own SEN2 count of plans placed in the schools that made "
        "the census return").alias("note"))
    return local, placed.select(year, measure, pl.col("sen2").alias("value"))


# The core tables' ids, which the build may hold as integers (whole_number_ids).
_ID_COLUMNS = {"core.ehc_plans": "plan_id", "core.ehc_placements": "plan_id",
               "core.ehc_needs": "plan_id", "core.ehc_requests": "request_id"}


def as_written(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A table as stored: core tables keep their ids as the text the export wrote."""
    return ids_as_text(frame, _ID_COLUMNS[table]) if table in _ID_COLUMNS else frame
