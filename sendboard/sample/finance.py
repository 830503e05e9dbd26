"""Synthetic high needs block ledger and DSG workbook for the sample LA.

Everything is invented: no line is a real ledger entry. The ledger carries budgets and
actuals by S251 line, month and provider, with credit lines, period 13 accruals and the open
year's blank months (actuals to February only); spend outgrows the grant, so the deficit grows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from sendboard.sample.calendar import CURRENT_FINANCIAL_YEAR, FINANCIAL_YEARS

# The sample's as-of date is March 2026: the ledger holds actuals for April-February only.
CURRENT_YEAR_ACTUAL_PERIODS = 11

LEDGER_COLUMNS: tuple[str, ...] = (
    "financial_year", "period", "s251_line", "cost_centre", "description", "provider_urn",
    "entry_type", "amount_gbp",
)
DSG_COLUMNS: tuple[str, ...] = (
    "financial_year", "high_needs_block_gbp", "block_transfer_gbp",
    "opening_cumulative_balance_gbp",
)

# (cost centre, description, weight within its line, provider pool or None).
HighNeedsItem = tuple[str, str, float, str | None]
# (S251 line, share of 2018-19 spend, growth relative to total spend, items).
HighNeedsLine = tuple[str, float, float, tuple[HighNeedsItem, ...]]

HIGH_NEEDS_LINES: tuple[HighNeedsLine, ...] = (
    ("1.0.2", 0.21, 0.00, (
        ("HN1002", "Place funding: maintained special schools", 0.45, None),
        ("HN1002B", "Place funding: resourced provision and SEN units", 0.15, None),
        ("HN1002C", "Place funding: pupil referral units", 0.12, None),
        ("HN1002D", "Place funding: post-16 FE and specialist providers", 0.28, None),
    )),
    ("1.2.1", 0.14, -0.01, (
        ("HN1201", "Top-up: maintained special schools", 0.60, "maintained_special"),
        ("HN1201B", "Top-up: maintained mainstream schools", 0.40, None),
    )),
    ("1.2.2", 0.18, 0.01, (
        ("HN1202", "Top-up: academy and free special schools", 0.50, None),
        ("HN1202B", "Top-up: academy mainstream schools", 0.25, None),
        ("HN1202C", "Top-up: FE colleges", 0.25, None),
    )),
    ("1.2.3", 0.16, 0.07, (
        ("HN1203", "Top-up: independent special school fees", 0.80, "inmss"),
        ("HN1203B", "Top-up: non-maintained special school fees", 0.20, None),
    )),
    ("1.2.4", 0.015, 0.02, (
        ("HN1204", "Additional targeted funding: mainstream schools", 1.0, None),
    )),
    ("1.2.5", 0.08, -0.03, (
        ("HN1205", "Specialist SEN service", 0.45, None),
        ("HN1205B", "Educational psychology service", 0.35, None),
        ("HN1205C", "Sensory impairment service", 0.20, None),
    )),
    ("1.2.6", 0.015, -0.04, (("HN1206", "Hospital education service", 1.0, None),)),
    ("1.2.7", 0.05, 0.01, (
        ("HN1207", "Alternative provision: commissioned places", 0.70, None),
        ("HN1207B", "Education for children unable to attend for medical reasons", 0.30, None),
    )),
    ("1.2.8", 0.04, 0.00, (
        ("HN1208", "Inclusion support: early years SEN inclusion fund", 0.50, None),
        ("HN1208B", "Inclusion support: SEN help desk and outreach", 0.50, None),
    )),
    ("1.2.9", 0.005, -0.05, (
        ("HN1209", "Special schools and PRUs in financial difficulty", 1.0, None),
    )),
    ("1.2.10", 0.01, -0.06, (("HN1210", "PFI contribution: special school", 1.0, None),)),
    ("1.2.11", 0.01, 0.02, (("HN1211", "Direct payments: SEN", 1.0, None),)),
    ("1.2.13", 0.03, 0.02, (
        ("HN1213", "Speech and language therapy", 0.60, None),
        ("HN1213B", "Occupational therapy and physiotherapy", 0.40, None),
    )),
)
"""The high needs block's S251 lines and their ledger items, in S251 order.

Each line is (S251 line, share of 2018-19 spend, growth relative to total spend, items); each
item (cost centre, description, weight within the line, provider pool or None), the pool
naming whose URNs the item's actuals are paid to. Shares follow a typical county S251
outturn: place funding about a fifth, INMSS top-ups growing fastest. The national sample
spreads its ledger over the same lines and items.
"""
# Provider URNs are synthetic (6 digits starting 1) and need not exist in the GIAS sample.
_PROVIDER_POOLS = {"maintained_special": (6, 126000), "inmss": (14, 140000)}
# Terms drive top-up payments: August is light, March carries the year-end catch-up.
_MONTH_PROFILE = np.array([1.0, 1.0, 1.0, 1.02, 0.70, 1.05, 1.05, 1.0, 0.95, 1.0, 1.0, 1.18])


def _financial_model(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Grant, transfers and spend per financial year (spend outgrows the grant)."""
    n = len(FINANCIAL_YEARS)
    grant = np.empty(n)
    spend = np.empty(n)
    grant[0] = 50_000_000 * rng.uniform(0.99, 1.01)
    spend[0] = 52_500_000 * rng.uniform(0.99, 1.01)
    for i in range(1, n):
        grant[i] = grant[i - 1] * (1 + rng.uniform(0.085, 0.105))
        spend[i] = spend[i - 1] * (1 + rng.uniform(0.12, 0.14))
    # 0.5% of a ~GBP 340m schools block moved into the HNB with Schools Forum's agreement.
    transfer = np.zeros(n)
    for i, fy in enumerate(FINANCIAL_YEARS):
        if fy in {"2019-20", "2020-21", "2021-22"}:
            transfer[i] = round(0.005 * 340_000_000 * (1.03 ** i))
    return {"grant": np.round(grant), "spend": spend, "transfer": transfer}


def _line_year_amounts(spend: np.ndarray) -> np.ndarray:
    """Spend by (year, line) summing to each year's total."""
    shares = np.array([line[1] for line in HIGH_NEEDS_LINES])
    premium = np.array([line[2] for line in HIGH_NEEDS_LINES])
    t = np.arange(len(spend))[:, None]
    raw = shares[None, :] * (1 + premium[None, :]) ** t
    return raw / raw.sum(axis=1, keepdims=True) * spend[:, None]


def _ledger(rng: np.random.Generator, urns: dict[str, list[int]] | None = None,
            ) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    model = _financial_model(rng)
    by_line = _line_year_amounts(model["spend"])
    budget_total = model["grant"] + model["transfer"]
    providers = {
        pool: np.sort(rng.choice(np.arange(base, base + 9000), size=k, replace=False))
        for pool, (k, base) in _PROVIDER_POOLS.items()
    }
    if urns:  # the sample LA's real special schools, so top-ups join to placements
        providers.update({pool: np.sort(np.array(v)) for pool, v in urns.items() if v})
    provider_weights = {pool: rng.dirichlet(np.full(len(urns), 2.0))
                        for pool, urns in providers.items()}
    rows: list[tuple] = []
    for yi, fy in enumerate(FINANCIAL_YEARS):
        actual_rows: list[list] = []
        # Budgets are set to balance (grant plus transfers), so the overspend shows as variance.
        budget_scale = budget_total[yi] / model["spend"][yi]
        for li, (line, _share, _prem, items) in enumerate(HIGH_NEEDS_LINES):
            for cc, desc, weight, pool in items:
                item_actual = by_line[yi, li] * weight
                item_budget = round(item_actual * budget_scale * rng.uniform(0.96, 1.04), -2)
                monthly = round(item_budget / 12, 2)
                for period in range(1, 13):
                    amount = monthly if period < 12 else round(item_budget - 11 * monthly, 2)
                    rows.append((fy, period, line, cc, desc, None, "budget", amount))
                if pool is None:
                    splits = [(None, 1.0)]
                else:
                    drift = rng.uniform(0.85, 1.15, size=len(providers[pool]))
                    w = provider_weights[pool] * drift
                    splits = list(zip((str(u) for u in providers[pool]), w / w.sum(),
                                      strict=True))
                for urn, frac in splits:
                    prof = _MONTH_PROFILE * rng.uniform(0.92, 1.08, size=12)
                    prof = prof / prof.sum() * item_actual * frac
                    for period in range(1, 13):
                        actual_rows.append([fy, period, line, cc, desc, urn, prof[period - 1]])
        # Recoupment from other LAs and recovered overpayments: the ledger's credit lines.
        for period in (3, 6, 9, 12):
            amount = -by_line[yi, 1] * rng.uniform(0.004, 0.008)
            actual_rows.append([fy, period, "1.2.1", "HN1201R",
                                "Recoupment: income from other local authorities", None, amount])
        for _ in range(int(rng.integers(1, 4))):
            period = int(rng.integers(1, 13))
            amount = -by_line[yi, 3] * rng.uniform(0.001, 0.004)
            actual_rows.append([fy, period, "1.2.3", "HN1203", "Refund of top-up overpayment",
                                None, amount])
        if fy != CURRENT_FINANCIAL_YEAR and (rng.random() < 0.7 or fy in {"2019-20", "2023-24"}):
            for li, (line, _share, _prem, items) in enumerate(HIGH_NEEDS_LINES):
                if rng.random() < 0.4:
                    cc, desc = items[0][0], items[0][1]
                    amount = by_line[yi, li] * rng.uniform(-0.03, 0.04)
                    actual_rows.append([fy, 13, line, cc, f"Year-end accrual: {desc}", None,
                                        amount])
        # Rescale so each year's net actuals equal the modelled spend exactly.
        total = sum(r[6] for r in actual_rows)
        factor = model["spend"][yi] / total
        last_period = CURRENT_YEAR_ACTUAL_PERIODS if fy == CURRENT_FINANCIAL_YEAR else 13
        for r in actual_rows:
            if r[1] <= last_period:
                rows.append((*r[:6], "actual", round(r[6] * factor, 2)))
    ledger = pl.DataFrame(
        rows, orient="row",
        schema={"financial_year": pl.Utf8, "period": pl.Int64, "s251_line": pl.Utf8,
                "cost_centre": pl.Utf8, "description": pl.Utf8, "provider_urn": pl.Utf8,
                "entry_type": pl.Utf8, "amount_gbp": pl.Float64},
    )
    line_order = {line[0]: i for i, line in enumerate(HIGH_NEEDS_LINES)}
    ledger = ledger.with_columns(
        pl.col("s251_line").replace_strict(line_order, return_dtype=pl.Int64).alias("_order")
    ).sort(["financial_year", "entry_type", "period", "_order", "cost_centre", "provider_urn"],
           descending=[False, True, False, False, False, False], nulls_last=False,
           maintain_order=True).drop("_order")
    return ledger, model


def write_finance(out_dir: Path, seed: int,
                  provider_urns: dict[str, list[int]] | None = None) -> None:
    """Write ``hnb_ledger_2018-19_to_2025-26.csv`` and ``dsg_2018-19_to_2025-26.xlsx``.

    `provider_urns`: URNs to pay top-ups to, by pool (``maintained_special``, ``inmss``);
    made-up URNs when not given."""
    rng = np.random.default_rng([seed, 865_002])
    ledger, model = _ledger(rng, provider_urns)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    span = f"{FINANCIAL_YEARS[0]}_to_{FINANCIAL_YEARS[-1]}"
    ledger.write_csv(out_dir / f"hnb_ledger_{span}.csv", float_precision=2)

    workbook = xlsxwriter.Workbook(str(out_dir / f"dsg_{span}.xlsx"))
    # A fixed creation date keeps the bytes identical from run to run.
    workbook.set_properties({"created": dt.datetime(2025, 11, 3, 9, 0, 0),
                             "title": "Dedicated Schools Grant: High Needs Block"})
    sheet = workbook.add_worksheet("DSG")
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0"})
    sheet.write_row(0, 0, DSG_COLUMNS, bold)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 3, 30, money)
    for i, fy in enumerate(FINANCIAL_YEARS):
        sheet.write_string(i + 1, 0, fy)
        sheet.write_number(i + 1, 1, float(model["grant"][i]))
        sheet.write_number(i + 1, 2, float(model["transfer"][i]))
        if i == 0:
            sheet.write_number(i + 1, 3, -3_000_000.0)
    workbook.close()
