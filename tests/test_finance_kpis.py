"""transforms/finance_kpis.py: outturn, unit costs, the DSG balance and the recovery plan on
small ledgers worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from tests.test_kpis import AS_OF, EXPORT, PLACEMENTS, PLANS
from transforms.finance_kpis import dsg_balance, hnb_outturn, recovery_plan, unit_costs


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


def test_hnb_outturn_includes_period_13_and_forecasts_the_open_year():
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


def test_hnb_unit_costs_spend_per_plan_and_top_up_per_placement():
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


