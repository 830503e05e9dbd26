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
from warehouse import store

if TYPE_CHECKING:
    from warehouse.loads import FileOutcome, LandedFile, _Loader

TABLE = "stage.published"


def load_published(loader: _Loader, f: LandedFile) -> FileOutcome:
    from warehouse.loads import Read, _periods

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
        return loader.reject(f, str(e))
    lower = {c.strip().lower(): c for c in columns}

    def values(name: str) -> set[str]:
        col = lower.get(name)
        return set(v.good[col].drop_nulls().unique().to_list()) if col else set()

    kind = recognise(columns, values("time_identifier"), values("breakdown_topic"))
    staged = tidy(v.good, kind).with_columns(pl.lit(f.sha256).alias("sha256"))
    quarantine = pl.concat([raw.problems, v.quarantine])
    r = Read(v, quarantine, [], raw)
    period = f"{kind} " + (_periods(staged, ("year",)) or "")
    with store.transaction(loader.con):
        if staged.height:
            store.replace_periods(loader.con, TABLE, staged, ("kind", "year"))
        loader.record(f, r, v.good.height, period, TABLE,
                      [str(y) for y in sorted(staged["year"].unique().to_list())])
        if staged.height:
            store.supersede(loader.con, TABLE, f.name)
    return loader.outcome(f, r, v.good.height, period)
