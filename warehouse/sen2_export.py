"""A SEN2 export (its nine Blade modules, `Blade-Export_<DD-MM-YYYY>_<module>.csv`) into the
stage.sen2_* tables: each module read on its own, then the links between them checked and
the whole export written in one transaction, replacing that export date's rows."""

from __future__ import annotations

import duckdb
import polars as pl

from schemas.contracts import SEN2_MODULES
from schemas.sen2 import sen2_schema
from transforms.readers import FileRejected
from transforms.sen2 import export_date_of, module_of, orphans, stage_module
from transforms.timing import stage
from warehouse import store
from warehouse.exports import read_parts
from warehouse.files import FileOutcome, LandedFile, Read
from warehouse.reading import read_validated
from warehouse.recorder import Recorder


def export_key(f: LandedFile) -> str:
    """The export a module file belongs to: its export date (a file without one is an
    export of its own, which its load rejects)."""
    d = export_date_of(f.name)
    return d.isoformat() if d else f"?{f.name}"


def read_module(f: LandedFile) -> Read | str | None:
    """One module read and validated alone, the reason it is rejected, or None when its name
    is no module's."""
    module = module_of(f.name)
    if module is None:
        return None
    try:
        return read_validated(f.path, SEN2_MODULES[module], sen2_schema(module),
                              ids=(f"{module}tableid", "nativeid"))
    except FileRejected as e:
        return str(e)


def load_export(rec: Recorder, batch: list[LandedFile],
                ready: list[Read | str | None] | None = None) -> list[FileOutcome]:
    """An export loads when it is whole: all nine modules in the batch, or a re-issued
    module of an export already loaded. Otherwise its good files wait, unrecorded, and load
    with the corrected file on a later run. `ready`: read_module's result for each file of
    the batch, when they were read in parallel."""
    export = export_date_of(batch[0].name)
    if export is None:
        return [rec.reject(f, "has no valid export date in its name (expected "
                              "Blade-Export_<DD-MM-YYYY>_<module>.csv)") for f in batch]

    def part_of(f: LandedFile) -> tuple[str | None, FileOutcome | None]:
        module = module_of(f.name)
        if module is None:
            return None, rec.reject(f, "is not a SEN2 module file (expected Blade-Export_"
                                       "<DD-MM-YYYY>_<module>.csv, module one of "
                                       f"{', '.join(SEN2_MODULES)})")
        return module, None

    parts = read_parts(rec, batch, ready, part_of, read_module, "file")
    outcomes, reads = parts.outcomes, parts.reads
    staged = _staged_modules(rec.con, export)
    missing = [m for m in SEN2_MODULES if m not in reads and m not in staged]
    if missing:
        why = "; ".join(parts.problems) or f"no {', '.join(missing)} module landed"
        return outcomes + [rec.waiting(f, r, f"{f.name} waits for the rest of the SEN2 export "
                                             f"of {export} ({why}); it loads when a corrected "
                                             "file lands") for f, r in reads.values()]
    staged_ids = {m: rec.con.sql(f"SELECT DISTINCT {m}tableid::VARCHAR AS id FROM "
                                 f"stage.sen2_{m} WHERE export_date = ?", params=[export])
                  .pl()["id"] for m in staged if m not in reads}
    personal = {m: SEN2_MODULES[m].personal for m in reads}
    with stage("validate"):
        kept, orphaned = orphans({m: r.validated.good for m, (_, r) in reads.items()},
                                 personal, staged_ids)
    with stage("load"), store.transaction(rec.con):
        for module, (f, r) in reads.items():
            if module in orphaned:
                r.quarantine = pl.concat([r.quarantine, orphaned[module]]).sort(
                    "row_number", "column_name")
            store.record_sen2_rejected(rec.con, export, module, f.sha256,
                                       rejected_records(module, r, orphaned.get(module)))
            with stage("transform"):
                staged_rows = stage_module(module, kept[module], rec.key, export)
            table = f"stage.sen2_{module}"
            replaced = store.replace_periods(rec.con, table, staged_rows, ("export_date",),
                                             f.sha256)
            rec.record(f, r, staged_rows.height, export.isoformat(), table,
                       [export.isoformat()])
            if replaced:
                store.supersede(rec.con, table, f.name)
            outcomes.append(rec.outcome(f, r, staged_rows.height, export.isoformat()))
    return outcomes


def rejected_records(module: str, r: Read, orphaned: pl.DataFrame | None) -> pl.DataFrame:
    """A module's quarantined rows with each row's own table id and NativeId (what a
    caseworker finds the record by): the readiness checks report them
    (transforms.sen2_checks.quarantine_issues). A row the reader could not split into fields
    has none."""
    key = f"{module}tableid"
    ids = [r.validated.failed_ids] if r.validated.failed_ids is not None else []
    if orphaned is not None and orphaned.height:
        good = r.validated.good
        ids.append(good.filter(pl.col("row_number").is_in(orphaned["row_number"].implode()))
                   .select("row_number", key, pl.col("nativeid") if "nativeid" in good.columns
                           else pl.lit(None, pl.Utf8).alias("nativeid")))
    known = (pl.concat([i.select("row_number", pl.col(key).cast(pl.Utf8),
                                 pl.col("nativeid").cast(pl.Utf8)) for i in ids])
             .unique("row_number") if ids else
             pl.DataFrame(schema={"row_number": pl.Int64, key: pl.Utf8, "nativeid": pl.Utf8}))
    return r.quarantine.join(known.with_columns(pl.col("row_number").cast(
        r.quarantine.schema["row_number"])), on="row_number", how="left").select(
        "row_number", pl.col(key).alias("table_id"), pl.col("nativeid").alias("native_id"),
        "column_name", "rule", "value_masked")


def _staged_modules(con: duckdb.DuckDBPyConnection, export) -> set[str]:
    return {m for m in SEN2_MODULES if store.table_exists(con, f"stage.sen2_{m}")
            and con.execute(f"SELECT count(*) FROM stage.sen2_{m} WHERE export_date = ?",
                            [export]).fetchall()[0][0]}
