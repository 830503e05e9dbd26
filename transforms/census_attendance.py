"""A Blade census's attendance and exclusions (docs/census-blade.md, "Attendance and
exclusions"): the pupils' possible sessions (`pupilonroll.termlysessionspossible`), their
sessions missed by reason (`termlysessiondetailsonroll`) and their suspensions and permanent
exclusions (`termlyexclusionsonroll`), linked to the pupil by `pupilonrolltableid`, as
staging rows keyed like the census's own: the census day, the school, the pupil's pseudonym.

Each row also carries what the KPI needs of the pupil's census row (SEN provision, enrolment
status, year and month of birth), so the measures never have to find the pupil again.
"""

from __future__ import annotations

import polars as pl

from schemas.contracts import (
    AUTHORISED_ABSENCE,
    EXCLUSION_CATEGORIES,
    SEN_PROVISION,
    UNAUTHORISED_ABSENCE,
)
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


def _whole(column: str) -> pl.Expr:
    """A session count as Blade writes it (`133.0`), or null when it is not a whole number."""
    number = pl.col(column).cast(pl.Float64, strict=False)
    return pl.when((number >= 0) & (number == number.floor())).then(number).cast(pl.Int32)


def sessions_missed(pupils: pl.DataFrame, details: pl.DataFrame
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each pupil's possible sessions and sessions missed (authorised, unauthorised) in the
    term before the census, from validated `pupilonroll` rows (`pupilonrolltableid`,
    `termlysessionspossible`) and validated `termlysessiondetails` rows of pupils that load;
    and the details rows held back, with why: every row of a pupil whose possible sessions
    are blank or not a whole number, or whose sessions missed add up to more than them.

    A pupil with possible sessions and no details row missed none. Codes that are not
    absence (present, approved activity, not counted as possible: X, Y, Z, #...) count on
    neither side, as the DfE counts them."""
    code = pl.col("attendancereason").str.to_uppercase()
    kind = (pl.when(code.is_in(AUTHORISED_ABSENCE)).then(pl.lit("authorised"))
            .when(code.is_in(UNAUTHORISED_ABSENCE)).then(pl.lit("unauthorised")))
    rows = details.with_columns(_whole("sessions").alias("_sessions"), kind.alias("_kind"))
    per_pupil = rows.group_by("pupilonrolltableid").agg(
        pl.col("_sessions").filter(pl.col("_kind") == "authorised").sum()
        .alias("sessions_authorised"),
        pl.col("_sessions").filter(pl.col("_kind") == "unauthorised").sum()
        .alias("sessions_unauthorised"))
    possible = pupils.select("pupilonrolltableid", "termlysessionspossible",
                             _whole("termlysessionspossible").alias("sessions_possible"))
    checked = rows.join(possible, on="pupilonrolltableid", how="left").join(
        per_pupil, on="pupilonrolltableid", how="left")
    good, no_possible = quarantine_rows(
        checked, pl.col("sessions_possible").is_null(), "termlysessionspossible",
        "is a whole number of possible sessions on the pupil's pupilonroll row (it has "
        "sessions missed)", set())
    good, too_many = quarantine_rows(
        good, pl.col("sessions_authorised") + pl.col("sessions_unauthorised")
        > pl.col("sessions_possible"), "sessions",
        "with the pupil's other sessions missed (authorised + unauthorised) exceeds their "
        "possible sessions (termlysessionspossible)", set())
    held = pl.concat([no_possible, too_many])
    held_back = checked.join(held.select("row_number"), on="row_number", how="semi")[
        "pupilonrolltableid"].unique()
    sessions = possible.filter(pl.col("sessions_possible").is_not_null()
                               & ~pl.col("pupilonrolltableid").is_in(held_back.implode())
                               ).join(per_pupil, on="pupilonrolltableid", how="left")
    sessions = sessions.select(
        "pupilonrolltableid", "sessions_possible",
        *[pl.col(c).fill_null(0).cast(pl.Int32) for c in ("sessions_authorised",
                                                          "sessions_unauthorised")])
    return sessions, held if held.height else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def stage_attendance(staged: pl.DataFrame, links: pl.DataFrame, sessions: pl.DataFrame
                     ) -> pl.DataFrame:
    """stage.census_attendance rows: a row a staged pupil with possible sessions.
    `staged`: stage.census rows; `links`: each pupilonroll `row_number` and its
    `pupilonrolltableid`."""
    return staged.select("row_number", *PUPIL_COLUMNS).join(
        links.select("row_number", "pupilonrolltableid"), on="row_number").join(
        sessions, on="pupilonrolltableid").drop("pupilonrolltableid").sort("row_number")


def stage_exclusions(staged: pl.DataFrame, links: pl.DataFrame, exclusions: pl.DataFrame
                     ) -> pl.DataFrame:
    """stage.census_exclusions rows: a row a suspension or permanent exclusion of a staged
    pupil (`row_number` the exclusion's row in its file). Its SEN provision is the one the
    exclusion record gives (the pupil's on the day), else the pupil's on census day."""
    own = pl.col("senprovision").str.to_uppercase().replace_strict(
        SEN_PROVISION, default=None, return_dtype=pl.Utf8)
    pupils = staged.select("row_number", *PUPIL_COLUMNS).join(
        links.select("row_number", "pupilonrolltableid"), on="row_number").drop("row_number")
    rows = exclusions.select(
        "row_number", "pupilonrolltableid", date_of(exclusions, "startdate").alias("start_date"),
        pl.col("category").str.to_uppercase().replace_strict(EXCLUSION_CATEGORIES)
        .alias("category"), _whole("sessions").alias("sessions"), own.alias("_own"))
    return rows.join(pupils, on="pupilonrolltableid").with_columns(
        pl.coalesce("_own", pl.col("sen_provision").cast(pl.Utf8)).alias("sen_provision")
    ).select("row_number", *PUPIL_COLUMNS, "start_date", "category", "sessions"
             ).sort("row_number")
