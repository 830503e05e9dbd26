"""kpi.sen_attendance (transforms/attendance_kpis.py) and the Blade census's attendance and
exclusions tables through the real loader (warehouse/census_export.py).

tests/handmade.py's spring 2024 census as a Blade export (its 18 January 2024 census reports
the autumn term 2023/24's attendance), with hand-made `termlysessiondetailsonroll` and
`termlyexclusionsonroll` tables and `termlysessionspossible` on the pupils:

| row | pupil | school | provision | possible | missed (authorised + unauthorised) | PA |
| --- | --- | --- | --- | --- | --- | --- |
| 2 | Ann | 100001 | E | 140 | I 10 + M 4 + O 2 = 16 (11.4%) | yes |
| 3 | Bob | 100001 | K | 140 | I 6 + G 4 = 10 (7.1%); X 6 and # 2 not counted | no |
| 4 | Cat | 100001 | N | 140 | none | no |
| 5 | Dan | 100001 (main) | N | 100 | N 10 (10%: on the line) | yes |
| 6 | Dan | 100002 PRU (subsidiary) | K | 40 | U 2 (5%) | no |
| 7 | Eve | 100002 PRU | K | 140 | E 20 + O 3 = 23 (16.4%) | yes |

So autumn 2023/24: EHCP 1 enrolment, 16/140 = 11.4%, PA 100%; SEN support 3 enrolments
(Bob, Dan at the PRU, Eve), 35/320 = 10.9%, PA 1 of 3 = 33.3%; no SEN 2 (Cat, Dan at the
school), 10/240 = 4.2%, PA 50%; all 6 enrolments of 5 pupils, 61/700 = 8.7%, PA 3 of 6 = 50%.

Exclusions: Eve SUSP 10 Oct 2023 and FIXD 20 Nov 2023 (autumn, SEN support); Dan LNCH 1 Dec
2023 at the school (autumn; no provision on the record: his N there); Ann SUSP 5 April 2023,
record provision P (spring 2022/23: Easter 2023 was 9 April; P is SEN support); Bob PERM 5
June 2023, record provision S (summer 2022/23; S is EHCP).

**Leavers** (test_sen_attendance_counts_leavers_as_enrolments_of_their_status): the same
spring 2024 export with `pupilnolongeronroll`, `termlysessiondetailsoffroll` and
`termlyexclusionsoffroll`, loaded after an autumn 2023 census (5 October 2023: pupils and
one exclusion) where a leaver's SEN status is found (their return has none):

| row | leaver | possible | missed | PA | SEN status on 5 Oct 2023 |
| --- | --- | --- | --- | --- | --- |
| 2 | Eve, left 8652001 in Nov (and on roll at the PRU) | 20 | G 4 (20%) | yes | K at 8652001 |
| 3 | Fay, left 8652001 | 80 | I 6 + U 6 = 12 (15%) | yes | K |
| 4 | Gus, PRU, aged 14, PERM 6 Nov 2023 | 60 | E 10 (16.7%) | yes | E |
| 5 | Hal, PRU (joined after 5 October) | 30 | none | no | none: `unknown` |
| 6 | Zed: his UPN's check letter is wrong (quarantined, his sessions row too) | | | | |

Autumn 2023/24 then: EHCP Ann and Gus, 2 enrolments, 26/200 = 13.0%, PA 100%, a permanent
exclusion of 2 pupils (50.0 per 100); SEN support Bob, Dan at the PRU, Eve twice, Fay: 5
enrolments of 4 pupils, 51/420 = 12.1%, PA 3 of 5 = 60.0%; no SEN as before (2, 10/240,
50.0%); unknown Hal, 1 enrolment, 0/30; all 10 enrolments of 8 pupils, 87/890 = 9.8%, PA 6
of 10 = 60.0%, 3 suspensions and 1 permanent exclusion of 8 pupils (37.5 and 12.5 per 100).
Gus's suspension of 5 June 2023, reported on roll in October and as a leaver's in January,
counts once (summer 2022/23, EHCP, beside Bob's exclusion: 2 pupils, 1 of each).

**The summer term's second half**
(test_sen_attendance_summer_term_has_its_second_half_but_for_pupils_aged_15): an autumn
2024 census (3 October 2024) reports summer 2023/24, its halves apart:

| pupil | age 31 Aug 2023 | first half: possible, missed | second half | counted |
| --- | --- | --- | --- | --- |
| Ann, EHCP | 8 | 60, I 6 | 50, I 4 + M 1 | 110, 11 (10.0%: PA) |
| Bob, SEN support | 8 | 60, none | 50, G 10 | 110, 10 (9.1%) |
| Ivy, no SEN, at 8654001 | 15 (year 11) | 60, U 3 | 50, I 40: left out | 60, 3 (5.0%) |
| Kim, left 8652001 in June: unknown | 9 | 60, I 12 | 20, O 4 | 80, 16 (20%: PA) |

All: 4 enrolments, 40/360 = 11.1%, PA 2 of 4 = 50.0% (with Ivy's second half it would have
been 80/410 and 3 of 4).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests import handmade
from tests.conftest import archive_at
from transforms.attendance_kpis import (
    attendance_records,
    easter_sunday,
    exclusion_terms,
    sen_attendance,
)
from warehouse import loads, store
from warehouse.core import census_rows, optional

KEY = b"k" * 32
POSSIBLE = ["140.0", "140.0", "140.0", "100.0", "40.0", "140.0"]
SESSIONS = [(0, "I", 10), (0, "M", 4), (0, "O", 2), (1, "I", 6), (1, "G", 4), (1, "X", 6),
            (1, "#", 2), (3, "N", 10), (4, "U", 2), (5, "E", 20), (5, "O", 3)]
EXCLUSIONS = [(5, "2023-10-10", "SUSP", "K"), (5, "2023-11-20", "FIXD", "K"),
              (3, "2023-12-01", "LNCH", ""), (0, "2023-04-05", "SUSP", "P"),
              (1, "2023-06-05", "PERM", "S")]


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "warehouse.duckdb")
    yield c
    c.close()


def load_landing(con, tmp_path, run="run-1") -> dict[str, loads.FileOutcome]:
    found = loads.discover(tmp_path / "landing", store.known_files(con))
    return {o.name.rsplit("_", 1)[1].removesuffix(".csv"): o
            for b in loads.batches(found.new)
            for o in loads.load_batch(con, b, KEY, run, archive_at(tmp_path))}


def write_export(folder, sessions=SESSIONS, exclusions=EXCLUSIONS, possible=POSSIBLE,
                 day: str = "2024-01-18") -> dict[str, object]:
    """The hand-made Blade census with its attendance tables (written as Blade does: the
    pupil's id first, floats for sessions, Blade dates); `day` its census day."""
    paths = handmade.write_census_blade(folder, day=day)
    ids = add_columns(paths["pupilonroll"], termlysessionspossible=possible)
    return {**paths, "pupilonroll_ids": ids,
            "termlysessiondetails": write_details(paths, "termlysessiondetailsonroll", ids,
                                                  sessions),
            "termlyexclusions": write_exclusions(paths, "termlyexclusionsonroll", ids,
                                                 exclusions)}


def add_columns(path, **columns: list[str]) -> list[str]:
    """Columns added to a pupils' file; returns its rows' table ids."""
    pupils = pl.read_csv(path, infer_schema=False)
    pupils.with_columns(*[pl.Series(c, v) for c, v in columns.items()]).write_csv(path)
    return pupils["pupilonrolltableid"].to_list()


def _child_path(paths: dict, table: str):
    return paths["schoolcensus"].with_name(
        paths["schoolcensus"].name.replace("schoolcensus", table))


def write_details(paths: dict, table: str, ids: list[str], sessions: list[tuple]):
    """A sessions-details table (`termlysessiondetailsonroll`, `...offroll`,
    `summerhalfterm2sessiondetails...`): (pupil's index in `ids`, code, sessions)."""
    path, link = _child_path(paths, table), _link(table)
    pl.DataFrame({
        link: [ids[p] for p, _, _ in sessions],
        "NativeId": [f"P{p}" for p, _, _ in sessions],
        f"{table}tableid": [f"d{i:07x}" for i in range(len(sessions))],
        f"{table}orderseqcolumn": [str(i + 1) for i in range(len(sessions))],
        "sourceid": ["src"] * len(sessions),
        "sessions": [f"{n}.0" if isinstance(n, int) else n for _, _, n in sessions],
        "attendancereason": [c for _, c, _ in sessions]}).write_csv(path)
    return path


def write_exclusions(paths: dict, table: str, ids: list[str], exclusions: list[tuple]):
    """An exclusions table: (pupil's index in `ids`, start date, category, provision)."""
    path, link = _child_path(paths, table), _link(table)
    pl.DataFrame({
        link: [ids[p] for p, *_ in exclusions],
        "NativeId": [f"P{p}" for p, *_ in exclusions],
        f"{table}tableid": [f"e{i:07x}" for i in range(len(exclusions))],
        f"{table}orderseqcolumn": [str(i + 1) for i in range(len(exclusions))],
        "sourceid": ["src"] * len(exclusions),
        "startdate": [handmade.blade(d) for _, d, _, _ in exclusions],
        "sessions": ["2.0"] * len(exclusions), "reason1": ["PA"] * len(exclusions),
        "reason2": [""] * len(exclusions), "reason3": [""] * len(exclusions),
        "category": [c for _, _, c, _ in exclusions],
        "senprovision": [s for *_, s in exclusions]}).write_csv(path)
    return path


def _link(table: str) -> str:
    return "pupilnolongeronrolltableid" if table.endswith("offroll") else "pupilonrolltableid"


def write_leavers(paths: dict, leavers: list[tuple], **columns: list[str]):
    """A `pupilnolongeronroll` table: (school's LAEstab, UPN, date of birth, left on), as
    the 2024 spec's sample writes it (names, dates, the return's id); `columns` beside."""
    returns = pl.read_csv(paths["schoolcensus"], infer_schema=False)
    head = dict(zip(returns["lea"] + returns["estab"], returns["schoolcensustableid"],
                    strict=True))
    path = _child_path(paths, "pupilnolongeronroll")
    pl.DataFrame({
        "pupilnolongeronrolltableid": [f"l{i:07x}-abc" for i in range(len(leavers))],
        "NativeId": [f"L{i}" for i in range(len(leavers))],
        "dob": [handmade.blade(d) for _, _, d, _ in leavers],
        "surname": ["Leaver"] * len(leavers), "forename": [f"Kid{i}" for i in
                                                          range(len(leavers))],
        "upn": [u for _, u, _, _ in leavers], "sex": ["F"] * len(leavers),
        "entrydate": [handmade.blade("2019-09-04")] * len(leavers),
        "leavingdate": [handmade.blade(d) for *_, d in leavers],
        "pupilnolongeronrollorderseqcolumn": ["1"] * len(leavers),
        "sourceid": ["src"] * len(leavers),
        "schoolcensustableid": [head[s] for s, *_ in leavers],
        "parttime": ["False"] * len(leavers),
        **{c: pl.Series(c, v, pl.Utf8) for c, v in columns.items()}}).write_csv(path)
    return path


def quarantine(con, outcome) -> list[tuple]:
    return con.execute("SELECT row_number, column_name, rule, value_masked FROM "
                       "audit.quarantine WHERE sha256 = ? ORDER BY 1, 2", [outcome.sha256]
                       ).fetchall()


def built(con) -> pl.DataFrame:
    return sen_attendance(optional(con, "stage.census_attendance"),
                          optional(con, "stage.census_exclusions"), "test", dt.date(2024, 1, 18))


def row(table: pl.DataFrame, year: str, term: str, status: str, *columns: str) -> tuple:
    return table.filter((pl.col("academic_year") == year) & (pl.col("term") == term)
                        & (pl.col("sen_status") == status)).select(columns).row(0)


ABSENCE = ("enrolments", "pupils", "sessions_possible", "sessions_missed", "absence_rate_pct",
           "persistent_absentees", "persistent_absence_pct")
EXCLUDED = ("suspensions", "pupils_suspended", "permanent_exclusions", "suspension_rate")


def test_sen_attendance_of_a_hand_made_blade_export(con, tmp_path):
    write_export(tmp_path / "landing" / "census")
    outcomes = load_landing(con, tmp_path)
    assert {t: (o.status, o.rows_read, o.rows_loaded, o.rows_quarantined)
            for t, o in outcomes.items()} == {
        "schoolcensus": ("loaded", 2, 2, 0), "pupilonroll": ("loaded", 6, 6, 0),
        "senneeds": ("loaded", 4, 4, 0), "fsmperiod": ("loaded", 2, 2, 0),
        "termlysessiondetailsonroll": ("loaded", 11, 11, 0),
        "termlyexclusionsonroll": ("loaded", 5, 5, 0)}
    staged = con.execute("SELECT laestab, enrol_status, sen_provision, sessions_possible, "
                         "sessions_authorised, sessions_unauthorised FROM "
                         "stage.census_attendance ORDER BY row_number").fetchall()
    assert staged == [("8652001", "C", "E", 140, 14, 2), ("8652001", "C", "K", 140, 6, 4),
                      ("8652001", "C", "N", 140, 0, 0), ("8652001", "M", "N", 100, 0, 10),
                      ("8651100", "S", "K", 40, 0, 2), ("8651100", "C", "K", 140, 20, 3)]
    columns = {n for (n,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name IN "
        "('census_attendance', 'census_exclusions')").fetchall()}
    assert not {"upn", "dob", "surname", "forename", "pupilonrolltableid"} & columns
    assert "pupil_id" in columns
    t = built(con)
    autumn = {s: row(t, "2023/24", "autumn", s, *ABSENCE)
              for s in ("ehcp", "sen_support", "no_sen", "all")}
    assert autumn == {"ehcp": (1, 1, 140, 16, 11.4, 1, 100.0),
                      "sen_support": (3, 3, 320, 35, 10.9, 1, 33.3),
                      "no_sen": (2, 2, 240, 10, 4.2, 1, 50.0),
                      "all": (6, 5, 700, 61, 8.7, 3, 50.0)}
    assert row(t, "2023/24", "autumn", "sen_support", *EXCLUDED) == (2, 1, 0, 66.67)
    assert row(t, "2023/24", "autumn", "no_sen", *EXCLUDED) == (1, 1, 0, 50.0)
    assert row(t, "2023/24", "autumn", "ehcp", *EXCLUDED) == (0, 0, 0, 0.0)
    assert row(t, "2023/24", "autumn", "all", *EXCLUDED, "pupils_suspended_pct") == (
        3, 2, 0, 60.0, 40.0)
    # Exclusions of earlier terms: their own records' provision (legacy P and S) decides.
    assert row(t, "2022/23", "spring", "sen_support", "pupils", *EXCLUDED) == (1, 1, 1, 0, 100.0)
    assert row(t, "2022/23", "summer", "ehcp", "pupils", *EXCLUDED) == (1, 0, 0, 1, 0.0)
    # Nothing says what those terms' absence was: not known, not zero.
    assert row(t, "2022/23", "spring", "all", "enrolments", "absence_rate_pct") == (None, None)
    assert t.height == 12 and set(t["definition"]) == {"docs/kpis.md#sen-attendance"}


def test_sen_attendance_staged_rows_keep_the_files_they_came_from(con, tmp_path):
    """An enrolment's row is its pupilonroll row, in the file pupilonroll_sha256 (its sha256
    is the details file's, which replaces it); an exclusion's is its own row of its file. A
    warehouse staged before pupilonroll_sha256 was kept loads the next export: the column is
    added, empty for the rows already there, and the table still builds."""
    write_export(tmp_path / "landing" / "census")
    first = load_landing(con, tmp_path)
    assert con.execute("SELECT DISTINCT pupilonroll_sha256, sha256 FROM "
                       "stage.census_attendance").fetchall() == [
        (first["pupilonroll"].sha256, first["termlysessiondetailsonroll"].sha256)]
    assert con.execute("SELECT row_number, sessions_possible FROM stage.census_attendance "
                       "ORDER BY 1").fetchall() == [(2, 140), (3, 140), (4, 140), (5, 100),
                                                     (6, 40), (7, 140)]
    assert con.execute("SELECT DISTINCT sha256 FROM stage.census_exclusions").fetchall() == [
        (first["termlyexclusionsonroll"].sha256,)]
    assert con.execute("SELECT row_number, category FROM stage.census_exclusions ORDER BY 1"
                       ).fetchall() == [(2, "suspension"), (3, "suspension"), (4, "lunchtime"),
                                        (5, "suspension"), (6, "permanent")]
    records = attendance_records(optional(con, "stage.census_attendance"),
                                 optional(con, "stage.census_exclusions")).filter(
        pl.col("sen_status").ne_missing("all")).sort("row_number")
    assert records.filter(pl.col("kind") == "enrolment").select("sha256", "row_number").rows(
        ) == [(first["pupilonroll"].sha256, r) for r in range(2, 8)]
    exclusions = first["termlyexclusionsonroll"].sha256
    assert records.filter(pl.col("kind") != "enrolment").select(
        "kind", "sha256", "row_number").rows() == [
        ("suspension", exclusions, 2), ("suspension", exclusions, 3),
        ("lunchtime", exclusions, 4), ("suspension", exclusions, 5),
        ("permanent", exclusions, 6)]
    con.execute("ALTER TABLE stage.census_attendance DROP COLUMN pupilonroll_sha256")
    write_export(tmp_path / "landing" / "census" / "2025", day="2025-01-16")
    second = load_landing(con, tmp_path, "run-2")
    assert second["termlysessiondetailsonroll"].status == "loaded"
    assert con.execute("SELECT census_date::VARCHAR, pupilonroll_sha256, count(*) FROM "
                       "stage.census_attendance GROUP BY ALL ORDER BY 1").fetchall() == [
        ("2024-01-18", None, 6), ("2025-01-16", second["pupilonroll"].sha256, 6)]
    t = built(con)
    assert row(t, "2023/24", "autumn", "all", "enrolments", "sessions_missed") == (6, 61)
    assert row(t, "2024/25", "autumn", "all", "enrolments", "sessions_missed") == (6, 61)


def test_sen_attendance_bad_rows_quarantine_with_their_reasons(con, tmp_path):
    """A negative session count and an unknown code fail the table's own rules; Bob's other
    rows go with his bad one; Eve's sessions missed exceed her possible; Cat has sessions
    but no possible sessions; an unknown exclusion category."""
    sessions = [*SESSIONS[:3], (1, "I", "-6.0"), *SESSIONS[4:7], (3, "QQ", 10), (4, "U", 2),
                (5, "E", 120), (5, "O", 30), (2, "I", 4)]
    exclusions = [*EXCLUSIONS[:4], (1, "2023-06-05", "EXPELLED", "S")]
    possible = ["140.0", "140.0", "", "100.0", "40.0", "140.0"]
    paths = write_export(tmp_path / "landing" / "census", sessions, exclusions, possible)
    outcomes = load_landing(con, tmp_path)
    codes = "attendance code (/, \\, B, C, C1"
    got = quarantine(con, outcomes["termlysessiondetailsonroll"])
    bob = paths["pupilonroll_ids"][1]
    assert [(r[0], r[1], r[3]) for r in got] == [
        (5, "sessions", "-6.0"), (6, "pupilonrolltableid", bob),
        (7, "pupilonrolltableid", bob), (8, "pupilonrolltableid", bob),
        (9, "attendancereason", "QQ"), (11, "sessions", "120.0"), (12, "sessions", "30.0"),
        (13, "termlysessionspossible", "<blank>")]
    assert got[0][2] == "is a whole number of sessions, 0 or more"
    assert got[1][2] == "belongs to a pupil another of whose sessions rows is quarantined"
    assert got[4][2].startswith(f"is an {codes}")
    assert got[5][2] == ("with the pupil's other sessions missed (authorised + unauthorised) "
                         "exceeds their possible sessions (termlysessionspossible)")
    assert got[7][2] == ("is a whole number of possible sessions on the pupil's pupilonroll "
                         "row (it has sessions missed)")
    assert quarantine(con, outcomes["termlyexclusionsonroll"]) == [
        (6, "category", "is an exclusion category (PERM, SUSP, FIXD, LNCH)", "EXPELLED")]
    # The pupils' census rows all load: only their attendance is held back.
    assert outcomes["pupilonroll"].rows_loaded == 6
    staged = con.execute("SELECT sen_provision, enrol_status, sessions_possible, "
                         "sessions_authorised + sessions_unauthorised FROM "
                         "stage.census_attendance ORDER BY row_number").fetchall()
    assert staged == [("E", "C", 140, 16), ("K", "S", 40, 2)]  # Ann, Dan at the PRU


def test_sen_attendance_table_in_the_wrong_format_is_rejected_whole(con, tmp_path):
    """Every exclusion's category is written out in words: one message, the file rejected,
    the rest of the export loaded."""
    exclusions = [(p, d, "Suspension", s) for p, d, _, s in EXCLUSIONS]
    write_export(tmp_path / "landing" / "census", exclusions=exclusions)
    outcomes = load_landing(con, tmp_path)
    assert outcomes["termlyexclusionsonroll"].status == "rejected"
    assert outcomes["termlyexclusionsonroll"].message.endswith(
        "is not in the census format: all 5 rows fail the rule 'category is an exclusion "
        "category (PERM, SUSP, FIXD, LNCH)' (expected columns: termlyexclusionstableid, "
        "pupilonrolltableid, startdate, category)")
    assert outcomes["pupilonroll"].status == "loaded"
    assert outcomes["termlysessiondetailsonroll"].status == "loaded"
    assert not store.table_exists(con, "stage.census_exclusions")


def test_sen_attendance_a_reissued_export_replaces_its_schools_attendance(con, tmp_path):
    write_export(tmp_path / "landing" / "census")
    load_landing(con, tmp_path)
    reissue = tmp_path / "landing" / "census" / "v2"
    paths = write_export(reissue, sessions=[(0, "I", 20)])
    for t in ("termlyexclusions",):
        paths[t].unlink()
    load_landing(con, tmp_path, "run-2")
    assert con.execute("SELECT sessions_possible, sessions_authorised FROM "
                       "stage.census_attendance WHERE sen_provision = 'E'").fetchall() == [
        (140, 20)]
    assert con.execute("SELECT count(*), sum(sessions_authorised + sessions_unauthorised) "
                       "FROM stage.census_attendance").fetchall() == [(6, 20)]


def _attendance(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={
        "census_date": pl.Date, "laestab": pl.Utf8, "pupil_id": pl.Utf8,
        "sen_provision": pl.Utf8, "birth_year": pl.Int32, "birth_month": pl.Int32,
        "sessions_possible": pl.Int32, "sessions_authorised": pl.Int32,
        "sessions_unauthorised": pl.Int32}, orient="row")


def _exclusions(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={
        "census_date": pl.Date, "laestab": pl.Utf8, "pupil_id": pl.Utf8,
        "sen_provision": pl.Utf8, "start_date": pl.Date, "category": pl.Utf8}, orient="row")


def test_sen_attendance_cohort_terms_and_exclusions_counted_once():
    """Summer census 2025 (spring term 2024/25) and autumn census 2025 (summer 2024/25).
    A four-year-old (born September 2019: 4 on 31 August 2024) and a pupil with no possible
    sessions are outside the cohort; a 15-year-old (born September 2008) is in it. One
    suspension is reported by two censuses and counts once."""
    may, october = dt.date(2025, 5, 15), dt.date(2025, 10, 2)
    attendance = _attendance([
        (may, "8652001", "a", "K", 2015, 3, 120, 10, 2),    # 10%: persistent
        (may, "8652001", "b", "N", 2019, 9, 120, 60, 0),    # aged 4: not in the cohort
        (may, "8652001", "c", "N", 2008, 9, 120, 0, 11),    # aged 15: 9.2%, not persistent
        (may, "8652001", "d", "E", 2012, 1, 0, 0, 0),       # no possible sessions
        (october, "8652001", "a", "K", 2015, 3, 70, 0, 0),  # summer 2024/25
    ])
    exclusions = _exclusions([
        (may, "8652001", "a", "K", dt.date(2025, 1, 20), "suspension"),
        (october, "8652001", "a", "K", dt.date(2025, 1, 20), "suspension"),  # the same one
        (october, "8652001", "a", "K", dt.date(2025, 4, 20), "suspension"),  # Easter Sunday
        (october, "8652001", "c", "N", dt.date(2025, 4, 21), "permanent"),   # Easter Monday
    ])
    t = sen_attendance(attendance, exclusions, "test", dt.date(2025, 10, 2))
    assert set(zip(t["academic_year"], t["term"], strict=True)) == {("2024/25", "spring"),
                                                                     ("2024/25", "summer")}
    assert row(t, "2024/25", "spring", "all", *ABSENCE) == (2, 2, 240, 23, 9.6, 1, 50.0)
    assert row(t, "2024/25", "spring", "sen_support", *EXCLUDED) == (2, 1, 0, 200.0)
    assert row(t, "2024/25", "summer", "no_sen", "pupils", *EXCLUDED) == (1, 0, 0, 1, 0.0)
    assert row(t, "2024/25", "summer", "sen_support", "enrolments", "absence_rate_pct",
               "persistent_absence_pct") == (1, 0.0, 0.0)
    assert row(t, "2024/25", "spring", "ehcp", "pupils", "enrolments", "absence_rate_pct",
               "suspension_rate") == (0, 0, None, None)


def test_sen_attendance_is_empty_without_blade_attendance():
    t = sen_attendance(None, None, "school census", dt.date(2026, 1, 15))
    assert t.height == 0
    assert {"academic_year", "term", "sen_status", "pupils", "absence_rate_pct",
            "persistent_absence_pct", "suspensions", "pupils_suspended",
            "permanent_exclusions", "as_of", "definition", "source"} <= set(t.columns)


def test_sen_attendance_terms_by_the_dfes_dates():
    assert [easter_sunday(y) for y in (2023, 2024, 2025, 2026)] == [
        dt.date(2023, 4, 9), dt.date(2024, 3, 31), dt.date(2025, 4, 20), dt.date(2026, 4, 5)]
    starts, terms = exclusion_terms(pl.Series([
        dt.date(2024, 7, 31), dt.date(2024, 8, 1), dt.date(2024, 12, 31), dt.date(2025, 1, 1),
        dt.date(2024, 3, 31), dt.date(2024, 4, 1)]))
    assert list(zip(starts, terms, strict=True)) == [
        (2023, "summer"), (2024, "autumn"), (2024, "autumn"), (2024, "spring"),
        (2023, "spring"), (2023, "summer")]


# Pupils beyond handmade's five: leavers, a year 11, a pupil who moved.
FAY, GUS, HAL, IVY, KIM = (handmade.upn("865", "2001", 15, i) for i in (7, 8, 9, 10, 11))
# Not a UPN: the check letter is wrong.
BAD_UPN = ("B" if handmade.PUPIL_UPNS[0][0] != "B" else "C") + handmade.PUPIL_UPNS[0][1:]


def write_autumn_2023(folder) -> dict:
    """The census before the hand-made spring 2024 one (5 October 2023), pupils and one
    exclusion only: where the spring census's leavers' SEN status is found. Eve is still
    at the school 8652001 (on SEN support); Fay (SEN support) there too; Gus (EHC plan) at
    the PRU, with a suspension of 5 June 2023 (summer 2022/23) the spring census repeats."""
    u, day = handmade.PUPIL_UPNS, "05/10/2023"
    rows = [f"{day},8652001,100001,{u[0]},Smith,Ann,01/05/2015,F,3,C,E,ASD,,0",
            f"{day},8652001,100001,{u[1]},Jones,Bob,01/06/2015,M,3,C,K,SLCN,,1",
            f"{day},8652001,100001,{u[2]},Brown,Cat,01/07/2015,F,3,C,N,,,0",
            f"{day},8652001,100001,{u[4]},Green,Eve,01/09/2013,F,5,C,K,SEMH,,1",
            f"{day},8652001,100001,{FAY},Black,Fay,01/03/2016,F,2,C,K,SLCN,,0",
            f"{day},8651100,100002,{GUS},Grey,Gus,01/10/2008,M,10,C,E,SEMH,,0"]
    paths = handmade.write_census_blade(folder, rows, day="2023-10-05",
                                        tables=("schoolcensus", "pupilonroll", "fsmperiod"))
    ids = pl.read_csv(paths["pupilonroll"], infer_schema=False)["pupilonrolltableid"]
    write_exclusions(paths, "termlyexclusionsonroll", ids.to_list(),
                     [(5, "2023-06-05", "SUSP", "E")])
    return paths


def write_export_with_leavers(folder) -> dict:
    """The hand-made spring 2024 export with the module docstring's leavers, their
    sessions and exclusions (`leaver_ids`: their pupilnolongeronrolltableid)."""
    paths = write_export(folder)
    paths["pupilnolongeronroll"] = write_leavers(
        paths, [("8652001", handmade.PUPIL_UPNS[4], "2013-09-01", "2023-11-10"),
                ("8652001", FAY, "2016-03-01", "2023-11-24"),
                ("8651100", GUS, "2008-10-01", "2023-11-06"),
                ("8651100", HAL, "2011-05-01", "2023-12-01"),
                ("8652001", BAD_UPN, "2015-02-01", "2023-10-20")],
        termlysessionspossible=["20.0", "80.0", "60.0", "30.0", "50.0"])
    ids = [f"l{i:07x}-abc" for i in range(5)]
    paths["termlysessiondetailsoffroll"] = write_details(
        paths, "termlysessiondetailsoffroll", ids,
        [(0, "G", 4), (1, "I", 6), (1, "U", 6), (2, "E", 10), (4, "I", 5)])
    paths["termlyexclusionsoffroll"] = write_exclusions(
        paths, "termlyexclusionsoffroll", ids,
        [(2, "2023-06-05", "SUSP", ""), (2, "2023-11-06", "PERM", "")])
    return {**paths, "leaver_ids": ids}


def test_sen_attendance_counts_leavers_as_enrolments_of_their_status(con, tmp_path):
    """Leavers in the spring 2024 census, after the autumn 2023 census that gives their SEN
    status (the module docstring works out the table)."""
    write_autumn_2023(tmp_path / "landing" / "census" / "autumn")
    load_landing(con, tmp_path)
    paths = write_export_with_leavers(tmp_path / "landing" / "census" / "spring")
    leaver_ids = paths["leaver_ids"]
    outcomes = load_landing(con, tmp_path, "run-2")
    assert {t: (o.status, o.rows_read, o.rows_loaded, o.rows_quarantined)
            for t, o in outcomes.items() if "offroll" in t or "nolonger" in t} == {
        "pupilnolongeronroll": ("loaded", 5, 4, 1),
        "termlysessiondetailsoffroll": ("loaded", 5, 4, 1),
        "termlyexclusionsoffroll": ("loaded", 2, 2, 0)}
    assert quarantine(con, outcomes["pupilnolongeronroll"]) == [
        (6, "upn", "is a valid UPN (check letter and LA number)",
         quarantine(con, outcomes["pupilnolongeronroll"])[0][3])]
    assert BAD_UPN not in str(quarantine(con, outcomes["pupilnolongeronroll"]))
    assert quarantine(con, outcomes["termlysessiondetailsoffroll"]) == [
        (6, "pupilnolongeronrolltableid",
         "links to a pupilnolongeronroll row that is missing or quarantined", leaver_ids[4])]
    # Leavers are no census rows: stage.census has the spring census's six pupil rows.
    assert con.execute("SELECT count(*) FROM stage.census WHERE census_date = "
                       "'2024-01-18'").fetchall() == [(6,)]
    leavers = con.execute(
        "SELECT row_number, laestab, enrol_status, sen_provision, sessions_possible, "
        "sessions_authorised + sessions_unauthorised, pupilonroll_sha256, sessions_period "
        "FROM stage.census_attendance WHERE NOT on_roll ORDER BY 1").fetchall()
    left = outcomes["pupilnolongeronroll"].sha256
    assert leavers == [(2, "8652001", None, None, 20, 4, left, "term"),
                       (3, "8652001", None, None, 80, 12, left, "term"),
                       (4, "8651100", None, None, 60, 10, left, "term"),
                       (5, "8651100", None, None, 30, 0, left, "term")]
    columns = {n for (n,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name IN "
        "('census_attendance', 'census_exclusions')").fetchall()}
    assert not {"upn", "dob", "surname", "forename", "pupilnolongeronrolltableid"} & columns
    # Eve on roll at the PRU (row 7 of pupilonroll) and a leaver of 8652001 (row 2 of
    # pupilnolongeronroll): two enrolments, one pupil.
    assert con.execute("SELECT count(DISTINCT pupil_id), count(*) FROM stage.census_attendance "
                       "WHERE census_date = '2024-01-18' AND ((on_roll AND row_number = 7) OR "
                       "(NOT on_roll AND row_number = 2))").fetchall() == [(1, 2)]
    census = census_rows(con)
    t = sen_attendance(optional(con, "stage.census_attendance"),
                       optional(con, "stage.census_exclusions"), "test", dt.date(2024, 1, 18),
                       census=census)
    autumn = {s: row(t, "2023/24", "autumn", s, *ABSENCE, *EXCLUDED, "permanent_exclusion_rate")
              for s in ("ehcp", "sen_support", "no_sen", "unknown", "all")}
    assert autumn == {
        "ehcp": (2, 2, 200, 26, 13.0, 2, 100.0, 0, 0, 1, 0.0, 50.0),
        "sen_support": (5, 4, 420, 51, 12.1, 3, 60.0, 2, 1, 0, 50.0, 0.0),
        "no_sen": (2, 2, 240, 10, 4.2, 1, 50.0, 1, 1, 0, 50.0, 0.0),
        "unknown": (1, 1, 30, 0, 0.0, 0, 0.0, 0, 0, 0, 0.0, 0.0),
        "all": (10, 8, 890, 87, 9.8, 6, 60.0, 3, 2, 1, 37.5, 12.5)}
    assert row(t, "2022/23", "summer", "ehcp", "pupils", *EXCLUDED) == (2, 1, 1, 1, 50.0)
    assert row(t, "2022/23", "summer", "all", "pupils", *EXCLUDED) == (2, 1, 1, 1, 50.0)
    # Only the term with an unknown leaver has an `unknown` row.
    assert t.filter(pl.col("sen_status") == "unknown")["term"].to_list() == ["autumn"]
    # Without the census before, every leaver's status is unknown (Gus's exclusions too).
    alone = sen_attendance(optional(con, "stage.census_attendance"),
                           optional(con, "stage.census_exclusions"), "test",
                           dt.date(2024, 1, 18))
    assert row(alone, "2023/24", "autumn", "unknown", "enrolments", "pupils",
               "permanent_exclusions") == (4, 4, 1)
    # A leaver's enrolment is traced to their pupilnolongeronroll row.
    records = attendance_records(optional(con, "stage.census_attendance"),
                                 optional(con, "stage.census_exclusions"), census).filter(
        (pl.col("sen_status") == "ehcp") & (pl.col("term") == "autumn"))
    assert records.select("kind", "laestab", "possible", "sha256", "row_number").sort(
        "kind", "row_number").rows() == [
        ("enrolment", "8652001", 140, paths_sha(paths["pupilonroll"]), 2),
        ("enrolment", "8651100", 60, left, 4),
        ("permanent", "8651100", None, outcomes["termlyexclusionsoffroll"].sha256, 3)]


def paths_sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sen_attendance_summer_term_has_its_second_half_but_for_pupils_aged_15(con, tmp_path):
    """An autumn census's summer half-term 2 sessions, on roll and of a leaver, but a
    15-year-old's (the module docstring works out the table)."""
    u, day = handmade.PUPIL_UPNS, "03/10/2024"
    rows = [f"{day},8652001,100001,{u[0]},Smith,Ann,01/05/2015,F,4,C,E,ASD,,0",
            f"{day},8652001,100001,{u[1]},Jones,Bob,01/06/2015,M,4,C,K,SLCN,,1",
            f"{day},8654001,100003,{IVY},Blue,Ivy,01/11/2007,F,12,C,N,,,0"]
    folder = tmp_path / "landing" / "census"
    paths = handmade.write_census_blade(folder, rows, day="2024-10-03",
                                        tables=("schoolcensus", "pupilonroll", "fsmperiod"))
    ids = add_columns(paths["pupilonroll"], termlysessionspossible=["60.0"] * 3,
                      summerhalfterm2sessionspossible=["50.0"] * 3)
    write_details(paths, "termlysessiondetailsonroll", ids, [(0, "I", 6), (2, "U", 3)])
    write_details(paths, "summerhalfterm2sessiondetailsonroll", ids,
                  [(0, "I", 4), (0, "M", 1), (1, "G", 10), (2, "I", 40)])
    write_leavers(paths, [("8652001", KIM, "2014-01-01", "2024-06-28")],
                  termlysessionspossible=["60.0"], summerhalfterm2sessionspossible=["20.0"])
    kim = ["l0000000-abc"]
    write_details(paths, "termlysessiondetailsoffroll", kim, [(0, "I", 12)])
    write_details(paths, "summerhalfterm2sessiondetailsoffroll", kim, [(0, "O", 4)])
    outcomes = load_landing(con, tmp_path)
    assert {t: (o.status, o.rows_loaded, o.rows_quarantined) for t, o in outcomes.items()
            if "session" in t} == {
        "termlysessiondetailsonroll": ("loaded", 2, 0),
        "summerhalfterm2sessiondetailsonroll": ("loaded", 4, 0),
        "termlysessiondetailsoffroll": ("loaded", 1, 0),
        "summerhalfterm2sessiondetailsoffroll": ("loaded", 1, 0)}
    assert con.execute(
        "SELECT on_roll, sessions_period, sessions_possible, "
        "sessions_authorised + sessions_unauthorised FROM stage.census_attendance "
        "ORDER BY on_roll DESC, row_number, sessions_period").fetchall() == [
        (True, "summer_half_term_2", 50, 5), (True, "term", 60, 6),
        (True, "summer_half_term_2", 50, 10), (True, "term", 60, 0),
        (True, "summer_half_term_2", 50, 40), (True, "term", 60, 3),
        (False, "summer_half_term_2", 20, 4), (False, "term", 60, 12)]
    t = sen_attendance(optional(con, "stage.census_attendance"),
                       optional(con, "stage.census_exclusions"), "test", dt.date(2024, 10, 3),
                       census=census_rows(con))
    assert {s: row(t, "2023/24", "summer", s, *ABSENCE)
            for s in ("ehcp", "sen_support", "no_sen", "unknown", "all")} == {
        "ehcp": (1, 1, 110, 11, 10.0, 1, 100.0),
        "sen_support": (1, 1, 110, 10, 9.1, 0, 0.0),
        "no_sen": (1, 1, 60, 3, 5.0, 0, 0.0),
        "unknown": (1, 1, 80, 16, 20.0, 1, 100.0),
        "all": (4, 4, 360, 40, 11.1, 2, 50.0)}
    # No exclusions table: the term's exclusions are not known.
    assert row(t, "2023/24", "summer", "all", "suspensions") == (None,)
    # The same enrolment once, however many of its halves: the records are 4 (and 4 again
    # as `all`), each traced to its pupil's row.
    records = attendance_records(optional(con, "stage.census_attendance"), None,
                                 census_rows(con)).filter(pl.col("sen_status") != "all")
    assert records.select("possible", "missed", "row_number").sort("row_number",
                                                                   "possible").rows() == [
        (80, 16, 2), (110, 11, 2), (110, 10, 3), (60, 3, 4)]


def test_sen_attendance_a_reissued_export_replaces_its_leavers_too(con, tmp_path):
    """The spring 2024 export with leavers, loaded twice (the second time nothing is new),
    then its leavers' sessions re-issued (Fay's I 6 + U 6 corrected to I 2): the export's
    other tables come from the archive as a corrected table's do, and its schools' leaver
    rows are replaced, not added to."""
    paths = write_export_with_leavers(tmp_path / "landing" / "census" / "v1")
    first = load_landing(con, tmp_path)
    counts = ("SELECT on_roll, count(*), sum(sessions_authorised + sessions_unauthorised) "
              "FROM stage.census_attendance GROUP BY 1 ORDER BY 1")
    assert con.execute(counts).fetchall() == [(False, 4, 26), (True, 6, 61)]
    assert load_landing(con, tmp_path, "run-2") == {}
    fix = tmp_path / "landing" / "census" / "v2" / paths["termlysessiondetailsoffroll"].name
    fix.parent.mkdir()
    write_details({"schoolcensus": fix.parent / paths["schoolcensus"].name},
                  "termlysessiondetailsoffroll", paths["leaver_ids"],
                  [(0, "G", 4), (1, "I", 2), (2, "E", 10), (4, "I", 5)])
    again = load_landing(con, tmp_path, "run-3")
    assert again["termlysessiondetailsoffroll"].status == "loaded"
    assert con.execute(counts).fetchall() == [(False, 4, 16), (True, 6, 61)]
    assert con.execute("SELECT on_roll, count(*) FROM stage.census_exclusions GROUP BY 1 "
                       "ORDER BY 1").fetchall() == [(False, 2), (True, 5)]
    assert con.execute("SELECT status FROM audit.files WHERE sha256 = ?",
                       [first["termlysessiondetailsoffroll"].sha256]).fetchall() == [
        ("superseded",)]
