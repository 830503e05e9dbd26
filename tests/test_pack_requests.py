"""The pack's "Requests for assessment and plans ceased" page from hand-made published tables
(the columns of kpi.ehcp_requests, kpi.ehcp_requests_by_source, kpi.ehcp_ceased and
kpi.ehcp_ceased_by_duration), with hand-worked sentences; a withheld figure (NULL, as in
public.*) is a dash and makes no total."""

from __future__ import annotations

import duckdb

from transforms.duty_kpis import DURATION_BANDS as BANDS
from warehouse.pack.requests import requests_section
from warehouse.pack.sections import PackData


def published(path, withheld: bool = False):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA kpi")
    con.execute("CREATE TABLE kpi.ehcp_requests (year INT, requests_received BIGINT, "
                "pct_decided_to_assess DOUBLE)")
    con.execute("INSERT INTO kpi.ehcp_requests VALUES (2024, 1000, 80.0), (2025, 1200, 85.5)")
    con.execute("CREATE TABLE kpi.ehcp_requests_by_source (year INT, request_source VARCHAR, "
                "pct DOUBLE)")
    con.execute("INSERT INTO kpi.ehcp_requests_by_source VALUES (2024, '1', 50.0), "
                "(2024, '2', 50.0), (2025, '1', 55.0), (2025, '2', 30.0), (2025, '3', 10.0), "
                f"(2025, '4', {'NULL' if withheld else '3.0'}), (2025, '5', 2.0)")
    con.execute("CREATE TABLE kpi.ehcp_ceased (year INT, cease_reason INT, cease_reason_name "
                "VARCHAR, plans BIGINT)")
    con.execute("INSERT INTO kpi.ehcp_ceased VALUES (2025, 1, 'reached maximum age', 40), "
                "(2025, 5, 'transferred to another LA', 60), "
                f"(2025, 8, 'deceased', {'NULL' if withheld else '0'})")
    con.execute("CREATE TABLE kpi.ehcp_ceased_by_duration (year INT, years_held_band VARCHAR, "
                "cease_reason INT, plans BIGINT)")
    # 2025: 100 plans: 10 + 15 held under 2 years, then 25, 30, 20.
    for band, n in zip(BANDS, (10, 15, 25, 30, 20), strict=True):
        con.execute("INSERT INTO kpi.ehcp_ceased_by_duration VALUES (2025, ?, 1, ?), "
                    "(2025, ?, 8, ?)", [band, n, band, None if withheld and band == "2_to_5"
                                        else 0])
    con.close()
    return PackData(path, "kpi")


def test_the_page_says_who_asked_and_how_plans_ended(tmp_path):
    section = requests_section(published(tmp_path / "p.duckdb"))
    assert section.commentary == (
        "In 2025, 1,200 requests for an EHC needs assessment were received and 85.5% were "
        "agreed. By who made them: young people and parents 55.0%, schools and other settings "
        "30.0%, health care professionals 10.0%, social care professionals 3.0% and others "
        "2.0%. 100 plans ceased in 2025; the commonest reason was transferred to another LA "
        "(60). 25 of them (25.0%) had been held for under 2 years.")
    head, rows = section.table
    assert head[:4] == ["year", "requests received", "decided to assess %",
                        "from young people and parents %"]
    assert rows[-1] == (2025, 1200, 85.5, 55.0, 30.0, 10.0, 3.0, 2.0, 100, 10, 15, 25, 30, 20)
    assert rows[0] == (2024, 1000, 80.0, 50.0, 50.0, None, None, None, None, None, None, None,
                       None, None)
    assert section.chart.count("<rect") > 0 and "Plans ceased by how long" in section.extra[0]


def test_withheld_figures_make_no_total(tmp_path):
    section = requests_section(published(tmp_path / "p.duckdb", withheld=True))
    # Social care's share withheld: left out of the sentence; a withheld reason: no total;
    # a withheld band: no share held under 2 years, and no 2-5 years figure in the table.
    assert section.commentary == (
        "In 2025, 1,200 requests for an EHC needs assessment were received and 85.5% were "
        "agreed. By who made them: young people and parents 55.0%, schools and other settings "
        "30.0%, health care professionals 10.0% and others 2.0%. The commonest reason plans "
        "ceased in 2025 was transferred to another LA (60).")
    assert section.table[1][-1][-5:] == (10, 15, None, 30, 20)
