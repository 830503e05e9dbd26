"""Stage -> core -> kpi: rebuild the derived tables from what is staged, in one transaction.

Derived tables are always rebuilt whole from staging, so a run's result depends only on the
files loaded, never on the order or number of runs that loaded them. KPI tables whose source
has not been loaded yet are simply not built (the quality gate says which are missing).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import polars as pl

from schemas.contracts import SEN2_MODULES
from transforms import kpis, suppression
from transforms.benchmarks import benchmarks, reconciliation
from transforms.finance_kpis import dsg_balance, hnb_outturn, recovery_plan, unit_costs
from transforms.place_kpis import place_sufficiency
from transforms.placement_groups import establishment_groups
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
from warehouse.forecast import build_forecast
from warehouse.published import published_figures
from warehouse.reference import new_la_code, region_code, statistical_neighbours
from warehouse.settings import Settings

log = logging.getLogger(__name__)


class NothingToBuild(RuntimeError):
    """The warehouse lacks a source the KPIs need; the message says which."""


@dataclass(frozen=True)
class BuildResult:
    as_of: dt.date
    export_date: dt.date | None  # None: no whole SEN2 export, so no EHC plan tables
    tables: dict[str, int]  # table -> rows
    notes: tuple[str, ...] = ()  # for the run's users: a forecast scenario left out, ...
    sen2_missing: str | None = None  # why the EHC plan tables were not built


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


def nothing_to_build(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why no KPI table at all can be built yet (no SEN2 export, no census, no finance),
    or None when some can."""
    missing = missing_sources(con)
    if missing and not any(store.table_exists(con, t) for t in (
            "stage.census", "stage.finance_ledger", "stage.recovery_plan")):
        return missing
    return None


def _optional(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame | None:
    return store.read(con, f"SELECT * FROM {table}") if store.table_exists(con, table) else None


def _files(con: duckdb.DuckDBPyConnection, table: str, what: str) -> str:
    """`what` plus the files (name and SHA-256 prefix) whose rows are in `table` now."""
    rows = con.execute(
        f"SELECT f.original_name, f.sha256 FROM audit.files f WHERE f.sha256 IN "
        f"(SELECT DISTINCT sha256 FROM {table}) ORDER BY 1").fetchall()
    if len(rows) > 3:
        return f"{what} ({len(rows)} files)"
    return f"{what} ({', '.join(f'{n} {s[:12]}' for n, s in rows)})"


@dataclass(frozen=True)
class _Sen2:
    """The latest whole SEN2 export's core tables."""

    export: dt.date
    source: str
    plans: pl.DataFrame
    placements: pl.DataFrame
    needs: pl.DataFrame
    requests: pl.DataFrame
    la_code: str | None


def _sen2(con: duckdb.DuckDBPyConnection, groups: pl.DataFrame) -> _Sen2:
    export = con.execute("SELECT max(export_date) FROM stage.sen2_namedplan").fetchall()[0][0]
    # Without the file hash of every row (nationally, 80 bytes a row for 9 million rows):
    # the source line names the files, from one distinct query.
    stage = whole_number_ids({m: store.read(
        con, f"SELECT {', '.join(CORE_COLUMNS[m])} FROM stage.sen2_{m} WHERE export_date = ?",
        [export]) for m in SEN2_MODULES})
    shas = [s for (s,) in con.execute(
        "SELECT DISTINCT left(sha256, 12) AS s FROM stage.sen2_namedplan WHERE export_date = ? "
        "ORDER BY s", [export]).fetchall()]
    plans = core_plans(stage)
    lea = stage["sen2"]["lea"].drop_nulls().to_list()
    return _Sen2(export, f"SEN2 export {export} ({', '.join(shas)})", plans,
                 core_placements(stage, plans, groups), core_needs(stage, plans),
                 core_requests(stage), new_la_code(lea[0]) if lea else None)


def _census_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The census columns the KPIs use (not the whole table: nationally, gigabytes). A Blade
    return made before autumn 2017 has no URN: it is GIAS's for the LAEstab, the
    establishment open on the census day, else the last opened with that LAEstab (GIAS's
    dates are not always right for long-open schools)."""
    unknown = con.execute("SELECT count(*) FROM stage.census WHERE urn IS NULL").fetchall()[0][0]
    if not unknown or not store.table_exists(con, "stage.establishments"):
        return store.read(con, "SELECT census_date, la_number, laestab, urn, pupil_id, "
                               "enrol_status, sen_provision FROM stage.census")
    return store.read(con, """
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
               c.pupil_id, c.enrol_status, c.sen_provision
        FROM stage.census c LEFT JOIN gias g USING (census_date, laestab)""")


def _census_la_code(census: pl.DataFrame | None) -> str | None:
    """The LA's ONS code from the school census's LA number, when there is no SEN2 export."""
    if census is None or census.height == 0:
        return None
    return new_la_code(census["la_number"].cast(pl.Utf8).mode().sort()[0])


def rebuild(con: duckdb.DuckDBPyConnection, settings: Settings,
            as_of: dt.date | None = None) -> BuildResult:
    """Every table the loaded sources allow. Without a whole SEN2 export the EHC plan tables
    (and those built on them: unit costs, place sufficiency, the forecast, reconciliation)
    are not built, and the rest are: `BuildResult.sen2_missing` says why. `settings`: the
    suppression threshold, the statistical neighbours, the forecast's scenarios file."""
    sen2_missing = missing_sources(con)
    establishments = _optional(con, "stage.establishments")
    # The columns the KPIs use, not the whole table: nationally that is gigabytes.
    census = _census_rows(con) if store.table_exists(con, "stage.census") else None
    ledger = _optional(con, "stage.finance_ledger")
    register = _optional(con, "stage.recovery_plan")
    places = _optional(con, "stage.places")
    population = _optional(con, "stage.population")
    if nothing := nothing_to_build(con):
        raise NothingToBuild(nothing)
    groups = (establishment_groups(establishments) if establishments is not None else
              pl.DataFrame(schema={"urn": pl.Int32, "type_of_establishment": pl.Utf8,
                                   "placement_group": pl.Utf8}))
    sen2 = None if sen2_missing else _sen2(con, groups)
    as_of = as_of or max([*([sen2.export] if sen2 else []),
                          *([census["census_date"].max()] if census is not None else [])],
                         default=None) or dt.date.today()
    la_code = sen2.la_code if sen2 and sen2.la_code else _census_la_code(census)
    population_0_25 = kpis.population_0_25(population, la_code) if population is not None \
        else None

    out: dict[str, pl.DataFrame] = {}
    if sen2:
        export, sen2_source, plans, placements = sen2.export, sen2.source, sen2.plans, \
            sen2.placements
        out |= {
            "core.ehc_plans": plans.drop("activeplanstableid"),
            "core.ehc_placements": placements,
            "core.ehc_needs": sen2.needs,
            "core.ehc_requests": sen2.requests,
            "kpi.ehcp_caseload": kpis.ehcp_caseload(plans, export, population_0_25,
                                                    sen2_source, as_of),
            "kpi.ehcp_new_plans": kpis.ehcp_new_plans(plans, export, sen2_source, as_of),
            "kpi.ehcp_requests": kpis.ehcp_requests(sen2.requests, export, sen2_source, as_of),
            "kpi.ehcp_placement_mix": kpis.ehcp_placement_mix(plans, placements, export,
                                                              sen2_source, as_of),
            "kpi.ehcp_need_mix": kpis.ehcp_need_mix(plans, sen2.needs, export, sen2_source,
                                                    as_of),
            "kpi.ehcp_ceased": kpis.ehcp_ceased(plans, export, sen2_source, as_of),
        }
    if census is not None:
        censuses = census["census_date"].n_unique()
        out["kpi.sen_prevalence"] = kpis.sen_prevalence(
            census, establishments, f"school census ({censuses} censuses)", as_of)
    # The DfE release shipped with sendboard is always there; landed releases join it.
    published = published_figures(con) if la_code else None
    reconcile = published is not None
    census_sides = (_census_against_sen2(census, sen2.plans, sen2.placements)
                    if reconcile and census is not None and sen2 else None)
    del census  # the build's largest frame (9 million rows nationally), before the forecast
    if establishments is not None:
        out["core.establishments"] = establishments.drop("sha256", "row_number").join(
            groups.select("urn", "placement_group"), on="urn", how="left")

    if ledger is not None:
        out["kpi.hnb_outturn"] = hnb_outturn(
            ledger, _files(con, "stage.finance_ledger", "HNB ledger"), as_of)
        if sen2:
            out["kpi.hnb_unit_costs"] = unit_costs(
                ledger, out["kpi.hnb_outturn"], sen2.plans, sen2.placements, establishments,
                sen2.export, _files(con, "stage.finance_ledger", "HNB ledger")
                + f", {sen2.source} and GIAS", as_of)
        dsg = _optional(con, "stage.finance_dsg")
        if dsg is not None:
            out["kpi.dsg_balance"] = dsg_balance(
                dsg, out["kpi.hnb_outturn"],
                _files(con, "stage.finance_dsg", "DSG") + " and the HNB ledger", as_of)
    if register is not None:
        out["kpi.recovery_plan"] = recovery_plan(
            register, _files(con, "stage.recovery_plan", "recovery plan register"), as_of)
    if places is not None and sen2:
        out["kpi.place_sufficiency"] = place_sufficiency(
            places, sen2.plans, sen2.placements, sen2.export,
            _files(con, "stage.places", "commissioned places") + f" and {sen2.source}", as_of)

    forecast_job = None
    if sen2:
        inputs = [sen2.source, *(name for table, name in (
            ("kpi.hnb_outturn", "HNB ledger"), ("kpi.dsg_balance", "DSG"),
            ("kpi.recovery_plan", "recovery plan register")) if table in out)]
        if population is not None:
            inputs.append("ONS population estimates")
        # The forecast simulates in its own thread (numpy, which lets go of the interpreter
        # lock) while this one finishes the other tables and writes them: nationally the
        # core tables take about as long to write as the forecast to run.
        forecast_job = _background(
            build_forecast, dict(out), ledger, ", ".join(inputs), as_of, settings.scenarios,
            population=(population.filter(pl.col("new_la_code") == la_code)
                        if population is not None and la_code else population))
    before_forecast = list(out)

    if reconcile:
        figures, published_source = published
        out["kpi.benchmarks"] = benchmarks(
            figures, la_code, region_code(la_code),
            statistical_neighbours(la_code, settings.statistical_neighbours), published_source,
            as_of)
        if sen2:
            own = figures.filter(pl.col("new_la_code") == la_code).select(
                "year", pl.col("measure_name").alias("measure"), "value", "source")
            local = _local_figures(out)
            if census_sides is not None:
                census_side, sen2_side = census_sides
                local, own = (pl.concat([local, census_side]),
                              pl.concat([own, sen2_side], how="diagonal"))
            # Each row's source adds the DfE release its published figure came from.
            out["kpi.reconciliation"] = reconciliation(
                local, own, f"{sen2.source}, school census", as_of)

    with store.transaction(con):
        con.execute("CREATE SCHEMA IF NOT EXISTS public")
        # Everything but the forecast is written, public copies too, while it simulates.
        public = public_tables(out, settings.suppression_threshold)
        for table, frame in {**out, **public}.items():
            store.write_table(con, table, _as_written(table, frame))
        projected, notes = forecast_job.result() if forecast_job else (None, [])
        forecast_table = {"kpi.forecast": projected} if projected is not None else {}
        public_forecast = public_tables(forecast_table, settings.suppression_threshold)
        for table, frame in {**forecast_table, **public_forecast}.items():
            store.write_table(con, table, frame)
        public.update(public_forecast)
        # In the order the tables were always built: the forecast after the places.
        out = {**{t: out[t] for t in before_forecast}, **forecast_table, **out}
        out.update({_public(t): public[_public(t)] for t in out if t.startswith("kpi.")})
        # A table this build did not make (its source gone, or no forecast possible) would
        # otherwise be published again with its old numbers.
        for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE "
                "table_schema IN ('kpi', 'public') AND table_type = 'BASE TABLE'").fetchall():
            if f"{schema}.{name}" not in out:
                log.info("dropping %s.%s: this build has nothing for it", schema, name)
                con.execute(f'DROP TABLE "{schema}"."{name}"')
        if store.table_exists(con, "stage.published"):
            # 3.6 million figures for one release: a view, not a copy.
            con.execute("CREATE OR REPLACE VIEW core.published_statistics AS "
                        "SELECT * FROM stage.published")
    return BuildResult(as_of, sen2.export if sen2 else None,
                       {t: f.height for t, f in out.items()}, tuple(notes), sen2_missing)


# The core tables' ids, which the build may hold as integers (whole_number_ids).
_ID_COLUMNS = {"core.ehc_plans": "plan_id", "core.ehc_placements": "plan_id",
               "core.ehc_needs": "plan_id", "core.ehc_requests": "request_id"}


def _as_written(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A table as stored: core tables keep their ids as the text the export wrote."""
    return ids_as_text(frame, _ID_COLUMNS[table]) if table in _ID_COLUMNS else frame


def _public(table: str) -> str:
    """The public copy's name of a kpi table."""
    return "public." + table.split(".", 1)[1]


def _background(work, *args, **kwargs) -> Future:
    """`work(*args, **kwargs)` started in a thread of its own; `.result()` waits for it.
    It runs in a copy of this thread's context, so that its log lines reach the flow run's
    log in Prefect (without it, Prefect warned that a logger had no flow run to send to)."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(contextvars.copy_context().run, work, *args, **kwargs)
    finally:
        pool.shutdown(wait=False)


def _local_figures(out: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The LA's own figures in the measure names of kpi.benchmarks."""
    def pick(table: str, column: str, measure: str) -> pl.DataFrame:
        return out[table].select("year", pl.lit(measure).alias("measure"),
                                 pl.col(column).cast(pl.Float64).alias("local_value"))

    parts = [pick("kpi.ehcp_caseload", "caseload", "ehcp_caseload"),
             pick("kpi.ehcp_new_plans", "new_plans", "new_plans"),
             pick("kpi.ehcp_new_plans", "pct_within_20_weeks", "pct_within_20_weeks"),
             pick("kpi.ehcp_new_plans", "pct_within_20_weeks_ex", "pct_within_20_weeks_ex"),
             pick("kpi.ehcp_requests", "requests_received", "requests_received"),
             out["kpi.ehcp_ceased"].group_by("year").agg(pl.col("plans").sum().cast(
                 pl.Float64).alias("local_value")).with_columns(
                 pl.lit("ceased_plans").alias("measure"))]
    mix = out["kpi.ehcp_placement_mix"]
    for group, measure in (("mainstream", "pct_mainstream"), ("special", "pct_special"),
                           ("fe", "pct_fe")):
        parts.append(mix.filter(pl.col("placement_group") == group).select(
            "year", pl.lit(measure).alias("measure"),
            pl.col("pct").cast(pl.Float64).alias("local_value")))
    parts.append(out["kpi.ehcp_need_mix"].select(
        "year", pl.format("pct_need_{}", pl.col("need").str.to_lowercase()).alias("measure"),
        pl.col("pct").cast(pl.Float64).alias("local_value")))
    return pl.concat([p.select("year", "measure", "local_value") for p in parts]) \
        .with_columns(pl.lit(None, pl.Utf8).alias("note"))


def _census_against_sen2(census: pl.DataFrame, plans: pl.DataFrame,
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
              .filter(kpis.active_on(plans, pl.col("census_date")))
              .group_by("census_date").agg(pl.col("plan_id").n_unique().cast(pl.Float64)
                                           .alias("sen2")))
    year = pl.col("census_date").dt.year().cast(pl.Int32).alias("year")
    measure = pl.lit("census_ehcp_pupils").alias("measure")
    local = pupils.select(year, measure, "local_value", pl.lit(
        "published_value is the LA's own SEN2 count of plans placed in the schools that made "
        "the census return").alias("note"))
    return local, placed.select(year, measure, pl.col("sen2").alias("value"))


def public_tables(out: dict[str, pl.DataFrame], limit: int) -> dict[str, pl.DataFrame]:
    """public.<name> for every kpi table: small numbers suppressed where the table counts
    children (transforms/suppression.py); money and the DfE's own published figures as they
    are. Reconciliation's local counts are suppressed like any other count."""
    public: dict[str, pl.DataFrame] = {}
    for table, frame in out.items():
        if not table.startswith("kpi."):
            continue
        name = table.split(".", 1)[1]
        if name in suppression.POLICIES:
            frame = suppression.suppress(frame, suppression.POLICIES[name], limit)
        elif name == "reconciliation":
            counts = frame.filter(~pl.col("measure").str.starts_with("pct_"))
            pcts = frame.filter(pl.col("measure").str.starts_with("pct_")).with_columns(
                pl.lit(None, pl.Utf8).alias("suppressed"))
            counts = suppression.suppress(counts, suppression.Policy(
                ("local_value", "published_value")), limit).with_columns(
                pl.when(pl.col("suppressed").is_not_null()).then(None)
                .otherwise(pl.col("difference")).alias("difference"))
            frame = pl.concat([counts, pcts]).sort("measure", "year")
        else:
            frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("suppressed"))
        public[_public(table)] = frame.with_columns(
            pl.lit(limit).cast(pl.Int32).alias("suppression_threshold"))
    # A year whose mix parts could only be protected by hiding the total hides it in the
    # caseload table too, with what would give it back (growth, rate).
    hidden = set()
    for name in ("public.ehcp_placement_mix", "public.ehcp_need_mix"):
        if name in public:
            hidden |= set(public[name].filter(pl.col("caseload").is_null()
                                              & (pl.col("plans").is_null()))["year"].to_list())
    if hidden and "public.ehcp_caseload" in public:
        years = sorted(hidden)
        public["public.ehcp_caseload"] = public["public.ehcp_caseload"].with_columns(
            *[pl.when(pl.col("year").is_in(years)).then(None).otherwise(pl.col(c)).alias(c)
              for c in ("caseload", "rate_per_10k_0_25")],
            pl.when(pl.col("year").is_in(years) | pl.col("year").is_in([y + 1 for y in years]))
            .then(None).otherwise(pl.col("growth_pct")).alias("growth_pct"),
            pl.when(pl.col("year").is_in(years)).then(pl.lit("caseload,growth_pct,rate_per_10k"))
            .otherwise(pl.col("suppressed")).alias("suppressed"))
    # A year whose every ceased-plan count is withheld would give them back through the year
    # total that reconciliation shows (five withheld parts adding up to 5 are all ones).
    if "public.ehcp_ceased" in public and "public.reconciliation" in public:
        shown = public["public.ehcp_ceased"].group_by("year").agg(
            (pl.col("plans") > 0).fill_null(False).any().alias("shown"))
        years = shown.filter(~pl.col("shown"))["year"].to_list()
        hide = (pl.col("measure") == "ceased_plans") & pl.col("year").is_in(years)
        public["public.reconciliation"] = public["public.reconciliation"].with_columns(
            *[pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
              for c in ("local_value", "difference")],
            pl.when(hide).then(pl.lit("local_value")).otherwise(pl.col("suppressed"))
            .alias("suppressed"))
    return public
