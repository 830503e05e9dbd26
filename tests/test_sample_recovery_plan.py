"""Tests for the synthetic recovery plan register (sendboard.sample.recovery_plan)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sendboard.sample import recovery_plan
from tests.sample_establishments import same_files


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    recovery_plan.write_recovery_plan(root / "recovery_plan", seed=7)
    return root


def test_recovery_plan_uses_the_seed_projects(out: Path) -> None:
    plan = pl.read_csv(out / "recovery_plan" / "recovery_plan_register.csv")
    assert tuple(plan.columns) == recovery_plan.RECOVERY_PLAN_COLUMNS
    dyslexia = plan.filter(pl.col("project_name") == "Dyslexia friendly schools")
    planned = dict(dyslexia.select("financial_year", "planned_saving_gbp").rows())
    assert planned["2020-21"] == 7_000
    assert planned["2021-22"] == 51_000
    assert planned["2022-23"] == 88_000
    assert planned["2023-24"] == 126_000
    assert dyslexia["metric_name"][0] == "placements at dyslexia special schools"
    assert (dyslexia["metric_baseline"][0], dyslexia["metric_target"][0]) == (40, 30)
    assert plan.filter(pl.col("financial_year") == "2025-26")["actual_saving_gbp"].null_count() \
        == plan.filter(pl.col("financial_year") == "2025-26").height
    assert plan.filter(pl.col("financial_year") < "2025-26")["actual_saving_gbp"].null_count() == 0
    assert plan["project_id"].n_unique() == 9
    assert set(plan["theme"]) == {"Inclusive practice in schools", "Place planning",
                                  "Project planning"}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        recovery_plan.write_recovery_plan(tmp_path / run, seed=3)
    assert len(same_files(tmp_path / "a", tmp_path / "b")) == 1
