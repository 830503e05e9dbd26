"""Landing -> validate -> stage: find new files and load each in one transaction.

A file (or a SEN2 export, whose modules only make sense together) is loaded all or nothing,
with its audit record, so a run killed part-way loads it again next time. Rows that fail
validation go to audit.quarantine with every reason; the good rows of the file load.
A re-issued extract for a period already loaded replaces that period's rows and only those
(warehouse/sources.py says what a period is for each source).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import polars as pl

from schemas.census import blade_table_schema, census_schema
from schemas.contracts import BLADE_TABLE_NAMES, CENSUS, CENSUS_BLADE, SEN2_MODULES, Contract
from schemas.sen2 import sen2_schema
from transforms.census import stage_census
from transforms.census_blade import BLADE_COLUMN, blade_table, join_tables, set_key, used_table
from transforms.parse import date_formats_used, date_of
from transforms.readers import FileRejected, RawTable, conform, header_of, read_raw
from transforms.sen2 import export_date_of, module_of, orphans, stage_module
from transforms.timing import stage
from transforms.validate import Validated, quarantine_rows, validate
from warehouse import store
from warehouse.archive import archive, sha256_of
from warehouse.sources import SOURCES, source_for

log = logging.getLogger(__name__)

FOLDERS = ("establishments", "census", "sen2", "finance", "recovery_plan", "places",
           "population", "published")


@dataclass(frozen=True)
class LandedFile:
    source: str
    path: Path
    sha256: str
    original_name: str | None = None  # when replayed from the archive (named by SHA-256)
    blade_table: str | None = None  # a census file's Blade table, from its header (batches)

    @property
    def name(self) -> str:
        return self.original_name or self.path.name


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
    return source == "sen2" or export_part or all(status == "rejected" for _, _, status in before)


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
        part = source == "sen2" or (source == "census" and sha in known
                                    and blade_table(header_of(path)) is not None)
        if sha in known and not is_new(source, path.name, known[sha], part):
            continue
        if not part:
            seen.add(sha)
        new.append(LandedFile(source, path, sha))
    return Discovery(new, warnings)


def with_layout(f: LandedFile) -> LandedFile:
    """A census file with its Blade table named (from its header), if it is one."""
    if f.source != "census" or f.blade_table is not None:
        return f
    table = blade_table(header_of(f.path))
    return replace(f, blade_table=table) if table else f


def is_export(batch: list[LandedFile]) -> bool:
    """Whether a batch is an export of several files that load together (SEN2's modules, a
    Blade census's tables), each read on its own first."""
    return batch[0].source == "sen2" or batch[0].blade_table is not None


def batches(files: list[LandedFile]) -> list[list[LandedFile]]:
    """One batch a file, in the order given, except exports: a Blade census's tables
    together (one folder, names alike but for the table: `Blade-Export_16-01-2025_` +
    `senneeds.csv`), where its first file stands; a SEN2 export's modules (same export date)
    together, after the rest."""
    out: list[list[LandedFile]] = []
    sets: dict[tuple[Path, str], list[LandedFile]] = {}
    exports: dict[str, list[LandedFile]] = {}
    for f in map(with_layout, files):
        if f.source == "sen2":
            d = export_date_of(f.name)
            exports.setdefault(d.isoformat() if d else f"?{f.name}", []).append(f)
        elif f.blade_table:
            key = (f.path.parent, set_key(f.name, f.blade_table))
            if key not in sets:
                sets[key] = []
                out.append(sets[key])
            sets[key].append(f)
        else:
            out.append([f])
    return out + [exports[k] for k in sorted(exports)]


@dataclass
class Prepared:
    """A single file read, validated and staged, not yet written: the part of a load that
    needs no database, so files can be prepared in parallel and committed in order."""

    file: LandedFile
    table: str | None = None
    period_columns: tuple[str, ...] = ()
    read: Read | None = None
    staged: pl.DataFrame | None = None
    rejection: str | None = None
    period: str | None = None
    periods: list[str] = field(default_factory=list)
    # The rows a re-issued file replaces, when finer than its periods: a census file
    # replaces the (census date, school) pairs it holds, so that returns made apart for one
    # census day (maintained schools, academies, a school at a time) add up.
    replace_columns: tuple[str, ...] | None = None

    @property
    def replaces(self) -> tuple[str, ...]:
        return self.period_columns if self.replace_columns is None else self.replace_columns


def archive_file(f: LandedFile, archive_root: Path) -> Path:
    """The file's copy in the archive, made if it is not there yet. The prepare tasks make
    it, rather than the thread that commits: a national census is a 0.7 GB copy, 1-1.5 s
    that held up every commit after it. load_batch then finds the copy there."""
    with stage("load"):
        return archive(f.path, f.sha256, f.source, archive_root)


def prepare(f: LandedFile, key: bytes, archive_root: Path | None = None) -> Prepared:
    """Read, validate and stage one file (not a SEN2 module: an export loads as a whole),
    archiving it first when given where."""
    if archive_root is not None:
        archive_file(f, archive_root)
    if f.source == "published":
        from warehouse.published import prepare_published

        return prepare_published(f)
    source = source_for(f.source, f.name)
    if source is None:
        names = " or ".join(s.file_names for s in SOURCES[f.source])
        return Prepared(f, rejection=f"is not a file the {f.source} source takes ({names}, "
                                     "CSV or XLSX)")
    try:
        r = read_validated(f.path, source.contract, source.schema(), source.file_check)
    except FileRejected as e:
        return Prepared(f, rejection=str(e))
    # Staging is the validated text's only holder, so that it can let it go once typed:
    # nationally about 2 GB, which would otherwise sit beside the pseudonymisation.
    with stage("transform"):
        staged = source.stage(r.take_good(), key)
    return Prepared(f, source.table, source.period_columns, r, staged,
                    period=_periods(staged, source.period_columns),
                    periods=period_values(staged, source.period_columns),
                    replace_columns=source.replace_columns)


def read_module(f: LandedFile, archive_root: Path | None = None) -> Read | str | None:
    """One file of an export (a SEN2 module, a Blade census table) read and validated alone
    (no database, so an export's files read in parallel), the reason it is rejected, or None
    when it is no module (by its name) or a Blade table sendboard does not use; archived
    first when given where."""
    if archive_root is not None:
        archive_file(f, archive_root)
    if f.source == "census":
        table = used_table(with_layout(f).blade_table or "")
        if table is None:
            return None
        contract, schema = CENSUS_BLADE[table], blade_table_schema(table)
    else:
        module = module_of(f.name)
        if module is None:
            return None
        contract, schema = SEN2_MODULES[module], sen2_schema(module)
    try:
        return read_validated(f.path, contract, schema, known_only=f.source == "census")
    except FileRejected as e:
        return str(e)


def load_batch(con: duckdb.DuckDBPyConnection, batch: list[LandedFile], key: bytes,
               run_id: str, archive_root: Path,
               prepared: Prepared | list[Read | str | None] | None = None,
               ) -> list[FileOutcome]:
    """Archive (unless a prepare task did) and load a batch (one file, or one SEN2 export)
    in its own transaction.
    `prepared`: the single file already prepared, or each SEN2 module already read (as
    read_module gives them, in the batch's order), by parallel tasks."""
    archived = {f.sha256: str(archive_file(f, archive_root)) for f in batch}
    loader = _Loader(con, key, run_id, archived)
    if batch[0].source == "sen2":
        return loader.sen2_export(batch, prepared)
    batch = [with_layout(f) for f in batch]
    if batch[0].blade_table:
        return loader.census_export(batch, prepared)
    return [loader.commit(prepared or prepare(batch[0], key))]


def _reasons(q: pl.DataFrame) -> list[str]:
    if q.height == 0:
        return []
    top = q.group_by("column_name", "rule").agg(pl.col("row_number").n_unique().alias("n")) \
        .sort(["n", "column_name"], descending=[True, False]).head(3)
    return [f"{r['column_name']} {r['rule']} ({r['n']})" for r in top.iter_rows(named=True)]


@dataclass
class Read:
    validated: Validated
    quarantine: pl.DataFrame  # reader problems and validation failures together
    unknown: list[str]
    raw: RawTable
    mixed_dates: dict[str, list[str]] = field(default_factory=dict)

    def take_good(self) -> pl.DataFrame:
        """The validated rows, which this read then no longer holds: whoever takes them is
        their only holder and can let them go (staging does, once typed)."""
        good = self.validated.good
        self.validated = replace(self.validated, good=good.clear())
        return good

    @property
    def rows_read(self) -> int:
        return self.validated.rows_read + self.raw.problems["row_number"].n_unique()

    @property
    def notes(self) -> str | None:
        notes = []
        if self.unknown:
            shown = ", ".join(self.unknown[:8]) + (" ..." if len(self.unknown) > 8 else "")
            notes.append(f"{len(self.unknown)} unknown column(s) ignored: {shown}")
        if self.raw.empty_rows:
            notes.append(f"{self.raw.empty_rows} empty row(s) skipped")
        for column, formats in self.mixed_dates.items():
            shown = " and ".join(_FORMAT_NAMES.get(f, f) for f in formats)
            notes.append(f"{column} has dates written in more than one format ({shown}); "
                         "all were read as day-month-year, never month-first")
        return "; ".join(notes) or None


_FORMAT_NAMES = {"%Y-%m-%d": "yyyy-mm-dd", "%d/%m/%Y": "dd/mm/yyyy",
                 "%Y-%b-%d %H:%M:%S": "yyyy-Mon-dd hh:mm:ss", "%d-%m-%Y": "dd-mm-yyyy",
                 "%Y-%m-%d %H:%M:%S": "yyyy-mm-dd hh:mm:ss"}


def read_validated(path: Path, contract: Contract, schema, file_check=None,
                   known_only: bool = False) -> Read:
    """Read, match headers, validate; raises FileRejected for a file unusable as a whole.
    `known_only`: read only the contract's columns, the others unreported (a Blade census
    table has dozens that sendboard never uses)."""
    with stage("read"):
        raw = read_raw(path, contract.unread_headers,
                       set(contract.alias_map()) if known_only else None)
        if raw.frame.height == 0 and raw.problems.height:
            raise FileRejected(f"has no usable rows: all {raw.problems.height} have the wrong "
                               "number of fields for its header")
        conformed = conform(raw.frame, contract, trim=raw.padded)
        # The text as read is not needed past here: at national scale it is gigabytes.
        raw = replace(raw, frame=raw.frame.clear())
    with stage("validate"):
        if file_check and (reason := file_check(conformed.frame)):
            raise FileRejected(reason)
        v = validate(conformed.frame, schema, contract.personal, consume=True)
        _reject_if_every_row_fails(v, contract)
        quarantine = pl.concat([raw.problems, v.quarantine]).sort("row_number", "column_name")
        mixed = {c: f for c in contract.dates
                 if len(f := date_formats_used(v.good, c)) > 1}
    return Read(v, quarantine, conformed.unknown_columns, raw, mixed)


def _reject_if_every_row_fails(v: Validated, contract: Contract) -> None:
    if v.good.height == 0 and (rule := _failed_by_every_row(v)):
        raise FileRejected(f"is not in the {contract.source} format: all {v.rows_read} "
                           f"rows fail the rule '{rule}' (expected columns: "
                           f"{', '.join(contract.required)})")


def _spring(header: Read) -> bool:
    """Whether a Blade census's returns are the spring census (January or February), the one
    that collects SEN need."""
    days = header.validated.good.select(date_of(header.validated.good, "referencedate"))
    return bool(days.to_series().dt.month().le(2).any())


def _failed_by_every_row(v: Validated) -> str | None:
    """The rule (`column rule`) that every row of a file failed, if one did: a file whose
    rows all fail the same rule is in the wrong format (another extract, another version's
    codes), which one message says better than a quarantine row per row."""
    q = v.quarantine
    if v.rows_read == 0 or q.height == 0:
        return None
    every = q.group_by("column_name", "rule").agg(pl.col("row_number").n_unique().alias("n")) \
        .filter(pl.col("n") == v.rows_read).sort("column_name", "rule")
    return f"{every['column_name'][0]} {every['rule'][0]}" if every.height else None


@dataclass
class _Loader:
    con: duckdb.DuckDBPyConnection
    key: bytes
    run_id: str
    archived: dict[str, str]

    def reject(self, f: LandedFile, reason: str) -> FileOutcome:
        message = f"{f.name} {reason}"
        with store.transaction(self.con):
            store.record_file(self.con, sha256=f.sha256, source=f.source,
                              original_name=f.name, run_id=self.run_id, status="rejected",
                              message=message, archived_as=self.archived[f.sha256])
        log.warning("rejected %s/%s", f.source, message)
        return FileOutcome(f.source, f.name, f.sha256, "rejected", message=message)

    def commit(self, p: Prepared) -> FileOutcome:
        """Write a prepared file: its periods replaced, its audit rows, in one transaction."""
        if p.rejection is not None:
            return self.reject(p.file, p.rejection)
        f, staged = p.file, p.staged
        rows = p.read.validated.good.height if p.table == "stage.published" else staged.height
        with stage("load"), store.transaction(self.con):
            # Only a file whose rows were deleted can be left with none (a scan a file).
            replaced = staged.height and store.replace_periods(
                self.con, p.table, staged, p.replaces, f.sha256)
            self.record(f, p.read, rows, p.period, p.table, p.periods)
            if replaced:
                store.supersede(self.con, p.table, f.name)
        # Prefect keeps each task's result for the rest of the flow: once written, the
        # staged rows (gigabytes for a national census) are let go.
        p.staged = staged.clear()
        return self.outcome(f, p.read, rows, p.period)

    def record(self, f: LandedFile, r: Read, loaded: int, period: str | None,
               table: str, periods: list[str] | None = None) -> None:
        self.con.execute("DELETE FROM audit.file_periods WHERE sha256 = ? AND original_name = ?",
                         [f.sha256, f.name])
        if periods:
            self.con.executemany("INSERT INTO audit.file_periods VALUES (?, ?, ?)",
                                 [[f.sha256, f.name, p] for p in periods])
        store.record_file(self.con, sha256=f.sha256, source=f.source, original_name=f.name,
                          run_id=self.run_id, status="loaded", rows_read=r.rows_read,
                          rows_loaded=loaded,
                          rows_quarantined=r.quarantine["row_number"].n_unique(),
                          message=r.notes, period=period, encoding=r.raw.encoding,
                          unknown_columns=r.unknown, archived_as=self.archived[f.sha256],
                          table_name=table)
        store.record_quarantine(self.con, self.run_id, f.sha256, f.source, r.quarantine)

    def outcome(self, f: LandedFile, r: Read, loaded: int, period: str | None) -> FileOutcome:
        return FileOutcome(f.source, f.name, f.sha256, "loaded", r.rows_read, loaded,
                           r.quarantine["row_number"].n_unique(), message=r.notes,
                           period=period, top_reasons=_reasons(r.quarantine))

    def sen2_export(self, batch: list[LandedFile],
                    ready: list[Read | str | None] | None = None) -> list[FileOutcome]:
        """An export loads when it is whole: all nine modules in the batch, or a re-issued
        module of an export already loaded. Otherwise its good files wait, unrecorded, and
        load with the corrected file on a later run. `ready`: read_module's result for each
        file of the batch, when they were read in parallel."""
        export = export_date_of(batch[0].name)
        if export is None:
            return [self.reject(f, "has no valid export date in its name (expected "
                                   "Blade-Export_<DD-MM-YYYY>_<module>.csv)") for f in batch]
        outcomes: list[FileOutcome] = []
        reads: dict[str, tuple[LandedFile, Read]] = {}
        problems: list[str] = []
        for i, f in enumerate(batch):
            module = module_of(f.name)
            if module is None:
                outcomes.append(self.reject(
                    f, f"is not a SEN2 module file (expected Blade-Export_<DD-MM-YYYY>_<module>"
                       f".csv, module one of {', '.join(SEN2_MODULES)})"))
            elif module in reads:
                outcomes.append(self.reject(f, f"is a second {module} file for the export of "
                                               f"{export}"))
            else:
                r = ready[i] if ready is not None else read_module(f)
                if isinstance(r, str):
                    outcomes.append(self.reject(f, r))
                    problems.append(f"its {module} file was rejected")
                else:
                    reads[module] = (f, r)
        staged = self._staged_modules(export)
        missing = [m for m in SEN2_MODULES if m not in reads and m not in staged]
        if missing:
            problems.append(f"no {', '.join(missing)} module landed" if not problems else "")
            why = "; ".join(p for p in problems if p)
            for f, r in reads.values():
                message = (f"{f.name} waits for the rest of the SEN2 export of {export} "
                           f"({why}); it loads when a corrected file lands")
                log.warning(message)
                outcomes.append(FileOutcome(f.source, f.name, f.sha256, "waiting",
                                            r.rows_read, 0, 0, message=message))
            return outcomes
        staged_ids = {m: self.con.sql(f"SELECT DISTINCT {m}tableid::VARCHAR AS id FROM "
                                      f"stage.sen2_{m} WHERE export_date = ?", params=[export])
                      .pl()["id"] for m in staged if m not in reads}
        personal = {m: SEN2_MODULES[m].personal for m in reads}
        with stage("validate"):
            kept, orphaned = orphans({m: r.validated.good for m, (_, r) in reads.items()},
                                     personal, staged_ids)
        with stage("load"), store.transaction(self.con):
            for module, (f, r) in reads.items():
                if module in orphaned:
                    r.quarantine = pl.concat([r.quarantine, orphaned[module]]).sort(
                        "row_number", "column_name")
                with stage("transform"):
                    staged_rows = stage_module(module, kept[module], self.key, export)
                table = f"stage.sen2_{module}"
                replaced = store.replace_periods(self.con, table, staged_rows,
                                                 ("export_date",), f.sha256)
                self.record(f, r, staged_rows.height, export.isoformat(), table,
                            [export.isoformat()])
                if replaced:
                    store.supersede(self.con, table, f.name)
                outcomes.append(self.outcome(f, r, staged_rows.height, export.isoformat()))
        return outcomes

    def skip(self, f: LandedFile, reason: str) -> FileOutcome:
        """Record a file that is read by nothing (a Blade census table sendboard does not
        use): archived, so nothing is lost, and never offered again."""
        message = f"{f.name} {reason}"
        with store.transaction(self.con):
            store.record_file(self.con, sha256=f.sha256, source=f.source,
                              original_name=f.name, run_id=self.run_id, status="skipped",
                              message=message, archived_as=self.archived.get(f.sha256))
        return FileOutcome(f.source, f.name, f.sha256, "skipped", message=message)

    def census_export(self, batch: list[LandedFile],
                      ready: list[Read | str | None] | None = None) -> list[FileOutcome]:
        """A Blade census export: its tables joined into census rows, judged by the census
        rules and loaded in one transaction, replacing the (census date, school) pairs it
        holds. It needs its returns (`schoolcensus`) and pupils (`pupilonroll`), and in spring
        its needs (`senneeds`); a table missing from the batch is taken from the archive when
        an earlier load of the same export had it (a corrected table landed alone), else the
        tables that read wait, unrecorded, as a SEN2 export does. `ready`: read_module's
        result for each file, when they were read in parallel."""
        outcomes: list[FileOutcome] = []
        reads: dict[str, tuple[LandedFile, Read]] = {}
        problems: list[str] = []
        for i, f in enumerate(batch):
            table = used_table(f.blade_table or "")
            if table is None:
                outcomes.append(self.skip(f, f"is the Blade census's {f.blade_table} table, "
                                             "which sendboard does not use (archived only)"))
            elif table in reads:
                outcomes.append(self.reject(f, f"is a second {table} table for the Blade "
                                               f"census export of {reads[table][0].name}"))
            else:
                r = ready[i] if ready is not None else read_module(f)
                if isinstance(r, str):
                    outcomes.append(self.reject(f, r))
                    problems.append(f"its {table} table was rejected")
                elif r is not None:
                    reads[table] = (f, r)
        if not problems:
            self._census_companions(batch, reads)
        missing = [t for t in ("schoolcensus", "pupilonroll") if t not in reads]
        if not missing and "senneeds" not in reads and _spring(reads["schoolcensus"][1]):
            missing.append("senneeds")  # without it every SEN pupil would lose their need
        if missing:
            why = "; ".join(problems) or f"no {', '.join(missing)} table landed with it"
            for f, r in reads.values():
                if f in batch:
                    message = (f"{f.name} waits for the rest of its Blade census export "
                               f"({why}); it loads when the missing table lands")
                    log.warning(message)
                    outcomes.append(FileOutcome(f.source, f.name, f.sha256, "waiting",
                                                r.rows_read, 0, 0, message=message))
            return outcomes
        return outcomes + self._census_join(reads, batch)

    def _census_join(self, reads: dict[str, tuple[LandedFile, Read]],
                     batch: list[LandedFile]) -> list[FileOutcome]:
        personal = {t: CENSUS_BLADE[t].personal for t in reads}
        with stage("validate"):
            flat, lost = join_tables({t: r.validated.good for t, (_, r) in reads.items()},
                                     personal)
            try:
                if reason := SOURCES["census"][0].file_check(flat):
                    raise FileRejected(reason)
                v = validate(flat, census_schema(blade=True), CENSUS.personal, consume=True)
                _reject_if_every_row_fails(v, CENSUS)
            except FileRejected as e:
                # (A table taken from the archive stays as it was loaded.)
                return [self.reject(f, f"belongs to a Blade census export that {e}")
                        for f, _ in reads.values() if f in batch]
            lost["pupilonroll"] = pl.concat([lost["pupilonroll"], v.quarantine.with_columns(
                pl.col("column_name").replace(BLADE_COLUMN))])
            # A need or FSM period of a pupil held back goes with them, as SEN2's rows do.
            pupils = reads["pupilonroll"][1].validated.good.select("row_number",
                                                                   "pupilonrolltableid")
            staged_ids = pupils.join(v.good.select("row_number"), on="row_number",
                                     how="semi")["pupilonrolltableid"]
            for t in ("senneeds", "fsmperiod"):
                if t in reads:
                    kept = reads[t][1].validated.good.join(
                        lost[t].select("row_number").unique(), on="row_number", how="anti")
                    _, cascade = quarantine_rows(
                        kept, ~kept["pupilonrolltableid"].is_in(staged_ids.implode()),
                        "pupilonrolltableid", "links to a pupilonroll row that is missing or "
                        "quarantined", set())
                    lost[t] = pl.concat([lost[t], cascade])
        with stage("transform"):
            staged = stage_census(v.good, self.key)
        outcomes = []
        pupil_file = reads["pupilonroll"][0]
        period = _periods(staged, ("census_date",))
        periods = period_values(staged, ("census_date",))
        with stage("load"), store.transaction(self.con):
            replaced = staged.height and store.replace_periods(
                self.con, "stage.census", staged, ("census_date", "laestab"),
                pupil_file.sha256)
            for t, (f, r) in reads.items():
                if t in lost:
                    r.quarantine = pl.concat([r.quarantine, lost[t]]).sort(
                        "row_number", "column_name")
                loaded = staged.height if t == "pupilonroll" else \
                    r.rows_read - r.quarantine["row_number"].n_unique()
                # Only the pupils' file holds the staged rows; the others name their table,
                # so that replacing its rows never marks them superseded.
                table = "stage.census" if t == "pupilonroll" else f"stage.census ({t})"
                self.record(f, r, loaded, period, table, periods)
                outcomes.append(self.outcome(f, r, loaded, period))
            if replaced:
                store.supersede(self.con, "stage.census", pupil_file.name)
        return outcomes

    def _census_companions(self, batch: list[LandedFile],
                           reads: dict[str, tuple[LandedFile, Read]]) -> None:
        """Tables of this Blade census export loaded before and absent from the batch, read
        again from the archive (newest first), so a corrected table can land alone."""
        key = set_key(batch[0].name, batch[0].blade_table)
        have = {f.sha256 for f in batch}
        for sha, name, archived in self.con.execute(
                "SELECT sha256, original_name, archived_as FROM audit.files WHERE source = "
                "'census' AND status = 'loaded' AND archived_as IS NOT NULL "
                "ORDER BY loaded_at DESC").fetchall():
            path = Path(archived)
            # By name first: only a file named as a table of this export is opened.
            if sha in have or not any(t in name.lower() and set_key(name, t) == key
                                      for t in BLADE_TABLE_NAMES) or not path.exists():
                continue
            f = with_layout(LandedFile("census", path, sha, name))
            table = used_table(f.blade_table or "")
            if table and table not in reads and set_key(name, f.blade_table) == key:
                r = read_module(f)
                if isinstance(r, Read):
                    reads[table] = (f, r)
                    self.archived.setdefault(sha, archived)

    def _staged_modules(self, export) -> set[str]:
        return {m for m in SEN2_MODULES if store.table_exists(self.con, f"stage.sen2_{m}")
                and self.con.execute(f"SELECT count(*) FROM stage.sen2_{m} WHERE export_date = ?",
                                     [export]).fetchall()[0][0]}


def period_values(staged: pl.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """The periods a file holds, one string each (`2024-25`; `E06000054 2024`)."""
    if not columns or staged.height == 0:
        return []
    # The distinct periods first, then their text: a census is 9 million rows of one date.
    return staged.select(columns).unique().select(pl.concat_str(
        [pl.col(c).cast(pl.Utf8) for c in columns], separator=" ")).to_series().unique().sort() \
        .to_list()


def _periods(staged: pl.DataFrame, columns: tuple[str, ...]) -> str | None:
    """The periods a file holds, as audit text (`2024-25, 2025-26`, `2025-01-16`)."""
    if not columns:
        return "snapshot"
    if staged.height == 0:
        return None
    values = period_values(staged, columns)
    return ", ".join(values) if len(values) <= 6 else f"{values[0]} .. {values[-1]} " \
        f"({len(values)} periods)"
