"""Nothing left behind: Prefect's temporary server dies with a command-line run however the
run dies, SIGKILL included (flows/temporary_server.py); the temporary files of a failed
publish are removed by the next run, never a running one's (warehouse/leftovers.py); and
`status` counts a failed run's new files."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.temporary_server import start_time
from sendboard.report_text import status
from tests import handmade
from tests.plain_run import plain_run
from warehouse import run
from warehouse.run import RunInProgress, run_lock
from warehouse.settings import Home

REPO = Path(__file__).resolve().parents[1]


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out[int(entry.name)] = command
    return out


def start_cli(home: Path, landing: Path, *args: str) -> subprocess.Popen:
    """`sendboard run` in a process of its own with Prefect's temporary server (no
    PREFECT_API_URL, a Prefect home of its own), as `make run` starts it."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home.parent / "prefect")
    # A machine busy with other tests can take longer than Prefect's default 20 s.
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    with (home.parent / "run.err").open("w") as err:  # the child writes to its own copy
        return subprocess.Popen([sys.executable, "-m", "sendboard.cli", "run", "--home",
                                 str(home), "--landing", str(landing), *args], env=env,
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)


def server_and_watchdog(proc: subprocess.Popen, home: Path, timeout: float = 180
                        ) -> tuple[int, int]:
    """The run's server, once it answers, and its watchdog."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        kids = children(proc.pid)
        servers = [p for p, c in kids.items() if "uvicorn" in c and "prefect.server" in c]
        dogs = [p for p, c in kids.items() if "flows/temporary_server.py" in c]
        if servers and dogs:
            command = kids[servers[0]].split()
            port = command[command.index("--port") + 1]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                            timeout=2) as answer:
                    if answer.status == 200:
                        return servers[0], dogs[0]
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError("the run's temporary Prefect server never answered; the run said: "
                         + (home.parent / "run.err").read_text()[-2000:])


def gone_within(pids: list[int], seconds: float) -> list[int]:
    """Which of `pids` are still running after `seconds` (a zombie has ended)."""
    started = {p: start_time(p) for p in pids}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(start_time(p) != started[p] or started[p] is None for p in pids):
            return []
        time.sleep(0.1)
    return [p for p in pids if start_time(p) == started[p]]


def stop(pids: list[int]) -> None:
    for pid in pids:
        if start_time(pid) is not None:
            os.kill(pid, signal.SIGKILL)


def test_a_killed_runs_temporary_server_dies_with_it(small_sample, tmp_path):
    home = tmp_path / "home"
    proc = start_cli(home, small_sample, "--sample")
    server, dog = server_and_watchdog(proc, home)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert gone_within([server, dog], 10) == []
    finally:
        stop([server, dog])


def test_a_run_that_ends_leaves_no_server_and_no_watchdog(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    home = tmp_path / "home"
    proc = start_cli(home, landing)
    server, dog = server_and_watchdog(proc, home)
    try:
        assert proc.wait(timeout=300) == 0
        assert gone_within([server, dog], 10) == []
    finally:
        stop([server, dog])


def test_a_failed_publishs_temporary_files_are_removed_by_the_next_run(tmp_path, caplog):
    """The publish fails once its new file is written: here a folder stands where the
    published database goes, so the rename fails; a full disk fails it at its checkpoint
    and leaves the `.wal` too, planted beside it."""
    home, landing = tmp_path / "home", handmade.write_landing(tmp_path / "landing")
    (home / "sendboard.duckdb").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        plain_run(home, landing)
    (left,) = home.glob(".sendboard.duckdb.*.tmp")
    wal = left.with_name(left.name + ".wal")
    wal.write_bytes(b"\0" * 4096)
    (home / "sendboard.duckdb").rmdir()
    caplog.set_level(logging.INFO)
    summary = plain_run(home, landing)
    assert summary.status == "published"  # the failed run's work, published now
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".")) == [".run.lock"]
    assert (home / "sendboard.duckdb").is_file()
    assert f"removed 2 file(s) a failed or killed run left behind: {left.name}, {wal.name}" in \
        caplog.messages


def test_a_running_runs_temporary_files_are_left_alone(tmp_path):
    """Only a run holding the home's lock removes them: while another holds it, they may
    be that run's publish in progress."""
    home = tmp_path / "home"
    home.mkdir()
    planted = [home / ".sendboard.duckdb.other-run.tmp", home / ".sendboard.duckdb.other-run"
               ".tmp.wal", home / ".warehouse.duckdb.other-run.tmp"]
    for p in planted:
        p.write_bytes(b"in progress")
    with run_lock(Home(home)), pytest.raises(RunInProgress):
        plain_run(home, handmade.write_landing(tmp_path / "landing"))
    assert all(p.read_bytes() == b"in progress" for p in planted)


def test_status_counts_the_new_files_of_a_run_that_failed(tmp_path):
    """A run fails (the disk filling up, say) just after loading its one new file; `status`
    lists it with that file once a later run has published."""
    home, landing = tmp_path / "home", handmade.write_landing(tmp_path / "landing")
    assert plain_run(home, landing, run_id="first").status == "published"
    handmade.write_census(landing / "census", handmade.census_rows("16/01/2025"),
                          name="spring 2025.csv")

    def load_then_disk_full(*args, **kwargs):
        run.load_batch(*args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        plain_run(home, landing, run_id="failed", load=load_then_disk_full)
    assert plain_run(home, landing, run_id="after").status == "published"
    runs = [(r["run_id"], r["status"], r["files_new"], r["error"]) for r in status(Home(home))
            ["runs"]]
    assert runs == [("after", "published", 0, None),
                    ("failed", "failed", 1, "OSError: [Errno 28] No space left on device"),
                    ("first", "published", 10, None)]
    census = [s for s in status(Home(home))["sources"] if s["source"] == "census"]
    assert [(s["files"], s["rows_loaded"]) for s in census] == [(2, 12)]
