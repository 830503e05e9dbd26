"""Load a DfE statistics file (published/) into stage.published, one row a figure.

A newer release of the same statistics replaces the years it covers (releases revise earlier
years); other kinds and years stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from transforms.published import is_ees, published_schema, recognise, tidy
from transforms.readers import FileRejected, read_raw
from transforms.validate import validate

if TYPE_CHECKING:
    from warehouse.loads import LandedFile, Prepared

TABLE = "stage.published"


def prepare_published(f: LandedFile) -> Prepared:
    from warehouse.loads import Prepared, Read, _periods

    try:
        raw = read_raw(f.path)
        columns = [c for c in raw.frame.columns if c != "row_number"]
        if not is_ees(columns):
            raise FileRejected("is not a DfE statistics file (it lacks time_period, "
                               "time_identifier or geographic_level)")
        if raw.frame.height == 0:
            raise FileRejected("has a header but no rows")
        v = validate(raw.frame, published_schema(columns), set())
    except FileRejected as e:
        return Prepared(f, rejection=str(e))
    lower = {c.strip().lower(): c for c in columns}

    def values(name: str) -> set[str]:
        col = lower.get(name)
        return set(v.good[col].drop_nulls().unique().to_list()) if col else set()

    kind = recognise(columns, values("time_identifier"), values("breakdown_topic"))
    staged = tidy(v.good, kind)
    read = Read(v, pl.concat([raw.problems, v.quarantine]), [], raw)
    return Prepared(f, TABLE, ("kind", "year"), read, staged,
                    period=f"{kind} " + (_periods(staged, ("year",)) or ""),
                    periods=[str(y) for y in sorted(staged["year"].unique().to_list())])
