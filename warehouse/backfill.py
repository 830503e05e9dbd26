"""Which archived files a backfill replays.

Files are chosen by the periods they hold (audit.file_periods): census and SEN2 by date
(2019-01-01 .. 2020-12-31), finance, recovery plan and places by financial year
(2019-20 .. 2021-22), population and published statistics by year. They replay in the order
they were first loaded, so period replacement ends where a fresh run over the same files
would; a SEN2 export's modules replay together.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import duckdb

from warehouse.archive import Archive
from warehouse.loads import FOLDERS, LandedFile, batches


class BackfillError(ValueError):
    """The backfill's arguments select nothing sensible; the message says why."""


def archived_files(con: duckdb.DuckDBPyConnection, sources: list[str] | None,
                   period_from: str | None, period_to: str | None) -> list[LandedFile]:
    """The loaded files of `sources` holding a period in the range, at their place in the
    archive (to decrypt with replay_batches). Raises BackfillError naming every one that
    is no longer there: purged under the retention rule (when, and why), or missing."""
    files, purged, missing = _selected(con, sources, period_from, period_to)
    _refuse(purged + missing)
    return files


def still_archived(con: duckdb.DuckDBPyConnection) -> tuple[list[LandedFile], list[str]]:
    """Every loaded file still in the archive, and a note for each one purged under the
    retention (their rows stay as they were loaded): what `backfill --all` replays. A file
    missing for any other reason is refused, as by archived_files."""
    files, purged, missing = _selected(con, None, None, None)
    _refuse(missing)
    return files, [f"not replayed: {p}" for p in purged]


def _refuse(gone: list[str]) -> None:
    if gone:
        raise BackfillError(
            f"{len(gone)} file(s) the backfill needs are no longer in the archive: "
            + "; ".join(gone[:5]) + (" ..." if len(gone) > 5 else "")
            + ". Their rows stay in the warehouse as they were loaded; backfill other "
            "periods only, or land the files again.")


def _selected(con: duckdb.DuckDBPyConnection, sources: list[str] | None,
              period_from: str | None, period_to: str | None,
              ) -> tuple[list[LandedFile], list[str], list[str]]:
    """The files selected, at their place in the archive; what of them was purged, and
    what is missing for no recorded reason (each said in words)."""
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
    purges = {(sha, name): (when, why) for sha, name, when, why in con.execute(
        "SELECT sha256, original_name, max(purged_at), arg_max(reason, purged_at) "
        "FROM audit.archive_purges GROUP BY ALL").fetchall()}
    files, purged, missing = [], [], []
    for source, archived, sha, name in rows:
        path = Path(archived)
        if path.exists():
            files.append(LandedFile(source, path, sha, name))
        elif (sha, name) in purges:
            when, why = purges[sha, name]
            purged.append(f"{source}/{name} ({sha[:12]}) was purged from the archive on "
                          f"{when:%Y-%m-%d} ({why})")
        else:
            missing.append(f"{source}/{name} ({sha[:12]}) is missing from the archive at "
                           f"{path}")
    return files, purged, missing


def replay_batches(files: list[LandedFile], archive: Archive) -> list[list[LandedFile]]:
    """The files decrypted (to private copies that the run removes when it ends: the
    backfill's and any other replay of the archive, so every reader of the archive reads
    plaintext the same way), in first-load order; an export's files together
    (loads.batches groups a SEN2 export's modules and a Blade census's tables)."""
    # Side by side, as discovery hashes: the disk's time more than the cipher's.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        paths = list(pool.map(lambda f: archive.readable(f.path, f.name, f.source), files))
    return batches([replace(f, path=p) for f, p in zip(files, paths, strict=True)])
