"""How far a run has got, as the work itself reports it: the files to load, each file as a
preparer starts it and finishes reading it, each batch as it commits, and the stages after
loading with their times. Thread-safe: files prepare on worker threads while the run's own
thread commits. Counts only; showing them is the command line's (sendboard/progress_display.py),
and a run nobody watches counts into an object nobody reads.

A run started by `sendboard run` is watched: the command installs its RunProgress for the
process (`watching`), and the flow's steps count into `current()`. Under the Dask task runner
the preparers work in other processes, on a copy that counts for nobody: there the display
learns each file's rows when it commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from warehouse.files import FileOutcome, LandedFile


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    state: str  # running, done, failed


@dataclass(frozen=True)
class Snapshot:
    """What a display shows at one moment."""

    total: int | None  # files to load; None until the run knows
    done: int  # files committed
    rows_read: int  # rows read so far: each committed file's own count, and those read since
    in_hand: tuple[str, ...]  # `source/name` of files started and not yet committed
    loading_seconds: float | None  # since loading began (to its end, once every file is in)
    stages: tuple[Stage, ...]  # the steps after loading, in order

    @property
    def loading_done(self) -> bool:
        return self.total is not None and self.done >= self.total


def label(f: LandedFile) -> str:
    return f"{f.source}/{f.name}"


class RunProgress:
    """A run's progress counts, updated from any thread. A plain class (no dataclass):
    Prefect rebuilds dataclasses it finds in a task's parameters, and every thread must
    count into this one object."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._total: int | None = None
        self._done = 0
        self._rows: dict[tuple[str, str], int] = {}  # (sha256, label) -> rows read
        self._in_hand: dict[tuple[str, str], str] = {}  # in the order started
        self._loading_from: float | None = None
        self._loading_to: float | None = None
        self._stages: list[list] = []  # [name, started, ended or None, state]

    # Dask pickles a task's parameters into its worker processes: there the copy starts
    # from nothing and its counts stay in that process.
    def __getstate__(self) -> dict:
        return {"copy": True}  # (an empty state would skip __setstate__)

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def begin_loading(self, total: int) -> None:
        with self._lock:
            self._total, self._done = total, 0
            self._loading_from, self._loading_to = self._clock(), None

    def file_started(self, f: LandedFile) -> None:
        with self._lock:
            self._in_hand.setdefault((f.sha256, label(f)), label(f))

    def file_read(self, f: LandedFile, rows: int) -> None:
        """A file's rows once read (before staging and commit)."""
        with self._lock:
            self._rows[(f.sha256, label(f))] = rows

    def batch_committed(self, batch: Sequence[LandedFile],
                        outcomes: Sequence[FileOutcome]) -> None:
        """A batch written: its files are done, each with the rows its outcome says it read
        (the count the run's summary shows)."""
        read = {(o.sha256, f"{o.source}/{o.name}"): o.rows_read for o in outcomes}
        with self._lock:
            for f in batch:
                key = (f.sha256, label(f))
                self._in_hand.pop(key, None)
                self._rows[key] = read.get(key, 0)
            self._done += len(batch)
            if self._total is not None and self._done >= self._total:
                self._loading_to = self._clock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """A step after loading, timed; failed if it raises."""
        entry = [name, self._clock(), None, "running"]
        with self._lock:
            self._stages.append(entry)
        try:
            yield
        except BaseException:
            with self._lock:
                entry[2], entry[3] = self._clock(), "failed"
            raise
        with self._lock:
            entry[2], entry[3] = self._clock(), "done"

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._clock()
            loading = None if self._loading_from is None else \
                (self._loading_to or now) - self._loading_from
            return Snapshot(self._total, self._done, sum(self._rows.values()),
                            tuple(self._in_hand.values()), loading,
                            tuple(Stage(n, (end or now) - start, state)
                                  for n, start, end, state in self._stages))


_watched: RunProgress | None = None


@contextmanager
def watching(progress: RunProgress) -> Iterator[RunProgress]:
    """Make `progress` the one this process's next run counts into (`current`)."""
    global _watched
    before, _watched = _watched, progress
    try:
        yield progress
    finally:
        _watched = before


def current() -> RunProgress:
    """The progress a display watches, or a new one nobody reads."""
    return _watched if _watched is not None else RunProgress()
