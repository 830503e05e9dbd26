"""The nightly flow: landing -> validate -> stage -> transform -> marts -> checks -> publish.

Prefect's part only: each step of warehouse/run.py as a task (retries where a file's read
can fail for a moment), artifacts for the run's page, and the run's end state. The run
itself is warehouse.run.run_pipeline, the same code from the CLI, a deployment or a test.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import settings as env
from warehouse import loads, progress, run
from warehouse.archive import Archive
from warehouse.run import QualityGateFailed, RunInProgress, RunNotClean, RunSummary
from warehouse.settings import Settings

FLOW_NAME = "sendboard-nightly"
__all__ = ["QualityGateFailed", "RunInProgress", "RunNotClean", "RunSummary", "nightly"]


def _transient(task, run_, state) -> bool:
    return isinstance(state.result(raise_on_failure=False), OSError)


RETRIED = {"cache_policy": NO_CACHE, "retries": 2, "retry_delay_seconds": 5,
           "retry_condition_fn": _transient}


@task(name="find new files", cache_policy=NO_CACHE)
def find_new_files(con, landing: Path):
    return run.find_new_files(con, landing, get_run_logger())


@task(name="prepare", **RETRIED)
def prepare_file(f, key: bytes, archive: Archive, tracker: progress.RunProgress | None = None):
    """Archive, read, validate and stage one file: no database, so files prepare in parallel
    on the task runner (threads, or a Dask cluster) and commit one at a time, in order."""
    return loads.prepare(f, key, archive, tracker)


@task(name="read export file", **RETRIED)
def read_export_file(f, archive: Archive, tracker: progress.RunProgress | None = None):
    """Archive, read and validate one file of an export (a SEN2 module, a Blade census
    table); the export's cross-file checks and its commit wait for all of them."""
    return loads.read_module(f, archive, tracker)


@task(name="load", **RETRIED)
def load_batch(con, batch, key: bytes, run_id: str, archive: Archive, prepared=None):
    return run.load_batch(con, batch, key, run_id, archive, prepared, get_run_logger())


@task(name="build core and KPI tables", cache_policy=NO_CACHE)
def build_tables(con, settings: Settings, as_of: dt.date | None):
    return run.build_tables(con, settings, as_of, get_run_logger())


@task(name="quality gate", cache_policy=NO_CACHE)
def check(con, settings: Settings, run_id: str):
    return run.check(con, settings, run_id, get_run_logger())


@task(name="publish", cache_policy=NO_CACHE)
def publish_tables(con, target: Path, run_id: str):
    return run.publish_tables(con, target, run_id, get_run_logger())


@task(name="board pack", cache_policy=NO_CACHE)
def board_pack(settings: Settings) -> list[Path]:
    """The board pack, internal and public, and the tables to take away (XLSX, CSV,
    Parquet), from what was just published."""
    from warehouse.pack import write_reports

    return write_reports(settings, get_run_logger())


def _steps() -> run.Steps:
    artifact: list = []
    # What `sendboard run` shows live, counted by the tasks themselves (warehouse/progress.py).
    tracker = progress.current()

    def show_progress(done: int, total: int) -> None:
        if not artifact:
            artifact.append(create_progress_artifact(
                progress=0.0, key="sendboard-loading",
                description=f"Loading {total} file(s) into the warehouse"))
        update_progress_artifact(artifact[0], progress=100.0 * done / total)

    return run.Steps(
        find=find_new_files,
        prepare=lambda f, key, archive: prepare_file.submit(f, key, archive, tracker),
        read=lambda f, archive: read_export_file.submit(f, archive, tracker),
        tracker=tracker, load=load_batch, build=build_tables, check=check, publish=publish_tables,
        pack=board_pack, as_completed=as_completed, progress=show_progress,
        loaded=_files_artifact,
        published=lambda con, summary: create_markdown_artifact(
            key="sendboard-run", markdown=run.summary_markdown(con, summary),
            description="What this run loaded, checked and published."))


def _files_artifact(files) -> None:
    if files:
        create_table_artifact(
            key="sendboard-files", table=run.files_table(files),
            description="Files loaded by this run: rows read, loaded and quarantined.")


def task_runner():
    """`$SENDBOARD_TASK_RUNNER`: `threads` (default) or `dask` (a local Dask cluster through
    prefect-dask; point it at a remote cluster with `DaskTaskRunner(address=...)`)."""
    if env.task_runner_kind() == "dask":
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1})
    return ThreadPoolTaskRunner(max_workers=env.workers())


def execute(flow_name: str, settings: Settings, sample: bool, gather, as_of: dt.date | None,
            nothing_message: str) -> RunSummary | State:
    """warehouse.run.run_pipeline with Prefect's steps; a run that was not clean ends in a
    Failed state carrying RunNotClean (no traceback: nothing crashed), after publishing what
    it could."""
    key = env.pseudonym_key(settings.home, allow_sample_key=sample)
    summary = run.run_pipeline(flow_name, settings, key, str(flow_run.get_id() or uuid.uuid4()),
                               gather, _steps(), as_of, nothing_message, get_run_logger())
    message = run.not_clean(summary)
    if message is None:
        return summary
    get_run_logger().warning(message)
    return Failed(message=message, data=RunNotClean(message, summary))


@flow(name=FLOW_NAME, task_runner=task_runner())
def nightly(home: str | None = None, landing: str | None = None, sample: bool = False,
            as_of: dt.date | None = None) -> RunSummary | State:
    """Load what is new in the landing folder, rebuild the KPIs and publish them.

    `sample=True` allows a locally generated pseudonymisation key (sample data only) and
    skips the freshness rule (the sample's dates are fixed).
    """
    env.library_defaults()
    settings = env.run_settings(home, sample=sample)
    landing_dir = Path(landing).resolve() if landing else settings.home.landing

    def gather(con):
        found = find_new_files(con, landing_dir)
        return loads.batches(found.new), found.warnings

    return execute(FLOW_NAME, settings, sample, gather, as_of,
                   f"no new files in {landing_dir}: nothing to load")
