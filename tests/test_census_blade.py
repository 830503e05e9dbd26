"""The school census as a COLLECT Blade export (a CSV a table), through the real loader.

handmade.write_census_blade writes tests/handmade.py's spring 2024 census (pupils 1-5 in
school 100001 and PRU 100002; pupil 4 main at the school, subsidiary at the PRU) as
`schoolcensus`, `pupilonroll`, `senneeds` and `fsmperiod` tables with Blade's hex ids, so
every answer is the flat file's: 6 rows, LA 5 pupils, 1 EHCP, 2 on SEN support.
"""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest

from tests import handmade
from tests.conftest import archive_at
from transforms.census_blade import blade_table, set_key
from transforms.kpis import sen_prevalence
from warehouse import core, loads, store
from warehouse.archive import sha256_of

KEY = b"k" * 32
STAGED = ("census_date", "la_number", "laestab", "urn", "pupil_id", "birth_year",
          "birth_month", "sex", "nc_year", "enrol_status", "sen_provision",
          "sen_provision_code", "primary_need", "secondary_need", "fsm_eligible")


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "warehouse.duckdb")
    yield c
    c.close()


def load_landing(con, tmp_path, run="run-1") -> list[loads.FileOutcome]:
    found = loads.discover(tmp_path / "landing", store.known_files(con))
    return [o for b in loads.batches(found.new)
            for o in loads.load_batch(con, b, KEY, run, archive_at(tmp_path))]


def staged(con) -> list[tuple]:
    return con.execute(f"SELECT {', '.join(STAGED)} FROM stage.census ORDER BY row_number"
                       ).fetchall()


def by_name(outcomes) -> dict[str, tuple]:
    return {o.name.rsplit("_", 1)[1].removesuffix(".csv"): (o.status, o.rows_read,
                                                             o.rows_loaded, o.rows_quarantined)
            for o in outcomes}


def quarantine(con, outcome) -> list[tuple]:
    return con.execute("SELECT row_number, column_name, rule, value_masked FROM "
                       "audit.quarantine WHERE sha256 = ? ORDER BY 1, 2", [outcome.sha256]
                       ).fetchall()


def test_tables_are_recognised_from_their_headers():
    assert blade_table(["pupilonrolltableid", "NativeId", "senneedstableid",
                        "senneedsorderseqcolumn", "sentype"]) == "senneeds"
    assert blade_table(["pupilonrolltableid", "schoolcensustableid", "upn"]) == "pupilonroll"
    assert blade_table(["schoolcensustableid", "referencedate", "lea"]) == "schoolcensus"
    assert blade_table(["pupilonrolltableid", "addressesonrolltableid", "postcode"]) == \
        "addressesonroll"
    assert blade_table(["CensusDate", "LAEstab", "URN", "UPN"]) is None
    assert set_key("Blade-Export_16-01-2025_senneeds.csv", "senneeds") == \
        "blade-export_16-01-2025_.csv"


def test_a_blade_export_stages_exactly_the_flat_files_rows(con, tmp_path):
    handmade.write_census_blade(tmp_path / "landing" / "census")
    outcomes = load_landing(con, tmp_path)
    assert by_name(outcomes) == {"schoolcensus": ("loaded", 2, 2, 0),
                                 "pupilonroll": ("loaded", 6, 6, 0),
                                 "senneeds": ("loaded", 4, 4, 0),
                                 "fsmperiod": ("loaded", 2, 2, 0)}
    assert {o.period for o in outcomes} == {"2024-01-18"}
    blade = staged(con)
    other = store.connect(tmp_path / "flat.duckdb")
    handmade.write_census(tmp_path / "flat" / "census")
    found = loads.discover(tmp_path / "flat", {})
    loads.load_batch(other, found.new, KEY, "run-1", archive_at(tmp_path))
    assert blade == staged(other)
    assert [r[STAGED.index("primary_need")] for r in blade] == ["ASD", "SLCN", None, None,
                                                                "SEMH", "SEMH"]
    assert [r[STAGED.index("fsm_eligible")] for r in blade] == [False, True, False, False,
                                                                False, True]
    names = con.execute("SELECT column_name FROM information_schema.columns WHERE "
                        "table_name = 'census'").fetchall()
    assert not {"upn", "surname", "forename", "dob"} & {n for (n,) in names}


def test_the_older_gender_header_and_returns_without_urn_take_gias_urns(con, tmp_path):
    """Before autumn 2017 a return has no URN and the pupil's sex is `gender`: the build
    takes each school's URN from GIAS by LAEstab, so the school scope is the same."""
    handmade.write_census_blade(tmp_path / "landing" / "census", urn=False,
                                sex_header="gender")
    gias = tmp_path / "landing" / "establishments" / "edubasealldata.csv"
    gias.parent.mkdir(parents=True)
    gias.write_text(
        "URN,LA (code),LA (name),EstablishmentNumber,EstablishmentName,"
        "TypeOfEstablishment (name),EstablishmentTypeGroup (name),"
        "EstablishmentStatus (name),PhaseOfEducation (name),StatutoryLowAge,StatutoryHighAge\n"
        "100001,865,Wiltshire,2001,School A,Community school,Local authority maintained "
        "schools,Open,Primary,4,11\n100002,865,Wiltshire,1100,PRU B,Pupil referral unit,"
        "Local authority maintained schools,Open,Not applicable,11,16\n")
    load_landing(con, tmp_path)
    assert con.execute("SELECT count(*) FROM stage.census WHERE urn IS NULL").fetchall() == [
        (6,)]
    assert {r[STAGED.index("sex")] for r in staged(con)} == {"F", "M"}
    census = core.census_rows(con)
    got = sen_prevalence(census, store.read(con, "SELECT * FROM stage.establishments"),
                         "test", dt.date(2024, 1, 18))
    schools = dict(got.filter(pl.col("scope") == "school").select("scope_id", "pupils").rows())
    assert schools == {"100001": 4, "100002": 1}


def test_bad_links_quarantine_in_their_own_table_and_cascade(con, tmp_path):
    """Pupil 3's return id is unknown (quarantined in pupilonroll); pupil 2's NC year is bad
    (quarantined, and so is their need); a need names a pupil who does not exist."""
    paths = handmade.write_census_blade(tmp_path / "landing" / "census")
    pupils = pl.read_csv(paths["pupilonroll"], infer_schema=False)
    pupils.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("ffffffff-fff"))
        .otherwise(pl.col("schoolcensustableid")).alias("schoolcensustableid"),
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("99")).otherwise(
            pl.col("ncyearactual")).alias("ncyearactual")).write_csv(paths["pupilonroll"])
    needs = pl.read_csv(paths["senneeds"], infer_schema=False)
    pl.concat([needs, needs.head(1).with_columns(
        pl.lit("00000000-000").alias("pupilonrolltableid"),
        pl.lit("aaaaaaaa-aaa").alias("senneedstableid"))]).write_csv(paths["senneeds"])
    outcomes = {o.name.rsplit("_", 1)[1].removesuffix(".csv"): o
                for o in load_landing(con, tmp_path)}
    assert quarantine(con, outcomes["pupilonroll"]) == [
        (3, "ncyearactual", "is an NC year (E1, E2, N1, N2, R, 1-14 or X)", "99"),
        (4, "schoolcensustableid",
         "links to a schoolcensus row that is missing or quarantined", "ffffffff-fff")]
    assert [r[:3] for r in quarantine(con, outcomes["senneeds"])] == [
        (3, "pupilonrolltableid", "links to a pupilonroll row that is missing or quarantined"),
        (6, "pupilonrolltableid", "links to a pupilonroll row that is missing or quarantined")]
    assert by_name(outcomes.values())["pupilonroll"] == ("loaded", 6, 4, 2)
    assert by_name(outcomes.values())["senneeds"] == ("loaded", 5, 3, 2)


def test_two_primary_needs_for_a_pupil_are_both_held_back(con, tmp_path):
    """Pupil 2 (SEN support) has two rank-1 needs: neither is used, and a spring SEN pupil
    without a need is quarantined by the census rule, named as the Blade column."""
    paths = handmade.write_census_blade(tmp_path / "landing" / "census")
    needs = pl.read_csv(paths["senneeds"], infer_schema=False)
    pl.concat([needs, needs.slice(1, 1).with_columns(pl.lit("MLD").alias("sentype"),
                                                     pl.lit("bbbbbbbb-bbb").alias(
                                                         "senneedstableid"))]
              ).write_csv(paths["senneeds"])
    outcomes = {o.name.rsplit("_", 1)[1].removesuffix(".csv"): o
                for o in load_landing(con, tmp_path)}
    assert [r[:3] for r in quarantine(con, outcomes["senneeds"])] == [
        (3, "sentyperank", "repeats a rank another need of the pupil has"),
        (6, "sentyperank", "repeats a rank another need of the pupil has")]
    assert [r[:3] for r in quarantine(con, outcomes["pupilonroll"])] == [
        (3, "sentype (rank 1)", "is given when SEN provision is not N (spring census)")]


def test_an_unused_table_is_archived_and_skipped_not_rejected(con, tmp_path):
    handmade.write_census_blade(tmp_path / "landing" / "census")
    extra = tmp_path / "landing" / "census" / "Blade-Export_18-01-2024_addressesonroll.csv"
    extra.write_text("addressesonrolltableid,NativeId,addressesonrollorderseqcolumn,sourceid,"
                     "pupilonrolltableid,postcode\nx1,P0,1,src,p,SN1 1AA\n")
    outcomes = by_name(load_landing(con, tmp_path))
    assert outcomes["addressesonroll"] == ("skipped", 0, 0, 0)
    assert outcomes["pupilonroll"] == ("loaded", 6, 6, 0)
    assert con.execute("SELECT status, archived_as IS NOT NULL FROM audit.files WHERE "
                       "original_name = ?", [extra.name]).fetchall() == [("skipped", True)]
    assert load_landing(con, tmp_path, "run-2") == []  # never offered again


def test_a_spring_export_without_senneeds_waits_then_a_table_landed_alone_completes_it(
        con, tmp_path):
    """The needs table is missing: the rest waits, unrecorded. Next, the needs land and load
    with the rest; later a corrected needs table lands alone and is joined to the tables
    loaded before (read again from the archive)."""
    folder = tmp_path / "landing" / "census"
    paths = handmade.write_census_blade(folder)
    needs = paths["senneeds"].read_bytes()
    paths["senneeds"].unlink()
    outcomes = load_landing(con, tmp_path)
    assert {o.status for o in outcomes} == {"waiting"}
    assert "no senneeds table landed with it" in outcomes[0].message
    assert not store.table_exists(con, "stage.census")
    paths["senneeds"].write_bytes(needs)
    assert {o.status for o in load_landing(con, tmp_path, "run-2")} == {"loaded"}
    assert [r[STAGED.index("primary_need")] for r in staged(con)][:2] == ["ASD", "SLCN"]
    # Pupil 1's need corrected to SPLD, landed alone (the other tables stay as they were).
    for p in folder.iterdir():
        p.unlink()
    frame = pl.read_csv(io.BytesIO(needs), infer_schema=False)
    frame.with_columns(pl.when(pl.col("sentype") == "ASD").then(pl.lit("SPLD"))
                       .otherwise(pl.col("sentype")).alias("sentype")).write_csv(
        folder / "Blade-Export_18-01-2024_senneeds.csv")
    outcomes = load_landing(con, tmp_path, "run-3")
    assert by_name(outcomes) == {"schoolcensus": ("loaded", 2, 2, 0),
                                 "pupilonroll": ("loaded", 6, 6, 0),
                                 "senneeds": ("loaded", 4, 4, 0),
                                 "fsmperiod": ("loaded", 2, 2, 0)}
    assert [r[STAGED.index("primary_need")] for r in staged(con)][:2] == ["SPLD", "SLCN"]
    assert con.execute("SELECT count(*) FROM stage.census").fetchall() == [(6,)]


def test_without_an_fsm_table_fsm_is_unknown_not_no(con, tmp_path):
    handmade.write_census_blade(tmp_path / "landing" / "census",
                                tables=("schoolcensus", "pupilonroll", "senneeds"))
    load_landing(con, tmp_path)
    assert {r[STAGED.index("fsm_eligible")] for r in staged(con)} == {None}


def test_returns_made_apart_for_one_day_add_up_and_a_reissue_replaces_its_school(
        con, tmp_path):
    """The school's and the PRU's Blade exports for one census day load side by side; the
    PRU's re-issued export replaces the PRU's rows only."""
    rows = handmade.census_rows()
    handmade.write_census_blade(tmp_path / "landing" / "census" / "school", rows[:4])
    handmade.write_census_blade(tmp_path / "landing" / "census" / "pru", rows[4:])
    load_landing(con, tmp_path)
    count = "SELECT laestab, count(*) FROM stage.census GROUP BY 1 ORDER BY 1"
    assert con.execute(count).fetchall() == [("8651100", 2), ("8652001", 4)]
    handmade.write_census_blade(tmp_path / "landing" / "census" / "pru-v2", rows[5:],
                                stamp="19-01-2024")
    load_landing(con, tmp_path, "run-2")
    assert con.execute(count).fetchall() == [("8651100", 1), ("8652001", 4)]


def test_every_pupil_failing_one_rule_rejects_the_export_with_one_message(con, tmp_path):
    rows = [r.replace(",F,", ",Female,").replace(",M,", ",Male,")
            for r in handmade.census_rows()]
    handmade.write_census_blade(tmp_path / "landing" / "census", rows)
    outcomes = load_landing(con, tmp_path)
    assert {o.status for o in outcomes} == {"rejected"}
    assert outcomes[0].message.endswith(
        "belongs to a Blade census export that is not in the census format: all 6 rows "
        "fail the rule 'sex is a sex code (M, F)' (expected columns: census_date, "
        "laestab, urn, upn, date_of_birth, sex, nc_year_actual, enrol_status, sen_provision, "
        "fsm_eligible)")


def test_the_archive_keeps_every_table_by_its_hash(con, tmp_path):
    paths = handmade.write_census_blade(tmp_path / "landing" / "census")
    load_landing(con, tmp_path)
    archived = dict(con.execute("SELECT sha256, archived_as FROM audit.files").fetchall())
    assert set(archived) == {sha256_of(p) for p in paths.values()}
