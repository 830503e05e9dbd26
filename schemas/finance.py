"""The High Needs Block ledger and the DSG, as pandera checks on their text columns."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.checks import expr_check, matches, one_of, row_rule
from schemas.contracts import S251_HIGH_NEEDS_LINES
from values.parse import MONEY_PATTERN, MONEY_WRITTEN, money_text

FINANCIAL_YEAR = r"^(\d{4})-(\d{2})$"


def is_financial_year() -> pa.Check:
    """`2024-25`: two consecutive years."""
    def ok(c: str) -> pl.Expr:
        first = pl.col(c).str.extract(FINANCIAL_YEAR, 1).cast(pl.Int32, strict=False)
        second = pl.col(c).str.extract(FINANCIAL_YEAR, 2).cast(pl.Int32, strict=False)
        return (first + 1) % 100 == second
    return expr_check("is a financial year like 2024-25", ok)


def is_money() -> pa.Check:
    def ok(c: str) -> pl.Expr:
        written = pl.col(c).str.replace_all(r"\s", "")
        balanced = written.str.starts_with("(") == written.str.ends_with(")")
        return (written.str.contains(MONEY_WRITTEN) & balanced
                & money_text(c).str.contains(MONEY_PATTERN))
    return expr_check("is an amount in pounds and pence (e.g. 1234.56, £1,234.56, (1,234.56))",
                      ok)


def _text(nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Utf8, nullable=nullable)


def ledger_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "financial_year": pa.Column(pl.Utf8, checks=[is_financial_year()]),
        "period": pa.Column(pl.Utf8, checks=[one_of([str(i) for i in range(1, 14)],
                                                    "period", "1 to 12, or 13 for year-end")]),
        "s251_line": pa.Column(pl.Utf8, checks=[one_of(S251_HIGH_NEEDS_LINES,
                                                       "S251 high-needs line")]),
        "cost_centre": _text(),
        "description": _text(),
        "provider_urn": pa.Column(pl.Utf8, nullable=True,
                                  checks=[matches(r"^\d{6}$", "a 6-digit URN")]),
        "entry_type": pa.Column(pl.Utf8, checks=[
            expr_check("is budget or actual",
                       lambda c: pl.col(c).str.to_lowercase().is_in(["budget", "actual"]))]),
        "amount_gbp": pa.Column(pl.Utf8, checks=[is_money()]),
    }, name="finance ledger", strict=True)  # identical lines can be real (two equal invoices)


def dsg_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "financial_year": pa.Column(pl.Utf8, checks=[is_financial_year()]),
        "high_needs_block_gbp": pa.Column(pl.Utf8, checks=[is_money()]),
        "block_transfer_gbp": pa.Column(pl.Utf8, nullable=True, checks=[is_money()]),
        "opening_cumulative_balance_gbp": pa.Column(pl.Utf8, nullable=True, checks=[is_money()]),
    }, checks=[row_rule("financial_year", "appears more than once",
                        ~pl.col("financial_year").is_duplicated())],
        name="finance dsg", strict=True)
