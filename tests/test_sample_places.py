"""Tests for the synthetic commissioned places (sendboard.sample.places)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sendboard.sample import places as places_sample
from sendboard.sample.calendar import FINANCIAL_YEARS
from tests.sample_establishments import establishments_frame, minimal_establishments, same_files


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    estabs = establishments_frame()
    places_sample.write_places(estabs, root / "places", seed=7)
    return root


def test_places_cover_every_year_and_follow_the_seed_plan(out: Path) -> None:
    places = pl.read_csv(out / "places" / "commissioned_places.csv")
    assert tuple(places.columns) == places_sample.PLACES_COLUMNS
    assert set(places["financial_year"]) == set(FINANCIAL_YEARS)
    assert set(places["provision"]) == {"special", "resourced_provision", "sen_unit", "ap"}
    now = places.filter(pl.col("financial_year") == "2025-26")
    special_now = dict(now.filter(pl.col("provision") == "special")
                       .select("urn", "funded_places").rows())
    # Independent schools elsewhere and FE have no commissioned places.
    assert special_now == {126004: 250, 126005: 200, 145006: 160, 148011: 150}
    assert dict(now.filter(pl.col("provision") == "resourced_provision")
                .select("urn", "funded_places").rows()) == {126001: 30, 137003: 40}
    assert dict(now.filter(pl.col("provision") == "sen_unit")
                .select("urn", "funded_places").rows()) == {126002: 8, 137003: 10}
    assert now.filter(pl.col("provision") == "ap")["urn"].to_list() == [126007]
    # The free school opened in September 2021: no places before 2021-22.
    assert places.filter(pl.col("urn") == 148011)["financial_year"].min() == "2021-22"
    totals = dict(places.filter(pl.col("provision") == "special").group_by("financial_year")
                  .agg(pl.col("funded_places").sum()).rows())
    assert totals["2019-20"] - totals["2018-19"] == 87
    assert totals["2020-21"] - totals["2019-20"] == 56
    rp = dict(places.filter(pl.col("provision") == "resourced_provision")
              .group_by("financial_year").agg(pl.col("funded_places").sum()).rows())
    assert rp["2019-20"] - rp["2018-19"] == 10
    assert rp["2020-21"] - rp["2019-20"] == 10


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    estabs = establishments_frame()
    for run in ("a", "b"):
        places_sample.write_places(estabs, tmp_path / run, seed=3)
    assert len(same_files(tmp_path / "a", tmp_path / "b")) == 1


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    minimal = minimal_establishments()
    places_sample.write_places(minimal, tmp_path, seed=1)
    places = pl.read_csv(tmp_path / "commissioned_places.csv")
    # Without capacities only the PRU gets places (a typical 30-90), in every year.
    assert set(places["provision"]) == {"ap"}
    assert places.height == len(FINANCIAL_YEARS)
    assert places["funded_places"].is_between(20, 90).all()
