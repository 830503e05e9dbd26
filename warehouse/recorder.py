"""Writing what a load did: a prepared file's rows in place of its periods', its audit
record and its quarantine, each file (or export) in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from transforms.timing import stage
from warehouse import store
from warehouse.archive import Archive
from warehouse.files import FileOutcome, LandedFile, Prepared, Read, top_reasons

log = logging.getLogger(__name__)


@dataclass
class Recorder:
    con: duckdb.DuckDBPyConnection
    key: bytes
    run_id: str
    archived: dict[str, str]  # sha256 -> the file's path in the archive
    archive: Archive  # to read a file archived before (a Blade census's other tables)

    def reject(self, f: LandedFile, reason: str) -> FileOutcome:
        message = f"{f.name} {reason}"
        with store.transaction(self.con):
            store.record_file(self.con, sha256=f.sha256, source=f.source,
                              original_name=f.name, run_id=self.run_id, status="rejected",
                              message=message, archived_as=self.archived[f.sha256])
        log.warning("rejected %s/%s", f.source, message)
        return FileOutcome(f.source, f.name, f.sha256, "rejected", message=message)

    def skip(self, f: LandedFile, reason: str) -> FileOutcome:
        """Record a file that is read by nothing (a Blade census table sendboard does not
        use): archived, so nothing is lost, and never offered again."""
        message = f"{f.name} {reason}"
        with store.transaction(self.con):
            store.record_file(self.con, sha256=f.sha256, source=f.source,
                              original_name=f.name, run_id=self.run_id, status="skipped",
                              message=message, archived_as=self.archived.get(f.sha256))
        return FileOutcome(f.source, f.name, f.sha256, "skipped", message=message)

    def commit(self, p: Prepared) -> FileOutcome:
        """Write a prepared file: its periods replaced, its audit rows, in one transaction."""
        if p.rejection is not None:
            return self.reject(p.file, p.rejection)
        f, staged = p.file, p.staged
        rows = staged.height if p.loaded is None else p.loaded
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
        """A loaded file's audit rows (its periods, its record, its quarantine), inside the
        caller's transaction."""
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
                           period=period, top_reasons=top_reasons(r.quarantine))

    def waiting(self, f: LandedFile, r: Read, message: str) -> FileOutcome:
        """A good file of an export that is not whole: unrecorded, so it is offered again
        and loads with the missing part."""
        log.warning(message)
        return FileOutcome(f.source, f.name, f.sha256, "waiting", r.rows_read, 0, 0,
                           message=message)
