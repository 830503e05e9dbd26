"""Typed, pseudonymised census rows from validated text rows."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from schemas.contracts import (
    ENROL_STATUSES,
    LEGACY_NEED_CODES,
    NC_YEARS,
    NEED_CODES,
    SEN_PROVISION,
)
from transforms.privacy import birth_year_month, pseudonymise
from values.parse import by_distinct, date_of, parse_bool, parse_date


def stage_census(good: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """Validated census rows as stage.census rows: no names, no full date of birth, no UPN.

    The code columns come out categorical: a text value takes 16 bytes a row (polars' string
    views) where a category code takes 4, which nationally is 1.1 GB less at the run's memory
    peak. Those with a fixed code list (the schema has checked every value is on it) are
    enums of that list, which DuckDB stores as ENUM columns: nationally 3 CPU-seconds less
    to write than text (`warehouse.core.census_rows` reads them back as text). Each is
    worked out once per distinct value (`by_distinct`): upper-casing 9 million one-letter
    codes a row at a time cost more than the rest of the typing."""
    text = good.get_column
    codes = {
        "la_number": _code(text("laestab"), lambda d: d.str.slice(0, 3)),
        "laestab": _code(text("laestab")),
        "sex": _code(text("sex"), _upper, SEXES),
        "nc_year": _code(text("nc_year_actual"), _upper, NC_YEARS),
        "enrol_status": _code(text("enrol_status"), _upper, ENROL_STATUSES),
        "sen_provision": _code(text("sen_provision"),
                               lambda d: _upper(d).replace_strict(SEN_PROVISION), PROVISIONS),
        "sen_provision_code": _code(text("sen_provision"), _upper, tuple(SEN_PROVISION)),
        "primary_need": _code(text("primary_sen_need"), _need, NEED_CODES),
        "secondary_need": _code(text("secondary_sen_need"), _need, NEED_CODES),
    }
    typed = good.select(
        "row_number",
        date_of(good, "census_date").alias("census_date"),
        pl.col("urn").cast(pl.Int32).alias("urn"),
        "upn",
        *birth_year_month(date_of(good, "date_of_birth")),
        parse_bool("fsm_eligible").alias("fsm_eligible"),
    ).with_columns(**codes).select(
        "row_number", "census_date", "la_number", "laestab", "urn", "upn", "birth_year",
        "birth_month", "sex", "nc_year", "enrol_status", "sen_provision", "sen_provision_code",
        "primary_need", "secondary_need", "fsm_eligible")
    # When the caller holds no other reference (warehouse.loads.prepare hands the text over
    # with Read.take_good), it goes here, before the pseudonyms are made.
    del good, text
    return pseudonymise(typed, {"upn": "pupil_id"}, key)


# The code lists of the census's enum columns, as staged (SEN provision mapped to E, K, N;
# legacy need codes to today's).
SEXES = ("M", "F")
PROVISIONS = tuple(sorted(set(SEN_PROVISION.values())))


def _code(values: pl.Series, work: Callable[[pl.Series], pl.Series] = lambda d: d,
          codes: tuple[str, ...] | None = None) -> pl.Series:
    kind = pl.Enum(codes) if codes else pl.Categorical
    return by_distinct(values, lambda distinct: work(distinct).cast(kind))


def _upper(text: pl.Series) -> pl.Series:
    return text.str.to_uppercase()


def _need(text: pl.Series) -> pl.Series:
    return text.str.to_uppercase().replace(LEGACY_NEED_CODES)


# A census file holds one census. A few rows dated otherwise are typos (quarantined by the
# schema); when no date holds a majority of the rows, no census date can be trusted.
ONE_CENSUS_SHARE = 0.5


def one_census(frame: pl.DataFrame) -> str | None:
    """Why a census file (its text rows) cannot be one census, or None when it is."""
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
