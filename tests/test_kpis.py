"""Each KPI on a small table whose answer was worked out by hand (the arithmetic is in the
comments), including the edge cases of its definition."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from transforms import kpis
from transforms.benchmarks import benchmarks, headline_figures, reconciliation
from transforms.finance_kpis import dsg_balance, hnb_outturn, recovery_plan, unit_costs
from transforms.place_kpis import place_sufficiency

EXPORT = dt.date(2025, 3, 1)
AS_OF = EXPORT
D = dt.date.fromisoformat
JAN24, JAN25 = D("2024-01-18"), D("2025-01-16")  # January census days


def test_requests_withdrawn_pending_transfer_and_a_year_with_none():
    req = pl.DataFrame({
        "received": [D("2023-02-01"), D("2023-03-01"), D("2023-04-01"), D("2023-12-20"),
                     D("2023-05-01")],
        "outcome": ["A", "N", "W", None, "A"],
        "decided": [D("2023-03-03"), D("2023-04-20"), None, None, D("2023-05-10")],
        "transfer_in": [False, False, False, False, True],
    })
    out = kpis.ehcp_requests(req, EXPORT, "test", AS_OF)
    row = out.filter(pl.col("year") == 2023).row(0, named=True)
    # 4 received (the transfer's request excluded); 1 to assess = 25.0%; 2 decisions (A in
    # 30 days, N in 50 days): 1 within six weeks = 50.0%; 1 withdrawn, 1 awaiting.
    assert (row["requests_received"], row["decided_to_assess"], row["pct_decided_to_assess"],
            row["decisions"], row["decided_within_6_weeks"], row["pct_decided_within_6_weeks"],
            row["withdrawn"], row["awaiting_decision"]) == (4, 1, 25.0, 2, 1, 50.0, 1, 1)
    none = out.filter(pl.col("year") == 2024).row(0, named=True)
    assert (none["requests_received"], none["pct_decided_to_assess"]) == (0, None)
    assert out["year"].to_list() == list(range(2015, 2025))


PLANS = pl.DataFrame({
    "plan_id": [1, 2, 3, 4],
    "start_date": [D("2020-01-01"), D("2023-06-01"), D("2023-09-01"), D("2024-02-01")],
    "cease_date": [None, D("2024-01-18"), None, D("2024-12-31")],
    "cease_reason": [None, 2, None, 5],
})
PLACEMENTS = pl.DataFrame({
    "plan_id": [1, 1, 3],
    "entry_date": [D("2020-01-01"), D("2024-01-18"), D("2023-09-01")],
    "leaving_date": [D("2024-01-18"), None, None],
    "placement_rank": [1, 1, 1],
    "urn": [100001, 100002, 100003],
    "placement_group": ["mainstream", "special", "fe"],
    "resourced_provision": [False, False, False],
    "sen_unit": [False, False, False],
})


def test_placement_mix_takes_the_setting_attended_on_census_day():
    out = kpis.ehcp_placement_mix(PLANS, PLACEMENTS, EXPORT, "test", AS_OF)
    got = {(r["year"], r["placement_group"]): r["plans"] for r in out.iter_rows(named=True)
           if r["plans"]}
    # Jan 2024: plan 1 moved to special ON census day (counts there), plan 2 ceased on it,
    # plan 3 at FE. Jan 2025: plans 1 (special) and 3 (FE); plan 4 ceased in December.
    assert got == {(2020, "mainstream"): 1, (2021, "mainstream"): 1, (2022, "mainstream"): 1,
                   (2023, "mainstream"): 1, (2024, "special"): 1, (2024, "fe"): 1,
                   (2025, "special"): 1, (2025, "fe"): 1}
    y24 = out.filter(pl.col("year") == 2024)
    assert y24["pct"].to_list() == [0.0, 50.0, 0.0, 50.0, 0.0, 0.0, 0.0]
    assert set(y24["caseload"]) == {2}


def test_placement_mix_with_no_placement_is_unknown():
    plans = PLANS.filter(pl.col("plan_id") == 4).with_columns(pl.lit(None, pl.Date)
                                                             .alias("cease_date"))
    out = kpis.ehcp_placement_mix(plans, PLACEMENTS, EXPORT, "test", AS_OF)
    assert out.filter(pl.col("plans") > 0).select("year", "placement_group").rows() == [
        (2025, "unknown")]


def test_need_mix_uses_the_rank_one_need():
    needs = pl.DataFrame({"plan_id": [1, 1, 3], "need": ["SLCN", "ASD", "SEMH"],
                          "rank": [2, 1, 1]})
    out = kpis.ehcp_need_mix(PLANS, needs, EXPORT, "test", AS_OF)
    y25 = out.filter(pl.col("year") == 2025).select("need", "plans", "pct").rows()
    assert y25 == [("ASD", 1, 50.0), ("SEMH", 1, 50.0)]
    y20 = out.filter(pl.col("year") == 2020).select("need", "plans").rows()
    assert y20 == [("ASD", 1)]


def test_ceased_by_reason_in_the_calendar_year():
    out = kpis.ehcp_ceased(PLANS, EXPORT, "test", AS_OF)
    got = out.filter(pl.col("plans") > 0).select("year", "cease_reason", "plans").rows()
    assert got == [(2024, 2, 1), (2024, 5, 1)]
    assert out.filter(pl.col("year") == 2023)["plans"].sum() == 0
    assert out.height == 10 * 9  # 2015-2024, nine reasons each


def ledger() -> pl.DataFrame:
    rows = []
    for p in range(1, 13):  # 2023-24: budget 100 and actual 100 a month on line 1.2.1
        rows += [("2023-24", p, "1.2.1", "budget", "100.00"), ("2023-24", p, "1.2.1", "actual",
                                                                 "100.00")]
    rows.append(("2023-24", 13, "1.2.1", "actual", "-50.00"))  # year-end adjustment
    for p in range(1, 7):  # 2024-25: six months of actuals so far
        rows.append(("2024-25", p, "1.2.1", "actual", "100.00"))
    rows.append(("2024-25", 1, "1.2.1", "budget", "1200.00"))
    frame = pl.DataFrame(rows, schema=["financial_year", "period", "s251_line", "entry_type",
                                       "amount_gbp"], orient="row")
    return frame.with_columns(pl.col("amount_gbp").cast(pl.Decimal(18, 2)))


def test_outturn_includes_period_13_and_forecasts_the_open_year():
    out = hnb_outturn(ledger(), "test", AS_OF)
    closed = out.filter(pl.col("financial_year") == "2023-24").row(0, named=True)
    # 12 x 100 - 50 = 1,150 against a budget of 1,200: 50 under.
    assert (closed["actual_gbp"], closed["variance_gbp"], closed["complete"]) == (
        Decimal("1150.00"), Decimal("-50.00"), True)
    open_year = out.filter(pl.col("financial_year") == "2024-25").row(0, named=True)
    # By period 6 of 2023-24, 600 of its 1,150 was spent: 600 / (600 / 1150) = 1,150.
    assert open_year["periods_with_actuals"] == 6 and not open_year["complete"]
    assert open_year["forecast_outturn_gbp"] == Decimal("1150.00")
    assert open_year["forecast_variance_gbp"] == Decimal("-50.00")


def test_dsg_balance_carries_the_deficit_forward():
    dsg = pl.DataFrame({
        "financial_year": ["2023-24", "2024-25"],
        "high_needs_block_gbp": [Decimal("1000.00"), Decimal("1200.00")],
        "block_transfer_gbp": [Decimal("100.00"), None],
        "opening_cumulative_balance_gbp": [Decimal("-1000.00"), None],
    })
    out = dsg_balance(dsg, hnb_outturn(ledger(), "test", AS_OF), "test", AS_OF)
    rows = out.select("financial_year", "hnb_income_gbp", "hnb_spend_gbp", "in_year_gbp",
                      "cumulative_balance_gbp", "pct_of_dsg_income", "spend_basis").rows()
    # 2023-24: 1,100 in, 1,150 out: -50; -1,000 - 50 = -1,050 = 95.5% of 1,100.
    # 2024-25: 1,200 in, 1,150 forecast: +50; -1,000 = 83.3% of 1,200.
    assert rows == [
        ("2023-24", Decimal("1100.00"), Decimal("1150.00"), Decimal("-50.00"),
         Decimal("-1050.00"), 95.5, "outturn"),
        ("2024-25", Decimal("1200.00"), Decimal("1150.00"), Decimal("50.00"),
         Decimal("-1000.00"), 83.3, "forecast")]


def test_recovery_plan_rag_and_cumulative_savings():
    register = pl.DataFrame({
        "project_id": ["P1"] * 4, "project_name": ["Dyslexia friendly schools"] * 4,
        "theme": ["Inclusive practice"] * 4,
        "financial_year": ["2020-21", "2021-22", "2022-23", "2023-24"],
        "planned_saving_gbp": [Decimal("100"), Decimal("100"), Decimal("100"), Decimal("100")],
        "actual_saving_gbp": [Decimal("95"), Decimal("80"), Decimal("50"), None],
        "metric_name": [None] * 4, "metric_baseline": [None] * 4, "metric_target": [None] * 4,
    })
    out = recovery_plan(register, "test", AS_OF)
    assert out.select("rag", "cumulative_rag").rows() == [
        ("green", "green"),  # 95 of 100
        ("amber", "amber"),  # 80 of 100; 175 of 200 = 87.5%
        ("red", "amber"),  # 50 of 100; 225 of 300 = 75%
        ("grey", "grey")]  # not yet known
    assert out["cumulative_planned_gbp"].to_list()[-1] == Decimal("400")


def test_place_sufficiency_counts_plans_attending_in_january():
    places = pl.DataFrame({"financial_year": ["2023-24", "2024-25", "2023-24"],
                           "urn": [100002, 100002, 100003],
                           "provision": ["special", "special", "resourced_provision"],
                           "funded_places": [4, 4, 2]})
    out = place_sufficiency(places, PLANS, PLACEMENTS, EXPORT, "test", AS_OF)
    rows = out.select("financial_year", "urn", "provision", "ehcp_pupils",
                      "occupancy_pct").rows()
    # Jan 2024 and Jan 2025: plan 1 at special 100002 (1 of 4 = 25%); plan 3 at 100003 is not
    # flagged as resourced provision, so it does not fill an RP place.
    assert rows == [("2023-24", 100003, "resourced_provision", 0, 0.0),
                    ("2023-24", 100002, "special", 1, 25.0),
                    ("2024-25", 100002, "special", 1, 25.0)]


RELEASE = Path(__file__).resolve().parents[2] / "shared" / "external" / "dfe-ehcp-2025"


@pytest.fixture(scope="module")
def published():
    from transforms.published import published_schema, recognise, tidy
    from transforms.readers import read_raw
    from transforms.validate import validate

    frames = []
    for name in ("caseload.csv", "timeliness_20_week.csv"):
        raw = read_raw(RELEASE / name)
        cols = [c for c in raw.frame.columns if c != "row_number"]
        good = validate(raw.frame, published_schema(cols), set()).good
        kind = recognise(cols, set(good["time_identifier"].unique()))
        frames.append(tidy(good, kind))
    return headline_figures(pl.concat(frames))


def test_benchmarks_on_the_real_2025_release(published):
    out = benchmarks(published, "E06000054", "E12000009", ["E10000013", "E10000027"], "DfE",
                     AS_OF)
    got = {(r["measure"], r["comparison"], r["geography_name"]): r["value"]
           for r in out.filter(pl.col("year") == 2025).iter_rows(named=True)}
    assert got[("ehcp_caseload", "england", "England")] == 638745
    assert got[("ehcp_caseload", "la", "Wiltshire")] == 6383
    assert got[("pct_mainstream", "la", "Wiltshire")] == 51.2
    assert got[("pct_mainstream", "england", "England")] == 43.6
    assert got[("ehcp_caseload", "region", "South West")] > 40000
    # Gloucestershire 6,412 and Somerset 5,725: their mean is 6,068.5.
    assert got[("ehcp_caseload", "statistical_neighbours_mean",
                "Mean of 2 statistical neighbours")] == 6068.5
    timeliness = out.filter((pl.col("measure") == "pct_within_20_weeks_ex")
                            & (pl.col("comparison") == "england") & (pl.col("year") == 2019))
    assert timeliness["value"].to_list() == [60.4]


def test_reconciliation_flags_differences_beyond_tolerance():
    local = pl.DataFrame({"year": [2024, 2024, 2025], "measure": [
        "ehcp_caseload", "pct_within_20_weeks_ex", "ehcp_caseload"],
        "local_value": [5540.0, 33.0, 6383.0], "note": [None, None, None]})
    published = pl.DataFrame({"year": [2024, 2024, 2025, 2023], "measure": [
        "ehcp_caseload", "pct_within_20_weeks_ex", "ehcp_caseload", "ehcp_caseload"],
        "value": [5536.0, 29.5, 6383.0, 4760.0]})
    out = reconciliation(local, published, "test", AS_OF)
    rows = out.select("year", "measure", "difference", "tolerance", "flagged", "note").rows()
    # 4 of 5,536 is within 2% (110.7); 3.5 points is beyond 2 points.
    assert rows == [
        (2023, "ehcp_caseload", None, 95.2, False, "no local figure"),
        (2024, "ehcp_caseload", 4.0, 110.7, False, None),
        (2025, "ehcp_caseload", 0.0, 127.7, False, None),
        (2024, "pct_within_20_weeks_ex", 3.5, 2.0, True, None)]


def test_unit_costs_spend_per_plan_and_top_up_per_placement():
    led = ledger().with_columns(pl.lit(None, pl.Int32).alias("provider_urn"))
    top_ups = pl.DataFrame({
        "financial_year": ["2023-24", "2023-24"], "period": [5, 6], "s251_line": ["1.2.3"] * 2,
        "entry_type": ["actual"] * 2, "amount_gbp": [Decimal("30000.00"), Decimal("-500.00")],
        "provider_urn": [100002, 100002]}).with_columns(pl.col("provider_urn").cast(pl.Int32))
    led = pl.concat([led, top_ups.select(led.columns)])
    establishments = pl.DataFrame({"urn": [100002, 100003], "type_of_establishment": [
        "Other independent special school", "Further education"]})
    placements = PLACEMENTS.with_columns(pl.col("urn").cast(pl.Int32))
    out = unit_costs(led, hnb_outturn(led, "test", AS_OF), PLANS, placements,
                     establishments.with_columns(pl.col("urn").cast(pl.Int32)), EXPORT,
                     "test", AS_OF)
    rows = out.select("financial_year", "measure", "cost_group", "plans", "value_gbp").rows()
    # 2023-24: outturn 1,150 + 29,500 of fees = 30,650 over January 2024's 2 plans = 15,325;
    # the 29,500 of fees to the independent special school over its 1 placement that day.
    assert ("2023-24", "spend_per_ehcp", None, 2, 15325.0) in rows
    assert ("2023-24", "top_up_per_placement", "special_inmss", 1, 29500.0) in rows


def test_prevalence_counts_a_pupil_once_when_on_roll_twice_and_rows_otherwise():
    """sen_prevalence counts rows per school when no pupil is on roll twice in a census, and
    distinct pupils otherwise; both ways give each scope's pupils, EHCPs and SEN support."""
    day = dt.date(2024, 1, 18)
    rows = [("p1", "8652001", 100001, "C", "E"), ("p2", "8652001", 100001, "C", "K"),
            ("p3", "8652002", 100002, "M", "N"), ("p4", "8652002", 100002, "S", "E")]
    census = pl.DataFrame(
        [(day, "865", laestab, urn, pid, enrol, prov) for pid, laestab, urn, enrol, prov in rows],
        schema={"census_date": pl.Date, "la_number": pl.Utf8, "laestab": pl.Utf8,
                "urn": pl.Int32, "pupil_id": pl.Utf8, "enrol_status": pl.Utf8,
                "sen_provision": pl.Utf8}, orient="row")

    def counts(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int, int]]:
        out = kpis.sen_prevalence(frame, None, "test", day)
        return {(r["scope"], r["scope_id"]): (r["pupils"], r["ehcp"], r["sen_support"])
                for r in out.iter_rows(named=True)}

    once = counts(census)  # one row per pupil: counted by rows
    assert once[("la", "865")] == (3, 1, 1)  # p4 is a subsidiary registration (S)
    assert once[("school", "100001")] == (2, 1, 1)
    assert once[("school", "100002")] == (1, 0, 0)
    # p1 also on roll at the second school: distinct pupils, so the LA still has three.
    twice = counts(census.vstack(pl.DataFrame(
        [(day, "865", "8652002", 100002, "p1", "M", "E")], schema=census.schema, orient="row")))
    assert twice[("la", "865")] == (3, 1, 1)
    assert twice[("school", "100002")] == (2, 1, 0)
