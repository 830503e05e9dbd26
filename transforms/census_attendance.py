"""A Blade census's attendance and exclusions (docs/census-blade.md, "Attendance and
exclusions"): the pupils' possible sessions (`pupilonroll.termlysessionspossible`), their
sessions missed by reason (`termlysessiondetailsonroll`) and their suspensions and permanent
exclusions (`termlyexclusionsonroll`), linked to the pupil by `pupilonrolltableid`, as
staging rows keyed like the census's own: the census day, the school, the pupil's pseudonym.
The same of the pupils who left during the term (`pupilnolongeronroll` and its `*offroll`
tables, linked by `pupilnolongeronrolltableid`), and, in autumn, of the summer term's second
half (`summerhalfterm2sessionspossible`, `summerhalfterm2sessiondetails*`).

Each row also carries what the KPI needs of the pupil's census row (SEN provision, enrolment
status, year and month of birth), so the measures never have to find the pupil again; a
leaver's return gives neither SEN provision nor enrolment status (kpi.sen_attendance finds
their SEN status in the census before).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from schemas.contracts import (
    AUTHORISED_ABSENCE,
    EXCLUSION_CATEGORIES,
    SEN_PROVISION,
    UNAUTHORISED_ABSENCE,
    pupil_link,
)
from transforms.privacy import birth_year_month, pseudonymise
from transforms.validate import QUARANTINE_SCHEMA, quarantine_rows
from values.parse import date_of

# What stage.census_attendance and stage.census_exclusions keep of the pupil's census row.
PUPIL_COLUMNS = ("census_date", "laestab", "urn", "pupil_id", "enrol_status", "sen_provision",
                 "nc_year", "birth_year", "birth_month")
# Where a row of stage.census_attendance was read from: its `row_number` is its pupil's row
# of the pupilonroll file (the enrolment and its possible sessions; the sessions missed add
# up that pupil's termlysessiondetails rows), whose SHA-256 is this column; its `sha256` is
# the details file's, as each staged row's is its file's (the load replaces and supersedes
# by it). A stage.census_exclusions row's `sha256` and `row_number` are its own file and row.
PUPIL_FILE_SHA256 = "pupilonroll_sha256"
# A leaver's row_number is their row of pupilnolongeronroll, and this column that file's.
# `on_roll` says which (null, for rows staged before leavers were read: on roll), and
# `sessions_period` whether the sessions are the term's (`term`) or, in autumn, the summer
# term's second half's (`summer_half_term_2`; null: the term's).
TERM, SUMMER_HALF_TERM_2 = "term", "summer_half_term_2"


@dataclass(frozen=True)
class Sessions:
    """A sessions-details table: whose sessions it holds (the pupils' table), which of their
    columns holds the possible sessions, and which sessions they are."""

    pupils: str  # pupilonroll or pupilnolongeronroll
    possible: str
    period: str

    @property
    def on_roll(self) -> bool:
        return self.pupils == "pupilonroll"

    @property
    def link(self) -> str:
        return pupil_link("" if self.on_roll else "offroll")


SESSION_TABLES = {
    "termlysessiondetails": Sessions("pupilonroll", "termlysessionspossible", TERM),
    "summerhalfterm2sessiondetails": Sessions("pupilonroll", "summerhalfterm2sessionspossible",
                                              SUMMER_HALF_TERM_2),
    "termlysessiondetailsoffroll": Sessions("pupilnolongeronroll", "termlysessionspossible",
                                            TERM),
    "summerhalfterm2sessiondetailsoffroll": Sessions(
        "pupilnolongeronroll", "summerhalfterm2sessionspossible", SUMMER_HALF_TERM_2)}
# The exclusions tables and whose exclusions they hold.
EXCLUSION_TABLES = {"termlyexclusions": "pupilonroll", "termlyexclusionsoffroll":
                    "pupilnolongeronroll"}
# The tables hanging off each pupils' table (what a held-back pupil takes with them).
CHILD_TABLES = {"senneeds": "pupilonroll", "fsmperiod": "pupilonroll",
                **{t: s.pupils for t, s in SESSION_TABLES.items()}, **EXCLUSION_TABLES}


def _whole(column: str) -> pl.Expr:
    """A session count as Blade writes it (`133.0`), or null when it is not a whole number."""
    number = pl.col(column).cast(pl.Float64, strict=False)
    return pl.when((number >= 0) & (number == number.floor())).then(number).cast(pl.Int32)


def sessions_missed(pupils: pl.DataFrame, details: pl.DataFrame,
                    table: Sessions = SESSION_TABLES["termlysessiondetails"]
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each pupil's possible sessions and sessions missed (authorised, unauthorised) in the
    term before the census (or its summer half-term 2), from validated rows of the pupils'
    table (`table.pupils`: their id `table.link` and `table.possible`) and validated
    sessions-details rows of pupils that load; and the details rows held back, with why:
    every row of a pupil whose possible sessions are blank or not a whole number, or whose
    sessions missed add up to more than them.

    A pupil with possible sessions and no details row missed none. Codes that are not
    absence (present, approved activity, not counted as possible: X, Y, Z, #...) count on
    neither side, as the DfE counts them."""
    link, column = table.link, table.possible
    code = pl.col("attendancereason").str.to_uppercase()
    kind = (pl.when(code.is_in(AUTHORISED_ABSENCE)).then(pl.lit("authorised"))
            .when(code.is_in(UNAUTHORISED_ABSENCE)).then(pl.lit("unauthorised")))
    rows = details.with_columns(_whole("sessions").alias("_sessions"), kind.alias("_kind"))
    per_pupil = rows.group_by(link).agg(
        pl.col("_sessions").filter(pl.col("_kind") == "authorised").sum()
        .alias("sessions_authorised"),
        pl.col("_sessions").filter(pl.col("_kind") == "unauthorised").sum()
        .alias("sessions_unauthorised"))
    given = pupils.select(link, (pl.col(column) if column in pupils.columns
                                 else pl.lit(None, pl.Utf8)).alias(column))
    possible = given.with_columns(_whole(column).alias("sessions_possible"))
    checked = rows.join(possible, on=link, how="left").join(per_pupil, on=link, how="left")
    good, no_possible = quarantine_rows(
        checked, pl.col("sessions_possible").is_null(), column,
        f"is a whole number of possible sessions on the pupil's {table.pupils} row (it has "
        "sessions missed)", set())
    good, too_many = quarantine_rows(
        good, pl.col("sessions_authorised") + pl.col("sessions_unauthorised")
        > pl.col("sessions_possible"), "sessions",
        "with the pupil's other sessions missed (authorised + unauthorised) exceeds their "
        f"possible sessions ({column})", set())
    held = pl.concat([no_possible, too_many])
    held_back = checked.join(held.select("row_number"), on="row_number", how="semi")[
        link].unique()
    sessions = possible.filter(pl.col("sessions_possible").is_not_null()
                               & ~pl.col(link).is_in(held_back.implode())
                               ).join(per_pupil, on=link, how="left")
    sessions = sessions.select(
        link, "sessions_possible",
        *[pl.col(c).fill_null(0).cast(pl.Int32) for c in ("sessions_authorised",
                                                          "sessions_unauthorised")])
    return sessions, held if held.height else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def stage_leavers(leavers: pl.DataFrame, returns: pl.DataFrame, like: pl.DataFrame,
                  key: bytes) -> pl.DataFrame:
    """The leavers (validated `pupilnolongeronroll` rows whose return loads) as the pupils
    their attendance and exclusions are staged with: `row_number`, `pupilnolongeronrolltableid`
    and PUPIL_COLUMNS, typed as `like`'s (stage.census rows). Their return gives the census
    day and school; their UPN becomes the census's keyed pseudonym and their date of birth a
    year and month; they have no enrolment status, SEN provision or NC year (null)."""
    heads = returns.select("schoolcensustableid",
                           date_of(returns, "referencedate").alias("census_date"),
                           (pl.col("lea") + pl.col("estab")).alias("laestab"),
                           pl.col("urn").cast(pl.Int32, strict=False).alias("urn"))
    rows = leavers.select("row_number", "pupilnolongeronrolltableid", "schoolcensustableid",
                          "upn", *birth_year_month(date_of(leavers, "dob"))
                          ).join(heads, on="schoolcensustableid")
    rows = pseudonymise(rows, {"upn": "pupil_id"}, key)
    blank = {"enrol_status", "sen_provision", "nc_year"}
    return rows.select("row_number", "pupilnolongeronrolltableid", *[
        (pl.lit(None) if c in blank else pl.col(c)).cast(like.schema[c]).alias(c)
        for c in PUPIL_COLUMNS]).sort("row_number")


def stage_attendance(staged: pl.DataFrame, links: pl.DataFrame, sessions: pl.DataFrame,
                     table: Sessions = SESSION_TABLES["termlysessiondetails"]) -> pl.DataFrame:
    """stage.census_attendance rows: a row a staged pupil (or leaver) with possible sessions,
    marked `on_roll` and with its `sessions_period`. `staged`: stage.census rows (or
    stage_leavers'); `links`: each pupils' row's `row_number` and its id (`table.link`)."""
    return staged.select("row_number", *PUPIL_COLUMNS).join(
        links.select("row_number", table.link), on="row_number").join(
        sessions, on=table.link).drop(table.link).with_columns(
        pl.lit(table.on_roll).alias("on_roll"),
        pl.lit(table.period).alias("sessions_period")).sort("row_number")


def stage_exclusions(staged: pl.DataFrame, links: pl.DataFrame, exclusions: pl.DataFrame,
                     pupils: str = "pupilonroll") -> pl.DataFrame:
    """stage.census_exclusions rows: a row a suspension or permanent exclusion of a staged
    pupil, or of a leaver (`pupils` pupilnolongeronroll), marked `on_roll` (`row_number` the
    exclusion's row in its file). Its SEN provision is the one the exclusion record gives
    (the pupil's on the day), else the pupil's on census day (a leaver has none there)."""
    on_roll = pupils == "pupilonroll"
    link = pupil_link("" if on_roll else "offroll")
    own = pl.col("senprovision").str.to_uppercase().replace_strict(
        SEN_PROVISION, default=None, return_dtype=pl.Utf8)
    known = staged.select("row_number", *PUPIL_COLUMNS).join(
        links.select("row_number", link), on="row_number").drop("row_number")
    rows = exclusions.select(
        "row_number", link, date_of(exclusions, "startdate").alias("start_date"),
        pl.col("category").str.to_uppercase().replace_strict(EXCLUSION_CATEGORIES)
        .alias("category"), _whole("sessions").alias("sessions"), own.alias("_own"))
    return rows.join(known, on=link).with_columns(
        pl.coalesce("_own", pl.col("sen_provision").cast(pl.Utf8)).alias("sen_provision")
    ).select("row_number", *PUPIL_COLUMNS, "start_date", "category", "sessions",
             pl.lit(on_roll).alias("on_roll")).sort("row_number")
