"""KPI tables of the LA's statutory duties and of how plans are held: timeliness bands,
decisions not to issue and open assessments, disputes, personal budgets (of new plans and of
the January caseload), where requests come from, plans ceased by how long they were held
(docs/kpis.md defines each).

Pure functions of the core tables (transforms/sen2.py core_plans and core_requests), stamped
like transforms/kpis.py's.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.kpis import (
    CEASE_REASONS,
    TIMELINESS_DAYS,
    _pct,
    _stamp,
    caseload_records,
    complete_years,
    januaries,
    open_on,
    placement_records,
)
from transforms.records import ALL, Count, counted

# The DfE's timeliness bands (timeliness_20_week.csv): within 20 weeks, over 20 weeks but
# within a year, over a year; a year is 52 weeks, counted in days like the 20 weeks.
YEAR_DAYS = 364
TIMELINESS_BANDS = ("under_20", "20_to_52", "over_52")


def _days(start: str, end: str) -> pl.Expr:
    return (pl.col(end) - pl.col(start)).dt.total_days()


def _new_plans(plans: pl.DataFrame) -> pl.DataFrame:
    """Plans first issued by the LA (a plan transferred in was issued elsewhere), with the
    calendar year of issue."""
    return plans.filter(pl.col("transfer_la").is_null()).with_columns(
        pl.col("start_date").dt.year().cast(pl.Int32).alias("year"))


TIMELINESS = {"plans": ALL}


def timeliness_records(plans: pl.DataFrame) -> pl.DataFrame:
    """kpi.ehcp_timeliness_bands's records: new plans with a request date, with the days from
    request to issue and their band; a row `with_exceptions` false counts only those with
    no exception to the time limit (TIMELINESS_KINDS)."""
    days = _days("request_received", "start_date")
    return _new_plans(plans).filter(pl.col("request_received").is_not_null()).with_columns(
        days.alias("days"),
        pl.when(days <= TIMELINESS_DAYS).then(pl.lit("under_20"))
        .when(days <= YEAR_DAYS).then(pl.lit("20_to_52"))
        .otherwise(pl.lit("over_52")).alias("band"))


# The records of a row by its `with_exceptions`: all plans, or those without an exception.
TIMELINESS_KINDS = {True: pl.lit(True), False: ~pl.col("exception_applies")}


def ehcp_timeliness_bands(plans: pl.DataFrame, export_date: dt.date, source: str,
                          as_of: dt.date) -> pl.DataFrame:
    """New plans issued in each complete calendar year by the time from request received to
    plan issued: within 20 weeks, over 20 weeks to 52, over 52; all plans
    (`with_exceptions` true) and those with no exception to the time limit (false). `pct` is
    of that year's plans of the same kind; `mean_weeks` the band's average."""
    # One pass over the plans, by exception too; the all-plans rows add both kinds up.
    by_kind = timeliness_records(plans).group_by("year", "exception_applies", "band").agg(
        *counted(TIMELINESS), (pl.col("days").sum() / 7).alias("weeks"))
    counts = pl.concat([
        by_kind.group_by("year", "band").agg(pl.col("plans", "weeks").sum())
        .with_columns(pl.lit(True).alias("with_exceptions")),
        by_kind.filter(~pl.col("exception_applies")).drop("exception_applies")
        .with_columns(pl.lit(False).alias("with_exceptions"))], how="diagonal").select(
        "year", "with_exceptions", "band", "plans",
        (pl.col("weeks") / pl.col("plans")).round(1).alias("mean_weeks"))
    grid = complete_years(export_date).join(
        pl.DataFrame({"with_exceptions": [True, False]}), how="cross").join(
        pl.DataFrame({"band": list(TIMELINESS_BANDS)}), how="cross")
    out = (grid.join(counts, on=["year", "with_exceptions", "band"], how="left")
           .with_columns(pl.col("plans").fill_null(0))
           .with_columns(pl.col("plans").sum().over("year", "with_exceptions")
                         .alias("issued"))
           .with_columns(_pct("plans", "issued").alias("pct"))
           .sort("year", pl.col("with_exceptions").not_(), pl.col("band").replace_strict(
               {b: i for i, b in enumerate(TIMELINESS_BANDS)}, return_dtype=pl.Int8)))
    return _stamp(out.select("year", "band", "with_exceptions", "plans", "pct", "mean_weeks",
                             "issued"), "ehcp-timeliness-bands", source, as_of)


NOT_TO_ISSUE_DAYS = 112  # 16 weeks from request received to a decision not to issue


def ehcp_assessment_decisions(requests: pl.DataFrame, export_date: dt.date, source: str,
                              as_of: dt.date) -> pl.DataFrame:
    """Per complete calendar year: decisions, after an assessment, not to issue a plan (by the
    year of the decision) and how many came within 16 weeks of the request; and assessments
    open on 31 December (decided to assess by then, no assessment outcome by then), with those
    open over 20 weeks since the request."""
    years = complete_years(export_date).with_columns(
        pl.date(pl.col("year"), 12, 31).alias("snapshot_date"))
    counted_ = decision_records(requests.select(
        "transfer_in", "outcome", "assessment_outcome", "received", "decided",
        "assessment_decided"), export_date).group_by("year").agg(counted(DECISIONS))
    counts = list(DECISIONS)
    out = (years.join(counted_, on="year", how="left")
           .with_columns(pl.col(counts).fill_null(0)).sort("year")
           .with_columns(_pct("not_to_issue_within_16_weeks", "decided_not_to_issue")
                         .alias("pct")))
    return _stamp(out.select("year", "decided_not_to_issue", "not_to_issue_within_16_weeks",
                             "pct", "assessments_open", "open_over_20_weeks",
                             "snapshot_date"), "ehcp-assessment-decisions", source, as_of)


DECISIONS = {
    "decided_not_to_issue": Count(pl.col("record") == "not_to_issue"),
    "not_to_issue_within_16_weeks": Count((pl.col("record") == "not_to_issue")
                                          & pl.col("in_time")),
    "assessments_open": Count(pl.col("record") == "open"),
    "open_over_20_weeks": Count((pl.col("record") == "open") & pl.col("in_time").not_())}


def decision_records(requests: pl.DataFrame, export_date: dt.date) -> pl.DataFrame:
    """kpi.ehcp_assessment_decisions's records, two kinds (`record`), with the year they
    count in and `in_time`: requests decided not to issue after assessment (by the year of
    that decision; in time: within 16 weeks of the request), and, each complete year's 31
    December (`snapshot_date`), the assessments open that day (in time: open 20 weeks or
    less since the request)."""
    req = requests.filter(~pl.col("transfer_in"))
    not_issued = req.filter(pl.col("assessment_outcome") == "N").with_columns(
        pl.lit("not_to_issue").alias("record"),
        pl.col("assessment_decided").dt.year().cast(pl.Int32).alias("year"),
        pl.lit(None, pl.Date).alias("snapshot_date"),
        (_days("received", "assessment_decided") <= NOT_TO_ISSUE_DAYS).fill_null(False)
        .alias("in_time"))
    assessing = req.filter(pl.col("outcome") == "A")
    # A snapshot a year, not a cross join of years and requests (nationally, a million
    # requests a year).
    snapshots = [_open_on(assessing, year, dt.date(year, 12, 31))
                 for (year,) in complete_years(export_date).rows()]
    return pl.concat([not_issued, *snapshots], how="vertical_relaxed")


def _open_on(assessing: pl.DataFrame, year: int, day: dt.date) -> pl.DataFrame:
    """Assessments open on `day` (decided to assess by then, no assessment outcome by
    then), in time unless open more than 20 weeks after the request."""
    return assessing.filter((pl.col("decided") <= day) & (
        pl.col("assessment_decided").is_null() | (pl.col("assessment_decided") > day))
    ).with_columns(
        pl.lit("open").alias("record"), pl.lit(year, pl.Int32).alias("year"),
        pl.lit(day).alias("snapshot_date"),
        ((pl.lit(day) - pl.col("received")).dt.total_days() <= TIMELINESS_DAYS)
        .alias("in_time"))


DISPUTE_STAGES = ("request", "assessment", "plan", "all")
# SEN2's flags by the stage of the decision they dispute: a refusal to assess, a decision
# not to issue after assessment, and the plan itself (its content or placement: `other`).
_STAGE_FLAGS = {"request": ("request_mediation", "request_tribunal"),
                "assessment": ("assessment_mediation", "assessment_tribunal"),
                "plan": ("other_mediation", "other_tribunal")}


DISPUTES = {"mediations": Count(pl.col("mediation")), "tribunals": Count(pl.col("tribunal"))}


def dispute_records(requests: pl.DataFrame) -> pl.DataFrame:
    """kpi.ehcp_disputes's records of its mediations and tribunals: each request received
    (transfers in excluded) once a stage, with the calendar year received and whether that
    stage's decision went to mediation and to a tribunal; the `all` row's records are the
    three stages' (a request flagged at two stages counts twice)."""
    req = requests.filter(~pl.col("transfer_in")).with_columns(
        pl.col("received").dt.year().cast(pl.Int32).alias("year"))
    return pl.concat([req.with_columns(pl.lit(stage).alias("stage"), pl.col(m).alias("mediation"),
                                       pl.col(t).alias("tribunal"))
                      for stage, (m, t) in _STAGE_FLAGS.items()])


def ehcp_disputes(requests: pl.DataFrame, plans: pl.DataFrame, caseload: pl.DataFrame,
                  export_date: dt.date, source: str, as_of: dt.date) -> pl.DataFrame:
    """Per complete calendar year of the request, the requests with a mediation and with a
    tribunal appeal at each stage, and the appeal rate against the decisions that can be
    appealed at that stage: refusals to assess (request), decisions not to issue (assessment),
    the January caseload and plans ceased as needs met (plan); `all` adds the stages up, the
    DfE's and the Ministry of Justice's appeal rate. `caseload` is kpi.ehcp_caseload."""
    req = requests.filter(~pl.col("transfer_in")).with_columns(
        pl.col("received").dt.year().cast(pl.Int32).alias("year"))
    flagged = dispute_records(requests.select(
        "transfer_in", "received", *(f for pair in _STAGE_FLAGS.values() for f in pair))
    ).group_by("year", "stage").agg(counted(DISPUTES))
    refusals = req.filter(pl.col("outcome") == "N").group_by("year").agg(
        pl.len().cast(pl.Int64).alias("request"))
    not_issued = req.filter(pl.col("assessment_outcome") == "N").with_columns(
        pl.col("assessment_decided").dt.year().cast(pl.Int32).alias("year")).group_by(
        "year").agg(pl.len().cast(pl.Int64).alias("assessment"))
    january = caseload.select("year", "caseload")
    needs_met = plans.filter(pl.col("cease_reason").cast(pl.Int32) == 2).with_columns(
        pl.col("cease_date").dt.year().cast(pl.Int32).alias("year")).group_by("year").agg(
        pl.len().cast(pl.Int64).alias("needs_met"))
    years = complete_years(export_date)
    appealable = (years.join(refusals, on="year", how="left")
                  .join(not_issued, on="year", how="left").join(january, on="year", how="left")
                  .join(needs_met, on="year", how="left").fill_null(0)
                  .with_columns((pl.col("caseload") + pl.col("needs_met")).alias("plan"))
                  .unpivot(index="year", on=["request", "assessment", "plan"],
                           variable_name="stage", value_name="appealable_decisions"))
    grid = years.join(pl.DataFrame({"stage": list(_STAGE_FLAGS)}), how="cross")
    stages = (grid.join(flagged, on=["year", "stage"], how="left")
              .join(appealable, on=["year", "stage"], how="left")
              .with_columns(pl.col("mediations", "tribunals", "appealable_decisions")
                            .fill_null(0)))
    total = stages.group_by("year").agg(
        pl.col("mediations", "tribunals", "appealable_decisions").sum()).with_columns(
        pl.lit("all").alias("stage"))
    out = (pl.concat([stages, total.select(stages.columns)])
           .with_columns(pl.when(pl.col("appealable_decisions") > 0).then(
               (100 * pl.col("tribunals") / pl.col("appealable_decisions")).round(2))
               .alias("appeal_rate_pct"))
           .sort("year", pl.col("stage").replace_strict(
               {s: i for i, s in enumerate(DISPUTE_STAGES)}, return_dtype=pl.Int8)))
    return _stamp(out.select("year", "stage", "mediations", "tribunals",
                             "appealable_decisions", "appeal_rate_pct"),
                  "ehcp-disputes", source, as_of)


# A plan's budget counts only with `pb`: organised arrangements or direct payments recorded
# without one are not a budget.
BUDGETS = {
    "plans_with_pb": Count(pl.col("personal_budget")),
    "organised_arrangements": Count(pl.col("personal_budget")
                                    & pl.col("organised_arrangements")),
    "direct_payments": Count(pl.col("personal_budget") & pl.col("direct_payments"))}
PERSONAL_BUDGETS = {"new_plans": ALL, **BUDGETS}


def personal_budget_records(plans: pl.DataFrame) -> pl.DataFrame:
    """kpi.ehcp_personal_budgets's records: plans first issued by the LA, with the year."""
    return _new_plans(plans)


def ehcp_personal_budgets(plans: pl.DataFrame, export_date: dt.date, source: str,
                          as_of: dt.date) -> pl.DataFrame:
    """New plans issued in each complete calendar year with a personal budget, and of those
    with organised arrangements and with direct payments (a budget can have both)."""
    agg = personal_budget_records(plans).group_by("year").agg(counted(PERSONAL_BUDGETS))
    counts = ["new_plans", "plans_with_pb", "organised_arrangements", "direct_payments"]
    out = (complete_years(export_date).join(agg, on="year", how="left")
           .with_columns(pl.col(counts).fill_null(0)).sort("year")
           .with_columns(_pct("plans_with_pb", "new_plans").alias("pct_of_new_plans")))
    return _stamp(out.select("year", "plans_with_pb", "organised_arrangements",
                             "direct_payments", "pct_of_new_plans", "new_plans"),
                  "ehcp-personal-budgets", source, as_of)


CASELOAD_BUDGETS = {"caseload": ALL, **BUDGETS}


def caseload_budget_records(plans: pl.DataFrame, export_date: dt.date) -> pl.DataFrame:
    """kpi.ehcp_personal_budgets_caseload's records: kpi.ehcp_caseload's (a row for every
    plan and January census day it is active on, transfers in included), with the plan's
    budget flags."""
    return caseload_records(plans, export_date)


def ehcp_personal_budgets_caseload(plans: pl.DataFrame, export_date: dt.date, source: str,
                                   as_of: dt.date) -> pl.DataFrame:
    """The January caseload (plans active on each census day, as kpi.ehcp_caseload) with a
    personal budget, and of those with organised arrangements and with direct payments: the
    DfE's `personal_budgets.csv` count. SEN2 holds each plan's budget as at the export, so
    an earlier January reads the flags the plan has now (or had when it ceased)."""
    counts = list(CASELOAD_BUDGETS)
    agg = caseload_budget_records(plans.select(
        "start_date", "cease_date", "personal_budget", "organised_arrangements",
        "direct_payments"), export_date).group_by("year").agg(counted(CASELOAD_BUDGETS))
    out = (januaries(export_date).join(agg, on="year", how="left")
           .with_columns(pl.col(counts).fill_null(0)).sort("year")
           .with_columns(_pct("plans_with_pb", "caseload").alias("pct_of_caseload")))
    return _stamp(out.select("year", "census_date", "caseload", "plans_with_pb",
                             "organised_arrangements", "direct_payments", "pct_of_caseload"),
                  "ehcp-personal-budgets-caseload", source, as_of)


# SEN2 `requestsource` ("Source of request for an EHC needs assessment", v1.3; mandatory in
# the 2026 collection): who made the request. The list as a case management supplier
# publishes it for the 2026 return, and a public SEN2 reader maps it alike
# (docs/kpis.md#ehcp-requests-by-source names both); the DfE's own specification text was not
# found, so a code outside it keeps no label rather than a guessed one.
REQUEST_SOURCES = {"1": "Young person or parent", "2": "School or other education setting",
                   "3": "Health care professionals", "4": "Social care professionals",
                   "5": "Other"}


BY_SOURCE = {"requests": ALL}


def source_records(requests: pl.DataFrame) -> pl.DataFrame:
    """kpi.ehcp_requests_by_source's records: requests received (transfers in excluded),
    with the year and who made them (none recorded: `unknown`)."""
    return requests.filter(~pl.col("transfer_in")).with_columns(
        pl.col("received").dt.year().cast(pl.Int32).alias("year"),
        pl.when(pl.col("request_source").is_null() | (pl.col("request_source") == ""))
        .then(pl.lit("unknown")).otherwise(pl.col("request_source")).alias("request_source"))


def ehcp_requests_by_source(requests: pl.DataFrame, export_date: dt.date, source: str,
                            as_of: dt.date) -> pl.DataFrame:
    """Requests received in each complete calendar year by who made them (SEN2's
    `requestsource` code as recorded; none recorded is `unknown`), their share, and the
    code's label (REQUEST_SOURCES; `Not recorded` for `unknown`, none for a code outside
    the list)."""
    counts = source_records(requests).group_by("year", "request_source").agg(
        counted(BY_SOURCE))
    out = (complete_years(export_date).join(counts, on="year", how="inner")
           .with_columns(pl.col("requests").sum().over("year").alias("requests_received"),
                         pl.col("request_source").replace_strict(
                             {**REQUEST_SOURCES, "unknown": "Not recorded"}, default=None,
                             return_dtype=pl.Utf8).alias("request_source_label"))
           .with_columns(_pct("requests", "requests_received").alias("pct"))
           .sort("year", "request_source"))
    return _stamp(out.select("year", "request_source", "requests", "pct", "requests_received",
                             "request_source_label"),
                  "ehcp-requests-by-source", source, as_of)


DURATION_BANDS = ("under_1", "1_to_2", "2_to_5", "5_to_10", "10_plus")


BY_DURATION = {"plans": ALL}


def duration_records(plans: pl.DataFrame) -> pl.DataFrame:
    """kpi.ehcp_ceased_by_duration's records: plans with a cease date, with its year, the
    reason as a number and the band of years held."""
    held = (pl.col("cease_date") - pl.col("start_date")).dt.total_days() / 365.25
    return plans.filter(pl.col("cease_date").is_not_null()).with_columns(
        pl.col("cease_date").dt.year().cast(pl.Int32).alias("year"),
        pl.col("cease_reason").cast(pl.Int32),
        pl.when(held < 1).then(pl.lit("under_1")).when(held < 2).then(pl.lit("1_to_2"))
        .when(held < 5).then(pl.lit("2_to_5")).when(held < 10).then(pl.lit("5_to_10"))
        .otherwise(pl.lit("10_plus")).alias("years_held_band"))


def ehcp_ceased_by_duration(plans: pl.DataFrame, export_date: dt.date, source: str,
                            as_of: dt.date) -> pl.DataFrame:
    """Plans ceased in each complete calendar year by how long they had been held (from the
    plan's start to its cease, in whole years) and why they ceased (SEN2's reasons 1-9)."""
    counts = duration_records(plans).group_by("year", "years_held_band", "cease_reason").agg(
        counted(BY_DURATION))
    grid = (complete_years(export_date)
            .join(pl.DataFrame({"years_held_band": list(DURATION_BANDS)}), how="cross")
            .join(pl.DataFrame({"cease_reason": list(CEASE_REASONS)},
                               schema={"cease_reason": pl.Int32}), how="cross"))
    out = (grid.join(counts, on=["year", "years_held_band", "cease_reason"], how="left")
           .with_columns(pl.col("plans").fill_null(0))
           .sort("year", pl.col("years_held_band").replace_strict(
               {b: i for i, b in enumerate(DURATION_BANDS)}, return_dtype=pl.Int8),
               "cease_reason"))
    return _stamp(out.select("year", "years_held_band", "cease_reason", "plans"),
                  "ehcp-ceased-by-duration", source, as_of)


REVIEW_DECISION_DAYS = 28  # the LA decides within 4 weeks of the review meeting (reg. 20)
# SEN2's annual review decision codes (item 5.5).
REVIEW_outcomeS = {"A": "amended", "C": "ceased", "M": "maintained"}


_outcome = pl.col("review_outcome").str.strip_chars().str.to_uppercase()
_held = pl.col("held")
REVIEWS = {
    "reviews_due": ALL, "reviews_held": Count(_held),
    "decided_within_4_weeks": Count(_held & (
        pl.col("review_decided") - pl.col("review_meeting")).dt.total_days().is_between(
        0, REVIEW_DECISION_DAYS).fill_null(False)),
    **{name: Count(_held & (_outcome == code)) for code, name in REVIEW_outcomeS.items()},
    "no_outcome": Count(_held & (~_outcome.is_in(list(REVIEW_outcomeS)) | _outcome.is_null())),
    "not_held": Count(~_held)}


def review_records(plans: pl.DataFrame, export_date: dt.date) -> pl.DataFrame:
    """kpi.ehcp_annual_reviews's records: the plans due a review in the year the export
    reports on (active on its 31 December and at least a year old by then), with the year
    and whether a review meeting was `held` in it."""
    year = export_date.year - 1
    end = dt.date(year, 12, 31)
    return plans.filter((pl.col("start_date") <= dt.date(year - 1, 12, 31))
                        & (pl.col("cease_date").is_null() | (pl.col("cease_date") > end))
                        ).with_columns(pl.lit(year, pl.Int32).alias("year"),
                                       (pl.col("review_meeting").dt.year() == year)
                                       .fill_null(False).alias("held"))


def ehcp_annual_reviews(plans: pl.DataFrame, export_date: dt.date, source: str,
                        as_of: dt.date) -> pl.DataFrame:
    """Annual reviews in the calendar year the export reports on (the year before it: SEN2
    holds each plan's latest review only, so earlier years cannot be counted). Due: plans
    active on 31 December that were at least a year old by then; held: of those, a review
    meeting in the year; decided within 4 weeks: the decision (`lastreview`) at most 28 days
    after the meeting; by decision: amend, cease, maintain, none recorded."""
    year = export_date.year - 1
    due = review_records(plans, export_date)
    counts = due.select(*counted(REVIEWS)).with_columns(pl.lit(year, pl.Int32).alias("year"))
    out = counts.with_columns(
        (pl.col("reviews_due") - pl.col("reviews_held")).alias("not_held"),
        _pct("reviews_held", "reviews_due").alias("pct_held"),
        _pct("decided_within_4_weeks", "reviews_held").alias("pct_decided_within_4_weeks"))
    return _stamp(out.select("year", "reviews_due", "reviews_held", "decided_within_4_weeks",
                             "pct_decided_within_4_weeks", "amended", "ceased", "maintained",
                             "no_outcome", "not_held", "pct_held"),
                  "ehcp-annual-reviews", source, as_of)


_final = pl.col("transfer_final")
TRANSFERS = {
    "transfers_due": ALL, "deadline_passed": Count(pl.col("passed")),
    "final_by_deadline": Count((_final <= pl.col("transfer_due")).fill_null(False)),
    "final_after_deadline": Count((_final > pl.col("transfer_due")).fill_null(False)),
    "no_final_past_deadline": Count(_final.is_null() & pl.col("passed")),
    "settled": Count(pl.col("passed") | _final.is_not_null())}


def transfer_records(plans: pl.DataFrame, export_date: dt.date) -> pl.DataFrame:
    """kpi.ehcp_phase_transfers's records: plans with a phase transfer due up to the export's
    year, with the year it is due and whether the deadline had `passed` by the export."""
    return plans.filter(pl.col("transfer_due").is_not_null()
                        & (pl.col("transfer_due").dt.year() <= export_date.year)).with_columns(
        pl.col("transfer_due").dt.year().cast(pl.Int32).alias("year"),
        (pl.col("transfer_due") <= export_date).alias("passed"))


def ehcp_phase_transfers(plans: pl.DataFrame, export_date: dt.date, source: str,
                         as_of: dt.date) -> pl.DataFrame:
    """Plans with a phase transfer review due, by the calendar year of the due date (SEN2's
    `phasetransferduedate`: the statutory deadline for the amended plan, 15 February for a
    move between school phases, 31 March into post-16), up to the export's year; how many had
    their final plan issued by the deadline, after it, or not yet. The percentage is of the
    transfers settled at the export: deadline passed, or final plan already issued."""
    agg = transfer_records(plans, export_date).group_by("year").agg(counted(TRANSFERS))
    out = agg.sort("year").with_columns(
        _pct("final_by_deadline", "settled").alias("pct_final_by_deadline"))
    return _stamp(out.select("year", "transfers_due", "final_by_deadline",
                             "pct_final_by_deadline", "settled", "deadline_passed",
                             "final_after_deadline", "no_final_past_deadline"),
                  "ehcp-phase-transfers", source, as_of)


# SEN2 `sensetting` of a placement with no URN or UKPRN -> the settings of
# kpi.ehcp_not_in_school. NIEO is SEN2's "not in education - other", whose example is a
# plan transferred in and awaiting a placement.
NOT_IN_SCHOOL = {"OLA": "EOTAS", "EHE": "EHE", "OPA": "parent_arrangements", "NEET": "NEET",
                 "NIEC": "not_in_education", "NIEO": "awaiting_provision"}
NOT_IN_SCHOOL_SETTINGS = ("EOTAS", "EHE", "parent_arrangements", "NEET", "not_in_education",
                          "awaiting_provision", "unknown")


NOT_IN_SCHOOL_COUNTS = {"plans": ALL}


def _elsewhere(plans: pl.DataFrame, placements: pl.DataFrame, export_date: dt.date
               ) -> pl.DataFrame:
    """Plans active on a January whose placement attended that day (rank 1, the latest
    entry if two) has no URN or UKPRN and a `sensetting` of NOT_IN_SCHOOL: a row a plan and
    January, with its setting and the placement's entry date and code."""
    first = placements.filter(pl.col("placement_rank") == 1).select(
        "plan_id", "entry_date", "leaving_date", "urn", "ukprn", "sensetting")
    # Only plans ever placed somewhere with no URN can count (nationally a tenth of them).
    elsewhere_ever = first.filter(pl.col("urn").is_null() & pl.col("ukprn").is_null()
                                  & pl.col("sensetting").is_in(list(NOT_IN_SCHOOL)))
    candidates = plans.join(elsewhere_ever.select("plan_id").unique(), on="plan_id",
                            how="semi")
    active = open_on(candidates, januaries(export_date))
    current = (active.select("year", "census_date", "plan_id").join(first, on="plan_id")
               .filter((pl.col("entry_date") <= pl.col("census_date"))
                       & (pl.col("leaving_date").is_null()
                          | (pl.col("leaving_date") > pl.col("census_date"))))
               .sort("entry_date").group_by("year", "plan_id").agg(
                   pl.col("urn", "ukprn", "sensetting", "entry_date").last()))
    return current.filter(pl.col("urn").is_null() & pl.col("ukprn").is_null()).with_columns(
        pl.col("sensetting").replace_strict(NOT_IN_SCHOOL, default=None).alias("setting")
    ).drop_nulls("setting").join(active, on=["year", "plan_id"]).drop("urn", "ukprn")


def not_in_school_records(plans: pl.DataFrame, placements: pl.DataFrame,
                          export_date: dt.date) -> pl.DataFrame:
    """kpi.ehcp_not_in_school's records: a row for every plan and January it counts in,
    with its `setting`; the `unknown` setting's are kpi.ehcp_placement_mix's records of
    the unknown placement group (placement_records)."""
    unknown = placement_records(plans, placements, export_date).filter(
        pl.col("placement_group") == "unknown").drop("placement_group").with_columns(
        pl.lit("unknown").alias("setting"))
    return pl.concat([_elsewhere(plans, placements, export_date), unknown],
                     how="diagonal_relaxed")


def ehcp_not_in_school(plans: pl.DataFrame, placements: pl.DataFrame,
                       placement_mix: pl.DataFrame, export_date: dt.date, source: str,
                       as_of: dt.date) -> pl.DataFrame:
    """The January caseload not attending a school, college or early years provider: by the
    `sensetting` of the placement attended that day (rank 1, the latest entry if two) when it
    has no URN or UKPRN; `unknown` and the caseload are kpi.ehcp_placement_mix's (no
    placement that day, or a setting not recognised). `pct` is of the caseload."""
    days = januaries(export_date)
    elsewhere = _elsewhere(plans.select("plan_id", "start_date", "cease_date"), placements,
                           export_date).select("year", "setting")
    mix = placement_mix.select("year", "placement_group", "plans", "caseload")
    caseload = mix.group_by("year").agg(pl.col("caseload").first())
    unknown = mix.filter(pl.col("placement_group") == "unknown").select(
        "year", pl.lit("unknown").alias("setting"), pl.col("plans").cast(pl.Int64))
    counts = pl.concat([elsewhere.group_by("year", "setting").agg(
        pl.len().cast(pl.Int64).alias("plans")), unknown])
    grid = days.select("year").join(pl.DataFrame({"setting": list(NOT_IN_SCHOOL_SETTINGS)}),
                                    how="cross")
    out = (grid.join(counts, on=["year", "setting"], how="left")
           .join(caseload, on="year", how="left")
           .with_columns(pl.col("plans", "caseload").fill_null(0))
           .with_columns(_pct("plans", "caseload").alias("pct"))
           .sort("year", pl.col("setting").replace_strict(
               {s: i for i, s in enumerate(NOT_IN_SCHOOL_SETTINGS)}, return_dtype=pl.Int8)))
    return _stamp(out.select("year", "setting", "plans", "pct", "caseload"),
                  "ehcp-not-in-school", source, as_of)
