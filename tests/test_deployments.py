"""The deployments for real: a Prefect server on localhost, `prefect deploy --all` from
prefect.yaml, the nightly and a backfill run through a process worker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests import handmade
from tests.conftest import TEST_KEY

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `prefect server start` with its own database, stopped after the module."""
    root = tmp_path_factory.mktemp("prefect")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(root), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_API_PORT": str(port), "PREFECT_LOGGING_LEVEL": "INFO",
           # Module fixtures start before the per-test key fixture: pass the key explicitly.
           "SENDBOARD_PSEUDONYM_KEY": TEST_KEY}
    env.pop("PREFECT_API_KEY", None)
    log = (root / "server.log").open("w")
    proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("prefect server did not start: " + (root / "server.log").read_text()[-2000:])
    yield env
    proc.terminate()
    proc.wait(timeout=30)


def prefect(env, *args: str, timeout: int = 240) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def run_worker(env) -> str:
    """A process worker that takes the run just created, runs it, and stops."""
    time.sleep(2)  # let the new run reach the pool's queue before the worker polls once
    return prefect(env, "worker", "start", "--pool", "sendboard", "--run-once")


def test_nightly_and_backfill_deployments_run_through_a_process_worker(server, tmp_path):
    home, landing = tmp_path / "home", handmade.write_landing(tmp_path / "landing")
    prefect(server, "work-pool", "create", "sendboard", "--type", "process")
    prefect(server, "work-pool", "set-concurrency-limit", "sendboard", "1")
    out = prefect(server, "--no-prompt", "deploy", "--all")
    assert "sendboard-nightly" in out and "sendboard-backfill" in out
    nightly = prefect(server, "deployment", "inspect", "sendboard-nightly/sendboard-nightly")
    assert "'cron': '0 2 * * *'" in nightly and "'timezone': 'Europe/London'" in nightly
    assert "'limit': 1" in nightly and "ENQUEUE" in nightly
    # The 02:00 schedule could fall due during the test and run on the repository's ./var.
    prefect(server, "deployment", "schedule", "clear", "sendboard-nightly/sendboard-nightly",
            "--accept-yes")

    prefect(server, "deployment", "run", "sendboard-nightly/sendboard-nightly",
            "-p", f"home={home}", "-p", f"landing={landing}")
    worker = run_worker(server)
    assert (home / "sendboard.duckdb").exists(), worker + prefect(server, "flow-run", "ls")
    # The pipeline's own warnings reach the run's log in Prefect, from the forecast's thread
    # too: the hand-made register has no target for a project the recovery scenario names.
    # (Completed only: the scheduler may have created a scheduled run before it was cleared.)
    [run] = json.loads(prefect(server, "flow-run", "ls", "--flow-name", "sendboard-nightly",
                               "--state-type", "COMPLETED", "--output", "json"))
    logs = prefect(server, "flow-run", "logs", run["id"])
    assert ("WARNING | Flow run '" + run["name"] + "' - forecast scenario 'recovery_plan' "
            "left out: ") in logs, logs
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    assert con.execute("SELECT year, caseload FROM kpi.ehcp_caseload WHERE year >= 2023 "
                       "ORDER BY year").fetchall() == [(2023, 1), (2024, 4), (2025, 4)]
    con.close()

    prefect(server, "deployment", "run", "sendboard-backfill/sendboard-backfill",
            "-p", f"home={home}", "-p", 'sources=["census"]', "-p", "period_from=2024-01-01",
            "-p", "period_to=2024-12-31")
    run_worker(server)
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    runs = con.execute("SELECT flow, status, files_new FROM audit.runs ORDER BY started_at"
                       ).fetchall()
    assert con.execute("SELECT count(*) FROM kpi.sen_prevalence WHERE scope = 'school'"
                       ).fetchall() == [(2,)]
    con.close()
    assert runs == [("sendboard-nightly", "published", 10),
                    ("sendboard-backfill", "published", 1)]
