"""Recovery plan register, commissioned places and population estimates."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.checks import matches, one_of, row_rule
from schemas.contracts import PLACE_PROVISIONS
from schemas.finance import is_financial_year, is_money

_WHOLE = r"^\d+$"
_NUMBER = r"^-?\d+(\.\d+)?$"


def _unique(columns: list[str], what: str) -> pa.Check:
    return row_rule(columns[-1], f"repeats the {what} of another row",
                    ~pl.struct(columns).is_duplicated())


def recovery_plan_schema() -> pa.DataFrameSchema:
    text = pa.Column(pl.Utf8, nullable=True)
    return pa.DataFrameSchema({
        "project_id": pa.Column(pl.Utf8),
        "project_name": pa.Column(pl.Utf8),
        "theme": text,
        "financial_year": pa.Column(pl.Utf8, checks=[is_financial_year()]),
        "planned_saving_gbp": pa.Column(pl.Utf8, checks=[is_money()]),
        "actual_saving_gbp": pa.Column(pl.Utf8, nullable=True, checks=[is_money()]),
        "metric_name": text,
        "metric_baseline": pa.Column(pl.Utf8, nullable=True,
                                     checks=[matches(_NUMBER, "a number")]),
        "metric_target": pa.Column(pl.Utf8, nullable=True, checks=[matches(_NUMBER, "a number")]),
    }, checks=[_unique(["project_id", "financial_year"], "project and financial year")],
        name="recovery plan", strict=True)


def places_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "financial_year": pa.Column(pl.Utf8, checks=[is_financial_year()]),
        "urn": pa.Column(pl.Utf8, checks=[matches(r"^\d{6}$", "6 digits")]),
        "provision": pa.Column(pl.Utf8, checks=[one_of(PLACE_PROVISIONS, "provision")]),
        "funded_places": pa.Column(pl.Utf8, checks=[
            matches(_WHOLE, "a whole number of places, not negative")]),
    }, checks=[_unique(["financial_year", "urn", "provision"], "year, URN and provision")],
        name="places", strict=True)


def population_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "new_la_code": pa.Column(pl.Utf8, checks=[
            matches(r"^[EW]\d{8}$", "an ONS area code (e.g. E06000054)")]),
        "year": pa.Column(pl.Utf8, checks=[matches(r"^(19|20)\d{2}$", "a year")]),
        "age": pa.Column(pl.Utf8, checks=[matches(r"^([0-9]|[1-8][0-9]|90)$",
                                                  "an age from 0 to 90")]),
        "sex": pa.Column(pl.Utf8, nullable=True, checks=[one_of(["M", "F"], "sex code")]),
        "population": pa.Column(pl.Utf8, checks=[
            matches(_WHOLE, "a whole number of people, not negative")]),
    }, checks=[_unique(["new_la_code", "year", "age", "sex"], "area, year, age and sex")],
        name="population", strict=True)
