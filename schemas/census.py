"""The school census (pupil level), as pandera checks on its text columns."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from schemas.checks import (
    among_repeats,
    id_rules,
    is_boolean,
    is_date,
    is_upn,
    matches,
    one_of,
    row_rule,
)
from schemas.contracts import (
    ATTENDANCE_CODES,
    ENROL_STATUSES,
    EXCLUSION_CATEGORIES,
    LEGACY_NEED_CODES,
    LEGACY_PROVISION,
    NC_YEARS,
    NEED_CODES,
    SEN_PROVISION,
    pupil_link,
)
from values.ids import canonical_id
from values.parse import in_any_case, parsed_date

NEEDS = (*NEED_CODES, *LEGACY_NEED_CODES)
# The 2014 reforms replaced School Action (A), School Action Plus (P) and statements (S) with
# K and E from the spring 2015 census; autumn 2014 was the last census with the old codes.
LEGACY_PROVISION_UNTIL = dt.date(2015, 1, 1)

_census = parsed_date("census_date")
_dob = parsed_date("date_of_birth")


def _month_day(d: pl.Expr) -> pl.Expr:
    # month() is Int8: widen before scaling, or Octobers overflow.
    return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)


_age = (_census.dt.year() - _dob.dt.year()
        - (_month_day(_census) < _month_day(_dob)).cast(pl.Int32))


def _provision_in(*codes: str) -> pl.Expr:
    return in_any_case("sen_provision", codes)


_spring = _census.dt.month() <= 2
_on_roll = in_any_case("enrol_status", ["C", "M"])
_first = pl.struct(pl.all()).is_first_distinct()
# Sole or main registrations per pupil, counting an exact repeat of a row once: a pupil
# with two is a duplicated UPN among the rows that count (a hash, not a window per pupil).
_counted = _on_roll & _first
# ("=" keeps counted rows apart from the others' nulls; rows without a UPN count as one.)
_upn = canonical_id("upn")
_twice_on_roll = _counted & pl.when(_counted).then(pl.lit("=") + _upn.fill_null("")).is_duplicated()


def census_schema(blade: bool = False) -> pa.DataFrameSchema:
    """`blade=True`: the rows joined from a Blade export, where a return made before autumn
    2017 has no URN (the build takes it from GIAS by LAEstab) and an export without an FSM
    periods table says nothing of FSM (null: not known, which is not "not eligible")."""
    return pa.DataFrameSchema(
        {
            "census_date": pa.Column(pl.Utf8, checks=[is_date()]),
            "laestab": pa.Column(pl.Utf8, checks=[matches(r"^\d{7}$", "7 digits")]),
            "urn": pa.Column(pl.Utf8, nullable=blade, checks=[matches(r"^\d{6}$", "6 digits")]),
            "upn": pa.Column(pl.Utf8, checks=[is_upn()]),
            "date_of_birth": pa.Column(pl.Utf8, checks=[is_date()]),
            "sex": pa.Column(pl.Utf8, checks=[one_of(["M", "F"], "sex code")]),
            "nc_year_actual": pa.Column(pl.Utf8, checks=[
                one_of(NC_YEARS, "NC year", "E1, E2, N1, N2, R, 1-14 or X")]),
            "enrol_status": pa.Column(pl.Utf8, checks=[one_of(ENROL_STATUSES,
                                                              "enrolment status")]),
            "sen_provision": pa.Column(pl.Utf8, checks=[one_of(tuple(SEN_PROVISION),
                                                               "SEN provision code")]),
            "primary_sen_need": pa.Column(pl.Utf8, nullable=True,
                                          checks=[one_of(NEEDS, "need code")]),
            "secondary_sen_need": pa.Column(pl.Utf8, nullable=True,
                                             checks=[one_of(NEEDS, "need code")]),
            "fsm_eligible": pa.Column(pl.Utf8, nullable=blade,
                                      checks=[is_boolean()]),
        },
        checks=[
            row_rule("upn", "repeats an identical earlier row",
                     among_repeats(pl.col("upn"), _first)),
            row_rule("upn", "is on roll twice (two sole or main registrations) in this census",
                     among_repeats(_upn, ~_twice_on_roll)),
            row_rule("census_date", "is the file's census date (one census a file)",
                     _census == _census.mode().first()),
            row_rule("census_date", "is not in the future", _census <= dt.date.today()),
            row_rule("date_of_birth", "pupil aged 2-25 on census day", _age.is_between(2, 25)),
            row_rule("primary_sen_need", "is given when SEN provision is not N (spring census)",
                     ~_spring | _provision_in("N") | pl.col("primary_sen_need").is_not_null()),
            row_rule("primary_sen_need", "is blank when SEN provision is N",
                     ~_provision_in("N") | pl.col("primary_sen_need").is_null()),
            row_rule("sen_provision", "legacy code S, A or P only before 2015",
                     ~_provision_in(*LEGACY_PROVISION) | (_census < LEGACY_PROVISION_UNTIL)),
        ],
        name="census",
        strict=True,
    )


_RANK = matches(r"^[1-9]\d*(\.0+)?$", "a rank from 1")  # Blade writes ranks as 1.0, 2.0
# Sessions are half days, written as floats (`133.0`): a negative or part session is wrong.
_SESSIONS = matches(r"^\d+(\.0+)?$", "a whole number of sessions, 0 or more")


# A pupil's or leaver's possible sessions: the term's, and in autumn the summer term's second
# half's.
_POSSIBLE = ("termlysessionspossible", "summerhalfterm2sessionspossible")


def blade_table_schema(table: str) -> pa.DataFrameSchema:
    """The rules a Blade census table can check alone (CENSUS_BLADE). Pupils' own values are
    checked by census_schema once each pupil has its return's date and school."""
    def col(required: bool = True, checks: list | None = None) -> pa.Column:
        return pa.Column(pl.Utf8, nullable=not required, checks=checks or [])

    columns: dict = {
        "schoolcensus": {"schoolcensustableid": col(), "referencedate": col(checks=[is_date()]),
                         "lea": col(checks=[matches(r"^\d{3}$", "a 3-digit LA number")]),
                         "estab": col(checks=[matches(r"^\d{4}$", "4 digits")]),
                         "urn": col(False, [matches(r"^\d{6}$", "6 digits")])},
        "pupilonroll": {"pupilonrolltableid": col(), "schoolcensustableid": col(),
                        **{c: col(False) for c in ("upn", "dob", "sex", "ncyearactual",
                                                    "enrolstatus", "senprovision")}},
        "senneeds": {"senneedstableid": col(), "pupilonrolltableid": col(),
                     "sentype": col(checks=[one_of(NEEDS, "need code")]),
                     "sentyperank": col(checks=[_RANK])},
        "fsmperiod": {"fsmperiodtableid": col(), "pupilonrolltableid": col(),
                      "fsmstartdate": col(False, [is_date()]),
                      "fsmenddate": col(False, [is_date()])},
        "termlysessiondetails": {
            "termlysessiondetailstableid": col(), "pupilonrolltableid": col(),
            "sessions": col(checks=[_SESSIONS]),
            "attendancereason": col(checks=[one_of(ATTENDANCE_CODES, "attendance code")])},
        "termlyexclusions": {
            "termlyexclusionstableid": col(), "pupilonrolltableid": col(),
            "startdate": col(checks=[is_date()]),
            "category": col(checks=[one_of(tuple(EXCLUSION_CATEGORIES),
                                           "exclusion category")]),
            "sessions": col(False, [_SESSIONS]),
            "senprovision": col(False, [one_of(tuple(SEN_PROVISION), "SEN provision code")])},
        "pupilnolongeronroll": {
            "pupilnolongeronrolltableid": col(), "schoolcensustableid": col(),
            # A leaver has no census row for census_schema to check: their UPN and birth
            # date (for the absence cohort's age) are checked here, with the census's rules.
            "upn": col(checks=[is_upn()]), "dob": col(checks=[is_date()]),
            **{c: col(False) for c in _POSSIBLE}},
    }
    # Leavers' tables (`*offroll`) and the summer term's second half have the columns of
    # the on-roll term's, linked to the leaver where they are a leaver's.
    for name in ("termlysessiondetails", "termlyexclusions"):
        for twin, roll in ((f"{name}offroll", "offroll"),
                           ("summerhalfterm2sessiondetails", ""),
                           ("summerhalfterm2sessiondetailsoffroll", "offroll")):
            if name == "termlyexclusions" and twin.startswith("summer"):
                continue
            columns[twin] = {
                f"{twin}tableid": col(), pupil_link(roll): col(),
                **{c: v for c, v in columns[name].items()
                   if c not in (f"{name}tableid", "pupilonrolltableid")}}
    columns = columns[table]
    if table == "pupilonroll":
        # Checked with the pupil's sessions missed (transforms/census_attendance.py): a bad
        # count holds back the attendance, never the pupil's census row.
        columns.update({c: col(False) for c in _POSSIBLE})
    return pa.DataFrameSchema(columns, checks=id_rules(f"{table}tableid"),
                              name=f"census {table}", strict=True)
