"""BI readers and the nightly run side by side: nobody blocks, nobody sees half a publish."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

import duckdb

from flows.nightly import nightly
from tests import handmade

READER = r"""
import json, sys, time
import duckdb
import os
path, out, stop, mode = sys.argv[1:5]  # runs until `stop` exists
QUERY = ("SELECT (SELECT max(as_of)::VARCHAR FROM kpi.ehcp_caseload), "
         "(SELECT count(*) FROM audit.runs), (SELECT sum(caseload) FROM kpi.ehcp_caseload)")
seen, errors = [], []
# "held": a dashboard keeping one connection open; "fresh": a connection per refresh.
# (DuckDB shares one database per file within a process, so the two run apart.)
held = duckdb.connect(path, read_only=True) if mode == "held" else None
end = time.monotonic() + 300
while time.monotonic() < end and not os.path.exists(stop):
    try:
        con = held or duckdb.connect(path, read_only=True)
        seen.append(list(con.execute(QUERY).fetchall()[0]))
        if con is not held:
            con.close()
    except Exception as e:
        errors.append(repr(e))
    time.sleep(0.02)
json.dump({"seen": seen, "errors": errors}, open(out, "w"))
"""


def state(path) -> list:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return list(con.execute(
            "SELECT (SELECT max(as_of)::VARCHAR FROM kpi.ehcp_caseload), "
            "(SELECT count(*) FROM audit.runs), (SELECT sum(caseload) FROM kpi.ehcp_caseload)"
        ).fetchall()[0])
    finally:
        con.close()


def test_a_reader_querying_through_a_run_sees_the_old_or_the_new_state(tmp_path,
                                                                        prefect_harness):
    home, landing = tmp_path / "home", handmade.write_landing(tmp_path / "landing")
    assert nightly(home=str(home), landing=str(landing)).status == "published"
    published = home / "sendboard.duckdb"
    old = state(published)
    script = tmp_path / "reader.py"
    script.write_text(READER)
    stop = tmp_path / "stop"
    readers = {mode: subprocess.Popen([sys.executable, str(script), str(published),
                                       str(tmp_path / f"{mode}.json"), str(stop), mode])
               for mode in ("held", "fresh")}
    time.sleep(2)
    # A later export: the caseload changes and the published file is replaced.
    handmade.write_sen2(landing / "sen2", export=dt.date(2025, 4, 1))
    started = time.monotonic()
    assert nightly(home=str(home), landing=str(landing)).status == "published"
    run_seconds = time.monotonic() - started
    new = state(published)
    time.sleep(1)  # the reader sees the new version for a while
    stop.touch()
    results = {}
    for mode, proc in readers.items():
        assert proc.wait(timeout=120) == 0
        results[mode] = json.loads((tmp_path / f"{mode}.json").read_text())
    assert new != old and new[0] == "2025-04-01"
    for result in results.values():
        assert result["errors"] == [] and len(result["seen"]) > 50
    fresh = [tuple(s) for s in results["fresh"]["seen"]]
    # Every answer is the whole old state or the whole new one; once new, never old again.
    assert set(fresh) <= {tuple(old), tuple(new)}
    assert fresh[-1] == tuple(new) and tuple(old) not in fresh[fresh.index(tuple(new)):]
    # The open connection kept reading the version it opened, through the whole run.
    assert {tuple(s) for s in results["held"]["seen"]} == {tuple(old)}
    assert run_seconds < 60  # the run was not held up by the reader
