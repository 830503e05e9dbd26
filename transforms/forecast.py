"""Demand and cost forecast: a Markov model of the EHC plan caseload.

The state of a plan on a January census day is (age, primary need, forecast placement group).
Between two Januaries a plan either leaves (ceases) or moves to age + 1 and a placement group,
with probabilities fitted from paired January snapshots per (age, group). Joiners (plans
started since the last January and still open) arrive in proportion to the assessment
requests received two calendar years before the January they join in (requests lead new
plans by about a year, and the backtest on the DfE's published data in docs/forecast.md
found that lead beats extrapolating the caseload's growth); they take the recent joiners'
mix of need and placement for their age, and an age mix that follows the resident population
(ONS estimates, cohorts aged on past the last one). The LA's leaver rate, conversion and
request growth are its one-state rates (one_state_rates, the model the backtest scores on
every LA's published figures) pooled towards England's (pool_rates), so the same fitted
rates drive the LA model and the backtested one. Uncertainty comes from simulation: each
run draws its transition rates from their posterior given the counts seen, its leaver rate,
conversion and request trend around the fitted ones, then who leaves and moves, Poisson
joiners, and request growth each year from its recent spread. Scenario levers
(docs/forecast.md) change where new special school placements go, move children into new
places, set targets for what recovery projects aim at (each met or missed) and set the
growth in requests.

Pure functions over polars frames and numpy arrays: no Prefect, no database.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from transforms.finance_kpis import cost_group
from transforms.kpis import open_on

GROUPS = ("mainstream", "special_state", "special_independent", "fe", "ap_pru", "other")
NEEDS = ("ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH", "SLCN", "SLD", "SPLD", "VI",
         "unknown")
MAX_AGE = 25  # EHC plans end by 26
AGE_BANDS = (("0-4", 0, 4), ("5-10", 5, 10), ("11-15", 11, 15), ("16-19", 16, 19),
             ("20-25", 20, MAX_AGE))
FIT_YEARS = 3  # paired snapshots used for rates: recent enough to reflect current practice
PRIOR_WEIGHT = 5.0  # plans' worth of the age-wide pattern mixed into thin (age, group) rows
SPECIAL = (GROUPS.index("special_state"), GROUPS.index("special_independent"))
TARGET_MEASURES = ("special_independent", "new_plans")  # what a recovery target can cap
PERCENTILES = (10, 50, 90)
# Least year-to-year spread assumed for the leaver rate and the conversion of requests into
# plans: two or three yearly values can agree by chance, and the backtest's bands were far
# too narrow without it (docs/forecast.md).
# The conversion's floor is a share of the conversion itself.
LEAVE_SPREAD_FLOOR, CONVERSION_SPREAD_FLOOR = 0.03, 0.15
# Weights on an area's own leaver rate, conversion and request growth against England's
# (pool_rates), and on its own projected growth against England's latest caseload growth
# (POOL_PATH), chosen on the backtest's 2022 and 2023 origins (docs/forecast.md).
POOL_LEAVE, POOL_CONVERSION, POOL_GROWTH, POOL_PATH = 0.5, 0.5, 0.25, 0.75
# Spread of each simulation's persistent shift of the yearly request trend (log growth).
TREND_SD = 0.05
# The leaver rates new plans may imply before they are taken for a reporting error.
PLAUSIBLE_LEAVE = (-0.2, 0.6)


class ScenarioError(ValueError):
    """A scenario the data cannot honour (say, a target for a project the register lacks)."""


@dataclass
class Scenario:
    """A named set of levers; an unset lever keeps the fitted trend."""

    name: str
    description: str = ""
    request_growth_pct: float | None = None
    independent_share_of_new_special: float | None = None
    # year (January) -> places opening: {"special": n, "resourced_provision": n}
    places: dict[int, dict[str, int]] = field(default_factory=dict)
    # recovery plan project id -> forecast measure it targets ("special_independent" or
    # "new_plans"); the target value comes from kpi.recovery_plan
    recovery_targets: dict[str, str] = field(default_factory=dict)
    cost_inflation_pct: float = 3.0
    hnb_income_growth_pct: float | None = None
    # also open the places the places/ extract already funds for years after the base
    places_from_file: bool = True
    # spread of the share of a recovery target's planned reduction each simulation delivers
    # (1 = all of it): a target has its own chance of being missed
    target_delivery_sd: float = 0.25

    def with_planned(self, planned: dict[int, dict[str, int]]) -> Scenario:
        """This scenario with the places/ extract's planned openings added to its own."""
        if not self.places_from_file or not planned:
            return self
        merged = {y: dict(p) for y, p in self.places.items()}
        for year, opening in planned.items():
            for provision, n in opening.items():
                merged.setdefault(year, {})
                merged[year][provision] = merged[year].get(provision, 0) + n
        return replace(self, places=merged)


def scenarios_from_toml(text: str) -> list[Scenario]:
    """Scenarios from the config file's [scenarios.<name>] tables (docs/forecast.md)."""
    config = tomllib.loads(text)
    out = []
    for name, levers in config.get("scenarios", {}).items():
        levers = dict(levers)
        places = {int(y): {str(k): int(v) for k, v in p.items()}
                  for y, p in levers.pop("places", {}).items()}
        unknown = set(levers) - set(Scenario.__dataclass_fields__) - {"name"}
        if unknown:
            raise ValueError(f"scenario {name!r}: unknown lever(s) {sorted(unknown)}; see "
                             "docs/forecast.md for the levers")
        wrong = set(levers.get("recovery_targets", {}).values()) - set(TARGET_MEASURES)
        if wrong:
            raise ValueError(f"scenario {name!r}: recovery_targets can cap "
                             f"{' or '.join(TARGET_MEASURES)}, not {sorted(wrong)}")
        out.append(Scenario(name=name, places=places, **levers))
    if not out:
        raise ValueError("the scenarios file defines no [scenarios.<name>] table")
    return out


def planned_openings(places: pl.DataFrame, base_year: int) -> dict[int, dict[str, int]]:
    """Special and resourced provision places the places/ extract funds beyond the year
    before, for financial years whose January is after `base_year` (January -> provision ->
    places opening)."""
    totals = (places.filter(pl.col("provision").is_in(["special", "resourced_provision"]))
              .with_columns((pl.col("financial_year").str.slice(0, 4).cast(pl.Int32) + 1)
                            .alias("year"))
              .group_by("year", "provision").agg(pl.col("funded_places").sum())
              .sort("year").with_columns(
                  (pl.col("funded_places") - pl.col("funded_places").shift(1).over(
                      "provision")).alias("opening")))
    out: dict[int, dict[str, int]] = {}
    for year, provision, opening in totals.filter(
            (pl.col("year") > base_year) & (pl.col("opening") > 0)).select(
            "year", "provision", "opening").iter_rows():
        out.setdefault(year, {})[provision] = int(opening)
    return out


def load_scenarios(path: Path) -> list[Scenario]:
    return scenarios_from_toml(path.read_text())


def forecast_group(placement_group: pl.Expr, type_of_establishment: pl.Expr) -> pl.Expr:
    """The DfE placement groups with special schools split by cost: state (maintained,
    academy, free) against independent and non-maintained (as the finance KPIs' cost groups
    split them); the small groups as `other`."""
    return (pl.when((placement_group == "special")
                    & (cost_group(type_of_establishment) == "special_inmss"))
            .then(pl.lit("special_independent"))
            .when(placement_group == "special").then(pl.lit("special_state"))
            .when(placement_group.is_in(["mainstream", "fe", "ap_pru"])).then(placement_group)
            .otherwise(pl.lit("other")))


def january_states(plans: pl.DataFrame, needs: pl.DataFrame, placements: pl.DataFrame,
                   days: dict[int, dt.date]) -> pl.DataFrame:
    """Every plan open on each January census day: year, plan_id, age (on the 31 August
    before, as national curriculum years count it), need, group and the provider's urn."""
    day = pl.DataFrame({"year": list(days), "day": list(days.values())},
                       schema={"year": pl.Int32, "day": pl.Date})
    first_need = needs.filter(pl.col("rank") == 1).group_by("plan_id").agg(
        pl.col("need").first())
    # The need is the plan's, not the January's: joined before there is a row per January.
    people = plans.select("plan_id", "birth_year", "birth_month", "start_date",
                          "cease_date").join(first_need, on="plan_id", how="left",
                                             maintain_order="left").with_columns(
        pl.when(pl.col("need").is_in(NEEDS)).then(pl.col("need")).otherwise(pl.lit("unknown"))
        .alias("need"))
    open_ = open_on(people, day, "day").drop("start_date", "cease_date")
    first = placements.filter(pl.col("placement_rank") == 1).select(
        "plan_id", "entry_date", "leaving_date", "urn", "placement_group",
        "type_of_establishment",
        # Only a plan with two rank-1 placements can be in two on one day; grouping just
        # those rows spares a group per plan and January.
        pl.col("plan_id").is_duplicated().alias("several"))
    # A handful of kinds of placement: their group worked out once each, not per placement.
    kinds = first.select("placement_group", "type_of_establishment").unique().with_columns(
        forecast_group(pl.col("placement_group"), pl.col("type_of_establishment"))
        .alias("group"))
    first = first.join(kinds, on=["placement_group", "type_of_establishment"], how="left",
                       nulls_equal=True, maintain_order="left")
    current = (open_.select("day", "plan_id").with_row_index("row").join(first, on="plan_id")
               .filter((pl.col("entry_date") <= pl.col("day"))
                       & (pl.col("leaving_date").is_null() | (pl.col("leaving_date")
                                                              > pl.col("day")))))
    placed = pl.concat([
        current.filter(~pl.col("several")).select("row", "urn", "group"),
        current.filter(pl.col("several")).sort("entry_date", maintain_order=True)
        .group_by("row").agg(pl.col("urn").last(), pl.col("group").last())])
    # At most one placement per row of open_: put in place by position, not joined back on.
    urn, group = (pl.repeat(None, open_.height, dtype=placed[c].dtype, eager=True)
                  .scatter(placed["row"], placed[c]) for c in ("urn", "group"))
    age = (pl.col("year") - 1 - pl.col("birth_year").cast(pl.Int32)
           - (pl.col("birth_month") >= 9).cast(pl.Int32))
    return open_.with_columns(urn=urn, group=group).select(
        "year", "plan_id", age.clip(0, MAX_AGE).alias("age"), "need",
        pl.col("group").fill_null("other"), "urn")


@dataclass
class Fitted:
    base_year: int  # the last January observed
    counts: np.ndarray  # [age, need, group] on the base January
    moves: np.ndarray  # [age, group, group + leave]: where a plan is a January later
    joiner_mix: np.ndarray  # [age, need, group], sums to 1
    joiners: dict[int, int]  # January -> plans that joined since the January before
    requests: dict[int, int]  # calendar year -> requests received
    conversion: float  # joiners into January y per request received in y - 2
    request_growth: float  # fitted yearly growth of requests (fraction)
    request_growth_sd: float  # spread of log growth, for the simulation
    moved: np.ndarray | None = None  # [age, group, group + leave] plans seen, for the posterior
    leave_rates: list[float] = field(default_factory=list)  # each fitted pair's, all ages
    conversions: list[float] = field(default_factory=list)  # each fitted January's
    need_moves: np.ndarray | None = None  # [need, need]: primary need a January later
    population: dict[int, np.ndarray] | None = None  # January -> residents by age
    rates: OneState | None = None  # the one-state rates (pooled with England's) in force
    joiner_scale: dict[int, float] = field(default_factory=dict)  # January -> factor

    def leave_factor(self) -> float:
        """The pooled leaver rate over the LA's own: what every age's and group's leaving is
        scaled by."""
        own = float(np.mean(self.leave_rates)) if self.leave_rates else 0.0
        if self.rates is None or own <= 0:
            return 1.0
        return self.rates.leave / own


def fit(states: pl.DataFrame, requests: dict[int, int], base_year: int | None = None,
        population: pl.DataFrame | None = None, horizon: int = 5,
        reference: OneState | None = None) -> Fitted:
    """Rates from the last FIT_YEARS pairs of Januaries up to base_year; `population` (year,
    age, population: ONS mid-year estimates) shapes the joiners' ages in the years ahead.

    With `reference` (England's one-state rates from the DfE's published figures:
    reference_rates), the LA's own one-state rates (one_state_rates on its Januaries,
    joiners and requests) are pooled towards England's exactly as the backtest pools every
    LA's (pool_rates): the pooled leaver rate scales every age's and group's leaving, the
    pooled conversion and request growth make the joiners, and joiner_scale leans them
    towards England's caseload growth. The same fitted rates drive both models."""
    years = sorted(states["year"].unique())
    base = base_year or years[-1]
    pairs = [y for y in years if y < base and y + 1 in years][-FIT_YEARS:]
    if not pairs:
        raise ValueError("the forecast needs two consecutive Januaries of SEN2 data")
    a, g = MAX_AGE + 1, len(GROUPS)
    moved = np.zeros((a, g, g + 1))  # [age, from group, to group or leave]
    needs_seen = np.zeros((len(NEEDS), len(NEEDS)))
    joined, leave_rates, joiners = [], [], {}
    # The Januaries fitted on, need and group as positions, split by year once: each pair's
    # joins then run on a few number columns, not on the whole frame and its strings.
    fitted_years = sorted({*pairs, *(y + 1 for y in pairs), base})
    coded = states.filter(pl.col("year").is_in(fitted_years)).select(
        "year", "plan_id", "age", _position("need", NEEDS), _position("group", GROUPS))
    by_year = {y: part for (y,), part in coded.partition_by("year", as_dict=True).items()}
    for y in pairs:
        now, nxt = by_year[y], by_year[y + 1]
        pair = now.join(nxt.select("plan_id", pl.col("group").alias("to")), on="plan_id",
                        how="left")
        to = pair["to"].fill_null(g).to_numpy()
        moved += _tally(moved.shape, pair["age"].to_numpy(), pair["group"].to_numpy(), to)
        leave_rates.append(float((to == g).mean()) if len(to) else 0.0)
        still = now.join(nxt.select("plan_id", pl.col("need").alias("to_need")), on="plan_id")
        needs_seen += _tally(needs_seen.shape, still["need"].to_numpy(),
                             still["to_need"].to_numpy())
        joined.append(nxt.join(now.select("plan_id"), on="plan_id", how="anti"))
    ids = {y: part for (y,), part in
           states.select("year", "plan_id").partition_by("year", as_dict=True).items()}
    for y in years:
        if y - 1 in years and y <= base:
            joiners[y] = ids[y].join(ids[y - 1], on="plan_id", how="anti").height
    # Thin (age, group) rows borrow the age's pattern: leave at the age-wide rate, else stay.
    per_age = moved.sum(axis=1)
    seen = per_age.sum(axis=1)
    overall = per_age[:, g].sum() / max(1.0, seen.sum())
    leave = np.divide(per_age[:, g], seen, out=np.full(a, overall), where=seen > 0)
    prior = np.zeros((a, g, g + 1))
    for k in range(g):
        prior[:, k, k] = 1 - leave
        prior[:, k, g] = leave
    moves = (moved + PRIOR_WEIGHT * prior) / (moved.sum(axis=2, keepdims=True) + PRIOR_WEIGHT)
    moves[MAX_AGE] = 0.0
    moves[MAX_AGE, :, g] = 1.0  # plans end by 26
    mix = _cube(pl.concat(joined))
    mix = mix / mix.sum() if mix.sum() else np.full(mix.shape, 1 / mix.size)
    # Primary needs change at annual reviews; a need seldom seen keeps itself (the prior).
    need_counts = needs_seen + PRIOR_WEIGHT * np.eye(len(NEEDS))
    need_moves = need_counts / need_counts.sum(axis=1, keepdims=True)
    growth, spread = request_trend(requests, base)
    counts = {y: float(part.height) for y, part in ids.items() if y <= base}
    own = one_state_rates(counts, {y - 1: float(n) for y, n in joiners.items()},
                          {y: float(n) for y, n in requests.items()}, base)
    rates = pool_rates(own, reference) if own is not None else None
    return Fitted(base, _cube(by_year.get(base, coded.clear())), moves, mix, joiners,
                  dict(requests), rates.conversion if rates else conversion(joiners, requests),
                  (rates.request_growth if rates and rates.request_growth is not None
                   else growth), spread,
                  moved=moved + PRIOR_WEIGHT * prior,
                  population=population_by_age(population, base, base + horizon)
                  if population is not None else None,
                  leave_rates=leave_rates, conversions=yearly_conversions(joiners, requests),
                  need_moves=need_moves, rates=rates,
                  joiner_scale=joiner_scale(rates, horizon) if rates else {})


def reference_rates(caseload: dict[int, float], new_plans: dict[int, float],
                    requests: dict[int, float], base_year: int) -> OneState | None:
    """England's one-state rates at the LA's base January, from the DfE's published
    national figures (January caseload, new plans and requests per calendar year): the
    reference the LA's rates are pooled towards (fit). Where the release does not yet have
    the base January, its latest January is the origin."""
    latest = max((y for y in caseload if y <= base_year), default=None)
    return one_state_rates(caseload, new_plans, requests, latest) if latest else None


def _position(column: str, keys: tuple[str, ...]) -> pl.Expr:
    """The column's values as their positions in `keys`."""
    return pl.col(column).replace_strict({k: i for i, k in enumerate(keys)},
                                         return_dtype=pl.Int64)


def _tally(shape: tuple[int, ...], *index: np.ndarray) -> np.ndarray:
    """How often each cell of an array of `shape` is indexed: np.add.at's counts, faster."""
    return np.bincount(np.ravel_multi_index(index, shape), minlength=math.prod(shape)).reshape(
        shape).astype(float)


def _cube(frame: pl.DataFrame) -> np.ndarray:
    """Counts of (age, need, group) rows, need and group as positions (_position), as an
    array indexed [age, need, group]."""
    return _tally((MAX_AGE + 1, len(NEEDS), len(GROUPS)), frame["age"].to_numpy(),
                  frame["need"].to_numpy(), frame["group"].to_numpy())


def population_by_age(population: pl.DataFrame, first: int, last: int
                      ) -> dict[int, np.ndarray] | None:
    """Residents aged 0-25 for the Januaries first..last: the ONS mid-year estimate of the
    June before, and past the last estimate each cohort aged on a year, the youngest held
    at their last size. None without an estimate at or before `first`."""
    by_year = {y: np.zeros(MAX_AGE + 1) for y in population["year"].unique().to_list()}
    for year, age, people in population.filter(pl.col("age").is_between(0, MAX_AGE)).group_by(
            "year", "age").agg(pl.col("population").sum()).iter_rows():
        by_year[year][age] = people
    known = [y for y in by_year if y <= first - 1]
    if not known:
        return None
    out, current = {}, by_year[max(known)]
    for january in range(max(known) + 1, last + 1):
        mid_year = january - 1
        if mid_year in by_year:
            current = by_year[mid_year]
        else:
            current = np.concatenate([current[:1], current[:-1]])
        if january >= first:
            out[january] = current
    return out


def yearly_conversions(joiners: dict[int, float], requests: dict[int, float]) -> list[float]:
    """Joiners into January y per request received in calendar year y - 2, for the last two
    Januaries that have both."""
    return [joiners[y] / requests[y - 2] for y in sorted(joiners) if requests.get(y - 2)][-2:]


def conversion(joiners: dict[int, float], requests: dict[int, float]) -> float:
    ratios = yearly_conversions(joiners, requests)
    return float(np.mean(ratios)) if ratios else 0.0


def draw_around(rng: np.random.Generator, values: list[float], floor: float, sims: int,
                centre: float | None = None) -> np.ndarray:
    """A rate per simulation: normal around the yearly values' mean (or `centre`) with their
    spread, at least `floor`, kept at zero or above."""
    mid = float(np.mean(values)) if centre is None else centre
    spread = max(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, floor)
    return np.clip(rng.normal(mid, spread, sims), 0.0, None)


def request_trend(requests: dict[int, float], base: int) -> tuple[float, float]:
    """Yearly growth of requests (geometric mean of the last two complete years' growth)
    and the spread of log growth over up to five years (at least 3%), for simulation."""
    years = [y for y in sorted(requests) if y < base and requests.get(y - 1)
             and requests.get(y)]
    logs = [math.log(requests[y] / requests[y - 1]) for y in years]
    growth = math.exp(float(np.mean(logs[-2:]))) - 1 if logs else 0.0
    spread = max(0.03, float(np.std(logs[-5:], ddof=1))) if len(logs) > 2 else 0.05
    return growth, spread


@dataclass
class OneState:
    """The demand model's rates for one area, collapsed to one state (on a plan or not): what
    the backtest fits on the DfE's published figures for every LA and England, and what
    drives the LA model's leaving, joiners and requests (fit)."""

    base_year: int  # the January fitted until
    caseload: float  # plans that January
    leave: float  # share of a January's plans gone by the next
    conversion: float  # joiners into January y per request received in y - 2
    request_growth: float | None  # yearly growth of requests; None: too few years to tell
    request_growth_sd: float  # spread of yearly log growth, for the simulation
    requests: dict[int, float]  # complete calendar years of requests
    leave_rates: list[float] = field(default_factory=list)  # each fitted pair's
    conversions: list[float] = field(default_factory=list)  # each fitted January's
    caseload_growth: float | None = None  # log growth into the base January
    # England's caseload_growth once pooled (pool_rates): the path leans towards it
    reference_growth: float | None = None


def _plausible(caseload: dict[int, float], new_plans: dict[int, float], y: int) -> bool:
    """New plans in calendar year y square with the Januaries either side: the leaver rate
    they imply is one a caseload can have. The DfE's 2025 release gives each Yorkshire and
    the Humber LA the region's 6,078 new plans for 2022; such a figure is not fitted on."""
    if not caseload.get(y) or (y + 1) not in caseload:
        return False
    implied = (caseload[y] + new_plans[y] - caseload[y + 1]) / caseload[y]
    return PLAUSIBLE_LEAVE[0] <= implied <= PLAUSIBLE_LEAVE[1]


def one_state_rates(caseload: dict[int, float], new_plans: dict[int, float],
                    requests: dict[int, float], fit_until: int) -> OneState | None:
    """An area's own rates from its January caseload, new plans per calendar year (the
    joiners into the next January) and requests per calendar year, as known at January
    `fit_until`: the leaver rate implied by the last FIT_YEARS pairs of Januaries, joiners
    per request two years before (the last two Januaries), request growth (request_trend).
    None without the caseload that January, the year before's requests, one plausible pair
    of Januaries and one conversion."""
    t = fit_until
    known = {y: v for y, v in requests.items() if y < t and v and v > 0}
    if not caseload.get(t) or t - 1 not in known:
        return None
    fitted = sorted(y for y in new_plans if y < t and _plausible(caseload, new_plans, y))
    pairs = fitted[-FIT_YEARS:]
    if not pairs:
        return None
    rates = [(caseload[y] + new_plans[y] - caseload[y + 1]) / caseload[y] for y in pairs]
    joiners = {y + 1: new_plans[y] for y in fitted}
    conversions = yearly_conversions(joiners, known)
    if not conversions:
        return None
    growths = [y for y in known if y - 1 in known]
    growth, spread = request_trend(known, t)
    before = caseload.get(t - 1)
    return OneState(t, float(caseload[t]), float(np.mean(rates)), float(np.mean(conversions)),
                    growth if growths else None, spread, known, rates, conversions,
                    math.log(caseload[t] / before) if before else None)


def pool_rates(own: OneState, reference: OneState | None) -> OneState:
    """The area's rates partially pooled towards the reference area's (England's): each a
    weighted mean, with the weights on the area's own chosen in the backtest (POOL_LEAVE,
    POOL_CONVERSION, POOL_GROWTH; docs/forecast.md). Years differ by area more by chance
    than by cause: an LA's leaver rate of one year tells little about its next."""
    if reference is None:
        return own

    def mix(weight: float, mine: float | None, theirs: float | None) -> float | None:
        if mine is None or theirs is None:
            return theirs if mine is None else mine
        return weight * mine + (1 - weight) * theirs

    return replace(own, leave=mix(POOL_LEAVE, own.leave, reference.leave),
                   conversion=mix(POOL_CONVERSION, own.conversion, reference.conversion),
                   request_growth=mix(POOL_GROWTH, own.request_growth,
                                      reference.request_growth),
                   reference_growth=reference.caseload_growth)


def _lead(rates: OneState, year: int, growth: float) -> float:
    """Requests two calendar years before January `year`: observed, else the last year's
    grown at `growth`."""
    last = max(rates.requests)
    if year - 2 in rates.requests:
        return rates.requests[year - 2]
    return rates.requests[last] * (1 + growth) ** (year - 2 - last)


def joiner_scale(rates: OneState, horizon: int) -> dict[int, float]:
    """Per January ahead, the factor on the joiners `conversion x requests(y - 2)` that
    makes the expected path lean towards England's caseload growth: the path is
    C x (P(h) / C)^POOL_PATH x exp(h x (1 - POOL_PATH) x England's latest log growth), P the
    stock-and-flow path, and the joiners are what that path needs given the leaver rate.
    1 everywhere without a reference growth."""
    years = range(rates.base_year + 1, rates.base_year + horizon + 1)
    if rates.reference_growth is None:
        return dict.fromkeys(years, 1.0)
    growth = rates.request_growth or 0.0
    out, plain, leaned = {}, rates.caseload, rates.caseload
    for h, y in enumerate(years, start=1):
        joiners = rates.conversion * _lead(rates, y, growth)
        plain = plain * (1 - rates.leave) + joiners
        target = rates.caseload * (plain / rates.caseload) ** POOL_PATH * math.exp(
            h * (1 - POOL_PATH) * rates.reference_growth)
        needed = max(0.0, target - leaned * (1 - rates.leave))
        out[y] = needed / joiners if joiners > 0 else 1.0
        leaned = leaned * (1 - rates.leave) + needed
    return out


def one_state_path(rates: OneState, years: list[int]) -> dict[int, float]:
    """The expected caseload each January: C(y) = C(y-1) x (1 - leave) + joiners(y), the
    joiners conversion x requests(y - 2) x joiner_scale."""
    last = max(years, default=rates.base_year)
    scale = joiner_scale(rates, last - rates.base_year)
    out, stock = {}, rates.caseload
    growth = rates.request_growth or 0.0
    for y in range(rates.base_year + 1, last + 1):
        stock = stock * (1 - rates.leave) + rates.conversion * _lead(rates, y, growth) * scale[y]
        out[y] = stock
    return {y: out[y] for y in years}


def request_steps(rng: np.random.Generator, growth: float, runs: int) -> np.ndarray:
    """Each simulation's yearly log growth of requests: the trend with a persistent shift
    (TREND_SD). A trend can turn, as England's did after 2022, and yearly noise alone
    averages that away."""
    return np.log1p(growth) + rng.normal(0, TREND_SD, runs)


def one_state_bands(rates: OneState, years: list[int], sims: int = 1000, seed: int = 2022
                    ) -> dict[int, tuple[float, float, float]]:
    """(p10, p50, p90) of the caseload each January from simulations drawn as the LA model
    draws them (simulate): the leaver rate and conversion around the fitted ones with their
    yearly spread (at least the floors), a persistent shift of the request trend and yearly
    noise around it, binomial leavers, Poisson joiners."""
    rng = np.random.default_rng(seed)
    leave = np.clip(draw_around(rng, rates.leave_rates, LEAVE_SPREAD_FLOOR, sims, rates.leave),
                    0.0, 1.0)
    rate = draw_around(rng, rates.conversions, CONVERSION_SPREAD_FLOOR * rates.conversion,
                       sims, rates.conversion)
    trend = request_steps(rng, rates.request_growth or 0.0, sims)
    stock = np.full(sims, round(rates.caseload), dtype=np.int64)
    last = max(rates.requests)
    req = np.full(sims, float(rates.requests[last]))
    final = max(years, default=rates.base_year)
    scale = joiner_scale(rates, final - rates.base_year)
    out = {}
    for y in range(rates.base_year + 1, final + 1):
        if y - 2 in rates.requests:
            lead = np.full(sims, float(rates.requests[y - 2]))
        else:
            req = req * np.exp(trend + rng.normal(0, rates.request_growth_sd, sims))
            lead = req
        stock = stock - rng.binomial(stock, leave) + rng.poisson(rate * lead * scale[y])
        out[y] = tuple(float(v) for v in np.percentile(stock, PERCENTILES))
    return {y: out[y] for y in years}


@dataclass
class Costs:
    """Spend per plan per placement group (top-up and place funding paid to the providers
    the plans are placed with) and the rest of the High Needs spend per plan, both in the
    base financial year's prices."""

    base_year: int  # the January inside the base financial year
    per_plan: np.ndarray  # [group]
    overhead_per_plan: float
    income: dict[int, float]  # January year -> HNB income of the financial year around it
    balance: dict[int, float]  # January year -> cumulative DSG balance at that year's end


PROVIDER_LINES = ("1.0.2", "1.2.1", "1.2.2", "1.2.3")


def fit_costs(ledger: pl.DataFrame, states: pl.DataFrame, dsg: pl.DataFrame) -> Costs:
    """Unit costs from the latest financial year whose outturn is final (dsg_balance
    spend_basis 'outturn') and whose January the SEN2 data covers."""
    jan = pl.col("financial_year").str.slice(0, 4).cast(pl.Int32) + 1
    dsg = dsg.with_columns(jan.alias("year"))
    final = dsg.filter((pl.col("spend_basis") == "outturn")
                       & pl.col("year").is_in(states["year"].unique().to_list()))
    if final.is_empty():
        raise ValueError("no financial year with a final outturn and a January in SEN2")
    year = final["year"].max()
    fy = final.filter(pl.col("year") == year)["financial_year"][0]
    actual = ledger.filter((pl.col("financial_year") == fy) & (pl.col("entry_type") == "actual"))
    total = float(actual["amount_gbp"].cast(pl.Float64).sum())
    paid = actual.filter(pl.col("s251_line").is_in(PROVIDER_LINES)
                         & pl.col("provider_urn").is_not_null()).group_by(
        pl.col("provider_urn").cast(pl.Int64).alias("urn")).agg(
        pl.col("amount_gbp").cast(pl.Float64).sum().alias("paid"))
    jan_states = states.filter(pl.col("year") == year)
    at_urn = jan_states.filter(pl.col("urn").is_not_null()).group_by(
        pl.col("urn").cast(pl.Int64), "group").agg(pl.len().alias("n")).with_columns(
        (pl.col("n") / pl.col("n").sum().over("urn")).alias("share"))
    attributed = at_urn.join(paid, on="urn").group_by("group").agg(
        (pl.col("paid") * pl.col("share")).sum().alias("spend"))
    plans = jan_states.group_by("group").agg(pl.len().alias("n"))
    per_plan = np.zeros(len(GROUPS))
    spend = dict(attributed.iter_rows())
    count = dict(plans.iter_rows())
    for i, g in enumerate(GROUPS):
        if count.get(g):
            per_plan[i] = spend.get(g, 0.0) / count[g]
    overhead = (total - sum(spend.values())) / max(1, jan_states.height)
    income = dict(zip(dsg["year"], dsg["hnb_income_gbp"].cast(pl.Float64), strict=True))
    balance = dict(zip(dsg["year"], dsg["cumulative_balance_gbp"].cast(pl.Float64),
                       strict=True))
    return Costs(year, per_plan, overhead, income, balance)


def _recovery_caps(fitted: Fitted, scenario: Scenario, recovery: dict[str, float],
                     horizon: int) -> dict[str, list[float | None]]:
    """Per forecast year, the cap a recovery target sets: reached in a straight line from
    today's value by the third year and held after it."""
    today = {"special_independent": fitted.counts[:, :, GROUPS.index("special_independent")]
             .sum(), "new_plans": fitted.joiners.get(fitted.base_year, 0)}
    caps: dict[str, list[float | None]] = {"special_independent": [None] * horizon,
                                           "new_plans": [None] * horizon}
    for project, measure in scenario.recovery_targets.items():
        if measure not in caps:
            raise ValueError(f"scenario {scenario.name!r}: recovery target measure "
                             f"{measure!r} is not one of {sorted(caps)}")
        if project not in recovery:
            raise ScenarioError(f"scenario {scenario.name!r}: recovery plan project "
                                f"{project!r} has no metric target in the recovery plan "
                                "register")
        start, target = today[measure], recovery[project]
        caps[measure] = [start + (target - start) * min(1.0, (h + 1) / 3)
                         for h in range(horizon)]
    return caps


def _steer_special(p: np.ndarray, share: float | None) -> np.ndarray:
    """Redistribute what flows into special schools so `share` of it goes to independent
    and non-maintained ones; flows of plans already in special schools are left alone."""
    if share is None:
        return p
    p = p.copy()
    state, indep = SPECIAL
    into = p[..., state] + p[..., indep]
    p[..., state], p[..., indep] = into * (1 - share), into * share
    return p


def simulate(fitted: Fitted, scenario: Scenario, recovery: dict[str, float] | None = None,
             horizon: int = 5, sims: int = 400, seed: int = 20260101) -> dict[str, np.ndarray]:
    """Caseload [sim, year, age, need, group] and joiners [sim, year] for the `horizon`
    Januaries after the base. sims=0 gives the expected path (one deterministic run).

    Every scenario draws from the same seed, so a lever's effect is read against the
    baseline's same draws (versus_baseline). A lever moves the central path; the draws of
    the rest of the model stay, and a recovery target is itself uncertain: each simulation
    delivers its own share of the planned reduction (`target_delivery_sd`)."""
    rng = np.random.default_rng(seed) if sims else None
    runs = max(1, sims)
    g = len(GROUPS)
    own_leave = float(np.mean(fitted.leave_rates)) if fitted.leave_rates else 0.0
    centre = own_leave * fitted.leave_factor()
    if rng is not None and fitted.moved is not None:
        # Each run's rates: a Dirichlet draw around the counts seen (gamma draws, normalised),
        # so a rate fitted on a handful of plans is as uncertain as it should be.
        draws = rng.gamma(np.broadcast_to(fitted.moved, (runs, *fitted.moved.shape)))
        total = draws.sum(axis=-1, keepdims=True)
        moves = np.divide(draws, total, out=np.broadcast_to(fitted.moves, draws.shape).copy(),
                          where=total > 0)
        moves[:, MAX_AGE] = fitted.moves[MAX_AGE]
        # Years differ by more than chance: each run's leaving is scaled to a draw around the
        # (pooled) leaver rate with the yearly rates' spread, as the backtest draws it.
        factor = (draw_around(rng, fitted.leave_rates, LEAVE_SPREAD_FLOOR, runs, centre)
                  / own_leave if own_leave > 0 else np.ones(runs))
        rate = (draw_around(rng, fitted.conversions, CONVERSION_SPREAD_FLOOR * fitted.conversion,
                            runs, fitted.conversion) if fitted.conversions
                else np.full(runs, fitted.conversion))
        # A target is met or missed, never beaten: half the runs meet it, half fall short.
        delivery = np.clip(rng.normal(1.0, scenario.target_delivery_sd, runs), 0.0, 1.0)
    else:
        moves = fitted.moves[None].copy()
        factor = np.full(1, fitted.leave_factor())
        rate = np.full(runs, fitted.conversion)
        delivery = np.ones(runs)
    if not np.allclose(factor, 1.0):
        moves = _scale_leaving(moves, factor)
    non_special = [i for i in range(g) if i not in SPECIAL]
    moves[:, :, non_special, :g] = _steer_special(
        moves[:, :, non_special, :g], scenario.independent_share_of_new_special)
    # Scaling and steering leave rounding dust; multinomial draws need rows summing to 1.
    moves = np.clip(moves, 0.0, None)
    moves /= moves.sum(axis=-1, keepdims=True)
    base_mix = _steer_special(fitted.joiner_mix, scenario.independent_share_of_new_special)
    caps = _recovery_caps(fitted, scenario, recovery or {}, horizon)
    growth = (scenario.request_growth_pct / 100 if scenario.request_growth_pct is not None
              else fitted.request_growth)
    trend = (request_steps(rng, growth, runs) if rng is not None
             else np.full(runs, np.log1p(growth)))
    # Every draw of the model's uncertainty is made above and here, before any draw of chance
    # (who leaves, moves, joins), whose count depends on the levers: so each scenario's runs
    # meet the same rates and request paths as the baseline's, and their difference is the
    # levers'. Chance draws from a generator of its own.
    noise = (rng.normal(0, fitted.request_growth_sd, (horizon, runs)) if rng is not None
             else np.zeros((horizon, runs)))
    rng = np.random.default_rng([seed, 1]) if rng is not None else None
    # Requests of complete calendar years (those before the base January's) are known.
    known = {y: n for y, n in fitted.requests.items() if y < fitted.base_year}
    x = np.broadcast_to(fitted.counts, (runs, *fitted.counts.shape)).copy()
    req = np.full(runs, float(known[max(known)]) if known else 0.0)
    out = np.zeros((runs, horizon, *fitted.counts.shape))
    joiners = np.zeros((runs, horizon))
    for h in range(horizon):
        year = fitted.base_year + 1 + h
        mix = _mix_for(base_mix, fitted.population, fitted.base_year, year)
        # Requests two years before this January: observed if complete, else projected.
        if year - 2 in known:
            lead = np.full(runs, float(known[year - 2]))
        else:
            req = req * np.exp(trend + noise[h])
            lead = req
        mean_joiners = rate * lead * fitted.joiner_scale.get(year, 1.0)
        mean_joiners = _towards_target(mean_joiners, caps["new_plans"][h], delivery)
        if rng is not None:
            moved = rng.multinomial(x.astype(np.int64), moves[:, :, None, :, :])
            n_join = rng.poisson(mean_joiners)
            new = rng.multinomial(n_join, mix.ravel()).reshape(runs, *mix.shape)
        else:
            moved = x[..., None] * moves[:, :, None, :, :]
            n_join = mean_joiners
            new = n_join[:, None, None, None] * mix[None]
        stay = _change_needs(moved[..., :g].sum(axis=3), fitted.need_moves, rng)
        x = np.zeros_like(x)
        x[:, 1:] = stay[:, :-1]
        x += new
        x = _open_places(x, scenario.places.get(year, {}), caps["special_independent"][h],
                         delivery, rng)
        out[:, h], joiners[:, h] = x, n_join
    return {"caseload": out, "joiners": joiners}


def _scale_leaving(moves: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Each run's leaving probabilities [run, age, group, group + leave] scaled by its factor,
    the staying shares scaled to make room; plans at 25 still all leave."""
    g = moves.shape[-1] - 1
    moves = np.array(moves, dtype=float)
    leave = np.clip(moves[..., g] * factor[:, None, None], 0.0, 1.0)
    room = np.divide(1 - leave, 1 - moves[..., g], out=np.zeros_like(leave),
                     where=moves[..., g] < 1)
    moves[..., :g] *= room[..., None]
    moves[..., g] = np.where(moves[..., g] < 1, leave, 1.0)
    return moves


def _towards_target(values: np.ndarray, cap: float | None, delivery: np.ndarray) -> np.ndarray:
    """Each run's values after a recovery target: the planned reduction takes the runs' mean
    down to the cap, and each run delivers its own share of it (`delivery`, 1 = all), so
    the target moves the central path without making every run the same."""
    if cap is None:
        return values
    expected = float(np.mean(values))
    cut = max(0.0, 1 - cap / expected) if expected > 0 else 0.0
    return values * np.clip(1 - cut * delivery, 0.0, None)


def _change_needs(x: np.ndarray, need_moves: np.ndarray | None,
                  rng: np.random.Generator | None) -> np.ndarray:
    """Plans [sim, age, need, group] after a year's changes of primary need."""
    if need_moves is None or np.allclose(need_moves, np.eye(len(NEEDS))):
        return x
    p = need_moves[None, None, :, None, :]  # from-need on axis 2, to-need last
    moved = rng.multinomial(x.astype(np.int64), p) if rng is not None else x[..., None] * p
    return moved.sum(axis=2).transpose(0, 1, 3, 2)


def _mix_for(mix: np.ndarray, population: dict[int, np.ndarray] | None, base: int,
             year: int) -> np.ndarray:
    """The joiners' mix for a January: each age's share scaled by how its resident population
    has changed since the base January, then renormalised (the requests trend carries the
    number; the population only shifts the ages)."""
    if not population or base not in population or year not in population:
        return mix
    ratio = np.divide(population[year], population[base], out=np.ones(MAX_AGE + 1),
                      where=population[base] > 0)
    shifted = mix * ratio[:, None, None]
    return shifted / shifted.sum() if shifted.sum() > 0 else mix


def _open_places(x: np.ndarray, places: dict[str, int], cap: float | None,
                 delivery: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """New special places take children from independent schools; new resourced provision
    takes them into mainstream; a recovery cap moves children to state special schools, the
    share that brings the runs' mean down to the cap, each run delivering its own part of it
    (_towards_target)."""
    state, indep = SPECIAL
    main = GROUPS.index("mainstream")
    for provision, to in (("special", state), ("resourced_provision", main), ("cap", state)):
        inside = x[..., indep].sum(axis=(1, 2))
        if provision == "cap":
            if cap is None:
                continue
            share = 1 - _towards_target(np.ones_like(inside) * float(np.mean(inside)), cap,
                                        delivery) / max(float(np.mean(inside)), 1e-9)
            share = np.clip(share, 0.0, 1.0)[:, None, None]
        else:
            wanted = np.full_like(inside, float(places.get(provision, 0)))
            share = np.divide(np.minimum(wanted, inside), inside, out=np.zeros_like(inside),
                              where=inside > 0)[:, None, None]
        go = (rng.binomial(x[..., indep].astype(np.int64), share) if rng is not None
              else x[..., indep] * share)
        x[..., indep] -= go
        x[..., to] += go
    return x


def summarise(result: dict[str, np.ndarray], fitted: Fitted, costs: Costs | None,
              scenario: Scenario) -> pl.DataFrame:
    """p10/p50/p90 per year of the caseload (all, by group, need and age band), joiners,
    and with costs, the High Needs spend and the cumulative DSG balance."""
    case, joiners = result["caseload"], result["joiners"]
    years = [fitted.base_year + 1 + h for h in range(case.shape[1])]
    series: list[tuple[str, str, np.ndarray]] = [
        ("caseload", "all", case.sum(axis=(2, 3, 4))), ("new_plans", "all", joiners)]
    series += [("caseload", f"group:{k}", case[..., i].sum(axis=(2, 3)))
               for i, k in enumerate(GROUPS)]
    series += [("caseload", f"need:{k}", case[..., i, :].sum(axis=(2, 3)))
               for i, k in enumerate(NEEDS)]
    series += [("caseload", f"age:{band}", case[:, :, lo:hi + 1].sum(axis=(2, 3, 4)))
               for band, lo, hi in AGE_BANDS]
    if costs is not None:
        spend = _spend(case, costs, scenario, years)
        income_years = sorted(costs.income)
        last = income_years[-1]
        growth = (scenario.hnb_income_growth_pct / 100
                  if scenario.hnb_income_growth_pct is not None
                  else _trend([costs.income[y] for y in income_years[-4:]]))
        income = np.array([costs.income[last] * (1 + growth) ** (y - last) for y in years])
        gap = income[None, :] - spend
        start = costs.balance[max(costs.balance)]
        # Years already in the DSG extract (budget or forecast) keep their own figures.
        gap[:, [y <= last for y in years]] = 0.0
        series += [("hnb_spend_gbp", "all", spend), ("hnb_income_gbp", "all",
                                                     np.broadcast_to(income, spend.shape)),
                   ("dsg_cumulative_balance_gbp", "all", start + np.cumsum(gap, axis=1))]
    rows = []
    for measure, breakdown, values in series:
        q = np.percentile(values, PERCENTILES, axis=0)
        for h, year in enumerate(years):
            rows.append((scenario.name, year, measure, breakdown, *(float(v) for v in q[:, h])))
    return pl.DataFrame(rows, schema={"scenario": pl.Utf8, "year": pl.Int32,
                                      "measure": pl.Utf8, "breakdown": pl.Utf8,
                                      "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64},
                        orient="row").with_columns(pl.col("p10", "p50", "p90").round(0))


def _spend(case: np.ndarray, costs: Costs, scenario: Scenario, years: list[int]) -> np.ndarray:
    """High Needs spend [sim, year]: unit cost per group x plans, plus the rest per plan,
    grown with the scenario's cost inflation from the base financial year."""
    inflation = 1 + scenario.cost_inflation_pct / 100
    years_on = np.array([y - costs.base_year for y in years])
    unit = costs.per_plan[None, None, :] * inflation ** years_on[None, :, None]
    overhead = costs.overhead_per_plan * inflation ** years_on[None, :]
    by_group = case.sum(axis=(2, 3))
    return (by_group * unit).sum(axis=2) + by_group.sum(axis=2) * overhead


def versus_baseline(result: dict[str, np.ndarray], baseline: dict[str, np.ndarray],
                    fitted: Fitted, costs: Costs | None, scenario: Scenario,
                    baseline_scenario: Scenario) -> pl.DataFrame:
    """p10/p50/p90 per year of a scenario's difference from the baseline, simulation by
    simulation (both drew from the same seed, so the difference is the levers', not chance's):
    `caseload_vs_baseline` (children) and, with costs, `hnb_spend_gbp_vs_baseline` (pounds,
    each at its own scenario's cost inflation)."""
    case, base = result["caseload"], baseline["caseload"]
    years = [fitted.base_year + 1 + h for h in range(case.shape[1])]
    series = [("caseload_vs_baseline", case.sum(axis=(2, 3, 4)) - base.sum(axis=(2, 3, 4)))]
    if costs is not None:
        series.append(("hnb_spend_gbp_vs_baseline", _spend(case, costs, scenario, years)
                       - _spend(base, costs, baseline_scenario, years)))
    rows = []
    for measure, values in series:
        q = np.percentile(values, PERCENTILES, axis=0)
        rows += [(scenario.name, year, measure, "all", *(float(v) for v in q[:, h]))
                 for h, year in enumerate(years)]
    return pl.DataFrame(rows, schema={"scenario": pl.Utf8, "year": pl.Int32,
                                      "measure": pl.Utf8, "breakdown": pl.Utf8,
                                      "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64},
                        orient="row").with_columns(pl.col("p10", "p50", "p90").round(0))


def _trend(values: list[float]) -> float:
    """Geometric mean yearly growth of a series (0 when it has fewer than two values)."""
    if len(values) < 2 or values[0] <= 0:
        return 0.0
    return (values[-1] / values[0]) ** (1 / (len(values) - 1)) - 1
