"""The backfill flow: replay archived extracts of some sources and periods, then rebuild,
check and publish exactly as the nightly run does (one code path: warehouse.run)."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger

from flows import settings as env
from flows.nightly import execute, task_runner
from warehouse.backfill import archived_files, replay_batches, still_archived

FLOW_NAME = "sendboard-backfill"


@flow(name=FLOW_NAME, task_runner=task_runner())
def backfill(sources: list[str] | None = None, period_from: str | None = None,
             period_to: str | None = None, all_files: bool = False, home: str | None = None,
             sample: bool = False, as_of: dt.date | None = None):
    """Replay the archived files of `sources` holding a period in [period_from, period_to]
    (dates for census and SEN2, `2024-25` for finance, recovery plan and places, years for
    population and published statistics); `all_files` replays the whole archive."""
    if not all_files and not (sources or period_from or period_to):
        raise ValueError("say what to replay: sources and/or a period range, or all_files")
    env.library_defaults()
    settings = env.run_settings(home, sample=sample)

    def gather(con):
        # The whole archive is what is left of it; a chosen period must be there whole.
        files, purged = still_archived(con) if all_files else (
            archived_files(con, sources, period_from, period_to), [])
        get_run_logger().info("backfill: replaying %d archived file(s)", len(files))
        return replay_batches(files, settings.archive), purged

    return execute(FLOW_NAME, settings, sample, gather, as_of,
                   "no archived file matches the backfill's sources and periods")
