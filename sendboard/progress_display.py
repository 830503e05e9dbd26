"""The live progress of `sendboard run` and `backfill` on a terminal: files done of N, rows
read so far, the files in hand and the time loading has taken; then each step after loading
(build, quality gate, publish, board pack) on a line with its time. Drawn with rich's Live
from the counts the run's own work keeps (warehouse/progress.py); the console's log lines
print above it (flows/run_log.py).

Only on a terminal: elsewhere (CI, cron, a pipe) nothing is drawn and the run's plain line a
file ("loading: k of n file(s) done, ...") says the same, so that logs stay readable.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from warehouse.progress import RunProgress, Snapshot

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SHOWN_IN_HAND = 2  # file names on the "in hand" line; the rest as a count


def clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes}:{s:02d}"


def lines(now: Snapshot, elapsed: float, tick: int = 0) -> list[Text]:
    """The display at one moment: `elapsed` since the command started (shown until loading
    begins), `tick` turns the spinner."""
    spin = SPINNER[tick % len(SPINNER)]
    if now.total is None:
        return [Text.assemble((spin, "cyan"), f" starting  {clock(elapsed)}")]
    done = now.loading_done
    out = [Text.assemble(("✓" if done else spin, "green" if done else "cyan"),
                         " loaded " if done else " loading",
                         "  files ", (f"{now.done}/{now.total}", "bold"),
                         "  ", (f"{now.rows_read:,}", "bold"), " rows read",
                         f"  {clock(now.loading_seconds or 0.0)}")]
    if not done and now.in_hand:
        more = len(now.in_hand) - SHOWN_IN_HAND
        names = ", ".join(now.in_hand[:SHOWN_IN_HAND]) + (f" (+{more} more)" if more > 0
                                                          else "")
        out.append(Text(f"  in hand: {names}", style="dim", no_wrap=True, overflow="ellipsis"))
    width = max((len(s.name) for s in now.stages), default=0)
    for s in now.stages:
        mark, style = {"done": ("✓", "green"), "failed": ("✗", "red")}.get(s.state,
                                                                          (spin, "cyan"))
        timed = f"failed after {s.seconds:.1f} s" if s.state == "failed" else \
            f"{s.seconds:.1f} s"
        out.append(Text.assemble((mark, style), f" {s.name:<{width}}  {timed}"))
    return out


class ProgressDisplay:
    """A context: the live display of `tracker` on stderr while inside, when stderr is a
    terminal (`active`); otherwise nothing. Its last picture stays on screen after, unless
    the run never began loading (nothing to show)."""

    def __init__(self, tracker: RunProgress, console: Console | None = None):
        self.tracker = tracker
        self.console = console or Console(stderr=True, highlight=False)
        self._live: Live | None = None
        self._started = time.monotonic()

    @property
    def active(self) -> bool:
        # Rich alone counts FORCE_COLOR (set by many CI services) as a terminal: a live
        # display there would fill the CI log with redraws.
        isatty = getattr(self.console.file, "isatty", None)
        return self.console.is_terminal and bool(isatty and isatty())

    def render(self) -> Group:
        elapsed = time.monotonic() - self._started
        return Group(*lines(self.tracker.snapshot(), elapsed, int(elapsed * 8)))

    def __enter__(self) -> ProgressDisplay:
        if self.active:
            # stdout and stderr redirected too: a stray print goes above the display.
            self._live = Live(get_renderable=self.render, console=self.console,
                              refresh_per_second=8, redirect_stdout=True, redirect_stderr=True)
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is None:
            return
        # (read by Live.stop: a transient display is erased)
        self._live.transient = self.tracker.snapshot().total is None
        self._live.stop()
        self._live = None
