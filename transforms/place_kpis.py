"""Place sufficiency: commissioned places against EHCP pupils placed there."""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.calendar import january_census_day
from transforms.kpis import _pct, _stamp, open_on


def place_sufficiency(places: pl.DataFrame, plans: pl.DataFrame, placements: pl.DataFrame,
                      export_date: dt.date, source: str, as_of: dt.date) -> pl.DataFrame:
    """Funded places per school and provision in each financial year against the EHC plan
    holders attending on the January census day inside that year (2024-25: January 2025).

    Special and AP places count every plan placed at the URN; resourced provision and SEN
    unit places count the placements flagged as such. Years whose January is after the SEN2
    export have no pupil count yet.
    """
    years = places.select("financial_year").unique().with_columns(
        (pl.col("financial_year").str.slice(0, 4).cast(pl.Int32) + 1).alias("jan_year"))
    years = years.with_columns(pl.col("jan_year").map_elements(
        january_census_day, return_dtype=pl.Date).alias("census_date"))
    current = (open_on(plans.select("plan_id", "start_date", "cease_date"), years)
               .join(placements.filter(pl.col("placement_rank") == 1), on="plan_id")
               .filter((pl.col("entry_date") <= pl.col("census_date"))
                       & (pl.col("leaving_date").is_null()
                          | (pl.col("leaving_date") > pl.col("census_date")))))
    pupils = pl.concat([
        current.group_by("financial_year", "urn").agg(pl.len().alias("n")).with_columns(
            pl.lit(p).alias("provision")) for p in ("special", "ap")] + [
        current.filter(pl.col(flag)).group_by("financial_year", "urn").agg(
            pl.len().alias("n")).with_columns(pl.lit(p).alias("provision"))
        for p, flag in (("resourced_provision", "resourced_provision"),
                        ("sen_unit", "sen_unit"))])
    out = (places.join(years, on="financial_year")
           .join(pupils, on=["financial_year", "urn", "provision"], how="left")
           .with_columns(pl.when(pl.col("census_date") <= export_date)
                         .then(pl.col("n").fill_null(0)).cast(pl.Int64).alias("ehcp_pupils"))
           .with_columns(_pct("ehcp_pupils", "funded_places").alias("occupancy_pct"))
           .sort("financial_year", "provision", "urn"))
    return _stamp(out.select("financial_year", "urn", "provision", "funded_places",
                             "ehcp_pupils", "occupancy_pct", "census_date"),
                  "place-sufficiency", source, as_of)
