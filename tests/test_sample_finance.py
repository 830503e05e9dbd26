"""Tests for the synthetic HNB ledger and DSG workbook (sendboard.sample.finance)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sendboard.sample import finance
from sendboard.sample.calendar import FINANCIAL_YEARS
from tests.sample_establishments import same_files


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    finance.write_finance(root / "finance", seed=7)
    return root


def test_ledger_columns_and_growing_deficit(out: Path) -> None:
    ledger = pl.read_csv(out / "finance" / "hnb_ledger_2018-19_to_2025-26.csv",
                         schema_overrides={"provider_urn": pl.Utf8, "s251_line": pl.Utf8})
    assert tuple(ledger.columns) == finance.LEDGER_COLUMNS
    assert 3_000 <= ledger.height <= 50_000
    assert set(ledger["entry_type"]) == {"budget", "actual"}
    assert set(ledger["financial_year"]) == set(FINANCIAL_YEARS)
    assert set(ledger["s251_line"]) == {
        "1.0.2", "1.2.1", "1.2.2", "1.2.3", "1.2.4", "1.2.5", "1.2.6", "1.2.7", "1.2.8",
        "1.2.9", "1.2.10", "1.2.11", "1.2.13"}
    assert (ledger["amount_gbp"] < 0).sum() > 0
    assert ledger.filter(pl.col("period") == 13).height > 0
    current = ledger.filter((pl.col("financial_year") == "2025-26")
                            & (pl.col("entry_type") == "actual"))
    assert current["period"].max() == finance.CURRENT_YEAR_ACTUAL_PERIODS == 11
    assert ledger.filter(pl.col("provider_urn").is_not_null())["provider_urn"].str.contains(
        r"^1\d{5}$").all()

    dsg = pl.read_excel(out / "finance" / "dsg_2018-19_to_2025-26.xlsx", engine="calamine")
    actual = (ledger.filter(pl.col("entry_type") == "actual")
              .group_by("financial_year").agg(pl.col("amount_gbp").sum().alias("spend")))
    joined = dsg.join(actual, on="financial_year").sort("financial_year")
    balance = joined["opening_cumulative_balance_gbp"][0]
    end_of: dict[str, float] = {}
    for fy, grant, transfer, spend in joined.select(
            "financial_year", "high_needs_block_gbp", "block_transfer_gbp", "spend").rows():
        balance += grant + transfer - spend
        end_of[fy] = balance
    assert end_of["2025-26"] < 0
    assert abs(end_of["2025-26"]) > abs(end_of["2019-20"])
    # Every complete year adds to the deficit, reaching tens of millions.
    completed = [end_of[fy] for fy in FINANCIAL_YEARS[:-1]]
    assert completed == sorted(completed, reverse=True)
    assert end_of["2024-25"] < -30_000_000


def test_dsg_workbook_reads_back_with_four_columns(out: Path) -> None:
    dsg = pl.read_excel(out / "finance" / "dsg_2018-19_to_2025-26.xlsx", engine="calamine")
    assert tuple(dsg.columns) == finance.DSG_COLUMNS
    assert dsg["financial_year"].to_list() == list(FINANCIAL_YEARS)
    opening = dsg["opening_cumulative_balance_gbp"]
    assert opening[0] == -3_000_000
    assert opening[1:].null_count() == len(FINANCIAL_YEARS) - 1
    grant = dsg["high_needs_block_gbp"]
    assert 49_000_000 < grant[0] < 51_000_000
    assert 85_000_000 < grant[-1] < 100_000_000
    assert (dsg["block_transfer_gbp"] > 0).sum() >= 1


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        finance.write_finance(tmp_path / run, seed=3)
    assert len(same_files(tmp_path / "a", tmp_path / "b")) == 2
