"""`sendboard rotate-key`: the warehouse re-pseudonymised from the archive under a new key.
Pupils link across censuses and to SEN2 exactly as before, no pseudonym of the old key is
left in any table, the audit history is kept and the rotation recorded; a run with the new
key then works and one with the old key stops. A rotation that fails or is killed leaves
the old warehouse exactly as it was."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from sendboard.cli import main
from tests.conftest import TEST_KEY, settings_for
from tests.plain_run import plain_run
from warehouse import run
from warehouse.pseudonym_key import KeyMismatch, fingerprint
from warehouse.rotation import rotate

REPO = Path(__file__).resolve().parents[1]
NEW_KEY = "the-new-pseudonym-key-0123456789abcdef"
# Pupils of the latest census also in an earlier one, and also in SEN2: what the key links.
LINKS = """
    WITH latest AS (SELECT max(census_date) AS day FROM stage.census)
    SELECT (SELECT count(DISTINCT pupil_id) FROM stage.census, latest WHERE census_date = day
            AND pupil_id IN (SELECT pupil_id FROM stage.census, latest WHERE census_date < day)),
           (SELECT count(DISTINCT pupil_id) FROM stage.census, latest WHERE census_date = day
            AND pupil_id IN (SELECT upn_id FROM stage.sen2_person))"""


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def counts(path: Path) -> dict[str, int]:
    return {f"{s}.{t}": query(path, f"SELECT count(*) FROM {s}.{t}")[0][0]
            for s, t in query(path, "SELECT schema_name, table_name FROM duckdb_tables()")}


def pseudonyms(path: Path) -> set[str]:
    """Every pseudonym made with the warehouse's key: census pupils, SEN2 UPNs and ULNs."""
    return {v for (v,) in query(path, "SELECT pupil_id FROM stage.census UNION SELECT upn_id "
                                      "FROM stage.sen2_person UNION SELECT uln_id FROM "
                                      "stage.sen2_person") if v is not None}


def every_text_value(path: Path) -> set[str]:
    out: set[str] = set()
    con = duckdb.connect(str(path), read_only=True)
    try:
        for table, column in con.execute(
                "SELECT table_schema || '.' || table_name, column_name FROM "
                "information_schema.columns WHERE data_type = 'VARCHAR'").fetchall():
            out |= {v for (v,) in con.execute(f'SELECT DISTINCT "{column}" FROM {table}'
                                              ).fetchall() if v is not None}
    finally:
        con.close()
    return out


def sendboard(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sendboard.cli", *args],
                          env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_sample) -> Path:
    home = tmp_path_factory.mktemp("built") / "home"
    assert plain_run(home, small_sample, run_id="first-run").status == "published"
    return home


@pytest.fixture(scope="module")
def rotated(built, tmp_path_factory):
    """A copy of the built home, rotated from the command line; what it held before."""
    home = tmp_path_factory.mktemp("rotated") / "home"
    shutil.copytree(built, home)
    wh = home / "warehouse.duckdb"
    before = {"links": query(wh, LINKS)[0], "pseudonyms": pseudonyms(wh), "counts": counts(wh),
              "files": query(wh, "SELECT sha256, original_name, first_run_id, status, "
                                 "rows_read, rows_loaded, rows_quarantined FROM audit.files "
                                 "ORDER BY 1, 2"),
              "quarantine": query(wh, "SELECT * FROM audit.quarantine ORDER BY ALL")}
    done = sendboard("rotate-key", "--home", str(home), SENDBOARD_PSEUDONYM_KEY=TEST_KEY,
                     SENDBOARD_NEW_PSEUDONYM_KEY=NEW_KEY)
    return home, before, done


def test_rotate_key_says_what_it_does_and_exits_0(rotated):
    home, _, done = rotated
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("rotate-key: replaying 53 archived file(s) with the new key (fingerprint "
            f"{fingerprint(NEW_KEY.encode())[:12]}) into a new warehouse beside the old one"
            ) in done.stderr
    assert "loading: 53 of 53 file(s) done" in done.stderr
    assert f"rotate-key: the re-pseudonymised warehouse is in place: {home}/warehouse.duckdb" \
        in done.stderr
    # (53 files; 62 tables: the KPI and public tables and the published audit tables)
    assert f"published 66 tables to {home}/sendboard.duckdb" in done.stderr
    run_id = query(home / "warehouse.duckdb", "SELECT run_id FROM audit.key_rotations")[0][0]
    assert f"Key rotated (run {run_id}, " in done.stdout
    assert "53 archived file(s) replayed" in done.stdout
    assert f"{fingerprint(TEST_KEY.encode())[:12]} -> {fingerprint(NEW_KEY.encode())[:12]}" \
        in done.stdout
    assert done.stdout.rstrip().splitlines()[-1] == \
        f"the full log: {home / 'logs' / f'{run_id}.log'}"
    assert list(home.glob(".warehouse.duckdb.*")) == []


def test_pupils_link_as_before_and_no_old_pseudonym_is_left(rotated):
    home, before, _ = rotated
    wh = home / "warehouse.duckdb"
    census_links, sen2_links = before["links"]
    assert census_links > 1500 and sen2_links > 100
    assert query(wh, LINKS)[0] == (census_links, sen2_links)
    new = pseudonyms(wh)
    assert len(new) == len(before["pseudonyms"]) and new.isdisjoint(before["pseudonyms"])
    for db in ("warehouse.duckdb", "sendboard.duckdb"):
        left = every_text_value(home / db) & before["pseudonyms"]
        assert left == set(), f"{db} still holds {len(left)} pseudonyms of the old key"


def test_the_audit_history_is_kept_and_the_rotation_recorded(rotated):
    home, before, _ = rotated
    wh = home / "warehouse.duckdb"
    after = counts(wh)
    changed = {t: (before["counts"].get(t), n) for t, n in after.items()
               if before["counts"].get(t) != n}
    checks = before["counts"]["audit.quality_checks"]
    # Every table is there with its rows; the audit gained the rotation's run, its gate
    # checks, its key, its record and the SEN2 readiness checks made again under the new
    # key (a count a check).
    assert set(after) == set(before["counts"])
    assert changed == {"audit.runs": (1, 2), "audit.quality_checks": (checks, 2 * checks),
                       "audit.key_fingerprint": (1, 2), "audit.key_rotations": (0, 1),
                       "audit.sen2_issue_counts": (45, 90)}
    assert query(wh, "SELECT sha256, original_name, first_run_id, status, rows_read, "
                     "rows_loaded, rows_quarantined FROM audit.files ORDER BY 1, 2"
                 ) == before["files"]
    assert query(wh, "SELECT * FROM audit.quarantine ORDER BY ALL") == before["quarantine"]
    (run_id, flow, status, files_new), = query(
        wh, "SELECT run_id, flow, status, files_new FROM audit.runs WHERE run_id <> "
            "'first-run'")
    assert (flow, status, files_new) == ("sendboard-rotate-key", "published", 53)
    rows = sum(r[5] for r in before["files"] if r[3] == "loaded")
    assert query(wh, "SELECT run_id, old_fingerprint, new_fingerprint, files_replayed, "
                     "rows_loaded FROM audit.key_rotations") == [
        (run_id, fingerprint(TEST_KEY.encode()), fingerprint(NEW_KEY.encode()), 53, rows)]
    assert query(wh, "SELECT fingerprint, first_run_id, retired_at IS NULL FROM "
                     "audit.key_fingerprint ORDER BY first_used_at") == [
        (fingerprint(TEST_KEY.encode()), "first-run", False),
        (fingerprint(NEW_KEY.encode()), run_id, True)]
    # The published copy carries the rotation's run, not the keys.
    assert query(home / "sendboard.duckdb", "SELECT flow FROM audit.runs ORDER BY started_at"
                 ) == [("plain",), ("sendboard-rotate-key",)]


def test_after_rotation_the_new_key_runs_and_the_old_one_stops(rotated, small_sample,
                                                             monkeypatch, capsys,
                                                             prefect_harness):
    home = rotated[0]
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", TEST_KEY)
    assert main(["run", "--home", str(home), "--landing", str(small_sample)]) == 2
    assert "is not the key this warehouse was built with" in capsys.readouterr().err
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", NEW_KEY)
    assert main(["run", "--home", str(home), "--landing", str(small_sample)]) == 0
    assert "No new files in the landing folder" in capsys.readouterr().out


def test_the_current_key_must_be_the_warehouses(built, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    shutil.copytree(built, home)
    before = (home / "warehouse.duckdb").read_bytes()
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", "not-the-warehouses-key-0123456789")
    monkeypatch.setenv("SENDBOARD_NEW_PSEUDONYM_KEY", NEW_KEY)
    assert main(["rotate-key", "--home", str(home)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("sendboard: SENDBOARD_PSEUDONYM_KEY is not the key this warehouse "
                             "was built with (")
    assert err[0].endswith("rotate-key needs the current key there and the new one in "
                           "SENDBOARD_NEW_PSEUDONYM_KEY; nothing was changed")
    assert (home / "warehouse.duckdb").read_bytes() == before
    monkeypatch.delenv("SENDBOARD_NEW_PSEUDONYM_KEY")
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", TEST_KEY)
    assert main(["rotate-key", "--home", str(home)]) == 2
    assert capsys.readouterr().err.startswith(
        "sendboard: SENDBOARD_NEW_PSEUDONYM_KEY is not set: put the new pseudonymisation key")


def test_a_rotation_that_fails_leaves_the_old_warehouse_exactly(built, tmp_path):
    """The quality gate failing on the rebuilt tables, after the replay: nothing swapped."""
    home = tmp_path / "home"
    shutil.copytree(built, home)
    before = {p.name: p.read_bytes() for p in (home / "warehouse.duckdb",
                                               home / "sendboard.duckdb")}

    def failing_gate(con, settings, run_id, logger=None):
        raise run.QualityGateFailed("quality gate failed, nothing published")

    with ThreadPoolExecutor(max_workers=2) as pool:
        steps = dataclasses.replace(run.plain_steps(lambda s: [], pool), check=failing_gate)
        with pytest.raises(run.QualityGateFailed):
            rotate(settings_for(home), TEST_KEY.encode(), NEW_KEY.encode(), "failing", steps)
    assert {p.name: p.read_bytes() for p in (home / "warehouse.duckdb",
                                             home / "sendboard.duckdb")} == before
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".")) == [".run.lock"]
    with pytest.raises(KeyMismatch):  # the key is still the old one
        plain_run(home, tmp_path, key=NEW_KEY.encode())


def test_a_killed_rotation_leaves_the_old_warehouse_and_the_next_run_cleans_up(built,
                                                                               tmp_path):
    home = tmp_path / "home"
    shutil.copytree(built, home)
    before = (home / "warehouse.duckdb").read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "sendboard.cli", "rotate-key", "--home",
                             str(home)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "SENDBOARD_PSEUDONYM_KEY": TEST_KEY,
                                 "SENDBOARD_NEW_PSEUDONYM_KEY": NEW_KEY})
    deadline = time.monotonic() + 120
    while not list(home.glob(".warehouse.duckdb.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)  # replaying
    killed = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert killed, "the rotation finished before it could be killed"
    assert list(home.glob(".warehouse.duckdb.*.tmp"))  # the half-built warehouse
    assert (home / "warehouse.duckdb").read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plain_run(home, empty).status == "no_new_files"  # with the old key, as before
    assert list(home.glob(".warehouse.duckdb.*")) == []


def test_rows_that_cannot_be_replayed_stop_the_rotation(built, tmp_path, monkeypatch, capsys):
    """A file whose rows the warehouse holds but that the archive would not replay (as an
    archive purge that keeps the derived rows might leave it): rotating without it would
    drop its rows, so the rotation stops first."""
    home = tmp_path / "home"
    shutil.copytree(built, home)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    (sha,) = con.execute("UPDATE audit.files SET status = 'purged' WHERE original_name = "
                         "'School Census Spring 2025.csv' RETURNING sha256").fetchone()
    con.close()
    before = (home / "warehouse.duckdb").read_bytes()
    monkeypatch.setenv("SENDBOARD_NEW_PSEUDONYM_KEY", NEW_KEY)
    assert main(["rotate-key", "--home", str(home)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "sendboard: 1 file(s) whose rows are in the warehouse are not in the archive to "
        f"replay (e.g. {sha[:12]}): their rows cannot be pseudonymised again, so the key "
        "cannot be rotated; nothing was changed")
    assert err[1].startswith("the full log: ")
    assert (home / "warehouse.duckdb").read_bytes() == before
