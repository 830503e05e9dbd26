"""Stage -> core -> kpi: rebuild the derived tables from what is staged, in one transaction.

Derived tables are always rebuilt whole from staging, so a run's result depends only on the
files loaded, never on the order or number of runs that loaded them. Each KPI table is an
entry of the registry (warehouse/registry.py); one whose sources have not been loaded yet is
simply not built (the quality gate says which are missing).
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import polars as pl

from transforms import kpis, suppression
from transforms.forecast_backtest import series_of
from transforms.placement_groups import establishment_groups
from warehouse import disclosure_gate, store
from warehouse.core import (
    as_written,
    census_against_sen2,
    census_la_code,
    census_rows,
    files_in,
    missing_sources,
    optional,
    read_core,
)
from warehouse.dfe_statistics import figures_of, published_rows
from warehouse.registry import KPI, REGISTRY, Inputs
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
    # The disclosure audit of each public table (disclosure_gate.protect's checks): what
    # it withheld beyond the rules, and which it held back.
    disclosure: pl.DataFrame | None = None


def nothing_to_build(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why no KPI table at all can be built yet (no SEN2 export, no census, no finance),
    or None when some can."""
    missing = missing_sources(con)
    if missing and not any(store.table_exists(con, t) for t in (
            "stage.census", "stage.finance_ledger", "stage.recovery_plan")):
        return missing
    return None


def read_inputs(con: duckdb.DuckDBPyConnection, settings: Settings,
                as_of: dt.date | None) -> tuple[Inputs, str | None]:
    """Everything the KPI functions read, and why there are no EHC plan tables (or None)
    (`sendboard explain` reads them too: warehouse/explain.py)."""
    sen2_missing = missing_sources(con)
    establishments = optional(con, "stage.establishments")
    # The columns the KPIs use, not the whole table: nationally that is gigabytes.
    census = census_rows(con) if store.table_exists(con, "stage.census") else None
    ledger = optional(con, "stage.finance_ledger")
    dsg = optional(con, "stage.finance_dsg") if ledger is not None else None
    register = optional(con, "stage.recovery_plan")
    places = optional(con, "stage.places")
    population = optional(con, "stage.population")
    groups = (establishment_groups(establishments) if establishments is not None else
              pl.DataFrame(schema={"urn": pl.Int32, "type_of_establishment": pl.Utf8,
                                   "placement_group": pl.Utf8, "school_setting": pl.Int8}))
    core = None if sen2_missing else read_core(con, groups)
    as_of = as_of or max([*([core.export] if core else []),
                          *([census["census_date"].max()] if census is not None else [])],
                         default=None) or dt.date.today()
    la_code = core.la_code if core and core.la_code else census_la_code(census)
    # The DfE release shipped with sendboard is always there; landed releases join it.
    published = published_rows(con) if la_code else None
    dfe = figures_of(published) if published is not None else None
    attendance = (optional(con, "stage.census_attendance"),
                  optional(con, "stage.census_exclusions"))
    sources = {
        "census": "" if census is None else
        f"school census ({census['census_date'].n_unique()} censuses)",
        "attendance": ", ".join(files_in(con, t, what) for t, what, frame in (
            ("stage.census_attendance", "Blade census sessions", attendance[0]),
            ("stage.census_exclusions", "Blade census exclusions", attendance[1]))
            if frame is not None) or "school census (no Blade attendance tables loaded)",
        **{name: files_in(con, table, what) for name, table, what, frame in (
            ("ledger", "stage.finance_ledger", "HNB ledger", ledger),
            ("dsg", "stage.finance_dsg", "DSG", dsg),
            ("register", "stage.recovery_plan", "recovery plan register", register),
            ("places", "stage.places", "commissioned places", places)) if frame is not None}}
    out: dict[str, pl.DataFrame] = {}
    if core:
        out |= {"core.ehc_plans": core.plans.drop("activeplanstableid"),
                "core.ehc_placements": core.placements, "core.ehc_needs": core.needs,
                "core.ehc_requests": core.requests}
    if establishments is not None:
        out["core.establishments"] = establishments.drop("sha256", "row_number").join(
            groups.select("urn", "placement_group"), on="urn", how="left")
    return Inputs(
        settings=settings, as_of=as_of, la_code=la_code, core=core, census=census,
        establishments=establishments, ledger=ledger, dsg=dsg, register=register,
        places=places,
        population=(population.filter(pl.col("new_la_code") == la_code)
                    if population is not None and la_code else population),
        population_0_25=(kpis.population_0_25(population, la_code)
                         if population is not None else None),
        dfe=dfe, dfe_series=series_of(published) if published is not None else None,
        census_sides=(census_against_sen2(census, core.plans, core.placements)
                      if dfe is not None and census is not None and core else None),
        attendance=attendance if census is not None else None,
        sources=sources, out=out), sen2_missing


def rebuild(con: duckdb.DuckDBPyConnection, settings: Settings,
            as_of: dt.date | None = None) -> BuildResult:
    """Every table the loaded sources allow, an entry of the registry at a time. Without a
    whole SEN2 export the EHC plan tables (and those built on them: unit costs, place
    sufficiency, the forecast, reconciliation) are not built, and the rest are:
    `BuildResult.sen2_missing` says why. `settings`: the suppression threshold, the
    statistical neighbours, the forecast's scenarios file."""
    if nothing := nothing_to_build(con):
        raise NothingToBuild(nothing)
    inputs, sen2_missing = read_inputs(con, settings, as_of)
    out = inputs.out
    forecast_job: Future | None = None
    order = compute_order(REGISTRY)
    for position, kpi in enumerate(order):
        if kpi.background:
            # The forecast simulates in its own thread (numpy, which lets go of the
            # interpreter lock) while this one builds and writes the rest: nationally the
            # core tables take about as long to write as the forecast to run. (It reads
            # no census: its copy of the inputs does not keep that frame alive.)
            forecast_job = _background(kpi.compute, dataclasses.replace(
                inputs, out=dict(out), census=None))
        elif (frame := kpi.compute(inputs)) is not None:
            out[kpi.table] = frame
        if inputs.census is not None and not any(
                "stage.census" in k.inputs for k in order[position + 1:]):
            inputs.census = None  # the largest frame (9 million rows nationally) goes first
    # Written and reported in the registry's order, whatever order they were computed in.
    rank = {k.table: i for i, k in enumerate(REGISTRY)}
    out = dict(sorted(out.items(), key=lambda item: rank.get(item[0], -1)))

    with store.transaction(con):
        con.execute("CREATE SCHEMA IF NOT EXISTS public")
        # Everything but the forecast is written, public copies too, while it simulates;
        # the public copies' disclosure audit runs beside the writing of the rest (HiGHS
        # lets go of the interpreter lock while it solves).
        audit_job = _background(disclosure_gate.protect,
                                public_tables(out, settings.suppression_threshold))
        for table, frame in out.items():
            store.write_table(con, table, as_written(table, frame))
        protected = audit_job.result()
        public = protected.tables
        for table, frame in public.items():
            store.write_table(con, table, as_written(table, frame))
        projected, notes = (forecast_job.result() or (None, [])) if forecast_job else (None, [])
        if projected is not None:
            forecast_table = {"kpi.forecast": projected}
            forecast_public = public_tables(forecast_table, settings.suppression_threshold)
            for table, frame in {**forecast_table, **forecast_public}.items():
                store.write_table(con, table, frame)
            rank = {k.table: i for i, k in enumerate(REGISTRY)}
            out = dict(sorted({**out, **forecast_table}.items(),
                              key=lambda item: rank.get(item[0], -1)))
            public.update(forecast_public)
        # (A public copy the disclosure audit held back is not written, and the copy of an
        # earlier build is dropped below.)
        out.update({_public(t): public[_public(t)] for t in out
                    if t.startswith("kpi.") and _public(t) in public})
        # A table this build did not make (its source gone, or no forecast possible) would
        # otherwise be published again with its old numbers.
        for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE "
                "table_schema IN ('kpi', 'public') AND table_type = 'BASE TABLE'").fetchall():
            if f"{schema}.{name}" not in out:
                log.info("dropping %s.%s: this build has nothing for it", schema, name)
                con.execute(f'DROP TABLE "{schema}"."{name}"')
        if store.table_exists(con, "stage.dfe_statistics"):
            # 3.6 million figures for one release: a view, not a copy.
            con.execute("CREATE OR REPLACE VIEW core.dfe_statistics AS "
                        "SELECT * FROM stage.dfe_statistics")
    export = inputs.core.export if inputs.core else None
    return BuildResult(inputs.as_of, export, {t: f.height for t, f in out.items()},
                       tuple(notes), sen2_missing, protected.checks)


def compute_order(registry: tuple[KPI, ...] | list[KPI]) -> list[KPI]:
    """The order to compute the registry in: those reading the census and no other KPI
    (the largest frame is let go after them, before the forecast's arrays are made), then
    what the background entries read (their `kpi.*` inputs, and what those read), then the
    background entries, then the rest, each part in the registry's order. The forecast then
    simulates while the mixes and duties are computed, not only after them."""
    by_table = {k.table: k for k in registry}
    needed: set[str] = set()
    todo = [t for k in registry if k.background for t in k.inputs]
    while todo:
        table = todo.pop()
        if table in by_table and table not in needed:
            needed.add(table)
            todo += by_table[table].inputs
    def part(k: KPI) -> int:
        if k.background:
            return 2
        if "stage.census" in k.inputs and not any(t.startswith("kpi.") for t in k.inputs):
            return 0
        return 1 if k.table in needed else 3

    return sorted(registry, key=part)


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


def public_tables(out: dict[str, pl.DataFrame], limit: int) -> dict[str, pl.DataFrame]:
    """public.<name> for every kpi table built, as its registry entry says (small numbers
    suppressed where the table counts children; money and the DfE's own published figures
    as they are), then the rules across tables (transforms/suppression.py)."""
    public: dict[str, pl.DataFrame] = {}
    for kpi in REGISTRY:
        if kpi.table not in out:
            continue
        frame = out[kpi.table]
        if isinstance(kpi.public, suppression.Policy):
            frame = suppression.suppress(frame, kpi.public, limit)
        elif kpi.public is not None:
            frame = kpi.public(frame, limit)
        else:
            frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("suppressed"))
        public[_public(kpi.table)] = frame.with_columns(
            pl.lit(limit).cast(pl.Int32).alias("suppression_threshold"))
    return _copies_shown(_zeros_shown(suppression.across_tables(public), out))


# Tables that repeat the January caseload of public.ehcp_caseload in every row.
CASELOAD_COPIES = ("public.ehcp_placement_mix", "public.ehcp_need_mix",
                   "public.ehcp_not_in_school", "public.ehcp_placement_detail",
                   "public.ehcp_personal_budgets_caseload")


def _copies_shown(public: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """A mix's copy of the caseload shown wherever public.ehcp_caseload shows it: withheld,
    the copy hides nothing (the figure is published), and the disclosure audit, finding it
    pinned to the original, would withhold the caseload itself."""
    if "public.ehcp_caseload" not in public:
        return public
    public = dict(public)
    shown = public["public.ehcp_caseload"].select(
        "year", pl.col("caseload").alias("__caseload")).filter(pl.col("__caseload").is_not_null())
    for name in CASELOAD_COPIES:
        frame = public.get(name)
        if frame is None or "caseload" not in frame.columns or "suppressed" not in frame.columns:
            continue
        joined = frame.join(shown, on="year", how="left", maintain_order="left")
        again = pl.col("caseload").is_null() & pl.col("__caseload").is_not_null()
        restored = _shown_again(frame, joined, {"caseload": (again, pl.col("__caseload"))})
        if restored is not None:
            public[name] = restored
    return public


def _shown_again(frame: pl.DataFrame, joined: pl.DataFrame,
                 restored: dict[str, tuple[pl.Expr, pl.Expr]]) -> pl.DataFrame | None:
    """`frame` (as `joined`, with the columns the conditions read) with each column's cells
    set to a value where its condition holds, and the column's name taken off those rows'
    `suppressed` list; None when no condition holds anywhere (the frame stays as it is).
    `restored`: column -> (condition, value)."""
    if not joined.select(pl.any_horizontal([m for m, _ in restored.values()]).any()).item():
        return None
    listed = pl.col("suppressed").fill_null("").str.split(",")
    for column, (shown, _) in restored.items():
        listed = pl.when(shown).then(listed.list.set_difference([column])).otherwise(listed)
    names = listed.list.join(",")
    return joined.with_columns(
        *[pl.when(shown).then(value).otherwise(pl.col(c)).cast(frame.schema[c]).alias(c)
          for c, (shown, value) in restored.items()],
        pl.when(names != "").then(names).alias("suppressed")).select(frame.columns)


def _zeros_shown(public: dict[str, pl.DataFrame], out: dict[str, pl.DataFrame]
                 ) -> dict[str, pl.DataFrame]:
    """The public copies with every count of zero shown again where a rule withheld it (a
    secondary cell, a year's total of nothing): the disclosure audit takes zeros as always
    shown, as the public know them to be, and protects with cells of one or more."""
    from transforms.disclosure_model import COUNTS

    public = dict(public)
    for kpi in REGISTRY:
        name = _public(kpi.table)
        counts = [c for c in COUNTS.get(kpi.name, ()) if name in public
                  and c in public[name].columns]
        if not counts or kpi.table not in out or "suppressed" not in public[name].columns:
            continue
        frame, grain = public[name], list(kpi.grain)
        zero = out[kpi.table].select(*grain, *[(pl.col(c) == 0).alias(f"__zero_{c}")
                                               for c in counts])
        joined = frame.join(zero, on=grain, how="left", maintain_order="left")
        restored = _shown_again(frame, joined, {
            c: (pl.col(c).is_null() & pl.col(f"__zero_{c}").fill_null(False), pl.lit(0))
            for c in counts})
        if restored is not None:
            public[name] = restored
    return public
