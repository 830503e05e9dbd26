"""Which archived files a backfill replays.

Files are chosen by the periods they hold (audit.file_periods): census and SEN2 by date
(2019-01-01 .. 2020-12-31), finance, recovery plan and places by financial year
(2019-20 .. 2021-22), population and published statistics by year. They replay in the order
they were first loaded, so period replacement ends where a fresh run over the same files
would; a SEN2 export's modules replay together.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.loads import FOLDERS, LandedFile, batches


class BackfillError(ValueError):
    """The backfill's arguments select nothing sensible; the message says why."""


def archived_files(con: duckdb.DuckDBPyConnection, sources: list[str] | None,
                   period_from: str | None, period_to: str | None) -> list[LandedFile]:
    unknown = sorted(set(sources or []) - set(FOLDERS))
    if unknown:
        raise BackfillError(f"unknown source {', '.join(unknown)}: sources are "
                            f"{', '.join(FOLDERS)}")
    # Superseded files have no rows left: replaying them would only be replaced again.
    where = ["f.status = 'loaded'"]
    params: list = []
    if sources:
        where.append(f"f.source IN ({', '.join('?' * len(sources))})")
        params += sources
    if period_from or period_to:
        # Periods compare as text: ISO dates, 2024-25 and 2024 all sort in time order. A
        # population period is `E06000054 2024`: its year is the last word.
        span = []
        if period_from:
            span.append("split_part(p.period, ' ', -1) >= ?")
            params.append(period_from)
        if period_to:
            span.append("split_part(p.period, ' ', -1) <= ?")
            params.append(period_to)
        where.append("EXISTS (SELECT 1 FROM audit.file_periods p WHERE p.sha256 = f.sha256 "
                     f"AND p.original_name = f.original_name AND {' AND '.join(span)})")
    rows = con.execute(
        f"SELECT f.source, f.archived_as, f.sha256, f.original_name FROM audit.files f "
        f"WHERE {' AND '.join(where)} ORDER BY f.loaded_at, f.original_name", params).fetchall()
    files = []
    for source, archived, sha, name in rows:
        path = Path(archived)
        if not path.exists():
            raise BackfillError(f"{name} ({sha[:12]}) is missing from the archive at {path}")
        files.append(LandedFile(source, path, sha, name))
    return files


def replay_batches(files: list[LandedFile]) -> list[list[LandedFile]]:
    """In first-load order; an export's files together (loads.batches groups a SEN2
    export's modules and a Blade census's tables)."""
    return batches(files)
