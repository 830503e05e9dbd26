"""The demand and cost model on hand-made populations whose future is known: the LA model
(age, need, placement), its one-state collapse and the pooling that ties the two, and what a
lever does to the central path and the band. The backtest on the DfE's published statistics
is in tests/test_forecast_backtest.py."""

from __future__ import annotations

import math

import polars as pl
import pytest

from flows.settings import DEFAULT_SCENARIOS
from transforms import forecast as F


def states(rows: list[tuple[int, int, int, str, str]]) -> pl.DataFrame:
    """(year, plan_id, age, need, group) rows as january_states makes them."""
    return pl.DataFrame(rows, schema={"year": pl.Int32, "plan_id": pl.Int64, "age": pl.Int32,
                                      "need": pl.Utf8, "group": pl.Utf8}, orient="row"
                        ).with_columns(pl.lit(None, pl.Int64).alias("urn"))


def cohort(year: int, ids: range, age: int, group: str = "mainstream") -> list[tuple]:
    return [(year, i, age, "ASD", group) for i in ids]


def caseload(frame: pl.DataFrame, breakdown: str = "all", measure: str = "caseload"
             ) -> list[tuple[int, float, float, float]]:
    return frame.filter((pl.col("measure") == measure) & (pl.col("breakdown") == breakdown)
                        ).sort("year").select("year", "p10", "p50", "p90").rows()


def test_no_transitions_means_a_flat_caseload():
    # 300 children aged 7-9 in 2024, all still on plans and in the same places in 2025;
    # no requests, so no joiners.
    rows = [r for a, ids in ((7, range(0, 100)), (8, range(100, 200)), (9, range(200, 300)))
            for r in cohort(2024, ids, a) + cohort(2025, ids, a + 1)]
    fitted = F.fit(states(rows), requests={})
    result = F.simulate(fitted, F.Scenario("flat"), horizon=3, sims=200)
    out = F.summarise(result, fitted, None, F.Scenario("flat"))
    assert caseload(out) == [(2026, 300, 300, 300), (2027, 300, 300, 300),
                             (2028, 300, 300, 300)]
    assert caseload(out, "age:11-15")[-1] == (2028, 300, 300, 300)  # aged on three years
    assert caseload(out, measure="new_plans") == [(y, 0, 0, 0) for y in (2026, 2027, 2028)]


def test_a_known_leaver_rate_halves_a_cohort_each_year():
    # 1,000 plans at age 10 in 2024; 500 of them are still open in January 2025.
    rows = cohort(2024, range(1000), 10) + cohort(2025, range(500), 11)
    fitted = F.fit(states(rows), requests={})
    assert fitted.moves[10, 0, len(F.GROUPS)] == 0.5
    expected = F.summarise(F.simulate(fitted, F.Scenario("x"), horizon=3, sims=0), fitted,
                           None, F.Scenario("x"))
    assert [r[2] for r in caseload(expected)] == [250, 125, 62]  # 62.5 rounds to even
    simulated = caseload(F.summarise(F.simulate(fitted, F.Scenario("x"), horizon=1, sims=500),
                                     fitted, None, F.Scenario("x")))[0]
    # At least Binomial(500, 0.5) (sd 11.2, so p10 and p90 some 14 either side of 250), and
    # wider: no plan was seen at 11, so that age's rate is the prior's 5 plans' worth.
    year, p10, p50, p90 = simulated
    assert year == 2026 and p10 < 236 and p10 < p50 < p90 and p90 > 264


def test_joiners_follow_requests_two_years_before():
    # Stable stock of 100; 20 joiners into January 2025 from 40 requests in 2023.
    rows = cohort(2024, range(100), 8) + cohort(2025, range(100), 9) + cohort(
        2025, range(1000, 1020), 5)
    fitted = F.fit(states(rows), requests={2023: 40, 2024: 60})
    assert fitted.conversion == 0.5 and fitted.joiners == {2025: 20}
    out = F.summarise(F.simulate(fitted, F.Scenario("x"), horizon=1, sims=0), fitted, None,
                      F.Scenario("x"))
    # January 2026: 120 stay, 0.5 x 60 requests in 2024 join.
    assert caseload(out, measure="new_plans") == [(2026, 30, 30, 30)]
    assert caseload(out) == [(2026, 150, 150, 150)]


def test_levers_move_children_between_placements():
    rows = (cohort(2024, range(100), 8, "special_independent")
            + cohort(2025, range(100), 9, "special_independent")
            + cohort(2025, range(500, 520), 5, "special_state"))
    fitted = F.fit(states(rows), requests={2023: 20, 2024: 20})

    def independent(scenario: F.Scenario, recovery: dict | None = None) -> list[float]:
        out = F.summarise(F.simulate(fitted, scenario, recovery, horizon=3, sims=0), fitted,
                          None, scenario)
        return [r[2] for r in caseload(out, "group:special_independent")]

    assert independent(F.Scenario("none")) == [100, 100, 100]
    # Every new special placement goes independent: +20 a year.
    assert independent(F.Scenario("all", independent_share_of_new_special=1.0)) == [
        120, 140, 160]
    # 30 new state special places in 2027 take 30 children from independent schools.
    assert independent(F.Scenario("places", places={2027: {"special": 30}})) == [100, 70, 70]
    # A recovery target of 40 independent placements, reached in a straight line by year 3.
    assert independent(F.Scenario("target", recovery_targets={"RP05": "special_independent"}),
                       {"RP05": 40}) == [80, 60, 40]
    with pytest.raises(ValueError, match="'RP99' has no metric target"):
        independent(F.Scenario("bad", recovery_targets={"RP99": "new_plans"}), {})


def test_costs_are_provider_payments_per_placed_plan_plus_the_rest_per_plan():
    rows = states(cohort(2025, range(10), 8, "special_independent")
                  + cohort(2025, range(10, 30), 8, "mainstream")).with_columns(
        pl.when(pl.col("plan_id") < 10).then(900001).otherwise(None).alias("urn"))
    ledger = pl.DataFrame({
        "financial_year": ["2024-25"] * 3, "entry_type": ["actual"] * 3,
        "s251_line": ["1.2.3", "1.0.2", "1.2.5"], "provider_urn": [900001, 900001, None],
        "amount_gbp": [500_000.0, 100_000.0, 300_000.0]})
    dsg = pl.DataFrame({"financial_year": ["2024-25"], "spend_basis": ["outturn"],
                        "hnb_income_gbp": [800_000.0], "cumulative_balance_gbp": [-100_000.0]})
    costs = F.fit_costs(ledger, rows, dsg)
    assert costs.base_year == 2025
    assert costs.per_plan[F.GROUPS.index("special_independent")] == 60_000  # 600k / 10
    assert costs.overhead_per_plan == 10_000  # the 300k support services / 30 plans


def test_scenarios_file_rejects_an_unknown_lever():
    text = '[scenarios.a]\nrequest_growth_pct = 5\n[scenarios.b]\nrequests_growth = 5\n'
    with pytest.raises(ValueError, match=r"scenario 'b': unknown lever\(s\) \['requests_growth'\]"):
        F.scenarios_from_toml(text)
    with pytest.raises(ValueError, match=r"can cap special_independent or new_plans, not "
                                         r"\['caseload'\]"):
        F.scenarios_from_toml('[scenarios.a]\nrecovery_targets = { RP05 = "caseload" }\n')
    shipped = F.load_scenarios(DEFAULT_SCENARIOS)
    assert [s.name for s in shipped] == ["baseline", "recovery_plan", "high_demand"]


def test_the_one_state_path_reproduces_a_known_series():
    # 10% leave each year and joiners are half the requests two years before.
    case = {2019: 1000.0}
    new = {y: 0.5 * 200 for y in range(2019, 2025)}
    for y in range(2020, 2026):
        case[y] = case[y - 1] * 0.9 + new[y - 1]
    requests = dict.fromkeys(range(2017, 2025), 200.0)
    rates = F.one_state_rates(case, new, requests, 2022)
    assert (round(rates.leave, 9), rates.conversion, rates.request_growth) == (0.1, 0.5, 0.0)
    got = F.one_state_path(rates, [2023, 2024, 2025])
    assert {y: round(v, 6) for y, v in got.items()} == {y: round(case[y], 6)
                                                         for y in (2023, 2024, 2025)}


def england(leave: float = 0.2, conversion: float = 0.5, growth: float = 0.1,
            caseload_growth: float | None = None) -> F.OneState:
    return F.OneState(2022, 100_000.0, leave, conversion, growth, 0.05, {2021: 1.0},
                      caseload_growth=caseload_growth)


def test_an_las_rates_are_pooled_towards_englands():
    case = {2019: 1000.0}
    new = {y: 100.0 for y in range(2019, 2025)}
    for y in range(2020, 2026):
        case[y] = case[y - 1] * 0.9 + new[y - 1]
    own = F.one_state_rates(case, new, dict.fromkeys(range(2017, 2025), 200.0), 2022)
    pooled = F.pool_rates(own, england())
    # Half the LA's leaver rate and conversion, a quarter of its request growth (0%).
    assert (round(pooled.leave, 9), pooled.conversion, round(pooled.request_growth, 9)) == (
        0.15, 0.5, 0.075)
    assert pooled.reference_growth is None and F.joiner_scale(pooled, 2) == {2023: 1.0,
                                                                           2024: 1.0}
    # England's caseload grew 10%: the path leans a quarter of the way to that growth.
    leaned = F.pool_rates(own, england(caseload_growth=0.1))
    plain = F.one_state_path(pooled, [2023])[2023]
    target = case[2022] * (plain / case[2022]) ** 0.75 * math.exp(0.25 * 0.1)
    assert round(F.one_state_path(leaned, [2023])[2023], 6) == round(target, 6)


def test_new_plans_that_imply_an_impossible_leaver_rate_are_not_fitted_on():
    # The DfE's 2025 release gives every Yorkshire and the Humber LA 6,078 new plans in 2022.
    case = {2021: 1000.0, 2022: 1100.0, 2023: 1200.0}
    new = {2021: 200.0, 2022: 6078.0}
    rates = F.one_state_rates(case, new, {2020: 250.0, 2021: 300.0, 2022: 330.0}, 2023)
    # Only 2021's pair and joiners are fitted on: 2022's would imply -390% leaving.
    assert rates.leave_rates == [0.1] and rates.conversions == [200 / 250]


def staircase() -> pl.DataFrame:
    """Every (January, age) group holds 100 plans: 10 leave by the next January, 90 age on and
    10 join beside them, and 100 join at age 5; so every age leaves at exactly 10%."""
    rows, next_id, groups = [], 0, {}
    for age in range(5, 15):
        groups[age] = list(range(next_id, next_id + 100))
        next_id += 100
    for year in range(2022, 2026):
        rows += [(year, i, age, "ASD", "mainstream") for age, ids in groups.items() for i in ids]
        moved = {age + 1: ids[10:] for age, ids in groups.items()}
        groups = {}
        for age in [5, *moved]:
            joiners = 100 - len(moved.get(age, []))
            groups[age] = moved.get(age, []) + list(range(next_id, next_id + joiners))
            next_id += joiners
    return states(rows)


def test_the_la_model_follows_the_one_state_model_it_is_pooled_with():
    frame = staircase()
    assert frame.group_by("year").len().sort("year")["len"].to_list() == [1000, 1100, 1200,
                                                                          1300]
    requests = {2021: 400, 2022: 440, 2023: 480, 2024: 520}
    reference = england(caseload_growth=0.08)
    fitted = F.fit(frame, requests, reference=reference)
    # The LA's own rates (10% leave; 210 and 220 joiners from 440 and 480 requests two years
    # before) pooled half-way to England's (20%, 0.5).
    assert round(fitted.rates.leave, 9) == 0.15
    assert fitted.conversion == fitted.rates.conversion == 0.5 * (210 / 440 + 220 / 480) / 2 \
        + 0.25
    assert round(fitted.leave_factor(), 9) == 1.5
    out = F.summarise(F.simulate(fitted, F.Scenario("x"), horizon=3, sims=0), fitted, None,
                      F.Scenario("x"))
    path = F.one_state_path(fitted.rates, [2026, 2027, 2028])
    assert [round(r[2]) for r in caseload(out)] == [round(path[y]) for y in (2026, 2027, 2028)]


def test_a_cap_on_new_plans_moves_the_path_but_keeps_the_band():
    fitted = F.fit(staircase(), {2021: 400, 2022: 440, 2023: 480, 2024: 520})
    target = F.Scenario("target", recovery_targets={"RP09": "new_plans"})
    base = F.simulate(fitted, F.Scenario("baseline"), horizon=3, sims=400)
    capped = F.simulate(fitted, target, {"RP09": 100}, horizon=3, sims=400)
    plain, cut = (F.summarise(r, fitted, None, F.Scenario("x")) for r in (base, capped))
    joiners = caseload(cut, measure="new_plans")
    # The cap (100 joiners by the third year, from 220 now: 180, 140, 100) is met by the runs
    # that deliver all of it and missed by the rest, so it lies between p10 and the median...
    assert [round(r[2], -1) for r in joiners] == [180.0, 150.0, 110.0]
    assert [r[1] < cap < r[2] for r, cap in zip(joiners, (180, 140, 100), strict=True)] == [
        True, True, True]
    # ...with its own chance of being missed, and the rest of the model's spread kept.
    width = [r[3] - r[1] for r in caseload(cut)]
    assert [w > 0.8 * (r[3] - r[1]) for w, r in zip(width, caseload(plain), strict=True)
            ] == [True, True, True]
    assert joiners[-1][3] - joiners[-1][1] > 40
    versus = F.versus_baseline(capped, base, fitted, None, target, F.Scenario("baseline"))
    lo, mid, hi = versus.filter(pl.col("year") == 2028).select("p10", "p50", "p90").row(0)
    assert versus["measure"].unique().to_list() == ["caseload_vs_baseline"]
    # Baseline joiners of about 240, 265 and 285 (0.47 of 520 requests, growing 8.7% a year)
    # cut towards 180, 140, 100: some 350 fewer plans by 2028 where the target is met in
    # full, less those who would have left; about 320 at the median run.
    assert lo < mid < hi < 0 and round(mid, -1) == -320.0
    same = F.versus_baseline(base, base, fitted, None, F.Scenario("b"), F.Scenario("baseline"))
    assert same.select("p10", "p50", "p90").unique().rows() == [(0.0, 0.0, 0.0)]


def population(rows: dict[int, dict[int, int]]) -> pl.DataFrame:
    return pl.DataFrame([(y, a, n) for y, ages in rows.items() for a, n in ages.items()],
                        schema={"year": pl.Int32, "age": pl.Int32, "population": pl.Int64},
                        orient="row")


def test_the_population_shifts_the_joiners_ages_but_not_their_number():
    rows = (cohort(2024, range(100), 8) + cohort(2025, range(100), 9)
            + cohort(2025, range(1000, 1010), 4) + cohort(2025, range(2000, 2010), 5))
    # Mid-2024 (January 2025) and mid-2025 (January 2026): twice as many four-year-olds.
    pop = population({2024: {4: 100, 5: 100}, 2025: {4: 200, 5: 100}})
    plain = F.fit(states(rows), requests={2023: 20, 2024: 30})
    shaped = F.fit(states(rows), requests={2023: 20, 2024: 30}, population=pop)

    def first_year(fitted: F.Fitted) -> dict[str, float]:
        out = F.summarise(F.simulate(fitted, F.Scenario("x"), horizon=1, sims=0), fitted, None,
                          F.Scenario("x"))
        return {b: caseload(out, b)[0][2] for b in ("all", "age:0-4", "age:5-10")}

    assert first_year(plain) == {"all": 150, "age:0-4": 15, "age:5-10": 135}
    assert first_year(shaped) == {"all": 150, "age:0-4": 20, "age:5-10": 130}


def test_past_the_last_estimate_cohorts_age_on():
    pop = population({2024: {a: 100 + a for a in range(26)}})
    ahead = F.population_by_age(pop, 2025, 2027)
    assert list(ahead) == [2025, 2026, 2027]
    assert ahead[2025][:3].tolist() == [100, 101, 102]  # the estimate itself
    assert ahead[2027][:4].tolist() == [100, 100, 100, 101]  # aged on twice, births flat


def test_places_the_extract_already_funds_open_in_every_scenario_that_wants_them():
    places = pl.DataFrame({
        "financial_year": ["2025-26", "2025-26", "2026-27", "2026-27", "2027-28", "2026-27"],
        "urn": [1, 2, 1, 2, 1, 3],
        "provision": ["special", "resourced_provision", "special", "resourced_provision",
                      "special", "ap"],
        "funded_places": [100, 20, 130, 20, 125, 50]})
    # January 2027 (2026-27): 30 more special places; RP unchanged; 2027-28 fewer; AP ignored.
    planned = F.planned_openings(places, base_year=2026)
    assert planned == {2027: {"special": 30}}
    own = F.Scenario("own", places={2027: {"special": 5}, 2028: {"resourced_provision": 10}})
    assert own.with_planned(planned).places == {2027: {"special": 35},
                                                2028: {"resourced_provision": 10}}
    assert F.Scenario("no", places_from_file=False).with_planned(planned).places == {}


def test_primary_needs_change_as_they_did_between_januaries():
    # 100 plans with SLCN at 8 in 2024; a year on, half are recorded as ASD.
    rows = ([(2024, i, 8, "SLCN", "mainstream") for i in range(100)]
            + [(2025, i, 9, "SLCN" if i < 50 else "ASD", "mainstream") for i in range(100)])
    fitted = F.fit(states(rows), requests={})
    slcn, asd = F.NEEDS.index("SLCN"), F.NEEDS.index("ASD")
    assert fitted.need_moves[slcn, asd] == 50 / 105  # 5 plans' worth of prior on staying
    out = F.summarise(F.simulate(fitted, F.Scenario("x"), horizon=1, sims=0), fitted, None,
                      F.Scenario("x"))
    # SLCN keeps 55/105 of its 50; ASD (never seen changing) keeps all 50 and gains the rest.
    assert caseload(out, "need:SLCN") == [(2026, 26, 26, 26)]
    assert caseload(out, "need:ASD") == [(2026, 74, 74, 74)]
    assert caseload(out) == [(2026, 100, 100, 100)]
