"""A soak: eight BI reader processes query the published sendboard.duckdb over and over
while the pipeline runs three times, each landing more of the small sample LA, and then
backfills a year of the census. No reader may fail, and each reads only whole versions: the
run it names and the figures it holds are those of one publish, as the writer recorded it.

A reader may find no published file, but only before the first publish: the readers start
first (each has read once before the first run begins), and from the first publish on the
file is only ever replaced by a rename (warehouse/publish.py), never removed.

The runs are warehouse/run.py's on plain threads (tests/plain_run.py), the code the flows
wrap as tasks, without a Prefect server to start.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import takewhile
from pathlib import Path

import duckdb

from tests.conftest import TEST_KEY, settings_for
from tests.plain_run import plain_run
from tests.soak_reader import ABSENT, version
from warehouse import run
from warehouse.backfill import archived_files, replay_batches

ROOT = Path(__file__).resolve().parents[1]
READERS = 8
# A read costs about 60 ms of a core (DuckDB starting a database is most of it): eight
# readers a second apart keep half of one of the two cores busy beside the runs, and each
# reads every version several times (a run publishes at least 6 s after the last).
PAUSE = 1.0
# The small sample's census terms landed by the second and the third run; the first lands
# everything else (every other source, the census to summer 2024).
LATER = [["Autumn 2024", "Spring 2025", "Summer 2025"], ["Autumn 2025", "Spring 2026"]]


def census_file(term: str) -> str:
    return f"School Census {term}.csv"


def plain_backfill(home: Path, source: str, period_from: str, period_to: str, run_id: str,
                   published) -> run.RunSummary:
    """`sendboard backfill --source S --from F --to T` as flows/backfill.py gathers it, on
    plain threads."""
    settings = settings_for(home)
    with ThreadPoolExecutor(max_workers=2) as pool:
        steps = dataclasses.replace(run.plain_steps(lambda s: [], pool), published=published)

        def gather(con):
            files = archived_files(con, [source], period_from, period_to)
            return replay_batches(files, settings.archive), []

        return run.run_pipeline("plain-backfill", settings, TEST_KEY.encode(), run_id, gather,
                                steps, None, "nothing to replay")


def read_published(path: Path) -> list:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return version(con)
    finally:
        con.close()


def wait_for(paths: list[Path], seconds: float) -> None:
    end = time.monotonic() + seconds
    while not all(p.exists() for p in paths):
        assert time.monotonic() < end, [p.name for p in paths if not p.exists()]
        time.sleep(0.1)


def test_eight_readers_see_only_whole_versions_through_three_runs_and_a_backfill(
        tmp_path, small_sample):
    later = {census_file(t) for part in LATER for t in part}
    landing, home = tmp_path / "landing", tmp_path / "home"
    shutil.copytree(small_sample, landing, ignore=lambda _, names: [n for n in names
                                                                   if n in later])
    published = home / "sendboard.duckdb"
    stop = tmp_path / "stop"
    outs = [tmp_path / f"reader-{i}.json" for i in range(READERS)]
    readers = [subprocess.Popen([sys.executable, "-m", "tests.soak_reader", str(published),
                                 str(out), str(stop), str(PAUSE)], cwd=ROOT)
               for out in outs]
    try:
        wait_for([out.with_name(out.name + ".ready") for out in outs], 60)
        # What the writer published, recorded from its own warehouse right after each swap.
        recorded: list[list] = []

        def record(con, summary):
            recorded.append(version(con))

        summaries = []
        for i, run_id in enumerate(("soak-1", "soak-2", "soak-3")):
            for term in LATER[i - 1] if i else []:
                shutil.copy(small_sample / "census" / census_file(term), landing / "census")
            summaries.append(plain_run(home, landing, run_id=run_id, published=record))
            assert read_published(published) == recorded[-1]
        summaries.append(plain_backfill(home, "census", "2025-01-01", "2025-12-31",
                                        "soak-backfill", record))
        assert read_published(published) == recorded[-1]
        stop.write_text("soak-backfill")
        results = []
        for proc, out in zip(readers, outs, strict=True):
            assert proc.wait(timeout=90) == 0
            results.append(json.loads(out.read_text()))
    finally:
        for proc in readers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # The writer: four publishes, each landing (or replaying) what it should.
    assert [(s.status, s.problems, len(s.files)) for s in summaries] == [
        ("published", [], 48), ("published", [], 3), ("published", [], 2),
        ("published", [], 3)]
    assert [(v[0], v[1], v[2]) for v in recorded] == [
        ("soak-1", "published", 1), ("soak-2", "published", 2), ("soak-3", "published", 3),
        ("soak-backfill", "published", 4)]
    # Each run's new census terms change the figures; the backfill replays the same files.
    prevalence_rows = [v[5] for v in recorded]
    assert prevalence_rows[0] < prevalence_rows[1] < prevalence_rows[2] == prevalence_rows[3]
    assert len({v[4] for v in recorded}) == 3 and recorded[2][4:] == recorded[3][4:]
    whole = [tuple(v) for v in recorded]

    seen_by_any = set()
    for i, result in enumerate(results):
        assert result["errors"] == [], f"reader {i}"
        seen = result["seen"]
        # Absent only before the first publish: a run of ABSENT first, never again after.
        absent = len(list(takewhile(lambda v: v == ABSENT, seen)))
        assert absent >= 1 and ABSENT not in seen[absent:], f"reader {i}"
        versions = [tuple(v) for v in seen[absent:]]
        # Whole versions only, and in the order published: never an older one again.
        assert set(versions) <= set(whole), f"reader {i}: {set(versions) - set(whole)}"
        order = [whole.index(v) for v in versions]
        assert order == sorted(order), f"reader {i}"
        assert len(set(order)) >= 3 and order[-1] == 3, f"reader {i}: {sorted(set(order))}"
        seen_by_any |= set(versions)
    assert seen_by_any == set(whole)
