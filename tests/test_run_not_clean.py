"""A run that was not clean tells the scheduler: it publishes what it can, then ends Failed in
Prefect and `sendboard run` exits 1, with the reasons in its summary (real flow runs on
hand-made extracts)."""

from __future__ import annotations

import duckdb
import pytest

from flows.nightly import RunNotClean, nightly
from sendboard.cli import main
from tests import handmade


@pytest.fixture
def landing(tmp_path):
    return handmade.write_landing(tmp_path / "landing")


def tables(home) -> set[str]:
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        return {f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = 'kpi'").fetchall()}
    finally:
        con.close()


def last_run(home) -> tuple:
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        return con.execute("SELECT status, error FROM audit.runs ORDER BY started_at DESC "
                           "LIMIT 1").fetchall()[0]
    finally:
        con.close()


def test_a_rejected_new_file_publishes_the_rest_and_fails_the_flow_run(
        tmp_path, landing, prefect_harness):
    bad = landing / "finance" / "hnb_ledger_2024-25.csv"
    bad.parent.mkdir()
    bad.write_text("year,amount\n2024,12\n")
    state = nightly(home=str(tmp_path), landing=str(landing), return_state=True)
    assert state.is_failed()
    err = state.result(raise_on_failure=False)
    assert isinstance(err, RunNotClean)
    summary = err.summary
    assert summary.status == "published"
    assert summary.problems == ["1 new file(s) rejected: finance/hnb_ledger_2024-25.csv lacks "
                                "required columns financial_year, period, s251_line, "
                                "entry_type, amount_gbp"]
    assert {"kpi.ehcp_caseload", "kpi.sen_prevalence"} <= tables(tmp_path)
    status, error = last_run(tmp_path)
    assert status == "published" and error.startswith("not clean: 1 new file(s) rejected")
    # Nothing new on the next run: clean, and nothing changes.
    again = nightly(home=str(tmp_path), landing=str(landing))
    assert again.status == "no_new_files" and again.problems == []


def test_no_sen2_export_publishes_census_tables_and_says_why(tmp_path, prefect_harness):
    landing = tmp_path / "landing"
    handmade.write_census(landing / "census")
    with pytest.raises(RunNotClean) as caught:
        nightly(home=str(tmp_path), landing=str(landing))
    summary = caught.value.summary
    assert summary.status == "published"
    assert summary.problems == [
        "no EHC plan tables published: no SEN2 export has been loaded: land one in sen2/ "
        "(Blade-Export_<DD-MM-YYYY>_<module>.csv files)"]
    # The DfE's figures need no SEN2: the benchmarks and the forecast's record on them.
    assert tables(tmp_path) == {"kpi.sen_prevalence", "kpi.benchmarks", "kpi.sen_attendance",
                                "kpi.forecast_track_record"}
    packs = sorted(p.name for p in (tmp_path / "reports").glob("board-pack-*.html"))
    assert packs == ["board-pack-2024-01-18-public.html", "board-pack-2024-01-18.html"]
    html = (tmp_path / "reports" / packs[1]).read_text()
    assert "SEN in" in html and "EHC plans: caseload" not in html


def test_cli_exits_1_for_an_export_left_waiting(tmp_path, landing, prefect_harness, capsys):
    (landing / "sen2" / "Blade-Export_01-03-2025_senneed.csv").unlink()
    code = main(["run", "--home", str(tmp_path), "--landing", str(landing)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "not clean: 8 SEN2 file(s) waiting for the rest of their export" in out
    assert "the run was not clean" in err
    # The census loaded and published; the EHC plan tables wait for the export.
    assert tables(tmp_path) == {"kpi.sen_prevalence", "kpi.benchmarks", "kpi.sen_attendance",
                                "kpi.forecast_track_record"}


def test_cli_exits_0_for_a_clean_run_and_shows_benchmarks(tmp_path, landing, prefect_harness,
                                                          capsys):
    """With nothing in published/, the shipped 2025 release benchmarks the LA (Wiltshire's
    number, 865) against the South West and England."""
    assert main(["run", "--home", str(tmp_path), "--landing", str(landing)]) == 0
    out = capsys.readouterr().out
    assert "not clean" not in out
    assert "Benchmarks: the DfE's published figures for this LA, its region and England" in out
    rows = {" ".join(line.split()[:-4]): line.split()[-4:] for line in out.splitlines()
            if line.startswith(("plans in", "new plans in 20"))}
    assert rows["plans in mainstream settings"] == ["2025", "51.2", "44.6", "43.6"]
    assert rows["new plans in 20 weeks (ex. exceptions)"] == ["2024", "29.5", "28.5", "46.4"]
