"""Stage -> core -> kpi: rebuild the derived tables from what is staged, in one transaction.

Derived tables are always rebuilt whole from staging, so a run's result depends only on the
files loaded, never on the order or number of runs that loaded them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from schemas.contracts import SEN2_MODULES
from transforms import kpis
from transforms.placement_groups import establishment_groups
from transforms.sen2 import core_needs, core_placements, core_plans, core_requests
from warehouse import store
from warehouse.reference import new_la_code

log = logging.getLogger(__name__)

KPI_TABLES = ("kpi.ehcp_caseload", "kpi.ehcp_new_plans", "kpi.sen_prevalence")


class NothingToBuild(RuntimeError):
    """The warehouse lacks a source the KPIs need; the message says which."""


@dataclass(frozen=True)
class BuildResult:
    as_of: dt.date
    export_date: dt.date
    tables: dict[str, int]  # table -> rows


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


def _sen2_stage(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, pl.DataFrame], dt.date, str]:
    reason = missing_sources(con)
    if reason:
        raise NothingToBuild(reason)
    export = con.execute("SELECT max(export_date) FROM stage.sen2_namedplan").fetchall()[0][0]
    stage = {module: store.read(con, f"SELECT * FROM stage.sen2_{module} WHERE export_date = ?",
                                [export]) for module in SEN2_MODULES}
    shas = sorted(set(stage["namedplan"]["sha256"].to_list()))
    return stage, export, f"SEN2 export {export} ({', '.join(s[:12] for s in shas)})"


def rebuild(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> BuildResult:
    stage, export, sen2_source = _sen2_stage(con)
    establishments = (store.read(con, "SELECT * FROM stage.establishments")
                      if store.table_exists(con, "stage.establishments") else None)
    groups = (establishment_groups(establishments) if establishments is not None else
              pl.DataFrame(schema={"urn": pl.Int32, "type_of_establishment": pl.Utf8,
                                   "placement_group": pl.Utf8}))
    plans = core_plans(stage)
    placements = core_placements(stage, plans, groups)
    needs = core_needs(stage, plans)
    requests = core_requests(stage)

    census = (store.read(con, "SELECT * FROM stage.census")
              if store.table_exists(con, "stage.census") else None)
    population = None
    if store.table_exists(con, "stage.population"):
        lea = stage["sen2"]["lea"].drop_nulls().to_list()
        code = new_la_code(lea[0]) if lea else None
        population = kpis.population_0_25(store.read(con, "SELECT * FROM stage.population"),
                                          code)
    as_of = as_of or max([export, *([census["census_date"].max()] if census is not None
                                    else [])])

    out: dict[str, pl.DataFrame] = {
        "core.ehc_plans": plans.drop("activeplanstableid"),
        "core.ehc_placements": placements,
        "core.ehc_needs": needs,
        "core.ehc_requests": requests,
        "kpi.ehcp_caseload": kpis.ehcp_caseload(plans, export, population, sen2_source, as_of),
        "kpi.ehcp_new_plans": kpis.ehcp_new_plans(plans, export, sen2_source, as_of),
    }
    if census is not None:
        files = con.execute("SELECT count(*) FROM audit.files WHERE source = 'census' AND "
                            "status = 'loaded'").fetchall()[0][0]
        out["kpi.sen_prevalence"] = kpis.sen_prevalence(
            census, establishments, f"school census ({files} censuses)", as_of)
    if establishments is not None:
        out["core.establishments"] = establishments.drop("sha256", "row_number").join(
            groups.select("urn", "placement_group"), on="urn", how="left")
    with store.transaction(con):
        for table, frame in out.items():
            store.write_table(con, table, frame)
        if store.table_exists(con, "stage.published"):
            # 3.6 million figures for one release: a view, not a copy.
            con.execute("CREATE OR REPLACE VIEW core.published_statistics AS "
                        "SELECT * FROM stage.published")
    return BuildResult(as_of, export, {t: f.height for t, f in out.items()})
