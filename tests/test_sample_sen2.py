"""The sample's SEN2 export writes realistic values for the statutory-duty fields (issue 17):
request sources, disputes, personal budget arrangements, annual reviews, phase transfers and
settings with no school, in SEN2's codes."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import polars as pl
import pytest

from sendboard.sample.calendar import census_day, to_days
from sendboard.sample.sen2 import write_sen2
from sendboard.sample.sen2_duties import (
    REQUEST_SOURCE_MIX,
    annual_review,
    budget_arrangements,
    disputes,
    phase_transfer,
)
from sendboard.sample.world import build_world
from transforms.duty_kpis import REQUEST_SOURCES

# The export day `sendboard sample` uses: 70 days after the spring census of 2026.
EXPORT = census_day(2026, "spring") + dt.timedelta(days=70)


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Date, "%Y-%b-%d 00:00:00", strict=False)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict[str, pl.DataFrame]:
    """Half the county (about 5,000 plans): enough for shares to settle to a point or two."""
    out = tmp_path_factory.mktemp("sen2")
    write_sen2(build_world(seed=42, cohort_size=3400, export_date=EXPORT), out)
    return {p.stem.rsplit("_", 1)[1]: pl.read_csv(p, infer_schema_length=0)
            for p in out.glob("*.csv")}


@pytest.fixture(scope="module")
def plans(export) -> pl.DataFrame:
    """One row per plan: its active record, named plan and holder's birth date. The sample
    writes a plan's named plan and active record in the same order, one of each."""
    active, named = export["activeplans"], export["namedplan"]
    assert active.height == named.height
    person = export["requests"].join(export["person"], on="persontableid").select(
        "requeststableid", _date("personbirthdate").alias("dob"))
    return (pl.concat([active, named.select(_date("startdate").alias("start"),
                                            _date("ceasedate").alias("cease"), "ceasereason")],
                      how="horizontal")
            .join(person, on="requeststableid")
            .with_columns(_date("reviewmeeting").alias("meeting"),
                          _date("lastreview").alias("decided"),
                          _date("reviewdraft").alias("draft"),
                          _date("phasetransferduedate").alias("due"),
                          _date("phasetransferfinaldate").alias("final")))


def test_every_request_has_a_labelled_source_parents_most_then_schools(export):
    source = export["requests"]["requestsource"]
    assert source.null_count() == 0
    # Every code the sample writes is one kpi.ehcp_requests_by_source has a label for.
    assert set(source.unique()) == set(REQUEST_SOURCE_MIX) == set(REQUEST_SOURCES)
    share = source.value_counts(normalize=True).sort("proportion", descending=True)
    assert share["requestsource"].to_list()[:2] == ["1", "2"]
    assert 0.50 <= share["proportion"][0] <= 0.56
    assert 0.30 <= share["proportion"][1] <= 0.36


def test_disputes_are_a_few_per_cent_and_tribunals_rarer_than_mediations(export):
    a = export["assessment"].with_columns(
        pl.col("assessmentmediation", "assessmenttribunal", "othermediation",
               "othertribunal").cast(pl.Int32))
    rate = a.group_by(pl.col("assessmentoutcome").fill_null("").replace("", "open")).agg(
        pl.col("assessmentmediation", "assessmenttribunal", "othermediation",
               "othertribunal").mean())
    r = {row["assessmentoutcome"]: row for row in rate.iter_rows(named=True)}
    assert 0.07 <= r["N"]["assessmentmediation"] <= 0.13  # after a decision not to issue
    assert 0.01 <= r["N"]["assessmenttribunal"] <= 0.06
    assert r["Y"]["assessmentmediation"] <= 0.02
    assert 0.035 <= r["Y"]["othermediation"] <= 0.065  # about an issued plan
    assert 0.015 <= r["Y"]["othertribunal"] <= 0.035
    for o in ("N", "Y"):
        assert r[o]["assessmenttribunal"] < r[o]["assessmentmediation"]
    assert r["Y"]["othertribunal"] < r["Y"]["othermediation"]
    # No plan, no dispute about one; an open assessment has had none at all.
    assert r["N"]["othermediation"] == r["N"]["othertribunal"] == 0
    assert sum(r["open"][c] for c in ("assessmentmediation", "assessmenttribunal",
                                       "othermediation", "othertribunal")) == 0


def test_organised_arrangements_and_direct_payments_only_with_a_personal_budget(export):
    n = export["namedplan"]
    assert n.filter((pl.col("oa") == "1") | (pl.col("dp") == "1"))["pb"].unique().to_list() \
        == ["1"]
    with_pb = n.filter(pl.col("pb") == "1")
    assert 0.6 <= (with_pb["dp"] == "1").mean() <= 0.8
    assert 0.25 <= (with_pb["oa"] == "1").mean() <= 0.45
    assert set(n["oa"]) == set(n["dp"]) == {"0", "1"}


def test_first_annual_reviews_are_mostly_within_12_months_and_some_late(plans):
    # Plans started 500 to 618 days before the export: their first review was due 4 to 8
    # months before it, and a second cannot have come yet, so the record holds the first.
    recent = plans.filter(pl.col("start").is_between(EXPORT - dt.timedelta(days=618),
                                                     EXPORT - dt.timedelta(days=500)))
    assert recent.height >= 150
    days = (recent["meeting"] - recent["start"]).dt.total_days()
    held = days.drop_nulls()
    within = (held <= 365).sum() / recent.height
    assert 0.70 <= within <= 0.85
    late = held.filter(held > 365)
    assert 0.13 <= late.len() / recent.height <= 0.27
    assert late.min() >= 365 + 31 and late.max() <= 365 + 122  # 1 to 4 months late
    assert recent["meeting"].null_count() / recent.height <= 0.08  # a few never held


def test_review_decisions_mostly_within_4_weeks_of_the_meeting(plans):
    decided = plans.filter(pl.col("decided").is_not_null())
    gap = (decided["decided"] - decided["meeting"]).dt.total_days()
    assert gap.min() >= 1
    assert 0.70 <= (gap <= 28).mean() <= 0.80
    # Every decision has a recorded outcome and came after a meeting, none after the export.
    assert decided["reviewoutcome"].is_in(["A", "C", "M"]).all()
    assert plans.filter(pl.col("meeting").is_null())["reviewoutcome"].unique().to_list() == [""]
    assert decided["decided"].max() <= EXPORT
    # The meetings after the export are sen2_defects' review-date-future (a first review
    # recorded when it was booked): none held, none decided.
    booked = plans.filter(pl.col("meeting") > EXPORT)
    assert booked.height == 3 and booked["decided"].null_count() == 3
    assert (booked["meeting"] - booked["start"]).dt.total_days().is_between(337, 365).all()


def test_review_outcomes_mostly_maintained_a_share_amended_a_few_ceased(plans):
    active = plans.filter(pl.col("cease").is_null() & pl.col("decided").is_not_null())
    share = active["reviewoutcome"].value_counts(normalize=True)
    s = dict(zip(share["reviewoutcome"], share["proportion"], strict=True))
    assert 0.55 <= s["M"] <= 0.67 and 0.30 <= s["A"] <= 0.41 and s["C"] <= 0.06
    # A plan ceased soon after its review for needs met: mostly the review decided it.
    ended = plans.filter((pl.col("ceasereason") == "2") & pl.col("meeting").is_not_null() & (
        (pl.col("cease") - pl.col("meeting")).dt.total_days().is_between(2, 180)))
    assert 0.5 <= (ended["reviewoutcome"] == "C").mean() <= 0.7
    assert (ended.filter(pl.col("reviewoutcome") == "C")["decided"] < ended.filter(
        pl.col("reviewoutcome") == "C")["cease"]).all()


def test_a_draft_amended_plan_only_after_a_decision_to_amend(plans):
    drafted = plans.filter(pl.col("draft").is_not_null())
    assert drafted["reviewoutcome"].unique().to_list() == ["A"]
    assert ((drafted["draft"] - drafted["decided"]).dt.total_days().is_between(0, 14)).all()
    amended = plans.filter(pl.col("reviewoutcome") == "A")
    assert 0.85 <= drafted.height / amended.height <= 0.95


def test_phase_transfer_due_dates_are_the_statutory_deadlines_of_the_transfer_year(plans):
    due = plans.filter(pl.col("due").is_not_null())
    assert set(due["due"]) == {dt.date(2025, 2, 15), dt.date(2025, 3, 31),
                               dt.date(2026, 2, 15), dt.date(2026, 3, 31)}
    # Age on 31 August of the transfer year: 4 (reception) and 11 (secondary) by
    # 15 February, 16 (post-16) by 31 March.
    age = due.with_columns(
        (pl.col("due").dt.year() - pl.col("dob").dt.year()
         - (pl.col("dob").dt.month() >= 9).cast(pl.Int32)).alias("age"))
    assert set(age.filter(pl.col("due").dt.month() == 2)["age"]) == {4, 11}
    assert set(age.filter(pl.col("due").dt.month() == 3)["age"]) == {16}
    # The plan was held from the autumn before the deadline and still on it.
    assert ((due["due"] - due["start"]).dt.total_days() >= 120).all()
    assert due.filter(pl.col("cease").is_not_null()).select(
        (pl.col("cease") > pl.col("due")).all()).item()


def test_phase_transfer_finals_mostly_by_the_deadline_some_after_some_not_yet(plans):
    due = plans.filter(pl.col("due").is_not_null())
    assert plans.filter(pl.col("due").is_null())["final"].null_count() == plans.filter(
        pl.col("due").is_null()).height
    assert due["final"].drop_nulls().max() <= EXPORT
    last_year = due.filter(pl.col("due").dt.year() == 2025)
    by = (last_year["final"] <= last_year["due"]).mean()
    after = (last_year["final"] > last_year["due"]).mean()
    assert 0.66 <= by <= 0.78 and 0.19 <= after <= 0.31
    assert last_year["final"].null_count() / last_year.height <= 0.06
    # Post-16 finals due five days after the export: many not made yet, none late yet.
    post16 = due.filter(pl.col("due") == dt.date(2026, 3, 31))
    assert 0.2 <= post16["final"].null_count() / post16.height <= 0.35
    assert (post16["final"].drop_nulls() <= EXPORT).all()


def test_settings_with_no_school_include_home_education_eotas_neet_and_out_of_education(
        export):
    p = export["placementdetail"]
    no_school = p.filter(pl.col("sensetting").is_not_null() & (pl.col("sensetting") != ""))
    counts = dict(no_school["sensetting"].value_counts().iter_rows())
    assert {"EHE", "OLA", "NEET", "NIEO", "NIEC", "OPA", "OTH", "EYP"} == set(counts)
    assert counts["NIEO"] >= 30 and counts["NIEC"] >= 5
    assert no_school.filter(pl.col("urn").is_not_null() & (pl.col("urn") != "")).height == 0


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    digests = []
    for run in ("a", "b"):
        out = tmp_path / run
        out.mkdir()
        paths = write_sen2(build_world(seed=5, cohort_size=150, export_date=EXPORT), out)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths})
    assert digests[0] == digests[1] and len(digests[0]) == 9


def test_phase_transfer_of_a_hand_worked_child():
    rng = np.random.default_rng(0)
    export = to_days(EXPORT)
    since_2020 = to_days(dt.date(2020, 1, 1))
    # Born October 2021: starts reception in September 2026, plan final due 15 Feb 2026.
    assert phase_transfer(rng, to_days(dt.date(2021, 10, 1)), since_2020, 2**31 - 1,
                          export)[0] == to_days(dt.date(2026, 2, 15))
    # Born 31 August 2010: 16 on 31 August 2026, post-16 that September: 31 March 2026.
    assert phase_transfer(rng, to_days(dt.date(2010, 8, 31)), since_2020, 2**31 - 1,
                          export)[0] == to_days(dt.date(2026, 3, 31))
    # Born October 2013: started secondary in September 2025: due 15 February 2025.
    assert phase_transfer(rng, to_days(dt.date(2013, 10, 1)), since_2020, 2**31 - 1,
                          export)[0] == to_days(dt.date(2025, 2, 15))
    # Born October 2012 (Year 8 now): no transfer in either year.
    assert phase_transfer(rng, to_days(dt.date(2012, 10, 1)), since_2020, 2**31 - 1,
                          export) == (None, None)
    # A plan issued in December 2025 already names the September 2026 school.
    assert phase_transfer(rng, to_days(dt.date(2021, 10, 1)), to_days(dt.date(2025, 12, 1)),
                          2**31 - 1, export) == (None, None)


def test_hand_worked_reviews_budgets_and_disputes():
    rng = np.random.default_rng(0)
    export = to_days(EXPORT)
    start = to_days(dt.date(2025, 6, 1))
    # Ceased before its first review was due: no review at all.
    assert annual_review(rng, start, start + 300, 2, export) == annual_review(
        rng, start, start + 200, 5, export)
    assert annual_review(rng, start, start + 300, 2, export).meeting is None
    assert budget_arrangements(rng, 0) == {"oa": 0, "dp": 0}
    assert disputes(rng, "") == dict.fromkeys(
        ("assessmentmediation", "assessmenttribunal", "othermediation", "othertribunal"), 0)
    assert {k: v for k, v in disputes(rng, "N").items() if k.startswith("other")} == {
        "othermediation": 0, "othertribunal": 0}
