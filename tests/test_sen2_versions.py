"""SEN2 Blade exports as case management systems write them: every version's header (v1.1 to
v1.4) and table ids that are not whole numbers (prefixed, GUIDs, Blade's hex hashes), loaded
through the real loader and built into the KPI tables without Prefect.

The plans are tests/handmade.py's A-F, whose caseload is worked out there by hand: January
2023 = 1, 2024 = 4, 2025 = 4.
"""

from __future__ import annotations

import hashlib
import uuid

import polars as pl
import pytest

from tests import handmade
from tests.conftest import archive_at, settings_for
from transforms.sen2 import module_of
from warehouse import build, loads, store
from warehouse.archive import sha256_of

KEY = b"k" * 32
ID_STYLES = {
    "whole numbers": lambda module, i: str(i),
    "prefixed": lambda module, i: f"{module[0].upper()}{i}",  # P1, R1, A1, N1 ...
    "guids": lambda module, i: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{module}/{i}")),
    # Blade's ids, e.g. 0002e817-8ca: eight hex digits, a hyphen, three more.
    "blade hashes": lambda module, i: (lambda h: f"{h[:8]}-{h[8:11]}")(
        hashlib.sha1(f"{module}/{i}".encode()).hexdigest()),
}


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "warehouse.duckdb")
    yield c
    c.close()


def load_export(con, tmp_path, version=None, ids=None, export=handmade.EXPORT, edit=None):
    folder = tmp_path / "landing" / f"sen2-{export}"
    paths = handmade.write_sen2(folder, export, version=version, ids=ids)
    if edit:
        edit({module_of(p.name): p for p in paths})
    files = [loads.LandedFile("sen2", p, sha256_of(p)) for p in paths]
    return {module_of(o.name): o for o in loads.load_batch(con, files, KEY, "run-1",
                                                           archive_at(tmp_path))}


def caseload(con) -> dict[int, int]:
    return dict(con.execute("SELECT year, caseload FROM kpi.ehcp_caseload WHERE year >= 2023 "
                            "ORDER BY year").fetchall())


@pytest.mark.parametrize("style", list(ID_STYLES))
@pytest.mark.parametrize("version", handmade.VERSIONS)
def test_every_version_and_id_style_loads_every_row_with_no_unknown_column(
        con, tmp_path, version, style):
    outcomes = load_export(con, tmp_path, version, ID_STYLES[style])
    got = {m: (o.status, o.rows_loaded, o.rows_quarantined) for m, o in outcomes.items()}
    assert got == {m: ("loaded", 1 if m == "sen2" else 6, 0) for m in outcomes}
    assert len(got) == 9
    unknown = con.execute("SELECT original_name, unknown_columns FROM audit.files "
                          "WHERE unknown_columns IS NOT NULL").fetchall()
    assert unknown == []
    ids = [r[0] for r in con.execute("SELECT namedplantableid::VARCHAR FROM stage.sen2_namedplan "
                                     "ORDER BY row_number").fetchall()]
    assert ids == [ID_STYLES[style]("namedplan", i) for i in range(1, 7)]


@pytest.mark.parametrize("style", ["prefixed", "guids", "blade hashes"])
def test_non_numeric_ids_link_and_build_the_handworked_caseload(con, tmp_path, style):
    """The finding: an export with ids such as P1 or 0002e817-8ca had every row quarantined
    ("is a whole-number table id") and nothing to publish."""
    load_export(con, tmp_path, "1.3", ID_STYLES[style])
    result = build.rebuild(con, settings_for(tmp_path))
    assert result.sen2_missing is None
    assert caseload(con) == {2023: 1, 2024: 4, 2025: 4}
    plans = con.execute("SELECT plan_id, person_id FROM core.ehc_plans ORDER BY plan_id"
                        ).fetchall()
    assert sorted(p for p, _ in plans) == sorted(ID_STYLES[style]("namedplan", i)
                                                 for i in range(1, 7))
    assert {len(person) for _, person in plans} == {32}  # every person by UPN pseudonym


def test_orphans_with_text_ids_are_still_quarantined(con, tmp_path):
    def orphan(paths):
        frame = pl.read_csv(paths["placementdetail"], infer_schema=False)
        frame.with_columns(pl.when(pl.col("placementdetailtableid") == "L5")
                           .then(pl.lit("A99")).otherwise(pl.col("activeplanstableid"))
                           .alias("activeplanstableid")).write_csv(paths["placementdetail"])

    def ids(module, i):  # placementdetail ids L1.., activeplans A1..
        return {"placementdetail": "L", "activeplans": "A"}.get(module, "X") + str(i)

    outcomes = load_export(con, tmp_path, "1.2", ids, edit=orphan)
    o = outcomes["placementdetail"]
    assert (o.rows_loaded, o.rows_quarantined) == (5, 1)
    assert con.execute("SELECT row_number, column_name, rule, value_masked FROM "
                       "audit.quarantine WHERE sha256 = ?", [o.sha256]).fetchall() == [
        (6, "activeplanstableid", "links to an activeplans row that is missing or quarantined",
         "A99")]


def test_version_fields_are_staged(con, tmp_path):
    """v1.3's request source, review draft and phase transfer dates, the assessment's
    tribunal flag and the system's NativeId reach staging, typed; v1.1's gendercurrent is
    the person's sex."""
    load_export(con, tmp_path, "1.3", ID_STYLES["blade hashes"])
    assert con.execute("SELECT DISTINCT requestsource FROM stage.sen2_requests").fetchall() == [
        ("1",)]
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'sen2_activeplans'").fetchall())
    assert types["phasetransferduedate"] == types["reviewdraft"] == "DATE"
    assert types["activeplanstableid"] == "VARCHAR"
    tribunals = con.execute("SELECT nativeid, assessmenttribunal FROM stage.sen2_assessment "
                            "ORDER BY row_number").fetchall()
    assert tribunals[:3] == [("NASS0001", False), ("NASS0002", True), ("NASS0003", False)]


def test_v1_1_gendercurrent_is_the_sex_column(con, tmp_path):
    load_export(con, tmp_path, "1.1")
    assert con.execute("SELECT DISTINCT sex FROM stage.sen2_person").fetchall() == [("F",)]


def test_v1_4_down_syndrome_need_counts_in_the_need_mix(con, tmp_path):
    def down_syndrome(paths):
        frame = pl.read_csv(paths["senneed"], infer_schema=False)
        frame.with_columns(pl.when(pl.col("senneedtableid") == "6").then(pl.lit("DS"))
                           .otherwise(pl.col("sentype")).alias("sentype")
                           ).write_csv(paths["senneed"])

    load_export(con, tmp_path, "1.4", edit=down_syndrome)
    build.rebuild(con, settings_for(tmp_path))
    mix = con.execute("SELECT need, plans FROM kpi.ehcp_need_mix WHERE year = 2025 "
                      "ORDER BY need").fetchall()
    assert mix == [("ASD", 3), ("DS", 1)]  # A, B, D are ASD; F is DS


def test_a_warehouse_staged_with_whole_number_ids_takes_a_newer_export(con, tmp_path):
    """A warehouse from before ids were text (BIGINT ids, no version columns) loads a newer
    export with hash ids: the columns become text and gain the new fields; both exports'
    rows stay."""
    load_export(con, tmp_path)
    for module in ("person", "namedplan"):
        con.execute(f"ALTER TABLE stage.sen2_{module} ALTER COLUMN {module}tableid TYPE BIGINT")
    con.execute("ALTER TABLE stage.sen2_person DROP COLUMN nativeid")
    later = handmade.EXPORT.replace(month=4)
    outcomes = load_export(con, tmp_path, "1.3", ID_STYLES["blade hashes"], export=later)
    assert {o.status for o in outcomes.values()} == {"loaded"}
    got = con.execute("SELECT export_date::VARCHAR, min(namedplantableid), count(*) FROM "
                      "stage.sen2_namedplan GROUP BY 1 ORDER BY 1").fetchall()
    assert got[0] == ("2025-03-01", "1", 6)
    assert got[1][0] == "2025-04-01" and got[1][2] == 6
    assert con.execute("SELECT count(nativeid) FROM stage.sen2_person").fetchall() == [(6,)]
    build.rebuild(con, settings_for(tmp_path))
    assert caseload(con) == {2023: 1, 2024: 4, 2025: 4}


def test_whole_number_ids_are_stored_as_integers_and_still_join_text_ones(con, tmp_path):
    """Whole-number ids stage as integers (they map one to one to their text); a later
    export with hash ids turns the columns to text, and an export of either kind after it
    loads and builds the same caseload."""
    load_export(con, tmp_path)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'sen2_namedplan'").fetchall())
    assert types["namedplantableid"] == "BIGINT"
    load_export(con, tmp_path, "1.3", ID_STYLES["blade hashes"],
                export=handmade.EXPORT.replace(month=4))
    load_export(con, tmp_path, "1.4", export=handmade.EXPORT.replace(month=5))
    got = con.execute("SELECT export_date::VARCHAR, min(namedplantableid) FROM "
                      "stage.sen2_namedplan GROUP BY 1 ORDER BY 1").fetchall()
    assert got == [("2025-03-01", "1"), ("2025-04-01", min(
        ID_STYLES["blade hashes"]("namedplan", i) for i in range(1, 7))), ("2025-05-01", "1")]
    build.rebuild(con, settings_for(tmp_path))
    assert caseload(con) == {2023: 1, 2024: 4, 2025: 4}
    assert con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = "
                       "'ehc_plans' AND column_name = 'plan_id'").fetchall() == [("VARCHAR",)]
