"""The national-scale benchmark: a full nightly run against the floor, DuckDB reading the
same CSV files into tables and nothing else.

    python -m bench.national --repeat 3        # 9.3 million pupils (make bench)
    python -m bench.national --pupils 20000    # a small run, as the test suite does

Writes the sample (once; reused while it is there) under `--data`, then in one invocation:
the floor and the full run, each in its own process so that each peak resident memory is
its own; `--repeat N` runs that pair N times, back to back, and reports the pair with
the median ratio (this machine's speed drifts by the hour, and moves both sides). Results
go to `--out` as JSON and a markdown table. The Prefect server is started
before the clock starts (in production it is already up); everything the flow does after
that counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from sendboard.sample.national import NATIONAL_PUPILS

STAGES = ("discover", "read", "validate", "pseudonymise", "transform", "load", "marts",
          "disclosure audit", "sen2 readiness", "quality gate", "publish", "board pack")
BENCH_KEY = "bench-only-pseudonym-key-not-for-real-data"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def floor(landing: Path, db: Path) -> dict:
    """Every CSV of the landing folder into its own DuckDB table with read_csv, as DuckDB
    detects them (GIAS is Windows-1252, which DuckDB reads as latin-1)."""
    import duckdb

    db.unlink(missing_ok=True)
    start = time.perf_counter()
    con = duckdb.connect(str(db))
    rows = 0
    for i, path in enumerate(sorted(landing.rglob("*.csv"))):
        encoding = ", encoding = 'latin-1'" if path.name.startswith("edubasealldata") else ""
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?{encoding})", [str(path)])
        rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - start, "rows": rows, "peak_rss_mib": _rss_mib()}


def full_run(landing: Path, home: Path, trace: bool = False) -> dict:
    """The nightly flow on a fresh home, timed from the flow call to its return; `trace`
    adds its timeline (transforms.timing.start_trace)."""
    import shutil

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    shutil.rmtree(home, ignore_errors=True)
    server = SubprocessASGIServer()
    server.start()
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            from flows.nightly import nightly
            from transforms import timing

            if trace:
                timing.start_trace()
            start = time.perf_counter()
            # sample=True: the freshness check would fail the fixed-date sample some day.
            summary = nightly(home=str(home), landing=str(landing), sample=True)
            seconds = time.perf_counter() - start
            stages, peaks = timing.totals(), timing.peaks()
            timeline = timing.stop_trace() if trace else None
    finally:
        server.stop()
    loaded = [f for f in summary.files if f.status == "loaded"]
    return {"seconds": seconds, "status": summary.status, "stages": stages,
            "stage_peak_rss_mib": peaks,
            "files": len(summary.files), "rows_read": sum(f.rows_read for f in loaded),
            "rows_loaded": sum(f.rows_loaded for f in loaded),
            "rows_quarantined": sum(f.rows_quarantined for f in loaded),
            "peak_rss_mib": _rss_mib(), **({"trace": timeline} if trace else {})}


def _child(kind: str, landing: Path, work: Path, trace: bool = False) -> dict:
    """Run floor or full run in a fresh Python process; its result comes back as JSON."""
    result = work / f"{kind}.json"
    result.unlink(missing_ok=True)
    env = {**os.environ, "SENDBOARD_PSEUDONYM_KEY": BENCH_KEY,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "bench.national", "--child", kind,
                    "--landing", str(landing), "--work", str(work),
                    *(["--trace"] if trace else [])], check=True, env=env)
    return json.loads(result.read_text())


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return {"cpus": os.cpu_count(), "ram_gib": round(mem / 1024 ** 2, 1), "cpu": model,
            "python": platform.python_version()}


def markdown(r: dict) -> str:
    full, fl = r["full_run"], r["floor"]
    lines = [f"# sendboard benchmark: {r['pupils']:,} pupils", "",
             f"Machine: {r['machine']['cpus']} CPUs ({r['machine']['cpu']}), "
             f"{r['machine']['ram_gib']} GiB RAM. Data: {r['data_mib']:,.0f} MiB of CSV, "
             f"{fl['rows']:,} rows.", "",
             "| measure | seconds | peak RSS (MiB) |", "| --- | ---: | ---: |",
             f"| floor: DuckDB read_csv of every file into tables | {fl['seconds']:.1f} | "
             f"{fl['peak_rss_mib']:,.0f} |",
             f"| full nightly run | {full['seconds']:.1f} | {full['peak_rss_mib']:,.0f} |",
             f"| ratio full / floor | {r['ratio']:.2f} | |", ""]
    if len(r["pairs"]) > 1:
        lines += [f"The pair with the median ratio of {len(r['pairs'])}, each run back to "
                  f"back (the highest peak of them: {r['peak_rss_mib']:,.0f} MiB):", "",
                  "| pair | floor (s) | full run (s) | ratio | peak RSS (MiB) |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {i} | {p['floor_seconds']:.1f} | {p['full_seconds']:.1f} | "
                  f"{p['ratio']:.2f} | {p['peak_rss_mib']:,.0f} |"
                  for i, p in enumerate(r["pairs"], 1)]
        lines += [""]
    lines += ["| stage | seconds | peak RSS so far (MiB) |", "| --- | ---: | ---: |"]
    lines += [f"| {s} | {full['stages'].get(s, 0.0):.1f} | "
              f"{full['stage_peak_rss_mib'].get(s, 0.0):,.0f} |" for s in STAGES]
    lines += [f"| Prefect and the rest (wall minus stages) | {r['unstaged_seconds']:.1f} | |",
              "",
              f"Rows read {full['rows_read']:,}, loaded {full['rows_loaded']:,}, quarantined "
              f"{full['rows_quarantined']:,}; status {full['status']}.",
              "Stage times are wall time summed over files; files prepare in parallel, so "
              "they can add up to more than the run.", ""]
    if "trace" in full:
        lines += timeline(full["trace"], r["machine"]["cpus"])
    return "\n".join(lines)


def timeline(trace: dict, cpus: int, shortest: float = 0.5) -> list[str]:
    """Markdown: the stages of at least `shortest` seconds, when and on which thread, each
    with the cores busy meanwhile; then the run's average."""
    samples = trace["samples"]

    def cores(a: float, b: float) -> float:
        inside = [s for s in samples if a <= s[0] <= b]
        if len(inside) < 2 or inside[-1][0] == inside[0][0]:
            return float("nan")
        return (inside[-1][2] - inside[0][2]) / (inside[-1][0] - inside[0][0])

    lines = ["## Timeline of the full run", "",
             "| from (s) | to (s) | thread | stage | cores busy | resident MiB at end |",
             "| ---: | ---: | --- | --- | ---: | ---: |"]
    for thread, stage, a, b in trace["events"]:
        if b - a >= shortest:
            rss = min(samples, key=lambda s: abs(s[0] - b))[1] if samples else 0
            lines.append(f"| {a:.1f} | {b:.1f} | {thread} | {stage} | {cores(a, b):.2f} | "
                         f"{rss:,} |")
    if len(samples) > 1:
        lines += ["", f"Cores busy over the run: {cores(samples[0][0], samples[-1][0]):.2f} "
                      f"of {cpus} on average.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.national", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--pupils", type=int, default=NATIONAL_PUPILS)
    p.add_argument("--data", type=Path, help="where the sample is written and runs work "
                   "(default var/bench/<pupils>)")
    p.add_argument("--out", type=Path, help="results folder (default: the data folder)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run floor and full run back to back N times and report the pair "
                        "with the median ratio (default 1)")
    p.add_argument("--trace", action="store_true",
                   help="also record the full run's timeline: which stages ran when, on which "
                        "thread, and how many cores were busy (in the JSON and the table)")
    p.add_argument("--child", choices=["floor", "full"], help=argparse.SUPPRESS)
    p.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat must be at least 1 (got {args.repeat})")
    if args.child:
        result = (floor(args.landing, args.work / "floor.duckdb") if args.child == "floor"
                  else full_run(args.landing, args.work / "home", args.trace))
        (args.work / f"{args.child}.json").write_text(json.dumps(result))
        return 0

    data = (args.data or Path("var") / "bench" / str(args.pupils)).resolve()
    out = (args.out or data).resolve()
    landing = data / "landing"
    generated = None
    if not (landing / "census").is_dir():
        from sendboard.sample.national import write_national

        t = time.perf_counter()
        write_national(landing, pupils=args.pupils)
        generated = time.perf_counter() - t
    # On a shared machine both sides drift with the hour: pairs run back to back, and the
    # median pair's ratio is reported (with every pair, and the highest peak of memory).
    pairs = []
    for i in range(args.repeat):
        if args.repeat > 1:
            print(f"pair {i + 1} of {args.repeat}: floor, then the full run", flush=True)
        pairs.append((_child("floor", landing, data),
                      _child("full", landing, data, args.trace)))
    ratios = [full["seconds"] / fl["seconds"] for fl, full in pairs]
    # (Of an even number, the higher of the middle two.)
    median = sorted(range(len(pairs)), key=ratios.__getitem__)[len(pairs) // 2]
    fl, full = pairs[median]
    result = {
        "pupils": args.pupils, "machine": machine(), "generate_seconds": generated,
        "data_mib": sum(f.stat().st_size for f in landing.rglob("*") if f.is_file()) / 2 ** 20,
        "floor": fl, "full_run": full, "ratio": ratios[median],
        "peak_rss_mib": max(full["peak_rss_mib"] for _, full in pairs),
        "pairs": [{"floor_seconds": a["seconds"], "full_seconds": b["seconds"], "ratio": r,
                   "peak_rss_mib": b["peak_rss_mib"]}
                  for (a, b), r in zip(pairs, ratios, strict=True)],
        "unstaged_seconds": max(0.0, full["seconds"] - sum(full["stages"].values())),
        "command": f"python -m bench.national --pupils {args.pupils} --repeat {args.repeat}",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    (out / "bench.md").write_text(markdown(result))
    print(markdown(result))
    print(f"results: {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
