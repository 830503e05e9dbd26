"""A run killed with SIGKILL at any point, then rerun, ends with exactly the tables of an
uninterrupted run: loads are per-file transactions, the rebuild is one transaction and the
publish a rename."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from flows.nightly import nightly
from tests.test_pipeline_sample import snapshot

RUN = "from flows.nightly import nightly; nightly(home={home!r}, landing={landing!r})"


def tables(home) -> dict:
    out = {}
    for db in ("warehouse.duckdb", "sendboard.duckdb"):
        snap = snapshot(home / db)
        # Run records and times differ by nature (the key's fingerprint records when and
        # by which run it was first used; the SEN2 readiness counts when each check ran);
        # everything else must not.
        out |= {f"{db}:{t}": v for t, v in snap.items()
                if t not in ("audit.runs", "audit.files", "audit.quarantine",
                             "audit.quality_checks", "audit.key_fingerprint",
                             "audit.sen2_issue_counts", "audit.sen2_issue_summary",
                             "audit.sen2_issues", "audit.headlines",
                             "audit.disclosure_checks")}
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        try:  # the issues themselves, without the run that found them
            out[f"{db}:sen2_issues"] = con.execute(
                "SELECT * EXCLUDE (run_id) FROM audit.sen2_issues ORDER BY ALL").fetchall()
            out[f"{db}:sen2_issue_counts"] = con.execute(
                "SELECT export_date, check_id, issues FROM audit.sen2_issue_counts "
                "ORDER BY ALL").fetchall()
            out[f"{db}:disclosure_checks"] = con.execute(
                "SELECT * EXCLUDE (run_id) FROM audit.disclosure_checks ORDER BY ALL").fetchall()
            # The published version's headline figures, as the next publish compares them.
            out[f"{db}:headlines"] = con.execute(
                "SELECT measure, period, value FROM audit.headlines ORDER BY ALL").fetchall()
        finally:
            con.close()
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory, small_sample, prefect_harness):
    home = tmp_path_factory.mktemp("clean")
    assert nightly(home=str(home), landing=str(small_sample)).status == "published"
    return tables(home)


@pytest.mark.parametrize("delay", [4.5, 9.0])  # while loading; while checking or publishing
def test_a_killed_run_then_a_rerun_gives_the_clean_tables(delay, clean, small_sample, tmp_path,
                                                          prefect_harness):
    from prefect.settings import get_current_settings

    home = tmp_path / "home"
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url)}
    proc = subprocess.Popen([sys.executable, "-c", RUN.format(home=str(home),
                                                              landing=str(small_sample))],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert killed, f"the run finished within {delay} s: nothing was interrupted"
    summary = nightly(home=str(home), landing=str(small_sample))
    assert summary.status == "published"
    assert tables(home) == clean
