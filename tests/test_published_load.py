"""The real DfE 2025 release through the loader into the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse import loads, store
from warehouse.archive import sha256_of

RELEASE = Path(__file__).resolve().parents[2] / "shared" / "external" / "dfe-ehcp-2025"


def load(con, tmp_path, *paths):
    out = []
    for p in paths:
        f = loads.LandedFile("published", p, sha256_of(p))
        out += loads.load_batch(con, [f], b"k" * 32, "run-1", tmp_path / "archive")
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
    sql = ("SELECT value FROM stage.published WHERE measure = ? AND geographic_level = ? "
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
    reasons = con.execute("SELECT DISTINCT symbol, reason FROM stage.published "
                          "WHERE symbol IS NOT NULL").fetchall()
    assert reasons == [("x", "unavailable")]


def test_the_same_release_again_changes_nothing_and_a_revision_replaces_its_years(
        warehouse, tmp_path):
    con, _ = warehouse
    before = con.execute("SELECT count(*), sum(value) FROM stage.published").fetchall()
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
    after = con.execute("SELECT count(*) FROM stage.published").fetchall()[0][0]
    assert after == before[0][0]
