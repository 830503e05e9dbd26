"""GIAS establishments, as pandera checks on the columns the pipeline uses."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.checks import is_date, matches
from schemas.contracts import ESTABLISHMENTS


def establishments_schema() -> pa.DataFrameSchema:
    rules = {
        "urn": [matches(r"^\d{6}$", "6 digits")],
        "la_code": [matches(r"^\d{3}$", "3 digits")],
        "statutory_low_age": [matches(r"^\d{1,2}$", "an age")],
        "statutory_high_age": [matches(r"^\d{1,2}$", "an age")],
        "ukprn": [matches(r"^\d{8}$", "8 digits")],
        "open_date": [is_date()],
        "close_date": [is_date()],
    }
    for c in ("resourced_provision_on_roll", "resourced_provision_capacity", "sen_unit_on_roll",
              "sen_unit_capacity"):
        rules[c] = [matches(r"^\d+$", "a whole number")]
    columns = {
        c.name: pa.Column(pl.Utf8, nullable=c.name not in ("urn", "la_code",
                                                           "type_of_establishment"),
                          checks=rules.get(c.name, []))
        for c in ESTABLISHMENTS.columns
    }
    return pa.DataFrameSchema(columns, name="establishments", strict=True)
