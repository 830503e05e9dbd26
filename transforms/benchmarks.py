"""Comparators from the DfE's published statistics, and reconciliation of the LA's own
figures with what the DfE published for it."""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.kpis import _stamp

# measure name in kpi.benchmarks -> (kind of published file, published measure column).
PUBLISHED_MEASURES = {
    "ehcp_caseload": ("ehcp_caseload", "ehcplans"),
    "pct_mainstream": ("ehcp_caseload", "mainstream_total_pc"),
    "pct_special": ("ehcp_caseload", "special_total_pc"),
    "pct_fe": ("ehcp_caseload", "fe_total_pc"),
    "pct_ap_pru": ("ehcp_caseload", "ap_pru_total_pc"),
    "pct_educated_elsewhere": ("ehcp_caseload", "ed_elsewhere_pc"),
    "new_plans": ("ehcp_new_plans", "new_ehc_plans"),
    "plans_issued": ("ehcp_timeliness", "plans_issued_den"),
    "pct_within_20_weeks": ("ehcp_timeliness", "pc_plans_issued_within_20_weeks"),
    "pct_within_20_weeks_ex": ("ehcp_timeliness", "pc_plans_issued_20_weeks_ex"),
    "requests_received": ("ehcp_requests", "requests_received_in_year"),
    "ceased_plans": ("ehcp_ceased", "total_ceased"),
}
# SEN2 primary need codes; the DfE publishes each need's share of all plans as <code>_pc.
NEEDS = ("ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH", "SLCN", "SLD", "SPLD", "VI")
PUBLISHED_MEASURES |= {f"pct_need_{n.lower()}": ("ehcp_needs_all_plans", f"{n.lower()}_pc")
                       for n in NEEDS}


def headline_figures(published: pl.DataFrame) -> pl.DataFrame:
    """The all-plans rows (breakdown = its topic) of the measures above, one row a figure."""
    pairs = pl.DataFrame([{"measure_name": k, "kind": v[0], "measure": v[1]}
                          for k, v in PUBLISHED_MEASURES.items()])
    return (published.filter(pl.col("breakdown").is_null()
                             | (pl.col("breakdown") == pl.col("breakdown_topic")))
            .join(pairs, on=["kind", "measure"], how="inner"))


def benchmarks(published: pl.DataFrame, la_code: str, region_code: str | None,
               neighbours: list[str], source: str, as_of: dt.date) -> pl.DataFrame:
    """The LA against its region, England and its statistical neighbours (each neighbour, and
    their mean as geography `statistical_neighbours`)."""
    figures = headline_figures(published)
    national = figures.filter(pl.col("geographic_level") == "National").with_columns(
        pl.lit("E92000001").alias("geography_code"), pl.lit("England").alias("geography_name"),
        pl.lit("england").alias("comparison"))
    regional = figures.filter((pl.col("geographic_level") == "Regional")
                              & (pl.col("region_code") == region_code)).with_columns(
        pl.col("region_code").alias("geography_code"),
        pl.col("region_name").alias("geography_name"), pl.lit("region").alias("comparison"))
    las = figures.filter(pl.col("geographic_level") == "Local authority").with_columns(
        pl.col("new_la_code").alias("geography_code"), pl.col("la_name").alias("geography_name"))
    own = las.filter(pl.col("new_la_code") == la_code).with_columns(
        pl.lit("la").alias("comparison"))
    near = las.filter(pl.col("new_la_code").is_in(neighbours)).with_columns(
        pl.lit("statistical_neighbour").alias("comparison"))
    mean = near.group_by("year", "measure_name").agg(
        pl.col("value").mean().round(1), pl.len().alias("n")).with_columns(
        pl.lit("Statistical neighbours").alias("geographic_level"),
        pl.lit("statistical_neighbours").alias("geography_code"),
        pl.format("Mean of {} statistical neighbours", "n").alias("geography_name"),
        pl.lit("statistical_neighbours_mean").alias("comparison"))
    cols = ["year", "measure_name", "geographic_level", "geography_code", "geography_name",
            "comparison", "value"]
    out = pl.concat([f.select(cols) for f in (own, regional, national, near)]
                    + [mean.select(cols)]).rename({"measure_name": "measure"})
    order = {"la": 0, "region": 1, "england": 2, "statistical_neighbours_mean": 3,
             "statistical_neighbour": 4}
    out = out.sort(["measure", "year", pl.col("comparison").replace_strict(
        order, return_dtype=pl.Int8), "geography_code"])
    return _stamp(out, "benchmarks", source, as_of)


# Differences beyond these are flagged: counts by share of the published figure,
# percentages by percentage points.
COUNT_TOLERANCE = 0.02
PCT_TOLERANCE_POINTS = 2.0


def reconciliation(local: pl.DataFrame, published_la: pl.DataFrame, source: str,
                   as_of: dt.date) -> pl.DataFrame:
    """Local figures against published ones, per year and measure.

    `local`: year, measure, local_value, note. `published_la`: year, measure, value (the
    DfE's figure for this LA); measures present in one and not the other show with a blank.
    """
    joined = local.join(published_la.rename({"value": "published_value"}),
                        on=["year", "measure"], how="full", coalesce=True)
    pct = pl.col("measure").str.starts_with("pct_")
    diff = pl.col("local_value") - pl.col("published_value")
    tolerance = pl.when(pct).then(pl.lit(PCT_TOLERANCE_POINTS)).otherwise(
        (pl.col("published_value").abs() * COUNT_TOLERANCE).clip(lower_bound=1.0))
    out = joined.with_columns(diff.round(1).alias("difference"),
                              tolerance.round(1).alias("tolerance"))
    out = out.with_columns(
        (pl.col("difference").abs() > pl.col("tolerance")).fill_null(False).alias("flagged"),
        pl.when(pl.col("published_value").is_null() & pl.col("local_value").is_not_null())
        .then(pl.lit("not published for this year")).when(pl.col("local_value").is_null())
        .then(pl.lit("no local figure")).otherwise(pl.col("note")).alias("note"))
    return _stamp(out.select("year", "measure", "local_value", "published_value", "difference",
                             "tolerance", "flagged", "note").sort("measure", "year"),
                  "reconciliation", source, as_of)
