"""A run commits each prepared batch as soon as it is ready, but a source's batches in
their own order (a later file of a table replaces the periods it shares with an earlier)."""

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
