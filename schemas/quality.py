"""The quality gate's expectation suites: what every KPI table must meet before publishing.

Suites are built from the tables themselves each run (a contiguous run of years is "no year
missing" whatever the years are). Cross-table rules (parts sum to totals) are checked on small
derived frames, so each rule is one Great Expectations expectation with a readable name.
Great Expectations is imported only when the gate runs: it takes seconds to import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from schemas.contracts import NEED_CODES, PLACEMENT_GROUPS, S251_HIGH_NEEDS_LINES

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


def _counts(s: Suite, *columns: str) -> None:
    for c in columns:
        s.between(c, 0, None, f"{c} is a count: never negative")


def _percents(s: Suite, *columns: str) -> None:
    for c in columns:
        s.between(c, 0, 100, f"{c} is a percentage: 0 to 100")


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


def suites(tables: dict[str, pl.DataFrame], today: dt.date, max_age_days: int | None,
           reconciliation_blocks: bool = False) -> list[Suite]:
    """The suites for whichever KPI tables were built (keys like `kpi.ehcp_caseload`).
    `max_age_days`: how old the newest extract may be (None skips freshness: sample data has
    fixed dates); `reconciliation_blocks`: a caseload that differs from the DfE's stops the
    publish rather than warning."""
    out: list[Suite] = []
    t = {k.split(".", 1)[1]: v for k, v in tables.items()}
    if "ehcp_caseload" in t:
        c = t["ehcp_caseload"]
        s = Suite("ehcp_caseload", c.with_columns(
            pl.when(pl.col("caseload").shift(1) >= GROWTH_MIN_BASE).then(pl.col("growth_pct"))
            .alias("growth_checked")))
        _counts(s, "caseload")
        _years(s)
        s.between("growth_checked", *GROWTH_BOUNDS,
                  f"caseload changes by {GROWTH_BOUNDS[0]}% to +{GROWTH_BOUNDS[1]}% a year")
        s.between("rate_per_10k_0_25", *RATE_BOUNDS,
                  "EHC plans per 10,000 aged 0-25 is plausible (population extract sane)")
        out.append(s)
        if max_age_days is not None:
            freshness = Suite("freshness", c.select(
                (pl.lit(today) - pl.col("as_of")).dt.total_days().alias("age_days")).head(1))
            freshness.between("age_days", 0, max_age_days,
                              f"the newest extract is at most {max_age_days} days old "
                              "and not in the future")
            out.append(freshness)
    if "ehcp_new_plans" in t:
        s = Suite("ehcp_new_plans", t["ehcp_new_plans"].with_columns(
            (pl.col("new_plans") - pl.col("within_20_weeks")).alias("late"),
            (pl.col("new_plans_ex") - pl.col("within_20_weeks_ex")).alias("late_ex")))
        _counts(s, "new_plans", "within_20_weeks", "new_plans_ex", "within_20_weeks_ex", "late",
                "late_ex")
        _percents(s, "pct_within_20_weeks", "pct_within_20_weeks_ex")
        _years(s)
        out.append(s)
    if "ehcp_requests" in t:
        s = Suite("ehcp_requests", t["ehcp_requests"].with_columns(
            (pl.col("requests_received") - pl.col("decided_to_assess")).alias("not_assessed")))
        _counts(s, "requests_received", "decided_to_assess", "decided_within_6_weeks",
                "not_assessed")
        _percents(s, "pct_decided_to_assess", "pct_decided_within_6_weeks")
        _years(s)
        out.append(s)
    for name, column, values in (("ehcp_placement_mix", "placement_group",
                                  list(PLACEMENT_GROUPS)),
                                 ("ehcp_need_mix", "need", [*NEED_CODES, "unknown"])):
        if name in t:
            s = Suite(name, t[name])
            _counts(s, "plans")
            _percents(s, "pct")
            s.in_set(column, values, f"{column} is one of the published categories")
            out.append(s)
            if "ehcp_caseload" in t:
                out.append(_sums_to(f"{name}_sums_to_caseload", t[name], t["ehcp_caseload"],
                                    f"{column} counts"))
    if "ehcp_ceased" in t:
        s = Suite("ehcp_ceased", t["ehcp_ceased"])
        _counts(s, "plans")
        s.in_set("cease_reason", list(range(1, 10)), "cease reasons are SEN2's 1-9")
        out.append(s)
    if "sen_prevalence" in t:
        s = Suite("sen_prevalence", t["sen_prevalence"].with_columns(
            (pl.col("pupils") - pl.col("ehcp") - pl.col("sen_support")).alias("no_sen")))
        _counts(s, "pupils", "ehcp", "sen_support", "no_sen")
        _percents(s, "ehcp_pct", "sen_support_pct")
        s.in_set("scope", ["la", "phase", "school"], "scopes are la, phase and school")
        out.append(s)
    if "hnb_outturn" in t:
        s = Suite("hnb_outturn", t["hnb_outturn"].with_columns(
            pl.col("budget_gbp", "actual_gbp").cast(pl.Float64)))
        s.in_set("s251_line", list(S251_HIGH_NEEDS_LINES), "lines are S251 high-needs lines")
        s.not_null("actual_gbp", "every line has an outturn or year-to-date actual")
        out.append(s)
    if "dsg_balance" in t:
        s = Suite("dsg_balance", _fy_order(t["dsg_balance"]))
        s.in_set("opening_balance_known", [True],
                 "the first financial year loaded has its opening cumulative balance")
        s.between("pct_of_dsg_income", -100, 300,
                  "the cumulative balance is within -100% to 300% of a year's income")
        _years(s, "fy_start")
        out.append(s)
    if "recovery_plan" in t:
        s = Suite("recovery_plan", t["recovery_plan"].with_columns(
            pl.col("planned_saving_gbp").cast(pl.Float64)))
        s.between("planned_saving_gbp", 0, None, "planned savings are not negative")
        s.in_set("rag", ["green", "amber", "red", "grey"], "RAG is green, amber, red or grey")
        out.append(s)
    if "place_sufficiency" in t:
        s = Suite("place_sufficiency", t["place_sufficiency"])
        _counts(s, "funded_places", "ehcp_pupils")
        s.in_set("provision", ["special", "resourced_provision", "sen_unit", "ap"],
                 "provision is special, resourced_provision, sen_unit or ap")
        out.append(s)
    if "reconciliation" in t:
        caseload = t["reconciliation"].filter((pl.col("measure") == "ehcp_caseload")
                                              & pl.col("published_value").is_not_null())
        s = Suite("reconciliation_caseload", caseload)
        # A warning unless the LA asks otherwise: the DfE counted last year's return and case
        # records change afterwards, so a gap is a question for the data team, not a reason
        # to stop the board seeing this morning's figures.
        s.in_set("flagged", [False], "the LA's January caseload matches what the DfE "
                 "published for it, within tolerance",
                 blocking=reconciliation_blocks)
        out.append(s)
    if "benchmarks" in t:
        s = Suite("benchmarks", t["benchmarks"])
        s.in_set("comparison", ["la", "region", "england", "statistical_neighbour",
                                "statistical_neighbours_mean"], "known comparison groups")
        out.append(s)
    return out
