"""transforms/duty_kpis.py on hand-made core rows, each answer worked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms import duty_kpis, kpis

EXPORT = dt.date(2025, 3, 1)  # complete years 2015-2024
AS_OF = EXPORT
D = dt.date.fromisoformat
FLAGS = ("request_mediation", "request_tribunal", "assessment_mediation",
         "assessment_tribunal", "other_mediation", "other_tribunal")


def _plans(rows: list[dict]) -> pl.DataFrame:
    base = {"plan_id": 0, "start_date": None, "cease_date": None, "cease_reason": None,
            "transfer_la": None, "request_received": None, "exception_applies": False,
            "personal_budget": False, "organised_arrangements": False,
            "direct_payments": False, "review_meeting": None, "review_outcome": None,
            "review_decided": None, "transfer_due": None, "transfer_final": None}
    return pl.DataFrame([{**base, "plan_id": i, **r} for i, r in enumerate(rows)],
                        schema={"plan_id": pl.Int64, "start_date": pl.Date,
                                "cease_date": pl.Date, "cease_reason": pl.Int64,
                                "transfer_la": pl.Utf8, "request_received": pl.Date,
                                "exception_applies": pl.Boolean, "personal_budget": pl.Boolean,
                                "organised_arrangements": pl.Boolean,
                                "direct_payments": pl.Boolean, "review_meeting": pl.Date,
                                "review_outcome": pl.Utf8, "review_decided": pl.Date,
                                "transfer_due": pl.Date, "transfer_final": pl.Date})


def _requests(rows: list[dict]) -> pl.DataFrame:
    base = {"request_id": 0, "received": None, "outcome": None, "decided": None,
            "assessment_outcome": None, "assessment_decided": None, "transfer_in": False,
            "request_source": None, **dict.fromkeys(FLAGS, False)}
    return pl.DataFrame([{**base, "request_id": i, **r} for i, r in enumerate(rows)],
                        schema={"request_id": pl.Int64, "received": pl.Date,
                                "outcome": pl.Utf8, "decided": pl.Date,
                                "assessment_outcome": pl.Utf8, "assessment_decided": pl.Date,
                                "transfer_in": pl.Boolean, "request_source": pl.Utf8,
                                **dict.fromkeys(FLAGS, pl.Boolean)})


def _row(frame: pl.DataFrame, **keys) -> dict:
    hit = frame.filter(pl.all_horizontal(pl.col(k) == v for k, v in keys.items()))
    assert hit.height == 1, (keys, hit)
    return hit.row(0, named=True)


def test_ehcp_timeliness_bands_on_the_band_edges_with_and_without_exceptions():
    received = D("2023-01-02")
    plans = _plans([
        {"request_received": received, "start_date": received + dt.timedelta(days=140)},
        {"request_received": received, "start_date": received + dt.timedelta(days=141)},
        {"request_received": D("2022-06-01"), "start_date": D("2023-05-31"),  # 364 days
         "exception_applies": True},
        {"request_received": D("2022-06-01"), "start_date": D("2023-06-02")},  # 366 days
        {"request_received": received, "start_date": D("2023-03-01"), "transfer_la": "123"},
    ])
    out = duty_kpis.ehcp_timeliness_bands(plans, EXPORT, "test", AS_OF)
    got = {(r["band"], r["with_exceptions"]): (r["plans"], r["pct"], r["mean_weeks"])
           for r in out.filter(pl.col("year") == 2023).iter_rows(named=True)}
    # All four of the LA's own plans: 140 days is within 20 weeks, 141 and 364 days are
    # within 52 weeks (mean (141 + 364) / 2 / 7 = 36.07), 366 days is over; the transfer in
    # is not the LA's. Without the exception case: three plans, one in each band.
    assert got[("under_20", True)] == (1, 25.0, 20.0)
    assert got[("20_to_52", True)] == (2, 50.0, 36.1)
    assert got[("over_52", True)] == (1, 25.0, 52.3)
    assert got[("under_20", False)] == (1, 33.3, 20.0)
    assert got[("20_to_52", False)] == (1, 33.3, 20.1)
    assert got[("over_52", False)] == (1, 33.3, 52.3)
    assert out.height == 10 * 2 * 3  # every year, kind and band, zeros kept
    assert _row(out, year=2020, band="over_52", with_exceptions=True)["plans"] == 0


def test_ehcp_assessment_decisions_sixteen_weeks_and_open_at_the_year_end():
    requests = _requests([
        # Not to issue, 112 days after the request: within 16 weeks.
        {"received": D("2023-01-02"), "outcome": "A", "decided": D("2023-02-01"),
         "assessment_outcome": "N", "assessment_decided": D("2023-04-24")},
        # Not to issue after 113 days.
        {"received": D("2023-01-02"), "outcome": "A", "decided": D("2023-02-01"),
         "assessment_outcome": "N", "assessment_decided": D("2023-04-25")},
        # Open on 31 December 2023 (decided to assess, plan issued 2024): 200 days since the
        # request, over 20 weeks.
        {"received": D("2023-06-14"), "outcome": "A", "decided": D("2023-07-20"),
         "assessment_outcome": "Y", "assessment_decided": D("2024-01-10")},
        # Open on 31 December 2023 and 100 days old: not over 20 weeks.
        {"received": D("2023-09-22"), "outcome": "A", "decided": D("2023-11-01")},
        # Decided to assess on 1 January 2024: not open at the end of 2023.
        {"received": D("2023-11-20"), "outcome": "A", "decided": D("2024-01-01")},
        # A transfer in's request is not the LA's decision.
        {"received": D("2023-01-02"), "outcome": "A", "decided": D("2023-02-01"),
         "assessment_outcome": "N", "assessment_decided": D("2023-03-01"),
         "transfer_in": True},
    ])
    out = duty_kpis.ehcp_assessment_decisions(requests, EXPORT, "test", AS_OF)
    y2023 = _row(out, year=2023)
    assert (y2023["decided_not_to_issue"], y2023["not_to_issue_within_16_weeks"], y2023["pct"],
            y2023["assessments_open"], y2023["open_over_20_weeks"]) == (2, 1, 50.0, 2, 1)
    y2024 = _row(out, year=2024)
    # The assessment of 2023-11-01 is still open at the end of 2024 (421 days old).
    assert (y2024["decided_not_to_issue"], y2024["pct"], y2024["assessments_open"],
            y2024["open_over_20_weeks"]) == (0, None, 2, 2)
    assert y2024["snapshot_date"] == D("2024-12-31")


def test_ehcp_disputes_by_stage_and_the_appeal_rate_of_all_appealable_decisions():
    requests = _requests([
        {"received": D("2023-02-01"), "outcome": "N", "decided": D("2023-03-01"),
         "request_mediation": True, "request_tribunal": True},
        {"received": D("2023-03-01"), "outcome": "N", "decided": D("2023-04-01")},
        {"received": D("2023-04-01"), "outcome": "A", "decided": D("2023-05-01"),
         "assessment_outcome": "N", "assessment_decided": D("2023-07-01"),
         "assessment_mediation": True},
        {"received": D("2023-05-01"), "outcome": "A", "decided": D("2023-06-01"),
         "assessment_outcome": "Y", "assessment_decided": D("2023-08-01"),
         "other_mediation": True, "other_tribunal": True},
    ])
    # On 19 January 2023 (the census day) three plans are active; one ceased in 2023 as
    # needs met (reason 2), one ceased for another reason.
    plans = _plans([
        {"start_date": D("2020-01-01"), "cease_date": D("2023-05-01"), "cease_reason": 2},
        {"start_date": D("2021-01-01"), "cease_date": D("2023-06-01"), "cease_reason": 4},
        {"start_date": D("2022-01-01")},
    ])
    caseload = kpis.ehcp_caseload(plans, EXPORT, None, "test", AS_OF)
    out = duty_kpis.ehcp_disputes(requests, plans, caseload, EXPORT, "test", AS_OF)
    got = {r["stage"]: (r["mediations"], r["tribunals"], r["appealable_decisions"],
                        r["appeal_rate_pct"])
           for r in out.filter(pl.col("year") == 2023).iter_rows(named=True)}
    # Appealable: 2 refusals to assess; 1 decision not to issue; 3 plans in January + 1
    # ceased as needs met = 4. All: 2 tribunals of 7 decisions = 28.57%.
    assert got == {"request": (1, 1, 2, 50.0), "assessment": (1, 0, 1, 0.0),
                   "plan": (1, 1, 4, 25.0), "all": (3, 2, 7, 28.57)}


def test_ehcp_personal_budgets_of_new_plans():
    plans = _plans([
        {"start_date": D("2024-02-01"), "personal_budget": True, "direct_payments": True},
        {"start_date": D("2024-03-01"), "personal_budget": True,
         "organised_arrangements": True, "direct_payments": True},
        {"start_date": D("2024-04-01")},
        {"start_date": D("2024-05-01")},
        # Organised arrangements recorded without a personal budget do not count.
        {"start_date": D("2024-06-01"), "organised_arrangements": True},
        {"start_date": D("2024-07-01"), "personal_budget": True, "transfer_la": "123"},
    ])
    out = duty_kpis.ehcp_personal_budgets(plans, EXPORT, "test", AS_OF)
    row = _row(out, year=2024)
    assert (row["new_plans"], row["plans_with_pb"], row["organised_arrangements"],
            row["direct_payments"], row["pct_of_new_plans"]) == (5, 2, 1, 2, 40.0)
    assert _row(out, year=2023)["pct_of_new_plans"] is None


def test_ehcp_personal_budgets_caseload_counts_the_january_caseload():
    plans = _plans([
        # Ceased before January 2024: counted in 2021-2023.
        {"start_date": D("2020-05-01"), "cease_date": D("2023-12-01"), "cease_reason": 2,
         "personal_budget": True, "direct_payments": True},
        # Issued the day after the 2024 census day (18 January): first counted in 2025.
        {"start_date": D("2024-01-19"), "personal_budget": True,
         "organised_arrangements": True},
        # A transfer in with a budget: in the caseload, so counted (2023-2025).
        {"start_date": D("2022-09-01"), "transfer_la": "123", "personal_budget": True,
         "organised_arrangements": True},
        # Organised arrangements and direct payments both (2022-2025).
        {"start_date": D("2021-03-01"), "personal_budget": True,
         "organised_arrangements": True, "direct_payments": True},
        {"start_date": D("2019-06-01")},  # no budget (2020-2025)
        # Organised arrangements recorded without a budget: in the caseload, not counted.
        {"start_date": D("2019-06-01"), "organised_arrangements": True},
        # Ceased on the 2024 census day: ceased by it, so counted in 2023 only.
        {"start_date": D("2023-01-01"), "cease_date": D("2024-01-18"), "cease_reason": 2,
         "personal_budget": True},
    ])
    out = duty_kpis.ehcp_personal_budgets_caseload(plans, EXPORT, "test", AS_OF)
    assert out.columns[:7] == ["year", "census_date", "caseload", "plans_with_pb",
                               "organised_arrangements", "direct_payments", "pct_of_caseload"]
    assert out.filter(pl.col("year") >= 2019).select(
        "year", "census_date", "caseload", "plans_with_pb", "organised_arrangements",
        "direct_payments", "pct_of_caseload").rows() == [
        (2019, D("2019-01-17"), 0, 0, 0, 0, None),
        (2020, D("2020-01-16"), 2, 0, 0, 0, 0.0),
        (2021, D("2021-01-21"), 3, 1, 0, 1, 33.3),
        (2022, D("2022-01-20"), 4, 2, 1, 2, 50.0),
        (2023, D("2023-01-19"), 6, 4, 2, 2, 66.7),
        (2024, D("2024-01-18"), 4, 2, 2, 1, 50.0),
        (2025, D("2025-01-16"), 5, 3, 3, 1, 60.0)]
    assert out["year"].to_list() == list(range(2015, 2026))
    # The caseload is kpi.ehcp_caseload's, January for January.
    caseload = kpis.ehcp_caseload(plans, EXPORT, None, "test", AS_OF)
    assert out["caseload"].to_list() == caseload["caseload"].to_list()
    assert set(out["definition"]) == {"docs/kpis.md#ehcp-personal-budgets-caseload"}
    # explain's records: a plan a January, the year's count of them its caseload.
    records = duty_kpis.caseload_budget_records(plans, EXPORT)
    assert records.filter(pl.col("year") == 2023)["plan_id"].sort().to_list() == [
        0, 2, 3, 4, 5, 6]


def test_ehcp_requests_by_source_counts_each_code_and_none_recorded():
    requests = _requests([
        {"received": D("2024-01-10"), "request_source": "1"},
        {"received": D("2024-02-10"), "request_source": "1"},
        {"received": D("2024-03-10"), "request_source": "3"},
        {"received": D("2024-04-10")},
        {"received": D("2024-05-10"), "request_source": "3", "transfer_in": True},
        {"received": D("2025-01-10"), "request_source": "1"},  # 2025 is not complete
    ])
    out = duty_kpis.ehcp_requests_by_source(requests, EXPORT, "test", AS_OF)
    assert out.select("year", "request_source", "requests", "pct").rows() == [
        (2024, "1", 2, 50.0), (2024, "3", 1, 25.0), (2024, "unknown", 1, 25.0)]


def test_ehcp_requests_by_source_labels_the_codes_of_the_list_and_no_other():
    requests = _requests([
        {"received": D("2024-01-10"), "request_source": "1"},
        {"received": D("2024-01-11"), "request_source": "2"},
        {"received": D("2024-01-12"), "request_source": "3"},
        {"received": D("2024-01-13"), "request_source": "4"},
        {"received": D("2024-01-14"), "request_source": "5"},
        {"received": D("2024-01-15"), "request_source": "6"},  # not on the list
        {"received": D("2024-01-16")},
    ])
    out = duty_kpis.ehcp_requests_by_source(requests, EXPORT, "test", AS_OF)
    assert out.select("request_source", "request_source_label").rows() == [
        ("1", "Young person or parent"), ("2", "School or other education setting"),
        ("3", "Health care professionals"), ("4", "Social care professionals"),
        ("5", "Other"), ("6", None), ("unknown", "Not recorded")]


def test_ehcp_ceased_by_duration_bands_whole_years_held():
    plans = _plans([
        {"start_date": D("2024-01-01"), "cease_date": D("2024-12-30"), "cease_reason": 2},
        {"start_date": D("2023-01-01"), "cease_date": D("2024-01-02"), "cease_reason": 2},
        {"start_date": D("2019-06-01"), "cease_date": D("2024-06-01"), "cease_reason": 1},
        {"start_date": D("2012-06-01"), "cease_date": D("2024-06-01"), "cease_reason": 1},
        {"start_date": D("2024-01-01")},
    ])
    out = duty_kpis.ehcp_ceased_by_duration(plans, EXPORT, "test", AS_OF)
    # 364 days is under a year; 366 days is a year; 1,827 days (5.0 years) is 5 to 10.
    assert out.filter(pl.col("plans") > 0).select(
        "year", "years_held_band", "cease_reason", "plans").rows() == [
        (2024, "under_1", 2, 1), (2024, "1_to_2", 2, 1), (2024, "5_to_10", 1, 1),
        (2024, "10_plus", 1, 1)]
    assert out.height == 10 * 5 * 9


def test_ehcp_annual_reviews_due_held_and_decided_in_the_year_the_export_reports():
    export = dt.date(2026, 3, 1)  # the SEN2 return of January 2026 reports on 2025
    plans = _plans([
        # Due and held: decided 28 days after the meeting (within 4 weeks), amended.
        {"start_date": D("2020-05-01"), "review_meeting": D("2025-05-01"),
         "review_decided": D("2025-05-29"), "review_outcome": "A"},
        # Held, decided 29 days after: late; maintained (lower case as some systems write).
        {"start_date": D("2021-03-10"), "review_meeting": D("2025-03-01"),
         "review_decided": D("2025-03-30"), "review_outcome": "m"},
        # Held, decision to cease, no decision date recorded.
        {"start_date": D("2018-09-01"), "review_meeting": D("2025-09-01"),
         "review_outcome": "C"},
        # Held, no outcome recorded.
        {"start_date": D("2024-12-31"), "review_meeting": D("2025-12-20"),
         "review_decided": D("2025-12-22")},
        # Due, not held in 2025 (the last meeting was in 2024).
        {"start_date": D("2019-01-01"), "review_meeting": D("2024-11-01"),
         "review_outcome": "M"},
        # Not due: issued in 2025, less than a year old at the end of it.
        {"start_date": D("2025-01-01"), "review_meeting": D("2025-12-30")},
        # Not due: ceased on 31 December 2025.
        {"start_date": D("2019-01-01"), "cease_date": D("2025-12-31"),
         "review_meeting": D("2025-02-01")},
    ])
    out = duty_kpis.ehcp_annual_reviews(plans, export, "test", export)
    assert out.select("year", "reviews_due", "reviews_held", "decided_within_4_weeks",
                      "pct_decided_within_4_weeks", "amended", "ceased", "maintained",
                      "no_outcome", "not_held", "pct_held").rows() == [
        (2025, 5, 4, 2, 50.0, 1, 1, 1, 1, 1, 80.0)]


def test_ehcp_phase_transfers_final_by_the_deadline():
    export = dt.date(2026, 3, 1)
    plans = _plans([
        {"start_date": D("2019-01-01"), "transfer_due": D("2025-02-15"),
         "transfer_final": D("2025-02-15")},  # on the deadline day: in time
        {"start_date": D("2019-01-01"), "transfer_due": D("2025-02-15"),
         "transfer_final": D("2025-02-16")},  # a day late
        {"start_date": D("2019-01-01"), "transfer_due": D("2025-03-31")},  # never finalised
        {"start_date": D("2019-01-01"), "transfer_due": D("2025-03-31"),
         "transfer_final": D("2025-01-20")},
        # 2026: one deadline passed at the export and met, one still to come and already
        # final, one still to come.
        {"start_date": D("2019-01-01"), "transfer_due": D("2026-02-15"),
         "transfer_final": D("2026-02-01")},
        {"start_date": D("2019-01-01"), "transfer_due": D("2026-03-31"),
         "transfer_final": D("2026-02-20")},
        {"start_date": D("2019-01-01"), "transfer_due": D("2026-03-31")},
        {"start_date": D("2019-01-01"), "transfer_due": D("2027-02-15")},  # after the export
    ])
    out = duty_kpis.ehcp_phase_transfers(plans, export, "test", export)
    assert out.select("year", "transfers_due", "final_by_deadline", "pct_final_by_deadline",
                      "settled", "deadline_passed", "final_after_deadline",
                      "no_final_past_deadline").rows() == [
        (2025, 4, 2, 50.0, 4, 4, 1, 1), (2026, 3, 2, 100.0, 2, 1, 0, 0)]


def test_ehcp_not_in_school_by_the_setting_attended_on_census_day():
    day = D("2024-01-18")  # the spring census day of 2024
    plans = _plans([{"start_date": D("2023-01-01")} for _ in range(6)])
    placements = pl.DataFrame({
        "plan_id": [0, 1, 2, 3, 3, 4],
        "entry_date": [D("2023-01-01")] * 3 + [D("2023-01-01"), D("2023-09-01"),
                                                D("2023-01-01")],
        "leaving_date": [None, None, None, D("2023-09-01"), None, day],
        "urn": [None, None, 100001, 100002, None, None],
        "ukprn": [None] * 6,
        "sensetting": ["OLA", "EHE", None, None, "NIEO", "NEET"],
        "placement_rank": [1] * 6,
        "placement_group": ["educated_elsewhere", "educated_elsewhere", "mainstream",
                            "mainstream", "educated_elsewhere", "educated_elsewhere"],
    }, schema_overrides={"urn": pl.Int64, "ukprn": pl.Utf8})
    mix = kpis.ehcp_placement_mix(plans, placements, EXPORT, "test", AS_OF)
    out = duty_kpis.ehcp_not_in_school(plans, placements, mix, EXPORT, "test", AS_OF)
    got = {r["setting"]: (r["plans"], r["pct"])
           for r in out.filter(pl.col("year") == 2024).iter_rows(named=True)}
    # Six plans: EOTAS (OLA), EHE, one at a school, one moved from a school to awaiting
    # provision (NIEO), one whose NEET placement ended on the census day and one with no
    # placement at all: both unknown.
    assert got == {"EOTAS": (1, 16.7), "EHE": (1, 16.7), "parent_arrangements": (0, 0.0),
                   "NEET": (0, 0.0), "not_in_education": (0, 0.0),
                   "awaiting_provision": (1, 16.7), "unknown": (2, 33.3)}
