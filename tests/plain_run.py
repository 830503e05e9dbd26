"""A run of warehouse/run.py on plain threads, without Prefect (as tests/test_run.py runs it),
for tests about what a run leaves behind or refuses: optionally with a step of its own
(a load that fails after committing, as a disk filling up would make it) and no board pack."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import TEST_KEY, settings_for
from warehouse import loads, run


def plain_run(home: Path, landing: Path, key: bytes = TEST_KEY.encode(),
              run_id: str | None = None, pack: bool = False, **steps) -> run.RunSummary:
    """The nightly run's steps over `landing` into `home`; `steps` replace some
    (run.Steps's fields); `pack`: also write the board pack."""
    from warehouse.pack import write_reports

    settings = settings_for(home)
    with ThreadPoolExecutor(max_workers=2) as pool:
        plain = run.plain_steps(write_reports if pack else (lambda s: []), pool)
        plain = dataclasses.replace(plain, **steps)

        def gather(con):
            found = plain.find(con, landing)
            return loads.batches(found.new), found.warnings

        return run.run_pipeline("plain", settings, key, run_id or str(uuid.uuid4()), gather,
                                plain, None, "nothing new")
