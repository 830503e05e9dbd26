"""The `sendboard` command: sample, run, status."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path

from flows import settings as env
from flows.settings import pseudonym_key
from warehouse.settings import ConfigError, Home

# The DfE release the backtest scores against: the one shipped with sendboard
# (warehouse/dfe_statistics.py SHIPPED, named here so that the command line does not import polars).
DEFAULT_RELEASE = Path(__file__).resolve().parents[1] / "warehouse" / "reference" / \
    "dfe_ehcp_2025.parquet"


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
    from sendboard.sample import DEFAULT_PUBLISHED

    if args.published_from:
        return Path(args.published_from)
    if DEFAULT_PUBLISHED.is_dir():
        return DEFAULT_PUBLISHED
    print("note: no DfE statistics found to copy into published/: comparators come from the "
          "2025 release shipped with sendboard (`sendboard published fetch` lands a newer one)")
    return None


def _landing_is_empty(landing: Path) -> bool:
    return not landing.exists() or not any(p.is_file() for p in landing.rglob("*"))


def cmd_run(args: argparse.Namespace) -> int:
    env.library_defaults()
    home = env.home(args.home)
    pseudonym_key(home, allow_sample_key=args.sample)  # fail fast, before Prefect starts
    landing = Path(args.landing).resolve() if args.landing else home.landing
    if args.sample and _landing_is_empty(landing):
        from sendboard.sample import write_sample

        print(f"no files in {landing}: writing the sample LA's extracts there first ...")
        t = time.perf_counter()
        write_sample(landing, published_from=_published_from(args))
        print(f"sample extracts written in {time.perf_counter() - t:.0f} s")
    from flows.nightly import nightly

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    t = time.perf_counter()
    return _report(home, t, lambda: nightly(home=str(home.root), landing=str(landing),
                                            sample=args.sample, as_of=as_of))


def _report(home: Home, started: float, run) -> int:
    """Run a flow and print its headline: 0 for a clean run, 1 for one that published
    what it could but rejected a file, holds an export waiting or lacks EHC plan tables."""
    from flows.nightly import RunNotClean
    from sendboard.report_text import headline

    try:
        summary, code = run(), 0
    except RunNotClean as e:
        if e.summary is None:
            raise
        summary, code = e.summary, 1
    print()
    print(headline(home, summary, time.perf_counter() - started))
    if code:
        print("\nsendboard: the run was not clean (see 'not clean' above); exit status 1",
              file=sys.stderr)
    return code


def cmd_backfill(args: argparse.Namespace) -> int:
    env.library_defaults()
    home = env.home(args.home)
    pseudonym_key(home, allow_sample_key=args.sample)
    if not args.all and not (args.source or args.period_from or args.period_to):
        print("sendboard: say what to replay: --source NAME and/or --from/--to, or --all",
              file=sys.stderr)
        return 2
    from flows.backfill import backfill

    return _report(home, time.perf_counter(), lambda: backfill(
        sources=args.source, period_from=args.period_from, period_to=args.period_to,
        all_files=args.all, home=str(home.root), sample=args.sample))


def cmd_report(args: argparse.Namespace) -> int:
    from warehouse.pack import build_pack, pack_name

    home = env.home(args.home)
    if not home.published.exists():
        print(f"sendboard: nothing published yet in {home.root}: run `sendboard run` first",
              file=sys.stderr)
        return 2
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    out = Path(args.out) if args.out else home.reports / pack_name(home.published, args.public)
    written = build_pack(home.published, out, env.settings(args.home).kpi_doc, args.public,
                         as_of)
    print(f"board pack written to {written}")
    if args.pdf:
        from warehouse.pack import print_pdf

        print(f"PDF written to {print_pdf(out, out.with_suffix('.pdf'))}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from sendboard.report_text import status

    home = env.home(args.home)
    info = status(home)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        from sendboard.report_text import status_text

        print(status_text(info))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from sendboard.backtest_report import run_backtest

    return run_backtest(args.release or [str(DEFAULT_RELEASE)], args.fit_until, args.json,
                        DEFAULT_RELEASE)


def cmd_published_fetch(args: argparse.Namespace) -> int:
    from warehouse.release_fetch import FetchError, fetch_release

    home = env.home(args.home)
    landing = Path(args.landing).resolve() if args.landing else home.landing
    try:
        got = fetch_release(landing, url=args.url)
    except FetchError as e:
        print(f"sendboard: published fetch failed: {e}", file=sys.stderr)
        return 1
    print(f"fetched {got.title or 'the release'} from {got.url}")
    for path in got.files:
        print(f"  wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"{len(got.files)} data files in {got.folder}: `sendboard run` loads them")
    return 0


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
        "folder of DfE EHC plans statistics CSVs to copy into published/ (default: "
        "../shared/external/dfe-ehcp-2025 beside the repository, when there)"))
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
    b.set_defaults(func=cmd_backfill)
    rp = sub.add_parser("report", help="write the SEND Board pack (one self-contained HTML)")
    rp.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    rp.add_argument("--out", help="file to write (default HOME/reports/board-pack-...html)")
    rp.add_argument("--public", action="store_true",
                    help="build from public.* (small numbers suppressed) for published papers")
    rp.add_argument("--as-of", help="the as-of date printed on the pack (default: the data's)")
    rp.add_argument("--pdf", action="store_true",
                    help="also print it to PDF with headless Chromium (when installed)")
    rp.set_defaults(func=cmd_report)
    st = sub.add_parser("status", help="last runs, files, quarantine counts, paths")
    st.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
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
    bt.set_defaults(func=cmd_backtest)
    pb = sub.add_parser("published", help="the DfE's published statistics").add_subparsers(
        dest="published_command", required=True)
    pf = pb.add_parser("fetch", help="download the latest EHC plans release from Explore "
                       "Education Statistics into LANDING/published/<release>/")
    pf.add_argument("--url", help="a release zip to download instead (default: ask EES for "
                    "the latest release of education-health-and-care-plans)")
    pf.add_argument("--landing", help="landing folder (default HOME/landing)")
    pf.add_argument("--home", help="working folder (default $SENDBOARD_HOME, else ./var)")
    pf.set_defaults(func=cmd_published_fetch)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"sendboard: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"sendboard: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a failed run: say what failed in one line (details in the log)
        from flows.nightly import QualityGateFailed, RunInProgress
        from warehouse.backfill import BackfillError

        if isinstance(e, QualityGateFailed | RunInProgress | BackfillError):
            print(f"sendboard: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
