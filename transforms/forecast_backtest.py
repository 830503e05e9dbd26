"""Backtest of the demand model on the DfE's published EHC plan statistics, for every LA.

The published files give, per LA, the January caseload, new plans per calendar year and
requests per calendar year: the demand model collapsed to one state (on a plan or not).
Fitted on the Januaries up to `fit_until` exactly as transforms/forecast.fit fits an LA's own
data (leaver rate from the last FIT_YEARS pairs of Januaries, joiners per request two years
before, request growth from the last two years), it forecasts the following Januaries and is
scored against what was published, beside the naive forecast "last year's growth continues".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from transforms.benchmarks import PUBLISHED_MEASURES, headline_figures
from transforms.forecast import (
    CONVERSION_SPREAD_FLOOR,
    FIT_YEARS,
    LEAVE_SPREAD_FLOOR,
    conversion,
    draw_around,
    request_trend,
    yearly_conversions,
)
from transforms.published import (
    BREAKDOWN_FILTERS,
    FILTER_COLUMNS,
    csv_header,
    is_ees,
    recognise,
    tidy,
)
from transforms.readers import read_raw

# series -> the measure of kpi.benchmarks it is (transforms.benchmarks.PUBLISHED_MEASURES).
SERIES = {"caseload": "ehcp_caseload", "new_plans": "new_plans",
          "requests": "requests_received"}


def _release_rows(folder: Path) -> pl.DataFrame:
    """Tidy rows of the files in a release folder that hold one of the series, recognised
    by their headers as the pipeline recognises them (their names do not matter)."""
    wanted: dict[str, set[str]] = {}
    for name in SERIES.values():
        for kind, measure, _ in PUBLISHED_MEASURES[name]:
            wanted.setdefault(kind, set()).add(measure)
    frames = []
    for path in sorted(folder.glob("*.csv")):
        header = csv_header(path)
        kind = recognise(header, set())
        if is_ees(header) and kind in wanted:
            raw = read_raw(path).frame.filter(pl.col("geographic_level") == "Local authority")
            # Only the series' own columns: the rest of a release is millions of figures.
            keep = [c for c in raw.columns if c == "row_number" or c.strip().lower() in (
                wanted[kind] | set(FILTER_COLUMNS) | set(BREAKDOWN_FILTERS))]
            frames.append(tidy(raw.select(keep), kind))
    if not frames:
        raise FileNotFoundError(f"{folder}: the backtest needs the DfE release's caseload, new "
                                "plans and requests files")
    return pl.concat(frames, how="diagonal_relaxed")


def published_series(release: Path) -> pl.DataFrame:
    """la, la_name, series, year, value from a release's LA rows: a folder of the release's
    CSVs (any layout, read as the pipeline reads EES files: transforms.published) or the
    tidy rows shipped with sendboard (warehouse/reference/*.parquet). Caseload years are
    Januaries (2024/25 -> 2025); new plans and requests are calendar years; symbols are
    null."""
    if release.is_dir():
        rows = _release_rows(release)
    elif release.is_file():
        rows = pl.read_parquet(release).filter(pl.col("geographic_level") == "Local authority")
    else:
        raise FileNotFoundError(f"{release}: no DfE release there (a folder of its CSVs, or "
                                "the Parquet shipped in warehouse/reference/)")
    figures = headline_figures(rows.filter(pl.col("geographic_level") == "Local authority"))
    names = {v: k for k, v in SERIES.items()}
    return figures.filter(pl.col("measure_name").is_in(list(names))).select(
        pl.col("new_la_code").alias("la"), "la_name",
        pl.col("measure_name").replace_strict(names).alias("series"), "year", "value",
    ).drop_nulls("value").sort("series", "la", "year")


def stock_flow(caseload: dict[int, float], new_plans: dict[int, float],
               requests: dict[int, float], fit_until: int, years: list[int],
               sims: int = 0, seed: int = 2022) -> dict[int, float | tuple[float, ...]]:
    """The one-state demand model: C(y) = C(y-1) x (1 - leaver rate) + joiners(y), joiners
    into January y = conversion x requests(y - 2). sims=0: the expected path; else
    (p10, p50, p90) per year from simulations drawn as the LA model draws them: leaver rate
    and conversion around their yearly values' spread, binomial leavers, Poisson joiners,
    request growth with its spread."""
    pairs = [y for y in sorted(caseload) if y < fit_until and y + 1 in caseload
             and y in new_plans][-FIT_YEARS:]
    rates = [(caseload[y] + new_plans[y] - caseload[y + 1]) / caseload[y] for y in pairs]
    leave = float(np.mean(rates))
    # New plans in calendar year y - 1 are the joiners into January y.
    joiners = {y + 1: v for y, v in new_plans.items() if y + 1 <= fit_until}
    known = {y: v for y, v in requests.items() if y < fit_until}
    rate = conversion(joiners, known)
    growth, spread = request_trend(known, fit_until)
    last = max(known)
    if not sims:
        out, stock = {}, caseload[fit_until]
        for y in years:
            lead = known.get(y - 2, known[last] * (1 + growth) ** (y - 2 - last))
            stock = stock * (1 - leave) + rate * lead
            out[y] = stock
        return out
    rng = np.random.default_rng(seed)
    leave_s = np.clip(draw_around(rng, rates, LEAVE_SPREAD_FLOOR, sims), 0.0, 1.0)
    rate_s = draw_around(rng, yearly_conversions(joiners, known), CONVERSION_SPREAD_FLOOR,
                         sims, rate)
    stock = np.full(sims, round(caseload[fit_until]), dtype=np.int64)
    req = np.full(sims, float(known[last]))
    out = {}
    for y in years:
        if y - 2 in known:
            lead = np.full(sims, float(known[y - 2]))
        else:
            req = req * np.exp(np.log1p(growth) + rng.normal(0, spread, sims))
            lead = req
        stock = stock - rng.binomial(stock, leave_s) + rng.poisson(rate_s * lead)
        out[y] = tuple(float(v) for v in np.percentile(stock, (10, 50, 90)))
    return out


def naive(caseload: dict[int, float], fit_until: int, years: list[int]) -> dict[int, float]:
    growth = caseload[fit_until] / caseload[fit_until - 1]
    return {y: caseload[fit_until] * growth ** (y - fit_until) for y in years}


def backtest(series: pl.DataFrame, fit_until: int = 2022,
             years: tuple[int, ...] = (2023, 2024, 2025)) -> pl.DataFrame:
    """Per LA and forecast year: actual, model and naive forecasts and their absolute
    percentage errors. LAs missing a figure the fit or the score needs are left out."""
    rows = []
    for (la, name), group in series.group_by("la", "la_name"):
        data = {s: dict(zip(g["year"], g["value"], strict=True))
                for (s,), g in group.group_by("series")}
        case, new, req = (data.get(k, {}) for k in ("caseload", "new_plans", "requests"))
        needed = ([case.get(y) for y in range(fit_until - FIT_YEARS, fit_until + 1)]
                  + [new.get(y) for y in range(fit_until - FIT_YEARS, fit_until)]
                  + [req.get(y) for y in range(fit_until - 3, fit_until)]
                  + [case.get(y) for y in years])
        if any(v is None or v <= 0 for v in needed):
            continue
        model, simple = stock_flow(case, new, req, fit_until, list(years)), naive(
            case, fit_until, list(years))
        band = stock_flow(case, new, req, fit_until, list(years), sims=1000)
        for y in years:
            rows.append((la, name, y, case[y], model[y], simple[y], band[y][0], band[y][2]))
    out = pl.DataFrame(rows, schema={"la": pl.Utf8, "la_name": pl.Utf8, "year": pl.Int32,
                                     "actual": pl.Float64, "model": pl.Float64,
                                     "naive": pl.Float64, "model_p10": pl.Float64,
                                     "model_p90": pl.Float64}, orient="row")
    return out.with_columns(
        *((100 * (pl.col(k) - pl.col("actual")).abs() / pl.col("actual")).alias(f"ape_{k}")
          for k in ("model", "naive"))).sort("la", "year")


def summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Median absolute percentage error per forecast year and over all years, model against
    naive, with the share of LAs where the model was closer."""
    def agg(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.agg(pl.len().alias("forecasts"),
                         pl.col("ape_model").median().round(2).alias("mdape_model"),
                         pl.col("ape_naive").median().round(2).alias("mdape_naive"),
                         (100 * (pl.col("ape_model") < pl.col("ape_naive")).mean()).round(1)
                         .alias("pct_model_closer"),
                         (100 * pl.col("actual").is_between("model_p10", "model_p90").mean())
                         .round(1).alias("pct_in_p10_p90"))
    by_year = agg(scores.group_by(pl.col("year").cast(pl.Utf8).alias("horizon"))).sort(
        "horizon")
    return pl.concat([by_year, agg(scores.with_columns(pl.lit("all").alias("horizon"))
                                   .group_by("horizon"))])
