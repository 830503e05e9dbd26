"""The `sendboard` command: sample, run, backfill, rotate-key, report, status, ..."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flows import run_log
from flows import settings as env
from flows.settings import pseudonym_key
from warehouse.settings import ConfigError, Home

if TYPE_CHECKING:
    from prefect.states import State

    from warehouse.rotation import Rotation

REPOSITORY = Path(__file__).resolve().parents[1]
# The DfE release the backtest scores against: the one shipped with sendboard
# (warehouse/dfe_statistics.py SHIPPED, named here so that the command line does not import polars).
DEFAULT_RELEASE = REPOSITORY / "warehouse" / "reference" / "dfe_ehcp_2025.parquet"


def cmd_sample(args: argparse.Namespace) -> int:
    from sendboard.sample import write_sample

    out = Path(args.out)
    if args.scale == "national" and args.census_format != "flat":
        print("sendboard: --census-format blade is for --scale la only", file=sys.stderr)
        return 2
    if args.scale == "national":
        from sendboard.sample.national import write_national

        t = time.perf_counter()
        written = write_national(out, seed=args.seed)
        n = sum(len(v) for v in written.values())
        print(f"wrote {n} national-scale sample files (England: every LA's spring census, "
              f"one national SEN2 export) to {out} in {time.perf_counter() - t:.0f} s")
        return 0
    t = time.perf_counter()
    written = write_sample(out, seed=args.seed, published_from=_published_from(args),
                           census_format=args.census_format)
    n = sum(len(v) for v in written.values())
    print(f"wrote {n} sample files for the synthetic county LA to {out} "
          f"in {time.perf_counter() - t:.0f} s")
    return 0


def _published_from(args: argparse.Namespace) -> Path | None:
    if args.published_from:
        return Path(args.published_from)
    print("note: no DfE statistics found to copy into published/: comparators come from the "
          "2025 release shipped with sendboard (`sendboard published fetch` lands a newer one)")
    return None


def _not_yet(home: Home, needs: Path) -> str | None:
    """What a command that works on a run's output says when `needs` (the working warehouse,
    the published database) is not there yet: one message for all of them; None when it is."""
    if needs.exists():
        return None
    return f"no run has published to {home.root} yet: run `sendboard run` first"


def _refused_before_a_run(home: Home, needs: Path) -> int | None:
    """Exit status 2 and the message of _not_yet on stderr, or None to go on."""
    message = _not_yet(home, needs)
    if message is None:
        return None
    print(f"sendboard: {message}", file=sys.stderr)
    return 2


def _landing_is_empty(landing: Path) -> bool:
    return not landing.exists() or not any(p.is_file() for p in landing.rglob("*"))


def cmd_run(args: argparse.Namespace) -> int:
    env.library_defaults()
    home = env.home(args.home)
    # Fail fast, before Prefect starts (the flow warns of a sample key, in its log too).
    _check_key(home, pseudonym_key(home, allow_sample_key=args.sample, warn=False))
    env.archive_key(home, allow_sample_key=args.sample, warn=False)
    _check_settings(args.home, args.sample)
    landing = Path(args.landing).resolve() if args.landing else home.landing
    if args.sample and _landing_is_empty(landing):
        from sendboard.sample import write_sample

        print(f"no files in {landing}: writing the sample LA's extracts there first ...")
        t = time.perf_counter()
        write_sample(landing, published_from=_published_from(args))
        print(f"sample extracts written in {time.perf_counter() - t:.0f} s")
    elif not landing.is_dir():
        raise ConfigError(f"the landing folder {landing} does not exist: create it with a "
                          "subfolder for each source (census/, sen2/, ...: README) holding "
                          "the extracts, or give the folder with --landing DIR")
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise ConfigError(f"--as-of {args.as_of!r} is not a date: give it as YYYY-MM-DD"
                          ) from None

    def run():
        from flows.nightly import nightly

        return nightly(home=str(home.root), landing=str(landing), sample=args.sample,
                       as_of=as_of, return_state=True)

    return _run_flow(home, args.verbose, run)


def _check_key(home: Home, key: bytes) -> None:
    """A key other than the warehouse's stops the run here, in one line (the run checks
    again under its lock: warehouse/pseudonym_key.py)."""
    from warehouse.pseudonym_key import check_before_run

    check_before_run(home.warehouse, key)


def _check_settings(home_arg: str | None, sample: bool) -> None:
    """What a run would otherwise trip over late, checked before it starts: the settings
    from the environment, and the forecast's scenarios file (read only once every file has
    loaded)."""
    from transforms.forecast import load_scenarios

    path = env.settings(home_arg, sample=sample).scenarios
    try:
        load_scenarios(path)
    except (OSError, ValueError, TypeError, AttributeError) as e:
        # (tomllib's TOMLDecodeError is a ValueError.)
        raise ConfigError(f"the forecast scenarios file {path} cannot be used: {e}; "
                          "correct it (docs/forecast.md) and run again") from None


def _run_flow(home: Home, verbose: bool, run: Callable[[], State]) -> int:
    """Run a flow with its log in HOME/logs (flows/run_log.py), then say how it went: the
    summary of a run that published (0) or published what it could (1); one line for an
    expected failure (1; 2 for a setting to correct, such as a key that is not the
    warehouse's); for anything else the exception and its last frame (1); and where the
    full log is. On a terminal a live display shows the progress meanwhile
    (sendboard/progress_display.py), counted by the run's steps (warehouse/progress.py)."""
    from flows.temporary_server import start_temporary_server
    from sendboard.progress_display import ProgressDisplay
    from warehouse.progress import RunProgress, watching

    started = time.perf_counter()
    tracker = RunProgress()
    display = ProgressDisplay(tracker)
    with (run_log.capture(home.logs, verbose, live=display.console if display.active else None)
          as log, watching(tracker)):
        with display:
            try:
                start_temporary_server()
                state = run()
            except Exception as e:  # no flow run started (say, Prefect's server did not)
                outcome: object = e
            else:
                log.run_id = str(state.state_details.flow_run_id)
                outcome = state.result(raise_on_failure=False)
        if isinstance(outcome, BaseException) and _hint(outcome, home) is None:
            logging.getLogger(__name__).error("the run stopped on an unexpected error",
                                              exc_info=outcome, extra={"console": False})
    elapsed = time.perf_counter() - started
    code = _say(home, outcome, elapsed)
    print(f"the full log: {log.path}", file=sys.stderr if code else sys.stdout)
    return code


def _hint(e: BaseException, home: Home) -> str | None:
    """What to do after an expected failure (its message says what happened); None for an
    unexpected one."""
    from warehouse.archive import ArchiveError
    from warehouse.backfill import BackfillError
    from warehouse.rotation import RotationFailed
    from warehouse.run import QualityGateFailed, RunInProgress

    if isinstance(e, QualityGateFailed):
        return (f". The Data Docs ({home.reports / 'data-docs' / 'index.html'}) show each "
                "check; correct the extract behind the failed one and run again.")
    if isinstance(e, RunInProgress | BackfillError | ConfigError | RotationFailed
                      | ArchiveError):
        return ""
    return None


def _say(home: Home, outcome: object, elapsed: float) -> int:
    from sendboard.report_text import headline
    from warehouse.run import RunNotClean

    if isinstance(outcome, RunNotClean) and outcome.summary is not None:
        print()
        print(headline(home, outcome.summary, elapsed))
        print("\nsendboard: the run was not clean (see 'not clean' above); exit status 1",
              file=sys.stderr)
        return 1
    if not isinstance(outcome, BaseException):
        print()
        print(headline(home, outcome, elapsed))
        return 0
    hint = _hint(outcome, home)
    if hint is not None:
        print(f"sendboard: {outcome}{hint}", file=sys.stderr)
    else:
        print(_unexpected(outcome), file=sys.stderr)
    # A setting to correct (say, a key that is not the warehouse's) exits as one found
    # before the run started.
    return 2 if isinstance(outcome, ConfigError) else 1


def _unexpected(e: BaseException) -> str:
    """The exception's first line and the frame that raised it (the traceback is in the
    log)."""
    first = (str(e).strip().splitlines() or [""])[0]
    lines = [f"sendboard: the run stopped on an unexpected error: {type(e).__name__}: {first}"]
    frames = traceback.extract_tb(e.__traceback__)
    if frames:
        last = frames[-1]
        where = Path(last.filename)
        if where.is_relative_to(REPOSITORY):
            where = where.relative_to(REPOSITORY)
        lines.append(f"  at {where}:{last.lineno} in {last.name}: {last.line}")
    return "\n".join(lines)


def cmd_backfill(args: argparse.Namespace) -> int:
    env.library_defaults()
    home = env.home(args.home)
    _check_key(home, pseudonym_key(home, allow_sample_key=args.sample, warn=False))
    env.archive_key(home, allow_sample_key=args.sample, warn=False)
    if not args.all and not (args.source or args.period_from or args.period_to):
        print("sendboard: say what to replay: --source NAME and/or --from/--to, or --all",
              file=sys.stderr)
        return 2
    _check_settings(args.home, args.sample)

    def run():
        from flows.backfill import backfill

        return backfill(sources=args.source, period_from=args.period_from,
                        period_to=args.period_to, all_files=args.all, home=str(home.root),
                        sample=args.sample, return_state=True)

    return _run_flow(home, args.verbose, run)


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Re-pseudonymise the warehouse under a new key (warehouse/rotation.py), on plain
    threads: no Prefect server for a command an administrator runs by hand."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    env.library_defaults()
    home = env.home(args.home)
    if (refused := _refused_before_a_run(home, home.warehouse)) is not None:
        return refused
    old = pseudonym_key(home, allow_sample_key=args.sample, warn=False)
    new = env.new_pseudonym_key()
    _check_settings(args.home, args.sample)
    settings = env.run_settings(args.home, sample=args.sample, warn=False)
    started = time.perf_counter()
    with run_log.capture(home.logs, args.verbose) as log:
        log.run_id = str(uuid.uuid4())
        try:
            from warehouse.pack import write_reports
            from warehouse.rotation import rotate
            from warehouse.run import plain_steps

            with ThreadPoolExecutor(max_workers=env.workers()) as pool:
                outcome: object = rotate(settings, old, new, log.run_id,
                                         plain_steps(write_reports, pool))
        except Exception as e:
            outcome = e
            if _hint(e, home) is None:
                logging.getLogger(__name__).error("rotate-key stopped on an unexpected error",
                                                  exc_info=e, extra={"console": False})
    if isinstance(outcome, BaseException):
        code = _say(home, outcome, time.perf_counter() - started)
    else:
        code = 0
        print(_rotated(home, outcome))
    print(f"the full log: {log.path}", file=sys.stderr if code else sys.stdout)
    return code


def _rotated(home: Home, r: Rotation) -> str:
    from warehouse.pseudonym_key import SHOWN

    return "\n".join([
        "", f"Key rotated (run {r.run_id}, {r.seconds:.0f} s): {len(r.files)} archived file(s) "
        f"replayed, {r.rows_loaded:,} row(s) loaded under the new key (fingerprint "
        f"{r.old_fingerprint[:SHOWN]} -> {r.new_fingerprint[:SHOWN]}).",
        f"Set {env.KEY_ENV} to the new key for every later run (the scheduler's secret "
        "store too): a run with the old key now stops before loading.",
        f"published database: {home.published}", f"working warehouse:  {home.warehouse}"])


def _refusals(command: Callable[[argparse.Namespace], int]
              ) -> Callable[[argparse.Namespace], int]:
    """An archive command's expected failures (a run holds the lock, an archived file that
    cannot be read) as one line and exit status 1."""
    def guarded(args: argparse.Namespace) -> int:
        from warehouse.archive import ArchiveError
        from warehouse.run import RunInProgress

        try:
            return command(args)
        except (RunInProgress, ArchiveError) as e:
            print(f"sendboard: {e}", file=sys.stderr)
            return 1
    return guarded


@_refusals
def cmd_archive_encrypt(args: argparse.Namespace) -> int:
    from warehouse.archive_upkeep import seal_plain_files

    home = env.home(args.home)
    if (refused := _refused_before_a_run(home, home.warehouse)) is not None:
        return refused
    settings = env.run_settings(args.home, sample=args.sample, warn=False)
    with _archive_work(settings.home) as con:
        done = seal_plain_files(con, settings.archive)
    for s in done:
        print(f"  sealed {s.plain.name} -> {s.sealed.name}" if s.sealed else
              f"  not sealed: {s.plain}: {s.problem}")
    sealed = sum(s.sealed is not None for s in done)
    print(f"{sealed} archived file(s) sealed in {settings.home.archive}; "
          + ("every archived file is now encrypted" if sealed == len(done)
             else f"{len(done) - sealed} left as they were (above)"))
    return 0 if sealed == len(done) else 1


@_refusals
def cmd_archive_purge(args: argparse.Namespace) -> int:
    from warehouse.archive_upkeep import due, purge

    settings = env.settings(args.home)
    days = args.older_than if args.older_than is not None else settings.archive_retention_days
    if days == 0:
        print("sendboard: SENDBOARD_ARCHIVE_RETENTION_DAYS is 0 (keep archived files for "
              "ever): nothing to purge; give --older-than DAYS to purge anyway")
        return 0
    if (refused := _refused_before_a_run(settings.home, settings.home.warehouse)) is not None:
        return refused
    reason = (f"first loaded more than {days} days before, --older-than {days}"
              if args.older_than is not None else
              f"first loaded more than {days} days before, the retention "
              "(SENDBOARD_ARCHIVE_RETENTION_DAYS)")
    now = dt.datetime.now(dt.UTC)
    with _archive_work(settings.home) as con:
        files = due(con, settings.home.archive, days, now)
        if not args.dry_run:
            purge(con, files, reason, now)
    verb = "would purge" if args.dry_run else "purged"
    for f in files:
        print(f"  {verb} {f.label}")
    size = sum(f.path.stat().st_size for f in files) if args.dry_run else None
    print(f"{len(files)} archived file(s) {'would be purged' if args.dry_run else 'purged'}: "
          f"first loaded more than {days} days ago"
          + (f" ({size / 1e6:.1f} MB)" if size is not None else
             "; their rows, the derived tables and the audit stay (audit.archive_purges "
             "records each)"))
    return 0


@contextmanager
def _archive_work(home: Home):
    """The warehouse (which the command has checked is there), with the run lock held: no
    run reads the archive meanwhile."""
    from warehouse import store
    from warehouse.run import run_lock

    with run_lock(home):
        con = store.connect(home.warehouse)
        try:
            yield con
        finally:
            con.close()


def cmd_report(args: argparse.Namespace) -> int:
    from warehouse.pack import build_pack, pack_name

    home = env.home(args.home)
    if (refused := _refused_before_a_run(home, home.published)) is not None:
        return refused
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    out = Path(args.out) if args.out else home.reports / pack_name(home.published, args.public)
    written = build_pack(home.published, out, env.settings(args.home).kpi_doc, args.public,
                         as_of)
    print(f"board pack written to {written}")
    if args.pdf:
        from warehouse.pack import print_pdf

        print(f"PDF written to {print_pdf(out, out.with_suffix('.pdf'))}")
    if args.tables:
        from warehouse.takeaway import describe, write_takeaway

        tables = write_takeaway(home.published, home.reports, env.settings(args.home).kpi_doc)
        print(f"tables written: {describe(tables, home.reports)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from sendboard.report_text import status

    home = env.home(args.home)
    # A home with no run yet is a status to report, not a failure (exit 0).
    info = status(home, nothing_yet=_not_yet(home, home.published))
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        from sendboard.report_text import status_text

        print(status_text(info))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """The records behind one row of a kpi table (warehouse/explain.py): 0 when they agree
    with it, 1 (said loudly) when they do not."""
    from warehouse.explain import ExplainError, as_csv, as_table, explain, parse_where

    try:
        e = explain(env.settings(args.home), args.table, parse_where(args.where or []),
                    args.count)
    except ExplainError as err:
        print(f"sendboard: {err}", file=sys.stderr)
        return err.code
    if args.format == "csv":
        # The records alone on stdout, to open or parse; what they are on stderr.
        sys.stdout.write(as_csv(e))
        print(f"{e.summary()}\n{e.verdict()}", file=sys.stderr)
    else:
        print(as_table(e))
    if not e.agrees:
        print(f"sendboard: {e.verdict()}", file=sys.stderr)
        return 1
    return 0


def cmd_sen2_check(args: argparse.Namespace) -> int:
    """The SEN2 readiness checks alone, on the latest export (or --export's): recorded in
    the warehouse, the workbook written, the summary printed."""
    import uuid

    from warehouse import sen2_readiness, store
    from warehouse.run import RunInProgress, run_lock

    home = env.home(args.home)
    if (refused := _refused_before_a_run(home, home.warehouse)) is not None:
        return refused
    export = dt.date.fromisoformat(args.export) if args.export else None
    try:
        with run_lock(home):
            con = store.connect(home.warehouse)
            try:
                r = sen2_readiness.check_export(con, f"sen2-check-{uuid.uuid4().hex[:12]}",
                                                export)
            finally:
                con.close()
    except (sen2_readiness.NoExport, RunInProgress) as e:
        print(f"sendboard: {e}", file=sys.stderr)
        return 2
    book = sen2_readiness.write_workbook(r, home.reports)
    print("\n".join(sen2_readiness.summary_lines(r)))
    print(f"workbook for caseworkers: {book}")
    if args.fail_on:
        worst = sen2_readiness.SEVERITY_ORDER[:sen2_readiness.SEVERITY_ORDER.index(
            args.fail_on) + 1]
        failing = sum(r.count(s) for s in worst)
        if failing:
            print(f"sendboard: {failing:,} issue(s) of severity {' or '.join(worst)}",
                  file=sys.stderr)
            return 1
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from sendboard.backtest_report import run_backtest

    return run_backtest(args.release or [str(DEFAULT_RELEASE)], args.fit_until, args.json,
                        DEFAULT_RELEASE, la=args.la)


def cmd_published_fetch(args: argparse.Namespace) -> int:
    from warehouse.release_fetch import EES_CONTENT_API, PUBLICATIONS, FetchError, fetch

    home = env.home(args.home)
    landing = Path(args.landing).resolve() if args.landing else home.landing
    chosen = list(PUBLICATIONS) if args.publication == "all" else [args.publication]
    failed = 0
    for publication in chosen:
        try:
            got = fetch(landing, publication, url=args.url, api=args.api or EES_CONTENT_API,
                        progress=lambda line: print(f"  {line}", file=sys.stderr))
        except FetchError as e:
            print(f"sendboard: published fetch failed ({PUBLICATIONS[publication]}): {e}"
                  if len(chosen) > 1 else f"sendboard: published fetch failed: {e}",
                  file=sys.stderr)
            failed += 1
            continue
        print(f"fetched {got.title or 'the release'} from {got.url}")
        for path in got.files:
            print(f"  wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        for why in got.skipped:
            print(f"  skipped {why}")
        n = len(got.files)
        print(f"{n} data file{'' if n == 1 else 's'} in {got.folder}: `sendboard run` loads "
              "them")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sendboard", description=(
        "SEND and High Needs pipeline: loads an LA's extracts into DuckDB and publishes KPIs."))
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="write synthetic sample extracts in the contract formats")
    s.add_argument("--out", required=True, help="landing folder to write (one subfolder a source)")
    s.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    s.add_argument("--scale", choices=["la", "national"], default="la",
                   help="la: one county LA (default); national: England, 9.3 million "
                   "pupils, for the benchmark (bench/)")
    s.add_argument("--published-from", help=(
        "folder of DfE EHC plans statistics CSVs to copy into published/ (default: none; "
        "the comparators come from the 2025 release shipped with sendboard)"))
    s.add_argument("--census-format", choices=["flat", "blade"], default="flat", help=(
        "school census layout: flat, one file a census (default); blade, the COLLECT Blade "
        "export, one CSV a table a census (docs/census-blade.md); --scale la only"))
    s.set_defaults(func=cmd_sample)
    r = sub.add_parser("run", help="run the nightly flow once, now")
    r.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    r.add_argument("--landing", help="landing folder (default HOME/landing)")
    r.add_argument("--sample", action="store_true", help=(
        "sample mode: write the sample extracts if the landing folder is empty, and allow a "
        "locally generated pseudonymisation key"))
    r.add_argument("--as-of", help="as-of date for the KPI tables (default: latest extract)")
    r.add_argument("--published-from", help="with --sample: DfE statistics CSVs to copy in")
    r.add_argument("--verbose", action="store_true", help=(
        "also show the libraries' lines (Prefect's task states, Great Expectations') on "
        "the console; they are always in HOME/logs/<run id>.log"))
    r.set_defaults(func=cmd_run)
    b = sub.add_parser("backfill", help="replay archived extracts, then rebuild and publish")
    b.add_argument("--source", action="append", help=(
        "a source to replay (census, sen2, establishments, finance, recovery_plan, places, "
        "population, published); repeat for several; default all"))
    b.add_argument("--from", dest="period_from", help=(
        "first period: a date for census and SEN2 (2019-01-01), a financial year for finance, "
        "recovery plan and places (2019-20), a year for population and published"))
    b.add_argument("--to", dest="period_to", help="last period, in the same form")
    b.add_argument("--all", action="store_true", help="replay every archived file")
    b.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    b.add_argument("--sample", action="store_true", help="sample data: local key allowed")
    b.add_argument("--verbose", action="store_true", help=(
        "also show the libraries' lines on the console (always in HOME/logs/<run id>.log)"))
    b.set_defaults(func=cmd_backfill)
    rk = sub.add_parser("rotate-key", help=(
        "re-pseudonymise the warehouse from the archive under a new key: current key in "
        f"{env.KEY_ENV}, new one in {env.NEW_KEY_ENV}"))
    rk.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    rk.add_argument("--sample", action="store_true", help=(
        "sample data: the local sample key allowed as the current key, no freshness rule"))
    rk.add_argument("--verbose", action="store_true", help=(
        "also show the libraries' lines on the console (always in HOME/logs/<run id>.log)"))
    rk.set_defaults(func=cmd_rotate_key)
    rp = sub.add_parser("report", help="write the SEND Board pack (one self-contained HTML)")
    rp.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    rp.add_argument("--out", help="file to write (default HOME/reports/board-pack-...html)")
    rp.add_argument("--public", action="store_true",
                    help="build from public.* (small numbers suppressed) for published papers")
    rp.add_argument("--as-of", help="the as-of date printed on the pack (default: the data's)")
    rp.add_argument("--pdf", action="store_true",
                    help="also print it to PDF with headless Chromium (when installed)")
    rp.add_argument("--tables", action="store_true",
                    help="also write the tables to take away: HOME/reports/sendboard-<as of>"
                    ".xlsx (public.*), -internal-kpi.xlsx (kpi.*) and tables/<as of>/ CSV "
                    "and Parquet (docs/bi.md)")
    rp.set_defaults(func=cmd_report)
    st = sub.add_parser("status", help="last runs, files, quarantine counts, paths")
    st.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
    ex = sub.add_parser("explain", help="the records behind one row of a kpi table (inside "
                        "the LA only): plans, requests, pupil rows or ledger lines, each with "
                        "its source file and row")
    ex.add_argument("table", help="a kpi table, e.g. kpi.ehcp_caseload (public.* is refused)")
    ex.add_argument("--where", action="append", metavar="COLUMN=VALUE", help=(
        "a grain column of the row and its value, e.g. year=2025; repeat for each grain "
        "column (a missing one is named, with the values it takes)"))
    ex.add_argument("--count", metavar="COLUMN", help=(
        "the count column to explain (default: the table's main count, e.g. caseload)"))
    ex.add_argument("--format", choices=["table", "csv"], default="table",
                    help="table: aligned text (default); csv: the records alone on stdout")
    ex.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    ex.set_defaults(func=cmd_explain)
    sc = sub.add_parser("sen2-check", help="the SEN2 return readiness checks on the latest "
                        "export: summary printed, HOME/reports/sen2-issues-<export>.xlsx")
    sc.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    sc.add_argument("--export", help="the export date to check (default: the latest loaded)")
    sc.add_argument("--fail-on", choices=["error", "query", "quality"], help=(
        "exit 1 when an issue of this severity or a graver one exists (error is the gravest: "
        "the DfE's validation would reject it)"))
    sc.set_defaults(func=cmd_sen2_check)
    bt = sub.add_parser("backtest", help="score the demand model on the DfE's published "
                        "statistics for every LA, against the naive forecast")
    bt.add_argument("--release", nargs="+", metavar="DIR",
                    help="DfE releases beside the shipped one (%(prog)s always loads "
                    f"{DEFAULT_RELEASE.name}): folders of a release's CSVs, any layout, or "
                    "its zip unpacked; the newest release wins, each origin is fitted on "
                    "what was published by then")
    bt.add_argument("--fit-until", type=int,
                    help="score only the forecast made from this January (default: every "
                    "origin the releases allow)")
    bt.add_argument("--json", help="also write the summary and per-LA scores to this file")
    bt.add_argument("--la", metavar="CODE", help="also print this LA's own forecasts, scored "
                    "(its ONS code, e.g. E06000054: what kpi.forecast_track_record keeps)")
    bt.set_defaults(func=cmd_backtest)
    pb = sub.add_parser("published", help="the DfE's published statistics").add_subparsers(
        dest="published_command", required=True)
    pf = pb.add_parser("fetch", help="download the latest EHC plans release (or the absence "
                       "or exclusions files by pupil characteristic) from Explore Education "
                       "Statistics into LANDING/published/<release>/")
    pf.add_argument("--publication", choices=["ehcp", "absence", "exclusions", "all"],
                    default="ehcp", help=(
                        "ehcp: Education, health and care plans, the whole release (default); "
                        "absence: Pupil absence in schools in England, exclusions: Suspensions "
                        "and permanent exclusions in England, their files by pupil "
                        "characteristic (kpi.sen_attendance's comparators); all: the three"))
    pf.add_argument("--url", help="an EHC plans release zip to download instead (default: ask "
                    "EES for the latest release of education-health-and-care-plans)")
    pf.add_argument("--api", help=(
        "EES's content API (default https://content.explore-education-statistics.service."
        "gov.uk/api; another address for a proxy or mirror)"))
    pf.add_argument("--landing", help="landing folder (default HOME/landing)")
    pf.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    pf.set_defaults(func=cmd_published_fetch)
    ar = sub.add_parser("archive", help="the archive of landed files: encrypt, purge "
                        "(docs/privacy.md)").add_subparsers(dest="archive_command",
                                                             required=True)
    ae = ar.add_parser("encrypt", help="seal the files archived before sendboard encrypted "
                       "its archive (once, after upgrading), with SENDBOARD_ARCHIVE_KEY")
    ae.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    ae.add_argument("--sample", action="store_true",
                    help="sample data: the local sample archive key is allowed")
    ae.set_defaults(func=cmd_archive_encrypt)
    ap = ar.add_parser("purge", help="remove archived files first loaded longer ago than the "
                       "retention (SENDBOARD_ARCHIVE_RETENTION_DAYS); the derived tables, "
                       "the audit and the landing folder are kept")
    ap.add_argument("--older-than", type=_days, metavar="DAYS",
                    help="purge files first loaded more than DAYS days ago instead")
    ap.add_argument("--dry-run", action="store_true",
                    help="list what would be purged; remove nothing")
    ap.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    ap.set_defaults(func=cmd_archive_purge)
    return p


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError("give at least 1 day")
    return days


def main(argv: list[str] | None = None) -> int:
    # The commands' own lines and the libraries' warnings (a run or backfill puts its own
    # console and log file over this, and Prefect still logs when its temporary server
    # stops at exit).
    console = logging.StreamHandler()
    console.addFilter(run_log.ConsoleFilter(verbose=False))
    console.setFormatter(run_log.ConsoleFormatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[console])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError) as e:
        print(f"sendboard: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
