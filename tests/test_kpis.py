"""transforms/kpis.py: each KPI on a small table whose answer was worked out by hand (the
arithmetic is in the comments), including the edge cases of its definition."""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms import kpis

EXPORT = dt.date(2025, 3, 1)
AS_OF = EXPORT
D = dt.date.fromisoformat
JAN24, JAN25 = D("2024-01-18"), D("2025-01-16")  # January census days


# tests/handmade.py's plans A-F (its docstring works the answers out): request, start,
# cease, transfer in, 20-week exception.
HANDMADE = pl.DataFrame({
    "plan_id": list("ABCDEF"),
    "request_received": [D("2022-11-01"), D("2023-08-01"), D("2023-01-12"), D("2023-01-01"),
                         D("2024-01-01"), D("2021-06-01")],
    "start_date": [D("2023-03-01"), D("2024-01-18"), D("2023-06-01"), D("2023-09-01"),
                   D("2024-05-01"), D("2022-02-01")],
    "cease_date": [None, None, D("2024-01-18"), None, D("2024-12-31"), None],
    "transfer_la": [None, None, None, "803", None, None],
    "exception_applies": [False, True, False, False, True, False],
})


def test_januaries_are_the_spring_census_days_up_to_the_export():
    days = kpis.januaries(EXPORT)
    assert days["year"].to_list() == list(range(2015, 2026))
    assert days.filter(pl.col("year").is_in([2015, 2024, 2025]))["census_date"].to_list() == [
        D("2015-01-15"), JAN24, JAN25]
    # An export before January's census day has no January of its own yet.
    assert kpis.januaries(D("2025-01-15"))["year"].max() == 2024


def test_open_on_counts_a_plan_starting_on_the_day_but_not_one_ceasing_on_it():
    days = pl.DataFrame({"year": [2024, 2025], "census_date": [JAN24, JAN25]})
    got = kpis.open_on(HANDMADE.select("plan_id", "start_date", "cease_date"), days)
    assert sorted(got.select("year", "plan_id").rows()) == [
        (2024, "A"), (2024, "B"), (2024, "D"), (2024, "F"),
        (2025, "A"), (2025, "B"), (2025, "D"), (2025, "F")]
    active = HANDMADE.filter(kpis.active_on(pl.lit(JAN24)))["plan_id"].to_list()
    assert active == ["A", "B", "D", "F"]


def test_ehcp_caseload_growth_and_rate_per_10000():
    population = pl.DataFrame({"year": [2023], "population_0_25": [10_000]})
    out = kpis.ehcp_caseload(HANDMADE, EXPORT, population, "test", AS_OF)
    rows = out.filter(pl.col("year") >= 2022).select(
        "year", "caseload", "growth_pct", "rate_per_10k_0_25", "population_year").rows()
    # January 2024: A, B (starting that day), D (a transfer in counts), F; C ceased that day.
    assert rows == [(2022, 0, None, None, None), (2023, 1, None, None, None),
                    (2024, 4, 300.0, 4.0, 2023), (2025, 4, 0.0, None, None)]
    assert out["year"].to_list() == list(range(2015, 2026))
    assert set(out["definition"]) == {"docs/kpis.md#ehcp-caseload"}


def test_ehcp_new_plans_exclude_transfers_and_count_20_weeks_to_the_day():
    out = kpis.ehcp_new_plans(HANDMADE, EXPORT, "test", AS_OF)
    rows = out.filter(pl.col("year") >= 2022).select(
        "year", "new_plans", "within_20_weeks", "pct_within_20_weeks", "new_plans_ex",
        "within_20_weeks_ex", "pct_within_20_weeks_ex").rows()
    # 2022: F, 245 days: late. 2023: A (120 days) and C (exactly 140) within; D is a
    # transfer in. 2024: B late (170), E within (121), both exception cases: none left ex.
    assert rows == [(2022, 1, 0, 0.0, 1, 0, 0.0), (2023, 2, 2, 100.0, 2, 2, 100.0),
                    (2024, 2, 1, 50.0, 0, 0, None)]
    assert out["year"].max() == 2024  # 2025 is not complete at the export


def test_ehcp_requests_withdrawn_pending_transfer_and_a_year_with_none():
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


def test_ehcp_placement_mix_takes_the_setting_attended_on_census_day():
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


def test_ehcp_placement_mix_with_no_placement_is_unknown():
    plans = PLANS.filter(pl.col("plan_id") == 4).with_columns(pl.lit(None, pl.Date)
                                                             .alias("cease_date"))
    out = kpis.ehcp_placement_mix(plans, PLACEMENTS, EXPORT, "test", AS_OF)
    assert out.filter(pl.col("plans") > 0).select("year", "placement_group").rows() == [
        (2025, "unknown")]


def test_ehcp_need_mix_uses_the_rank_one_need():
    needs = pl.DataFrame({"plan_id": [1, 1, 3], "need": ["SLCN", "ASD", "SEMH"],
                          "rank": [2, 1, 1]})
    out = kpis.ehcp_need_mix(PLANS, needs, EXPORT, "test", AS_OF)
    y25 = out.filter(pl.col("year") == 2025).select("need", "plans", "pct").rows()
    assert y25 == [("ASD", 1, 50.0), ("SEMH", 1, 50.0)]
    y20 = out.filter(pl.col("year") == 2020).select("need", "plans").rows()
    assert y20 == [("ASD", 1)]


def test_ehcp_ceased_by_reason_in_the_calendar_year():
    out = kpis.ehcp_ceased(PLANS, EXPORT, "test", AS_OF)
    got = out.filter(pl.col("plans") > 0).select("year", "cease_reason", "plans").rows()
    assert got == [(2024, 2, 1), (2024, 5, 1)]
    assert out.filter(pl.col("year") == 2023)["plans"].sum() == 0
    assert out.height == 10 * 9  # 2015-2024, nine reasons each


def test_sen_prevalence_counts_a_pupil_once_when_on_roll_twice_and_rows_otherwise():
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
