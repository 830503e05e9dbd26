"""A run of the pipeline: load what is new (or what a backfill replays), rebuild, check,
publish, write the board pack; one run at a time per home. Plain Python, callable without
Prefect: the flows (flows/) pass in the steps as their tasks, so that each shows in
Prefect's UI with its retries, and add the artifacts; `plain_steps` runs the same code on a
thread pool.

A run that was not clean (a new file rejected, an export waiting, no EHC plan tables)
publishes what it could and says why in RunSummary.problems; the flows end it Failed.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import fcntl
import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from transforms import timing
from warehouse import (
    build,
    changes,
    disclosure_gate,
    leftovers,
    loads,
    pseudonym_key,
    quality_gate,
    sen2_readiness,
    store,
)
from warehouse.archive import Archive, ArchiveError
from warehouse.archive_upkeep import retention_notes
from warehouse.files import Discovery, FileOutcome, LandedFile, Prepared
from warehouse.permissions import private_file
from warehouse.progress import RunProgress
from warehouse.publish import publish
from warehouse.settings import Home, Settings

log = logging.getLogger(__name__)

# A line that only says how far loading has got: the console leaves it out while a live
# display shows the same (flows/run_log.py); the run's log file keeps it.
PROGRESS_LINE = {"progress": True}
# The steps after loading, as a live display names them.
BUILD, GATE, PUBLISH, PACK = ("build core and KPI tables", "quality gate", "publish",
                              "board pack and tables")


@dataclass
class RunSummary:
    run_id: str
    status: str  # running, published, no_new_files, nothing_to_publish, failed
    home: Path
    files: list[FileOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    tables: dict[str, int] = field(default_factory=dict)
    # Why the run was not clean (a new file rejected, an export waiting, no EHC plan
    # tables): it publishes what it can, then ends Failed and `sendboard run` exits 1.
    problems: list[str] = field(default_factory=list)


class RunNotClean(RuntimeError):
    """The run loaded and published what it could, but not everything: `summary.problems`
    says what a data engineer must look at."""

    def __init__(self, message: str, summary: RunSummary | None = None):
        super().__init__(message)
        self.summary = summary


class QualityGateFailed(RuntimeError):
    """An expectation on the KPI tables failed: nothing was published."""


class RunInProgress(RuntimeError):
    """Another run holds this home's lock."""


def not_clean(summary: RunSummary) -> str | None:
    """The one line a scheduler shows for a run that was not clean, or None."""
    if not summary.problems:
        return None
    return f"run {summary.status}, but not clean: " + "; ".join(summary.problems)


def problems(files: list[FileOutcome]) -> list[str]:
    """What of a run's files makes it not clean."""
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


# ------------------------------------------------------------------------------------------
# The steps: each one function, which a flow wraps as a task.
# ------------------------------------------------------------------------------------------

def find_new_files(con: duckdb.DuckDBPyConnection, landing: Path,
                   logger: logging.Logger | logging.LoggerAdapter = log) -> Discovery:
    found = loads.discover(landing, store.known_files(con))
    for w in found.warnings:
        logger.warning("landing: %s", w)
    logger.info("landing %s: %d new file(s)", landing, len(found.new))
    return found


def load_batch(con: duckdb.DuckDBPyConnection, batch: list[LandedFile], key: bytes,
               run_id: str, archive: Archive, prepared: Prepared | list | None = None,
               logger: logging.Logger | logging.LoggerAdapter = log) -> list[FileOutcome]:
    outcomes = loads.load_batch(con, batch, key, run_id, archive, prepared)
    for o in outcomes:
        if o.status == "loaded":
            # A progress line: a live display says as much (the summary's table too).
            logger.info("loaded %s/%s: %d rows read, %d loaded, %d quarantined%s", o.source,
                        o.name, o.rows_read, o.rows_loaded, o.rows_quarantined,
                        f" (top reasons: {'; '.join(o.top_reasons)})" if o.top_reasons else "",
                        extra=PROGRESS_LINE)
        else:
            logger.warning("%s %s/%s: %s", o.status, o.source, o.name, o.message)
    return outcomes


def build_tables(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date | None,
                 logger: logging.Logger | logging.LoggerAdapter = log) -> build.BuildResult:
    with timing.stage("marts"):
        result = build.rebuild(con, settings, as_of)
    logger.info("built %d tables as of %s from the SEN2 export of %s", len(result.tables),
                result.as_of, result.export_date)
    return result


def check(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str,
          logger: logging.Logger | logging.LoggerAdapter = log) -> quality_gate.GateResult:
    """The quality gate over the KPI tables, recorded; raises QualityGateFailed."""
    with timing.stage("quality gate"):
        result = quality_gate.run_gate(quality_gate.kpi_tables(con), settings.home.reports,
                                       run_id, max_age_days=settings.max_data_age_days,
                                       reconciliation_blocks=settings.reconciliation_blocks)
        quality_gate.record(con, run_id, result)
    logger.info("quality gate: %d of %d expectations met; Data Docs: %s",
                int(result.checks["success"].sum()), result.checks.height, result.docs)
    for warning in result.warnings:
        logger.warning("quality warning (published anyway): %s", warning)
    if not result.passed:
        raise QualityGateFailed("quality gate failed, nothing published (the previous "
                                "sendboard.duckdb stays): " + "; ".join(result.failures))
    return result


def publish_tables(con: duckdb.DuckDBPyConnection, target: Path, run_id: str,
                   logger: logging.Logger | logging.LoggerAdapter = log) -> list[str]:
    with timing.stage("publish"):
        tables = publish(con, target, run_id)
    logger.info("published %d tables to %s", len(tables), target)
    return tables


@dataclass
class Steps:
    """What a run calls for each step. `prepare` and `read` start work that runs beside
    the rest and return futures (`as_completed` waits on them); the others run in turn.
    `loaded(files)` and `published(con, summary)` report to the run's viewer (Prefect's
    artifacts), `progress(done, total)` as files load. `tracker` counts the run's progress
    for a live display: `prepare` and `read` must hand it to loads.prepare / read_module."""

    find: Callable[..., Discovery]
    prepare: Callable[[LandedFile, bytes, Archive], concurrent.futures.Future]
    read: Callable[[LandedFile, Archive], concurrent.futures.Future]
    load: Callable[..., list[FileOutcome]]
    build: Callable[..., build.BuildResult]
    check: Callable[..., quality_gate.GateResult]
    publish: Callable[..., list[str]]
    pack: Callable[[Settings], list[Path]]
    as_completed: Callable[[Iterable], Iterator]
    progress: Callable[[int, int], None] = lambda done, total: None
    loaded: Callable[[list[FileOutcome]], None] = lambda files: None
    published: Callable[[duckdb.DuckDBPyConnection, RunSummary], None] = lambda con, s: None
    tracker: RunProgress = field(default_factory=RunProgress)


def plain_steps(pack: Callable[[Settings], list[Path]], pool: concurrent.futures.Executor,
                tracker: RunProgress | None = None) -> Steps:
    """The steps as plain calls, files prepared on `pool`: a run without Prefect."""
    tracker = tracker or RunProgress()
    return Steps(find=find_new_files,
                 prepare=lambda f, key, archive: pool.submit(loads.prepare, f, key, archive,
                                                             tracker),
                 read=lambda f, archive: pool.submit(loads.read_module, f, archive, tracker),
                 load=load_batch, build=build_tables, check=check, publish=publish_tables,
                 pack=pack, as_completed=concurrent.futures.as_completed, tracker=tracker)


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------

def run_pipeline(flow_name: str, settings: Settings, key: bytes, run_id: str,
                 gather: Callable[[duckdb.DuckDBPyConnection],
                                  tuple[list[list[LandedFile]], list[str]]],
                 steps: Steps, as_of: dt.date | None, nothing_message: str,
                 logger: logging.Logger | logging.LoggerAdapter = log) -> RunSummary:
    """The steps every run shares, after `gather` has said which files to load: load,
    rebuild, quality gate, publish, board pack; one run at a time per home (a lock, besides
    the work pool's concurrency limit of 1). Raises for a run that failed (its record says
    why); returns the summary of one that published, or found nothing to do. A key other
    than the warehouse's stops it before it records or loads anything (KeyMismatch); what
    a failed run left behind is removed first. `gather` may decrypt archived files (a
    backfill's replay_batches): the copies go when the run ends."""
    h = settings.home
    h.ensure()
    timing.reset()
    summary = RunSummary(run_id, "running", h.root)
    archive = settings.archive
    with run_lock(h), _long_lived_frozen():
        leftovers.remove(h, logger)
        archive.clear()  # what a killed run left
        fresh = not h.warehouse.exists()
        con = store.connect(h.warehouse)
        started = False
        # The files the run found new, once it knows: what its record says even if it fails
        # before all of them are loaded.
        n_files: int | None = None
        try:
            if fresh:  # (DuckDB makes it with the default mode)
                private_file(h.warehouse)
            h.tighten()  # anything made looser since the last run
            pseudonym_key.check(con, key, run_id, logger)
            store.start_run(con, run_id, flow_name)
            started = True
            summary.warnings = check_archive(archive, con, settings, logger)
            batches, found_warnings = gather(con)
            summary.warnings += found_warnings
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
            summary.files = load_batches(con, batches, key, run_id, archive, steps, logger)
            summary.problems = problems(summary.files)
            steps.loaded(summary.files)
            nothing = build.nothing_to_build(con)
            if nothing:
                logger.warning("loaded the files, but there is nothing to publish yet: %s",
                               nothing)
                summary.status = "nothing_to_publish"
                summary.problems.append(nothing)
                store.finish_run(con, run_id, "nothing_to_publish",
                                 error="; ".join(summary.problems), files_new=n_files)
                return summary
            tracker = steps.tracker
            with tracker.stage(BUILD):
                result = steps.build(con, settings, as_of)
            summary.as_of, summary.tables = result.as_of, result.tables
            summary.warnings += result.notes
            if result.sen2_missing:
                summary.problems.append(f"no EHC plan tables published: {result.sen2_missing}")
            if result.disclosure is not None:
                disclosure_gate.record(con, run_id, result.disclosure)
                if problem := disclosure_gate.problem(result.disclosure):
                    summary.problems.append(problem)
            readiness = sen2_readiness.start_check(con, run_id, summary.files, h.reports,
                                                   logger)
            with tracker.stage(GATE):
                try:
                    steps.check(con, settings, run_id)
                finally:
                    if problem := readiness.result():
                        summary.problems.append(problem)
            changes.record_headlines(con, run_id)  # what the next publish is compared with
            # The published copy carries this run's own record, as finished.
            store.finish_run(con, run_id, "published", files_new=n_files, as_of=result.as_of,
                             error=("not clean: " + "; ".join(summary.problems))
                             if summary.problems else None)
            with tracker.stage(PUBLISH):
                steps.publish(con, h.published, run_id)
            summary.status = "published"
            steps.published(con, summary)
            with tracker.stage(PACK):
                steps.pack(settings)
            logger.info("stage timings: %s", timing.summary())
            return summary
        except BaseException as e:
            summary.status = "failed"
            if started:
                store.finish_run(con, run_id, "failed", error=f"{type(e).__name__}: {e}",
                                 files_new=n_files)
            raise
        finally:
            con.close()
            archive.clear()


def check_archive(archive: Archive, con: duckdb.DuckDBPyConnection, settings: Settings,
                  logger: logging.Logger | logging.LoggerAdapter = log) -> list[str]:
    """Stop before loading when the archive was sealed with another key (files sealed now
    could not be read with the old ones); warnings for files archived before encryption
    and files past the retention."""
    plain, foreign = archive.survey()
    if foreign:
        raise ArchiveError(
            f"{len(foreign)} archived file(s) (e.g. {foreign[0]}) were sealed with another "
            "archive key: SENDBOARD_ARCHIVE_KEY is not the key this archive was written "
            "with. Set it to that key and run again; nothing was loaded.")
    warnings = [f"{len(plain)} archived file(s) in {archive.root} were archived before "
                "sendboard encrypted its archive and are not encrypted: `sendboard archive "
                "encrypt` seals them (docs/privacy.md)"] if plain else []
    warnings += retention_notes(con, archive.root, settings.archive_retention_days,
                                dt.datetime.now(dt.UTC))
    for w in warnings:
        logger.warning(w)
    return warnings


def load_batches(con: duckdb.DuckDBPyConnection, batches: list[list[LandedFile]], key: bytes,
                 run_id: str, archive: Archive, steps: Steps,
                 logger: logging.Logger | logging.LoggerAdapter = log) -> list[FileOutcome]:
    """Every batch prepared in parallel (an export's files each on its own), committed one
    at a time as they are ready (commit_order)."""
    n_files = sum(len(b) for b in batches)
    steps.tracker.begin_loading(n_files)
    futures = {i: [steps.read(f, archive) for f in b] if loads.is_export(b)
               else [steps.prepare(b[0], key, archive)] for i, b in enumerate(batches)}
    outcomes: dict[int, list[FileOutcome]] = {}
    for i in commit_order(batches, futures, steps.as_completed):
        # Popped, so each prepared file is freed once committed, not held to the end.
        results = [f.result() for f in futures.pop(i)]
        batch = batches[i]
        outcomes[i] = steps.load(con, batch, key, run_id, archive,
                                 results if loads.is_export(batch) else results[0])
        steps.tracker.batch_committed(batch, outcomes[i])
        done = sum(len(batches[j]) for j in outcomes)
        steps.progress(done, n_files)
        now = steps.tracker.snapshot()
        logger.info("loading: %d of %d file(s) done, %s rows read (%.0f s)", done, n_files,
                    f"{now.rows_read:,}", now.loading_seconds or 0.0, extra=PROGRESS_LINE)
    return [o for i in sorted(outcomes) for o in outcomes[i]]


def commit_order(batches: list[list[LandedFile]], futures: dict[int, list],
                 as_completed: Callable[[Iterable], Iterator]) -> Iterator[int]:
    """Batch indices in the order to commit them: each as soon as its files are prepared,
    except that a source's batches keep their order (a later file of the same table replaces
    the periods it shares with an earlier one). Across tables the order changes nothing, and
    the committing thread writes the SEN2 export while the census still prepares, rather
    than waiting for the census first."""
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


def summary_markdown(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> str:
    """A page per run: files, quarantine, headline KPIs, the gate, what was not clean."""
    loaded = [f for f in summary.files if f.status == "loaded"]
    rejected = [f for f in summary.files if f.status not in ("loaded", "skipped")]
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
    return "\n".join(lines)


def files_table(files: list[FileOutcome]) -> list[dict]:
    """A row a file: what was read, loaded and quarantined."""
    return [{"source": f.source, "file": f.name, "status": f.status, "rows read": f.rows_read,
             "loaded": f.rows_loaded, "quarantined": f.rows_quarantined,
             "top reasons / message": f.message or "; ".join(f.top_reasons)} for f in files]

