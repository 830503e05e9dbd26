"""Reading extracts (encodings, headers) and validating census rows, with exact messages."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.census import census_schema
from schemas.contracts import CENSUS, NEED_CODES
from tests import handmade
from transforms.readers import FileRejected, conform, read_raw
from transforms.validate import validate


def census(tmp_path, rows, header=handmade.CENSUS_HEADER, encoding="utf-8", bom=False):
    path = tmp_path / "census.csv"
    text = "\n".join([header, *rows]) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def quarantined(path):
    raw = read_raw(path)
    v = validate(conform(raw.frame, CENSUS).frame, census_schema(), CENSUS.personal)
    return v, sorted((r["row_number"], r["column_name"], r["rule"], r["value_masked"])
                     for r in v.quarantine.iter_rows(named=True))


def test_utf8_bom_and_windows_1252_read_the_same(tmp_path):
    rows = handmade.census_rows()
    rows[2] = rows[2].replace("Brown", "O’Brien")
    a = read_raw(census(tmp_path, rows, bom=True))
    assert a.encoding == "utf-8-sig"
    b = read_raw(census(tmp_path, rows, encoding="cp1252"))
    assert b.encoding == "windows-1252"
    assert a.frame.equals(b.frame)
    assert a.frame["Surname"][2] == "O’Brien"


def test_headers_match_ignoring_case_spaces_and_underscores(tmp_path):
    header = ("census date,LA_ESTAB,urn,upn,SURNAME,forename,dob,GENDER,nc year actual,"
              "enrol_status,sen provision,PrimarySENeedsType,secondary_sen_need,fsm_eligible,"
              "Ethnicity")
    rows = [r + ",WBRI" for r in handmade.census_rows()]
    raw = read_raw(census(tmp_path, rows, header=header), CENSUS.unread_headers)
    # SURNAME and forename are recognised (not unknown) but never read.
    assert "SURNAME" not in raw.frame.columns and "forename" not in raw.frame.columns
    c = conform(raw.frame, CENSUS)
    names = ["census_date", "laestab", "urn", "upn", "date_of_birth", "sex", "nc_year_actual",
             "enrol_status", "sen_provision", "primary_sen_need", "secondary_sen_need",
             "fsm_eligible"]
    assert c.frame.columns == [*names, "row_number"]
    assert c.frame["row_number"].to_list() == [2, 3, 4, 5, 6, 7]
    assert c.unknown_columns == ["Ethnicity"]
    # Read in full (as a reader without the contract would), the names are dropped on conform.
    assert conform(read_raw(census(tmp_path, rows, header=header)).frame, CENSUS
                   ).frame.columns == [*names, "row_number"]


def test_missing_required_columns_reject_the_file_naming_them(tmp_path):
    header = handmade.CENSUS_HEADER.replace("UPN,", "").replace(",FSMeligible", "")
    rows = [",".join(r.split(",")[:3] + r.split(",")[4:13]) for r in handmade.census_rows()]
    raw = read_raw(census(tmp_path, rows, header=header))
    with pytest.raises(FileRejected, match="lacks required columns upn, fsm_eligible"):
        conform(raw.frame, CENSUS)


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"PK\x03\x04\x00\x00binary", "not a CSV file"),
])
def test_unreadable_files_are_rejected_whole(tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(FileRejected, match=message):
        read_raw(path)


def test_other_extensions_are_rejected(tmp_path):
    path = tmp_path / "census.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(FileRejected, match="is not a CSV or XLSX file"):
        read_raw(path)


def test_header_only_file_is_rejected(tmp_path):
    raw = read_raw(census(tmp_path, []))
    with pytest.raises(FileRejected, match="has a header but no rows"):
        conform(raw.frame, CENSUS)


def test_each_bad_row_gets_every_reason_and_good_rows_load(tmp_path):
    good = handmade.census_rows()
    u = handmade.PUPIL_UPNS
    extra = [handmade.upn("865", "2001", 15, n) for n in (7, 8, 9)]
    bad = [
        # invalid check letter, unknown need code
        f"18/01/2024,8652001,100001,A{u[0][1:] if u[0][0] != 'A' else 'B' + u[0][1:]},"
        "Smith,Ann,01/05/2015,F,3,C,E,XYZ,,0",
        # NC year out of range, sex not M/F, fsm not yes/no
        f"18/01/2024,8652001,100001,{extra[0]},Smith,Ann,01/05/2015,X,22,C,N,,,maybe",
        # too young on census day; provision K without a need in a spring census
        f"18/01/2024,8652001,100001,{extra[1]},Smith,Ann,01/05/2023,F,N1,C,K,,,0",
        # a second census date in the file
        f"17/05/2024,8652001,100001,{extra[2]},Smith,Ann,01/05/2015,F,3,C,N,,,0",
    ]
    v, got = quarantined(census(tmp_path, [*good, *bad]))
    assert v.good.height == len(good)
    assert v.rows_quarantined == 4
    assert {(r[0], r[1], r[2]) for r in got} == {
        (8, "upn", "is a valid UPN (check letter and LA number)"),
        (8, "primary_sen_need", "is a need code (ASD, HI, MLD, MSI, OTH, PD, PMLD, SEMH, SLCN, "
                                "SLD, SPLD, VI, NSA, DS, BESD)"),
        (9, "nc_year_actual", "is an NC year (E1, E2, N1, N2, R, 1-14 or X)"),
        (9, "sex", "is a sex code (M, F)"),
        (9, "fsm_eligible", "is a yes/no value (1/0, true/false, Y/N)"),
        (10, "date_of_birth", "pupil aged 2-25 on census day"),
        (10, "primary_sen_need", "is given when SEN provision is not N (spring census)"),
        (11, "census_date", "is the file's census date (one census a file)"),
    }


def test_quarantine_never_holds_a_personal_value(tmp_path):
    bad = ["18/01/2024,8652001,100001,A801200005001,Smith,Ann,01/05/2023,F,3,C,N,,,0"]
    _, got = quarantined(census(tmp_path, [*handmade.census_rows(), *bad]))
    assert ("A801200005001" not in str(got)) and ("01/05/2023" not in str(got))
    assert {r[3] for r in got if r[1] in ("upn", "date_of_birth")} == {
        "<withheld: 13 characters>", "<withheld: 10 characters>"}


def test_age_check_handles_october_birthdays(tmp_path):
    # 2 years old on an October census day: month()*100 must not overflow.
    rows = [f"04/10/2018,8652001,100001,{handmade.PUPIL_UPNS[0]},S,A,31/08/2016,F,N1,C,N,,,0",
            f"04/10/2018,8652001,100001,{handmade.PUPIL_UPNS[1]},S,A,05/10/2016,F,N1,C,N,,,0"]
    v, got = quarantined(census(tmp_path, rows))
    assert v.good.height == 1
    assert [(r[0], r[2]) for r in got] == [(3, "pupil aged 2-25 on census day")]


def test_legacy_codes_only_before_2015(tmp_path):
    rows = [f"02/10/2014,8652001,100001,{handmade.PUPIL_UPNS[0]},S,A,01/05/2008,F,2,C,A,BESD,,0",
            f"02/10/2014,8652001,100001,{handmade.PUPIL_UPNS[1]},S,A,01/05/2008,F,2,C,S,MLD,,0"]
    v, got = quarantined(census(tmp_path, rows))
    assert v.good.height == 2 and got == []
    later = [r.replace("02/10/2014", "01/10/2015") for r in rows]
    v, got = quarantined(census(tmp_path, later))
    assert [(r[0], r[1]) for r in got] == [(2, "sen_provision"), (3, "sen_provision")]


def test_staged_census_maps_legacy_codes_and_drops_personal_data(tmp_path):
    from transforms.census import stage_census

    rows = [f"02/10/2014,8652001,100001,{handmade.PUPIL_UPNS[0]},S,A,01/05/2008,F,2,C,A,BESD,,Y"]
    v, _ = quarantined(census(tmp_path, rows))
    staged = stage_census(v.good, b"k" * 32)
    row = staged.row(0, named=True)
    assert (row["sen_provision"], row["sen_provision_code"], row["primary_need"]) == (
        "K", "A", "SEMH")
    assert (row["birth_year"], row["birth_month"], row["fsm_eligible"]) == (2008, 5, True)
    assert not {"upn", "surname", "forename", "date_of_birth"} & set(staged.columns)
    assert isinstance(staged, pl.DataFrame)


def test_duplicate_rows_and_double_registrations(tmp_path):
    rows = handmade.census_rows()
    u = handmade.PUPIL_UPNS
    extra = [
        rows[0],  # the same line again: the repeat is quarantined, the first loads
        f"18/01/2024,8652001,100001,{u[2]},Brown,Cat,01/07/2015,F,3,M,N,,,0",  # C and M
    ]
    v, got = quarantined(census(tmp_path, [*rows, *extra]))
    assert [(r[0], r[2]) for r in got] == [
        (4, "is on roll twice (two sole or main registrations) in this census"),
        (8, "repeats an identical earlier row"),
        (9, "is on roll twice (two sole or main registrations) in this census"),
    ]
    assert sorted(v.good["row_number"].to_list()) == [2, 3, 5, 6, 7]
    # The same UPN written in lower case and padded is the same pupil.
    again = f"18/01/2024,8651100,100002, {u[1].lower()} ,Jones,Bob,01/06/2015,M,3,M,K,SLCN,,1"
    v, got = quarantined(census(tmp_path, [*rows, again]))
    assert [(r[0], r[2]) for r in got] == [
        (3, "is on roll twice (two sole or main registrations) in this census"),
        (8, "is on roll twice (two sole or main registrations) in this census")]


def test_one_pass_validation_agrees_with_pandera(tmp_path):
    """transforms.validate evaluates the checks' polars expressions itself (parsed dates
    once, repeats only among rows that share a key); pandera running the same schema must
    find exactly the same failures."""
    from transforms.validate import _failures, _pandera_failures

    rows = handmade.census_rows()
    u = handmade.PUPIL_UPNS
    rows += [rows[0], rows[0],  # two exact repeats
             f"18/01/2024,8652001,100001,{u[2].lower()},Brown,Cat,01/07/2015,F,3,M,N,,,0",
             f"18/01/2024,8652001,100001,B{u[3][1:]},Smith,Ann,01/05/2023,F,N1,C,K,,,0",
             "17/05/2024,8652001,100001,,Smith,Ann,31/02/2015,F,3,C,N,,,0",
             "17/05/2024,8652001,100001,,Smith,Ann,31/02/2015,F,3,C,N,,,0"]
    frame = conform(read_raw(census(tmp_path, rows)).frame, CENSUS).frame
    fast, parsed = _failures(frame.drop("row_number"), census_schema())
    slow = _pandera_failures(frame, census_schema())
    key = ["_i", "column_name", "rule"]
    assert fast.sort(key).equals(slow.sort(key))
    assert fast.height == 14
    assert parsed.width == 2 and parsed.dtypes == [pl.Date, pl.Date]  # handed on to staging

    def rows_failing(rule):
        return fast.filter(pl.col("rule") == rule)["_i"].sort().to_list()

    assert rows_failing("repeats an identical earlier row") == [6, 7, 11]
    # The lower-case UPN is the same pupil as row 2's.
    assert rows_failing("is on roll twice (two sole or main registrations) in this census"
                        ) == [2, 8]


@pytest.mark.parametrize("text, expected", [
    (b"a,b\nc,d\n", False), (b"a,b\r\nc,d\r\n", False), (b"a b,c\n", False),
    (b"a,b\te\n", False), ("Zo\u00eb,x\n".encode(), False), (b"a,\xc2\xa3b\n", False),
    (b"a, b\n", True), (b"a ,b\n", True), (b"a,b \n", True), (b" a,b\n", True),
    (b"a,b\nc,d ", True), (b"a,b\t\n", True), (b"a,b\r,c\n", True), (b'"a",b\n', True),
    (b"a,\xc2\xa0b\n", True), ("a,b\u2003\n".encode(), True), ("Zo\u00eb ,x\n".encode(), True),
])
def test_padded_says_when_values_need_trimming(text, expected):
    """conform skips trimming a file only when no field can start or end with white space
    (ASCII or not) and none is quoted."""
    from transforms.readers import padded

    assert padded(text) is expected


def test_unpadded_file_conforms_to_the_same_values(tmp_path):
    rows = handmade.census_rows()
    raw = read_raw(census(tmp_path, rows))
    assert raw.padded is False
    assert conform(raw.frame, CENSUS, trim=False).frame.equals(conform(raw.frame, CENSUS).frame)


@pytest.mark.parametrize("text, rows, problems, empty", [
    # Unquoted files are read by polars first and their lines counted after.
    (b"a,b\n1,2\n3,4\n", [("1", "2", 2), ("3", "4", 3)], [], 0),
    (b"a,b\r\n1,2\r\n3,4\r\n", [("1", "2", 2), ("3", "4", 3)], [], 0),
    (b"a,b\n1,2\n3\n", [("1", "2", 2)], [(3, "<1 fields>")], 0),  # short: polars pads it
    (b"a,b\n1,2\n3,4,5\n", [("1", "2", 2)], [(3, "<3 fields>")], 0),  # long: polars refuses
    (b"a,b\n1,2\n\n3,4\n", [("1", "2", 2), ("3", "4", 4)], [], 0),  # blank: careful reader
    (b"a,b\n1,2\n\n\n", [("1", "2", 2)], [], 2),  # blank lines at the end: empty rows
    (b"a\nx\n,\n", [("x", 2)], [(3, "<2 fields>")], 0),  # one column, a line of two fields
    (b'a,b\n"1,5",2\n', [("1,5", "2", 2)], [], 0),  # quoted: checked before polars reads
])
def test_csv_rows_and_row_numbers_whichever_reader_reads_them(tmp_path, text, rows, problems,
                                                              empty):
    """The fast reader is used only when it gives exactly the careful reader's rows and row
    numbers; a short, long or blank line sends the file to the careful reader, which names
    the bad lines instead of padding, refusing or shifting them."""
    path = tmp_path / "f.csv"
    path.write_bytes(text)
    raw = read_raw(path)
    assert raw.frame.rows() == rows
    assert [(r["row_number"], r["value_masked"]) for r in raw.problems.iter_rows(named=True)
            ] == problems
    assert raw.empty_rows == empty


def test_dates_parse_once_per_distinct_value_and_the_same_as_row_by_row():
    import datetime as dt

    from values.parse import date_formats_used, dictionary, parse_date, parse_dates

    iso = pl.Series("d", ["2026-01-15", None, "2008-02-29", "2026-01-15", "2026-02-30"])
    mixed = pl.Series("d", ["2026-01-15", "15/01/2026", "2022-Sep-28 00:00:00", None, "x"])
    for values in (iso, mixed, pl.Series("d", [None, None], pl.Utf8), pl.Series("d", [], pl.Utf8)):
        assert parse_dates(values).equals(values.to_frame().select(parse_date("d")).to_series())
    assert parse_dates(iso).to_list() == [dt.date(2026, 1, 15), None, dt.date(2008, 2, 29),
                                          dt.date(2026, 1, 15), None]
    assert parse_dates(mixed).to_list() == [dt.date(2026, 1, 15), dt.date(2026, 1, 15),
                                            dt.date(2022, 9, 28), None, None]
    codes, distinct = dictionary(iso)
    assert distinct.to_list() == ["2026-01-15", "2008-02-29", "2026-02-30"]
    assert codes.to_list() == [0, None, 1, 0, 2]
    assert date_formats_used(mixed.to_frame(), "d") == ["%Y-%m-%d", "%d/%m/%Y",
                                                        "%Y-%b-%d %H:%M:%S"]


def test_staged_census_codes_are_upper_cased_once_per_distinct_value(tmp_path):
    from transforms.census import stage_census

    u = handmade.PUPIL_UPNS
    rows = [f"18/01/2024,8652001,100001,{u[0]},S,A,01/05/2015,f,r,c,k,asd,bESD,y",
            f"18/01/2024,8652001,100001,{u[1]},S,A,01/05/2015,F,R,C,K,ASD,,N",
            f"18/01/2024,8662002,100002,{u[2]},S,A,01/05/2015,m,3,c,e,Slcn,,0",
            f"18/01/2024,8662002,100002,{u[3]},S,A,01/05/2015,M,3,M,n,,,1"]
    v, q = quarantined(census(tmp_path, rows))
    assert q == [] and v.good.height == 4
    staged = stage_census(v.good, b"k" * 32)
    assert staged.columns == [
        "row_number", "census_date", "la_number", "laestab", "urn", "birth_year",
        "birth_month", "sex", "nc_year", "enrol_status", "sen_provision",
        "sen_provision_code", "primary_need", "secondary_need", "fsm_eligible", "pupil_id"]
    got = staged.select(pl.exclude("pupil_id", "census_date").cast(pl.Utf8)).rows()
    assert got == [
        ("2", "865", "8652001", "100001", "2015", "5", "F", "R", "C", "K", "K", "ASD", "SEMH",
         "true"),
        ("3", "865", "8652001", "100001", "2015", "5", "F", "R", "C", "K", "K", "ASD", None,
         "false"),
        ("4", "866", "8662002", "100002", "2015", "5", "M", "3", "C", "E", "E", "SLCN", None,
         "false"),
        ("5", "866", "8662002", "100002", "2015", "5", "M", "3", "M", "N", "N", None, None,
         "true")]
    # Codes with a fixed list are enums of it (DuckDB stores ENUM columns), the others
    # categorical.
    assert staged.schema["sex"] == pl.Enum(["M", "F"])
    assert staged.schema["primary_need"] == pl.Enum(list(NEED_CODES))
    assert staged.schema["laestab"] == pl.Categorical and staged["pupil_id"].null_count() == 0


def test_codes_match_in_any_ascii_case_only(tmp_path):
    from values.parse import any_case, is_bool

    assert any_case(["E1", "yes"]) == ["E1", "YES", "YEs", "YeS", "Yes", "e1", "yES", "yEs",
                                       "yeS", "yes"]
    checked = pl.DataFrame({"v": ["Yes", "N", "tRUE", "0", "ſ", "yes ", "maybe", None]})
    assert checked.select(is_bool("v")).to_series().to_list() == [
        True, True, True, True, False, False, False, None]
    # A long s upper-cases to S in Unicode, but is not the legacy code S; a lower-case k is K.
    upn = handmade.PUPIL_UPNS[0]
    rows = [f"02/10/2014,8652001,100001,{upn},S,A,01/05/2008,F,2,C,\u017f,,,Y",
            f"02/10/2014,8652001,100001,{handmade.PUPIL_UPNS[1]},S,A,01/05/2008,F,2,C,k,,,Y"]
    v, q = quarantined(census(tmp_path, rows))
    assert [(n, c, r) for n, c, r, _ in q] == [
        (2, "sen_provision", "is an SEN provision code (E, K, N, S, A, P)")]
    assert v.good["sen_provision"].to_list() == ["k"]


def test_long_codes_match_in_any_ascii_case_without_listing_every_case():
    """`resourced_provision` has 2**18 ways of being written: long codes are upper-cased
    instead, and must be ASCII, which is the same rule."""
    from values.parse import in_any_case

    values = pl.DataFrame({"v": ["Resourced_Provision", "SPECIAL", "\u017fpecial", "ap",
                                 "apx", None]})
    provisions = ("special", "resourced_provision", "sen_unit", "ap")
    assert values.select(in_any_case("v", provisions)).to_series().to_list() == [
        True, True, False, True, False, None]
    assert values.select(in_any_case("v", ("ap",))).to_series().to_list() == [
        False, False, False, True, False, None]


def test_staged_census_codes_are_enums_or_categorical_and_stored_compactly(tmp_path):
    """Staging keeps the code columns as enums of their code list or categories (4 bytes a
    row, not 16); the warehouse stores the enums as ENUM columns, the other codes as
    VARCHAR, the pseudonyms uncompressed, each row stamped with its file's SHA-256."""
    from pathlib import Path

    from transforms.census import stage_census
    from warehouse import store

    v, _ = quarantined(census(tmp_path, handmade.census_rows()))
    staged = stage_census(v.good, b"k" * 32)
    assert staged.schema["sen_provision"] == pl.Enum(["E", "K", "N"])
    assert staged.schema["laestab"] == pl.Categorical
    con = store.connect(Path(tmp_path / "w.duckdb"))
    store.replace_periods(con, "stage.census", staged, ("census_date",), "ab" * 32)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'census'").fetchall())
    assert (types["sen_provision"], types["laestab"], types["sha256"], types["pupil_id"]) == (
        "ENUM('E', 'K', 'N')", "VARCHAR", "VARCHAR", "VARCHAR")
    con.execute("CHECKPOINT")
    kinds = con.execute("SELECT DISTINCT compression FROM pragma_storage_info('stage.census') "
                        "WHERE column_name = 'pupil_id' AND segment_type = 'VARCHAR'"
                        ).fetchall()
    assert kinds == [("Uncompressed",)]
    stored = con.execute("SELECT sen_provision::VARCHAR, count(*), min(sha256), max(sha256) "
                         "FROM stage.census GROUP BY 1 ORDER BY 1").fetchall()
    assert [(p, n) for p, n, _, _ in stored] == sorted(
        staged["sen_provision"].cast(pl.Utf8).value_counts().iter_rows())
    assert {(lo, hi) for _, _, lo, hi in stored} == {("ab" * 32, "ab" * 32)}


def test_a_census_staged_as_text_before_takes_enum_rows(tmp_path):
    """A warehouse whose stage.census was made when the codes were stored as text keeps its
    VARCHAR columns and takes a newer file's enum rows as their text."""
    from pathlib import Path

    from transforms.census import stage_census
    from warehouse import store

    v, _ = quarantined(census(tmp_path, handmade.census_rows()))
    staged = stage_census(v.good, b"k" * 32)
    con = store.connect(Path(tmp_path / "w.duckdb"))
    with store.registered(con, "_old", staged.with_columns(
            pl.col(pl.Enum, pl.Categorical).cast(pl.Utf8),
            pl.lit("2023-01-19").str.to_date().alias("census_date"))):
        con.execute("CREATE TABLE stage.census AS SELECT *, 'cd'::VARCHAR AS sha256 FROM _old")
    store.replace_periods(con, "stage.census", staged, ("census_date",), "ab" * 32)
    assert con.execute("SELECT data_type FROM information_schema.columns WHERE "
                       "table_name = 'census' AND column_name = 'sen_provision'"
                       ).fetchall() == [("VARCHAR",)]
    got = con.execute("SELECT sha256, sen_provision, count(*) FROM stage.census "
                      "GROUP BY ALL ORDER BY ALL").fetchall()
    counts = sorted(staged["sen_provision"].cast(pl.Utf8).value_counts().iter_rows())
    assert got == sorted([("ab" * 32, p, n) for p, n in counts]
                         + [("cd", p, n) for p, n in counts])
