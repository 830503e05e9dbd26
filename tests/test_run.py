"""warehouse/run.py without Prefect: a run commits each prepared batch as soon as it is
ready, but a source's batches in their own order (a later file of a table replaces the
periods it shares with an earlier), and a whole run works on plain threads."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from warehouse.files import LandedFile
from warehouse.run import commit_order


def test_ready_batches_commit_first_but_a_source_keeps_its_order():
    def batch(source: str, *names: str) -> list[LandedFile]:
        return [LandedFile(source, Path(n), n) for n in names]

    batches = [batch("census", "autumn.csv"), batch("census", "spring.csv"),
               batch("sen2", "person.csv", "requests.csv"), batch("finance", "ledger.csv")]
    # The first census file prepares slowest; one SEN2 module is slower than the other.
    seconds = {0: [1.2], 1: [0.1], 2: [0.2, 0.6], 3: [0.3]}
    with ThreadPoolExecutor(max_workers=5) as pool:  # all five at once
        futures = {i: [pool.submit(time.sleep, s) for s in secs] for i, secs in seconds.items()}
        order = list(commit_order(batches, futures, as_completed))
    # The ledger before the export (which waits for its slower module); the spring census
    # waits for the autumn one, though it was ready first.
    assert order == [3, 2, 0, 1]


def test_a_whole_run_on_plain_threads_without_prefect(tmp_path):
    """run_pipeline with plain_steps: the hand-made extracts loaded, built, checked and
    published with no Prefect server, the same code the flows run as tasks."""
    import duckdb

    from tests import handmade
    from tests.conftest import settings_for
    from warehouse import loads, run
    from warehouse.pack import write_reports

    landing = handmade.write_landing(tmp_path / "landing")
    settings = settings_for(tmp_path / "home")
    with ThreadPoolExecutor(max_workers=2) as pool:
        steps = run.plain_steps(write_reports, pool)

        def gather(con):
            found = steps.find(con, landing)
            return loads.batches(found.new), found.warnings

        summary = run.run_pipeline("plain", settings, b"k" * 32, "run-1", gather, steps, None,
                                   "nothing new")
    assert (summary.status, summary.problems, len(summary.files)) == ("published", [], 10)
    con = duckdb.connect(str(settings.home.published), read_only=True)
    try:
        assert con.execute("SELECT year, caseload FROM kpi.ehcp_caseload WHERE year >= 2024 "
                           "ORDER BY year").fetchall() == [(2024, 4), (2025, 4)]
        assert con.execute("SELECT flow, status FROM audit.runs").fetchall() == [
            ("plain", "published")]
    finally:
        con.close()
    assert sorted(p.name for p in settings.home.reports.glob("board-pack-*")) == [
        "board-pack-2025-03-01-public.html", "board-pack-2025-03-01.html"]
    assert (settings.home.reports / "tables" / "2025-03-01" / "public.ehcp_caseload.parquet"
            ).is_file()
