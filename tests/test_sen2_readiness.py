"""SEN2 readiness in the run (warehouse/sen2_readiness.py): the checks of a loaded export
recorded with the records' own ids, quarantined rows among them, the comparison with the
export before, the caseworkers' workbook, the internal pack's section, and
`sendboard sen2-check`. The checks themselves: tests/test_sen2_checks.py."""

from __future__ import annotations

import datetime as dt
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import fastexcel
import polars as pl
import pytest

from tests.conftest import settings_for
from tests.handmade import upn
from tests.sen2_builder import Blade, native_id

FIRST, SECOND = dt.date(2025, 3, 1), dt.date(2025, 6, 2)
BAD_UPN = "B" + upn("865", "2001", 15, 2)[1:]  # a wrong check letter


def _export(vanish: bool) -> Blade:
    b = Blade()
    b.case(1)
    b.case(2, person={"upn": BAD_UPN})  # quarantined: its request, plan... orphaned
    b.case(3, placements=[{"entrydate": "2025-02-01"}])  # placed after census day
    if not vanish:
        b.case(4)  # gone, with no cease record, from the second export
    return b


def _run(home: Path, landing: Path, run_id: str):
    from warehouse import loads, run
    from warehouse.pack import write_reports

    settings = settings_for(home)
    with ThreadPoolExecutor(max_workers=2) as pool:
        steps = run.plain_steps(write_reports, pool)

        def gather(con):
            found = steps.find(con, landing)
            return loads.batches(found.new), found.warnings

        return run.run_pipeline("plain", settings, b"k" * 32, run_id, gather, steps, None,
                                "nothing new"), settings


@pytest.fixture(scope="module")
def two_exports(tmp_path_factory):
    """A home that loaded the first export (run 1), then the second (run 2)."""
    root = tmp_path_factory.mktemp("readiness")
    landing = root / "landing"
    _export(vanish=False).write(landing / "sen2", FIRST)
    first, settings = _run(root / "home", landing, "run-1")
    shutil.copy(settings.home.warehouse, root / "after-first.duckdb")
    (settings.home.reports / "sen2-issues-2025-03-01.xlsx").rename(root / "first.xlsx")
    _export(vanish=True).write(landing / "sen2", SECOND)
    second, _ = _run(root / "home", landing, "run-2")
    return root, settings, first, second


def _issues(con: duckdb.DuckDBPyConnection, export: dt.date) -> list[tuple]:
    return con.execute("SELECT check_id, module, table_id, native_id FROM audit.sen2_issues "
                       "WHERE export_date = ? ORDER BY ALL", [export]).fetchall()


def test_a_run_records_each_issue_with_the_records_own_ids(two_exports):
    root, _, first, _ = two_exports
    assert first.status == "published"
    con = duckdb.connect(str(root / "after-first.duckdb"), read_only=True)
    try:
        got = _issues(con, FIRST)
    finally:
        con.close()
    # Child 2's person row fails the UPN rule (its own table id and NativeId, though the
    # row is quarantined); the request hanging from it is orphaned, and with it the rest
    # of that child's records; child 3's plan has no placement on census day.
    assert ("upn-check-letter", "person", "2000200", native_id("person", 2000200)) in got
    assert ("active-no-placement", "namedplan", "5000300",
            native_id("namedplan", 5000300)) in got
    orphaned = {(m, t) for c, m, t, _ in got if c == "orphan-record"}
    assert orphaned == {("requests", "3000200"), ("assessment", "4000200"),
                        ("namedplan", "5000200"), ("plandetail", "6000200"),
                        ("activeplans", "7000200"), ("placementdetail", "8000200"),
                        ("senneed", "9000200")}
    assert len(got) == 9


def test_an_export_loaded_by_a_run_killed_before_its_checks_is_checked_by_the_next(
        two_exports, tmp_path):
    """A run killed after committing the export's loads, before its checks were recorded:
    the rerun loads nothing new, and still checks the export (once: a checked export,
    even a clean one, has its counts)."""
    from warehouse.sen2_readiness import check_loaded, latest_unchecked

    root, _, _, _ = two_exports
    db = tmp_path / "killed.duckdb"
    shutil.copy(root / "after-first.duckdb", db)
    con = duckdb.connect(str(db))
    try:
        expected = _issues(con, FIRST)
        assert latest_unchecked(con) is False
        con.execute("DELETE FROM audit.sen2_issues")
        con.execute("DELETE FROM audit.sen2_issue_counts")
        assert latest_unchecked(con) is True
        assert check_loaded(con, "rerun", [], tmp_path / "reports") is None
        assert _issues(con, FIRST) == expected and len(expected) == 9
        assert (tmp_path / "reports" / "sen2-issues-2025-03-01.xlsx").is_file()
        assert check_loaded(con, "next", [], tmp_path / "reports") is None
        runs = con.execute("SELECT DISTINCT run_id FROM audit.sen2_issue_counts").fetchall()
        assert runs == [("rerun",)]
    finally:
        con.close()


def test_the_second_export_finds_the_vanished_plan_and_the_trend(two_exports):
    _, settings, _, second = two_exports
    assert second.status == "published"
    con = duckdb.connect(str(settings.home.warehouse), read_only=True)
    try:
        vanished = [r for r in _issues(con, SECOND) if r[0] == "plan-vanished"]
        summary = con.execute(
            "SELECT check_id, issues, issues_previous_export, previous_export FROM "
            "audit.sen2_issue_summary WHERE export_date = ? AND (issues > 0 OR "
            "issues_previous_export > 0) ORDER BY check_id", [SECOND]).fetchall()
        totals = con.execute("SELECT measure, previous, current, flagged FROM "
                             "audit.sen2_export_totals WHERE export_date = ? AND measure = "
                             "'plans'", [SECOND]).fetchall()
        # The first export's issues are kept beside the second's.
        assert len(_issues(con, FIRST)) == 9
    finally:
        con.close()
    assert vanished == [("plan-vanished", "namedplan", "5000400", native_id("namedplan",
                                                                             5000400))]
    assert summary == [("active-no-placement", 1, 1, FIRST), ("orphan-record", 7, 7, FIRST),
                       ("plan-vanished", 1, 0, FIRST), ("upn-check-letter", 1, 1, FIRST)]
    # 3 plans loaded from 4 (child 2's is orphaned), then 2: a move of a third.
    assert totals == [("plans", 3, 2, True)]


def test_issues_stay_in_the_warehouse_and_only_counts_are_published(two_exports):
    _, settings, _, _ = two_exports
    con = duckdb.connect(str(settings.home.published), read_only=True)
    try:
        audit = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'audit'").fetchall()}
        counted = con.execute("SELECT sum(issues) FROM audit.sen2_issue_summary WHERE "
                              "export_date = ?", [SECOND]).fetchall()
    finally:
        con.close()
    assert {"sen2_issue_summary", "sen2_issue_counts"} <= audit
    assert not audit & {"sen2_issues", "sen2_rejected"}
    assert counted == [(10,)]


def test_the_workbook_names_records_by_their_ids_and_holds_nothing_personal(two_exports):
    root, _, _, _ = two_exports
    book = fastexcel.read_excel(root / "first.xlsx")
    assert book.sheet_names == ["summary", "upn-check-letter", "orphan-record",
                                "active-no-placement"]
    sheets = {n: pl.read_excel(root / "first.xlsx", sheet_name=n, read_options={
        "header_row": None}) for n in book.sheet_names}
    upn_sheet = sheets["upn-check-letter"].rows()
    assert upn_sheet[0][0].startswith("error: ")
    assert ["person", "2000200", native_id("person", 2000200), "upn"] == list(upn_sheet[3][:4])
    text = " ".join(str(v) for frame in sheets.values() for row in frame.rows() for v in row)
    for personal in (BAD_UPN, upn("865", "2001", 15, 1), "Surname1", "SN1 1AA", "2015-06-15"):
        assert personal not in text


def test_the_internal_pack_shows_readiness_and_the_public_pack_does_not(two_exports):
    _, settings, _, _ = two_exports
    internal = (settings.home.reports / "board-pack-2025-06-02.html").read_text()
    public = (settings.home.reports / "board-pack-2025-06-02-public.html").read_text()
    assert "<h2>SEN2 return readiness</h2>" in internal
    assert ("8 records the DfE&#x27;s validation would reject, 1 it would query and 1 that "
            "distort a headline KPI (at the export of 2025-03-01: 8, 0 and 1)") in internal
    assert ("1 active plans with no placement on census day are counted as placement "
            "unknown in the placement mix") in internal
    assert "SEN2 return readiness" not in public


def test_sen2_check_prints_the_summary_and_fails_on_errors(two_exports, capsys):
    from sendboard.cli import main

    _, settings, _, _ = two_exports
    home = str(settings.home.root)
    assert main(["sen2-check", "--home", home, "--export", "2025-03-01"]) == 0
    out = capsys.readouterr().out
    assert "SEN2 export of 2025-03-01 (return census day 2025-01-16):" in out
    assert "  8 error, 0 query, 1 quality" in out
    assert (settings.home.reports / "sen2-issues-2025-03-01.xlsx").is_file()
    assert main(["sen2-check", "--home", home, "--fail-on", "error"]) == 1
    assert "8 issue(s) of severity error" in capsys.readouterr().err
    assert main(["sen2-check", "--home", home, "--export", "2024-01-01"]) == 2
    assert "no SEN2 export of 2024-01-01 is loaded" in capsys.readouterr().err
