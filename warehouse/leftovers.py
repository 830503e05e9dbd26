"""What a run that failed or was killed part-way leaves in its home, and its removal by the
next run.

A publish writes the new database as `.sendboard.duckdb.<run id>.tmp` (and DuckDB its
`.tmp.wal`) before renaming it over the published file; a key rotation builds
`.warehouse.duckdb.<run id>.tmp` the same way; the archive copies a file through
`archive/<source>/.<name>.<...>.tmp`. A run that dies before its rename (a full disk, a
kill) leaves them behind. They are removed only by a run holding the home's run lock
(warehouse/run.py run_lock): while it holds it no other run can be writing, so every such
file it finds is stale, never a concurrent run's work in progress.
"""

from __future__ import annotations

import logging
from pathlib import Path

from warehouse.settings import Home

log = logging.getLogger(__name__)


def temporary(target: Path, run_id: str) -> Path:
    """Where a run writes the new version of `target` before renaming it into place."""
    return target.with_name(f".{target.name}.{run_id}.tmp")


def stale(h: Home) -> list[Path]:
    """Every temporary file of an unfinished write in the home (see the module's note)."""
    found: list[Path] = []
    for target in (h.published, h.warehouse):
        found += h.root.glob(f".{target.name}.*.tmp")
        found += h.root.glob(f".{target.name}.*.tmp.wal")
    if h.archive.is_dir():
        found += h.archive.glob("*/.*.tmp")
    return sorted(p for p in found if p.is_file())


def remove(h: Home, logger: logging.Logger | logging.LoggerAdapter = log) -> list[Path]:
    """Remove what `stale` finds; call only under the run lock."""
    gone = stale(h)
    for path in gone:
        path.unlink(missing_ok=True)
    if gone:
        logger.info("removed %d file(s) a failed or killed run left behind: %s", len(gone),
                    ", ".join(str(p.relative_to(h.root)) for p in gone))
    return gone
