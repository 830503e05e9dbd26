"""Reference lists shipped with the pipeline (warehouse/reference/)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

REFERENCE = Path(__file__).parent / "reference"


@cache
def local_authorities() -> pl.DataFrame:
    return pl.read_csv(REFERENCE / "region_la_hierarchy.csv", infer_schema=False)


def new_la_code(old_la_code: str) -> str | None:
    """`865` -> `E06000054` (None for a code the DfE list does not have)."""
    hit = local_authorities().filter(pl.col("old_la_code") == str(old_la_code).strip())
    return hit["new_la_code"][0] if hit.height else None


def region_code(new_code: str) -> str | None:
    hit = local_authorities().filter(pl.col("new_la_code") == new_code)
    return hit["region_code"][0] if hit.height else None


def statistical_neighbours(new_code: str, chosen: tuple[str, ...] | None = None) -> list[str]:
    """The LA's comparator LAs: those the LA chose (Settings.statistical_neighbours, from
    `$SENDBOARD_STATISTICAL_NEIGHBOURS`), else the list shipped in
    reference/statistical_neighbours.csv."""
    if chosen:
        return list(chosen)
    table = pl.read_csv(REFERENCE / "statistical_neighbours.csv", infer_schema=False)
    return table.filter(pl.col("new_la_code") == new_code)["neighbour_code"].to_list()
