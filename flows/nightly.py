"""The nightly flow: landing -> validate -> stage -> transform -> marts -> checks -> publish.

Thin on purpose: each task calls one function of warehouse/ (which calls transforms/), so
the same code runs from the CLI, a deployment or a test.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import gc
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
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

from schemas.quality import max_data_age_days
from sendboard.config import Home, pseudonym_key
from transforms import timing
from warehouse import build, loads, quality_gate, store
from warehouse.publish import publish

FLOW_NAME = "sendboard-nightly"


@dataclass
class RunSummary:
    run_id: str
    status: str  # published, no_new_files, failed
    home: Path
    files: list[loads.FileOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    tables: dict[str, int] = field(default_factory=dict)
    # Why the run was not clean (a new file rejected, an export waiting, no EHC plan
    # tables): it publishes what it can, then ends Failed and `sendboard run` exits 1.
    problems: list[str] = field(default_factory=list)


class RunNotClean(RuntimeError):
    """The run loaded and published what it could, but not everything: `summary.problems`
    says what a data engineer must look at. A flow returns it in a Failed state (no
    traceback: nothing crashed); calling the flow raises it."""

    def __init__(self, message: str, summary: RunSummary | None = None):
        super().__init__(message)
        self.summary = summary


def _finished(summary: RunSummary) -> RunSummary | State:
    if not summary.problems:
        return summary
    message = f"run {summary.status}, but not clean: " + "; ".join(summary.problems)
    get_run_logger().warning(message)
    return Failed(message=message, data=RunNotClean(message, summary))


def _problems(files: list[loads.FileOutcome]) -> list[str]:
    rejected = [f for f in files if f.status == "rejected"]
    waiting = [f for f in files if f.status == "waiting"]
    sen2 = sum(f.source == "sen2" for f in waiting)
    out = []
    if rejected:
        out.append(f"{len(rejected)} new file(s) rejected: " + "; ".join(
            f"{f.source}/{f.message}" for f in rejected[:5]) + (" ..." if len(rejected) > 5
                                                                 else ""))
    if sen2:
        out.append(f"{sen2} SEN2 file(s) waiting for the rest of their export")
    if len(waiting) > sen2:
        out.append(f"{len(waiting) - sen2} Blade census file(s) waiting for the rest of "
                   "their export")
    return out


@task(name="find new files", cache_policy=NO_CACHE)
def find_new_files(con, landing: Path) -> loads.Discovery:
    found = loads.discover(landing, store.known_files(con))
    logger = get_run_logger()
    for w in found.warnings:
        logger.warning("landing: %s", w)
    logger.info("landing %s: %d new file(s)", landing, len(found.new))
    return found


def _transient(task, run, state) -> bool:
    return isinstance(state.result(raise_on_failure=False), OSError)


@task(name="prepare", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=_transient)
def prepare_file(f: loads.LandedFile, key: bytes, archive_root: Path) -> loads.Prepared:
    """Archive, read, validate and stage one file: no database, so files prepare in parallel
    on the task runner (threads, or a Dask cluster) and commit one at a time, in order."""
    return loads.prepare(f, key, archive_root)


@task(name="read export file", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=_transient)
def read_export_file(f: loads.LandedFile, archive_root: Path) -> loads.Read | str | None:
    """Archive, read and validate one file of an export (a SEN2 module, a Blade census
    table), in parallel with the other files; the export's cross-file checks and its commit
    wait for all of them."""
    return loads.read_module(f, archive_root)


@task(name="load", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=_transient)
def load_batch(con, batch: list[loads.LandedFile], key: bytes, run_id: str,
               archive_root: Path, prepared: loads.Prepared | list | None = None,
               ) -> list[loads.FileOutcome]:
    outcomes = loads.load_batch(con, batch, key, run_id, archive_root, prepared)
    logger = get_run_logger()
    for o in outcomes:
        if o.status == "loaded":
            logger.info("loaded %s/%s: %d rows read, %d loaded, %d quarantined%s", o.source,
                        o.name, o.rows_read, o.rows_loaded, o.rows_quarantined,
                        f" (top reasons: {'; '.join(o.top_reasons)})" if o.top_reasons else "")
        else:
            logger.warning("rejected %s/%s: %s", o.source, o.name, o.message)
    return outcomes


@task(name="build core and KPI tables", cache_policy=NO_CACHE)
def build_tables(con, as_of: dt.date | None) -> build.BuildResult:
    with timing.stage("marts"):
        result = build.rebuild(con, as_of)
    get_run_logger().info("built %d tables as of %s from the SEN2 export of %s",
                          len(result.tables), result.as_of, result.export_date)
    return result


class QualityGateFailed(RuntimeError):
    """An expectation on the KPI tables failed: nothing was published."""


@task(name="quality gate", cache_policy=NO_CACHE)
def check(con, reports: Path, run_id: str, max_age_days: int | None) -> quality_gate.GateResult:
    with timing.stage("quality gate"):
        result = quality_gate.run_gate(quality_gate.kpi_tables(con), reports, run_id,
                                       max_age_days=max_age_days)
        quality_gate.record(con, run_id, result)
    logger = get_run_logger()
    logger.info("quality gate: %d of %d expectations met; Data Docs: %s",
                int(result.checks["success"].sum()), result.checks.height, result.docs)
    for warning in result.warnings:
        logger.warning("quality warning (published anyway): %s", warning)
    if not result.passed:
        raise QualityGateFailed("quality gate failed, nothing published (the previous "
                                "sendboard.duckdb stays): " + "; ".join(result.failures))
    return result


@task(name="publish", cache_policy=NO_CACHE)
def publish_tables(con, target: Path, run_id: str) -> list[str]:
    with timing.stage("publish"):
        tables = publish(con, target, run_id)
    get_run_logger().info("published %d tables to %s", len(tables), target)
    return tables


@task(name="board pack", cache_policy=NO_CACHE)
def board_pack(h: Home) -> list[Path]:
    """The board pack, internal and public, from what was just published."""
    from sendboard.pack import build_pack, pack_name

    with timing.stage("board pack"):
        written = [build_pack(h.published, h.reports / pack_name(h.published, public), public)
                   for public in (False, True)]
    get_run_logger().info("board packs: %s", ", ".join(str(p) for p in written))
    return written


def _run_id() -> str:
    return str(flow_run.get_id() or uuid.uuid4())


RUNNER_ENV = "SENDBOARD_TASK_RUNNER"


def task_runner():
    """`$SENDBOARD_TASK_RUNNER`: `threads` (default) or `dask` (a local Dask cluster through
    prefect-dask; point it at a remote cluster with `DaskTaskRunner(address=...)`)."""
    kind = os.environ.get(RUNNER_ENV, "threads")
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1})
    if kind != "threads":
        raise ValueError(f"{RUNNER_ENV} is {kind!r}: use threads or dask")
    return ThreadPoolTaskRunner(max_workers=max(2, os.cpu_count() or 2))


@flow(name=FLOW_NAME, task_runner=task_runner())
def nightly(home: str | None = None, landing: str | None = None, sample: bool = False,
            as_of: dt.date | None = None) -> RunSummary | State:
    """Load what is new in the landing folder, rebuild the KPIs and publish them.

    `sample=True` allows a locally generated pseudonymisation key (sample data only).
    """
    h = Home.resolve(home)
    landing_dir = Path(landing).resolve() if landing else h.landing

    def gather(con) -> tuple[list[list[loads.LandedFile]], list[str]]:
        found = find_new_files(con, landing_dir)
        return loads.batches(found.new), found.warnings

    return run_pipeline(FLOW_NAME, h, gather, sample, as_of,
                        f"no new files in {landing_dir}: nothing to load")


def run_pipeline(flow_name: str, h: Home, gather, sample: bool, as_of: dt.date | None,
                 nothing_message: str) -> RunSummary | State:
    """The steps every run shares, after `gather` has said which files to load: load,
    rebuild, quality gate, publish; one run at a time per home (a lock, besides the work
    pool's concurrency limit of 1). A run that was not clean (RunSummary.problems) ends in
    a Failed state carrying RunNotClean, after publishing what it could."""
    h.ensure()
    timing.reset()
    key = pseudonym_key(h, allow_sample_key=sample)
    run_id = _run_id()
    logger = get_run_logger()
    summary = RunSummary(run_id, "running", h.root)
    with run_lock(h), _long_lived_frozen():
        con = store.connect(h.warehouse)
        try:
            store.start_run(con, run_id, flow_name)
            batches, summary.warnings = gather(con)
            n_files = sum(len(b) for b in batches)
            unpublished = store.unpublished_work(con, h.published)
            if not batches and unpublished:
                logger.warning("no new files, but a run that did not finish left loaded work "
                               "unpublished: rebuilding and publishing it")
            elif not batches:
                logger.info("%s; %s is unchanged", nothing_message, h.published)
                summary.status = "no_new_files"
                store.finish_run(con, run_id, "no_new_files", files_new=0)
                return summary
            quality_gate.warm_up()
            # Files (and each module of a SEN2 export) prepare in parallel.
            futures = {i: [read_export_file.submit(f, h.archive) for f in b]
                       if loads.is_export(b) else [prepare_file.submit(b[0], key, h.archive)]
                       for i, b in enumerate(batches)}
            progress = create_progress_artifact(
                progress=0.0, key="sendboard-loading",
                description=f"Loading {n_files} file(s) into the warehouse")
            outcomes: dict[int, list[loads.FileOutcome]] = {}
            for i in commit_order(batches, futures):
                # Popped, so each prepared file is freed once committed, not held to the end.
                results = [f.result() for f in futures.pop(i)]
                batch = batches[i]
                outcomes[i] = load_batch(con, batch, key, run_id, h.archive,
                                         results if loads.is_export(batch) else results[0])
                done = sum(len(batches[j]) for j in outcomes)
                update_progress_artifact(progress, progress=100.0 * done / n_files)
                logger.info("loading: %d of %d file(s) done", done, n_files)
            summary.files = [o for i in sorted(outcomes) for o in outcomes[i]]
            summary.problems = _problems(summary.files)
            _file_artifact(summary.files)
            nothing = build.nothing_to_build(con)
            if nothing:
                logger.warning("loaded the files, but there is nothing to publish yet: %s",
                               nothing)
                summary.status = "nothing_to_publish"
                summary.problems.append(nothing)
                store.finish_run(con, run_id, "nothing_to_publish",
                                 error="; ".join(summary.problems), files_new=n_files)
                return _finished(summary)
            result = build_tables(con, as_of)
            summary.as_of, summary.tables = result.as_of, result.tables
            summary.warnings += result.notes
            if result.sen2_missing:
                summary.problems.append(f"no EHC plan tables published: {result.sen2_missing}")
            # Sample extracts carry fixed dates: their age says nothing about freshness.
            check(con, h.reports, run_id, None if sample else max_data_age_days())
            # The published copy carries this run's own record, as finished.
            store.finish_run(con, run_id, "published", files_new=n_files, as_of=result.as_of,
                             error=("not clean: " + "; ".join(summary.problems))
                             if summary.problems else None)
            publish_tables(con, h.published, run_id)
            summary.status = "published"
            _summary_artifact(con, summary)
            board_pack(h)
            logger.info("stage timings: %s", timing.summary())
            return _finished(summary)
        except BaseException as e:
            summary.status = "failed"
            store.finish_run(con, run_id, "failed", error=f"{type(e).__name__}: {e}",
                             files_new=len(summary.files))
            raise
        finally:
            con.close()


@contextmanager
def _long_lived_frozen():
    """Python's full garbage collections leave out the objects alive when the run starts
    (Prefect's, Great Expectations' and the libraries'), for the run: each full collection
    otherwise walked half a million of them holding the interpreter lock, 0.2-0.4 s that
    stopped every thread's Python. Objects still go the moment nothing refers to them;
    after the run they are collected as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def commit_order(batches: list[list[loads.LandedFile]], futures: dict[int, list]):
    """Batch indices in the order to commit them: each as soon as its files are prepared,
    except that a source's batches keep their order (a later file of the same table replaces
    the periods it shares with an earlier one). Across tables the order changes nothing, and
    the flow's thread commits the SEN2 export while the census still prepares, rather than
    waiting for the census first."""
    pending = sorted(futures)
    finished: set[int] = set()

    def ready() -> int | None:
        seen: set[str] = set()
        for i in pending:
            source = batches[i][0].source
            if source not in seen and all(id(f) in finished for f in futures[i]):
                return i
            seen.add(source)
        return None

    for future in as_completed([f for fs in futures.values() for f in fs]):
        finished.add(id(future))
        while (i := ready()) is not None:
            pending.remove(i)
            yield i


class RunInProgress(RuntimeError):
    """Another run holds this home's lock."""


@contextmanager
def run_lock(h: Home):
    """An exclusive lock on HOME/.run.lock for the whole run: a backfill and the nightly run
    never write at the same time, however they were started. The OS releases it if the
    process dies, so a killed run never leaves a stale lock."""
    path = h.root / ".run.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(f"another sendboard run is writing to {h.root}; this one "
                                "stops without changing anything (run it again afterwards)"
                                ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _summary_artifact(con, summary: RunSummary) -> None:
    """A markdown page per run in Prefect: files, quarantine, headline KPIs, the gate."""
    loaded = [f for f in summary.files if f.status == "loaded"]
    rejected = [f for f in summary.files if f.status != "loaded"]
    caseload = con.execute("SELECT year, caseload, growth_pct FROM kpi.ehcp_caseload "
                           "ORDER BY year DESC LIMIT 3").fetchall() \
        if store.table_exists(con, "kpi.ehcp_caseload") else []
    gate = con.execute("SELECT count(*), count(*) FILTER (success), count(*) FILTER "
                       "(NOT success AND NOT blocking) FROM audit.quality_checks WHERE "
                       "run_id = ?", [summary.run_id]).fetchall()[0]
    lines = [f"# sendboard run, as of {summary.as_of}", "",
             f"- files loaded: {len(loaded)}; rejected or waiting: {len(rejected)}",
             f"- rows loaded: {sum(f.rows_loaded for f in loaded):,}; quarantined: "
             f"{sum(f.rows_quarantined for f in loaded):,}",
             f"- quality gate: {gate[1]} of {gate[0]} expectations met "
             f"({gate[2]} warning(s))", "", "| January | EHC plans | growth % |",
             "| --- | ---: | ---: |"]
    lines += [f"| {y} | {c:,} | {'' if g is None else g} |" for y, c, g in caseload]
    lines += ["", *[f"- {f.source}/{f.name}: {f.message}" for f in rejected]]
    lines += [f"- warning: {w}" for w in summary.warnings]
    lines += [f"- **not clean**: {p}" for p in summary.problems]
    create_markdown_artifact(key="sendboard-run", markdown="\n".join(lines),
                             description="What this run loaded, checked and published.")


def _file_artifact(files: list[loads.FileOutcome]) -> None:
    if not files:
        return
    create_table_artifact(
        key="sendboard-files",
        table=[{"source": f.source, "file": f.name, "status": f.status, "rows read": f.rows_read,
                "loaded": f.rows_loaded, "quarantined": f.rows_quarantined,
                "top reasons / message": f.message or "; ".join(f.top_reasons)} for f in files],
        description="Files loaded by this run: rows read, loaded and quarantined.")
