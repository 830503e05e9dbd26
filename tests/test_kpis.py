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


# A plan in each kind of setting on the January 2025 census day, and what the DfE's 2026
# caseload file calls it: (GIAS type or None, URN known to GIAS, UKPRN, sensetting, SEN
# unit, resourced provision, birth year and month) -> (today's group, 2026 setting).
SETTINGS = [
    (("Community school", 0, 0), ("mainstream", "mainstream_la_maintained")),
    (("Community school", 0, 1), ("mainstream", "mainstream_la_maintained_resourced_provision")),
    (("Academy converter", 1, 0), ("mainstream", "mainstream_academy_senunit")),
    # Both flags: the SEN unit wins.
    (("Academy converter", 1, 1), ("mainstream", "mainstream_academy_senunit")),
    (("Free schools", 0, 1), ("mainstream", "mainstream_free_school_resourced_provision")),
    (("University technical college", 0, 0), ("mainstream", "mainstream_free_school")),
    # Independent mainstream schools have no unit columns.
    (("Other independent school", 1, 0), ("mainstream", "mainstream_independent")),
    # Mainstream today, other school types for the DfE (its footnote).
    (("Service children's education", 0, 0), ("mainstream", "other_schools")),
    (("Foundation special school", 0, 0), ("special", "special_la_maintained")),
    (("Academy special sponsor led", 0, 0), ("special", "special_academy")),
    (("Free schools special", 0, 0), ("special", "special_free_school")),
    (("Other independent special school", 0, 0), ("special", "special_independent")),
    (("Non-maintained special school", 0, 0), ("special", "special_non_maintained")),
    (("Pupil referral unit", 0, 0), ("ap_pru", "ap_pru_la_maintained")),
    (("Academy alternative provision converter", 0, 0), ("ap_pru", "ap_pru_academy")),
    (("Free schools alternative provision", 0, 0), ("ap_pru", "ap_pru_free_school")),
    (("Further education", 0, 0), ("fe", "general_fe_tertiary_colleges")),
    (("Special post 16 institution", 0, 0), ("fe", "specialist_post_16_institutions")),
    (("Online provider", 0, 0), ("educated_elsewhere", "online_provider")),
    (("Welsh establishment", 0, 0), ("educated_elsewhere", "w_settings")),
    (("Secure units", 0, 0), ("educated_elsewhere", "other_schools")),
]
# No URN: a UKPRN, or the SEN2 setting code (with the child's birth year and month).
ELSEWHERE = [
    (("UKPRN", None), ("fe", "ukrlp_provider")),
    (("EHE", None), ("educated_elsewhere", "elective_home_education")),
    (("OLA", None), ("educated_elsewhere", "other_arrangements_la")),
    (("OPA", None), ("educated_elsewhere", "other_arrangements_parents")),
    (("OTH", None), ("educated_elsewhere", "other_placement_settings")),
    (("NEET", (2006, 3)), ("educated_elsewhere", "neet")),
    (("NIEC", (2007, 3)), ("educated_elsewhere", "neet_ntci")),
    # Not in education, other: compulsory school age on 16 January 2025 is born from
    # September 2008 (sixteen in the 2024/25 school year) to December 2019 (five by 31
    # December 2024).
    (("NIEO", (2014, 5)), ("educated_elsewhere", "neet_other_csa")),
    (("NIEO", (2008, 9)), ("educated_elsewhere", "neet_other_csa")),
    (("NIEO", (2019, 12)), ("educated_elsewhere", "neet_other_csa")),
    (("NIEO", (2008, 8)), ("educated_elsewhere", "neet_other")),  # sixteen in 2023/24
    (("NIEO", (2020, 1)), ("educated_elsewhere", "neet_other")),  # five after December
    (("EYP", None), ("early_years", "nm_early_years")),
]


def _placement_detail_inputs() -> tuple[pl.DataFrame, pl.DataFrame, list[tuple[str, str]]]:
    """Plans, grouped placements (through GIAS, as core_placements groups them) and each
    plan's expected (group, setting): one plan per row of SETTINGS and ELSEWHERE, one at a
    URN GIAS does not know and one with no placement."""
    from transforms.placement_groups import establishment_groups, group_placements

    gias = pl.DataFrame({"urn": list(range(100001, 100001 + len(SETTINGS))),
                         "type_of_establishment": [t for (t, _, _), _ in SETTINGS]},
                        schema_overrides={"urn": pl.Int64})
    rows, expected = [], []
    for k, ((_, unit, rp), want) in enumerate(SETTINGS):
        rows.append((k, 100001 + k, None, None, bool(unit), bool(rp), None, None))
        expected.append(want)
    for k, ((code, born), want) in enumerate(ELSEWHERE, start=len(SETTINGS)):
        ukprn = "10001234" if code == "UKPRN" else None
        rows.append((k, None, ukprn, None if ukprn else code, False, False,
                     *(born or (2012, 1))))
        expected.append(want)
    unknown_urn = len(rows)
    rows.append((unknown_urn, 999999, None, None, False, False, None, None))
    expected += [("unknown", "placement_unknown"), ("unknown", "placement_unknown")]
    schema = {"plan_id": pl.Int64, "urn": pl.Int64, "ukprn": pl.Utf8, "sensetting": pl.Utf8,
              "sen_unit": pl.Boolean, "resourced_provision": pl.Boolean,
              "birth_year": pl.Int32, "birth_month": pl.Int32}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    n = len(expected)  # the last plan has no placement at all
    plans = pl.DataFrame({"plan_id": list(range(n)), "start_date": [D("2024-09-01")] * n,
                          "cease_date": [None] * n}, schema_overrides={
        "plan_id": pl.Int64, "cease_date": pl.Date}).join(
        frame.select("plan_id", "birth_year", "birth_month"), on="plan_id", how="left")
    placements = group_placements(frame.drop("birth_year", "birth_month"),
                                  establishment_groups(gias)).with_columns(
        pl.lit(D("2024-09-01")).alias("entry_date"), pl.lit(None, pl.Date).alias("leaving_date"),
        pl.lit(1).alias("placement_rank"))
    return plans, placements, expected


def test_ehcp_placement_detail_puts_a_plan_in_each_kind_of_setting():
    from collections import Counter

    plans, placements, expected = _placement_detail_inputs()
    out = kpis.ehcp_placement_detail(plans, placements, EXPORT, "test", AS_OF)
    y25 = out.filter(pl.col("year") == 2025)
    got = {(r["placement_group"], r["setting_2026"]): r["plans"]
           for r in y25.iter_rows(named=True) if r["plans"]}
    assert got == dict(Counter(expected))
    # 36 plans: 8 mainstream (one of them, service children's education, in other school
    # types), 5 special, 3 AP, 3 FE, 14 elsewhere, 1 early years, 2 unknown.
    assert set(y25["caseload"]) == {36}
    groups = dict(y25.group_by("placement_group").agg(pl.col("group_plans").first()).rows())
    assert groups == {"mainstream": 8, "special": 5, "ap_pru": 3, "fe": 3,
                      "educated_elsewhere": 14, "early_years": 1, "unknown": 2}
    csa = y25.filter(pl.col("setting_2026") == "neet_other_csa").row(0, named=True)
    assert (csa["plans"], csa["pct"], csa["pct_of_group"]) == (3, 8.3, 21.4)  # 3/36, 3/14
    # Every one of the release's 34 settings in its own group is a row, zero or not; service
    # children's education adds one more (mainstream, other_schools).
    assert y25.height == 34 + 1
    assert out.filter(pl.col("year") == 2024)["plans"].sum() == 0
    assert set(out["definition"]) == {"docs/kpis.md#ehcp-placement-detail"}


def test_ehcp_placement_detail_adds_up_to_the_mix_and_the_caseload_from_one_frame():
    plans, placements, _ = _placement_detail_inputs()
    january = kpis.january_placements(plans, placements, EXPORT)
    detail = kpis.ehcp_placement_detail(plans, placements, EXPORT, "test", AS_OF, january)
    mix = kpis.ehcp_placement_mix(plans, placements, EXPORT, "test", AS_OF, january)
    # The mix from the shared frame is the mix built alone.
    assert mix.equals(kpis.ehcp_placement_mix(plans, placements, EXPORT, "test", AS_OF))
    summed = detail.group_by("year", "placement_group").agg(pl.col("plans").sum())
    assert sorted(summed.rows()) == sorted(mix.select("year", "placement_group", "plans").rows())
    caseload = kpis.ehcp_caseload(plans, EXPORT, None, "test", AS_OF)
    assert (detail.group_by("year").agg(pl.col("plans").sum()).sort("year").rows()
            == caseload.select("year", "caseload").rows())


def test_ehcp_placement_detail_covers_every_gias_type_of_todays_groups():
    """Every GIAS type today's groups know has a 2026 setting in the same group, but service
    children's education (mainstream today, other school types for the DfE)."""
    from schemas.contracts import SETTINGS_2026
    from transforms.placement_groups import (
        _WITH_UNITS,
        SETTING_NAME,
        TYPE_GROUP,
        TYPE_SETTING_2026,
    )

    moved = {t: (g, SETTINGS_2026[TYPE_SETTING_2026[t]]) for t, g in TYPE_GROUP.items()
             if SETTINGS_2026[TYPE_SETTING_2026[t]] != g}
    assert moved == {"Service children's education": ("mainstream", "educated_elsewhere")}
    # A unit's setting is its school's code + 1 (resourced provision) or + 2 (SEN unit).
    assert [SETTING_NAME[c + step] for c in _WITH_UNITS for step in (1, 2)] == [
        f"mainstream_{kind}_{unit}" for kind in ("la_maintained", "academy", "free_school")
        for unit in ("resourced_provision", "senunit")]


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
