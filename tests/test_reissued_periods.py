"""A re-issued extract replaces the rows of the periods it holds, and only those."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests import handmade
from tests.conftest import archive_at
from warehouse import loads, store
from warehouse.archive import sha256_of

KEY = b"k" * 32
LEDGER_H = "financial_year,period,s251_line,cost_centre,description,provider_urn,entry_type," \
           "amount_gbp"


def land(tmp_path, folder, name, text):
    path = tmp_path / "landing" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(con, tmp_path, folder, *paths):
    files = [loads.LandedFile(folder, p, sha256_of(p)) for p in paths]
    return loads.load_batch(con, files, KEY, "run", archive_at(tmp_path))


def totals(con):
    return dict(con.execute("SELECT financial_year, sum(amount_gbp) FROM stage.finance_ledger "
                            "GROUP BY 1 ORDER BY 1").fetchall())


def test_a_reissued_financial_year_replaces_only_that_year(tmp_path):
    con = store.connect(tmp_path / "w.duckdb")
    first = land(tmp_path, "finance", "hnb_ledger_2023-25.csv", "\n".join([
        LEDGER_H, "2023-24,1,1.2.1,HN1,Top-up,,actual,100.00",
        "2024-25,1,1.2.1,HN1,Top-up,,actual,200.00", "2024-25,2,1.2.1,HN1,Top-up,,actual,50.00"]))
    [o] = load(con, tmp_path, "finance", first)
    assert o.period == "2023-24, 2024-25"
    reissue = land(tmp_path, "finance", "hnb_ledger_2024-25_v2.csv", "\n".join([
        LEDGER_H, "2024-25,1,1.2.1,HN1,Top-up,,actual,210.00"]))
    [o] = load(con, tmp_path, "finance", reissue)
    assert totals(con) == {"2023-24": Decimal("100.00"), "2024-25": Decimal("210.00")}
    # The first file still holds 2023-24: it stays loaded, partly replaced.
    assert dict(con.execute("SELECT original_name, status FROM audit.files").fetchall()) == {
        "hnb_ledger_2023-25.csv": "loaded", "hnb_ledger_2024-25_v2.csv": "loaded"}
    whole = land(tmp_path, "finance", "hnb_ledger_2023-24_v2.csv", "\n".join([
        LEDGER_H, "2023-24,1,1.2.1,HN1,Top-up,,actual,90.00"]))
    load(con, tmp_path, "finance", whole)
    assert totals(con) == {"2023-24": Decimal("90.00"), "2024-25": Decimal("210.00")}
    assert con.execute("SELECT status, message FROM audit.files WHERE original_name = "
                       "'hnb_ledger_2023-25.csv'").fetchall() == [
        ("superseded", "replaced by hnb_ledger_2023-24_v2.csv")]


def test_a_later_sen2_export_keeps_the_earlier_one_and_a_reissue_replaces_its_date(tmp_path):
    con = store.connect(tmp_path / "w.duckdb")
    march = handmade.write_sen2(tmp_path / "landing" / "sen2")
    load(con, tmp_path, "sen2", *march)
    april = handmade.write_sen2(tmp_path / "april", export=dt.date(2025, 4, 1))
    load(con, tmp_path, "sen2", *april)
    counts = con.execute("SELECT export_date::VARCHAR, count(*) FROM stage.sen2_namedplan "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert counts == [("2025-03-01", 6), ("2025-04-01", 6)]
    # April's named plans re-issued alone, with one plan fewer: only April's rows change.
    named = next(p for p in april if p.name.endswith("_namedplan.csv"))
    lines = named.read_text().splitlines()
    reissued = tmp_path / "reissue" / named.name
    reissued.parent.mkdir()
    reissued.write_text("\n".join(lines[:-1]) + "\n")
    [o] = load(con, tmp_path, "sen2", reissued)
    assert (o.status, o.rows_loaded, o.rows_quarantined) == ("loaded", 5, 0)
    counts = con.execute("SELECT export_date::VARCHAR, count(*) FROM stage.sen2_namedplan "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert counts == [("2025-03-01", 6), ("2025-04-01", 5)]


def test_a_module_identical_in_two_exports_loads_for_both(tmp_path):
    """The sen2 header module can be byte-identical in consecutive exports: the second
    export is still whole, so it loads rather than waiting forever."""
    landing = tmp_path / "landing"
    handmade.write_sen2(landing / "sen2")
    con = store.connect(tmp_path / "w.duckdb")
    found = loads.discover(landing, store.known_files(con))
    loads.load_batch(con, found.new, KEY, "run-1", archive_at(tmp_path))
    handmade.write_sen2(landing / "sen2", export=dt.date(2025, 4, 1))
    found = loads.discover(landing, store.known_files(con))
    assert len(found.new) == 9  # every April module, though all equal March's bytes
    outcomes = loads.load_batch(con, found.new, KEY, "run-2", archive_at(tmp_path))
    assert {o.status for o in outcomes} == {"loaded"}
    assert con.execute("SELECT count(DISTINCT export_date) FROM stage.sen2_sen2").fetchall() \
        == [(2,)]
    again = loads.discover(landing, store.known_files(con))
    assert again.new == []


def _census(tmp_path, name, rows):
    return land(tmp_path, "census", name, "\n".join([handmade.CENSUS_HEADER, *rows]) + "\n")


def _schools(con) -> dict[str, int]:
    return dict(con.execute("SELECT laestab, count(*) FROM stage.census GROUP BY 1 ORDER BY 1"
                            ).fetchall())


def test_census_returns_made_apart_for_one_day_add_up(tmp_path):
    """The maintained school's and the PRU's returns for 18 January 2024 arrive as two files:
    both load, and neither replaces the other."""
    con = store.connect(tmp_path / "w.duckdb")
    rows = handmade.census_rows()
    school = _census(tmp_path, "maintained spring 2024.csv", rows[:4])  # LAEstab 8652001
    pru = _census(tmp_path, "pru spring 2024.csv", rows[4:])  # LAEstab 8651100
    outcomes = load(con, tmp_path, "census", school) + load(con, tmp_path, "census", pru)
    assert [(o.status, o.rows_loaded, o.period) for o in outcomes] == [
        ("loaded", 4, "2024-01-18"), ("loaded", 2, "2024-01-18")]
    assert _schools(con) == {"8651100": 2, "8652001": 4}
    assert {s for (s,) in con.execute("SELECT status FROM audit.files").fetchall()} == {
        "loaded"}


def test_a_reissued_school_return_replaces_only_that_school(tmp_path):
    con = store.connect(tmp_path / "w.duckdb")
    rows = handmade.census_rows()
    load(con, tmp_path, "census", _census(tmp_path, "maintained spring 2024.csv", rows[:4]))
    load(con, tmp_path, "census", _census(tmp_path, "pru spring 2024.csv", rows[4:]))
    # The PRU re-issues its return with its subsidiary registration taken out.
    [o] = load(con, tmp_path, "census", _census(tmp_path, "pru spring 2024 v2.csv", rows[5:]))
    assert (o.status, o.rows_loaded) == ("loaded", 1)
    assert _schools(con) == {"8651100": 1, "8652001": 4}
    assert dict(con.execute("SELECT original_name, status FROM audit.files").fetchall()) == {
        "maintained spring 2024.csv": "loaded", "pru spring 2024.csv": "superseded",
        "pru spring 2024 v2.csv": "loaded"}


def test_a_pupil_on_roll_in_two_returns_is_counted_once_for_the_la(tmp_path):
    """Pupil 5 appears on roll (C) in the PRU's return and, by mistake, in the school's:
    the school and the PRU each count them; the LA counts five pupils, not six."""
    from transforms.kpis import sen_prevalence

    con = store.connect(tmp_path / "w.duckdb")
    rows = handmade.census_rows()
    twice = rows[5].replace("8651100,100002", "8652001,100001")
    load(con, tmp_path, "census", _census(tmp_path, "school.csv", [*rows[:4], twice]))
    load(con, tmp_path, "census", _census(tmp_path, "pru.csv", rows[4:]))
    census = store.read(con, "SELECT * FROM stage.census")
    got = sen_prevalence(census, None, "test", dt.date(2024, 1, 18))
    la = got.filter(got["scope"] == "la").select("pupils", "ehcp", "sen_support").row(0)
    schools = dict(got.filter(got["scope"] == "school").select("scope_id", "pupils").rows())
    assert la == (5, 1, 2)
    assert schools == {"100001": 5, "100002": 1}
