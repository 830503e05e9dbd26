"""kpi.sen_attendance: absence, persistent absence, suspensions and permanent exclusions by
term and SEN status, from a Blade census's attendance and exclusions (stage.census_attendance,
stage.census_exclusions; docs/kpis.md#sen-attendance defines each measure).

Pure functions, stamped like transforms/kpis.py's.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.census_attendance import PUPIL_FILE_SHA256, SUMMER_HALF_TERM_2, TERM
from transforms.kpis import _pct, _stamp
from transforms.records import Count, counted

SEN_STATUSES = ("ehcp", "sen_support", "no_sen")
# A leaver (or a leaver's exclusion with no provision on it) whom no census row describes:
# their return gives no SEN provision. A term has this row only when it has such a record.
UNKNOWN = "unknown"
STATUS_OF_PROVISION = {"E": "ehcp", "K": "sen_support", "N": "no_sen"}
TERMS = ("autumn", "spring", "summer")
# The DfE's absence cohort: pupils of compulsory school age, 5 to 15 on 31 August at the
# start of the academic year.
COMPULSORY_AGES = (5, 15)
# Persistent absence: 10% or more of possible sessions missed (compared in whole numbers,
# missed x 10 >= possible, so that 38 of 380 is exactly on the line).
PERSISTENT_TENTHS = 1

COLUMNS = {"academic_year": pl.Utf8, "term": pl.Utf8, "sen_status": pl.Utf8,
           "pupils": pl.Int64, "enrolments": pl.Int64, "sessions_possible": pl.Int64,
           "sessions_missed": pl.Int64, "absence_rate_pct": pl.Float64,
           "persistent_absentees": pl.Int64, "persistent_absence_pct": pl.Float64,
           "suspensions": pl.Int64, "pupils_suspended": pl.Int64,
           "pupils_suspended_pct": pl.Float64, "suspension_rate": pl.Float64,
           "permanent_exclusions": pl.Int64, "permanent_exclusion_rate": pl.Float64}


def easter_sunday(year: int) -> dt.date:
    """Easter Day in the Gregorian calendar (the anonymous Gregorian algorithm): the DfE's
    spring term ends on Easter Sunday and the summer term starts the day after."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def _academic_year(start: pl.Expr) -> pl.Expr:
    """`2024/25` from the calendar year the academic year starts in."""
    return pl.format("{}/{}", start, (start + 1).mod(100).cast(pl.Utf8).str.zfill(2))


def attendance_terms(census_date: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The (academic year's first calendar year, term) whose attendance a census reports:
    the term before it (the DfE's absence collection is one term in arrears). The spring
    census reports the autumn term, the summer census the spring term, the autumn census the
    summer term of the academic year before."""
    month, year = census_date.dt.month(), census_date.dt.year().cast(pl.Int32)
    term = (pl.when(month <= 3).then(pl.lit("autumn")).when(month <= 8).then(pl.lit("spring"))
            .otherwise(pl.lit("summer")))
    return year - 1, term


def exclusion_terms(start_date: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The (academic year's first calendar year, term) an exclusion starting on each date
    falls in, as the DfE counts them: autumn 1 August to 31 December, spring 1 January to
    Easter Sunday, summer Easter Monday to 31 July."""
    years = start_date.dt.year().cast(pl.Int32)
    easter = {y: easter_sunday(y) for y in years.drop_nulls().unique().to_list()}
    frame = pl.DataFrame({"d": start_date, "y": years}).with_columns(
        pl.col("y").replace_strict(easter, default=None, return_dtype=pl.Date).alias("easter"))
    out = frame.select(
        pl.when(pl.col("d").dt.month() >= 8).then(pl.col("y")).otherwise(pl.col("y") - 1)
        .alias("start"),
        pl.when(pl.col("d").dt.month() >= 8).then(pl.lit("autumn"))
        .when(pl.col("d") <= pl.col("easter")).then(pl.lit("spring"))
        .otherwise(pl.lit("summer")).alias("term"))
    return out["start"], out["term"]


def _status(provision: str = "sen_provision") -> pl.Expr:
    return pl.col(provision).cast(pl.Utf8).replace_strict(STATUS_OF_PROVISION,
                                                          default=UNKNOWN)


def _with_all(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows again as sen_status `all`."""
    return pl.concat([frame, frame.with_columns(pl.lit("all").alias("sen_status"))])


# kpi.sen_attendance's records (attendance_records): a row an enrolment of the absence cohort
# or an exclusion record, each also under sen_status `all`.
RECORD_COLUMNS = {"academic_year": pl.Utf8, "term": pl.Utf8, "sen_status": pl.Utf8,
                  "pupil_id": pl.Utf8, "kind": pl.Utf8, "census_date": pl.Date,
                  "laestab": pl.Utf8, "start_date": pl.Date, "possible": pl.Int64,
                  "missed": pl.Int64, "persistent": pl.Boolean, "sha256": pl.Utf8,
                  "row_number": pl.Int64}
ENROLMENT = pl.col("kind") == "enrolment"
SUSPENDED = pl.col("kind").is_in(["suspension", "lunchtime"])
ATTENDANCE = {"pupils": Count(distinct_of="pupil_id"),
              "enrolments": Count(ENROLMENT),
              "sessions_possible": Count(ENROLMENT, sums="possible"),
              "sessions_missed": Count(ENROLMENT, sums="missed"),
              "persistent_absentees": Count(ENROLMENT & pl.col("persistent")),
              "suspensions": Count(SUSPENDED),
              "pupils_suspended": Count(SUSPENDED, distinct_of="pupil_id"),
              "permanent_exclusions": Count(pl.col("kind") == "permanent")}
# A term's absence counts are known when it has an enrolment record, its exclusion counts
# when it has an exclusion record (none reported is not none); its pupils always are.
KNOWN_WHEN = {"_absence": (ENROLMENT, ("enrolments", "sessions_possible", "sessions_missed",
                                       "persistent_absentees")),
              "_exclusions": (~ENROLMENT, ("suspensions", "pupils_suspended",
                                           "permanent_exclusions"))}


def attendance_records(attendance: pl.DataFrame | None, exclusions: pl.DataFrame | None,
                       census: pl.DataFrame | None = None) -> pl.DataFrame:
    """kpi.sen_attendance's records (RECORD_COLUMNS): each enrolment of the absence cohort
    (kind `enrolment`, with its possible and missed sessions and whether it is a persistent
    absence) and each exclusion record counted once (kind `suspension`, `lunchtime` or
    `permanent`, with its start date), in its academic year, term and SEN status, and again
    under `all`; a row of the table aggregates those of its year, term and status with the
    ATTENDANCE counts. `sha256` and `row_number` say where each was read from: an
    enrolment's pupilonroll row (its possible sessions), an exclusion's own row; null when
    the staged row does not say (staged before sendboard kept it). A leaver's is their
    pupilnolongeronroll row. `census`: stage.census's census_date, laestab, pupil_id and
    sen_provision, where a leaver's SEN status is found (leavers_status)."""
    return _with_all(pl.concat([_records(_enrolments(attendance, census)),
                                _records(_exclusion_records(exclusions, census))]))


def sen_attendance(attendance: pl.DataFrame | None, exclusions: pl.DataFrame | None,
                   source: str, as_of: dt.date, census: pl.DataFrame | None = None
                   ) -> pl.DataFrame:
    """A row per academic year, term and SEN status (`ehcp`, `sen_support`, `no_sen`, and
    `all`; `unknown` in a term with a leaver no census describes), for every term a loaded
    census reports attendance or exclusions for.

    Absence is the DfE's, per enrolment: of compulsory-school-age enrolments with possible
    sessions in the term (`enrolments`; a pupil at two schools is two, and so is a pupil who
    left one school during the term and is on roll at another), `absence_rate_pct` is
    sessions missed (authorised and unauthorised) over possible sessions, and
    `persistent_absence_pct` the share of enrolments that missed 10% or more of their own.
    The summer term is its two halves, but for pupils aged 15 (year 11), whose second half
    the DfE leaves out (most have left after their exams).
    Exclusions count records starting in the term, each once however many censuses report
    it: `suspensions` (lunchtime ones included), `pupils_suspended` (one or more),
    `permanent_exclusions`, with rates per 100 `pupils` (the distinct pupils the row
    describes: the absence cohort's, and any pupil suspended or excluded). SEN status is the
    enrolment's at the census that reports the term (a leaver's: leavers_status); an
    exclusion's, the record's own, else the pupil's there.
    A term without any attendance row has null absence measures; without any exclusion
    record, null exclusion counts (none reported is not none)."""
    records = attendance_records(attendance, exclusions, census)
    keys = ["academic_year", "term", "sen_status"]
    term = ["academic_year", "term"]
    counts = records.group_by(keys).agg(counted(ATTENDANCE))
    known = records.group_by(term).agg(
        *[has.any().alias(flag) for flag, (has, _) in KNOWN_WHEN.items()])
    grid = pl.concat([records.select(term).unique().join(
        pl.DataFrame({"sen_status": [*SEN_STATUSES, "all"]}), how="cross"),
        records.filter(pl.col("sen_status") == UNKNOWN).select(*keys).unique()])
    out = grid.join(counts, on=keys, how="left").join(known, on=term, how="left")
    out = out.with_columns(
        pl.col("pupils").fill_null(0),
        *[pl.when(pl.col(flag)).then(pl.col(c).fill_null(0)).alias(c)
          for flag, (_, columns) in KNOWN_WHEN.items() for c in columns])
    out = out.with_columns(
        _pct("sessions_missed", "sessions_possible").alias("absence_rate_pct"),
        _pct("persistent_absentees", "enrolments").alias("persistent_absence_pct"),
        _pct("pupils_suspended", "pupils").alias("pupils_suspended_pct"),
        _rate("suspensions", "pupils").alias("suspension_rate"),
        _rate("permanent_exclusions", "pupils").alias("permanent_exclusion_rate"))
    order = {t: i for i, t in enumerate(TERMS)}
    status_order = {s: i for i, s in enumerate((*SEN_STATUSES, UNKNOWN, "all"))}
    out = out.sort("academic_year", pl.col("term").replace_strict(order, return_dtype=pl.Int8),
                   pl.col("sen_status").replace_strict(status_order, return_dtype=pl.Int8))
    return _stamp(out.select([pl.col(c).cast(t) for c, t in COLUMNS.items()]),
                  "sen-attendance", source, as_of)


def _rate(num: str, den: str) -> pl.Expr:
    """Per 100 pupils, to two places as the DfE publishes suspension rates."""
    return pl.when(pl.col(den) > 0).then((100 * pl.col(num) / pl.col(den)).round(2))


def _records(frame: pl.DataFrame | None) -> pl.DataFrame:
    """`frame` as RECORD_COLUMNS, a column it lacks empty."""
    if frame is None:
        return pl.DataFrame(schema=RECORD_COLUMNS)
    return frame.select([(pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
                         for c, t in RECORD_COLUMNS.items()])


def _source(frame: pl.DataFrame, sha256: str) -> list[pl.Expr]:
    """The file (its SHA-256 in the column `sha256` names) and row each staged row was read
    from, where the frame has them."""
    file = [pl.col(sha256).alias("sha256")] if sha256 in frame.columns else []
    return file + ([pl.col("row_number")] if "row_number" in frame.columns else [])


def _on_roll(frame: pl.DataFrame) -> pl.Expr:
    """Whether each staged row is of a pupil on roll (not a leaver); rows staged before
    leavers were read say nothing, and are."""
    given = pl.col("on_roll") if "on_roll" in frame.columns else pl.lit(None)
    return given.cast(pl.Boolean).fill_null(True).alias("on_roll")


def leavers_status(frame: pl.DataFrame, census: pl.DataFrame | None) -> pl.DataFrame:
    """`frame` (staged rows with `on_roll`) with each leaver's `sen_provision` found where
    their return has none: the pupil's (by pseudonym) at the latest census before the one
    that reports them, preferring the school they left, else at another school that same
    census day (a pupil who moved); null (`unknown`) when no census row of the pupil is
    loaded. Rows on roll keep theirs."""
    leaving = frame.filter(~pl.col("on_roll") & pl.col("sen_provision").is_null())
    if census is None or leaving.height == 0:
        return frame.with_columns(pl.col("sen_provision").cast(pl.Utf8))
    keys = ["census_date", "laestab", "pupil_id"]
    wanted = leaving.select("census_date", pl.col("laestab").cast(pl.Utf8),
                            pl.col("pupil_id").cast(pl.Utf8)).unique()
    rows = census.select(pl.col("census_date").alias("_day"),
                         pl.col("laestab").cast(pl.Utf8).alias("_school"),
                         pl.col("pupil_id").cast(pl.Utf8),
                         pl.col("sen_provision").cast(pl.Utf8).alias("_found")).join(
        wanted, on="pupil_id").filter(pl.col("_day") <= pl.col("census_date"))
    found = rows.sort(pl.col("_day") < pl.col("census_date"), "_day",
                      pl.col("_school") == pl.col("laestab"), descending=True).unique(
        keys, keep="first").select(*keys, "_found")
    return frame.with_columns(pl.col("laestab").cast(pl.Utf8),
                              pl.col("pupil_id").cast(pl.Utf8)).join(
        found, on=keys, how="left").with_columns(
        pl.when(~pl.col("on_roll")).then(pl.coalesce(pl.col("sen_provision").cast(pl.Utf8),
                                                     "_found"))
        .otherwise(pl.col("sen_provision").cast(pl.Utf8)).alias("sen_provision")
    ).drop("_found")


def _enrolments(attendance: pl.DataFrame | None, census: pl.DataFrame | None = None
                ) -> pl.DataFrame | None:
    """The DfE's absence cohort: enrolments with possible sessions, of compulsory school age
    at the start of the academic year. An enrolment is a staged row of the term's sessions
    (a pupil's at a school, a leaver's apart), in autumn with its summer half-term 2 row's
    sessions added, but for pupils aged 15, whose second half the DfE leaves out. A summer
    half-term 2 row alone (a pupil who joined after the first half) is no enrolment: the
    DfE leaves out those first enrolled in the second half."""
    if attendance is None or attendance.height == 0:
        return None
    period = (pl.col("sessions_period") if "sessions_period" in attendance.columns
              else pl.lit(None)).cast(pl.Utf8).fill_null(TERM)
    start, term = attendance_terms(pl.col("census_date"))
    # Age on 31 August of the year the academic year starts: born September or later, a
    # year younger.
    age = start - pl.col("birth_year") - (pl.col("birth_month") >= 9).cast(pl.Int32)
    missed = (pl.col("sessions_authorised") + pl.col("sessions_unauthorised")).cast(pl.Int64)
    frame = attendance.with_columns(
        _on_roll(attendance), period.alias("_period"), start.alias("_start"),
        term.alias("term"), age.alias("_age"), missed.alias("_missed"),
        pl.col("sessions_possible").cast(pl.Int64).alias("_possible")).filter(
        pl.col("_age").is_between(*COMPULSORY_AGES))
    keys = ["census_date", "laestab", "pupil_id", "on_roll"]
    second = frame.filter((pl.col("_period") == SUMMER_HALF_TERM_2) & (pl.col("_age") < 15)
                          ).group_by(keys).agg(pl.col("_possible").sum().alias("_possible2"),
                                               pl.col("_missed").sum().alias("_missed2"))
    first = frame.filter((pl.col("_period") == TERM) & (pl.col("sessions_possible") > 0))
    if second.height:
        first = first.join(second, on=keys, how="left", nulls_equal=True).with_columns(
            (pl.col("_possible") + pl.col("_possible2").fill_null(0)).alias("_possible"),
            (pl.col("_missed") + pl.col("_missed2").fill_null(0)).alias("_missed"))
    first = leavers_status(first, census)
    possible, missed = pl.col("_possible"), pl.col("_missed")
    return first.select(
        _academic_year(pl.col("_start")).alias("academic_year"), "term",
        _status().alias("sen_status"), pl.col("pupil_id").cast(pl.Utf8),
        pl.lit("enrolment").alias("kind"), "census_date", "laestab",
        possible.alias("possible"), missed.alias("missed"),
        (missed * 10 >= PERSISTENT_TENTHS * possible).alias("persistent"),
        *_source(first, PUPIL_FILE_SHA256))


def _exclusion_records(exclusions: pl.DataFrame | None, census: pl.DataFrame | None = None
                       ) -> pl.DataFrame | None:
    """Each exclusion once: the same record (pupil, school, start, category) reported by
    two censuses (one and two terms in arrears), or on roll by one and as a leaver's by the
    next, counts once, as the latest census says it. A leaver's record without a SEN
    provision takes the one leavers_status finds."""
    if exclusions is None or exclusions.height == 0:
        return None
    once = exclusions.with_columns(pl.col("laestab", "pupil_id", "category").cast(pl.Utf8),
                                   _on_roll(exclusions)
                                   ).sort("census_date", descending=True).unique(
        ["pupil_id", "laestab", "start_date", "category"], keep="first", maintain_order=True)
    once = leavers_status(once, census)
    start, term = exclusion_terms(once["start_date"])
    return once.with_columns(start.alias("_start"), term.alias("term")).select(
        _academic_year(pl.col("_start")).alias("academic_year"), "term",
        _status().alias("sen_status"), "pupil_id", pl.col("category").alias("kind"),
        "census_date", "laestab", "start_date", *_source(once, "sha256"))
