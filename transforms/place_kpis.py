"""Place sufficiency: commissioned places against EHCP pupils placed there."""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.calendar import january_census_day
from transforms.kpis import _pct, _stamp, open_on
from transforms.records import ALL, counted

PLACES = {"ehcp_pupils": ALL}
# The placements a provision's places count: every plan placed at the URN, or those placed
# in its resourced provision or SEN unit.
_PROVISION_FLAGS = {"special": None, "ap": None, "resourced_provision": "resourced_provision",
                    "sen_unit": "sen_unit"}


def _years(places: pl.DataFrame) -> pl.DataFrame:
    """Each financial year of the places with its January census day (2024-25: January
    2025)."""
    years = places.select("financial_year").unique().with_columns(
        (pl.col("financial_year").str.slice(0, 4).cast(pl.Int32) + 1).alias("jan_year"))
    return years.with_columns(pl.col("jan_year").map_elements(
        january_census_day, return_dtype=pl.Date).alias("census_date"))


def place_records(places: pl.DataFrame, plans: pl.DataFrame, placements: pl.DataFrame,
                  export_date: dt.date) -> pl.DataFrame:
    """kpi.place_sufficiency's records: each plan active on the January of a financial year
    of the places (up to the export) with its rank-1 placement attended that day, once for
    each provision whose places it counts (financial_year, urn, provision)."""
    years = _years(places).filter(pl.col("census_date") <= export_date)
    current = (open_on(plans, years)
               .join(placements.filter(pl.col("placement_rank") == 1), on="plan_id")
               .filter((pl.col("entry_date") <= pl.col("census_date"))
                       & (pl.col("leaving_date").is_null()
                          | (pl.col("leaving_date") > pl.col("census_date")))))
    return pl.concat([(current if flag is None else current.filter(pl.col(flag)))
                      .with_columns(pl.lit(provision).alias("provision"))
                      for provision, flag in _PROVISION_FLAGS.items()])


def place_sufficiency(places: pl.DataFrame, plans: pl.DataFrame, placements: pl.DataFrame,
                      export_date: dt.date, source: str, as_of: dt.date) -> pl.DataFrame:
    """Funded places per school and provision in each financial year against the EHC plan
    holders attending on the January census day inside that year (2024-25: January 2025).

    Special and AP places count every plan placed at the URN; resourced provision and SEN
    unit places count the placements flagged as such. Years whose January is after the SEN2
    export have no pupil count yet.
    """
    years = _years(places)
    pupils = place_records(places, plans.select("plan_id", "start_date", "cease_date"),
                           placements, export_date).group_by(
        "financial_year", "urn", "provision").agg(counted(PLACES)).rename(
        {"ehcp_pupils": "n"})
    out = (places.join(years, on="financial_year")
           .join(pupils, on=["financial_year", "urn", "provision"], how="left")
           .with_columns(pl.when(pl.col("census_date") <= export_date)
                         .then(pl.col("n").fill_null(0)).cast(pl.Int64).alias("ehcp_pupils"))
           .with_columns(_pct("ehcp_pupils", "funded_places").alias("occupancy_pct"))
           .sort("financial_year", "provision", "urn"))
    return _stamp(out.select("financial_year", "urn", "provision", "funded_places",
                             "ehcp_pupils", "occupancy_pct", "census_date"),
                  "place-sufficiency", source, as_of)
