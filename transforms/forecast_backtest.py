"""Backtest of the demand model on the DfE's published EHC plan statistics, for every LA.

The published files give, per LA and for England, the January caseload, new plans per
calendar year and requests per calendar year: the demand model collapsed to one state (on a
plan or not). At every origin the loaded releases allow, each LA's rates are fitted exactly as
transforms/forecast.fit fits an LA's own data (transforms.forecast.one_state_rates: leaver rate,
conversion of requests into plans, request growth), pooled towards England's
(transforms.forecast.pool_rates), projected 1-3 Januaries ahead and scored against what was
published, beside the naive forecast "last year's growth continues".

Each origin is fitted on the figures as they were known then, as near as the loaded releases
allow: for each figure the newest release published by the origin's January, else the
earliest later release that has it. The actuals are the newest release's. So a release
loaded beside the 2025 one scores the forecast made from the 2025 release against its own
January.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.benchmarks import PUBLISHED_MEASURES, headline_figures
from transforms.dfe_statistics import (
    BREAKDOWN_FILTERS,
    FILTER_COLUMNS,
    csv_header,
    is_ees,
    recognise,
    release_of,
    tidy,
)
from transforms.forecast import (
    OneState,
    one_state_bands,
    one_state_path,
    one_state_rates,
    pool_rates,
)
from transforms.readers import read_raw

# series -> the measure of kpi.benchmarks it is (transforms.benchmarks.PUBLISHED_MEASURES).
SERIES = {"caseload": "ehcp_caseload", "new_plans": "new_plans",
          "requests": "requests_received"}
ENGLAND = "E92000001"
HORIZONS = (1, 2, 3)
LEVELS = ("National", "Local authority")
BAND_SIMS = 1000


def _release_rows(folder: Path) -> pl.DataFrame:
    """Tidy rows, with their `release`, of the files under a folder (subfolders too: a
    release zip unpacks into data/) that hold one of the series, recognised by their headers
    as the pipeline recognises them (their names do not matter)."""
    wanted: dict[str, set[str]] = {}
    for name in SERIES.values():
        for kind, measure, _ in PUBLISHED_MEASURES[name]:
            wanted.setdefault(kind, set()).add(measure)
    frames = []
    for path in sorted(folder.rglob("*.csv")):
        header = csv_header(path)
        kind = recognise(header, set())
        if is_ees(header) and kind in wanted:
            raw = read_raw(path).frame.filter(pl.col("geographic_level").is_in(LEVELS))
            # Only the series' own columns: the rest of a release is millions of figures.
            keep = [c for c in raw.columns if c == "row_number" or c.strip().lower() in (
                wanted[kind] | set(FILTER_COLUMNS) | set(BREAKDOWN_FILTERS))]
            rows = tidy(raw.select(keep), kind)
            frames.append(rows.with_columns(pl.lit(release_of(rows), pl.Int32)
                                            .alias("release")))
    if not frames:
        raise FileNotFoundError(f"{folder}: the backtest needs the DfE release's caseload, new "
                                "plans and requests files")
    return pl.concat(frames, how="diagonal_relaxed")


def _rows(release: Path) -> pl.DataFrame:
    if release.is_dir():
        return _release_rows(release)
    if release.is_file():
        return pl.read_parquet(release)  # series_of keeps the national and LA rows
    raise FileNotFoundError(f"{release}: no DfE release there (a folder of its CSVs, or the "
                            "Parquet shipped in warehouse/reference/)")


def published_series(*releases: Path) -> pl.DataFrame:
    """la, la_name, series, year, value, release: every loaded release's figure for each LA
    (and England, la E92000001) and year, one row a release that has it, newest release
    first. `releases`: folders of a release's CSVs (any layout, read as the pipeline reads
    EES files: transforms.dfe_statistics) or the tidy rows shipped with sendboard
    (warehouse/reference/*.parquet). Caseload years are Januaries (2024/25 -> 2025); new
    plans and requests are calendar years; symbols, and zeros (a count not collected yet:
    requests in 2014-2015), are left out."""
    if not releases:
        raise ValueError("published_series needs at least one release")
    return series_of(pl.concat([_rows(Path(r)) for r in releases], how="diagonal_relaxed"))


def series_of(rows: pl.DataFrame) -> pl.DataFrame:
    """published_series of tidy rows of any number of releases, each with its `release`
    (and `shipped`, when the rows hold the copy shipped with sendboard beside a landed one:
    headline_figures prefers the landed)."""
    # A release of no known year (staged before sendboard told releases apart) cannot be
    # placed before or after an origin, so it is not fitted on.
    rows = rows.filter(pl.col("geographic_level").is_in(LEVELS), pl.col("release").is_not_null())
    names = {v: k for k, v in SERIES.items()}
    frames = []
    # Each release's headline figures on their own, so that every release's figure for a
    # year stays (as_known_at picks the one known at an origin).
    for (release,), part in rows.group_by("release", maintain_order=True):
        figures = headline_figures(part)
        frames.append(figures.filter(pl.col("measure_name").is_in(list(names))).select(
            pl.when(pl.col("geographic_level") == "National").then(pl.lit(ENGLAND))
            .otherwise(pl.col("new_la_code")).alias("la"),
            pl.when(pl.col("geographic_level") == "National").then(pl.lit("England"))
            .otherwise(pl.col("la_name")).alias("la_name"),
            pl.col("measure_name").replace_strict(names).alias("series"), "year", "value",
            pl.lit(release, pl.Int32).alias("release")))
    if not frames:
        return pl.DataFrame(schema={"la": pl.Utf8, "la_name": pl.Utf8, "series": pl.Utf8,
                                    "year": pl.Int32, "value": pl.Float64,
                                    "release": pl.Int32})
    out = pl.concat(frames).filter(pl.col("value") > 0)
    return out.unique(["la", "series", "year", "release"], keep="first").sort(
        "series", "la", "year", pl.col("release"), descending=[False, False, False, True])


def as_known_at(series: pl.DataFrame, origin: int | None) -> pl.DataFrame:
    """One figure per (la, series, year): the newest release published by the origin's
    January (reporting year <= origin), else the earliest later one; origin None: the
    newest release (the actuals)."""
    if origin is None:
        rank = -pl.col("release")
    else:
        rank = pl.when(pl.col("release") <= origin).then(origin - pl.col("release")).otherwise(
            pl.col("release") - origin + 1000)
    return series.sort(rank, maintain_order=True).unique(
        ["la", "series", "year"], keep="first", maintain_order=True).sort("series", "la", "year")


def _by_area(series: pl.DataFrame) -> dict[str, dict[str, dict[int, float]]]:
    out: dict[str, dict[str, dict[int, float]]] = {}
    for la, s, y, v in series.select("la", "series", "year", "value").iter_rows():
        out.setdefault(la, {}).setdefault(s, {})[y] = v
    return out


def origins(series: pl.DataFrame, horizons: tuple[int, ...] = HORIZONS) -> list[int]:
    """Every fit year whose caseload, the year before's and the two years' requests before
    it are published for some LA, with an actual at least one horizon on."""
    have = {(s, y) for s, y in series.filter(pl.col("la") != ENGLAND).select(
        "series", "year").unique().iter_rows()}
    years = sorted(y for s, y in have if s == "caseload")
    return [t for t in years if ("caseload", t - 1) in have and ("new_plans", t - 1) in have
            and ("requests", t - 1) in have and ("requests", t - 2) in have
            and any(("caseload", t + h) in have for h in horizons)]


def naive(caseload: dict[int, float], fit_until: int, years: list[int]) -> dict[int, float]:
    growth = caseload[fit_until] / caseload[fit_until - 1]
    return {y: caseload[fit_until] * growth ** (y - fit_until) for y in years}


def fit_area(figures: dict[str, dict[int, float]], fit_until: int,
             england: OneState | None) -> OneState | None:
    """The LA's one-state rates at the origin, pooled towards England's; None when it lacks
    a figure the model needs."""
    own = one_state_rates(figures.get("caseload", {}), figures.get("new_plans", {}),
                          figures.get("requests", {}), fit_until)
    if own is None:
        return None
    return pool_rates(own, england) if england is not None else own


SCHEMA = {"la": pl.Utf8, "la_name": pl.Utf8, "fit_until": pl.Int32, "horizon": pl.Int32,
          "year": pl.Int32, "actual": pl.Float64, "model": pl.Float64, "naive": pl.Float64,
          "model_p10": pl.Float64, "model_p90": pl.Float64}


def backtest(series: pl.DataFrame, fit_until: int | list[int] | None = None,
             horizons: tuple[int, ...] = HORIZONS, sims: int = BAND_SIMS) -> pl.DataFrame:
    """Per LA, origin (fit_until) and horizon: the actual, the model's and the naive
    forecasts, the model's p10 and p90, and both absolute percentage errors. `fit_until`:
    one origin, several, or every origin the series allow (origins()). Each LA is scored
    once per origin and horizon; LAs missing a figure the fit or the score needs are left
    out of that origin."""
    chosen = (origins(series, horizons) if fit_until is None
              else [fit_until] if isinstance(fit_until, int) else list(fit_until))
    actual = _by_area(as_known_at(series, None))
    names = dict(series.select("la", "la_name").unique("la", keep="first").iter_rows())
    rows = []
    for t in chosen:
        known = _by_area(as_known_at(series.filter(pl.col("year") <= t), t))
        eng = known.get(ENGLAND)
        england = (one_state_rates(eng.get("caseload", {}), eng.get("new_plans", {}),
                                   eng.get("requests", {}), t) if eng else None)
        for la in sorted(known):
            figures = known[la]
            case = figures.get("caseload", {})
            if la == ENGLAND or not case.get(t) or not case.get(t - 1):
                continue
            years = [t + h for h in horizons if actual.get(la, {}).get("caseload", {})
                     .get(t + h)]
            rates = fit_area(figures, t, england) if years else None
            if rates is None:
                continue
            model = one_state_path(rates, years)
            band = one_state_bands(rates, years, sims=sims, seed=t)
            simple = naive(case, t, years)
            for y in years:
                rows.append((la, names.get(la), t, y - t, y, actual[la]["caseload"][y],
                             model[y], simple[y], band[y][0], band[y][2]))
    out = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    return out.with_columns(
        *((100 * (pl.col(k) - pl.col("actual")).abs() / pl.col("actual")).alias(f"ape_{k}")
          for k in ("model", "naive"))).sort("fit_until", "la", "year")


TRACK_RECORD_COLUMNS = ("fit_until", "horizon", "year", "actual", "model", "model_p10",
                        "model_p90", "naive", "ape_model", "ape_naive", "las_scored",
                        "las_mdape_model", "las_mdape_naive", "las_pct_in_p10_p90")


def track_record(series: pl.DataFrame, la: str, sims: int = BAND_SIMS) -> pl.DataFrame:
    """How the demand model has done for one LA (kpi.forecast_track_record): its backtest at
    every origin and horizon the loaded releases allow (backtest: the actual January, the
    model's forecast and p10-p90, naive's, both absolute percentage errors), beside every
    LA's scores for the same origin and horizon (how many LAs, the model's and naive's
    median absolute percentage errors, the share of actuals inside the model's p10-p90).
    Empty when the loaded releases score no forecast for the LA."""
    if series.filter(pl.col("la") == la).is_empty():
        return pl.DataFrame(schema={c: pl.Int32 if c in ("fit_until", "horizon", "year",
                                                         "las_scored") else pl.Float64
                                    for c in TRACK_RECORD_COLUMNS})
    scores = backtest(series, sims=sims)
    # Every LA's scores as the backtest's table gives them (summary), renamed.
    every = scores.group_by("fit_until", "horizon").agg(_agg(scores)).select(
        "fit_until", "horizon", pl.col("forecasts").cast(pl.Int32).alias("las_scored"),
        pl.col("mdape_model").alias("las_mdape_model"),
        pl.col("mdape_naive").alias("las_mdape_naive"),
        pl.col("pct_in_p10_p90").alias("las_pct_in_p10_p90"))
    return scores.filter(pl.col("la") == la).join(
        every, on=["fit_until", "horizon"], how="left").with_columns(
        pl.col("model", "model_p10", "model_p90", "naive").round(1),
        pl.col("ape_model", "ape_naive").round(2)).select(TRACK_RECORD_COLUMNS).sort(
        "fit_until", "horizon")


def _agg(frame: pl.DataFrame) -> list[pl.Expr]:
    return [pl.len().alias("forecasts"),
            pl.col("ape_model").median().round(2).alias("mdape_model"),
            pl.col("ape_naive").median().round(2).alias("mdape_naive"),
            (pl.col("ape_model").median() / pl.col("ape_naive").median()).round(2)
            .alias("model_over_naive"),
            (100 * (pl.col("ape_model") < pl.col("ape_naive")).mean()).round(1)
            .alias("pct_model_closer"),
            (100 * pl.col("actual").is_between("model_p10", "model_p90").mean()).round(1)
            .alias("pct_in_p10_p90")]


def summary(scores: pl.DataFrame, groups: dict[str, list[int]] | None = None) -> pl.DataFrame:
    """Per origin and horizon, then per horizon pooled over each group of origins (by
    default all of them, as `all`): forecasts, the median absolute percentage error of the
    model and of the naive forecast, their ratio, the share of LAs where the model was
    closer and the share of actuals inside the model's p10-p90."""
    if scores.is_empty():
        return pl.DataFrame(schema={"origin": pl.Utf8, "horizon": pl.Int32})
    groups = groups or {"all": sorted(scores["fit_until"].unique().to_list())}
    per = scores.group_by("fit_until", "horizon").agg(_agg(scores)).sort(
        "fit_until", "horizon").with_columns(pl.col("fit_until").cast(pl.Utf8).alias("origin"))
    pooled = [scores.filter(pl.col("fit_until").is_in(years)).group_by("horizon").agg(
        _agg(scores)).sort("horizon").with_columns(pl.lit(name).alias("origin"))
        for name, years in groups.items()]
    cols = ["origin", "horizon", "forecasts", "mdape_model", "mdape_naive", "model_over_naive",
            "pct_model_closer", "pct_in_p10_p90"]
    return pl.concat([f.select(cols) for f in (per, *pooled) if f.height])


def goal_met(table: pl.DataFrame, origin: str) -> bool:
    """The issue's goal on a pooled row group: median APE at most two-thirds of naive at every
    horizon, and the p10-p90 band holding the actual 75-85% of the time."""
    rows = table.filter(pl.col("origin") == origin)
    return bool(rows.height) and all(
        r["mdape_model"] <= 2 / 3 * r["mdape_naive"] and 75 <= r["pct_in_p10_p90"] <= 85
        for r in rows.to_dicts())
