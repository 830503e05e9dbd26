"""The command line: clear failures before any work starts, a quiet run with its full log in
HOME/logs, one line for an expected failure, and status output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sendboard.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_a_real_run_without_a_key_stops_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SENDBOARD_PSEUDONYM_KEY", raising=False)
    (tmp_path / "landing").mkdir()
    code = main(["run", "--home", str(tmp_path), "--landing", str(tmp_path / "landing")])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("sendboard: SENDBOARD_PSEUDONYM_KEY is not set. Set it to the LA's "
                           "pseudonymisation secret")
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_short_key_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", "short")
    assert main(["run", "--home", str(tmp_path)]) == 2
    assert "shorter than 16 characters" in capsys.readouterr().err


def test_status_before_any_run(tmp_path, capsys):
    assert main(["status", "--home", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["runs"] == [] and info["message"] == (
        f"no run has published to {tmp_path} yet: run `sendboard run` first")


def test_commands_on_a_home_no_run_has_published_to_say_so_alike(tmp_path, capsys):
    """sen2-check, archive encrypt / purge, report and rotate-key need a run's warehouse:
    one message, exit status 2, and nothing made in the home."""
    message = f"sendboard: no run has published to {tmp_path} yet: run `sendboard run` first"
    for command in (["sen2-check"], ["archive", "encrypt"], ["archive", "purge"], ["report"],
                    ["rotate-key"]):
        assert main([*command, "--home", str(tmp_path)]) == 2, command
        out, err = capsys.readouterr()
        assert (out, err.splitlines()) == ("", [message]), command
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------
# A quiet run: sendboard's lines on the console, every line in HOME/logs/<run id>.log
# ------------------------------------------------------------------------------------------

# What the libraries printed on every run before (issue 20): Great Expectations' import and
# metric registry, its temporary Data Docs site, Prefect's task states, and Prefect's log
# worker failing once its temporary server had stopped.
NOISE = ("Skipping registering", "Multiple declarations of metric", "ephemeral docs site",
         "Finished in state", "Error logging to API")
RUN_LINE = re.compile(r"^Run ([0-9a-f-]{36}): published\.", re.MULTILINE)


def sendboard(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The command line in a process of its own, as `make run` starts it."""
    return subprocess.run([sys.executable, "-m", "sendboard.cli", *args],
                          env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory, small_sample):
    """`sendboard run` on the small sample LA with Prefect's temporary server (no
    PREFECT_API_URL: the `make run` path), in a Prefect home of its own."""
    home = tmp_path_factory.mktemp("quiet")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home / "prefect")
    done = subprocess.run([sys.executable, "-m", "sendboard.cli", "run", "--home", str(home),
                           "--landing", str(small_sample)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    return home, done


def test_a_run_prints_sendboards_lines_and_no_library_noise(quiet_run):
    home, done = quiet_run
    assert done.returncode == 0, done.stderr[-3000:]
    console = done.stdout + done.stderr
    assert [n for n in NOISE if n in console] == []
    assert "Traceback" not in console
    # sendboard's own lines stay: what loaded, the gate, the publish, then the summary.
    assert "loaded census/School Census Spring 2025.csv:" in done.stderr
    assert re.search(r"^quality gate: \d+ of \d+ expectations met", done.stderr, re.MULTILINE)
    assert re.search(r"^published \d+ tables to ", done.stderr, re.MULTILINE)
    # No library's line at all: each would carry its logger's name.
    assert [line for line in done.stderr.splitlines()
            if line.startswith(("prefect", "great_expectations", "httpx", "uvicorn"))] == []
    run_id = RUN_LINE.search(done.stdout).group(1)
    assert "EHC plans (as of" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1] == \
        f"the full log: {home / 'logs' / f'{run_id}.log'}"


def summary_rows_read(stdout: str) -> int:
    from tests.test_progress_display import summary_rows_read

    return summary_rows_read(stdout)


def test_without_a_terminal_progress_is_a_plain_line_a_file(quiet_run, small_sample):
    """A pipe (CI, cron): no control codes, and after each commit a line with the files done
    of N, the rows read so far and the time loading has taken."""
    _, done = quiet_run
    assert "\x1b" not in done.stdout + done.stderr
    shown = [(int(k), int(n), int(r.replace(",", ""))) for k, n, r in re.findall(
        r"^loading: (\d+) of (\d+) file\(s\) done, ([\d,]+) rows read \(\d+ s\)$",
        done.stderr, re.MULTILINE)]
    n_files = sum(p.is_file() for p in small_sample.rglob("*"))
    # A line a batch: the SEN2 export's nine modules commit as one.
    assert len(shown) == n_files - 8 == 45
    assert [k for k, _, _ in shown] == sorted({k for k, _, _ in shown})
    assert {n for _, n, _ in shown} == {n_files}
    assert shown[-1] == (n_files, n_files, summary_rows_read(done.stdout)) == (53, 53, 119_276)


def test_the_summary_says_what_the_sen2_readiness_checks_found(quiet_run):
    """The counts the run recorded in audit.sen2_issue_counts, and the workbook."""
    home, done = quiet_run
    run_id = RUN_LINE.search(done.stdout).group(1)
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        counts = dict(con.execute("SELECT severity, sum(issues) FROM audit.sen2_issue_counts "
                                  "WHERE run_id = ? GROUP BY 1", [run_id]).fetchall())
    finally:
        con.close()
    assert counts == {"error": 18, "query": 19, "quality": 5}
    book = home / "reports" / "sen2-issues-2026-03-26.xlsx"
    assert book.is_file()
    assert (f"SEN2 return readiness of the export of 2026-03-26 (docs/sen2-readiness.md): "
            f"{counts['error']} error(s), {counts['query']} query(ies), {counts['quality']} "
            f"quality issue(s)\n  workbook for caseworkers: {book}\n") in done.stdout


def test_the_run_log_holds_every_line_the_libraries_too(quiet_run):
    home, done = quiet_run
    run_id = RUN_LINE.search(done.stdout).group(1)
    # Named after the run once Prefect gave it an id: no file left under its first name.
    assert list((home / "logs").glob("run-started-*")) == []
    text = (home / "logs" / f"{run_id}.log").read_text()
    # Great Expectations' and Prefect's INFO lines, with the task they came from ...
    assert "great_expectations._docs_decorators: Skipping registering function" in text
    assert "prefect.task_runs [quality gate-" in text and "Finished in state Completed()" in text
    assert "Beginning flow run" in text
    # ... and sendboard's own.
    assert re.search(r"prefect\.task_runs \[quality gate-\w+\]: quality gate: \d+ of \d+ "
                     r"expectations met", text)


def test_verbose_brings_the_libraries_lines_back(quiet_run, prefect_harness):
    from prefect.settings import get_current_settings

    home, _ = quiet_run
    landing = home / "empty-landing"
    landing.mkdir()
    done = sendboard("run", "--home", str(home), "--landing", str(landing), "--verbose",
                     PREFECT_API_URL=str(get_current_settings().api.url))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert any(line.startswith("prefect.task_runs INFO: Finished in state Completed()")
               for line in lines)
    assert any(line.startswith("prefect.flow_runs INFO: Beginning flow run") for line in lines)
    assert f"no new files in {landing}: nothing to load" in done.stderr
    assert "No new files in the landing folder: nothing loaded, nothing changed." in done.stdout


# ------------------------------------------------------------------------------------------
# Expected errors: one line saying what to do, no traceback; anything else: its last frame
# ------------------------------------------------------------------------------------------

def test_a_landing_folder_that_does_not_exist_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["run", "--home", str(tmp_path), "--landing", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"sendboard: the landing folder {missing} does not exist: create it with a subfolder "
        "for each source (census/, sen2/, ...: README) holding the extracts, or give the "
        "folder with --landing DIR"]
    assert not (tmp_path / "logs").exists() and not (tmp_path / "warehouse.duckdb").exists()


def test_a_scenarios_file_that_cannot_be_read_stops_before_the_run(tmp_path, monkeypatch,
                                                                   capsys):
    bad = tmp_path / "scenarios.toml"
    bad.write_text("[scenarios.baseline]\ngrowth = 3\n")
    monkeypatch.setenv("SENDBOARD_SCENARIOS", str(bad))
    (tmp_path / "landing").mkdir()
    assert main(["run", "--home", str(tmp_path), "--landing", str(tmp_path / "landing")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"sendboard: the forecast scenarios file {bad} cannot be used: scenario 'baseline': "
        "unknown lever(s) ['growth']; see docs/forecast.md for the levers; correct it "
        "(docs/forecast.md) and run again"]
    assert not (tmp_path / "logs").exists()


def test_a_locked_home_is_one_line_and_the_log_path(tmp_path, prefect_harness, capsys):
    from warehouse.run import run_lock
    from warehouse.settings import Home

    (tmp_path / "landing").mkdir()
    with run_lock(Home(tmp_path)):
        code = main(["run", "--home", str(tmp_path), "--landing", str(tmp_path / "landing")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err and "Finished in state" not in out + err
    (log,) = (tmp_path / "logs").iterdir()
    assert err.splitlines() == [
        f"sendboard: another sendboard run is writing to {tmp_path}; this one stops without "
        "changing anything (run it again afterwards)", f"the full log: {log}"]
    assert "RunInProgress" in log.read_text()


def test_a_failed_quality_gate_is_one_line_and_nothing_is_published(quiet_run, tmp_path,
                                                                     prefect_harness, capsys):
    """The corrupt population extract of the pipeline's test: the gate stops the publish;
    the console says which check failed and where to look, with no Prefect traceback."""
    home = tmp_path / "home"
    shutil.copytree(quiet_run[0], home, ignore=shutil.ignore_patterns("logs", "prefect"))
    before = (home / "sendboard.duckdb").read_bytes()
    landing = tmp_path / "landing"
    (landing / "population").mkdir(parents=True)
    rows = ["new_la_code,year,age,sex,population"] + [
        f"E06000054,{year},{age},F,1" for year in range(2013, 2026) for age in range(0, 26)]
    (landing / "population" / "ons_corrected.csv").write_text("\n".join(rows) + "\n")
    code = main(["run", "--home", str(home), "--landing", str(landing)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert [n for n in NOISE if n in out + err] == []
    (log,) = (home / "logs").iterdir()
    message, last = err.splitlines()[-2:]
    assert message.startswith("sendboard: quality gate failed, nothing published (the "
                              "previous sendboard.duckdb stays): ")
    assert "EHC plans per 10,000 aged 0-25 is plausible" in message
    assert message.endswith(f"The Data Docs ({home / 'reports' / 'data-docs' / 'index.html'})"
                            " show each check; correct the extract behind the failed one and "
                            "run again.")
    assert last == f"the full log: {log}"
    # Prefect's traceback of the failed task is in the log, not on the console.
    assert "Traceback" in log.read_text() and "QualityGateFailed" in log.read_text()
    assert (home / "sendboard.duckdb").read_bytes() == before


def test_an_unexpected_error_prints_its_last_frame_and_the_log(tmp_path, prefect_harness,
                                                              capsys):
    """A working database that is not a DuckDB file: nothing sendboard expects."""
    (tmp_path / "landing").mkdir()
    (tmp_path / "warehouse.duckdb").write_bytes(b"not a database\n" * 400)
    code = main(["run", "--home", str(tmp_path), "--landing", str(tmp_path / "landing")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    (log,) = (tmp_path / "logs").iterdir()
    first, frame, last = err.splitlines()
    assert first.startswith("sendboard: the run stopped on an unexpected error: ")
    assert frame == "  at warehouse/store.py:18 in connect: con = duckdb.connect(str(path))"
    assert last == f"the full log: {log}"
    assert "Traceback (most recent call last)" in log.read_text()


def test_report_tables_writes_the_workbooks_a_run_leaves_to_it(quiet_run):
    """A run writes the public tables as CSV and Parquet (and, having loaded a SEN2 export,
    its readiness workbook); `report --tables` adds the public and internal workbooks
    (docs/bi.md)."""
    home, done = quiet_run
    assert done.returncode == 0
    reports = home / "reports"
    assert [p.name for p in reports.glob("*.xlsx")] == ["sen2-issues-2026-03-26.xlsx"]
    assert (reports / "tables" / "2026-03-26" / "public.ehcp_caseload.parquet").is_file()
    made = sendboard("report", "--tables", "--home", str(home))
    assert made.returncode == 0, made.stderr[-2000:]
    assert "tables written: " in made.stdout
    assert sorted(p.name for p in reports.glob("*.xlsx")) == [
        "sen2-issues-2026-03-26.xlsx", "sendboard-2026-03-26-internal-kpi.xlsx",
        "sendboard-2026-03-26.xlsx"]
