"""Runs compared (warehouse/changes.py): what was new since the previous publish and which
headline figures moved, as `sendboard status` and the internal pack say it."""

from __future__ import annotations

import datetime as dt

import duckdb

from tests import handmade
from tests.plain_run import plain_run
from warehouse.changes import since_previous


def _audit(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.runs (run_id VARCHAR, status VARCHAR, "
                "finished_at TIMESTAMP)")
    con.execute("CREATE TABLE audit.files (source VARCHAR, first_run_id VARCHAR, "
                "status VARCHAR)")
    con.execute("CREATE TABLE audit.headlines (run_id VARCHAR, measure VARCHAR, "
                "period VARCHAR, value DOUBLE)")


def test_moves_are_said_with_their_change_and_new_periods_as_new(tmp_path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    _audit(con)
    con.execute("INSERT INTO audit.runs VALUES ('a', 'published', '2026-01-10 02:00'), "
                "('b', 'failed', '2026-01-11 02:00'), ('c', 'published', '2026-01-12 02:00')")
    con.execute("INSERT INTO audit.files VALUES ('census', 'c', 'loaded'), "
                "('census', 'c', 'loaded'), ('sen2', 'c', 'rejected'), ('sen2', 'a', 'loaded')")
    con.execute("INSERT INTO audit.headlines VALUES "
                "('a', 'caseload', '2025', 7230), ('c', 'caseload', '2025', 7410), "
                "('a', 'new_plans', '2024', 900), ('c', 'new_plans', '2025', 950), "
                "('a', 'requests', '2024', 1200), ('c', 'requests', '2024', 1200), "
                "('a', 'cumulative_dsg_balance_gbp', '2024-25', -120900000), "
                "('c', 'cumulative_dsg_balance_gbp', '2024-25', -130900000), "
                "('c', 'pct_within_20_weeks_ex', '2025', 48.5)")
    got = since_previous(con)
    assert (got.run_id, got.previous_run_id) == ("c", "a")
    assert got.lines() == [
        "since the previous publish (2026-01-10 02:00):",
        "  new extracts: census 2 file(s)",
        "  EHC plans in January (2025): 7,230 -> 7,410 (+180.0, +2.5%)",
        "  new EHC plans in the year: 950 (2025), was 900 (2024)",
        "  % of new plans within 20 weeks (exceptions aside): 48.5 (2025), not published "
        "before",
        "  cumulative DSG balance, £ (2024-25): -£120.9m -> -£130.9m (-10,000,000.0, -8.3%)"]


def test_the_first_publish_has_nothing_to_compare(tmp_path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    _audit(con)
    con.execute("INSERT INTO audit.runs VALUES ('a', 'published', '2026-01-10 02:00')")
    con.execute("INSERT INTO audit.headlines VALUES ('a', 'caseload', '2025', 7230)")
    assert since_previous(con).lines() == ["first publish: nothing to compare with"]


def test_a_second_run_says_what_was_new_in_status_and_the_pack(tmp_path):
    from sendboard.report_text import status, status_text
    from warehouse.settings import Home

    landing = handmade.write_landing(tmp_path / "landing")
    home = tmp_path / "home"
    assert plain_run(home, landing, pack=True).status == "published"
    handmade.write_census(landing / "census", handmade.census_rows("03/10/2024"),
                          name="autumn 2024.csv")
    assert plain_run(home, landing, pack=True).status == "published"
    text = status_text(status(Home(home)))
    assert ("  new extracts: census 1 file(s)\n  no headline figure moved") in text
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        caseload = con.execute("SELECT value FROM audit.headlines WHERE measure = 'caseload' "
                               "ORDER BY run_id").fetchall()
    finally:
        con.close()
    assert caseload == [(4.0,), (4.0,)]  # the hand-made export's 4 plans, both runs
    pack = next((home / "reports").glob(f"board-pack-{dt.date(2025, 3, 1)}.html")).read_text()
    assert "<h2>Since the last pack</h2>" in pack and "new extracts: census 1 file(s)" in pack
    public = (home / "reports" / "board-pack-2025-03-01-public.html").read_text()
    assert "Since the last pack" not in public
