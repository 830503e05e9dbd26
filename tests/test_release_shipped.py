"""The DfE's 2025 release ships with sendboard (warehouse/reference/dfe_ehcp_2025.parquet):
a fresh landing folder with no DfE file still benchmarks and reconciles, a landed release is
one more beside it (newest wins), and `sendboard backtest` needs nothing beside the repository.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from tests import handmade
from tests.conftest import archive_at, settings_for
from tests.test_release_layouts import SHARED, write_release_2022
from warehouse import build, loads, store
from warehouse.dfe_statistics import SHIPPED, ship_release, shipped_release

KEY = b"k" * 32
RELEASE_2025 = SHARED / "dfe-ehcp-2025"


def test_the_shipped_release_is_the_2025_headline_rows_in_a_small_file():
    rows = shipped_release()
    assert rows.height == 163_680
    assert SHIPPED.stat().st_size < 1_000_000
    assert set(rows["release"]) == {2025}
    assert set(rows["geographic_level"]) == {"National", "Regional", "Local authority"}
    assert rows.filter(pl.col("breakdown") != pl.col("breakdown_topic")).height == 0
    assert set(rows["sha256"]) == {hashlib.sha256(p.read_bytes()).hexdigest()
                                   for p in RELEASE_2025.glob("*.csv")}
    wilts = rows.filter((pl.col("new_la_code") == "E06000054") & (pl.col("year") == 2025)
                        & (pl.col("kind") == "ehcp_caseload"))
    got = dict(wilts.select("measure", "value").rows())
    assert (got["ehcplans"], got["mainstream_total_pc"]) == (6383, 51.2)


def test_ship_release_regenerates_the_shipped_file_from_the_release_csvs(tmp_path):
    made = ship_release(RELEASE_2025, tmp_path / "shipped.parquet")
    assert made.equals(pl.read_parquet(SHIPPED))
    assert pl.read_parquet(tmp_path / "shipped.parquet").equals(made)


def test_ship_release_refuses_a_file_with_rows_that_fail(tmp_path):
    (tmp_path / "caseload.csv").write_text(
        "time_period,time_identifier,geographic_level,ehcplans\n"
        "202425,Academic year,National,12a\n")
    with pytest.raises(ValueError, match="caseload.csv has 1 rows that fail"):
        ship_release(tmp_path, tmp_path / "out.parquet")


def _build(tmp_path: Path, landing: Path):
    con = store.connect(tmp_path / "warehouse.duckdb")
    found = loads.discover(landing, store.known_files(con))
    for batch in loads.batches(found.new):
        loads.load_batch(con, batch, KEY, "run-1", archive_at(tmp_path))
    build.rebuild(con, settings_for(tmp_path))
    return con


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_a_fresh_landing_with_no_dfe_file_benchmarks_and_reconciles(tmp_path):
    landing = handmade.write_landing(tmp_path / "landing")
    assert not (landing / "published").exists()
    con = _build(tmp_path, landing)
    assert not store.table_exists(con, "stage.dfe_statistics")
    shipped = "DfE EHC plans 2025 release (shipped with sendboard)"
    assert _rows(con, "SELECT min(year), max(year), list(DISTINCT source) FROM kpi.benchmarks"
                      " WHERE comparison <> 'statistical_neighbours_mean'") == [
        (2019, 2025, [shipped])]
    assert _rows(con, "SELECT value FROM kpi.benchmarks WHERE measure = 'ehcp_caseload' AND "
                      "comparison = 'england' AND year = 2025") == [(638745.0,)]
    got = _rows(con, "SELECT local_value, published_value, flagged, source FROM "
                     "kpi.reconciliation WHERE measure = 'ehcp_caseload' AND year = 2025")
    # The hand-made LA borrows Wiltshire's LA number and has 4 plans.
    assert got == [(4.0, 6383.0, True, "SEN2 export 2025-03-01 ("
                    + _rows(con, "SELECT DISTINCT left(sha256, 12) FROM stage.sen2_namedplan"
                            )[0][0] + f"), school census and {shipped}")]


def test_a_landed_2022_release_takes_the_benchmarks_back_to_2010(tmp_path):
    landing = handmade.write_landing(tmp_path / "landing")
    files = write_release_2022(landing / "published" / "2022")
    con = _build(tmp_path, landing)
    la = dict(_rows(con, "SELECT year, value FROM kpi.benchmarks WHERE measure = "
                         "'ehcp_caseload' AND comparison = 'la' ORDER BY year"))
    assert la == {2010: 1838, 2018: 2982, 2019: 3349, 2020: 3784, 2021: 4067, 2022: 4287,
                  2023: 4760, 2024: 5536, 2025: 6383}
    sources = dict(_rows(con, "SELECT year, source FROM kpi.benchmarks WHERE measure = "
                              "'ehcp_caseload' AND comparison = 'la'"))
    sha = hashlib.sha256(files[0].read_bytes()).hexdigest()[:12]
    assert sources[2018] == f"DfE EHC plans 2022 release (a.csv {sha})"
    assert sources[2019] == "DfE EHC plans 2025 release (shipped with sendboard)"
    assert _rows(con, "SELECT year, published_value FROM kpi.reconciliation WHERE measure = "
                      "'ehcp_caseload' AND year IN (2010, 2018, 2019) ORDER BY year") == [
        (2010, 1838.0), (2018, 2982.0), (2019, 3349.0)]
    assert _rows(con, "SELECT year, value FROM kpi.benchmarks WHERE measure = "
                      "'pct_within_20_weeks_ex' AND comparison = 'england' AND year <= 2019 "
                      "ORDER BY year") == [(2018, 60.1), (2019, 60.4)]


def test_the_backtest_scores_against_the_shipped_release_by_default(tmp_path, capsys):
    from sendboard.cli import DEFAULT_RELEASE, main

    assert DEFAULT_RELEASE == SHIPPED
    assert main(["backtest", "--json", str(tmp_path / "b.json")]) == 0
    assert "| all | 1 | 594 | 2.62 | 3.33 | 0.79 | 62.5 | 80.3 |" in capsys.readouterr().out
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["release"] == str(SHIPPED) and len(written["per_la"]) == 1334


def test_the_backtest_reads_a_2022_release_folder_by_its_headers(tmp_path):
    from transforms.forecast_backtest import published_series

    write_release_2022(tmp_path)
    series = published_series(tmp_path).filter(pl.col("la") == "E06000054")
    assert series.select("series", "year", "value").rows() == [
        ("caseload", 2010, 1838.0), ("caseload", 2018, 2982.0), ("caseload", 2019, 3349.0),
        ("new_plans", 2010, 164.0), ("new_plans", 2018, 553.0), ("requests", 2018, 690.0)]


def test_a_landed_2026_release_benchmarks_and_reconciles_the_caseload_personal_budgets(
        tmp_path):
    """The hand-made LA with personal budgets on D (a transfer in) and F (organised
    arrangements too), and a hand-made 2026 release's personal_budgets.csv and caseload.csv:
    kpi.ehcp_personal_budgets_caseload counts January 2025's caseload of four (A, B, D, F)
    with two budgets, one organised; kpi.benchmarks has the DfE's shares of the caseload;
    kpi.reconciliation sets the LA's two counts beside the DfE's for it, where published."""
    from tests.test_release_layouts import write_personal_budgets_2026

    landing = tmp_path / "landing"
    handmade.write_sen2(landing / "sen2", version="1.4")
    handmade.write_census(landing / "census")
    named = next((landing / "sen2").glob("*_namedplan.csv"))
    plans = pl.read_csv(named, infer_schema=False)
    plans.with_columns(  # D is table id 4, F 6
        pl.when(pl.col("namedplantableid").is_in(["4", "6"])).then(pl.lit("1"))
        .otherwise(pl.col("pb")).alias("pb"),
        pl.when(pl.col("namedplantableid") == "6").then(pl.lit("1"))
        .otherwise(pl.col("oa")).alias("oa")).write_csv(named)
    write_personal_budgets_2026(landing / "published" / "2026")
    con = _build(tmp_path, landing)
    assert _rows(con, "SELECT year, caseload, plans_with_pb, organised_arrangements, "
                      "direct_payments, pct_of_caseload FROM kpi.ehcp_personal_budgets_caseload "
                      "WHERE year >= 2023 ORDER BY year") == [
        (2023, 1, 1, 1, 0, 100.0), (2024, 4, 2, 1, 0, 50.0), (2025, 4, 2, 1, 0, 50.0)]
    assert _rows(con, "SELECT comparison, value FROM kpi.benchmarks WHERE measure = "
                      "'pct_caseload_with_pb' AND year = 2025 ORDER BY comparison") == [
        ("england", 6.4), ("la", 8.1), ("region", 8.5)]
    got = _rows(con, "SELECT measure, year, local_value, published_value, difference, "
                     "flagged, note FROM kpi.reconciliation WHERE measure IN "
                     "('plans_with_pb', 'plans_with_oa') ORDER BY measure, year")
    # Published for January 2020, 2025 and 2026; the export's last January is 2025.
    assert got == [
        ("plans_with_oa", 2020, 0.0, 40.0, -40.0, True, None),
        ("plans_with_oa", 2025, 1.0, 120.0, -119.0, True, None),
        ("plans_with_oa", 2026, None, 130.0, None, False, "no local figure"),
        ("plans_with_pb", 2020, 0.0, 210.0, -210.0, True, None),
        ("plans_with_pb", 2025, 2.0, 517.0, -515.0, True, None),
        ("plans_with_pb", 2026, None, 600.0, None, False, "no local figure")]
    # Direct payments are not reconciled: the DfE's budget covers are not direct payments.
    assert _rows(con, "SELECT count(*) FROM kpi.reconciliation WHERE measure LIKE "
                      "'%direct%' OR measure LIKE 'pb_%'") == [(0,)]
