"""Prefect's temporary server for a command-line run, gone when the run is, however it ends.

With no PREFECT_API_URL, Prefect starts a temporary API server (its SubprocessASGIServer,
`python -m uvicorn ...`, 220-240 MB) and stops it from an `atexit` handler. A run killed
with SIGKILL (or by the kernel's out-of-memory killer) runs no handler, and the server was
left running, orphaned, one per killed run.

Prefect has no hook for how it spawns that process (no `preexec_fn`, no process group), so
Prefect still starts and stops its server as ever, and a watchdog makes sure of its end.
`start_temporary_server`, called before the flow, starts a small stdlib-only process (this
file) holding the read end of a pipe whose write end only the run holds, then Prefect's own
server, as the one instance Prefect's clients use (Prefect keeps one a process:
`SubprocessASGIServer()` returns it, as its own test harness relies on). The server's pid
goes down the pipe the moment its process exists (the one method that spawns it, wrapped),
and again once it answers, should Prefect have spawned it another way. The kernel closes
the pipe when the run's process ends, whatever killed it; the watchdog reads end-of-file
and stops every server it was told of (SIGTERM, then SIGKILL after 5 s) unless it has gone
already, as after a normal exit. It knows a server by its pid and start time, so a later
process given the same pid is never touched.

Rather than a parent-death signal (prctl PR_SET_PDEATHSIG), which would need a
`preexec_fn` inside Prefect's Popen call (Python warns it is unsafe with threads running)
and fires when the *thread* that started the server ends, which need not be the main one;
and rather than a pid file the next run reaps, which would leave the server running until
then (a day for the nightly run).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# The watchdog's pipe: its write end must live as long as the process (a pipe closed by the
# garbage collector would read as the run's end).
_WATCHDOG: list[Watchdog] = []
TERM_GRACE_SECONDS = 5.0


def start_temporary_server() -> None:
    """With no PREFECT_API_URL: Prefect's temporary server started now, watched (see the
    module's note). With one, nothing: that server is not the run's to stop."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    dog = watchdog()

    class Watched(SubprocessASGIServer):
        def _run_uvicorn_command(self):  # Prefect's one call that spawns the server
            process = super()._run_uvicorn_command()
            dog.watch(process.pid)
            return process

    server = Watched()  # or the instance this process already has
    server.start()
    if server.server_process is not None:
        dog.watch(server.server_process.pid)


class Watchdog:
    """The watchdog process; `watch(pid)` adds a process for it to stop."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve())], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C or a signal to the run's process group leaves it to
            # do its work.
            start_new_session=True)
        self.watched: set[int] = set()

    def watch(self, pid: int) -> None:
        if pid in self.watched:
            return
        self.watched.add(pid)
        self.process.stdin.write(f"{pid} {start_time(pid) or ''}\n".encode())
        self.process.stdin.flush()


def watchdog() -> Watchdog:
    """This process's watchdog, started on first use."""
    if not _WATCHDOG:
        _WATCHDOG.append(Watchdog())
    return _WATCHDOG[0]


def start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, field 22 of /proc/<pid>/stat):
    with the pid, the name of one process. None once it has ended (a zombie has), or
    where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return None if fields[0] in ("Z", "X") else fields[19]


def _running(pid: int, started: str) -> bool:
    if started:
        return start_time(pid) == started
    try:  # without /proc, only whether some process has the pid
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _stop_when_parent_ends() -> None:
    watched: list[tuple[int, str]] = []
    for line in sys.stdin.buffer:  # until end of file: the run's process has ended
        pid, _, started = line.decode().strip().partition(" ")
        watched.append((int(pid), started))
    for sig, grace in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, 2.0)):
        alive = [(pid, started) for pid, started in watched if _running(pid, started)]
        for pid, _ in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while any(_running(*w) for w in alive) and time.monotonic() < deadline:
            time.sleep(0.05)


if __name__ == "__main__":
    _stop_when_parent_ends()
