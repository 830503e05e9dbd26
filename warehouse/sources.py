"""Every source the pipeline loads: its contract, schema, staging and what a period is.

A re-issued extract replaces the rows of the periods it covers and only those: the census
the (census date, school) pairs it holds, so that several files for one census day add up;
the ledger the financial years in it, population its area-years. GIAS is a snapshot: the
newest extract replaces the last.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.census import census_schema
from schemas.contracts import (
    CENSUS,
    DSG,
    ESTABLISHMENTS,
    HNB_LEDGER,
    PLACES,
    POPULATION,
    RECOVERY_PLAN,
    Contract,
)
from schemas.establishments import establishments_schema
from schemas.finance import dsg_schema, ledger_schema
from schemas.planning import places_schema, population_schema, recovery_plan_schema
from transforms.census import stage_census
from transforms.parse import parse_date, parse_int, parse_money


@dataclass(frozen=True)
class Source:
    name: str  # landing subfolder
    contract: Contract
    schema: Callable[[], pa.DataFrameSchema]
    stage: Callable[[pl.DataFrame, bytes], pl.DataFrame]  # good text rows -> typed rows
    period_columns: tuple[str, ...]  # () = the file replaces the whole table (a snapshot)
    file_pattern: str = r".*"
    file_names: str = "any name"  # file_pattern in words, for messages
    file_check: Callable[[pl.DataFrame], str | None] | None = None  # whole-file rule
    # What a re-issued file replaces, when finer than its periods (loads.Prepared).
    replace_columns: tuple[str, ...] | None = None

    @property
    def table(self) -> str:
        return self.contract.table

    def takes(self, file_name: str) -> bool:
        return re.search(self.file_pattern, file_name.lower()) is not None


# A census file holds one census. A few rows dated otherwise are typos (quarantined by the
# schema); when no date holds a majority of the rows, no census date can be trusted.
ONE_CENSUS_SHARE = 0.5


def _one_census(frame: pl.DataFrame) -> str | None:
    # Counted as written first (a census is millions of rows of one or two texts), then the
    # few distinct texts parsed: `2026-01-15` and `15/01/2026` are one census day.
    written = frame.group_by("census_date", maintain_order=True).len("n")
    dates = written.with_columns(parse_date("census_date").alias("day")).drop_nulls("day") \
        .group_by("day").agg(pl.col("n").sum(), pl.col("census_date").first().alias("as_written"))
    if dates.height < 2 or dates["n"].max() > ONE_CENSUS_SHARE * dates["n"].sum():
        return None
    shown = ", ".join(f"{r['as_written']} ({r['n']} rows)" for r in
                      dates.sort("n", "day", descending=[True, False]).iter_rows(named=True))
    return f"holds more than one census date ({shown}): a file must hold one census"


def _stage_establishments(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    ints = ["statutory_low_age", "statutory_high_age", "resourced_provision_on_roll",
            "resourced_provision_capacity", "sen_unit_on_roll", "sen_unit_capacity"]
    return good.select(
        "row_number", parse_int("urn").cast(pl.Int32).alias("urn"), "la_code", "la_name",
        "establishment_number", "establishment_name", "type_of_establishment",
        "establishment_type_group", "establishment_status", "phase_of_education",
        *[parse_int(c).cast(pl.Int32).alias(c) for c in ints], "ukprn",
        # GIAS writes "Not applicable" where a school has no resourced provision.
        pl.col("type_of_resourced_provision").replace("Not applicable", None),
        parse_date("open_date").alias("open_date"), parse_date("close_date").alias("close_date"))


def _stage_ledger(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    return good.select(
        "row_number", "financial_year", parse_int("period").cast(pl.Int8).alias("period"),
        "s251_line", "cost_centre", "description",
        parse_int("provider_urn").cast(pl.Int32).alias("provider_urn"),
        pl.col("entry_type").str.to_lowercase(), parse_money("amount_gbp").alias("amount_gbp"))


def _stage_dsg(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    return good.select(
        "row_number", "financial_year",
        *[parse_money(c).alias(c) for c in ("high_needs_block_gbp", "block_transfer_gbp",
                                            "opening_cumulative_balance_gbp")])


def _stage_recovery_plan(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    return good.select(
        "row_number", "project_id", "project_name", "theme", "financial_year",
        parse_money("planned_saving_gbp").alias("planned_saving_gbp"),
        parse_money("actual_saving_gbp").alias("actual_saving_gbp"), "metric_name",
        pl.col("metric_baseline").cast(pl.Float64), pl.col("metric_target").cast(pl.Float64))


def _stage_places(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    return good.select(
        "row_number", "financial_year", parse_int("urn").cast(pl.Int32).alias("urn"),
        pl.col("provision").str.to_lowercase(),
        parse_int("funded_places").cast(pl.Int32).alias("funded_places"))


def _stage_population(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    return good.select(
        "row_number", "new_la_code", parse_int("year").cast(pl.Int32).alias("year"),
        parse_int("age").cast(pl.Int32).alias("age"), pl.col("sex").str.to_uppercase(),
        parse_int("population").alias("population"))


SOURCES: dict[str, list[Source]] = {
    "establishments": [Source("establishments", ESTABLISHMENTS, establishments_schema,
                              _stage_establishments, ())],
    "census": [Source("census", CENSUS, census_schema, stage_census, ("census_date",),
                      file_check=_one_census, replace_columns=("census_date", "laestab"))],
    "finance": [
        Source("finance", HNB_LEDGER, ledger_schema, _stage_ledger, ("financial_year",),
               HNB_LEDGER.file_pattern, "names starting hnb_ledger"),
        Source("finance", DSG, dsg_schema, _stage_dsg, ("financial_year",), DSG.file_pattern,
               "names starting dsg"),
    ],
    "recovery_plan": [Source("recovery_plan", RECOVERY_PLAN, recovery_plan_schema,
                             _stage_recovery_plan, ("financial_year",))],
    "places": [Source("places", PLACES, places_schema, _stage_places, ("financial_year",))],
    "population": [Source("population", POPULATION, population_schema, _stage_population,
                          ("new_la_code", "year"))],
}


def source_for(folder: str, file_name: str) -> Source | None:
    return next((s for s in SOURCES.get(folder, []) if s.takes(file_name)), None)
