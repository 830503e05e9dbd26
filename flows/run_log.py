"""Where the lines of a run started from the command line go. Every line (sendboard's,
Prefect's, Great Expectations', at INFO and above) goes to HOME/logs/<run id>.log. The console
shows sendboard's own lines and the other libraries' warnings, or everything with
`--verbose`. Prefect's lines about its runs (each task's state, a failed task's traceback)
stay in its UI and the file: the command line says what failed in one line. While a live
progress display is on the terminal (sendboard/progress_display.py), the console's lines are
printed through its rich Console, above the display, and the lines that only say how far
loading has got (`extra={"progress": True}`) are left to the display, unless `--verbose`.

Set up with Python's logging at the entry, over what Prefect configured when it was imported
(its logging.yml, with PREFECT_LOGGING_* overrides, can neither name a file after a run not
yet started nor tell sendboard's lines from Prefect's on the run loggers both write to).
Prefect's own handlers stay: its run loggers still send every line to its API.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# sendboard's packages sit side by side wherever they are installed. A line is sendboard's
# when its code logged it, whichever logger carried it: a task's lines go through Prefect's
# run logger (prefect.task_runs), as Prefect's own state lines do.
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sendboard", "flows", "warehouse", "transforms", "schemas", "values", "bench")
OWN_CODE = tuple(f"{ROOT / p}{os.sep}" for p in PACKAGES)
# Prefect's lines about its flow and task runs (states, retries, a failure's traceback),
# and its workers sending them and its events to its API ("still processing items").
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
BOOKKEEPING = (*RUN_LOGGERS, "APILogWorker", "EventsWorker")
# A line per request to Prefect's API, hundreds a run: warnings only, in the file too.
CHATTY = ("httpx", "httpcore")
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s%(run_label)s: %(message)s"


def is_own(record: logging.LogRecord) -> bool:
    return record.pathname.startswith(OWN_CODE)


class ConsoleFilter(logging.Filter):
    """sendboard's lines, and other libraries' warnings and errors except Prefect's
    bookkeeping; with `verbose`, everything. A record logged with `extra={"console": False}` goes
    to the file only; one with `extra={"progress": True}` too when a live display (`live`)
    shows the same, unless `verbose`."""

    def __init__(self, verbose: bool, live: bool = False):
        super().__init__()
        self.verbose = verbose
        self.live = live

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "console", True) is False:
            return False
        if self.live and not self.verbose and getattr(record, "progress", False):
            return False
        if self.verbose or is_own(record):
            return True
        if record.name.startswith(BOOKKEEPING):
            return False
        return record.levelno >= logging.WARNING


class ConsoleFormatter(logging.Formatter):
    """sendboard's lines as they are; another library's with its name and level, so that
    the reader can tell whose a line is."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if is_own(record) else f"{record.name} {record.levelname}: {text}"


class RichConsoleHandler(logging.Handler):
    """The console's lines printed by a rich Console: while its Live display runs, they go
    above it rather than through it. Plain text (no markup, highlighting or wrapping of
    rich's own), as the console shows them without a display."""

    def __init__(self, console: Console):
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False, emoji=False,
                               soft_wrap=True)
        except Exception:
            self.handleError(record)


class FileFormatter(logging.Formatter):
    """Time, level, thread, logger and, for Prefect's run loggers, the run's name."""

    def format(self, record: logging.LogRecord) -> str:
        name = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
        record.run_label = f" [{name}]" if name else ""
        return super().format(record)


@dataclass
class RunLog:
    """The log file of one run: written under a provisional name until the run's id is
    known (Prefect gives it when the flow run starts), renamed `<run id>.log` at the end."""

    path: Path
    run_id: str | None = None


@contextmanager
def capture(folder: Path, verbose: bool = False, live: Console | None = None
            ) -> Iterator[RunLog]:
    """The console and the log file in `folder` for the run inside the block; the root
    logger's handlers before it are put back after. Set `run_id` on what it yields to name
    the file after the run; its `path` is the file's final name after the block. `live`: the
    rich Console of a live display on the terminal, which prints the console's lines."""
    import prefect  # noqa: F401  (configures Prefect's logging on import: ours goes over it)

    folder.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    log = RunLog(folder / f"run-started-{started:%Y%m%dT%H%M%S}-{os.getpid()}.log")
    file = logging.FileHandler(log.path, encoding="utf-8")
    file.setFormatter(FileFormatter(FILE_FORMAT))
    console = logging.StreamHandler(sys.stderr) if live is None else RichConsoleHandler(live)
    console.setLevel(logging.INFO)
    console.addFilter(ConsoleFilter(verbose, live=live is not None))
    console.setFormatter(ConsoleFormatter("%(message)s"))
    root = logging.getLogger()
    before = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY}
    for handler in before[0]:
        root.removeHandler(handler)
    root.addHandler(console)
    root.addHandler(file)
    root.setLevel(logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    try:
        yield log
    finally:
        _flush_run_logs()
        logging.captureWarnings(False)
        root.removeHandler(console)
        root.removeHandler(file)
        file.close()
        for handler in before[0]:
            root.addHandler(handler)
        root.setLevel(before[1])
        for name, level in chatty.items():
            logging.getLogger(name).setLevel(level)
        if log.run_id:
            log.path = log.path.replace(folder / f"{log.run_id}.log")


def _flush_run_logs() -> None:
    """Send the run lines Prefect still queues to its API now: left to the end of the
    process, its temporary server stops first and each batch fails with "Error logging to
    API" on stderr."""
    for name in RUN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.flush()
