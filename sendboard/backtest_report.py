"""`sendboard backtest`: the demand model scored on the DfE's published statistics (the
model and the scoring: transforms/forecast_backtest.py), printed as a table and optionally
written as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The origins the model's weights and spreads were chosen on (docs/forecast.md); pooled on
# their own when scored, so that the table can be read against the choice.
CHOSEN_ON = (2022, 2023)
COLUMNS = ("origin", "horizon", "forecasts", "model MdAPE %", "naive MdAPE %",
           "model / naive", "model closer, % of LAs", "actual inside model p10-p90, %")


def _why_nothing(series, fit_until: int | None) -> str:
    """Which figures a fit from `fit_until` lacks, from what the loaded releases hold."""
    import polars as pl

    from transforms.forecast_backtest import ENGLAND

    las = series.filter(pl.col("la") != ENGLAND)
    spans = {s: (int(g["year"].min()), int(g["year"].max()))
             for (s,), g in las.group_by("series")}
    held = "; ".join(f"{s} {a}-{b}" for s, (a, b) in sorted(spans.items()))
    if fit_until is None:
        return f"no origin has the figures a fit needs (the loaded releases hold {held})"
    last = spans.get("caseload", (0, 0))[1]
    if fit_until >= last:
        return (f"nothing to score from January {fit_until}: the loaded releases end at "
                f"January {last} (load a later release with --release)")
    return (f"no LA has the figures a fit from January {fit_until} needs (its caseload and "
            f"the January before, new plans in {fit_until - 1}, requests in {fit_until - 2} "
            f"and {fit_until - 1}); the loaded releases hold {held}")


LA_COLUMNS = ("origin", "horizon", "January", "actual", "model", "model p10-p90", "naive",
              "model error %", "naive error %")


def _la_table(scores, la: str) -> list[str] | None:
    """The LA's own scored forecasts as table lines, or None when none was scored."""
    import polars as pl

    mine = scores.filter(pl.col("la") == la)
    if mine.is_empty():
        return None
    lines = [f"\n{mine['la_name'][0]} ({la}), each forecast against the January the DfE "
             "published:\n", "| " + " | ".join(LA_COLUMNS) + " |",
             "|---:" * len(LA_COLUMNS) + "|"]
    for r in mine.sort("fit_until", "horizon").iter_rows(named=True):
        lines.append(f"| {r['fit_until']} | {r['horizon']} | {r['year']} | {r['actual']:,.0f} | "
                     f"{r['model']:,.0f} | {r['model_p10']:,.0f}-{r['model_p90']:,.0f} | "
                     f"{r['naive']:,.0f} | {r['ape_model']:.2f} | {r['ape_naive']:.2f} |")
    return lines


def run_backtest(releases: list[str], fit_until: int | None, json_path: str | None,
                 shipped: Path, la: str | None = None) -> int:
    """Score, print and write; 1 with a reason on stderr when there is nothing to score (or
    nothing for the LA asked for)."""
    from transforms.forecast_backtest import backtest, goal_met, published_series, summary

    paths = [Path(r) for r in releases]
    loaded = list(dict.fromkeys([shipped, *paths] if shipped.is_file() else paths))
    series = published_series(*loaded)
    scores = backtest(series, fit_until)
    if scores.is_empty():
        print(f"sendboard: {_why_nothing(series, fit_until)}", file=sys.stderr)
        return 1
    origins = sorted(scores["fit_until"].unique().to_list())
    groups = {"all": origins}
    if set(CHOSEN_ON) <= set(origins) and len(origins) > len(CHOSEN_ON):
        groups = {"-".join(map(str, CHOSEN_ON)): list(CHOSEN_ON), **groups}
    table = summary(scores, groups)
    what = (f"fitted on Januaries up to {fit_until}" if fit_until is not None
            else f"fitted at every origin from {origins[0]} to {origins[-1]}")
    print(f"Demand model against 'last year's growth continues', {what}, forecasting up to "
          f"three Januaries ahead for {scores['la'].n_unique()} LAs (median absolute "
          f"percentage error of the caseload; releases {', '.join(map(str, loaded))}):\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|---|---:" + "|---:" * (len(COLUMNS) - 2) + "|")
    for row in table.iter_rows():
        print("| " + " | ".join(str(v) for v in row) + " |")
    for name in groups:
        verdict = "met" if goal_met(table, name) else "not met"
        print(f"\nGoal (median APE at most 2/3 of naive at every horizon, 75-85% inside "
              f"p10-p90) over origins {name}: {verdict}")
    if la is not None:
        lines = _la_table(scores, la)
        if lines is None:
            print(f"sendboard: no forecast for {la} was scored: the loaded releases have no "
                  "figures for it, or too few (give the LA's ONS code, e.g. E06000054)",
                  file=sys.stderr)
            return 1
        print("\n".join(lines))
    if json_path:
        Path(json_path).write_text(json.dumps({
            "release": ", ".join(map(str, paths)) if paths else str(shipped),
            "releases": [str(p) for p in loaded],
            "fit_until": fit_until if fit_until is not None else origins,
            "summary": table.to_dicts(), "per_la": scores.to_dicts()}, indent=1))
        print(f"\nper-LA scores written to {json_path}")
    return 0
