"""The school census as COLLECT's Blade export (docs/census-blade.md): recognising its tables
and joining them into the flat census rows that every census loads as.

A Blade census is a set of CSVs, one a table: `schoolcensus` (a row a school return: the
census day, LA and establishment numbers, URN), `pupilonroll` (a row a pupil's registration,
linked to its return), `senneeds` (spring: a row a need, rank 1 the primary) and the term's
FSM periods table. Joined, a pupil row has the flat layout's columns, and the flat census
rules then judge it exactly as they judge a flat file.
"""

from __future__ import annotations

import re

import polars as pl

from schemas.contracts import BLADE_TABLE_NAMES, normalise_header
from transforms.validate import QUARANTINE_SCHEMA, quarantine_rows
from values.parse import date_of

# How deep a table sits: a return, a pupil's registration, then what hangs off a pupil.
_DEPTH = {"schoolcensus": 0, "pupilonroll": 1, "pupilnolongeronroll": 1}
_OWN_ID = re.compile(r"^(.+)tableid$")


def blade_table(headers: list[str]) -> str | None:
    """The Blade table a census file is (`pupilonroll`, `senneeds`, `addressesonroll`, ...)
    from its header, or None for a flat census (which has no `*tableid` column). A header
    has its own table's id and its parent's: the own one is the deepest (a need's file has
    `senneedstableid` and its pupil's `pupilonrolltableid`)."""
    names = {normalise_header(h) for h in headers}
    tables = [m.group(1) for n in sorted(names) if (m := _OWN_ID.match(n))]
    return max(tables, key=lambda t: _DEPTH.get(t, 2), default=None)


def used_table(table: str) -> str | None:
    """The table sendboard reads (`fsmperiodsonroll` reads as `fsmperiod`), or None for the
    tables it does not use (addresses, session details, exclusions, ...)."""
    return BLADE_TABLE_NAMES.get(table)


def set_key(file_name: str, table: str) -> str:
    """What the files of one export share: the name without its table's
    (`Blade-Export_16-01-2025_senneeds.csv` -> `blade-export_16-01-2025_.csv`)."""
    name = file_name.lower()
    at = name.rfind(table)
    return name if at < 0 else name[:at] + name[at + len(table):]


# Where the joined columns came from, for quarantine rows that name the Blade column.
BLADE_COLUMN = {"census_date": "referencedate", "laestab": "lea/estab", "urn": "urn",
                "upn": "upn", "date_of_birth": "dob", "sex": "sex", "nc_year_actual":
                "ncyearactual", "enrol_status": "enrolstatus", "sen_provision": "senprovision",
                "primary_sen_need": "sentype (rank 1)", "secondary_sen_need": "sentype (rank 2)",
                "fsm_eligible": "fsmperiod"}


def orphans(child: pl.DataFrame, link: str, parent_ids: pl.Series, parent: str,
            personal: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`child`'s rows whose `link` is one of `parent_ids`, and the others quarantined."""
    missing = ~child[link].is_in(parent_ids.implode())
    article = "an" if parent[0] in "aeiou" else "a"
    return quarantine_rows(child, missing, link,
                           f"links to {article} {parent} row that is missing or quarantined",
                           personal)


def join_tables(tables: dict[str, pl.DataFrame], personal: dict[str, set[str]],
                ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """The flat census rows (contract CENSUS's text columns, `row_number` the pupil's row in
    pupilonroll) from validated Blade tables, and the rows each table loses for links:
    a pupil whose return is missing, a need or FSM period whose pupil is, two needs of one
    rank for a pupil (neither is used: nothing says which is right).

    Without an FSM periods table `fsm_eligible` is null (not known), not "no"."""
    header = tables["schoolcensus"]
    pupils, lost_pupils = orphans(tables["pupilonroll"], "schoolcensustableid",
                                   header["schoolcensustableid"], "schoolcensus",
                                   personal.get("pupilonroll", set()))
    lost = {"pupilonroll": lost_pupils}
    ids = pupils["pupilonrolltableid"]
    returns = header.select(
        "schoolcensustableid", pl.col("referencedate").alias("census_date"),
        (pl.col("lea") + pl.col("estab")).alias("laestab"), "urn",
        date_of(header, "referencedate").alias("_day"))
    flat = pupils.join(returns, on="schoolcensustableid", how="left")
    needs = tables.get("senneeds")
    if needs is not None:
        needs, lost["senneeds"] = orphans(needs, "pupilonrolltableid", ids, "pupilonroll",
                                           personal.get("senneeds", set()))
        rank = pl.col("sentyperank").cast(pl.Float64, strict=False).cast(pl.Int32)
        needs = needs.with_columns(rank.alias("_rank"))
        twice = pl.struct("pupilonrolltableid", "_rank").is_duplicated()
        needs, repeated = quarantine_rows(needs, twice, "sentyperank",
                                          "repeats a rank another need of the pupil has", set())
        lost["senneeds"] = pl.concat([lost["senneeds"], repeated])
        for r, column in ((1, "primary_sen_need"), (2, "secondary_sen_need")):
            flat = flat.join(needs.filter(pl.col("_rank") == r).select(
                "pupilonrolltableid", pl.col("sentype").alias(column)),
                on="pupilonrolltableid", how="left")
    periods = tables.get("fsmperiod")
    if periods is not None:
        periods, lost["fsmperiod"] = orphans(periods, "pupilonrolltableid", ids,
                                              "pupilonroll", personal.get("fsmperiod", set()))
        on_day = periods.select(
            "pupilonrolltableid", date_of(periods, "fsmstartdate").alias("_start"),
            date_of(periods, "fsmenddate").alias("_end")).join(
            flat.select("pupilonrolltableid", "_day"), on="pupilonrolltableid")
        eligible = on_day.filter((pl.col("_start") <= pl.col("_day")) & (
            pl.col("_end").is_null() | (pl.col("_end") >= pl.col("_day")))
        )["pupilonrolltableid"].unique()
        flat = flat.with_columns(pl.when(pl.col("pupilonrolltableid").is_in(eligible.implode()))
                                 .then(pl.lit("1")).otherwise(pl.lit("0")).alias("fsm_eligible"))
    out = flat.select(
        "census_date", "laestab", "urn", "upn", pl.col("dob").alias("date_of_birth"), "sex",
        pl.col("ncyearactual").alias("nc_year_actual"),
        pl.col("enrolstatus").alias("enrol_status"),
        pl.col("senprovision").alias("sen_provision"),
        *[pl.col(c) if c in flat.columns else pl.lit(None, pl.Utf8).alias(c)
          for c in ("primary_sen_need", "secondary_sen_need", "fsm_eligible")],
        pl.col("row_number")).sort("row_number")
    return out, {t: q if q.height else pl.DataFrame(schema=QUARANTINE_SCHEMA)
                 for t, q in lost.items()}
