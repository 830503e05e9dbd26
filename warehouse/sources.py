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
from transforms.census import one_census, stage_census
from values.parse import parse_date, parse_int, parse_money
from warehouse import census_export, dfe_statistics, sen2_export
from warehouse.files import FileOutcome, LandedFile, Prepared, Read


@dataclass(frozen=True)
class Export:
    """How a source whose files load together (an export) is loaded: `key` says which
    export a file belongs to, `read` reads one file alone (its Read, its rejection, or None
    for a file that is no part of it), `load` checks the parts together and writes them
    (warehouse.sen2_export, warehouse.census_export)."""

    key: Callable[[LandedFile], str]
    read: Callable[[LandedFile], Read | str | None]
    load: Callable[..., list[FileOutcome]]


@dataclass(frozen=True)
class Source:
    """A kind of file a landing folder takes. Most are a file, a contract, a schema and a
    staging function; `prepare` replaces those for a file read its own way (the DfE's
    releases), `export` for files that load together."""

    name: str  # landing subfolder
    contract: Contract | None = None
    schema: Callable[[], pa.DataFrameSchema] | None = None
    stage: Callable[[pl.DataFrame, bytes], pl.DataFrame] | None = None  # text -> typed rows
    period_columns: tuple[str, ...] = ()  # () = the file replaces the whole table
    file_pattern: str = r".*"
    file_names: str = "any name"  # file_pattern in words, for messages
    file_check: Callable[[pl.DataFrame], str | None] | None = None  # whole-file rule
    # What a re-issued file replaces, when finer than its periods (files.Prepared).
    replace_columns: tuple[str, ...] | None = None
    prepare: Callable[[LandedFile], Prepared] | None = None
    export: Export | None = None
    # Which of a folder's layouts a file is, when the name cannot say (the census).
    accepts: Callable[[LandedFile], bool] | None = None

    @property
    def table(self) -> str | None:
        return self.contract.table if self.contract else None

    def takes(self, f: LandedFile) -> bool:
        return (re.search(self.file_pattern, f.name.lower()) is not None
                and (self.accepts is None or self.accepts(f)))


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
    "census": [
        Source("census", CENSUS, census_schema, stage_census, ("census_date",),
               file_check=one_census, replace_columns=("census_date", "laestab"),
               accepts=lambda f: not census_export.is_blade(f)),
        Source("census", CENSUS, period_columns=("census_date",),
               replace_columns=("census_date", "laestab"), accepts=census_export.is_blade,
               export=Export(census_export.export_key, census_export.read_table,
                             census_export.load_export)),
    ],
    "sen2": [Source("sen2", export=Export(sen2_export.export_key, sen2_export.read_module,
                                          sen2_export.load_export))],
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
    "published": [Source("published", prepare=dfe_statistics.prepare_release)],
}
FOLDERS = tuple(SOURCES)  # the landing folder's subfolders, one a source


def described(f: LandedFile) -> LandedFile:
    """A landed file with what its header says of it that its name cannot (a census
    file's Blade table), read once."""
    return census_export.with_layout(f) if f.source == "census" else f


def source_for(f: LandedFile) -> Source | None:
    """The source that takes a landed file, or None when its folder's sources take none."""
    return next((s for s in SOURCES.get(f.source, []) if s.takes(f)), None)
