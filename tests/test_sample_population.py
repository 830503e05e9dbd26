"""Tests for the synthetic ONS mid-year estimates (sendboard.sample.population)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sendboard.sample import population
from tests.sample_establishments import same_files


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    population.write_population(root / "population", births_per_year=5300, seed=7)
    return root


def test_population_totals_and_shape(out: Path) -> None:
    pop = pl.read_csv(out / "population" / "ons_mid_year_estimates.csv")
    assert tuple(pop.columns) == population.POPULATION_COLUMNS
    assert set(pop["new_la_code"]) == {"E06000054"}
    assert pop["year"].min() == 2013 and pop["year"].max() == 2025
    assert pop["age"].min() == 0 and pop["age"].max() == 90
    assert pop.height == 13 * 91 * 2
    totals = pop.group_by("year").agg(pl.col("population").sum())["population"]
    assert totals.min() >= 450_000 and totals.max() <= 560_000
    by_age = (pop.filter(pl.col("year") == 2025, pl.col("age") <= 25)
              .group_by("age").agg(pl.col("population").sum())["population"])
    assert by_age.min() >= 5300 * 0.85 and by_age.max() <= 5300 * 1.2


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        population.write_population(tmp_path / run, births_per_year=5000, seed=3)
    assert len(same_files(tmp_path / "a", tmp_path / "b")) == 1
