"""High Needs Block KPIs: budget against outturn, the DSG balance, the recovery plan.

Money stays exact (Decimal) until a percentage is taken.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.kpis import _stamp
from transforms.records import ALL, Count, counted

S251_LINES = {
    "1.0.2": "Place funding (special, AP, post-16, resourced provision)",
    "1.2.1": "Top-up funding: maintained providers",
    "1.2.2": "Top-up funding: academies, free schools and colleges",
    "1.2.3": "Top-up and other funding: independent and non-maintained providers",
    "1.2.4": "Additional high needs targeted funding for mainstream schools and academies",
    "1.2.5": "SEN support services",
    "1.2.6": "Hospital education services",
    "1.2.7": "Other alternative provision services",
    "1.2.8": "Support for inclusion",
    "1.2.9": "Special schools and PRUs in financial difficulty",
    "1.2.10": "PFI/BSF costs at special schools and AP/PRUs",
    "1.2.11": "Direct payments (SEN and disability)",
    "1.2.12": "Carbon reduction commitment allowances (PRUs)",
    "1.2.13": "Therapies and other health related services",
}
MONEY = pl.Decimal(18, 2)


def _fy_start(col: str = "financial_year") -> pl.Expr:
    return pl.col(col).str.slice(0, 4).cast(pl.Int32)


# kpi.hnb_outturn's records are the ledger's lines: its budget and actual columns are their
# amounts added up per financial year and S251 line.
OUTTURN = {"actual_gbp": Count(pl.col("entry_type") == "actual", sums="amount_gbp"),
           "budget_gbp": Count(pl.col("entry_type") == "budget", sums="amount_gbp")}


def hnb_outturn(ledger: pl.DataFrame, source: str, as_of: dt.date) -> pl.DataFrame:
    """Budget and actual per S251 line and financial year, variance (actual - budget:
    positive is an overspend), and for a year whose actuals stop before period 12 a forecast
    outturn: the year-to-date actual scaled by how much of the previous year's outturn had
    been spent by the same period (straight-line when there is no previous year)."""
    actual = ledger.filter(pl.col("entry_type") == "actual")
    last_period = actual.group_by("financial_year").agg(
        pl.col("period").max().cast(pl.Int32).alias("periods_with_actuals"))
    sums = ledger.group_by("financial_year", "s251_line").agg(
        *(e.cast(MONEY) for e in counted(OUTTURN)))
    out = sums.join(last_period, on="financial_year", how="left").with_columns(
        pl.col("periods_with_actuals").fill_null(0),
        (pl.col("actual_gbp") - pl.col("budget_gbp")).alias("variance_gbp"))
    # The share of a year's outturn spent by each period, per line, from complete years.
    cumulative = (actual.group_by("financial_year", "s251_line", "period")
                  .agg(pl.col("amount_gbp").sum()).sort("period")
                  .with_columns(pl.col("amount_gbp").cum_sum().over(
                      "financial_year", "s251_line").alias("to_date")))
    full = cumulative.group_by("financial_year", "s251_line").agg(
        pl.col("to_date").last().alias("year_total"))
    share = cumulative.join(full, on=["financial_year", "s251_line"]).select(
        (_fy_start() + 1).alias("next_year"), "s251_line", pl.col("period").cast(pl.Int32),
        (pl.col("to_date").cast(pl.Float64) / pl.col("year_total").cast(pl.Float64))
        .alias("share"))
    out = out.with_columns(_fy_start().alias("next_year"), (pl.col("periods_with_actuals") >= 12)
                           .alias("complete")).join(
        share.rename({"period": "periods_with_actuals"}),
        on=["next_year", "s251_line", "periods_with_actuals"], how="left")
    straight = pl.col("actual_gbp").cast(pl.Float64) * 12 / pl.col("periods_with_actuals")
    profiled = pl.when((pl.col("share") > 0.05) & (pl.col("share") <= 1.5)).then(
        pl.col("actual_gbp").cast(pl.Float64) / pl.col("share")).otherwise(straight)
    out = out.with_columns(
        pl.when(pl.col("complete")).then(pl.col("actual_gbp"))
        .when(pl.col("periods_with_actuals") > 0).then(profiled.round(2).cast(MONEY))
        .alias("forecast_outturn_gbp"),
        pl.col("s251_line").replace_strict(S251_LINES, default=None).alias("s251_line_name"))
    out = out.with_columns((pl.col("forecast_outturn_gbp") - pl.col("budget_gbp"))
                           .alias("forecast_variance_gbp"))
    order = pl.col("s251_line").str.split(".").list.eval(pl.element().cast(pl.Int32))
    out = out.sort(["financial_year", order])
    return _stamp(out.select("financial_year", "s251_line", "s251_line_name", "budget_gbp",
                             "actual_gbp", "variance_gbp", "periods_with_actuals", "complete",
                             "forecast_outturn_gbp", "forecast_variance_gbp"),
                  "hnb-outturn", source, as_of)


def dsg_balance(dsg: pl.DataFrame, outturn: pl.DataFrame, source: str,
                as_of: dt.date) -> pl.DataFrame:
    """Per financial year: High Needs Block income (allocation plus transfers in), spend
    (outturn, or the forecast outturn for a year still open), the in-year balance and the
    cumulative balance carried forward (negative is a deficit), as a percentage of the
    year's income in the DfE dashboard's sign (a deficit is a positive percentage)."""
    spend = outturn.group_by("financial_year").agg(
        pl.col("forecast_outturn_gbp").sum().cast(MONEY).alias("hnb_spend_gbp"),
        pl.col("complete").all().alias("complete"))
    d = dsg.sort("financial_year").join(spend, on="financial_year", how="left").with_columns(
        (pl.col("high_needs_block_gbp") + pl.col("block_transfer_gbp").fill_null(0))
        .cast(MONEY).alias("hnb_income_gbp"))
    d = d.with_columns((pl.col("hnb_income_gbp") - pl.col("hnb_spend_gbp")).alias("in_year_gbp"))
    opening = d["opening_cumulative_balance_gbp"][0] if d.height else None
    d = d.with_columns(
        pl.lit(opening is not None).alias("opening_balance_known"),
        (pl.lit(opening if opening is not None else 0).cast(MONEY)
         + pl.col("in_year_gbp").cum_sum()).cast(MONEY).alias("cumulative_balance_gbp"),
        pl.when(pl.col("complete")).then(pl.lit("outturn")).when(
            pl.col("hnb_spend_gbp").is_not_null()).then(pl.lit("forecast"))
        .alias("spend_basis"))
    d = d.with_columns(pl.when(pl.col("hnb_income_gbp") > 0).then(
        (-100 * pl.col("cumulative_balance_gbp").cast(pl.Float64)
         / pl.col("hnb_income_gbp").cast(pl.Float64)).round(1)).alias("pct_of_dsg_income"))
    return _stamp(d.select("financial_year", "hnb_income_gbp", "hnb_spend_gbp", "in_year_gbp",
                           "cumulative_balance_gbp", "pct_of_dsg_income", "spend_basis",
                           "opening_balance_known"), "dsg-balance", source, as_of)


def rag(planned: pl.Expr, actual: pl.Expr) -> pl.Expr:
    """Green: at least 95% of the planned saving delivered; amber: at least 75%; red: less.
    Grey while the actual saving is not yet known."""
    ratio = actual.cast(pl.Float64) / planned.cast(pl.Float64)
    return (pl.when(actual.is_null()).then(pl.lit("grey"))
            .when(planned <= 0).then(pl.lit("green"))
            .when(ratio >= 0.95).then(pl.lit("green"))
            .when(ratio >= 0.75).then(pl.lit("amber")).otherwise(pl.lit("red")))


# kpi.recovery_plan's records are the register's rows, a row a project and year.
RECOVERY = {"planned_saving_gbp": Count(sums="planned_saving_gbp"),
            "actual_saving_gbp": Count(sums="actual_saving_gbp")}


def recovery_plan(register: pl.DataFrame, source: str, as_of: dt.date) -> pl.DataFrame:
    """Planned and actual savings per project and financial year, cumulative over the plan's
    years, and a RAG rating per year and (cumulative_rag) to date."""
    r = register.sort("project_id", "financial_year").with_columns(
        pl.col("planned_saving_gbp").cum_sum().over("project_id").alias("cumulative_planned_gbp"),
        pl.col("actual_saving_gbp").cum_sum().over("project_id").alias("cumulative_actual_gbp"))
    r = r.with_columns(
        rag(pl.col("planned_saving_gbp"), pl.col("actual_saving_gbp")).alias("rag"),
        rag(pl.col("cumulative_planned_gbp"), pl.col("cumulative_actual_gbp"))
        .alias("cumulative_rag"))
    return _stamp(r.select("project_id", "project_name", "theme", "financial_year",
                           "planned_saving_gbp", "actual_saving_gbp", "cumulative_planned_gbp",
                           "cumulative_actual_gbp", "rag", "cumulative_rag", "metric_name",
                           "metric_baseline", "metric_target"),
                  "recovery-plan", source, as_of)


TOP_UP_LINES = ("1.2.1", "1.2.2", "1.2.3")


def cost_group(type_of_establishment: pl.Expr) -> pl.Expr:
    """Placement cost groups: the DfE groups, with special schools split into maintained or
    academy and independent or non-maintained (INMSS), the costliest and a recovery target."""
    t = type_of_establishment.str.to_lowercase()
    return (pl.when(t.str.contains("independent special|non-maintained special"))
            .then(pl.lit("special_inmss"))
            .when(t.str.contains("special")).then(pl.lit("special_maintained_academy"))
            .when(t.str.contains("pupil referral|alternative provision")).then(pl.lit("ap_pru"))
            .when(t.str.contains("further education|post 16")).then(pl.lit("fe"))
            .when(t.is_not_null()).then(pl.lit("mainstream")))


# kpi.hnb_unit_costs's `plans`: the distinct plans among its records (unit_cost_records).
UNIT_COSTS = {"plans": ALL}


def _cost_groups(establishments: pl.DataFrame) -> pl.DataFrame:
    return establishments.select("urn", cost_group(pl.col("type_of_establishment"))
                                 .alias("cost_group"))


def unit_cost_records(outturn: pl.DataFrame, plans: pl.DataFrame, placements: pl.DataFrame,
                      establishments: pl.DataFrame | None, export_date: dt.date
                      ) -> pl.DataFrame:
    """kpi.hnb_unit_costs's plan records (financial_year, measure, cost_group): for
    spend_per_ehcp each plan active on the January inside a financial year of the outturn
    (up to the export), for top_up_per_placement each plan placed (rank 1) that day at a
    provider of the cost group, with the placement's URN and entry date."""
    from transforms.calendar import january_census_day
    from transforms.kpis import open_on

    years = outturn.select("financial_year").unique().with_columns(
        (_fy_start() + 1).map_elements(january_census_day, return_dtype=pl.Date)
        .alias("census_date")).filter(pl.col("census_date") <= export_date)
    active = open_on(plans, years)
    parts = [active.with_columns(pl.lit("spend_per_ehcp").alias("measure"),
                                 pl.lit(None, pl.Utf8).alias("cost_group"))]
    if establishments is not None:
        parts.append(
            active.join(placements.filter(pl.col("placement_rank") == 1).select(
                "plan_id", "entry_date", "leaving_date", "urn"), on="plan_id")
            .filter((pl.col("entry_date") <= pl.col("census_date"))
                    & (pl.col("leaving_date").is_null()
                       | (pl.col("leaving_date") > pl.col("census_date"))))
            .join(_cost_groups(establishments), on="urn")
            .with_columns(pl.lit("top_up_per_placement").alias("measure")))
    return pl.concat(parts, how="diagonal_relaxed")


def unit_costs(ledger: pl.DataFrame, outturn: pl.DataFrame, plans: pl.DataFrame,
               placements: pl.DataFrame, establishments: pl.DataFrame | None,
               export_date: dt.date, source: str, as_of: dt.date) -> pl.DataFrame:
    """Spend per EHC plan (High Needs outturn, or forecast, over the January caseload inside
    the financial year) and average top-up per placement (top-up lines 1.2.1-1.2.3 paid to
    providers of a cost group over the plans placed in that group on the January day)."""
    counts = unit_cost_records(outturn, plans.select("plan_id", "start_date", "cease_date"),
                               placements, establishments, export_date).group_by(
        "financial_year", "measure", "cost_group").agg(
        *(c.distinct(name, "plan_id") for name, c in UNIT_COSTS.items()))
    caseload = counts.filter(pl.col("measure") == "spend_per_ehcp").select(
        "financial_year", "plans")
    spend = outturn.group_by("financial_year").agg(
        pl.col("forecast_outturn_gbp").sum().alias("spend_gbp"))
    per_plan = spend.join(caseload, on="financial_year").select(
        "financial_year", pl.lit("spend_per_ehcp").alias("measure"),
        pl.lit(None, pl.Utf8).alias("cost_group"), "spend_gbp", "plans")
    parts = [per_plan]
    if establishments is not None:
        groups = _cost_groups(establishments)
        top_ups = (ledger.filter((pl.col("entry_type") == "actual")
                                 & pl.col("s251_line").is_in(TOP_UP_LINES)
                                 & pl.col("provider_urn").is_not_null())
                   .join(groups, left_on="provider_urn", right_on="urn")
                   .group_by("financial_year", "cost_group")
                   .agg(pl.col("amount_gbp").sum().alias("spend_gbp")))
        placed = counts.filter(pl.col("measure") == "top_up_per_placement").select(
            "financial_year", "cost_group", "plans")
        parts.append(top_ups.join(placed, on=["financial_year", "cost_group"]).select(
            "financial_year", pl.lit("top_up_per_placement").alias("measure"), "cost_group",
            "spend_gbp", "plans"))
    out = pl.concat(parts).with_columns(
        pl.when(pl.col("plans") > 0).then(
            (pl.col("spend_gbp").cast(pl.Float64) / pl.col("plans")).round(0))
        .alias("value_gbp"), pl.col("plans").cast(pl.Int64))
    return _stamp(out.sort("financial_year", "measure", "cost_group", nulls_last=False),
                  "hnb-unit-costs", source, as_of)
