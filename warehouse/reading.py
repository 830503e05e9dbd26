"""Reading one landed file against its contract: archived, read, headers matched, validated.
The part of a load that needs no database."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from schemas.contracts import Contract
from transforms.readers import FileRejected, conform, read_raw
from transforms.timing import stage
from transforms.validate import Validated, validate
from values.parse import date_formats_used
from warehouse.archive import Archive
from warehouse.files import LandedFile, Read


def archive_file(f: LandedFile, archive: Archive) -> Path:
    """The file's sealed copy in the archive, made if it is not there yet. The prepare tasks
    make it, rather than the thread that commits: a national census is a 0.7 GB copy, 1-1.5
    s that held up every commit after it. load_batch then finds the copy there."""
    with stage("load"):
        return archive.keep(f.path, f.sha256, f.source)


def read_validated(path: Path, contract: Contract, schema, file_check=None,
                   known_only: bool = False, ids: tuple[str, ...] = ()) -> Read:
    """Read, match headers, validate; raises FileRejected for a file unusable as a whole.
    `known_only`: read only the contract's columns, the others unreported (a Blade census
    table has dozens that sendboard never uses). `ids`: the record id columns quarantined
    rows keep (transforms.validate.validate)."""
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
        v = validate(conformed.frame, schema, contract.personal, consume=True, ids=ids)
        reject_if_every_row_fails(v, contract)
        quarantine = pl.concat([raw.problems, v.quarantine]).sort("row_number", "column_name")
        mixed = {c: f for c in contract.dates
                 if len(f := date_formats_used(v.good, c)) > 1}
    return Read(v, quarantine, conformed.unknown_columns, raw, mixed)


def reject_if_every_row_fails(v: Validated, contract: Contract) -> None:
    """A file whose rows all fail the same rule is in the wrong format (another extract,
    another version's codes), which one message says better than a quarantine row per row."""
    if v.good.height == 0 and (rule := _failed_by_every_row(v)):
        raise FileRejected(f"is not in the {contract.source} format: all {v.rows_read} "
                           f"rows fail the rule '{rule}' (expected columns: "
                           f"{', '.join(contract.required)})")


def _failed_by_every_row(v: Validated) -> str | None:
    """The rule (`column rule`) that every row of a file failed, if one did."""
    q = v.quarantine
    if v.rows_read == 0 or q.height == 0:
        return None
    every = q.group_by("column_name", "rule").agg(pl.col("row_number").n_unique().alias("n")) \
        .filter(pl.col("n") == v.rows_read).sort("column_name", "rule")
    return f"{every['column_name'][0]} {every['rule'][0]}" if every.height else None
