"""The records behind a KPI's numbers. A count table's function in transforms/ first builds
the frame of its records (a row a plan, request, pupil row or ledger line, with the columns
that put it in a row of the table) and then aggregates that frame with its `Count`s;
`sendboard explain` (warehouse/explain.py) filters the same frame with the same `Count`s, so
that the records it lists cannot drift from the number they explain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Count:
    """A column of a KPI table as the records behind it: those `where` selects (every one
    when None), counted, or with `sums` that column of theirs added up (money), or with
    `distinct_of` the distinct values of that column among them counted (pupils, when a
    pupil has several records)."""

    where: pl.Expr | None = None
    sums: str | None = None
    distinct_of: str | None = None

    def selects(self) -> pl.Expr:
        """The filter of the records it counts (a null test counts as not selected, as a sum
        of booleans leaves nulls out)."""
        return pl.lit(True) if self.where is None else self.where.fill_null(False)

    def agg(self, name: str) -> pl.Expr:
        """The aggregation in a group_by: how many records it selects (or distinct values
        of theirs), or their sum."""
        if self.sums is not None:
            return pl.col(self.sums).filter(self.selects()).sum().alias(name)
        if self.distinct_of is not None:
            return self.distinct(name, self.distinct_of)
        if self.where is None:
            return pl.len().cast(pl.Int64).alias(name)
        return self.where.sum().cast(pl.Int64).alias(name)

    def distinct(self, name: str, key: str) -> pl.Expr:
        """How many distinct `key`s the records it selects hold."""
        column = pl.col(key) if self.where is None else pl.col(key).filter(self.where)
        return column.n_unique().cast(pl.Int64).alias(name)


def counted(counts: Mapping[str, Count]) -> list[pl.Expr]:
    """Every count's aggregation, named after its column."""
    return [count.agg(name) for name, count in counts.items()]


ALL = Count()  # every record of the row
