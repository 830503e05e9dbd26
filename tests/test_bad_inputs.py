"""A corpus of bad inputs, each loaded through the real loader (warehouse.loads) from a real file.

Every case checks the specific message a user would read (the file's rejection reason, or the
quarantine's row, column and rule), that the good rows of the same file still reach their
staging table, and that the quarantine never holds a raw UPN, name or date of birth.
Cases marked xfail are pipeline behaviour that is wrong today (see each reason).
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from schemas.contracts import CENSUS, SEN2_MODULES
from tests import handmade
from tests.conftest import archive_at
from transforms.sen2 import module_of
from warehouse import loads, store
from warehouse.archive import sha256_of

KEY = b"k" * 32
U = handmade.PUPIL_UPNS
NEW = [handmade.upn("865", "2001", 15, n) for n in range(7, 20)]  # valid UPNs not in the file
H = handmade.CENSUS_HEADER
PERSONAL = CENSUS.personal.union(*(c.personal for c in SEN2_MODULES.values()))
UPN_LIKE = re.compile(r"[A-Z]\d{11}[0-9A-Z]", re.IGNORECASE)
NAMES = ("Smith", "Jones", "Brown", "White", "Green", "O’Brien", "Surname", "Kit", "SN1 1AA")


# ------------------------------------------------------------------------------------------
# Helpers: write a file, load it, read what the loader recorded
# ------------------------------------------------------------------------------------------

@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "warehouse.duckdb")
    yield c
    c.close()


def write(tmp_path: Path, source: str, name: str, content: str | bytes,
          encoding: str = "utf-8") -> Path:
    """A file in the landing folder's source subfolder."""
    folder = tmp_path / "landing" / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def csv_text(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def load(con, tmp_path: Path, source: str, *paths: Path) -> list[loads.FileOutcome]:
    """Load files as one batch (a SEN2 export is one batch of its module files)."""
    files = [loads.LandedFile(source, p, sha256_of(p)) for p in paths]
    return loads.load_batch(con, files, KEY, "run-1", archive_at(tmp_path))


def load_one(con, tmp_path, source, name, content, encoding="utf-8") -> loads.FileOutcome:
    [outcome] = load(con, tmp_path, source, write(tmp_path, source, name, content, encoding))
    return outcome


def quarantine(con, outcome: loads.FileOutcome) -> list[tuple]:
    """(row_number, column_name, rule, value_masked) of a file, in row order."""
    return con.execute("SELECT row_number, column_name, rule, value_masked FROM audit.quarantine "
                       "WHERE sha256 = ? ORDER BY row_number, column_name, rule",
                       [outcome.sha256]).fetchall()


def staged(con, table: str, outcome: loads.FileOutcome | None = None) -> int:
    """Rows in a staging table (of one file when given); 0 when nothing ever created it."""
    if not store.table_exists(con, table):
        return 0
    if outcome is None:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return con.execute(f"SELECT count(*) FROM {table} WHERE sha256 = ?",
                       [outcome.sha256]).fetchall()[0][0]


def staged_rows(con, table: str, outcome: loads.FileOutcome) -> list[int]:
    return [r[0] for r in con.execute(f"SELECT row_number FROM {table} WHERE sha256 = ? "
                                      "ORDER BY row_number", [outcome.sha256]).fetchall()]


def assert_private(q: list[tuple]) -> None:
    """No raw UPN, name, postcode or date of birth in the quarantine's values."""
    for _, column, _, value in q:
        assert not UPN_LIKE.search(value or ""), value
        assert not any(n in (value or "") for n in NAMES), value
        if column in PERSONAL:
            assert value == "<blank>" or value.startswith("<withheld: "), (column, value)


def assert_loaded(con, o: loads.FileOutcome, table: str, loaded: int, quarantined: int) -> None:
    """The file loaded, its good rows are staged and every row read is accounted for."""
    assert (o.status, o.rows_loaded, o.rows_quarantined) == ("loaded", loaded, quarantined)
    assert o.rows_read == loaded + quarantined
    assert staged(con, table, o) == loaded
    assert_private(quarantine(con, o))


def assert_rejected(con, o: loads.FileOutcome, message: str, table: str) -> None:
    assert (o.status, o.message) == ("rejected", message)
    assert staged(con, table, o) == 0
    assert quarantine(con, o) == []
    status = con.execute("SELECT status, message FROM audit.files WHERE sha256 = ?",
                         [o.sha256]).fetchall()
    assert status == [("rejected", message)]


def reasons(q: list[tuple]) -> set[tuple]:
    """(row_number, column_name, rule) of quarantine rows."""
    return {r[:3] for r in q}


# ------------------------------------------------------------------------------------------
# Census
# ------------------------------------------------------------------------------------------

def pupil(upn: str, *, day: str = "18/01/2024", dob: str = "01/05/2015", sex: str = "F",
          nc: str = "3", enrol: str = "C", prov: str = "N", need: str = "", fsm: str = "0",
          surname: str = "Smith", laestab: str = "8652001", urn: str = "100001") -> str:
    """One census line in handmade.CENSUS_HEADER order."""
    return ",".join([day, laestab, urn, upn, surname, "Ann", dob, sex, nc, enrol, prov, need, "",
                     fsm])


GOOD = handmade.census_rows()  # 6 valid rows: file rows 2-7
CENSUS_T = "stage.census"
NC_RULE = "is an NC year (E1, E2, N1, N2, R, 1-14 or X)"
NEED_RULE = ("is a need code (ASD, HI, MLD, MSI, OTH, PD, PMLD, SEMH, SLCN, SLD, SPLD, VI, "
             "NSA, DS, BESD)")
DATE_RULE = "is a date (yyyy-mm-dd, dd/mm/yyyy or yyyy-Mon-dd)"
ONE_CENSUS = "is the file's census date (one census a file)"


def load_census(con, tmp_path, rows, header=H, name="spring 2024.csv", encoding="utf-8"):
    return load_one(con, tmp_path, "census", name, csv_text(header, rows), encoding)


def test_census_missing_required_columns_rejected_naming_them(con, tmp_path):
    """Census without UPN and FSMeligible: the whole file is rejected, naming both."""
    header = H.replace("UPN,", "").replace(",FSMeligible", "")
    rows = [",".join(r.split(",")[:3] + r.split(",")[4:13]) for r in GOOD]
    o = load_census(con, tmp_path, rows, header=header)
    assert_rejected(con, o, "spring 2024.csv lacks required columns upn, fsm_eligible",
                    CENSUS_T)


@pytest.mark.parametrize("content", [b"", b"\r\n  \n"], ids=["zero-bytes", "blank-lines"])
def test_empty_file_rejected(con, tmp_path, content):
    """A zero-byte or blank-lines-only census file is rejected as empty."""
    o = load_one(con, tmp_path, "census", "spring 2024.csv", content)
    assert_rejected(con, o, "spring 2024.csv is empty", CENSUS_T)


def _pdf() -> bytes:
    stream = zlib.compress(b"BT /F1 24 Tf 100 700 Td (SEN census report) Tj ET\n" * 20)
    return (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"4 0 obj\n<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\n"
            b"stream\n" + stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def test_pdf_saved_as_csv_rejected(con, tmp_path):
    """A PDF report renamed to .csv is rejected as binary, not read as a strange header."""
    o = load_one(con, tmp_path, "census", "census.csv", _pdf())
    assert_rejected(con, o, "census.csv is not a CSV file (it contains binary data)", CENSUS_T)


def test_docx_extension_rejected(con, tmp_path):
    """A Word document in census/ is rejected by its extension."""
    o = load_one(con, tmp_path, "census", "census notes.docx", b"PK\x03\x04\x14\x00\x06\x00")
    assert_rejected(con, o, "census notes.docx is not a CSV or XLSX file (extension '.docx')",
                    CENSUS_T)


def test_header_only_rejected(con, tmp_path):
    """A census with its header and no rows is rejected, not loaded as an empty census."""
    o = load_census(con, tmp_path, [])
    assert_rejected(con, o, "spring 2024.csv has a header but no rows", CENSUS_T)


def test_truncated_last_line_quarantined_with_its_row_number(con, tmp_path):
    """A file cut off mid-line: the short last record is quarantined, the rest load."""
    text = csv_text(H, GOOD) + pupil(NEW[0])[:60]  # no newline: the copy stopped here
    o = load_one(con, tmp_path, "census", "spring 2024.csv", text)
    assert_loaded(con, o, CENSUS_T, 6, 1)
    fields = pupil(NEW[0])[:60].count(",") + 1
    assert quarantine(con, o) == [
        (8, "(whole row)", f"has {fields} fields where the header has 14 (a truncated or "
                           "misaligned line)", f"<{fields} fields>")]


def test_line_with_too_many_fields_quarantined_with_its_row_number(con, tmp_path):
    """An unquoted comma in a surname shifts the line: quarantined by row, others load."""
    rows = [*GOOD[:2], pupil(NEW[0], surname="Smith, Jr"), *GOOD[2:]]
    o = load_census(con, tmp_path, rows)
    assert_loaded(con, o, CENSUS_T, 6, 1)
    assert quarantine(con, o) == [
        (4, "(whole row)", "has 15 fields where the header has 14 (a truncated or misaligned "
                           "line)", "<15 fields>")]
    assert staged_rows(con, CENSUS_T, o) == [2, 3, 5, 6, 7, 8]


def test_exact_duplicate_row_loads_once(con, tmp_path):
    """The same line twice: the first loads, the repeat is quarantined."""
    o = load_census(con, tmp_path, [*GOOD, GOOD[1]])
    assert_loaded(con, o, CENSUS_T, 6, 1)
    assert reasons(quarantine(con, o)) == {(8, "upn", "repeats an identical earlier row")}


def test_same_pupil_on_roll_twice_quarantines_both_registrations(con, tmp_path):
    """One UPN on roll (C) at two schools: neither registration can be trusted."""
    rows = [*GOOD, pupil(U[2], laestab="8651100", urn="100002")]
    o = load_census(con, tmp_path, rows)
    assert_loaded(con, o, CENSUS_T, 5, 2)
    rule = "is on roll twice (two sole or main registrations) in this census"
    assert reasons(quarantine(con, o)) == {(4, "upn", rule), (8, "upn", rule)}


@pytest.mark.parametrize("row,column,rule,shown", [
    pytest.param(pupil(NEW[0], prov="K", need="AUT"), "primary_sen_need", NEED_RULE, "AUT",
                 id="unknown-need-code"),
    pytest.param(pupil(NEW[0], nc="15"), "nc_year_actual", NC_RULE, "15",
                 id="nc-year-out-of-range"),
    pytest.param(pupil(NEW[0], dob="01/06/2022", nc="N1"), "date_of_birth",
                 "pupil aged 2-25 on census day", "<withheld: 10 characters>",
                 id="pupil-aged-1"),
    pytest.param(pupil(NEW[0], dob="12/31/2014"), "date_of_birth", DATE_RULE,
                 "<withheld: 10 characters>", id="us-month-first-date"),
    pytest.param(pupil(NEW[0], day="16/05/2024"), "census_date", ONE_CENSUS, "16/05/2024",
                 id="second-census-date"),
])
def test_census_bad_value_quarantined_with_its_rule(con, tmp_path, row, column, rule, shown):
    """One bad census row (need code, NC year, age, US date, second census date)."""
    o = load_census(con, tmp_path, [*GOOD, row])
    assert_loaded(con, o, CENSUS_T, 6, 1)
    assert quarantine(con, o) == [(8, column, rule, shown)]
    assert o.period == "2024-01-18"


def test_census_whose_every_row_fails_one_rule_is_rejected_as_the_wrong_format(con, tmp_path):
    """Every row's sex written as a word (another system's codes): one message for the file,
    naming the rule and the columns the census takes, not a quarantine row per pupil."""
    rows = [pupil(U[0], sex="Female"), pupil(U[1], sex="Male"), pupil(U[2], sex="Female")]
    o = load_census(con, tmp_path, rows)
    assert_rejected(con, o, "spring 2024.csv is not in the census format: all 3 rows fail the "
                    "rule 'sex is a sex code (M, F)' (expected columns: census_date, laestab, "
                    "urn, upn, date_of_birth, sex, nc_year_actual, enrol_status, sen_provision, "
                    "fsm_eligible)", CENSUS_T)


def test_file_whose_rows_fail_different_rules_is_quarantined_row_by_row(con, tmp_path):
    """Two bad rows, each for its own reason: the file is read, both rows are quarantined."""
    o = load_census(con, tmp_path, [pupil(U[0], sex="Female"), pupil(U[1], nc="99")])
    assert_loaded(con, o, CENSUS_T, 0, 2)
    assert reasons(quarantine(con, o)) == {(2, "sex", "is a sex code (M, F)"),
                                           (3, "nc_year_actual", NC_RULE)}


def test_census_date_in_the_future_quarantined(con, tmp_path):
    """A row dated 2034 in a 2024 census: in the future and not the file's census date."""
    o = load_census(con, tmp_path, [*GOOD, pupil(NEW[0], day="18/01/2034")])
    assert_loaded(con, o, CENSUS_T, 6, 1)
    assert reasons(quarantine(con, o)) == {(8, "census_date", "is not in the future"),
                                           (8, "census_date", ONE_CENSUS)}


def test_census_split_evenly_between_two_dates_is_rejected(con, tmp_path):
    """Three rows dated January and three dated May: no census date can be trusted."""
    rows = [r.replace("18/01/2024", "16/05/2024") if i >= 3 else r for i, r in enumerate(GOOD)]
    o = load_census(con, tmp_path, rows)
    assert o.rows_loaded == 0 and staged(con, CENSUS_T) == 0
    assert o.status == "rejected"
    assert "18/01/2024" in o.message and "16/05/2024" in o.message


def test_legacy_provision_codes_after_2015_quarantined(con, tmp_path):
    """S, A and P in a 2016 census are quarantined; E, K and N rows load."""
    day, dob = "21/01/2016", "01/05/2008"
    rows = [pupil(U[0], day=day, dob=dob, prov="E", need="ASD"),
            pupil(U[1], day=day, dob=dob, prov="K", need="MLD"),
            pupil(U[2], day=day, dob=dob), pupil(NEW[0], day=day, dob=dob, prov="S", need="ASD"),
            pupil(NEW[1], day=day, dob=dob, prov="A", need="MLD"),
            pupil(NEW[2], day=day, dob=dob, prov="P", need="SLCN")]
    o = load_census(con, tmp_path, rows, name="spring 2016.csv")
    assert_loaded(con, o, CENSUS_T, 3, 3)
    rule = "legacy code S, A or P only before 2015"
    assert quarantine(con, o) == [(5, "sen_provision", rule, "S"), (6, "sen_provision", rule, "A"),
                                  (7, "sen_provision", rule, "P")]


def test_legacy_codes_before_2015_load_and_map(con, tmp_path):
    """Spring 2014: S, A, P and BESD load; BESD becomes SEMH, S becomes E, A and P become K."""
    day = "16/01/2014"
    rows = [pupil(U[0], day=day, dob="01/05/2006", prov="S", need="BESD"),
            pupil(U[1], day=day, dob="01/05/2006", prov="A", need="besd"),
            pupil(U[2], day=day, dob="01/05/2006", prov="P", need="MLD")]
    o = load_census(con, tmp_path, rows, name="spring 2014.csv")
    assert_loaded(con, o, CENSUS_T, 3, 0)
    got = con.execute("SELECT sen_provision_code, sen_provision, primary_need FROM stage.census "
                      "ORDER BY row_number").fetchall()
    assert got == [("S", "E", "SEMH"), ("A", "K", "SEMH"), ("P", "K", "MLD")]


def test_mixed_date_formats_load_with_a_note(con, tmp_path):
    """dd/mm/yyyy and yyyy-mm-dd in one file: every row loads, day first, and it is noted."""
    rows = [*GOOD[:3], pupil(NEW[0], day="2024-01-18", dob="2015-06-03"),
            pupil(NEW[1], dob="03/06/2015")]
    o = load_census(con, tmp_path, rows)
    assert_loaded(con, o, CENSUS_T, 5, 0)
    assert o.message == (
        "census_date has dates written in more than one format (yyyy-mm-dd and dd/mm/yyyy); "
        "all were read as day-month-year, never month-first; date_of_birth has dates written "
        "in more than one format (yyyy-mm-dd and dd/mm/yyyy); all were read as day-month-year, "
        "never month-first")
    got = con.execute("SELECT DISTINCT census_date::VARCHAR FROM stage.census").fetchall()
    assert got == [("2024-01-18",)]
    months = con.execute("SELECT birth_month FROM stage.census WHERE row_number >= 5 "
                         "ORDER BY row_number").fetchall()
    assert months == [(6,), (6,)]  # 03/06/2015 is 3 June, never 6 March


def test_a_file_mixing_utf8_and_windows_1252_is_rejected_whole(con, tmp_path):
    """Lines pasted from two exports: O’Brien in Windows-1252, Zoë in UTF-8. Read as
    Windows-1252 the UTF-8 letter would become two (Zoë as ZoÃ«), so nothing is read."""
    rows = [r.replace("Brown", "O\x92Brien") if i == 2 else r.replace("Jones", "Zoë")
            if i == 1 else r for i, r in enumerate(GOOD)]
    content = csv_text(H, rows).encode("utf-8").replace(b"\xc2\x92", b"\x92")
    o = load_one(con, tmp_path, "census", "spring 2024.csv", content)
    assert_rejected(con, o, "spring 2024.csv mixes UTF-8 and Windows-1252 text (UTF-8 'ë' at "
                    f"byte {content.index(b'Zo') + 2}, a byte that is not UTF-8 at byte "
                    f"{content.index(b'O' + bytes([0x92])) + 1}): save it again as 'CSV UTF-8 "
                    "(Comma delimited)' and land it again", CENSUS_T)


def test_windows_1252_file_with_a_curly_apostrophe_loads(con, tmp_path):
    """A Windows-1252 export with O’Brien loads; the name itself is never staged."""
    rows = [r.replace("Brown", "O’Brien") for r in GOOD]
    o = load_census(con, tmp_path, rows, encoding="cp1252")
    assert_loaded(con, o, CENSUS_T, 6, 0)
    assert o.message is None
    got = con.execute("SELECT encoding FROM audit.files WHERE sha256 = ?", [o.sha256]).fetchall()
    assert got == [("windows-1252",)]
    columns = {r[0] for r in con.execute("DESCRIBE stage.census").fetchall()}
    assert not columns & {"upn", "surname", "forename", "date_of_birth"}


def test_utf8_with_bom_loads(con, tmp_path):
    """A UTF-8 file with a byte order mark: its first header still matches (no unknown column)."""
    path = write(tmp_path, "census", "spring 2024.csv",
                 b"\xef\xbb\xbf" + csv_text(H, GOOD).encode("utf-8"))
    [o] = load(con, tmp_path, "census", path)
    assert_loaded(con, o, CENSUS_T, 6, 0)
    assert o.message is None
    got = con.execute("SELECT encoding, unknown_columns FROM audit.files WHERE sha256 = ?",
                      [o.sha256]).fetchall()
    assert got == [("utf-8-sig", None)]


def test_renamed_headers_and_an_unknown_column_load_and_are_reported(con, tmp_path):
    """Aliases in any case and spacing (Gender, SENtype ...) load; Ethnicity is reported once."""
    header = ("census date,LA_ESTAB,urn,upn,SURNAME,forename,dob,Gender,nc year actual,"
              "enrol_status,sen provision,SENtype,SecondarySENType,fsm_eligible,Ethnicity")
    o = load_census(con, tmp_path, [r + ",WBRI" for r in GOOD], header=header)
    assert_loaded(con, o, CENSUS_T, 6, 0)
    assert o.message == "1 unknown column(s) ignored: Ethnicity"
    got = con.execute("SELECT unknown_columns FROM audit.files WHERE sha256 = ?",
                      [o.sha256]).fetchall()
    assert got == [("Ethnicity",)]
    needs = con.execute("SELECT primary_need, sex FROM stage.census WHERE row_number = 2"
                        ).fetchall()
    assert needs == [("ASD", "F")]


def test_two_columns_for_one_field_rejected(con, tmp_path):
    """Both Gender and Sex: the file is rejected rather than one silently chosen."""
    header = H + ",Sex"
    o = load_census(con, tmp_path, [r + ",F" for r in GOOD], header=header)
    assert_rejected(con, o, "spring 2024.csv has two columns for sex ('Gender' and 'Sex')",
                    CENSUS_T)


def test_repeated_column_name_rejected(con, tmp_path):
    """Two columns headed URN: rejected naming it, rather than one of them silently used."""
    o = load_census(con, tmp_path, GOOD, header=H.replace("Surname", "URN"))
    assert_rejected(con, o, "spring 2024.csv has repeated column names: URN", CENSUS_T)


def test_empty_rows_skipped_and_counted(con, tmp_path):
    """Lines of bare commas (Excel's empty rows) are skipped, counted in the message."""
    blank = "," * 13
    rows = [*GOOD[:2], blank, *GOOD[2:], blank, pupil(NEW[0], nc="15")]
    o = load_census(con, tmp_path, rows)
    assert_loaded(con, o, CENSUS_T, 6, 1)
    assert o.message == "2 empty row(s) skipped"
    assert reasons(quarantine(con, o)) == {(10, "nc_year_actual", NC_RULE)}  # the file's row


def _census_xlsx(path: Path, rows: list[str], typed: bool = False) -> Path:
    """A census workbook: two blank rows, the header on row 3, data from row 4. `typed`
    writes dates and numbers as Excel date and number cells, as Excel itself would."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Pupils")
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(2, 0, H.split(","))
    for i, line in enumerate(rows, start=3):
        for j, value in enumerate(line.split(",")):
            if not value:
                continue
            if typed and j in (0, 6):
                ws.write_datetime(i, j, dt.datetime.strptime(value, "%d/%m/%Y"), day)
            elif typed and value.isdigit():
                ws.write_number(i, j, int(value))
            else:
                ws.write_string(i, j, value)
    wb.close()
    return path


def test_xlsx_census_with_blank_leading_rows_quarantines_by_sheet_row(con, tmp_path):
    """XLSX with two blank rows above the header: loads; a bad row is reported by its sheet row."""
    folder = tmp_path / "landing" / "census"
    folder.mkdir(parents=True)
    path = _census_xlsx(folder / "spring 2024.xlsx", [*GOOD, pupil(NEW[0], nc="22")])
    [o] = load(con, tmp_path, "census", path)
    assert_loaded(con, o, CENSUS_T, 6, 1)
    assert quarantine(con, o) == [(10, "nc_year_actual", NC_RULE, "22")]  # header on row 3
    assert staged_rows(con, CENSUS_T, o) == [4, 5, 6, 7, 8, 9]


def test_xlsx_census_with_date_and_number_cells_loads(con, tmp_path):
    """XLSX whose dates are date cells and codes number cells loads exactly as the text would."""
    folder = tmp_path / "landing" / "census"
    folder.mkdir(parents=True)
    path = _census_xlsx(folder / "spring 2024.xlsx", GOOD, typed=True)
    [o] = load(con, tmp_path, "census", path)
    assert_loaded(con, o, CENSUS_T, 6, 0)
    got = con.execute("SELECT census_date::VARCHAR, laestab, urn, birth_year, birth_month, "
                      "nc_year, fsm_eligible FROM stage.census ORDER BY row_number").fetchall()
    assert got[0] == ("2024-01-18", "8652001", 100001, 2015, 5, "3", False)
    assert [r[6] for r in got] == [False, True, False, False, False, True]


def test_quoted_line_break_keeps_the_rows_number(con, tmp_path):
    """A quoted surname with a line break in it: its bad row is still reported as row 2."""
    rows = [pupil(NEW[0], nc="22", surname='"Smith\nJones"'), *GOOD[1:]]
    o = load_census(con, tmp_path, rows)
    assert_loaded(con, o, CENSUS_T, 5, 1)
    assert reasons(quarantine(con, o)) == {(2, "nc_year_actual", NC_RULE)}


def test_stray_opening_quote_loses_only_its_own_row(con, tmp_path):
    """A surname typed as `"Jones` (no closing quote): only that row is quarantined."""
    rows = [GOOD[0], GOOD[1].replace("Jones", '"Jones'), *GOOD[2:]]
    o = load_census(con, tmp_path, rows)
    assert_loaded(con, o, CENSUS_T, 5, 1)
    assert [r[:2] for r in quarantine(con, o)] == [(3, "(whole row)")]
    assert staged_rows(con, CENSUS_T, o) == [2, 4, 5, 6, 7]


# ------------------------------------------------------------------------------------------
# SEN2: one export of nine module files (handmade.write_sen2: plans A-F are ids 1-6, each
# module's row for id i is file row i + 1)
# ------------------------------------------------------------------------------------------

def link(parent: str) -> str:
    article = "an" if parent[0] in "aeiou" else "a"
    return f"links to {article} {parent} row that is missing or quarantined"


def sen2_export(tmp_path: Path) -> dict[str, Path]:
    """handmade's valid export, its nine module files by module name."""
    return {module_of(p.name): p for p in handmade.write_sen2(tmp_path / "landing" / "sen2")}


def edit(path: Path, table_id: int, **values: str) -> None:
    """Set cells of the row with this table id (the module's own `*tableid`)."""
    frame = pl.read_csv(path, infer_schema=False)
    key = next(c for c in frame.columns if c.endswith("tableid"))
    row = pl.col(key) == str(table_id)
    frame.with_columns(pl.when(row).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
                       for c, v in values.items()).write_csv(path)


def load_sen2(con, tmp_path, paths) -> dict[str, loads.FileOutcome]:
    """Outcomes by module (by file name for a file that is no module)."""
    outcomes = load(con, tmp_path, "sen2", *paths)
    return {module_of(o.name) or o.name: o for o in outcomes}


def sen2_quarantine(con, outcomes) -> dict[str, set[tuple]]:
    """Quarantine reasons by module, only the modules that have any."""
    out = {m: reasons(quarantine(con, o)) for m, o in outcomes.items()}
    for o in outcomes.values():
        assert_private(quarantine(con, o))
    return {m: q for m, q in out.items() if q}


def assert_sen2_loaded(con, outcomes, quarantined: dict[str, int]) -> None:
    """Every module loaded; 6 rows each (1 for sen2) less those quarantined."""
    for module, o in outcomes.items():
        total = 1 if module == "sen2" else 6
        bad = quarantined.get(module, 0)
        assert (module, o.status, o.rows_quarantined) == (module, "loaded", bad)
        assert (module, o.rows_loaded, o.rows_read) == (module, total - bad, total)
        assert staged(con, f"stage.sen2_{module}", o) == total - bad


def test_sen2_plan_ceased_before_it_started(con, tmp_path):
    """Plan C ceases before its start: the plan and its plan detail are quarantined."""
    paths = sen2_export(tmp_path)
    edit(paths["namedplan"], 3, ceasedate=handmade.blade("2023-01-01"))
    outcomes = load_sen2(con, tmp_path, paths.values())
    assert sen2_quarantine(con, outcomes) == {
        "namedplan": {(4, "ceasedate", "is not before the plan's start")},
        "plandetail": {(4, "namedplantableid", link("namedplan"))},
    }
    assert_sen2_loaded(con, outcomes, {"namedplan": 1, "plandetail": 1})


def test_sen2_assessment_decided_before_its_request(con, tmp_path):
    """Plan A's assessment decided before the request came in: it and its plan are quarantined."""
    paths = sen2_export(tmp_path)
    edit(paths["assessment"], 1, assessmentoutcomedate=handmade.blade("2022-10-01"))
    outcomes = load_sen2(con, tmp_path, paths.values())
    assert sen2_quarantine(con, outcomes) == {
        "assessment": {(2, "assessmentoutcomedate", "is before its request was received")},
        "namedplan": {(2, "assessmenttableid", link("assessment"))},
        "plandetail": {(2, "namedplantableid", link("namedplan"))},
    }
    assert_sen2_loaded(con, outcomes, {"assessment": 1, "namedplan": 1, "plandetail": 1})


def test_sen2_orphan_placement_quarantined(con, tmp_path):
    """A placement whose activeplans id does not exist is quarantined; the others load."""
    paths = sen2_export(tmp_path)
    edit(paths["placementdetail"], 5, activeplanstableid="99")
    outcomes = load_sen2(con, tmp_path, paths.values())
    assert sen2_quarantine(con, outcomes) == {
        "placementdetail": {(6, "activeplanstableid", link("activeplans"))}}
    [(shown,)] = con.execute("SELECT value_masked FROM audit.quarantine WHERE sha256 = ?",
                             [outcomes["placementdetail"].sha256]).fetchall()
    assert shown == "99"
    assert_sen2_loaded(con, outcomes, {"placementdetail": 1})


def test_sen2_quarantined_request_orphans_everything_below_it(con, tmp_path):
    """A quarantined request takes its assessment, plan, active plan and their rows with it."""
    paths = sen2_export(tmp_path)
    edit(paths["requests"], 2, receiveddate="31/31/2023")
    outcomes = load_sen2(con, tmp_path, paths.values())
    assert sen2_quarantine(con, outcomes) == {
        "requests": {(3, "receiveddate", DATE_RULE)},
        "assessment": {(3, "requeststableid", link("requests"))},
        "namedplan": {(3, "assessmenttableid", link("assessment"))},
        "plandetail": {(3, "namedplantableid", link("namedplan"))},
        "activeplans": {(3, "requeststableid", link("requests"))},
        "placementdetail": {(3, "activeplanstableid", link("activeplans"))},
        "senneed": {(3, "activeplanstableid", link("activeplans"))},
    }
    assert_sen2_loaded(con, outcomes, {m: 1 for m in (
        "requests", "assessment", "namedplan", "plandetail", "activeplans", "placementdetail",
        "senneed")})


def test_sen2_person_with_bad_upn_is_withheld_and_cascades(con, tmp_path):
    """A person whose UPN fails its check letter: quarantined with the UPN withheld."""
    paths = sen2_export(tmp_path)
    bad = ("B" if U[3][0] != "B" else "C") + U[3][1:]
    edit(paths["person"], 4, upn=bad)
    outcomes = load_sen2(con, tmp_path, paths.values())
    q = quarantine(con, outcomes["person"])
    assert q == [(5, "upn", "is a valid UPN (check letter and LA number)",
                  "<withheld: 13 characters>")]
    assert sen2_quarantine(con, outcomes)["requests"] == {
        (5, "persontableid", link("person"))}
    assert outcomes["person"].rows_loaded == 5
    assert staged(con, "stage.sen2_person") == 5


def test_sen2_repeated_table_id_quarantines_both_rows(con, tmp_path):
    """Two different need rows sharing senneedtableid 1: both are quarantined."""
    paths = sen2_export(tmp_path)
    edit(paths["senneed"], 2, senneedtableid="1")
    outcomes = load_sen2(con, tmp_path, paths.values())
    rule = "repeats the table id of a different row"
    assert sen2_quarantine(con, outcomes) == {
        "senneed": {(2, "senneedtableid", rule), (3, "senneedtableid", rule)}}
    assert_sen2_loaded(con, outcomes, {"senneed": 2})


def test_sen2_exact_repeat_of_a_row_loads_once(con, tmp_path):
    """Plan B's named-plan line exported twice: the plan loads once, the repeat is quarantined."""
    paths = sen2_export(tmp_path)
    text = paths["namedplan"].read_text()
    paths["namedplan"].write_text(text + text.splitlines()[2] + "\n")
    outcomes = load_sen2(con, tmp_path, paths.values())
    assert outcomes["namedplan"].rows_loaded == 6
    assert outcomes["plandetail"].rows_loaded == 6
    assert reasons(quarantine(con, outcomes["namedplan"])) == {
        (8, "namedplantableid", "repeats an identical earlier row")}


def test_sen2_export_with_a_rejected_module_waits_whole(con, tmp_path):
    """Requests lacking receiveddate: that file is rejected; the other eight modules load
    nothing and wait (unrecorded) for a corrected requests file, which then loads them all."""
    paths = sen2_export(tmp_path)
    good_requests = paths["requests"].read_bytes()
    frame = pl.read_csv(paths["requests"], infer_schema=False).drop("receiveddate")
    frame.write_csv(paths["requests"])
    outcomes = load_sen2(con, tmp_path, paths.values())
    assert_rejected(con, outcomes.pop("requests"), "Blade-Export_01-03-2025_requests.csv lacks "
                    "required column receiveddate", "stage.sen2_requests")
    assert {o.status for o in outcomes.values()} == {"waiting"}
    assert "waits for the rest of the SEN2 export of 2025-03-01 (its requests file was " \
        "rejected)" in outcomes["namedplan"].message
    assert con.execute("SELECT count(*) FROM audit.files WHERE status = 'loaded'"
                       ).fetchall() == [(0,)]
    assert not store.table_exists(con, "stage.sen2_namedplan")
    # The corrected file lands (new bytes); the eight waiting files are still new too.
    paths["requests"].write_bytes(good_requests)
    found = loads.discover(tmp_path / "landing", store.known_files(con))
    assert len(found.new) == 9
    outcomes = loads.load_batch(con, found.new, KEY, "run-2", archive_at(tmp_path))
    assert {o.status for o in outcomes} == {"loaded"}
    assert staged(con, "stage.sen2_namedplan") == 6


def test_sen2_file_without_export_date_rejected(con, tmp_path):
    """A module file whose name has no DD-MM-YYYY export date is rejected with the pattern."""
    path = sen2_export(tmp_path)["person"]
    path = path.rename(path.with_name("Blade-Export_person.csv"))
    [o] = load(con, tmp_path, "sen2", path)
    assert_rejected(con, o, "Blade-Export_person.csv has no valid export date in its name "
                            "(expected Blade-Export_<DD-MM-YYYY>_<module>.csv)",
                    "stage.sen2_person")


def test_sen2_unknown_module_rejected_and_the_export_still_loads(con, tmp_path):
    """A `contacts` file among the export's modules is rejected; the nine modules load."""
    paths = sen2_export(tmp_path)
    extra = write(tmp_path, "sen2", "Blade-Export_01-03-2025_contacts.csv",
                  "contacttableid,persontableid\n1,1\n")
    outcomes = load_sen2(con, tmp_path, [*paths.values(), extra])
    o = outcomes.pop("Blade-Export_01-03-2025_contacts.csv")
    modules = ", ".join(SEN2_MODULES)
    assert_rejected(con, o, "Blade-Export_01-03-2025_contacts.csv is not a SEN2 module file "
                            "(expected Blade-Export_<DD-MM-YYYY>_<module>.csv, module one of "
                            f"{modules})", "stage.sen2_person")
    assert_sen2_loaded(con, outcomes, {})


# ------------------------------------------------------------------------------------------
# Finance, recovery plan, places, population: rows with one bad value, as one table
# ------------------------------------------------------------------------------------------

LEDGER_H = "financial_year,period,s251_line,cost_centre,description,provider_urn,entry_type," \
           "amount_gbp"
LEDGER = [
    "2024-25,1,1.2.3,HN1203,Top-up: independent special school fees,140001,actual,41250.00",
    "2024-25,1,1.0.2,HN1002,Place funding: maintained special schools,,budget,416858.33",
    "2024-25,2,1.2.5,HN1205,Specialist SEN service,,actual,-120.50",
]
DSG_H = "financial_year,high_needs_block_gbp,block_transfer_gbp,opening_cumulative_balance_gbp"
DSG = ["2023-24,61250000,1500000,-4200000", "2024-25,64100000,,"]
PLAN_H = "project_id,project_name,theme,financial_year,planned_saving_gbp,actual_saving_gbp," \
         "metric_name,metric_baseline,metric_target"
PLAN = ["RP01,Dyslexia friendly schools,Inclusion,2024-25,51000,46900,placements,40,30",
        "RP02,Local special school places,Sufficiency,2024-25,120000,,,,"]
PLACES_H = "financial_year,urn,provision,funded_places"
PLACES = ["2024-25,126227,special,63", "2024-25,126001,resourced_provision,12",
          "2024-25,126001,sen_unit,8"]
POP_H = "new_la_code,year,age,sex,population"
POP = ["E06000054,2024,0,M,2610", "E06000054,2024,0,F,2480", "E06000054,2024,90,F,1804"]

MONEY_RULE = "is an amount in pounds and pence (e.g. 1234.56, £1,234.56, (1,234.56))"
FY_RULE = "is a financial year like 2024-25"

# (source, file name, header, good rows, bad row(s), staging table, good rows loaded,
#  expected quarantine as (row, column, rule, value))
ROW_CASES = {
    "ledger-amount-three-decimals": (
        "finance", "hnb_ledger_2024-25.csv", LEDGER_H, LEDGER,
        ["2024-25,3,1.2.3,HN1203,Top-up,140001,actual,1234.567"], "stage.finance_ledger", 3,
        [(5, "amount_gbp", MONEY_RULE, "1234.567")]),
    "ledger-unknown-s251-line": (
        "finance", "hnb_ledger_2024-25.csv", LEDGER_H, LEDGER,
        ["2024-25,3,1.2.99,HN1299,Unknown line,,actual,10.00"], "stage.finance_ledger", 3,
        [(5, "s251_line", "is an S251 high-needs line (1.0.2, 1.2.1, 1.2.2, 1.2.3, 1.2.4, "
                          "1.2.5, 1.2.6, 1.2.7, 1.2.8, 1.2.9, 1.2.10, 1.2.11, 1.2.12, "
                          "1.2.13)", "1.2.99")]),
    "ledger-financial-year-2024-26": (
        "finance", "hnb_ledger_2024-25.csv", LEDGER_H, LEDGER,
        ["2024-26,3,1.2.3,HN1203,Top-up,,actual,10.00"], "stage.finance_ledger", 3,
        [(5, "financial_year", FY_RULE, "2024-26")]),
    "ledger-period-14": (
        "finance", "hnb_ledger_2024-25.csv", LEDGER_H, LEDGER,
        ["2024-25,14,1.2.3,HN1203,Top-up,,actual,10.00"], "stage.finance_ledger", 3,
        [(5, "period", "is a period (1 to 12, or 13 for year-end)", "14")]),
    "dsg-year-listed-twice": (
        "finance", "dsg_2023-24_to_2024-25.csv", DSG_H, DSG, ["2024-25,64300000,,"],
        "stage.finance_dsg", 1,
        [(3, "financial_year", "appears more than once", "2024-25"),
         (4, "financial_year", "appears more than once", "2024-25")]),
    "recovery-plan-saving-abc": (
        "recovery_plan", "recovery_plan_register.csv", PLAN_H, PLAN,
        ["RP03,Post-16 pathways,Preparing for adulthood,2024-25,abc,,,,"],
        "stage.recovery_plan", 2, [(4, "planned_saving_gbp", MONEY_RULE, "abc")]),
    "places-negative-funded-places": (
        "places", "commissioned_places.csv", PLACES_H, PLACES, ["2024-25,126228,special,-5"],
        "stage.places", 3,
        [(5, "funded_places", "is a whole number of places, not negative", "-5")]),
    "places-duplicate-key": (
        "places", "commissioned_places.csv", PLACES_H, PLACES, ["2024-25,126227,special,70"],
        "stage.places", 2,
        [(2, "provision", "repeats the year, URN and provision of another row", "special"),
         (5, "provision", "repeats the year, URN and provision of another row", "special")]),
    "population-age-120": (
        "population", "ons_mid_year_estimates.csv", POP_H, POP, ["E06000054,2024,120,F,3"],
        "stage.population", 3, [(5, "age", "is an age from 0 to 90", "120")]),
    "population-bad-ons-code": (
        "population", "ons_mid_year_estimates.csv", POP_H, POP, ["E0600054,2024,1,F,2500"],
        "stage.population", 3, [(5, "new_la_code", "is an ONS area code (e.g. E06000054)",
                                "E0600054")]),
}


@pytest.mark.parametrize("case", ROW_CASES)
def test_bad_row_quarantined_and_good_rows_load(con, tmp_path, case):
    """Ledger, DSG, recovery plan, places and population rows with one bad value each."""
    source, name, header, good, bad, table, loaded, expected = ROW_CASES[case]
    o = load_one(con, tmp_path, source, name, csv_text(header, [*good, *bad]))
    assert_loaded(con, o, table, loaded, len(expected))
    assert quarantine(con, o) == expected


def test_ledger_missing_required_columns_rejected_naming_them(con, tmp_path):
    """A ledger without s251_line and amount_gbp is rejected, naming both."""
    header = "financial_year,period,cost_centre,description,provider_urn,entry_type"
    rows = ["2024-25,1,HN1203,Top-up,140001,actual"]
    o = load_one(con, tmp_path, "finance", "hnb_ledger_2024-25.csv", csv_text(header, rows))
    assert_rejected(con, o, "hnb_ledger_2024-25.csv lacks required columns s251_line, "
                            "amount_gbp", "stage.finance_ledger")


def test_ledger_pound_signs_and_bracket_negatives_load_exactly(con, tmp_path):
    """`£1,234.56` and `(1,234.56)` (Excel's formats) load as 1234.56 and -1234.56 exactly."""
    rows = [*LEDGER, '2024-25,3,1.2.3,HN1203,Top-up,140001,actual,"£1,234.56"',
            '2024-25,3,1.2.3,HN1203,Credit note,140001,actual,"(1,234.56)"']
    o = load_one(con, tmp_path, "finance", "hnb_ledger_2024-25.csv", csv_text(LEDGER_H, rows),
                 encoding="cp1252")
    assert_loaded(con, o, "stage.finance_ledger", 5, 0)
    got = con.execute("SELECT row_number, amount_gbp FROM stage.finance_ledger "
                      "WHERE row_number >= 5 ORDER BY row_number").fetchall()
    assert got == [(5, Decimal("1234.56")), (6, Decimal("-1234.56"))]
    [(total,)] = con.execute("SELECT sum(amount_gbp) FROM stage.finance_ledger").fetchall()
    assert total == Decimal("457987.83")  # to the penny: the pair cancels exactly


def test_ledger_misplaced_comma_quarantined_not_read_as_thousands(con, tmp_path):
    """`12,34` is not a UK amount: quarantined, never loaded as 1234."""
    rows = [*LEDGER, '2024-25,3,1.2.3,HN1203,Top-up,140001,actual,"12,34"']
    o = load_one(con, tmp_path, "finance", "hnb_ledger_2024-25.csv", csv_text(LEDGER_H, rows))
    assert_loaded(con, o, "stage.finance_ledger", 3, 1)
    assert quarantine(con, o) == [(5, "amount_gbp", MONEY_RULE, "12,34")]


def test_finance_file_no_source_takes_is_rejected_clearly(con, tmp_path):
    """`budget.csv` in finance/ is rejected, saying which names the folder takes."""
    o = load_one(con, tmp_path, "finance", "budget.csv", csv_text(LEDGER_H, LEDGER))
    assert o.status == "rejected"
    assert o.message.startswith("budget.csv is not a file the finance source takes")
    assert "hnb_ledger" in o.message and "dsg" in o.message
    assert not re.search(r"[\^\[\]?]", o.message)


def test_finance_file_no_source_takes_is_rejected(con, tmp_path):
    """`budget.csv` in finance/ is rejected whole: nothing staged, the folder named."""
    o = load_one(con, tmp_path, "finance", "budget.csv", csv_text(LEDGER_H, LEDGER))
    assert o.status == "rejected"
    assert o.message.startswith("budget.csv is not a file the finance source takes (")
    assert staged(con, "stage.finance_ledger") == staged(con, "stage.finance_dsg") == 0
    assert con.execute("SELECT status FROM audit.files WHERE sha256 = ?",
                       [o.sha256]).fetchall() == [("rejected",)]


def test_file_renamed_after_a_name_rejection_loads(con, tmp_path):
    """budget.csv is rejected for its name; renamed hnb_ledger_2024-25.csv, it loads."""
    path = write(tmp_path, "finance", "budget.csv", csv_text(LEDGER_H, LEDGER))
    [o] = load(con, tmp_path, "finance", path)
    assert o.status == "rejected"
    renamed = path.rename(path.with_name("hnb_ledger_2024-25.csv"))
    found = loads.discover(tmp_path / "landing", store.known_files(con))
    assert [f.path for f in found.new] == [renamed]
    [o] = loads.load_batch(con, found.new, KEY, "run-2", archive_at(tmp_path))
    assert_loaded(con, o, "stage.finance_ledger", 3, 0)


def test_population_age_95_quarantined(con, tmp_path):
    """Age 95 is outside ONS's 0-90 (90 = 90 and over): quarantined."""
    o = load_one(con, tmp_path, "population", "ons_mid_year_estimates.csv",
                 csv_text(POP_H, [*POP, "E06000054,2024,95,F,40"]))
    assert_loaded(con, o, "stage.population", 3, 1)
    assert quarantine(con, o) == [(5, "age", "is an age from 0 to 90", "95")]


def test_population_negative_is_quarantined(con, tmp_path):
    """A negative population is quarantined; the other rows load."""
    o = load_one(con, tmp_path, "population", "ons_mid_year_estimates.csv",
                 csv_text(POP_H, [*POP, "E06000054,2024,1,F,-12"]))
    assert_loaded(con, o, "stage.population", 3, 1)
    assert [r[:2] + r[3:] for r in quarantine(con, o)] == [(5, "population", "-12")]


def test_population_negative_says_why(con, tmp_path):
    """The rule for a negative population names negativity, not 'whole number'."""
    o = load_one(con, tmp_path, "population", "ons_mid_year_estimates.csv",
                 csv_text(POP_H, [*POP, "E06000054,2024,1,F,-12"]))
    [(_, _, rule, _)] = quarantine(con, o)
    assert "negative" in rule


# ------------------------------------------------------------------------------------------
# GIAS establishments and published DfE statistics
# ------------------------------------------------------------------------------------------

GIAS_H = ['URN', 'LA (code)', 'LA (name)', 'EstablishmentNumber', 'EstablishmentName',
          'TypeOfEstablishment (code)', 'TypeOfEstablishment (name)',
          'EstablishmentTypeGroup (code)', 'EstablishmentTypeGroup (name)',
          'EstablishmentStatus (code)', 'EstablishmentStatus (name)', 'OpenDate', 'CloseDate',
          'PhaseOfEducation (code)', 'PhaseOfEducation (name)', 'StatutoryLowAge',
          'StatutoryHighAge', 'UKPRN', 'Postcode', 'ResourcedProvisionOnRoll',
          'ResourcedProvisionCapacity', 'SenUnitOnRoll', 'SenUnitCapacity',
          'TypeOfResourcedProvision (name)']


def gias_row(urn: str, name: str, type_name: str = "Community school") -> str:
    values = [urn, "865", "Wiltshire", "2000", name, "01", type_name, "4",
              "Local authority maintained schools", "1", "Open", "01-09-1974", "", "2",
              "Primary", "4", "11", "10012345", "SP1 6UW", "", "", "", "", "Not applicable"]
    bare = {"URN", "StatutoryLowAge", "StatutoryHighAge", "UKPRN"}  # GIAS quotes the rest
    return ",".join(v if h in bare else f'"{v}"' for h, v in zip(GIAS_H, values, strict=True))


def test_gias_file_with_a_bad_urn(con, tmp_path):
    """A Windows-1252 GIAS extract (real headers, GIAS quoting) with a 5-digit URN."""
    header = ",".join(f'"{h}"' for h in GIAS_H)
    rows = [gias_row("126001", "Salisbury North Primary School"),
            gias_row("126002", "St Mary’s Church of England Primary School",
                     "Voluntary aided school"),
            gias_row("12603", "Devizes Infant School"),
            gias_row("126004", "Kennet Valley Special School", "Community special school")]
    o = load_one(con, tmp_path, "establishments", "edubasealldata20250301.csv",
                 csv_text(header, rows), encoding="cp1252")
    assert_loaded(con, o, "stage.establishments", 3, 1)
    assert quarantine(con, o) == [(4, "urn", "is 6 digits", "12603")]
    assert o.message == ("5 unknown column(s) ignored: TypeOfEstablishment (code), "
                         "EstablishmentTypeGroup (code), EstablishmentStatus (code), "
                         "PhaseOfEducation (code), Postcode")
    names = con.execute("SELECT establishment_name FROM stage.establishments WHERE urn = 126002"
                        ).fetchall()
    assert names == [("St Mary’s Church of England Primary School",)]


PUBLISHED_H = ("time_period,time_identifier,geographic_level,country_code,country_name,"
               "region_code,region_name,old_la_code,new_la_code,la_name,ehcplans,"
               "PC_mainstream_total")


def test_published_file_with_a_bad_time_period(con, tmp_path):
    """An EES caseload file with `20x2` as a time period: that row is quarantined."""
    rows = ["2022,Calendar year,National,E92000001,England,,,,,,473255,40.5",
            "2022,Calendar year,Local authority,E92000001,England,E12000009,South West,865,"
            "E06000054,Wiltshire,4287,51.2",
            "20x2,Calendar year,Local authority,E92000001,England,E12000009,South West,866,"
            "E06000030,Swindon,1500,45.1"]
    o = load_one(con, tmp_path, "published", "ehcp_caseload_2022.csv",
                 csv_text(PUBLISHED_H, rows))
    assert (o.status, o.rows_loaded, o.rows_quarantined, o.rows_read) == ("loaded", 2, 1, 3)
    assert quarantine(con, o) == [
        (4, "time_period", "is a year (2025) or two consecutive years (202425)", "20x2")]
    assert o.period == "ehcp_caseload 2022"
    got = con.execute("SELECT DISTINCT row_number FROM stage.dfe_statistics WHERE sha256 = ? "
                      "ORDER BY 1", [o.sha256]).fetchall()
    assert got == [(2,), (3,)]


def test_published_csv_that_is_not_an_ees_file_rejected(con, tmp_path):
    """A places list saved in published/ is rejected: it is not a DfE statistics file."""
    o = load_one(con, tmp_path, "published", "places.csv", csv_text(PLACES_H, PLACES))
    assert_rejected(con, o, "places.csv is not a DfE statistics file (it lacks time_period, "
                            "time_identifier or geographic_level)", "stage.dfe_statistics")
