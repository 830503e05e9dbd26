"""Several releases in the warehouse: each row carries its release; for each measure, year and
geography the newest release wins and older ones fill the years before, whatever the order
they were loaded in; the same inputs again change nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import archive_at
from tests.test_release_layouts import (
    SHARED,
    SOUTH_WEST,
    WILTSHIRE,
    figure,
    write_release_2022,
    write_rows,
)
from warehouse import loads, store
from warehouse.archive import sha256_of
from warehouse.dfe_statistics import dfe_figures

KEY = b"k" * 32
HEADER_2025 = (SHARED / "dfe-ehcp-2025" / "caseload.csv").read_text(
    encoding="utf-8-sig").splitlines()[0].split(",")


def caseload_2025(path: Path, january_2019: str = "3350", january_2025: str = "6383") -> Path:
    """A 2025-layout caseload for Wiltshire: January 2019 revised from the 2022 release's
    3,349 to `january_2019`, its mainstream share withheld (x); January 2025 as published."""
    def row(period, plans, mainstream):
        return {"time_period": period, "time_identifier": "Academic year", **WILTSHIRE,
                "breakdown_topic": "All EHC plans", "breakdown": "All EHC plans",
                "ehcplans": plans, "mainstream_total_pc": mainstream}

    return write_rows(path, HEADER_2025, [row("201819", january_2019, "x"),
                                          row("202425", january_2025, "51.2")], default="x")


def load(con, tmp_path: Path, *paths: Path) -> list[loads.FileOutcome]:
    out = []
    for p in paths:
        f = loads.LandedFile("published", p, sha256_of(p))
        out += loads.load_batch(con, [f], KEY, "run", archive_at(tmp_path))
    return out


def figures_of(con) -> pl.DataFrame:
    figures, _ = dfe_figures(con, shipped=None)
    return figures.select("measure_name", "year", "geographic_level", "region_code",
                          "new_la_code", "value", "release").sort(pl.all())


@pytest.fixture
def releases(tmp_path) -> tuple[list[Path], Path]:
    return write_release_2022(tmp_path / "r2022"), caseload_2025(tmp_path / "r2025" / "c.csv")


def test_each_row_carries_its_release_and_the_newest_wins(tmp_path, releases):
    old, new = releases
    con = store.connect(tmp_path / "w.duckdb")
    outcomes = load(con, tmp_path, *old, new)
    assert [(o.status, o.rows_quarantined) for o in outcomes] == [("loaded", 0)] * 5
    assert con.execute("SELECT DISTINCT release, kind FROM stage.dfe_statistics ORDER BY 1, 2"
                       ).fetchall() == [
        (2022, "ehcp_caseload_by_age"), (2022, "ehcp_caseload_by_establishment"),
        (2022, "ehcp_new_plans_by_age"), (2022, "ehcp_sen2_mi"), (2025, "ehcp_caseload")]
    figures, source = dfe_figures(con, shipped=None)
    # 2018 only in the 2022 release; 2019 revised by the 2025 release; its withheld share
    # (x) leaves the 2022 release's figure in place.
    assert [figure(figures, "ehcp_caseload", y, WILTSHIRE) for y in (2010, 2018, 2019, 2025)
            ] == [1838, 2982, 3350, 6383]
    assert figure(figures, "pct_mainstream", 2019, WILTSHIRE) == 51.23918
    assert figure(figures, "pct_mainstream", 2025, WILTSHIRE) == 51.2
    assert figure(figures, "ehcp_caseload", 2010, SOUTH_WEST) == 20635
    by_year = {r["year"]: r["source"] for r in figures.filter(
        (pl.col("measure_name") == "ehcp_caseload") & (pl.col("new_la_code") == "E06000054")
    ).iter_rows(named=True)}
    assert by_year[2018] == f"DfE EHC plans 2022 release (a.csv {sha256_of(old[0])[:12]})"
    assert by_year[2019] == f"DfE EHC plans 2025 release (c.csv {sha256_of(new)[:12]})"
    assert source == ("DfE EHC plans statistics: 2025 release (c.csv); "
                      "2022 release (4 files)")


def test_an_older_release_loaded_after_a_newer_one_changes_no_newer_figure(tmp_path,
                                                                          releases):
    old, new = releases
    first, second = store.connect(tmp_path / "a.duckdb"), store.connect(tmp_path / "b.duckdb")
    load(first, tmp_path / "a", *old, new)
    load(second, tmp_path / "b", new, *old)
    assert figures_of(second).equals(figures_of(first))
    assert figure(dfe_figures(second, shipped=None)[0], "ehcp_caseload", 2019,
                  WILTSHIRE) == 3350


def test_the_same_inputs_again_change_nothing(tmp_path, releases):
    old, new = releases
    con = store.connect(tmp_path / "w.duckdb")
    load(con, tmp_path, *old, new)
    before = con.execute("SELECT count(*), sum(value), count(DISTINCT release) "
                         "FROM stage.dfe_statistics").fetchall()
    figures = figures_of(con)
    # Loaded again (as a backfill replays them): each file replaces its own rows.
    load(con, tmp_path, new, *old)
    assert con.execute("SELECT count(*), sum(value), count(DISTINCT release) "
                       "FROM stage.dfe_statistics").fetchall() == before
    assert figures_of(con).equals(figures)
    landing = tmp_path / "landing" / "published"
    landing.mkdir(parents=True)
    for p in [*old, new]:
        (landing / p.name).write_bytes(p.read_bytes())
    assert loads.discover(tmp_path / "landing", store.known_files(con)).new == []


def test_a_revised_file_of_a_release_replaces_its_years_in_that_release_only(tmp_path,
                                                                            releases):
    old, new = releases
    con = store.connect(tmp_path / "w.duckdb")
    load(con, tmp_path, *old, new)
    older = "SELECT count(*), sum(value) FROM stage.dfe_statistics WHERE release = 2022"
    before = con.execute(older).fetchall()
    revised = write_rows(tmp_path / "rev" / "c.csv", HEADER_2025, [
        {"time_period": "202425", "time_identifier": "Academic year", **WILTSHIRE,
         "breakdown_topic": "All EHC plans", "breakdown": "All EHC plans", "ehcplans": "6390"}],
        default="x")
    [o] = load(con, tmp_path, revised)
    assert (o.status, o.period) == ("loaded", "ehcp_caseload 2025")
    figures, _ = dfe_figures(con, shipped=None)
    assert [figure(figures, "ehcp_caseload", y, WILTSHIRE) for y in (2018, 2019, 2025)] == [
        2982, 3350, 6390]
    assert con.execute(older).fetchall() == before


def test_rows_staged_before_releases_were_told_apart_rank_below_any_release(tmp_path):
    from tests.test_release_layouts import tidy_file

    con = store.connect(tmp_path / "w.duckdb")
    # A warehouse from before: stage.dfe_statistics without `release` or `text`.
    old = tidy_file(caseload_2025(tmp_path / "old.csv", january_2025="6300")).drop(
        "release", "text")
    store.replace_periods(con, "stage.dfe_statistics", old, ("kind", "year"), "0" * 64)
    [o] = load(con, tmp_path, caseload_2025(tmp_path / "new" / "c.csv"))
    assert o.status == "loaded"
    assert con.execute("SELECT release, count(*) FROM stage.dfe_statistics GROUP BY 1 ORDER BY 1 "
                       "NULLS FIRST").fetchall() == [(None, old.height), (2025, old.height)]
    figures, _ = dfe_figures(con, shipped=None)
    assert figure(figures, "ehcp_caseload", 2025, WILTSHIRE) == 6383
