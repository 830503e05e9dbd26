"""A school census as COLLECT's Blade export (a CSV a table: docs/census-blade.md) into
stage.census: each table read on its own, then joined into the flat census rows, judged by
the census rules and written in one transaction, replacing the (census date, school) pairs
the export holds. Where the export has them, its pupils' and leavers' attendance and
exclusions (the term's, and in autumn the summer term's second half) go to
stage.census_attendance and stage.census_exclusions in the same transaction (the flat
layout has neither: nothing here runs for it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl

from schemas.census import blade_table_schema, census_schema
from schemas.contracts import BLADE_TABLE_NAMES, CENSUS, CENSUS_BLADE, pupil_link
from transforms.census import one_census, stage_census
from transforms.census_attendance import (
    CHILD_TABLES,
    EXCLUSION_TABLES,
    PUPIL_FILE_SHA256,
    SESSION_TABLES,
    sessions_missed,
    stage_attendance,
    stage_exclusions,
    stage_leavers,
)
from transforms.census_blade import (
    BLADE_COLUMN,
    blade_table,
    join_tables,
    orphans,
    set_key,
    used_table,
)
from transforms.readers import FileRejected, header_of
from transforms.timing import stage
from transforms.validate import QUARANTINE_SCHEMA, quarantine_rows, validate
from values.parse import date_of
from warehouse import store
from warehouse.exports import read_parts
from warehouse.files import FileOutcome, LandedFile, Read, period_values, periods_text
from warehouse.reading import read_validated, reject_if_every_row_fails
from warehouse.recorder import Recorder


def with_layout(f: LandedFile) -> LandedFile:
    """A census file with its Blade table named (from its header), if it is one."""
    if f.source != "census" or f.blade_table is not None:
        return f
    table = blade_table(header_of(f.path))
    return replace(f, blade_table=table) if table else f


def is_blade(f: LandedFile) -> bool:
    return with_layout(f).blade_table is not None


def export_key(f: LandedFile) -> str:
    """The export a table file belongs to: its folder, and its name without the table's
    (`Blade-Export_16-01-2025_` + `senneeds.csv`)."""
    f = with_layout(f)
    return f"{f.path.parent}/{set_key(f.name, f.blade_table)}"


def read_table(f: LandedFile) -> Read | str | None:
    """One table read and validated alone, the reason it is rejected, or None for a table
    sendboard does not use."""
    table = used_table(with_layout(f).blade_table or "")
    if table is None:
        return None
    try:
        # A pupil's sessions row that fails holds back their other rows: its pupil is kept.
        ids = (SESSION_TABLES[table].link,) if table in SESSION_TABLES else ()
        return read_validated(f.path, CENSUS_BLADE[table], blade_table_schema(table),
                              known_only=True, ids=ids)
    except FileRejected as e:
        return str(e)


def load_export(rec: Recorder, batch: list[LandedFile],
                ready: list[Read | str | None] | None = None) -> list[FileOutcome]:
    """The export's tables joined and loaded. It needs its returns (`schoolcensus`) and
    pupils (`pupilonroll`), and in spring its needs (`senneeds`); a table missing from the
    batch is taken from the archive when an earlier load of the same export had it (a
    corrected table landed alone), else the tables that read wait, unrecorded, as a SEN2
    export does. `ready`: read_table's result for each file, when read in parallel."""
    batch = [with_layout(f) for f in batch]

    def part_of(f: LandedFile) -> tuple[str | None, FileOutcome | None]:
        table = used_table(f.blade_table or "")
        if table is None:
            return None, rec.skip(f, f"is the Blade census's {f.blade_table} table, which "
                                     "sendboard does not use (archived only)")
        return table, None

    parts = read_parts(rec, batch, ready, part_of, read_table, "table")
    reads = parts.reads
    if not parts.problems:
        _companions(rec, batch, reads)
    missing = [t for t in ("schoolcensus", "pupilonroll") if t not in reads]
    if not missing and "senneeds" not in reads and _spring(reads["schoolcensus"][1]):
        missing.append("senneeds")  # without it every SEN pupil would lose their need
    if missing:
        why = "; ".join(parts.problems) or f"no {', '.join(missing)} table landed with it"
        return parts.outcomes + [
            rec.waiting(f, r, f"{f.name} waits for the rest of its Blade census export "
                              f"({why}); it loads when the missing table lands")
            for f, r in reads.values() if f in batch]
    return parts.outcomes + _join(rec, reads, batch)


def _spring(header: Read) -> bool:
    """Whether the returns are the spring census (January or February), the one that
    collects SEN need."""
    days = header.validated.good.select(date_of(header.validated.good, "referencedate"))
    return bool(days.to_series().dt.month().le(2).any())


def _join(rec: Recorder, reads: dict[str, tuple[LandedFile, Read]],
          batch: list[LandedFile]) -> list[FileOutcome]:
    personal = {t: CENSUS_BLADE[t].personal for t in reads}
    with stage("validate"):
        flat, lost = join_tables({t: r.validated.good for t, (_, r) in reads.items()},
                                 personal)
        try:
            if reason := one_census(flat):
                raise FileRejected(reason)
            v = validate(flat, census_schema(blade=True), CENSUS.personal, consume=True)
            reject_if_every_row_fails(v, CENSUS)
        except FileRejected as e:
            # (A table taken from the archive stays as it was loaded.)
            return [rec.reject(f, f"belongs to a Blade census export that {e}")
                    for f, _ in reads.values() if f in batch]
        lost["pupilonroll"] = pl.concat([lost["pupilonroll"], v.quarantine.with_columns(
            pl.col("column_name").replace(BLADE_COLUMN))])
        # A need, FSM period, sessions row or exclusion of a pupil (or leaver) held back
        # goes with them, as SEN2's rows do.
        pupils = reads["pupilonroll"][1].validated.good.select("row_number",
                                                               "pupilonrolltableid")
        staged_ids = {"pupilonroll": pupils.join(v.good.select("row_number"), on="row_number",
                                                 how="semi")["pupilonrolltableid"]}
        leavers = None
        if "pupilnolongeronroll" in reads:
            leavers, lost["pupilnolongeronroll"] = orphans(
                reads["pupilnolongeronroll"][1].validated.good, "schoolcensustableid",
                reads["schoolcensus"][1].validated.good["schoolcensustableid"],
                "schoolcensus", personal["pupilnolongeronroll"])
        staged_ids["pupilnolongeronroll"] = (
            leavers["pupilnolongeronrolltableid"] if leavers is not None
            else pl.Series(dtype=pl.Utf8))
        for t, parent in CHILD_TABLES.items():
            if t in reads:
                link = pupil_link("" if parent == "pupilonroll" else "offroll")
                lost.setdefault(t, pl.DataFrame(schema=QUARANTINE_SCHEMA))
                kept = reads[t][1].validated.good.join(
                    lost[t].select("row_number").unique(), on="row_number", how="anti")
                _, cascade = quarantine_rows(
                    kept, ~kept[link].is_in(staged_ids[parent].implode()), link,
                    f"links to a {parent} row that is missing or quarantined", set())
                lost[t] = pl.concat([lost[t], cascade])
    with stage("transform"):
        staged = stage_census(v.good, rec.key)
        pupils_of = {"pupilonroll": (staged, pupils)}
        if leavers is not None:
            left = stage_leavers(leavers, reads["schoolcensus"][1].validated.good, staged,
                                 rec.key)
            pupils_of["pupilnolongeronroll"] = (left.drop("pupilnolongeronrolltableid"),
                                                left.select("row_number",
                                                            "pupilnolongeronrolltableid"))
        attendance = _attendance(reads, lost, pupils_of)
    outcomes = []
    pupil_file = reads["pupilonroll"][0]
    period = periods_text(staged, ("census_date",))
    periods = period_values(staged, ("census_date",))
    with stage("load"), store.transaction(rec.con):
        replaced = staged.height and store.replace_periods(
            rec.con, "stage.census", staged, ("census_date", "laestab"), pupil_file.sha256)
        schools = pl.concat([frame.select("census_date", pl.col("laestab").cast(pl.Utf8))
                             for frame, _ in pupils_of.values()]).unique()
        for table in sorted({ATTENDANCE_TABLES[t] for t in attendance}):
            _clear_schools(rec.con, table, schools)
        for t, frame in attendance.items():
            # An attendance row's row_number is its pupil's row of pupilonroll (a leaver's of
            # pupilnolongeronroll): that file is kept beside the details file's own sha256
            # (by which its rows are replaced).
            stamps = {PUPIL_FILE_SHA256: reads[SESSION_TABLES[t].pupils][0].sha256} \
                if t in SESSION_TABLES else {}
            store.replace_periods(rec.con, ATTENDANCE_TABLES[t], frame,
                                  ("census_date", "laestab", *_KINDS[ATTENDANCE_TABLES[t]]),
                                  reads[t][0].sha256, stamps)
        for t, (f, r) in reads.items():
            if t in lost:
                r.quarantine = pl.concat([r.quarantine, lost[t]]).sort(
                    "row_number", "column_name")
            loaded = staged.height if t == "pupilonroll" else \
                r.rows_read - r.quarantine["row_number"].n_unique()
            # Only the pupils' file holds the staged rows (and the attendance tables their
            # own); the others name their table, so that replacing its rows never marks
            # them superseded.
            table = "stage.census" if t == "pupilonroll" else ATTENDANCE_TABLES.get(
                t, f"stage.census ({t})")
            rec.record(f, r, loaded, period, table, periods)
            outcomes.append(rec.outcome(f, r, loaded, period))
        if replaced:
            store.supersede(rec.con, "stage.census", pupil_file.name)
        for t in attendance:
            store.supersede(rec.con, ATTENDANCE_TABLES[t], reads[t][0].name)
    return outcomes


# The attendance tables read, and where their rows are staged.
ATTENDANCE_TABLES = {**{t: "stage.census_attendance" for t in SESSION_TABLES},
                     **{t: "stage.census_exclusions" for t in EXCLUSION_TABLES}}
# What tells apart the rows several files of one export stage in the same table.
_KINDS = {"stage.census_attendance": ("on_roll", "sessions_period"),
          "stage.census_exclusions": ("on_roll",)}


def _attendance(reads: dict[str, tuple[LandedFile, Read]], lost: dict[str, pl.DataFrame],
                pupils_of: dict[str, tuple[pl.DataFrame, pl.DataFrame]]
                ) -> dict[str, pl.DataFrame]:
    """The staging rows of the export's attendance tables (by table), their held-back rows
    added to `lost`. `pupils_of`: for pupilonroll (and pupilnolongeronroll, when the export
    has it) the staged rows and each one's row_number and table id. A pupil with any
    sessions row held back has no attendance of that table staged: a total missing a reason
    would understate their absence."""
    out = {}
    for t, table in SESSION_TABLES.items():
        if t not in reads or table.pupils not in pupils_of:
            continue  # (a leaver's rows without the leavers' table went with the cascade)
        link = table.link
        rows = _kept(reads, lost, t)
        read = reads[t][1].validated
        failed = read.failed_ids if read.failed_ids is not None else rows.clear()
        held = pl.concat([failed.select(link), read.good.join(
            lost[t].select("row_number"), on="row_number", how="semi").select(link)])
        rows, cascade = quarantine_rows(
            rows, rows[link].is_in(held[link].implode()), link,
            "belongs to a pupil another of whose sessions rows is quarantined", set())
        sessions, too_many = sessions_missed(reads[table.pupils][1].validated.good, rows,
                                             table)
        lost[t] = pl.concat([lost[t], cascade, too_many])
        staged, links = pupils_of[table.pupils]
        out[t] = stage_attendance(staged, links, sessions.filter(
            ~pl.col(link).is_in(held[link].implode())), table)
    for t, pupils in EXCLUSION_TABLES.items():
        if t in reads and pupils in pupils_of:
            staged, links = pupils_of[pupils]
            out[t] = stage_exclusions(staged, links, _kept(reads, lost, t), pupils)
    return out


def _kept(reads: dict[str, tuple[LandedFile, Read]], lost: dict[str, pl.DataFrame],
          table: str) -> pl.DataFrame:
    return reads[table][1].validated.good.join(lost[table].select("row_number").unique(),
                                               on="row_number", how="anti")


def _clear_schools(con: duckdb.DuckDBPyConnection, table: str, schools: pl.DataFrame
                   ) -> None:
    """Remove `table`'s rows of every (census day, school) the export's pupils or leavers are
    staged for, as stage.census's are replaced: a school whose re-issued export has no
    attendance row keeps none from the earlier one."""
    if store.table_exists(con, table):
        with store.registered(con, "_schools", schools):
            con.execute(f"DELETE FROM {table} t USING _schools s WHERE "
                        "t.census_date = s.census_date AND t.laestab::VARCHAR = s.laestab")


def _companions(rec: Recorder, batch: list[LandedFile],
                reads: dict[str, tuple[LandedFile, Read]]) -> None:
    """Tables of this export loaded before and absent from the batch, read again from the
    archive (newest first), so a corrected table can land alone."""
    key = set_key(batch[0].name, batch[0].blade_table)
    have = {f.sha256 for f in batch}
    for sha, name, archived in rec.con.execute(
            "SELECT sha256, original_name, archived_as FROM audit.files WHERE source = "
            "'census' AND status = 'loaded' AND archived_as IS NOT NULL "
            "ORDER BY loaded_at DESC").fetchall():
        path = Path(archived)
        # By name first: only a file named as a table of this export is decrypted.
        if sha in have or not any(t in name.lower() and set_key(name, t) == key
                                  for t in BLADE_TABLE_NAMES) or not path.exists():
            continue
        # The copy is read whole into memory, then removed.
        with rec.archive.opened(path, name, "census") as readable:
            f = with_layout(LandedFile("census", readable, sha, name))
            table = used_table(f.blade_table or "")
            if table and table not in reads and set_key(name, f.blade_table) == key:
                r = read_table(f)
                if isinstance(r, Read):
                    reads[table] = (f, r)
                    rec.archived.setdefault(sha, archived)
