"""The live progress of a run on a terminal (sendboard/progress_display.py), counted by the
run's own steps (warehouse/progress.py): a real `sendboard run` under a pseudo-terminal, and
the counts and their picture on their own."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import duckdb
import pytest

from sendboard.progress_display import ProgressDisplay, lines
from warehouse.files import FileOutcome, LandedFile
from warehouse.progress import RunProgress

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the command line with stdin, stdout and stderr on a pseudo-terminal of 50 x 120;
    its exit status and all it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "sendboard.cli", *args], stdin=slave,
                         stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True)
    os.close(slave)
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 900)
            if not ready:
                p.kill()
                raise TimeoutError("sendboard run on the terminal took over 900 s")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # (Linux: EIO once the child has closed the terminal)
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    return p.wait(timeout=60), out.decode("utf-8", errors="replace")


def summary_rows_read(text: str) -> int:
    """The sum of the "rows read" column of the run's summary table, as printed."""
    rows = text.splitlines()
    top = next(i for i, line in enumerate(rows) if re.match(r"^source\s+file\s+rows read", line))
    header, rule = rows[top], rows[top + 1]
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    column = [header[a:b].strip() for a, b in spans].index("rows read")
    a, b = spans[column]
    total = 0
    for line in rows[top + 2:]:
        if not line.strip():
            break
        total += int(line[a:b].replace(",", ""))
    return total


@pytest.fixture(scope="module")
def terminal_run(tmp_path_factory, small_sample, prefect_harness):
    from prefect.settings import get_current_settings

    home = tmp_path_factory.mktemp("terminal")
    env = {**os.environ, "TERM": "xterm-256color", "DO_NOT_TRACK": "1",
           "PREFECT_API_URL": str(get_current_settings().api.url)}
    env.pop("NO_COLOR", None)
    code, out = on_a_terminal(["run", "--home", str(home), "--landing", str(small_sample)],
                              env)
    return home, code, out


def test_a_run_on_a_terminal_shows_files_rows_and_stages_then_the_summary(terminal_run,
                                                                          small_sample):
    home, code, out = terminal_run
    assert code == 0, out[-3000:]
    assert "\x1b[" in out  # drawn with the terminal's control codes
    # Each redraw returns the cursor (\r) and clears the line: one line each, as read here.
    text = ANSI.sub("", out).replace("\r\n", "\n").replace("\r", "\n")
    n_files = sum(p.is_file() for p in small_sample.rglob("*"))
    assert n_files == 53
    # Files counted up as they committed, to the last, and the rows read so far with them.
    shown = [(int(d), int(t), int(r.replace(",", ""))) for d, t, r in re.findall(
        r"(?:loading|loaded )\s+files (\d+)/(\d+)\s+([\d,]+) rows read", text)]
    assert {t for _, t, _ in shown} == {n_files}
    assert shown[0][0] < n_files and shown[-1][0] == n_files
    assert [d for d, _, _ in shown] == sorted(d for d, _, _ in shown)
    final = re.findall(rf"✓ loaded\s+files {n_files}/{n_files}\s+([\d,]+) rows read", text)
    rows = summary_rows_read(text)
    assert rows == 119_276 and {int(r.replace(",", "")) for r in final} == {rows}
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT sum(rows_read), count(*) FROM audit.files").fetchone() == (
            rows, n_files)
    finally:
        con.close()
    # The file(s) in hand while loading, by source and name.
    assert re.search(r"in hand: (census|establishments)/\S", text)
    # Each step after loading on a line of its own, with its time.
    for stage in ("build core and KPI tables", "quality gate", "publish",
                  "board pack and tables"):
        assert re.search(rf"✓ {stage}\s+\d+\.\d s", text), stage
    # The log lines print above the display; a file's lines are left to it.
    assert re.search(r"^quality gate: \d+ of \d+ expectations met", text, re.MULTILINE)
    assert "loaded census/" not in text and "loading: " not in text
    # Then the summary, as without a terminal.
    summary = text[text.index("\nRun "):]
    assert re.match(r"\nRun [0-9a-f-]{36}: published\. 53 file\(s\) loaded", summary)
    assert "EHC plans (as of 2026-03-26)" in summary
    assert summary.rstrip().splitlines()[-1].startswith(f"the full log: {home / 'logs'}")


def test_the_log_file_of_a_terminal_run_keeps_its_plain_lines(terminal_run):
    home, _, _ = terminal_run
    (log,) = (home / "logs").glob("*.log")
    text = log.read_text()
    assert "\x1b" not in text
    assert "loaded census/School Census Spring 2025.csv: 1586 rows read" in text
    assert "loading: 53 of 53 file(s) done, 119,276 rows read (" in text


# ------------------------------------------------------------------------------------------
# The counts and their picture
# ------------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def landed(source: str, name: str) -> LandedFile:
    return LandedFile(source, Path(name), f"sha-{name}")


def committed(f: LandedFile, rows: int) -> FileOutcome:
    return FileOutcome(f.source, f.name, f.sha256, "loaded", rows, rows)


def test_the_picture_follows_files_rows_and_stages():
    clock = Clock()
    p = RunProgress(clock)
    assert [t.plain for t in lines(p.snapshot(), 7.0)] == ["⠋ starting  0:07"]
    a, b, c = landed("census", "a.csv"), landed("census", "b.csv"), landed("sen2", "c.csv")
    p.begin_loading(3)
    for f in (a, b, c):
        p.file_started(f)
    p.file_read(a, 1600)
    p.file_read(b, 1612)
    clock.now += 65
    assert [t.plain for t in lines(p.snapshot(), 80.0, tick=1)] == [
        "⠙ loading  files 0/3  3,212 rows read  1:05",
        "  in hand: census/a.csv, census/b.csv (+1 more)"]
    p.batch_committed([a], [committed(a, 1600)])
    # The committed count is the file's own: what the summary shows.
    p.batch_committed([b], [committed(b, 1611)])
    p.batch_committed([c], [committed(c, 9)])
    clock.now += 5
    with p.stage("build core and KPI tables"):
        clock.now += 2.5
    with pytest.raises(RuntimeError), p.stage("quality gate"):
        clock.now += 1.5
        raise RuntimeError("a check failed")
    assert [t.plain for t in lines(p.snapshot(), 90.0)] == [
        "✓ loaded   files 3/3  3,220 rows read  1:05",
        "✓ build core and KPI tables  2.5 s",
        "✗ quality gate               failed after 1.5 s"]


def test_counts_from_many_threads_add_up():
    p = RunProgress()
    files = [[landed("census", f"{t}-{i}.csv") for i in range(300)] for t in range(8)]
    p.begin_loading(8 * 300)

    def work(mine: list[LandedFile]) -> None:
        for f in mine:
            p.file_started(f)
            p.file_read(f, 3)
            p.batch_committed([f], [committed(f, 2)])

    threads = [threading.Thread(target=work, args=(mine,)) for mine in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    now = p.snapshot()
    assert (now.done, now.total, now.rows_read, now.in_hand, now.loading_done) == (
        2400, 2400, 4800, (), True)


def test_no_live_display_where_stderr_is_no_terminal_even_when_colour_is_forced():
    """FORCE_COLOR (set by many CI services) makes rich take any file for a terminal."""
    from rich.console import Console

    out = io.StringIO()
    display = ProgressDisplay(RunProgress(), Console(file=out, force_terminal=True))
    assert display.console.is_terminal and not display.active
    with display:
        pass
    assert out.getvalue() == ""
