"""The sample LA's school census in the COLLECT Blade layout: one CSV per table per census.

The same pupils, schools and codes as the flat files of `census.py` (the same seed gives the
same rows), laid out as an LA receives the COLLECT export: `schoolcensus` (one row per school
return), `pupilonroll` (one row per flat row), `senneeds` (spring only) and the term's FSM
periods table, linked by opaque `*tableid` strings; and the term before the census's attendance
(`termlysessionspossible`, `termlysessiondetailsonroll`) and exclusions
(`termlyexclusionsonroll`), from a random stream of their own (sample/attendance.py).
Columns per (year, term) follow the public spec in
SocialFinanceDigitalLabs/liia-tools-pipeline (liiatools/school_census_pipeline/spec/); what
was found there, and how a loader should read these files, is in docs/census-blade.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import weakref
from pathlib import Path

import numpy as np
import polars as pl

from sendboard.sample.attendance import (
    MOVED,
    POSSIBLE,
    census_attendance,
    leavers_attendance,
    summer_half_term_2,
)
from sendboard.sample.calendar import academic_age, census_day, to_days
from sendboard.sample.census import pupils_on_census
from sendboard.sample.establishments import LA_CODE
from sendboard.sample.world import World

# The spec's first schema per term: autumn from the 2015 base file, spring and summer from the
# tables its 2016 diff adds. Earlier censuses (autumn 2014, spring and summer 2015) have no
# schema there; they are written with the first one of their term.
FIRST_SCHEMA_YEAR = {"autumn": 2015, "spring": 2016, "summer": 2016}

_BASE_ON_ROLL = {
    "termlysessiondetails": (
        "termlysessiondetailsonrolltableid", "NativeId",
        "termlysessiondetailsonrollorderseqcolumn", "sourceid", "pupilonrolltableid",
        "absencesessions", "attendancereason"),
    "termlyexclusions": (
        "termlyexclusionsonrolltableid", "NativeId", "termlyexclusionsonrollorderseqcolumn",
        "sourceid", "pupilonrolltableid", "startdate", "sessions", "incare", "category",
        "reason", "senprovision")}
_BASE: dict[tuple[str, str], tuple[str, ...]] = {
    ("schoolcensus", "autumn"): (
        "schoolcensustableid", "NativeId", "schoolcensusorderseqcolumn", "sourceid", "name",
        "collection", "term", "year", "referencedate", "serialno", "sourcelevel", "estab",
        "softwarecode", "datetime", "release", "xversion", "lea"),
    ("schoolcensus", "spring"): (
        "schoolcensustableid", "NativeId", "schoolcensusorderseqcolumn", "sourceid", "term",
        "collection", "name", "year", "referencedate", "sourcelevel", "estab", "softwarecode",
        "release", "serialno", "xversion", "datetime", "lea"),
    ("schoolcensus", "summer"): (
        "schoolcensustableid", "NativeId", "schoolcensusorderseqcolumn", "sourceid", "name",
        "collection", "term", "year", "referencedate", "sourcelevel", "estab", "softwarecode",
        "release", "serialno", "xversion", "datetime", "lea"),
    ("pupilonroll", "autumn"): (
        "pupilonrolltableid", "NativeId", "pupilonrollorderseqcolumn", "sourceid",
        "schoolcensustableid", "upn", "formerupn", "surname", "forename", "middlenames",
        "preferredsurname", "uniquelearnernumber", "formersurname", "dob", "hoursatsetting",
        "schoollunchtaken", "parttime", "entrydate", "topupfunding", "termlysessionspossible",
        "termlysessionsauthorised", "termlysessionsunauthorised", "qualhrs", "nonqualhrs",
        "ftemp", "annualsessionsauthorised", "annualsessionsunauthorised", "moveoffrollflag",
        "annualsessionspossible", "fundedhours", "missingaddress", "duplicatenotfunded",
        "summerhalfterm2sessionspossible", "summerhalfterm2sessionsauthorised",
        "summerhalfterm2sessionsunauthorised", "gender", "yssa", "language", "classtype",
        "enrolstatus", "boarder", "adoptedfromcare", "senprovision", "ncyearactual",
        "mathsgcsehighestpriorattainment", "mathsgcsepriorattainmentyeargroup",
        "englishgcsehighestpriorattainment", "englishgcsepriorattainmentyeargroup",
        "mathsgcsefundingexemption", "englishgcsefundingexemption"),
    ("pupilonroll", "spring"): (
        "pupilonrolltableid", "NativeId", "pupilonrollorderseqcolumn", "sourceid",
        "schoolcensustableid", "upn", "formerupn", "surname", "forename", "uniquelearnernumber",
        "middlenames", "preferredsurname", "formersurname", "dob", "entrydate",
        "schoollunchtaken", "parttime", "senunitindicator", "resourcedprovisionindicator",
        "missingaddress", "hoursatsetting", "termlysessionspossible", "termlysessionsauthorised",
        "termlysessionsunauthorised", "fundedhours", "duplicatenotfunded", "moveoffrollflag",
        "topupfunding", "unitcontacttime", "gender", "ethnicity", "yssa", "language",
        "enrolstatus", "classtype", "boarder", "ncyearactual", "senprovision", "servicechild",
        "adoptedfromcare", "eyppe", "eyppbf"),
    ("pupilonroll", "summer"): (
        "pupilonrolltableid", "NativeId", "pupilonrollorderseqcolumn", "sourceid",
        "schoolcensustableid", "upn", "formerupn", "surname", "forename", "middlenames",
        "preferredsurname", "formersurname", "dob", "parttime", "entrydate",
        "termlysessionspossible", "termlysessionsauthorised", "termlysessionsunauthorised",
        "uniquelearnernumber", "hoursatsetting", "moveoffrollflag", "missingaddress",
        "fundedhours", "topupfunding", "schoollunchtaken", "gender", "yssa", "language",
        "enrolstatus", "classtype", "boarder", "ncyearactual", "senprovision",
        "adoptedfromcare"),
    ("senneeds", "spring"): (
        "senneedstableid", "NativeId", "senneedsorderseqcolumn", "sourceid",
        "pupilonrolltableid", "sentyperank", "sentype"),
    ("fsmperiodsonroll", "autumn"): (
        "fsmperiodsonrolltableid", "NativeId", "fsmperiodsonrollorderseqcolumn", "sourceid",
        "pupilonrolltableid", "fsmstartdate", "fsmenddate", "ukcountry"),
    ("fsmperiod", "spring"): (
        "fsmperiodtableid", "NativeId", "fsmperiodorderseqcolumn", "sourceid",
        "pupilonrolltableid", "fsmstartdate", "fsmenddate", "ukcountry"),
    ("fsmperiod", "summer"): (
        "fsmperiodtableid", "NativeId", "fsmperiodorderseqcolumn", "sourceid",
        "pupilonrolltableid", "fsmstartdate", "fsmenddate", "ukcountry"),
    # Attendance and exclusions: the same columns every term (autumn from the 2015 schema,
    # spring and summer from the 2016 diff's base tables).
    **{(f"{table}onroll", term): columns for term in ("autumn", "spring", "summer")
       for table, columns in _BASE_ON_ROLL.items()},
    # Leavers (pupils on roll for a session of the term who left before census day): the
    # 2015 schema's autumn table, the 2016 diff's spring and summer ones.
    ("pupilnolongeronroll", "autumn"): (
        "pupilnolongeronrolltableid", "NativeId", "pupilnolongeronrollorderseqcolumn",
        "sourceid", "schoolcensustableid", "upn", "formerupn", "surname", "forename",
        "middlenames", "uniquelearnernumber", "formersurname", "dob", "entrydate",
        "leavingdate", "parttime", "termlysessionspossible", "termlysessionsauthorised",
        "termlysessionsunauthorised", "annualsessionspossible", "annualsessionsauthorised",
        "annualsessionsunauthorised", "moveonrollflag", "missingaddress",
        "summerhalfterm2sessionsauthorised", "summerhalfterm2sessionspossible",
        "summerhalfterm2sessionsunauthorised", "qualhrs", "nonqualhrs", "gender", "boarder",
        "language", "ncyearleaving", "mathsgcsehighestpriorattainment",
        "mathsgcsepriorattainmentyeargroup", "englishgcsehighestpriorattainment",
        "englishgcsepriorattainmentyeargroup", "mathsgcsefundingexemption",
        "englishgcsefundingexemption",),
    ("pupilnolongeronroll", "spring"): (
        "pupilnolongeronrolltableid", "NativeId", "pupilnolongeronrollorderseqcolumn",
        "sourceid", "schoolcensustableid", "upn", "formerupn", "surname", "forename",
        "middlenames", "formersurname", "dob", "entrydate", "leavingdate", "parttime",
        "termlysessionspossible", "moveonrollflag", "termlysessionsauthorised",
        "termlysessionsunauthorised", "uniquelearnernumber", "gender", "ethnicity", "language",
        "boarder",),
    ("pupilnolongeronroll", "summer"): (
        "pupilnolongeronrolltableid", "NativeId", "pupilnolongeronrollorderseqcolumn",
        "sourceid", "schoolcensustableid", "upn", "formerupn", "surname", "forename",
        "middlenames", "formersurname", "dob", "entrydate", "leavingdate", "parttime",
        "termlysessionspossible", "termlysessionsauthorised", "termlysessionsunauthorised",
        "uniquelearnernumber", "moveonrollflag", "gender", "language", "boarder",),
    # Their sessions and exclusions, as the on-roll tables but linked to the leaver; in
    # autumn the summer term's second half, on roll and off.
    **{(f"{table}offroll", term): tuple(
        "pupilnolongeronrolltableid" if c == "pupilonrolltableid" else c.replace("onroll",
                                                                                "offroll")
        for c in _BASE_ON_ROLL[table]) for term in ("autumn", "spring", "summer")
       for table in ("termlysessiondetails", "termlyexclusions")},
    **{(f"summerhalfterm2sessiondetails{roll}", "autumn"): tuple(
        c.replace("termlysessiondetailsonroll", f"summerhalfterm2sessiondetails{roll}")
        .replace("pupilonrolltableid", "pupilonrolltableid" if roll == "onroll"
                 else "pupilnolongeronrolltableid")
        for c in _BASE_ON_ROLL["termlysessiondetails"]) for roll in ("onroll", "offroll")},
}

# The yearly diffs that touch these tables' columns, in the order the diff files list them
# (changes of codes only are left out). A rename moves the column to the end, as the spec's
# loader does (it pops the old key and inserts the new one).
_CHANGES: tuple[tuple[int, str, str, str, tuple[str, ...]], ...] = (
    (2016, "autumn", "pupilonroll", "rename", ("adoptedfromcare", "plaa")),
    (2016, "autumn", "pupilonroll", "add", ("countryofbirth", "proficiencyinenglish")),
    (2017, "autumn", "pupilonroll", "add", ("dafindicator", "extendedhours")),
    (2017, "autumn", "pupilonroll", "remove", (
        "proficiencyinenglish", "annualsessionspossible", "annualsessionsauthorised",
        "annualsessionsunauthorised")),
    (2017, "autumn", "pupilonroll", "add", (
        "resourcedprovisionindicator", "senunitindicator", "thirtyhourcode")),
    (2017, "autumn", "schoolcensus", "add", ("urn",)),
    (2017, "spring", "pupilonroll", "rename", ("adoptedfromcare", "plaa")),
    (2017, "spring", "pupilonroll", "add", ("countryofbirth", "proficiencyinenglish")),
    (2017, "summer", "pupilonroll", "rename", ("adoptedfromcare", "plaa")),
    (2017, "summer", "pupilonroll", "add", ("countryofbirth",)),
    (2018, "autumn", "pupilonroll", "remove", ("countryofbirth",)),
    (2018, "autumn", "pupilonroll", "add", ("servicechild",)),
    (2018, "spring", "pupilonroll", "add", ("dafindicator", "extendedhours", "thirtyhourcode")),
    (2018, "spring", "schoolcensus", "add", ("urn",)),
    (2018, "summer", "pupilonroll", "add", (
        "dafindicator", "extendedhours", "resourcedprovisionindicator", "senunitindicator",
        "thirtyhourcode")),
    (2018, "summer", "schoolcensus", "add", ("urn",)),
    (2019, "autumn", "pupilonroll", "add", (
        "englishgcsehighestpriorattainmentpreviousyear",
        "mathsgcsehighestpriorattainmentpreviousyear", "nonqualhrspreviousyear",
        "qualhrspreviousyear")),
    (2019, "spring", "pupilonroll", "remove", ("countryofbirth", "proficiencyinenglish")),
    (2019, "spring", "pupilonroll", "rename", ("eyppe", "eyppr")),
    (2019, "summer", "pupilonroll", "remove", ("countryofbirth",)),
    (2019, "summer", "pupilonroll", "add", ("servicechild",)),
    (2020, "autumn", "pupilonroll", "add", ("tlevelnonqualhrs", "tlevelqualhrs")),
    (2021, "autumn", "pupilonroll", "rename", (
        "englishgcsepriorattainmentyeargroup", "englishgcsepriorattainmentyear11")),
    (2021, "autumn", "pupilonroll", "rename", (
        "mathsgcsepriorattainmentyeargroup", "mathsgcsepriorattainmentyear11")),
    (2021, "spring", "pupilonroll", "add", (
        "termlysessionscoronavirus", "termlysessionseducational", "termlysessionsexceptional")),
    (2021, "summer", "pupilonroll", "add", (
        "termlysessionscoronavirus", "termlysessionseducational", "termlysessionsexceptional")),
    (2023, "autumn", "pupilonroll", "rename", ("gender", "sex")),
    (2023, "spring", "pupilonroll", "remove", ("termlysessionscoronavirus",)),
    (2023, "spring", "pupilonroll", "add", ("youngcarer",)),
    (2023, "summer", "pupilonroll", "remove", ("termlysessionscoronavirus",)),
    (2024, "autumn", "pupilonroll", "rename", ("thirtyhourcode", "eligibilitycode")),
    (2024, "autumn", "pupilonroll", "add", ("eyppr", "eyppbf")),
    (2024, "spring", "pupilonroll", "rename", ("gender", "sex")),
    (2024, "summer", "pupilonroll", "rename", ("gender", "sex")),
    (2024, "summer", "pupilonroll", "add", ("eyppr", "eyppbf", "expandedhours")),
    (2025, "autumn", "pupilonroll", "remove", (
        "termlysessionsauthorised", "termlysessionsunauthorised",
        "summerhalfterm2sessionsauthorised", "summerhalfterm2sessionsunauthorised",
        "summerhalfterm2sessionseducational", "summerhalfterm2sessionsexceptional")),
    (2025, "spring", "pupilonroll", "rename", ("thirtyhourcode", "eligibilitycode")),
    (2025, "spring", "pupilonroll", "remove", (
        "termlysessionsauthorised", "termlysessionsunauthorised", "termlysessionseducational",
        "termlysessionsexceptional")),
    (2025, "summer", "pupilonroll", "rename", ("thirtyhourcode", "eligibilitycode")),
    (2025, "summer", "pupilonroll", "remove", (
        "termlysessionsauthorised", "termlysessionsunauthorised", "termlysessionseducational",
        "termlysessionsexceptional")),
)

# The attendance tables' diffs (schema files 2016, 2017, 2020, 2021).
_CHANGES += (
    (2016, "autumn", "termlyexclusionsonroll", "remove", ("incare",)),
    (2017, "spring", "termlyexclusionsonroll", "remove", ("incare",)),
    (2017, "summer", "termlyexclusionsonroll", "remove", ("incare",)),
    (2020, "spring", "termlyexclusionsonroll", "add", (
        "reinstatementdate", "reviewdate", "reviewresult", "senexpert")),
    (2020, "summer", "termlyexclusionsonroll", "add", (
        "reinstatementdate", "reviewdate", "reviewresult", "senexpert")),
    (2020, "autumn", "termlysessiondetailsonroll", "rename", ("absencesessions", "sessions")),
    (2021, "autumn", "termlyexclusionsonroll", "remove", ("reason",)),
    (2021, "autumn", "termlyexclusionsonroll", "add", ("reason1", "reason2", "reason3")),
    *((2021, t, table, op, names) for t in ("spring", "summer") for table, op, names in (
        ("termlyexclusionsonroll", "remove", (
            "reason", "reinstatementdate", "reviewdate", "reviewresult", "senexpert")),
        ("termlyexclusionsonroll", "add", ("reason1", "reason2", "reason3")),
        ("termlysessiondetailsonroll", "rename", ("absencesessions", "sessions")))),
)

# The leavers' table's diffs (2016-2025), and its sessions' and exclusions' (as the on-roll
# tables': the same diffs name both); the summer half-term 2 tables' rename (2020).
_CHANGES += (
    (2016, "autumn", "pupilnolongeronroll", "add", ("countryofbirth",)),
    (2017, "autumn", "pupilnolongeronroll", "remove", (
        "annualsessionspossible", "annualsessionsauthorised", "annualsessionsunauthorised")),
    (2018, "autumn", "pupilnolongeronroll", "remove", ("countryofbirth",)),
    (2019, "autumn", "pupilnolongeronroll", "add", (
        "englishgcsehighestpriorattainmentpreviousyear",
        "mathsgcsehighestpriorattainmentpreviousyear", "nonqualhrspreviousyear",
        "qualhrspreviousyear")),
    (2020, "autumn", "pupilnolongeronroll", "add", ("tlevelnonqualhrs", "tlevelqualhrs")),
    (2021, "autumn", "pupilnolongeronroll", "rename", (
        "englishgcsepriorattainmentyeargroup", "englishgcsepriorattainmentyear11")),
    (2021, "autumn", "pupilnolongeronroll", "rename", (
        "mathsgcsepriorattainmentyeargroup", "mathsgcsepriorattainmentyear11")),
    (2023, "autumn", "pupilnolongeronroll", "rename", ("gender", "sex")),
    (2025, "autumn", "pupilnolongeronroll", "remove", (
        "termlysessionsauthorised", "termlysessionsunauthorised",
        "summerhalfterm2sessionsauthorised", "summerhalfterm2sessionsunauthorised")),
    *((y, t, "pupilnolongeronroll", op, names) for t in ("spring", "summer")
      for y, op, names in (
          (2017, "add", ("countryofbirth",)), (2019, "remove", ("countryofbirth",)),
          (2021, "add", ("termlysessionscoronavirus", "termlysessionseducational",
                         "termlysessionsexceptional")),
          (2023, "remove", ("termlysessionscoronavirus",)), (2024, "rename", ("gender", "sex")),
          (2025, "remove", ("termlysessionsauthorised", "termlysessionsunauthorised",
                            "termlysessionseducational", "termlysessionsexceptional")))),
    *((y, t, table.replace("onroll", "offroll"), op, names)
      for y, t, table, op, names in _CHANGES
      if table in ("termlysessiondetailsonroll", "termlyexclusionsonroll")),
    *((2020, "autumn", f"summerhalfterm2sessiondetails{roll}", "rename",
       ("absencesessions", "sessions")) for roll in ("onroll", "offroll")),
)

_TERM_CODE = {"autumn": "AUT", "spring": "SPR", "summer": "SUM"}


def schema_year(year: int, term: str) -> int:
    """The spec's schema year a census is written with: its own calendar year (the year of
    the census day), or the term's first schema for censuses older than the spec."""
    return max(year, FIRST_SCHEMA_YEAR[term])


def fsm_table(term: str) -> str:
    """The FSM periods table of a term: `fsmperiodsonroll` in autumn, `fsmperiod` otherwise."""
    return "fsmperiodsonroll" if term == "autumn" else "fsmperiod"


def census_tables(term: str) -> tuple[str, ...]:
    """The tables written for a census of this term (the spec has `senneeds` in spring only,
    and the summer half-term 2 tables in autumn only)."""
    needs = ("senneeds",) if term == "spring" else ()
    second_half = SECOND_HALF_TABLES if term == "autumn" else ()
    return ("schoolcensus", "pupilonroll", *needs, fsm_table(term),
            *ATTENDANCE_TABLES, *LEAVER_TABLES, *second_half)


ATTENDANCE_TABLES = ("termlysessiondetailsonroll", "termlyexclusionsonroll")
LEAVER_TABLES = ("pupilnolongeronroll", "termlysessiondetailsoffroll",
                 "termlyexclusionsoffroll")
SECOND_HALF_TABLES = ("summerhalfterm2sessiondetailsonroll",
                      "summerhalfterm2sessiondetailsoffroll")


def blade_columns(table: str, year: int, term: str) -> list[str]:
    """The spec's columns of `table` for a census, in the order its loader leaves them."""
    cols = list(_BASE[(table, term)])
    until = schema_year(year, term)
    for y, t, tab, op, names in _CHANGES:
        if t != term or tab != table or y > until:
            continue
        if op == "add":
            cols += [n for n in names if n not in cols]
        elif op == "remove":
            cols = [c for c in cols if c not in names]
        else:
            old, new = names
            cols.remove(old)
            cols.append(new)
    return cols


def blade_file_name(day: dt.date, table: str) -> str:
    return f"Blade-Export_{day:%d-%m-%Y}_{table}.csv"


# Ids: a keyed bijection of (field, table, census, row) onto 44 bits, printed as the hex
# `0002e817-8ca` shape of real exports. Being a bijection, no two ids of a sample can collide:
# unique within each table, and across tables and censuses too.
_MASK = np.uint64((1 << 44) - 1)
_ROW_BITS = 22
_FIELDS = {"tableid": 0, "NativeId": 1, "sourceid": 2}
_TABLES = {"schoolcensus": 0, "pupilonroll": 1, "senneeds": 2, "fsmperiod": 3,
           "fsmperiodsonroll": 4, "termlysessiondetailsonroll": 5, "termlyexclusionsonroll": 6,
           "pupilnolongeronroll": 7, "termlysessiondetailsoffroll": 8,
           "termlyexclusionsoffroll": 9, "summerhalfterm2sessiondetailsonroll": 10,
           "summerhalfterm2sessiondetailsoffroll": 11}
_TERM_INDEX = {"spring": 0, "summer": 1, "autumn": 2}
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _id_keys(seed: int) -> tuple[np.uint64, ...]:
    digest = hashlib.blake2b(f"sendboard census blade {seed}".encode(), digest_size=32).digest()
    words = [int.from_bytes(digest[i:i + 8], "little") & int(_MASK) for i in range(0, 32, 8)]
    return tuple(np.uint64(w | 1) for w in words)  # odd: multiplying by it is invertible


def _scramble(x: np.ndarray, keys: tuple[np.uint64, ...]) -> np.ndarray:
    k0, k1, k2, k3 = keys
    x = (x * k0 + k1) & _MASK
    x ^= x >> np.uint64(21)
    x = (x * k2) & _MASK
    x ^= x >> np.uint64(19)
    x = (x * k3) & _MASK
    return x ^ (x >> np.uint64(23))


def _hex(x: np.ndarray, digits: int, dash_after: int | None) -> pl.Series:
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    chars = _HEX[((x[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]
    if dash_after is not None:
        dash = np.full((len(x), 1), ord("-"), dtype=np.uint8)
        chars = np.hstack([chars[:, :dash_after], dash, chars[:, dash_after:]])
    # Through bytes: ten times faster than numpy's unicode strings into polars.
    raw = np.ascontiguousarray(chars).view(f"S{chars.shape[1]}").ravel()
    return pl.Series(raw).cast(pl.String)


def _ids(keys: tuple[np.uint64, ...], field: str, table: str, census: int, n: int
         ) -> pl.Series:
    if n >= 1 << _ROW_BITS:
        raise ValueError(f"{n} rows in one {table} table: ids are made for at most "
                         f"{(1 << _ROW_BITS) - 1}")
    head = ((_FIELDS[field] << 4 | _TABLES[table]) << 8 | census) << _ROW_BITS
    x = _scramble(np.arange(n, dtype=np.uint64) + np.uint64(head), keys)
    if field == "sourceid":  # real exports print source ids as 8 hex digits
        return _hex(x & np.uint64(0xFFFFFFFF), 8, None)
    return _hex(x, 11, 8)


def _blade_dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime("%Y-%b-%d 00:00:00")


def _write(df: pl.DataFrame, cols: list[str], path: Path) -> Path:
    blank = pl.lit(None, dtype=pl.String)
    df.select([pl.col(c) if c in df.columns else blank.alias(c) for c in cols]).write_csv(path)
    return path


_people_cache: list[tuple[weakref.ref[World], pl.DataFrame]] = []


def _people(world: World) -> pl.DataFrame:
    """Each child's personal columns, already in Blade form (one row a child). Built once per
    world: turning numpy strings into polars for every census would double the writer's time."""
    for ref, people in _people_cache:
        if ref() is world:
            return people
    ch = world.children
    people = pl.DataFrame({
        "upn": ch.upn.astype(str), "surname": ch.surname.astype(str),
        "forename": ch.forename.astype(str), "sex": ch.sex.astype(str),
        "dob": _blade_dates(ch.dob), "dob_day": ch.dob, "u_sen": ch.u_sen,
    })
    _people_cache[:] = [(weakref.ref(world), people)]  # a weak ref: never keeps a world alive
    return people


def _pupil_record(table: str, frame: pl.DataFrame, ids: pl.Series, source: pl.Series,
                  keys: tuple[np.uint64, ...], census: int, schools: np.ndarray, sc_ids: pl.Series,
                  columns: list[str]) -> list:
    """The columns a pupil row of `table` (pupilonroll, pupilnolongeronroll) starts with:
    its ids, its school's return, and the pupil's UPN, names, birth date and sex."""
    n = frame.height
    return [ids.alias(f"{table}tableid"), _ids(keys, "NativeId", table, census, n)
            .alias("NativeId"),
            pl.int_range(1, n + 1).cast(pl.String).alias(f"{table}orderseqcolumn"),
            source.alias("sourceid"),
            sc_ids.gather(np.searchsorted(schools, frame["school"].to_numpy()))
            .alias("schoolcensustableid"),
            "upn", "surname", "forename", "dob",
            pl.col("sex").alias("sex" if "sex" in columns else "gender")]


def write_census_blade(world: World, out_dir: Path, year: int, term: str) -> list[Path]:
    """Write one census as Blade tables (`Blade-Export_<DD-MM-YYYY>_<table>.csv`); returns
    the paths, `schoolcensus` first."""
    day_date = census_day(year, term)
    day = to_days(day_date)
    frame = world.establishments.frame
    keys = _id_keys(world.seed)
    census = ((year - 2000) * 3 + _TERM_INDEX[term]) & 0xFF

    def people(df: pl.DataFrame) -> pl.DataFrame:
        out = pl.concat([df, _people(world)[df["child"].to_numpy()]], how="horizontal")
        out = out.with_columns(pl.Series("estab", frame["estab_number"].to_numpy()
                                         [df["school"].to_numpy()].astype(str)))
        if (year, term) == (2014, "autumn"):
            # As the flat file: statements (S), School Action (A), School Action Plus (P),
            # BESD.
            out = out.with_columns(
                pl.when(pl.col("provision") == "E").then(pl.lit("S"))
                .when(pl.col("provision") == "K")
                .then(pl.when(pl.col("u_sen") < 0.07).then(pl.lit("A")).otherwise(pl.lit("P")))
                .otherwise(pl.lit("N")).alias("provision"),
                pl.col("need").replace("SEMH", "BESD"))
        return out.sort(["estab", "upn", "enrol"])

    df = _pupils_on(world, day)
    pupils = people(df)
    schools = np.unique(pupils["school"].to_numpy())
    # Leavers: on a school's roll at the census before and not on it now (moved, left the
    # LA, finished school), where the school makes this census's return.
    before_day = to_days(census_day(*census_before(year, term)))
    before = _pupils_on(world, before_day)
    here = ["child", "school"]
    leavers = people(before.join(df.select(here), on=here, how="anti").filter(
        pl.col("school").is_in(schools.tolist())))
    # Whether each pupil was on this school's roll at the census before: in autumn, the
    # summer term's sessions are only theirs (a new reception or year 7 pupil had none).
    was_here = pupils.select(here).join(before.select(here).unique().with_columns(
        pl.lit(True).alias("_here")), on=here, how="left")["_here"].fill_null(False
                                                                           ).to_numpy()
    n_sc = len(schools)
    sc_ids = _ids(keys, "tableid", "schoolcensus", census, n_sc)
    sc = pl.DataFrame({
        "schoolcensustableid": sc_ids,
        "NativeId": _ids(keys, "NativeId", "schoolcensus", census, n_sc),
        "schoolcensusorderseqcolumn": pl.int_range(1, n_sc + 1, eager=True).cast(pl.String),
        "sourceid": _ids(keys, "sourceid", "schoolcensus", census, n_sc),
        "estab": frame["estab_number"].gather(schools),
        "urn": frame["urn"].gather(schools).cast(pl.String),
    }).with_columns(
        name=pl.lit("School Census"), collection=pl.lit("SC"), term=pl.lit(_TERM_CODE[term]),
        year=pl.lit(str(year)), referencedate=pl.lit(_blade_dates(np.array([day]))[0]),
        sourcelevel=pl.lit("S"), softwarecode=pl.lit("SENDBOARD-SAMPLE"), lea=pl.lit(LA_CODE))

    n = len(pupils)
    pupil_ids = _ids(keys, "tableid", "pupilonroll", census, n)
    pupil_source = _ids(keys, "sourceid", "pupilonroll", census, n)
    pupil_cols = blade_columns("pupilonroll", year, term)
    por = pupils.select(
        *_pupil_record("pupilonroll", pupils, pupil_ids, pupil_source, keys, census, schools,
                       sc_ids, pupil_cols),
        pl.col("enrol").alias("enrolstatus"), pl.col("provision").alias("senprovision"),
        pl.col("nc").alias("ncyearactual"))
    possible, details, exclusions, joined = census_attendance(pupils, world.seed, census,
                                                              year, term)
    leavers = pl.concat([leavers.with_columns(pl.lit(None, pl.Float64).alias("given")),
                         _movers(pupils, joined, possible, frame, schools, world.seed, census,
                                 term)]).unique(here, keep="first", maintain_order=True).sort(
        ["estab", "upn", "enrol"])
    if term == "autumn":
        joined = np.flatnonzero(~was_here)
        possible = np.where(was_here, possible, 0)
        details = details.filter(~pl.col("row").is_in(joined))
        exclusions = exclusions.filter(~pl.col("row").is_in(joined))
    por = por.with_columns(_count(possible).alias("termlysessionspossible"))
    left_possible, whole, left_details, left_exclusions = leavers_attendance(
        leavers, world.seed, census, year, term)
    if term == "autumn":
        # Age 15 on 31 August before the summer term: year 11, whose second half the DfE
        # leaves out (they are written, as schools return them).
        year_11 = [academic_age(f["dob_day"].to_numpy(), before_day) == 15
                   for f in (pupils, leavers)]
        second, second_details = summer_half_term_2(pupils, was_here, year_11[0],
                                                    world.seed, census, year, 19)
        left_second, left_second_details = summer_half_term_2(
            leavers, whole, year_11[1], world.seed, census, year, 20)
        por = por.with_columns(_count(second, blank_zero=True)
                               .alias("summerhalfterm2sessionspossible"))

    paths = [_write(sc, blade_columns("schoolcensus", year, term),
                    out_dir / blade_file_name(day_date, "schoolcensus")),
             _write(por, pupil_cols, out_dir / blade_file_name(day_date, "pupilonroll"))]
    links = pl.DataFrame({"pupilonrolltableid": pupil_ids, "sourceid": pupil_source})

    if term == "spring":
        ranked = [links.with_columns(pl.lit(f"{rank}.0").alias("sentyperank"),
                                     pupils[col].alias("sentype"))
                  .filter(pl.col("sentype") != "") for rank, col in ((1, "need"), (2, "need2"))]
        needs = pl.concat(ranked).sort("pupilonrolltableid", "sentyperank")
        paths.append(_write(_with_ids(needs, keys, "senneeds", census),
                            blade_columns("senneeds", year, term),
                            out_dir / blade_file_name(day_date, "senneeds")))

    # An eligible pupil's one FSM period began a while before the census day (never before
    # age two) and is still open.
    child = pupils["child"].to_numpy()
    back = 14 + (_scramble(child.astype(np.uint64), keys) % np.uint64(1200)).astype(np.int64)
    start = np.minimum(np.maximum(day - back, pupils["dob_day"].to_numpy() + 730), day)
    fsm = links.with_columns(pl.Series("fsmstartdate", _blade_dates(start))).filter(
        pupils["fsm"])
    table = fsm_table(term)
    paths.append(_write(_with_ids(fsm, keys, table, census), blade_columns(table, year, term),
                        out_dir / blade_file_name(day_date, table)))

    def write(df: pl.DataFrame, table: str) -> None:
        if df.height == 0 and table in (*LEAVER_TABLES, *SECOND_HALF_TABLES):
            # A table with no rows is left out, as an export of a term when no leaver was
            # excluded would be: a file of a header alone would be rejected as empty.
            return
        paths.append(_write(df, blade_columns(table, year, term),
                            out_dir / blade_file_name(day_date, table)))

    write(_details(links, details, keys, "termlysessiondetailsonroll", census, year, term),
          "termlysessiondetailsonroll")
    write(_exclusion_rows(links, exclusions, keys, "termlyexclusionsonroll", census, year,
                          term), "termlyexclusionsonroll")

    # The leavers, linked to their school's return, and their sessions and exclusions.
    n = leavers.height
    left_ids = _ids(keys, "tableid", "pupilnolongeronroll", census, n)
    left_source = _ids(keys, "sourceid", "pupilnolongeronroll", census, n)
    left_cols = blade_columns("pupilnolongeronroll", year, term)
    # Left between the census before and this one's eve: at the end of the summer term
    # for most of an autumn census's leavers.
    span = max(day - before_day - 1, 1)
    left_on = np.where(whole, to_days(dt.date(year, 7, 22)), before_day + 1 + (
        _scramble(leavers["child"].to_numpy().astype(np.uint64), keys) % np.uint64(span)
    ).astype(np.int64))
    pnl = leavers.select(
        *_pupil_record("pupilnolongeronroll", leavers, left_ids, left_source, keys, census,
                       schools, sc_ids, left_cols),
        _blade_dates(left_on).alias("leavingdate"), pl.col("nc").alias("ncyearleaving"),
        _count(left_possible).alias("termlysessionspossible"))
    if term == "autumn":
        pnl = pnl.with_columns(_count(left_second, blank_zero=True)
                               .alias("summerhalfterm2sessionspossible"))
    write(pnl, "pupilnolongeronroll")
    left_links = pl.DataFrame({"pupilnolongeronrolltableid": left_ids, "sourceid": left_source})
    write(_details(left_links, left_details, keys, "termlysessiondetailsoffroll", census, year,
                   term), "termlysessiondetailsoffroll")
    write(_exclusion_rows(left_links, left_exclusions, keys, "termlyexclusionsoffroll",
                          census, year, term), "termlyexclusionsoffroll")
    if term == "autumn":
        write(_details(links, second_details, keys, "summerhalfterm2sessiondetailsonroll",
                       census, year, term), "summerhalfterm2sessiondetailsonroll")
        write(_details(left_links, left_second_details, keys,
                       "summerhalfterm2sessiondetailsoffroll", census, year, term),
              "summerhalfterm2sessiondetailsoffroll")
    return paths


def _movers(pupils: pl.DataFrame, joined: np.ndarray, possible: np.ndarray,
            schools_frame: pl.DataFrame, schools: np.ndarray, seed: int, census: int,
            term: str) -> pl.DataFrame:
    """Pupils who moved school during the term (spring and summer: an autumn census's
    leavers are mostly the summer's end): MOVED of those who joined part-way, sole
    registrations at a primary or secondary, each a leaver of another such school of the
    same kind, with the term's sessions before the move (`given`). A stream of its own."""
    rng = np.random.default_rng([seed, 21, census])
    kinds = schools_frame["kind"].to_numpy().astype(str)
    kind = kinds[pupils["school"].to_numpy()]
    moved = joined & (rng.random(len(joined)) < MOVED) & (
        pupils["enrol"].to_numpy().astype(str) == "C") & np.isin(kind, ["primary",
                                                                        "secondary"])
    if term == "autumn":
        moved[:] = False
    rows = np.flatnonzero(moved)
    before = np.empty(len(rows), dtype=np.int64)
    for k, r in enumerate(rows):
        others = schools[(kinds[schools] == kind[r]) & (schools != pupils["school"][int(r)])]
        before[k] = others[rng.integers(len(others))]
    return pupils[rows].with_columns(
        pl.Series("school", before, dtype=pupils.schema["school"]),
        pl.Series("estab", schools_frame["estab_number"].to_numpy()[before].astype(str)),
        pl.Series("given", np.maximum(POSSIBLE[term] - possible[rows], 1).astype(np.float64))
    ).sort(["estab", "upn", "enrol"])


def census_before(year: int, term: str) -> tuple[int, str]:
    """The census before this one (autumn's is the summer census of the same year)."""
    return {"spring": (year - 1, "autumn"), "summer": (year, "spring"),
            "autumn": (year, "summer")}[term]


_on_census_cache: list[tuple[weakref.ref[World], int, pl.DataFrame]] = []


def _pupils_on(world: World, day: int) -> pl.DataFrame:
    """pupils_on_census, kept for the next census (whose census before this one is)."""
    for ref, at, df in _on_census_cache:
        if ref() is world and at == day:
            return df
    df = pupils_on_census(world, day)
    _on_census_cache[:] = [*_on_census_cache[-1:], (weakref.ref(world), day, df)]
    return df


def _count(values: np.ndarray, blank_zero: bool = False) -> pl.Series:
    """Session counts as Blade writes them (`133.0`); `blank_zero`: none as blank."""
    counts = pl.Series(values)
    written = counts.cast(pl.Float64).cast(pl.String)
    return written.zip_with(counts > 0, pl.Series([None], dtype=pl.String).extend_constant(
        None, len(counts) - 1)) if blank_zero else written


# Blade writes counts as floats (`133.0`).
_SESSIONS = pl.col("sessions").cast(pl.Float64).cast(pl.String)


def _details(links: pl.DataFrame, details: pl.DataFrame, keys: tuple[np.uint64, ...],
             table: str, census: int, year: int, term: str) -> pl.DataFrame:
    """A sessions-details table's rows: each row's pupil (or leaver) by `links`, its code and
    sessions (`absencesessions` until the 2020-21 schemas)."""
    counted = "sessions" if "sessions" in blade_columns(table, year, term) else \
        "absencesessions"
    detail = links[details["row"].to_numpy()].with_columns(
        details["attendancereason"], details.select(_SESSIONS).to_series().alias(counted))
    return _with_ids(detail, keys, table, census)


def _exclusion_rows(links: pl.DataFrame, exclusions: pl.DataFrame,
                    keys: tuple[np.uint64, ...], table: str, census: int, year: int,
                    term: str) -> pl.DataFrame:
    excluded = links[exclusions["row"].to_numpy()].with_columns(
        _blade_dates(exclusions["startdate"].to_numpy()).alias("startdate"),
        exclusions.select(_SESSIONS).to_series(), exclusions["category"],
        exclusions["senprovision"].replace("", None),
        pl.lit("PA").alias("reason1" if "reason1" in blade_columns(table, year, term)
                           else "reason"))
    return _with_ids(excluded, keys, table, census)


def _with_ids(df: pl.DataFrame, keys: tuple[np.uint64, ...], table: str, census: int
              ) -> pl.DataFrame:
    """A child table's own id, NativeId and order; `sourceid` stays the pupil's, as in real
    exports."""
    n = len(df)
    return df.with_columns(
        _ids(keys, "tableid", table, census, n).alias(f"{table}tableid"),
        _ids(keys, "NativeId", table, census, n).alias("NativeId"),
        pl.int_range(1, n + 1, eager=True).cast(pl.String).alias(f"{table}orderseqcolumn"))
