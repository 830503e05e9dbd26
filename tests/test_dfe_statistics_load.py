"""The real DfE 2025 release through the loader into the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import archive_at
from warehouse import loads, store
from warehouse.archive import sha256_of

RELEASE = Path(__file__).resolve().parents[2] / "shared" / "external" / "dfe-ehcp-2025"


def load(con, tmp_path, *paths):
    out = []
    for p in paths:
        f = loads.LandedFile("published", p, sha256_of(p))
        out += loads.load_batch(con, [f], b"k" * 32, "run-1", archive_at(tmp_path))
    return out


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("published")
    con = store.connect(tmp / "warehouse.duckdb")
    outcomes = load(con, tmp, RELEASE / "caseload.csv", RELEASE / "timeliness_20_week.csv")
    assert [(o.status, o.rows_quarantined) for o in outcomes] == [("loaded", 0), ("loaded", 0)]
    yield con, tmp
    con.close()


def figure(con, measure, level, code=None, year=2025, breakdown=None):
    sql = ("SELECT value FROM stage.dfe_statistics WHERE measure = ? AND geographic_level = ? "
           "AND year = ? AND breakdown = coalesce(?, breakdown_topic)")
    params = [measure, level, year, breakdown]
    if code:
        sql += " AND new_la_code = ?"
        params.append(code)
    return [r[0] for r in con.execute(sql, params).fetchall()]


def test_january_2025_caseload_england_and_wiltshire(warehouse):
    con, _ = warehouse
    assert figure(con, "ehcplans", "National") == [638745.0]
    assert figure(con, "ehcplans", "Local authority", "E06000054") == [6383.0]
    assert figure(con, "mainstream_total_pc", "Local authority", "E06000054") == [51.2]


def test_timeliness_and_symbols(warehouse):
    con, _ = warehouse
    assert figure(con, "pc_plans_issued_20_weeks_ex", "National", year=2019) == [60.4]
    reasons = con.execute("SELECT DISTINCT symbol, reason FROM stage.dfe_statistics "
                          "WHERE symbol IS NOT NULL").fetchall()
    assert reasons == [("x", "unavailable")]


def test_the_same_release_again_changes_nothing_and_a_revision_replaces_its_years(
        warehouse, tmp_path):
    con, _ = warehouse
    before = con.execute("SELECT count(*), sum(value) FROM stage.dfe_statistics").fetchall()
    known = store.known_files(con)
    assert not loads.is_new("published", "caseload.csv",
                            known[sha256_of(RELEASE / "caseload.csv")])
    revised = tmp_path / "caseload_revised.csv"
    lines = (RELEASE / "caseload.csv").read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r.startswith("202425,")]
    revised.write_text("\n".join([header, *rows]).replace(",6383,", ",6390,", 1) + "\n")
    [o] = load(con, tmp_path, revised)
    assert o.status == "loaded" and o.period == "ehcp_caseload 2025"
    assert figure(con, "ehcplans", "Local authority", "E06000054") == [6390.0]
    assert figure(con, "ehcplans", "Local authority", "E06000054", year=2024) == [5536.0]
    after = con.execute("SELECT count(*) FROM stage.dfe_statistics").fetchall()[0][0]
    assert after == before[0][0]


def test_the_pre_2023_release_loads_whole_and_benchmarks_from_2010(tmp_path):
    """The finding: the 2022 release's wide files (filters characteristic_age,
    establishment_type, establishment_group; DMO answers Y/N/R) were quarantined whole and gave
    no benchmark. Now every row loads and the caseload (statements with plans) runs from 2010."""
    from tests.test_release_layouts import ENGLAND, figure, write_release_2022
    from warehouse.dfe_statistics import dfe_figures

    con = store.connect(tmp_path / "warehouse.duckdb")
    outcomes = load(con, tmp_path, *write_release_2022(tmp_path / "release"))
    assert [(o.status, o.rows_read == o.rows_loaded, o.rows_quarantined) for o in outcomes] == [
        ("loaded", True, 0)] * 4
    figures, source = dfe_figures(con, shipped=None)
    assert figure(figures, "ehcp_caseload", 2010, ENGLAND) == 228221
    assert sorted(set(figures["year"]))[0] == 2010
    assert source == "DfE EHC plans statistics: 2022 release (4 files)"


def test_a_warehouse_that_staged_releases_as_stage_published_is_renamed(tmp_path):
    """Earlier versions staged the DfE's statistics as stage.published, beside a view of it;
    connecting renames the table (its rows and its files' records kept) and drops the view."""
    path = tmp_path / "warehouse.duckdb"
    old = store.connect(path)
    old.execute("CREATE TABLE stage.published AS SELECT 2025 AS year, 638745.0 AS value")
    old.execute("CREATE VIEW core.published_statistics AS SELECT * FROM stage.published")
    store.record_file(old, sha256="abc", source="published", original_name="caseload.csv",
                      run_id="r1", status="loaded", table_name="stage.published")
    old.close()
    con = store.connect(path)
    assert con.execute("SELECT year, value FROM stage.dfe_statistics").fetchall() == [
        (2025, 638745.0)]
    assert not store.table_exists(con, "stage.published")
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                       "'published_statistics'").fetchall() == [(0,)]
    assert con.execute("SELECT table_name FROM audit.files").fetchall() == [
        ("stage.dfe_statistics",)]
