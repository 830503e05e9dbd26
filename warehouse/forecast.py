"""kpi.forecast: the demand and cost model (transforms/forecast.py) run for each scenario in
the scenarios file, on the tables the rebuild has just made."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from transforms import forecast
from transforms.forecast_backtest import ENGLAND, as_known_at, published_series
from transforms.kpis import _stamp

log = logging.getLogger(__name__)


def england_reference(base_year: int, series: pl.DataFrame | None = None
                      ) -> forecast.OneState | None:
    """England's one-state rates (transforms.forecast.reference_rates), which the LA's are
    pooled towards as the backtest pools every LA's: from `series` (every loaded release's
    figures, transforms.forecast_backtest.series_of, the newest release's for each year)
    when given, else the release shipped with sendboard."""
    if series is None:
        from warehouse.dfe_statistics import SHIPPED

        series = published_series(SHIPPED)
    england = as_known_at(series, None).filter(pl.col("la") == ENGLAND)
    by_series = {s: dict(part.select("year", "value").iter_rows())
                 for (s,), part in england.group_by("series")}
    return forecast.reference_rates(by_series.get("caseload", {}),
                                    by_series.get("new_plans", {}),
                                    by_series.get("requests", {}), base_year)


def build_forecast(out: dict[str, pl.DataFrame], ledger: pl.DataFrame | None,
                   source: str, as_of: dt.date, scenarios_file: Path, sims: int = 400,
                   population: pl.DataFrame | None = None,
                   series: pl.DataFrame | None = None
                   ) -> tuple[pl.DataFrame | None, list[str]]:
    """Every scenario's p10/p50/p90 per year, measure and breakdown, stamped (None when SEN2
    holds fewer than two Januaries to fit from); and what the run should tell its users:
    no forecast, a forecast without costs, a scenario left out, and why. Each is logged as
    a warning too. `scenarios_file`: the scenarios (Settings.scenarios)."""
    started = time.perf_counter()
    notes: list[str] = []

    def note(message: str) -> None:
        log.warning(message)
        notes.append(message)

    if not scenarios_file.is_file():
        raise FileNotFoundError(f"forecast scenarios file {scenarios_file} not found (set "
                                "SENDBOARD_SCENARIOS or restore sendboard/scenarios.toml)")
    scenarios = forecast.load_scenarios(scenarios_file)
    days = dict(out["kpi.ehcp_caseload"].select("year", "census_date").iter_rows())
    states = forecast.january_states(out["core.ehc_plans"], out["core.ehc_needs"],
                                     out["core.ehc_placements"], days)
    # The KPI's count (transfers in excluded), as the DfE counts the requests the backtest
    # fitted the lead on.
    requests = dict(out["kpi.ehcp_requests"].select("year", "requests_received").iter_rows())
    if states["year"].n_unique() < 2:
        note("no forecast: SEN2 holds fewer than two Januaries of plans")
        return None, notes
    fitted = forecast.fit(states, requests, population=population,
                          reference=england_reference(int(states["year"].max()), series))
    costs = None
    if ledger is not None and "kpi.dsg_balance" in out:
        try:
            costs = forecast.fit_costs(ledger, states, out["kpi.dsg_balance"])
        except forecast.ScenarioError as why:  # no final outturn yet: demand only
            note(f"forecast without costs: {why}")
    recovery = {}
    if "kpi.recovery_plan" in out:
        recovery = dict(out["kpi.recovery_plan"].filter(pl.col("metric_target").is_not_null())
                        .group_by("project_id").agg(pl.col("metric_target").last()).iter_rows())
    planned = (forecast.planned_openings(out["kpi.place_sufficiency"], fitted.base_year)
               if "kpi.place_sufficiency" in out else {})
    runs = [s.with_planned(planned) for s in scenarios]

    def run(scenario: forecast.Scenario) -> tuple | forecast.ScenarioError:
        try:
            result = forecast.simulate(fitted, scenario, recovery, sims=sims)
        except forecast.ScenarioError as why:
            return why
        return forecast.summarise(result, fitted, costs, scenario), result

    # Each scenario draws from its own seeded generator and numpy's draws let go of the GIL:
    # side by side they give exactly what they give one after another, in less time.
    with ThreadPoolExecutor(max_workers=max(1, min(len(runs), os.cpu_count() or 1))) as pool:
        done = list(pool.map(run, runs))
    frames, results = [], {}
    for scenario, frame in zip(runs, done, strict=True):
        if isinstance(frame, forecast.ScenarioError):
            # A scenario the data cannot honour (say, a target for a project the register no
            # longer has) is left out whole rather than run without its lever.
            note(f"forecast scenario {scenario.name!r} left out: {frame}")
            continue
        frames.append(frame[0])
        results[scenario.name] = (scenario, frame[1])
    # What each lever does: every other scenario against the baseline, draw by draw.
    base = results.get("baseline")
    for name, (scenario, result) in results.items():
        if base is not None and name != "baseline":
            frames.append(forecast.versus_baseline(result, base[1], fitted, costs, scenario,
                                                   base[0]))
    if not frames:
        return None, notes
    log.info("forecast: %d scenarios x %d simulations in %.1f s", len(results), sims,
             time.perf_counter() - started)
    return _stamp(pl.concat(frames), "forecast", f"{source}; scenarios {scenarios_file.name}",
                  as_of), notes
