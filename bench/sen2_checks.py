"""How long the SEN2 readiness checks take on the national bench's staged SEN2 data.

    python -m bench.sen2_checks --warehouse var/bench/9300000/home/warehouse.duckdb

Copies the warehouse to a temporary folder first (a benchmark may be writing the original),
reads stage.sen2_* of its latest export and stage.establishments from the copy (not
timed), then times transforms.sen2_checks.find_issues with census day the January of the
export's year and `today` the export date, and prints the seconds and the issues by check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from schemas.contracts import SEN2_MODULES
from transforms.calendar import january_census_day
from transforms.sen2_checks import find_issues


def read_export(db: Path) -> tuple[dict[str, pl.DataFrame], pl.DataFrame | None, dt.date]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        export = con.sql("SELECT max(export_date) FROM stage.sen2_namedplan").fetchall()[0][0]
        modules = {m: con.sql(f"SELECT * EXCLUDE (sha256) FROM stage.sen2_{m} "
                              "WHERE export_date = ?", params=[export]).pl()
                   for m in SEN2_MODULES}
        gias = con.sql("SELECT * EXCLUDE (sha256) FROM stage.establishments").pl()
    finally:
        con.close()
    return modules, gias, export


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sen2_checks",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--warehouse", type=Path, required=True,
                   help="a warehouse.duckdb holding stage.sen2_* (copied before it is read)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, copy)
        modules, gias, export = read_export(copy)
    census_day = january_census_day(export.year)
    persons = modules["person"].height
    start, cpu = time.perf_counter(), time.process_time()
    issues = find_issues(modules, gias, census_day, export)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    load = os.getloadavg()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"export {export}, census day {census_day}: {persons:,} persons, "
          f"{modules['namedplan'].height:,} plans, {modules['placementdetail'].height:,} "
          f"placements")
    # (CPU seconds too: on a machine shared with other work the wall clock is noisy.)
    print(f"find_issues: {seconds:.2f} s ({cpu:.2f} s CPU, load average {load:.1f}), "
          f"{issues.height:,} issues, peak RSS {peak:,.0f} MiB")
    counts = issues.group_by("check_id", maintain_order=True).agg(pl.len().alias("issues"))
    for check_id, n in counts.iter_rows():
        print(f"  {check_id:36} {n:>9,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
