"""Landing -> validate -> stage: find new files and load each in one transaction.

A file (or a SEN2 export, whose modules only make sense together) is loaded all or nothing,
with its audit record, so a run killed part-way loads it again next time. Rows that fail
validation go to audit.quarantine with every reason; the good rows of the file load.
A re-issued extract for a period already loaded (same census date, same SEN2 export date)
replaces that period's rows and only those.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from schemas.census import census_schema
from schemas.contracts import CENSUS, ESTABLISHMENTS, RAW_SOURCES, SEN2_MODULES, snake_header
from schemas.establishments import establishments_schema
from schemas.sen2 import sen2_schema
from transforms.census import stage_census
from transforms.parse import parse_date, parse_int
from transforms.readers import FileRejected, conform, read_raw
from transforms.sen2 import export_date_of, module_of, orphans, stage_module
from transforms.validate import Validated, validate
from warehouse import store
from warehouse.archive import archive, sha256_of

log = logging.getLogger(__name__)

SOURCES = ("establishments", "census", "sen2", "finance", "recovery_plan", "places",
           "population")


@dataclass(frozen=True)
class LandedFile:
    source: str
    path: Path
    sha256: str


@dataclass
class FileOutcome:
    source: str
    name: str
    sha256: str
    status: str  # loaded, rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    period: str | None = None
    top_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Discovery:
    new: list[LandedFile]
    warnings: list[str]


def discover(landing: Path, known: set[str]) -> Discovery:
    """Files in the landing folder's source subfolders whose bytes were never loaded."""
    warnings: list[str] = []
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            warnings.append(f"{entry.name}: files must be in a source subfolder "
                            f"({', '.join(SOURCES)}); ignored")
        elif entry.name not in SOURCES:
            warnings.append(f"{entry.name}/: not a known source folder; ignored")
    new: list[LandedFile] = []
    seen = set(known)
    for source in SOURCES:
        folder = landing / source
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.name.startswith((".", "~$")):  # hidden files, Excel lock files
                continue
            sha = sha256_of(path)
            if sha in seen:
                continue
            seen.add(sha)
            new.append(LandedFile(source, path, sha))
    return Discovery(new, warnings)


def batches(files: list[LandedFile]) -> list[list[LandedFile]]:
    """One batch a file, except a SEN2 export: all its modules (same export date) together."""
    out: list[list[LandedFile]] = []
    exports: dict[str, list[LandedFile]] = {}
    for f in files:
        if f.source == "sen2":
            d = export_date_of(f.path.name)
            exports.setdefault(d.isoformat() if d else f"?{f.path.name}", []).append(f)
        else:
            out.append([f])
    return out + [exports[k] for k in sorted(exports)]


def load_batch(con: duckdb.DuckDBPyConnection, batch: list[LandedFile], key: bytes,
               run_id: str, archive_root: Path) -> list[FileOutcome]:
    archived = {f.sha256: archive(f.path, f.sha256, f.source, archive_root) for f in batch}
    source = batch[0].source
    loader: Callable = {"census": _load_census, "establishments": _load_establishments,
                        "sen2": _load_sen2_export}.get(source, _load_raw)
    return loader(con, batch, key, run_id, archived)


def _reasons(q: pl.DataFrame) -> list[str]:
    if q.height == 0:
        return []
    top = q.group_by("column_name", "rule").agg(pl.col("row_number").n_unique().alias("n")) \
        .sort("n", "column_name", descending=[True, False]).head(3)
    return [f"{r['column_name']} {r['rule']} ({r['n']})" for r in top.iter_rows(named=True)]


def _reject(con, f: LandedFile, run_id: str, archived: dict, message: str) -> FileOutcome:
    with store.transaction(con):
        store.record_file(con, sha256=f.sha256, source=f.source, original_name=f.path.name,
                          run_id=run_id, status="rejected", message=message,
                          archived_as=str(archived[f.sha256]))
    log.warning("rejected %s/%s: %s", f.source, f.path.name, message)
    return FileOutcome(f.source, f.path.name, f.sha256, "rejected", message=message)


def _read_validated(f: LandedFile, contract, schema) -> tuple[Validated, list[str], str]:
    raw = read_raw(f.path)
    conformed = conform(raw.frame, contract)
    return validate(conformed.frame, schema, contract.personal), conformed.unknown_columns, \
        raw.encoding


def _supersede(con, source: str, period: str, name: str) -> None:
    con.execute("UPDATE audit.files SET status = 'superseded', message = ? WHERE source = ? "
                "AND period = ? AND status = 'loaded'",
                [f"replaced by {name}", source, period])


def _load_census(con, batch, key, run_id, archived) -> list[FileOutcome]:
    f = batch[0]
    try:
        v, unknown, encoding = _read_validated(f, CENSUS, census_schema())
    except FileRejected as e:
        return [_reject(con, f, run_id, archived, f"{f.path.name} {e}")]
    staged = stage_census(v.good, key)
    dates = staged["census_date"].unique().to_list()
    if len(dates) != 1:
        return [_reject(con, f, run_id, archived,
                        f"{f.path.name} has no row with a valid census date")]
    period = dates[0].isoformat()
    staged = staged.with_columns(pl.lit(f.sha256).alias("sha256"))
    with store.transaction(con):
        _supersede(con, "census", period, f.path.name)
        store.replace_rows(con, "stage.census", staged, "census_date = ?", [dates[0]])
        store.record_file(con, sha256=f.sha256, source="census", original_name=f.path.name,
                          run_id=run_id, status="loaded", rows_read=v.rows_read,
                          rows_loaded=staged.height, rows_quarantined=v.rows_quarantined,
                          period=period, encoding=encoding, unknown_columns=unknown,
                          archived_as=str(archived[f.sha256]))
        store.record_quarantine(con, run_id, f.sha256, "census", v.quarantine)
    return [FileOutcome("census", f.path.name, f.sha256, "loaded", v.rows_read, staged.height,
                        v.rows_quarantined, period=period, top_reasons=_reasons(v.quarantine))]


def _load_establishments(con, batch, key, run_id, archived) -> list[FileOutcome]:
    f = batch[0]
    try:
        v, unknown, encoding = _read_validated(f, ESTABLISHMENTS, establishments_schema())
    except FileRejected as e:
        return [_reject(con, f, run_id, archived, f"{f.path.name} {e}")]
    ints = ["statutory_low_age", "statutory_high_age", "resourced_provision_on_roll",
            "resourced_provision_capacity", "sen_unit_on_roll", "sen_unit_capacity"]
    staged = v.good.select(
        pl.lit(f.sha256).alias("sha256"), parse_int("urn").cast(pl.Int32).alias("urn"),
        *[c for c in ESTABLISHMENTS.required if c != "urn" and c not in ints],
        *[parse_int(c).cast(pl.Int32).alias(c) for c in ints],
        "ukprn",
        pl.col("type_of_resourced_provision").replace("Not applicable", None),
        parse_date("open_date").alias("open_date"), parse_date("close_date").alias("close_date"))
    # GIAS is a snapshot of every establishment: the newest extract replaces the last.
    with store.transaction(con):
        _supersede(con, "establishments", "snapshot", f.path.name)
        store.replace_rows(con, "stage.establishments", staged, "true")
        store.record_file(con, sha256=f.sha256, source="establishments",
                          original_name=f.path.name, run_id=run_id, status="loaded",
                          rows_read=v.rows_read, rows_loaded=staged.height,
                          rows_quarantined=v.rows_quarantined, period="snapshot",
                          encoding=encoding, unknown_columns=None if len(unknown) > 20
                          else unknown, archived_as=str(archived[f.sha256]))
        store.record_quarantine(con, run_id, f.sha256, "establishments", v.quarantine)
    return [FileOutcome("establishments", f.path.name, f.sha256, "loaded", v.rows_read,
                        staged.height, v.rows_quarantined, period="snapshot",
                        top_reasons=_reasons(v.quarantine))]


def _load_sen2_export(con, batch, key, run_id, archived) -> list[FileOutcome]:
    export = export_date_of(batch[0].path.name)
    outcomes: list[FileOutcome] = []
    if export is None:
        return [_reject(con, f, run_id, archived,
                        f"{f.path.name} has no export date in its name (expected "
                        "Blade-Export_<DD-MM-YYYY>_<module>.csv)") for f in batch]
    validated: dict[str, tuple[LandedFile, Validated, list[str], str]] = {}
    for f in batch:
        module = module_of(f.path.name)
        if module is None:
            outcomes.append(_reject(con, f, run_id, archived,
                                    f"{f.path.name} is not a SEN2 module file (expected "
                                    f"Blade-Export_<DD-MM-YYYY>_<module>.csv with module one of "
                                    f"{', '.join(SEN2_MODULES)})"))
            continue
        if module in validated:
            outcomes.append(_reject(con, f, run_id, archived,
                                    f"{f.path.name} is a second {module} file for the export "
                                    f"of {export}"))
            continue
        try:
            contract = SEN2_MODULES[module]
            v, unknown, encoding = _read_validated(f, contract, sen2_schema(module))
        except FileRejected as e:
            outcomes.append(_reject(con, f, run_id, archived, f"{f.path.name} {e}"))
            continue
        validated[module] = (f, v, unknown, encoding)
    personal = {m: SEN2_MODULES[m].personal for m in validated}
    kept, orphaned = orphans({m: x[1].good for m, x in validated.items()}, personal)
    period = export.isoformat()
    with store.transaction(con):
        for module, (f, v, unknown, encoding) in validated.items():
            staged = stage_module(module, kept[module], key, export).with_columns(
                pl.lit(f.sha256).alias("sha256"))
            quarantine = pl.concat([v.quarantine, orphaned.get(module, v.quarantine.clear())])
            n_quarantined = quarantine["row_number"].n_unique()
            _supersede(con, "sen2", f"{period} {module}", f.path.name)
            store.replace_rows(con, f"stage.sen2_{module}", staged, "export_date = ?", [export])
            store.record_file(con, sha256=f.sha256, source="sen2", original_name=f.path.name,
                              run_id=run_id, status="loaded", rows_read=v.rows_read,
                              rows_loaded=staged.height, rows_quarantined=n_quarantined,
                              period=f"{period} {module}", encoding=encoding,
                              unknown_columns=unknown, archived_as=str(archived[f.sha256]))
            store.record_quarantine(con, run_id, f.sha256, "sen2", quarantine)
            outcomes.append(FileOutcome("sen2", f.path.name, f.sha256, "loaded", v.rows_read,
                                        staged.height, n_quarantined, period=period,
                                        top_reasons=_reasons(quarantine)))
    return outcomes


def _raw_table(source: str, name: str) -> str | None:
    import re

    for pattern, table in RAW_SOURCES[source].items():
        if re.search(pattern, name.lower()):
            return table
    return None


def _load_raw(con, batch, key, run_id, archived) -> list[FileOutcome]:
    """Sources not yet modelled land as text tables, every column kept (names normalised)."""
    f = batch[0]
    table = _raw_table(f.source, f.path.name)
    if table is None:
        return [_reject(con, f, run_id, archived, f"{f.path.name} is not a file this source "
                        f"takes (names: {', '.join(RAW_SOURCES[f.source])})")]
    try:
        raw = read_raw(f.path)
    except FileRejected as e:
        return [_reject(con, f, run_id, archived, f"{f.path.name} {e}")]
    if raw.frame.height == 0:
        return [_reject(con, f, run_id, archived, f"{f.path.name} has a header but no rows")]
    frame = raw.frame.rename({c: snake_header(c) for c in raw.frame.columns}).with_columns(
        pl.lit(f.sha256).alias("sha256"),
        pl.int_range(2, raw.frame.height + 2, dtype=pl.Int64).alias("row_number"))
    with store.transaction(con):
        if store.table_exists(con, table):
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ?", table.split(".")).fetchall()}
            for c in frame.columns:
                if c not in have:
                    con.execute(f'ALTER TABLE {table} ADD COLUMN "{c}" VARCHAR')
        store.replace_rows(con, table, frame)
        store.record_file(con, sha256=f.sha256, source=f.source, original_name=f.path.name,
                          run_id=run_id, status="loaded", rows_read=frame.height,
                          rows_loaded=frame.height, encoding=raw.encoding,
                          archived_as=str(archived[f.sha256]))
    return [FileOutcome(f.source, f.path.name, f.sha256, "loaded", frame.height, frame.height)]


def as_of_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The data's as-of date: the latest census day or SEN2 export loaded."""
    dates = []
    for table, col in (("stage.census", "census_date"), ("stage.sen2_namedplan", "export_date")):
        if store.table_exists(con, table):
            dates.append(con.execute(f"SELECT max({col}) FROM {table}").fetchall()[0][0])
    dates = [d for d in dates if d is not None]
    return max(dates) if dates else None
