"""Landing -> validate -> stage: find new files and load each in one transaction.

A file (or an export, whose files only make sense together: a SEN2 export's modules, a Blade
census's tables) is loaded all or nothing, with its audit record, so a run killed part-way
loads it again next time. Rows that fail validation go to audit.quarantine with every reason;
the good rows of the file load. A re-issued extract for a period already loaded replaces
that period's rows and only those (warehouse/sources.py says what a period is for each
source, and how each source's files are read).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from transforms.readers import FileRejected
from transforms.timing import stage
from warehouse.archive import Archive, sha256_of
from warehouse.files import (
    Discovery,
    FileOutcome,
    LandedFile,
    Prepared,
    Read,
    period_values,
    periods_text,
)
from warehouse.progress import RunProgress
from warehouse.reading import archive_file, read_validated
from warehouse.recorder import Recorder
from warehouse.sources import FOLDERS, SOURCES, Source, described, source_for

__all__ = ["FOLDERS", "Discovery", "FileOutcome", "LandedFile", "Prepared", "Read",
           "batches", "discover", "is_export", "is_new", "load_batch", "prepare",
           "read_module"]


def is_new(source: str, name: str, before: list[tuple[str, str, str]],
           export_part: bool = False) -> bool:
    """Whether bytes seen before (`before`: their (source, name, status) records) are new
    under this source and name. The same bytes under the same name are never new. Loaded
    bytes under another name add nothing, except for a part of an export (a SEN2 module, a
    Blade census table), which an export of another date can hold unchanged: the name
    says which export it belongs to. Bytes rejected under another name or folder are tried
    again (a file renamed as its rejection asked)."""
    if any((s, n) == (source, name) for s, n, _ in before):
        return False
    return export_part or all(status == "rejected" for _, _, status in before)


def _export_of(f: LandedFile) -> Source | None:
    source = source_for(f)
    return source if source is not None and source.export is not None else None


def discover(landing: Path, known: dict[str, list[tuple[str, str, str]]]) -> Discovery:
    """Files in the landing folder's source subfolders not seen before (see is_new)."""
    warnings: list[str] = []
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            warnings.append(f"{entry.name}: files must be in a source subfolder "
                            f"({', '.join(FOLDERS)}); ignored")
        elif entry.name not in FOLDERS:
            warnings.append(f"{entry.name}/: not a known source folder; ignored")
    candidates = [(source, path) for source in FOLDERS if (landing / source).is_dir()
                  for path in sorted(p for p in (landing / source).rglob("*") if p.is_file())
                  if not path.name.startswith((".", "~$"))]  # hidden files, Excel locks
    # Hashed side by side (hashlib lets go of the interpreter lock): nationally the census
    # alone is 0.7 GB, about as long as every other file together.
    with stage("discover"), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        hashes = list(pool.map(sha256_of, [path for _, path in candidates]))
    new: list[LandedFile] = []
    seen: set[str] = set()
    for (source, path), sha in zip(candidates, hashes, strict=True):
        if sha in seen:
            continue
        f = described(LandedFile(source, path, sha))
        part = _export_of(f) is not None
        if sha in known and not is_new(source, path.name, known[sha], part):
            continue
        if not part:
            seen.add(sha)
        new.append(f)
    return Discovery(new, warnings)


def is_export(batch: list[LandedFile]) -> bool:
    """Whether a batch is an export of several files that load together, each read on its
    own first (read_module)."""
    return _export_of(described(batch[0])) is not None


def batches(files: list[LandedFile]) -> list[list[LandedFile]]:
    """One batch a file, in the order given, except an export's files: together, where the
    source's first export stands, a source's exports in the order of their keys (SEN2 by
    export date, a Blade census by folder and name)."""
    out: list[list[LandedFile] | tuple[int, str]] = []
    groups: dict[tuple[int, str], list[LandedFile]] = {}
    for f in map(described, files):
        source = _export_of(f)
        if source is None:
            out.append([f])
            continue
        key = (id(source), source.export.key(f))
        if key not in groups:
            groups[key] = []
            out.append(key)
        groups[key].append(f)
    # Each source's exports, sorted by key, fill the places its exports took in turn.
    by_source: dict[int, list[str]] = {}
    for source_id, k in groups:
        by_source.setdefault(source_id, []).append(k)
    order = {s: iter(sorted(ks)) for s, ks in by_source.items()}
    return [item if isinstance(item, list) else groups[(item[0], next(order[item[0]]))]
            for item in out]


def prepare(f: LandedFile, key: bytes, archive: Archive | None = None,
            progress: RunProgress | None = None) -> Prepared:
    """Read, validate and stage one file (not one of an export: it loads as a whole),
    archiving it first when given the archive; `progress` hears when it starts and how many
    rows it read."""
    if progress is not None:
        progress.file_started(f)
    prepared = _prepare(f, key, archive, progress)
    if progress is not None and prepared.read is None:
        progress.file_read(f, 0)
    return prepared


def _prepare(f: LandedFile, key: bytes, archive: Archive | None,
             progress: RunProgress | None) -> Prepared:
    if archive is not None:
        archive_file(f, archive)
    source = source_for(f)
    if source is None:
        names = " or ".join(s.file_names for s in SOURCES[f.source])
        return Prepared(f, rejection=f"is not a file the {f.source} source takes ({names}, "
                                     "CSV or XLSX)")
    if source.prepare is not None:
        prepared = source.prepare(f)
        if progress is not None and prepared.read is not None:
            progress.file_read(f, prepared.read.rows_read)
        return prepared
    try:
        r = read_validated(f.path, source.contract, source.schema(), source.file_check)
    except FileRejected as e:
        return Prepared(f, rejection=str(e))
    if progress is not None:
        progress.file_read(f, r.rows_read)
    # Staging is the validated text's only holder, so that it can let it go once typed:
    # nationally about 2 GB, which would otherwise sit beside the pseudonymisation.
    with stage("transform"):
        staged = source.stage(r.take_good(), key)
    return Prepared(f, source.table, source.period_columns, r, staged,
                    period=periods_text(staged, source.period_columns),
                    periods=period_values(staged, source.period_columns),
                    replace_columns=source.replace_columns)


def read_module(f: LandedFile, archive: Archive | None = None,
                progress: RunProgress | None = None) -> Read | str | None:
    """One file of an export read and validated alone (no database, so an export's files
    read in parallel): its Read, the reason it is rejected, or None when it is no part of
    an export (a SEN2 file not named as a module, a Blade table sendboard does not use);
    archived first when given the archive. `progress` hears when it starts and how many
    rows it read."""
    if progress is not None:
        progress.file_started(f)
    if archive is not None:
        archive_file(f, archive)
    read = _export_of(described(f)).export.read(f)
    if progress is not None:
        progress.file_read(f, read.rows_read if isinstance(read, Read) else 0)
    return read


def load_batch(con: duckdb.DuckDBPyConnection, batch: list[LandedFile], key: bytes,
               run_id: str, archive: Archive,
               prepared: Prepared | list[Read | str | None] | None = None,
               ) -> list[FileOutcome]:
    """Archive (unless a prepare task did) and load a batch (one file, or one export) in its
    own transaction. `prepared`: the single file already prepared, or each file of an
    export already read (as read_module gives them, in the batch's order), by parallel
    tasks."""
    archived = {f.sha256: str(archive_file(f, archive)) for f in batch}
    rec = Recorder(con, key, run_id, archived, archive)
    batch = [described(f) for f in batch]
    export = _export_of(batch[0])
    if export is not None:
        return export.export.load(rec, batch, prepared)
    return [rec.commit(prepared or prepare(batch[0], key))]
