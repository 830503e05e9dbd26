"""Tables to take away: the workbooks, CSV and Parquet files a run writes are the published
tables, number for number, and the public ones hold no small number."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import duckdb
import fastexcel
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from xlsxwriter.utility import xl_col_to_name

from flows.nightly import nightly
from flows.settings import KPI_DOC
from warehouse.takeaway import kpi_sections, sheet_names, write_takeaway

AS_OF = "2026-03-26"
RUN: dict = {}


@pytest.fixture(scope="module")
def home(tmp_path_factory, small_sample, prefect_harness):
    home = tmp_path_factory.mktemp("takeaway")
    assert nightly(home=str(home), landing=str(small_sample)).status == "published"
    # A run writes the CSV and Parquet files; the workbooks are written on demand (the SEN2
    # readiness workbook aside: tests/test_sen2_readiness.py).
    RUN["workbooks_after_run"] = sorted(p.name for p in (home / "reports").glob("sendboard-*"))
    write_takeaway(home / "sendboard.duckdb", home / "reports", KPI_DOC)
    return home


@pytest.fixture(scope="module")
def db(home):
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    yield con
    con.close()


def _tables(db, schema: str) -> list[str]:
    return [t for (t,) in db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
        [schema]).fetchall()]


def _public(home):
    return home / "reports" / f"sendboard-{AS_OF}.xlsx"


def _internal(home):
    return home / "reports" / f"sendboard-{AS_OF}-internal-kpi.xlsx"


def test_a_run_writes_each_public_table_as_csv_and_parquet_and_both_workbooks_on_demand(
        home, db):
    assert RUN["workbooks_after_run"] == []
    reports = home / "reports"
    assert sorted(p.name for p in reports.glob("sendboard-*.xlsx")) == [
        f"sendboard-{AS_OF}-internal-kpi.xlsx", f"sendboard-{AS_OF}.xlsx"]
    public = _tables(db, "public")
    assert len(public) >= 20 and "ehcp_caseload" in public
    assert sorted(p.name for p in (reports / "tables" / AS_OF).iterdir()) == sorted(
        f"public.{t}{suffix}" for t in public for suffix in (".csv", ".parquet"))
    # Nothing half-written is left beside them.
    assert not list(reports.rglob("*.tmp"))


def test_the_public_workbook_has_a_sheet_per_public_table_and_nothing_internal(home, db):
    reader = fastexcel.read_excel(_public(home))
    public = _tables(db, "public")
    assert reader.sheet_names == ["definitions", "sources", *public]
    # The Excel tables (what Power BI's navigator lists) are the public ones, by name.
    assert sorted(reader.table_names()) == sorted(
        ["definitions", "table_sources", "files_loaded", *(f"public_{t}" for t in public)])
    definitions = pl.read_excel(_public(home), sheet_name="definitions")
    assert definitions["table"].to_list() == [f"public.{t}" for t in public]
    assert not [n for n in reader.sheet_names if n.startswith("kpi")]
    # Every data sheet is a public table: each carries the suppression columns.
    caseload = pl.read_excel(_public(home), sheet_name="ehcp_caseload")
    assert {"suppressed", "suppression_threshold"} <= set(caseload.columns)


def test_the_internal_workbook_has_the_kpi_tables_and_says_so(home, db):
    reader = fastexcel.read_excel(_internal(home))
    kpi = _tables(db, "kpi")
    assert reader.sheet_names == ["definitions", "sources", *kpi]
    assert sorted(t for t in reader.table_names() if t.startswith("kpi_")) == [
        f"kpi_{t}" for t in kpi]
    definitions = pl.read_excel(_internal(home), sheet_name="definitions")
    assert definitions["table"].to_list() == [f"kpi.{t}" for t in kpi]
    caseload = pl.read_excel(_internal(home), sheet_name="ehcp_caseload")
    assert "suppressed" not in caseload.columns
    with zipfile.ZipFile(_internal(home)) as z:
        core = z.read("docProps/core.xml").decode()
    assert "INTERNAL (exact small numbers, not for publication)" in core


def test_a_caseload_cell_is_the_databases_number_and_a_date_is_a_date(home, db):
    # (The latest year the public copy shows: in the small sample LA the disclosure audit
    # withholds the latest caseloads, which the placement detail would otherwise pin down.)
    year, census_date, caseload, growth = db.execute(
        "SELECT year, census_date, caseload, growth_pct FROM public.ehcp_caseload "
        "WHERE caseload IS NOT NULL ORDER BY year DESC LIMIT 1").fetchall()[0]
    sheet = pl.read_excel(_public(home), sheet_name="ehcp_caseload")
    assert sheet.height == db.execute("SELECT count(*) FROM public.ehcp_caseload").fetchone()[0]
    row = sheet.filter(pl.col("year") == year).row(0, named=True)
    assert sheet.schema["caseload"].is_numeric() and sheet.schema["year"].is_integer()
    assert row["caseload"] == caseload and caseload > 100
    assert row["growth_pct"] == pytest.approx(growth)
    assert sheet.schema["census_date"] in (pl.Date, pl.Datetime)
    got = row["census_date"]
    assert (got.date() if isinstance(got, dt.datetime) else got) == census_date
    # In the sheet's XML the caseload is a number cell, not a string (t="s").
    column = xl_col_to_name(sheet.columns.index("caseload"))
    with zipfile.ZipFile(_public(home)) as z:
        names = fastexcel.read_excel(_public(home)).sheet_names
        xml = z.read(f"xl/worksheets/sheet{names.index('ehcp_caseload') + 1}.xml").decode()
    assert re.search(rf'<c r="{column}\d+" s="\d+"><v>{caseload}</v></c>', xml)


def test_suppressed_cells_are_empty_in_public_and_exact_in_internal(home, db):
    withheld = db.execute(
        "SELECT year, need FROM public.ehcp_need_mix WHERE plans IS NULL ORDER BY 1, 2"
    ).fetchall()
    assert withheld, "the small sample has small need counts to withhold"
    keys = pl.DataFrame(withheld, schema=["year", "need"], orient="row")
    public = pl.read_excel(_public(home), sheet_name="ehcp_need_mix")
    internal = pl.read_excel(_internal(home), sheet_name="ehcp_need_mix")
    shown = keys.join(public, on=["year", "need"])
    assert shown.height == len(withheld)
    assert shown["plans"].null_count() == len(withheld)
    assert shown["suppressed"].str.contains("plans").all()
    exact = keys.join(internal, on=["year", "need"], how="left")["plans"]
    # Withheld: counts of 1 to 4, or the smallest other part (secondary suppression).
    assert exact.null_count() == 0 and (exact > 0).all() and (exact < 5).any()


def test_every_sheets_header_row_is_frozen(home):
    for path in (_public(home), _internal(home)):
        with zipfile.ZipFile(path) as z:
            sheets = sorted(n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+"
                                                                     r"\.xml", n))
            assert len(sheets) == len(fastexcel.read_excel(path).sheet_names)
            for name in sheets:
                pane = re.search(r"<pane [^>]*/>", z.read(name).decode())
                assert pane and 'ySplit="1"' in pane[0] and 'state="frozen"' in pane[0], name


def test_the_definitions_sheet_quotes_docs_kpis_md(home, db):
    definitions = pl.read_excel(_public(home), sheet_name="definitions")
    assert definitions.columns == ["sheet", "table", "rows", "definition", "description"]
    row = definitions.filter(pl.col("table") == "public.ehcp_caseload").row(0, named=True)
    assert row == {
        "sheet": "ehcp_caseload", "table": "public.ehcp_caseload",
        "rows": db.execute("SELECT count(*) FROM public.ehcp_caseload").fetchone()[0],
        "definition": "docs/kpis.md#ehcp-caseload",
        "description": "kpi.ehcp_caseload: EHC plans active on each January census day."}
    assert definitions["description"].null_count() == 0


def test_the_sources_sheet_lists_sources_and_files_and_nothing_personal(home, db):
    sources = pl.read_excel(_public(home), sheet_name="sources", table_name="table_sources")
    caseload = sources.filter(pl.col("table") == "public.ehcp_caseload")
    assert caseload["source"].to_list() == [db.execute(
        "SELECT any_value(source) FROM public.ehcp_caseload").fetchone()[0]]
    files = pl.read_excel(_public(home), sheet_name="sources", table_name="files_loaded")
    assert files.columns == ["name", "source", "period", "sha256_prefix", "rows_loaded"]
    loaded = db.execute("SELECT original_name, left(sha256, 12) FROM audit.files WHERE "
                        "status = 'loaded' ORDER BY 1").fetchall()
    assert sorted(files.select("name", "sha256_prefix").rows()) == loaded
    assert len(loaded) > 30 and files["sha256_prefix"].str.len_chars().unique().to_list() == [12]
    # No UPN (a letter and 12 characters) among every string either workbook holds.
    for path in (_public(home), _internal(home)):
        with zipfile.ZipFile(path) as z:
            strings = z.read("xl/sharedStrings.xml").decode()
        assert not re.search(r"\b[A-HJ-NP-TV-Z]\d{11}[0-9A-HJ-NP-TV-Z]\b", strings)


def test_csv_and_parquet_are_the_public_tables(home, db):
    folder = home / "reports" / "tables" / AS_OF
    for table in _tables(db, "public"):
        expected = db.sql(f"SELECT * FROM public.{table}").pl()
        assert_frame_equal(pl.read_parquet(folder / f"public.{table}.parquet"), expected)
        assert_frame_equal(pl.read_csv(folder / f"public.{table}.csv", schema=expected.schema),
                           expected)
    # The byte order mark: Excel opens the CSV as UTF-8.
    assert (folder / "public.ehcp_caseload.csv").read_bytes()[:3] == b"\xef\xbb\xbf"


def test_sheet_names_fit_excel():
    names = sheet_names(["public.ehcp_assessment_decisions_by_something_long",
                         "public.ehcp_assessment_decisions_by_something_else",
                         "public.Definitions", "kpi.a/b:c", "public.history"],
                        reserved=("definitions", "sources"))
    assert names == {
        "public.ehcp_assessment_decisions_by_something_long": "ehcp_assessment_decisions_by_so",
        "public.ehcp_assessment_decisions_by_something_else": "ehcp_assessment_decisions_by_~2",
        "public.Definitions": "Definitions~2", "kpi.a/b:c": "a_b_c",
        "public.history": "history~2"}
    assert all(len(n) <= 31 for n in names.values())


def test_kpi_sections_are_the_first_paragraph_in_plain_text():
    sections = kpi_sections(KPI_DOC)
    assert sections["ehcp-caseload"] == (
        "kpi.ehcp_caseload: EHC plans active on each January census day.")
    assert sections["ehcp-new-plans"] == (
        "kpi.ehcp_new_plans: EHC plans first issued in each calendar year, and how many were "
        "issued within 20 weeks.")
    assert sections["forecast"].endswith("are in forecast.md.")
