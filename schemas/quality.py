"""The quality gate's expectation suites: what every KPI table must meet before publishing.

Suites are built from the tables themselves each run (a contiguous run of years is "no year
missing" whatever the years are). Cross-table rules (parts sum to totals) are checked on small
derived frames, so each rule is one Great Expectations expectation with a readable name.
Great Expectations is imported only when the gate runs: it takes seconds to import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from schemas.contracts import (
    NEED_CODES,
    PLACEMENT_GROUPS,
    S251_HIGH_NEEDS_LINES,
    SETTINGS_2026,
)

# Year-on-year caseload change outside these bounds is implausible for an LA (checked once the
# caseload is big enough for a percentage to mean something).
GROWTH_BOUNDS = (-30.0, 60.0)
GROWTH_MIN_BASE = 50
# EHC plans per 10,000 residents aged 0-25: England was ~450 in 2025; 1,000 would be 10%.
RATE_BOUNDS = (0.0, 1000.0)


@dataclass
class Rule:
    """One expectation: `kind` names a GX expectation class, `kwargs` its arguments."""

    kind: str
    kwargs: dict
    why: str  # what a failure means, in words
    blocking: bool = True  # a failure stops the publish; otherwise it is a warning


@dataclass
class Suite:
    name: str
    frame: pl.DataFrame
    rules: list[Rule] = field(default_factory=list)

    def between(self, column: str, low: float | None, high: float | None, why: str) -> None:
        self.rules.append(Rule("ExpectColumnValuesToBeBetween",
                               {"column": column, "min_value": low, "max_value": high}, why))

    def in_set(self, column: str, values: list, why: str, blocking: bool = True) -> None:
        self.rules.append(Rule("ExpectColumnValuesToBeInSet",
                               {"column": column, "value_set": values}, why, blocking))

    def not_null(self, column: str, why: str) -> None:
        self.rules.append(Rule("ExpectColumnValuesToNotBeNull", {"column": column}, why))

    def rows(self, n: int, why: str) -> None:
        self.rules.append(Rule("ExpectTableRowCountToEqual", {"value": n}, why))

    def unique(self, column: str, why: str) -> None:
        self.rules.append(Rule("ExpectColumnValuesToBeUnique", {"column": column}, why))


# Several columns' bounds are checked as one expectation on their smallest (and largest)
# value: each expectation costs the gate, nationally about 10 ms, and its Data Docs more.
def _counts(s: Suite, *columns: str) -> None:
    if len(columns) == 1:
        s.between(columns[0], 0, None, f"{columns[0]} is a count: never negative")
        return
    s.frame = s.frame.with_columns(pl.min_horizontal(columns).alias("smallest_count"))
    s.between("smallest_count", 0, None, f"counts are never negative: {', '.join(columns)}")


def _percents(s: Suite, *columns: str) -> None:
    if len(columns) == 1:
        s.between(columns[0], 0, 100, f"{columns[0]} is a percentage: 0 to 100")
        return
    s.frame = s.frame.with_columns(pl.min_horizontal(columns).alias("smallest_pct"),
                                   pl.max_horizontal(columns).alias("largest_pct"))
    what = f"percentages are 0 to 100: {', '.join(columns)}"
    s.between("smallest_pct", 0, 100, what)
    s.between("largest_pct", 0, 100, what)


def _years(s: Suite, column: str = "year") -> None:
    years = s.frame[column].drop_nulls()
    if years.len():
        s.unique(column, "one row a year")
        s.rows(int(years.max() - years.min() + 1),
               f"no year missing between {years.min()} and {years.max()}")


def _sums_to(name: str, parts: pl.DataFrame, caseload: pl.DataFrame, what: str) -> Suite:
    check = parts.group_by("year").agg(pl.col("plans").sum().alias("parts")).join(
        caseload.select("year", "caseload"), on="year", how="full", coalesce=True).select(
        "year", (pl.col("parts").fill_null(0) - pl.col("caseload").fill_null(0))
        .alias("difference"))
    s = Suite(name, check)
    s.between("difference", 0, 0, f"{what} add up to each January's caseload")
    return s


def _fy_order(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("financial_year").str.slice(0, 4).cast(pl.Int32)
                              .alias("fy_start"))


@dataclass(frozen=True)
class Checking:
    """What a run's gate is told: the day it runs, how old the newest extract may be (None
    skips freshness: sample data has fixed dates), and whether a caseload that differs from
    the DfE's stops the publish rather than warning."""

    today: dt.date
    max_age_days: int | None
    reconciliation_blocks: bool = False


# One function a KPI table: its suites, given the table, every table the build made (by
# name without `kpi.`, for rules across tables) and the run's Checking. The KPI registry
# (warehouse/registry.py) names each table's.
Suites = Callable[[pl.DataFrame, dict[str, pl.DataFrame], Checking], list[Suite]]


def ehcp_caseload(c: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                  ) -> list[Suite]:
    s = Suite("ehcp_caseload", c.with_columns(
        pl.when(pl.col("caseload").shift(1) >= GROWTH_MIN_BASE).then(pl.col("growth_pct"))
        .alias("growth_checked")))
    _counts(s, "caseload")
    _years(s)
    s.between("growth_checked", *GROWTH_BOUNDS,
              f"caseload changes by {GROWTH_BOUNDS[0]}% to +{GROWTH_BOUNDS[1]}% a year")
    s.between("rate_per_10k_0_25", *RATE_BOUNDS,
              "EHC plans per 10,000 aged 0-25 is plausible (population extract sane)")
    out = [s]
    if run.max_age_days is not None:
        freshness = Suite("freshness", c.select(
            (pl.lit(run.today) - pl.col("as_of")).dt.total_days().alias("age_days")).head(1))
        freshness.between("age_days", 0, run.max_age_days,
                          f"the newest extract is at most {run.max_age_days} days old "
                          "and not in the future")
        out.append(freshness)
    return out


def ehcp_new_plans(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                   ) -> list[Suite]:
    s = Suite("ehcp_new_plans", t.with_columns(
        (pl.col("new_plans") - pl.col("within_20_weeks")).alias("late"),
        (pl.col("new_plans_ex") - pl.col("within_20_weeks_ex")).alias("late_ex")))
    _counts(s, "new_plans", "within_20_weeks", "new_plans_ex", "within_20_weeks_ex", "late",
            "late_ex")
    _percents(s, "pct_within_20_weeks", "pct_within_20_weeks_ex")
    _years(s)
    return [s]


def ehcp_requests(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                  ) -> list[Suite]:
    s = Suite("ehcp_requests", t.with_columns(
        (pl.col("requests_received") - pl.col("decided_to_assess")).alias("not_assessed")))
    _counts(s, "requests_received", "decided_to_assess", "decided_within_6_weeks",
            "not_assessed")
    _percents(s, "pct_decided_to_assess", "pct_decided_within_6_weeks")
    _years(s)
    return [s]


def _mix(name: str, column: str, values: list) -> Suites:
    def suites(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
               ) -> list[Suite]:
        s = Suite(name, t)
        _counts(s, "plans")
        _percents(s, "pct")
        s.in_set(column, values, f"{column} is one of the published categories")
        out = [s]
        if "ehcp_caseload" in tables:
            out.append(_sums_to(f"{name}_sums_to_caseload", t, tables["ehcp_caseload"],
                                f"{column} counts"))
        return out

    return suites


ehcp_placement_mix = _mix("ehcp_placement_mix", "placement_group", list(PLACEMENT_GROUPS))
ehcp_need_mix = _mix("ehcp_need_mix", "need", [*NEED_CODES, "unknown"])


def ehcp_ceased(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                ) -> list[Suite]:
    s = Suite("ehcp_ceased", t)
    _counts(s, "plans")
    s.in_set("cease_reason", list(range(1, 10)), "cease reasons are SEN2's 1-9")
    return [s]


def sen_prevalence(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                   ) -> list[Suite]:
    s = Suite("sen_prevalence", t.with_columns(
        (pl.col("pupils") - pl.col("ehcp") - pl.col("sen_support")).alias("no_sen")))
    _counts(s, "pupils", "ehcp", "sen_support", "no_sen")
    _percents(s, "ehcp_pct", "sen_support_pct")
    s.in_set("scope", ["la", "phase", "school"], "scopes are la, phase and school")
    return [s]


def hnb_outturn(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                ) -> list[Suite]:
    s = Suite("hnb_outturn", t.with_columns(pl.col("budget_gbp", "actual_gbp").cast(pl.Float64)))
    s.in_set("s251_line", list(S251_HIGH_NEEDS_LINES), "lines are S251 high-needs lines")
    s.not_null("actual_gbp", "every line has an outturn or year-to-date actual")
    return [s]


def hnb_unit_costs(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                   ) -> list[Suite]:
    s = Suite("hnb_unit_costs", t.with_columns(pl.col("value_gbp").cast(pl.Float64)))
    _counts(s, "plans")
    s.between("value_gbp", 0, None, "spend per plan and average top-ups are not negative")
    return [s]


def dsg_balance(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                ) -> list[Suite]:
    s = Suite("dsg_balance", _fy_order(t))
    s.in_set("opening_balance_known", [True],
             "the first financial year loaded has its opening cumulative balance")
    s.between("pct_of_dsg_income", -100, 300,
              "the cumulative balance is within -100% to 300% of a year's income")
    _years(s, "fy_start")
    return [s]


def recovery_plan(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                  ) -> list[Suite]:
    s = Suite("recovery_plan", t.with_columns(pl.col("planned_saving_gbp").cast(pl.Float64)))
    s.between("planned_saving_gbp", 0, None, "planned savings are not negative")
    s.in_set("rag", ["green", "amber", "red", "grey"], "RAG is green, amber, red or grey")
    return [s]


def place_sufficiency(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                      ) -> list[Suite]:
    s = Suite("place_sufficiency", t)
    _counts(s, "funded_places", "ehcp_pupils")
    s.in_set("provision", ["special", "resourced_provision", "sen_unit", "ap"],
             "provision is special, resourced_provision, sen_unit or ap")
    return [s]


def forecast(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
             ) -> list[Suite]:
    s = Suite("forecast", t.with_columns(
        (pl.col("p50") - pl.col("p10")).alias("p50_above_p10"),
        (pl.col("p90") - pl.col("p50")).alias("p90_above_p50")))
    s.between("p50_above_p10", 0, None, "each row's median is not below its 10th percentile")
    s.between("p90_above_p50", 0, None, "each row's 90th percentile is not below its median")
    s.not_null("p50", "every projected row has a median")
    return [s]


def forecast_track_record(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                          ) -> list[Suite]:
    s = Suite("forecast_track_record", t.with_columns(
        (pl.col("model_p90") - pl.col("model_p10")).alias("band_width"),
        (pl.col("year") - pl.col("fit_until") - pl.col("horizon")).alias("year_past_horizon")))
    s.between("horizon", 1, 3, "each forecast is one to three Januaries ahead")
    s.between("year_past_horizon", 0, 0, "each forecast's January is its horizon after the "
              "January it was fitted until")
    s.between("band_width", 0, None, "each forecast's 90th percentile is not below its 10th")
    s.between("actual", 1, None, "each forecast is scored against a published January")
    return [s]


def reconciliation(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                   ) -> list[Suite]:
    caseload = t.filter((pl.col("measure") == "ehcp_caseload")
                        & pl.col("published_value").is_not_null())
    s = Suite("reconciliation_caseload", caseload)
    # A warning unless the LA asks otherwise: the DfE counted last year's return and case
    # records change afterwards, so a gap is a question for the data team, not a reason
    # to stop the board seeing this morning's figures.
    s.in_set("flagged", [False], "the LA's January caseload matches what the DfE "
             "published for it, within tolerance", blocking=run.reconciliation_blocks)
    return [s]


def benchmarks(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
               ) -> list[Suite]:
    s = Suite("benchmarks", t)
    s.in_set("comparison", ["la", "region", "england", "statistical_neighbour",
                            "statistical_neighbours_mean"], "known comparison groups")
    return [s]


def _agrees(s: Suite, mine: pl.DataFrame, theirs: pl.DataFrame, keys: list[str],
            column: str, why: str) -> None:
    """A rule that `mine` and `theirs` (keys and `value`) agree at every key either has, as
    `column` of the suite's frame: two tables built from the same plans count them alike.
    One suite a table, not one a rule: each suite costs the gate and its Data Docs time."""
    difference = mine.join(theirs, on=keys, how="full", coalesce=True, suffix="_other").select(
        *keys, (pl.col("value").fill_null(0) - pl.col("value_other").fill_null(0))
        .alias(column))
    unmatched = difference.join(s.frame.select(keys).unique(), on=keys, how="anti")
    s.frame = pl.concat([s.frame.join(difference, on=keys, how="left"), unmatched],
                        how="diagonal_relaxed")
    s.between(column, 0, 0, why)


def ehcp_timeliness_bands(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                          ) -> list[Suite]:
    s = Suite("ehcp_timeliness_bands", t.with_columns(
        pl.when(pl.col("band") == "under_20").then(pl.col("mean_weeks"))
        .alias("mean_weeks_within_20")))
    _counts(s, "plans", "issued")
    _percents(s, "pct")
    s.in_set("band", ["under_20", "20_to_52", "over_52"], "bands are the DfE's three")
    s.between("mean_weeks_within_20", 0, 20, "plans issued within 20 weeks average at most 20")
    if "ehcp_new_plans" in tables:
        new, rows = tables["ehcp_new_plans"], t.filter(pl.col("with_exceptions"))
        for band, column in (("under_20", "within_20_weeks"), (None, "new_plans")):
            part = rows.filter(pl.col("band") == band) if band else rows
            _agrees(s, part.group_by("year").agg(pl.col("plans").sum().alias("value")),
                    new.select("year", pl.col(column).alias("value")), ["year"],
                    f"{column}_difference",
                    f"the bands' plans agree with kpi.ehcp_new_plans' {column}")
    return [s]


def ehcp_assessment_decisions(t: pl.DataFrame, tables: dict[str, pl.DataFrame],
                              run: Checking) -> list[Suite]:
    s = Suite("ehcp_assessment_decisions", t.with_columns(
        (pl.col("decided_not_to_issue") - pl.col("not_to_issue_within_16_weeks"))
        .alias("late"), (pl.col("assessments_open") - pl.col("open_over_20_weeks"))
        .alias("open_within_20_weeks")))
    _counts(s, "decided_not_to_issue", "not_to_issue_within_16_weeks", "assessments_open",
            "open_over_20_weeks", "late", "open_within_20_weeks")
    _percents(s, "pct")
    _years(s)
    return [s]


def ehcp_disputes(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                  ) -> list[Suite]:
    s = Suite("ehcp_disputes", t)
    _counts(s, "mediations", "tribunals", "appealable_decisions")
    s.between("appeal_rate_pct", 0, 100, "appeals are at most the decisions appealable")
    s.in_set("stage", ["request", "assessment", "plan", "all"],
             "stages are request, assessment, plan and all")
    _agrees(s, t.filter(pl.col("stage") != "all").group_by("year").agg(
        pl.col("tribunals").sum().alias("value")), t.filter(pl.col("stage") == "all").select(
        "year", pl.col("tribunals").alias("value")), ["year"], "stages_difference",
        "the stages' tribunals add up to the year's")
    return [s]


def ehcp_personal_budgets(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                          ) -> list[Suite]:
    s = Suite("ehcp_personal_budgets", t.with_columns(
        (pl.col("plans_with_pb") - pl.col("organised_arrangements")).alias("pb_not_oa"),
        (pl.col("plans_with_pb") - pl.col("direct_payments")).alias("pb_not_dp")))
    _counts(s, "plans_with_pb", "organised_arrangements", "direct_payments", "pb_not_oa",
            "pb_not_dp")
    _percents(s, "pct_of_new_plans")
    if "ehcp_new_plans" in tables:
        _agrees(s, t.select("year", pl.col("new_plans").alias("value")),
                tables["ehcp_new_plans"].select("year", pl.col("new_plans").alias("value")),
                ["year"], "new_plans_difference", "new plans agree with kpi.ehcp_new_plans")
    else:
        _years(s)
    return [s]


def ehcp_personal_budgets_caseload(t: pl.DataFrame, tables: dict[str, pl.DataFrame],
                                   run: Checking) -> list[Suite]:
    s = Suite("ehcp_personal_budgets_caseload", t.with_columns(
        (pl.col("caseload") - pl.col("plans_with_pb")).alias("caseload_not_pb"),
        (pl.col("plans_with_pb") - pl.col("organised_arrangements")).alias("pb_not_oa"),
        (pl.col("plans_with_pb") - pl.col("direct_payments")).alias("pb_not_dp")))
    _counts(s, "caseload", "plans_with_pb", "organised_arrangements", "direct_payments",
            "caseload_not_pb", "pb_not_oa", "pb_not_dp")
    _percents(s, "pct_of_caseload")
    if "ehcp_caseload" in tables:
        _agrees(s, t.select("year", pl.col("caseload").alias("value")),
                tables["ehcp_caseload"].select("year", pl.col("caseload").alias("value")),
                ["year"], "caseload_difference", "the caseload agrees with kpi.ehcp_caseload")
    else:
        _years(s)
    return [s]


def ehcp_requests_by_source(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                            ) -> list[Suite]:
    s = Suite("ehcp_requests_by_source", t)
    _counts(s, "requests")
    _percents(s, "pct")
    if "ehcp_requests" in tables:
        received = tables["ehcp_requests"].filter(pl.col("requests_received") > 0)
        _agrees(s, t.group_by("year").agg(pl.col("requests").sum().alias("value")),
                received.select("year", pl.col("requests_received").alias("value")),
                ["year"], "total_difference", "requests by source add up to kpi.ehcp_requests'")
    return [s]


def ehcp_ceased_by_duration(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                            ) -> list[Suite]:
    s = Suite("ehcp_ceased_by_duration", t)
    _counts(s, "plans")
    s.in_set("years_held_band", ["under_1", "1_to_2", "2_to_5", "5_to_10", "10_plus"],
             "bands of years held are the five published")
    if "ehcp_ceased" in tables:
        keys = ["year", "cease_reason"]
        _agrees(s, t.group_by(keys).agg(pl.col("plans").sum().alias("value")),
                tables["ehcp_ceased"].select(*keys, pl.col("plans").alias("value")), keys,
                "total_difference", "plans ceased by duration add up to kpi.ehcp_ceased's")
    return [s]


def ehcp_annual_reviews(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                        ) -> list[Suite]:
    s = Suite("ehcp_annual_reviews", t.with_columns(
        (pl.col("reviews_held") - pl.col("amended") - pl.col("ceased") - pl.col("maintained")
         - pl.col("no_outcome")).alias("decisions_unaccounted"),
        (pl.col("reviews_held") - pl.col("decided_within_4_weeks")).alias("late")))
    _counts(s, "reviews_due", "reviews_held", "decided_within_4_weeks", "not_held", "late")
    _percents(s, "pct_decided_within_4_weeks", "pct_held")
    s.between("decisions_unaccounted", 0, 0,
              "every review held has one decision: amend, cease, maintain or none recorded")
    return [s]


def ehcp_phase_transfers(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                         ) -> list[Suite]:
    s = Suite("ehcp_phase_transfers", t.with_columns(
        (pl.col("transfers_due") - pl.col("settled")).alias("unsettled"),
        (pl.col("settled") - pl.col("final_by_deadline")).alias("settled_late")))
    _counts(s, "transfers_due", "final_by_deadline", "deadline_passed", "settled",
            "unsettled", "settled_late")
    _percents(s, "pct_final_by_deadline")
    return [s]


def ehcp_not_in_school(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                       ) -> list[Suite]:
    s = Suite("ehcp_not_in_school", t)
    _counts(s, "plans")
    _percents(s, "pct")
    s.in_set("setting", ["EOTAS", "EHE", "parent_arrangements", "NEET", "not_in_education",
                         "awaiting_provision", "unknown"], "settings are the seven published")
    return [s]


def sen_attendance(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                   ) -> list[Suite]:
    s = Suite("sen_attendance", t.with_columns(
        (pl.col("pupils") - pl.col("pupils_suspended")).alias("pupils_not_suspended"),
        (pl.col("suspensions") - pl.col("pupils_suspended")).alias("repeat_suspensions"),
        (pl.col("enrolments") - pl.col("persistent_absentees")).alias("not_persistent"),
        (pl.col("sessions_possible") - pl.col("sessions_missed")).alias("sessions_attended")))
    _counts(s, "pupils", "enrolments", "sessions_possible", "sessions_missed",
            "persistent_absentees", "suspensions", "pupils_suspended", "permanent_exclusions")
    s.between("pupils_not_suspended", 0, None, "no more pupils suspended than pupils")
    s.between("repeat_suspensions", 0, None, "a pupil suspended has one suspension or more")
    s.between("not_persistent", 0, None, "no more persistent absentees than enrolments")
    s.between("sessions_attended", 0, None, "no more sessions missed than possible")
    _percents(s, "absence_rate_pct", "persistent_absence_pct", "pupils_suspended_pct")
    s.in_set("sen_status", ["ehcp", "sen_support", "no_sen", "unknown", "all"],
             "SEN statuses are ehcp, sen_support, no_sen, unknown (leavers) and all")
    s.in_set("term", ["autumn", "spring", "summer"], "terms are autumn, spring and summer")
    return [s]


def ehcp_placement_detail(t: pl.DataFrame, tables: dict[str, pl.DataFrame], run: Checking
                          ) -> list[Suite]:
    s = Suite("ehcp_placement_detail", t)
    _counts(s, "plans", "group_plans", "caseload")
    _percents(s, "pct", "pct_of_group")
    s.in_set("setting_2026", list(SETTINGS_2026),
             "settings are the 2026 release's caseload columns")
    s.in_set("placement_group", list(PLACEMENT_GROUPS), "groups are kpi.ehcp_placement_mix's")
    if "ehcp_placement_mix" in tables:
        keys = ["year", "placement_group"]
        _agrees(s, t.group_by(keys).agg(pl.col("plans").sum().alias("value")),
                tables["ehcp_placement_mix"].select(*keys, pl.col("plans").alias("value")),
                keys, "group_difference",
                "the settings of each group add up to kpi.ehcp_placement_mix's plans")
    out = [s]
    if "ehcp_caseload" in tables:
        out.append(_sums_to("ehcp_placement_detail_sums_to_caseload", t,
                            tables["ehcp_caseload"], "setting counts"))
    return out
