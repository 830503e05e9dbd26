"""SEN2 return readiness: the records of an export that read fine but are wrong.

The schema (schemas/sen2.py) quarantines rows that cannot be read or break a rule of one row;
these checks look across rows and modules of one export, and at GIAS, for what the DfE's
validation would reject (`error`), what it would ask about (`query`) and what distorts a
headline KPI (`quality`). Each issue names the case management system's own record (the
module's table id and NativeId) and the person's pseudonym, never a name or a UPN.

Checks look only at the records of the return (`_Export.s`): every record of a request
received or decided since 1 January of the year before census day, still open, or whose plan
had not ceased by then. A full Blade export holds every record since the system began, and
a plan ceased in 2016 is no part of the January return.

The catalogue and where each rule comes from: docs/sen2-readiness.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from transforms.placement_groups import TYPE_GROUP
from transforms.sen2 import sort_by_id, whole_number_ids
from transforms.validate import mask
from values.parse import parse_bool

SEVERITIES = ("error", "query", "quality")
ISSUE_SCHEMA = {"check_id": pl.Utf8, "severity": pl.Utf8, "module": pl.Utf8,
                "table_id": pl.Utf8, "native_id": pl.Utf8, "person_id": pl.Utf8,
                "fields": pl.Utf8, "values_masked": pl.Utf8}
TIMELINESS_DAYS = 140  # 20 weeks, as transforms.kpis counts a plan in time
SEND_MAX_AGE = 25  # the SEND age range is 0-25: a plan can run to the year the YP turns 25


@dataclass(frozen=True)
class Check:
    id: str
    severity: str  # error: DfE validation rejects it; query: the DfE asks; quality: a KPI
    module: str  # the module whose record the issue names
    message: str  # what is wrong, in plain English
    action: str  # what the caseworker does in the case management system
    fields: tuple[str, ...]  # the columns involved
    source: str  # where the rule comes from (docs/sen2-readiness.md)


_WITAN = "witan.sen2 plans_placements.clj"
_OWN = "sendboard's own"
# The DfE's validation rules themselves were not to hand: a rule marked so is sendboard's
# reading of the SEN2 guide's definitions, not the text of a DfE validation.
_READING = "sendboard's reading of the DfE SEN2 guide"

CHECKS: tuple[Check, ...] = (
    Check("upn-missing", "error", "person",
          "The person has no UPN and no ULN, and no UPN-unknown reason says why.",
          "Record the child's UPN (a young person's ULN), or the reason it is unknown "
          "(UPN unknown code) on the person record.",
          ("upn", "uniquelearnernumber", "upnunknown"),
          f"{_WITAN} issue-missing-upn-and-uln-no-reason"),
    Check("duplicate-upn", "error", "person",
          "Two or more person records share one UPN (or one ULN).",
          "Merge the duplicate person records into one, moving their requests and plans "
          "onto it, or correct the UPN that was keyed wrongly.",
          ("upn", "uniquelearnernumber"), f"{_READING} (a person once in the return)"),
    Check("duplicate-name-dob", "query", "person",
          "Two or more person records have the same surname, forename and date of birth but "
          "different UPNs (or none): probably one child recorded twice.",
          "Check whether the records are the same child; if so merge them and keep the "
          "right UPN.",
          ("surname", "forename", "personbirthdate"), _OWN),
    Check("age-outside-range", "query", "person",
          "The person has a plan active on census day but is certainly outside the SEND age "
          "range on that day (26 or over, or not yet born), from their birth year and month.",
          "Check the date of birth; if it is right, check whether the plan should have "
          "ceased (cease date and reason).",
          ("personbirthdate",), f"{_WITAN} issue-not-send-age"),
    Check("open-requests-multiple", "query", "requests",
          "The person has more than one request for assessment still open (no request "
          "outcome, or decided to assess with no assessment outcome).",
          "Close the request that duplicates another (outcome W, withdrawn) or record the "
          "outcome of the earlier one.",
          ("requestoutcome", "assessmentoutcome"), f"{_WITAN} issue-multiple-requests"),
    Check("request-outcome-future", "error", "requests",
          "The request outcome date is in the future.",
          "Correct the request outcome date to the date the decision was made.",
          ("requestoutcomedate",), f"{_READING} (no date after the collection)"),
    Check("assessment-outcome-future", "error", "assessment",
          "The assessment outcome date is in the future.",
          "Correct the assessment outcome date to the date the decision was made.",
          ("assessmentoutcomedate",), f"{_READING} (no date after the collection)"),
    Check("week20-exception-not-late", "query", "assessment",
          "An exception to the 20-week limit is recorded, but the plan was issued within 20 "
          "weeks of the request.",
          "Clear the 20-week exception flag (week20), or correct the request or plan date.",
          ("week20", "receiveddate", "startdate"), _OWN),
    Check("plan-not-assessed-y", "error", "namedplan",
          "A plan was issued but its assessment outcome is not Y (issue a plan).",
          "Set the assessment outcome to Y with its date, or remove the plan if none was "
          "issued.",
          ("assessmentoutcome",), f"{_READING} (a plan follows an assessment outcome Y)"),
    Check("plan-start-before-request", "error", "namedplan",
          "The plan starts before the request for assessment was received (and the plan "
          "was not transferred in from another LA).",
          "Correct the plan start date or the request received date; a plan transferred "
          "in needs its transfer LA on the active plan.",
          ("startdate", "receiveddate", "transferla"), f"{_READING} (dates in order)"),
    Check("plan-no-detail", "error", "namedplan",
          "The plan has no plan detail: no setting is named in it.",
          "Add the plan detail (the URN, UKPRN or SEN setting named in the plan).",
          ("plandetail",), f"{_READING} (a plan names its setting)"),
    Check("cease-date-future", "error", "namedplan",
          "The plan's cease date is in the future.",
          "Record the cease date only once the plan has ceased; correct or clear it.",
          ("ceasedate",), f"{_READING} (no date after the collection)"),
    Check("active-no-placement", "quality", "namedplan",
          "The plan is active on census day but has no placement that day (not transferred "
          "in): the placement mix counts it as placement unknown.",
          "Record the setting the child attended on census day (placement detail with entry "
          "date).",
          ("entrydate", "leavingdate", "transferla"),
          f"{_WITAN} issue-no-placement-detail-not-transferred-in"),
    Check("active-no-placement-transfer-in", "quality", "namedplan",
          "The plan, transferred in from another LA, is active on census day but has no "
          "placement that day: the placement mix counts it as placement unknown.",
          "Record the setting attended on census day; if the plan transferred in after "
          "census day, correct the plan's dates.",
          ("entrydate", "leavingdate", "transferla"),
          f"{_WITAN} issue-no-placement-detail-transferred-in"),
    Check("phase-transfer-overdue", "query", "activeplans",
          "The phase transfer deadline has passed with no final plan date recorded.",
          "Record the date the final amended plan was issued, or escalate the late phase "
          "transfer.",
          ("phasetransferduedate", "phasetransferfinaldate"),
          f"{_OWN}; the deadlines: SEND Regulations 2014 reg. 18"),
    Check("review-date-future", "error", "activeplans",
          "An annual review date (meeting, decision or draft) is in the future.",
          "Record review dates once the meeting or decision has happened; correct or clear "
          "them.",
          ("reviewmeeting", "lastreview", "reviewdraft"),
          f"{_READING} (no date after the collection)"),
    Check("primary-need-missing", "error", "activeplans",
          "The plan active on census day has no primary need (no SEN need of rank 1): the "
          "need mix cannot count it.",
          "Add the primary need (SEN type, rank 1).",
          ("sentype", "sentyperank"), f"{_WITAN} issue-missing-sen-type"),
    Check("rank1-needs-multiple", "error", "senneed",
          "The active plan has more than one need of rank 1 (primary need).",
          "Keep one primary need; rank the others 2, 3 ...",
          ("sentyperank",), f"{_READING} (one primary need)"),
    Check("placements-overlap", "query", "placementdetail",
          "Two placements of the same active plan with the same rank overlap in time "
          "(placements that end and start on the same day do not).",
          "Correct the entry or leaving date of one placement, or delete the duplicate.",
          ("entrydate", "leavingdate", "placementrank"), _OWN),
    Check("rank1-placements-multiple", "error", "placementdetail",
          "The active plan has more than one rank-1 placement on census day: the return "
          "cannot say where the child was placed.",
          "Record a leaving date on the placement that ended, or rank the other placement 2.",
          ("placementrank", "entrydate", "leavingdate"), f"{_READING} (one main placement)"),
    Check("placement-date-future", "error", "placementdetail",
          "The placement's entry or leaving date is in the future.",
          "Record placement dates once they have happened; correct or clear them.",
          ("entrydate", "leavingdate"), f"{_READING} (no date after the collection)"),
    Check("ceased-plan-open-placement", "query", "placementdetail",
          "The plan has ceased but this placement is still open (no leaving date, or one "
          "after the cease date).",
          "Record the placement's leaving date (on or before the plan's cease date), or "
          "correct the cease date.",
          ("leavingdate", "ceasedate"), _OWN),
    Check("urn-unknown", "error", "placementdetail",
          "The placement's URN is not in GIAS.",
          "Correct the URN (GIAS, get-information-schools.service.gov.uk), or record a "
          "UKPRN or SEN setting instead.",
          ("urn",), f"{_READING} (a URN GIAS knows); {_WITAN} GIAS lookups"),
    Check("urn-closed", "query", "placementdetail",
          "GIAS says the school closed before the placement began, or before census day "
          "while the placement is still open.",
          "Record the leaving date, or move the placement to the school's new URN (an "
          "academy conversion opens a new URN).",
          ("urn", "entrydate", "leavingdate"), _OWN),
    Check("urn-type-unexpected", "query", "placementdetail",
          "GIAS's type for the URN is not one expected for a SEND placement (e.g. a "
          "children's centre, a higher education institution, a British school overseas).",
          "Confirm the placement's URN; correct it if it names the wrong establishment.",
          ("urn",), f"{_WITAN} issue-urn-for-unexpected-*-gias-establishment-type"),
    Check("sen-unit-not-at-school", "query", "placementdetail",
          "The placement is flagged as a SEN unit, but GIAS says the school has none.",
          "Clear the SEN unit indicator, or ask the school to correct GIAS.",
          ("senunitindicator", "urn"), f"{_WITAN} issue-unexpected-senu-indicated"),
    Check("resourced-provision-not-at-school", "query", "placementdetail",
          "The placement is flagged as resourced provision, but GIAS says the school has "
          "none.",
          "Clear the resourced provision indicator, or ask the school to correct GIAS.",
          ("resourcedprovisionindicator", "urn"), f"{_WITAN} issue-unexpected-rp-indicated"),
)

_SCHEMA_RULE = "schemas/sen2.py (the row is quarantined)"
QUARANTINE_CHECKS: tuple[Check, ...] = (
    Check("upn-check-letter", "error", "person",
          "The UPN's check letter (or LA number) is wrong: it is not a valid UPN.",
          "Correct the UPN from the school's records.", ("upn",),
          f"{_SCHEMA_RULE}; domain.md (the UPN check letter)"),
    Check("uln-invalid", "error", "person", "The ULN is not 10 digits.",
          "Correct the ULN.", ("uniquelearnernumber",), _SCHEMA_RULE),
    Check("sensetting-invalid", "error", "plandetail, placementdetail",
          "The SEN setting is not one of the DfE's codes (OLA, OPA, EHE, EYP, OTH, NEET, "
          "NIEC, NIEO).", "Choose the right SEN setting code.", ("sensetting",),
          f"{_SCHEMA_RULE}; {_WITAN} issue-invalid-sen-setting"),
    Check("need-code-invalid", "error", "senneed", "The SEN type is not one of the DfE's need "
          "codes.", "Choose the right SEN type.", ("sentype",),
          f"{_SCHEMA_RULE}; {_WITAN} issue-invalid-sen-type"),
    Check("cease-reason-invalid", "error", "namedplan", "The cease reason is not a code 1 to 9.",
          "Choose the right cease reason.", ("ceasereason",), _SCHEMA_RULE),
    Check("cease-reason-missing", "error", "namedplan",
          "The plan has a cease date but no cease reason.", "Record the cease reason.",
          ("ceasereason", "ceasedate"), _SCHEMA_RULE),
    Check("request-received-future", "error", "requests",
          "The request received date is in the future.", "Correct the received date.",
          ("receiveddate",), _SCHEMA_RULE),
    Check("plan-start-future", "error", "namedplan", "The plan start date is in the future.",
          "Correct the plan start date.", ("startdate",), _SCHEMA_RULE),
    Check("cease-before-start", "error", "namedplan", "The plan ceases before it starts.",
          "Correct the cease or start date.", ("ceasedate", "startdate"), _SCHEMA_RULE),
    Check("request-outcome-before-received", "error", "requests",
          "The request was decided before it was received.",
          "Correct the request outcome or received date.",
          ("requestoutcomedate", "receiveddate"), _SCHEMA_RULE),
    Check("assessment-before-request", "error", "assessment",
          "The assessment was decided before its request was received.",
          "Correct the assessment outcome date or the request received date.",
          ("assessmentoutcomedate", "receiveddate"), "transforms/sen2.py orphans"),
    Check("leaving-before-entry", "error", "placementdetail",
          "The placement's leaving date is before its entry date.",
          "Correct the entry or leaving date.", ("leavingdate", "entrydate"), _SCHEMA_RULE),
    Check("placement-setting-missing", "error", "placementdetail",
          "The placement has no URN, UKPRN or SEN setting: nothing says where it is.",
          "Record the URN, UKPRN or SEN setting.", ("urn", "ukprn", "sensetting"),
          f"{_SCHEMA_RULE}; {_WITAN} issue-missing-sen2-estab"),
    Check("table-id-repeated", "error", "any",
          "Two different records carry the same table id; neither loads.",
          "Ask the system supplier: table ids must be unique.", ("*tableid",), _SCHEMA_RULE),
    Check("row-repeated", "error", "any",
          "The record is repeated exactly in the export; the copy does not load.",
          "Delete the duplicate record (or ask the supplier why the export repeats it).",
          ("*tableid",), _SCHEMA_RULE),
    Check("orphan-record", "error", "any",
          "The record links to a parent record (person, request, assessment, plan or active "
          "plan) that is missing or was itself quarantined.",
          "Fix the parent record's issue, or link this record to the right parent.",
          ("*tableid",), "transforms/sen2.py orphans"),
    Check("unreadable-field", "error", "any",
          "A field is blank where it is required, or cannot be read (a date, code or yes/no "
          "value in the wrong form).",
          "Correct the field named in the issue.", (), _SCHEMA_RULE),
)

# (column, rule prefix) -> check id; a column of None matches any column. The rule texts
# are schemas/sen2.py's and transforms/sen2.orphans'.
_QUARANTINE_RULES: tuple[tuple[str | None, str, str], ...] = (
    ("upn", "is a valid UPN", "upn-check-letter"),
    ("uniquelearnernumber", "is 10 digits", "uln-invalid"),
    ("sensetting", "is an SEN setting", "sensetting-invalid"),
    ("sentype", "is a need code", "need-code-invalid"),
    ("ceasereason", "is a cease reason", "cease-reason-invalid"),
    ("ceasereason", "is given when the plan has ceased", "cease-reason-missing"),
    ("receiveddate", "is not in the future", "request-received-future"),
    ("startdate", "is not in the future", "plan-start-future"),
    ("ceasedate", "is not before the plan's start", "cease-before-start"),
    ("requestoutcomedate", "is not before the request", "request-outcome-before-received"),
    ("assessmentoutcomedate", "is before its request was received",
     "assessment-before-request"),
    ("leavingdate", "is not before entry", "leaving-before-entry"),
    ("urn", "urn, ukprn or sensetting says where", "placement-setting-missing"),
    (None, "repeats the table id of a different row", "table-id-repeated"),
    (None, "repeats an identical earlier row", "row-repeated"),
    (None, "links to ", "orphan-record"),
)

# GIAS types no SEND placement is expected at (witan.sen2's GFE and OTHE lists, less the
# university technical colleges and online providers the DfE's caseload file counts).
# Any type placement_groups does not know is unexpected too: the placement mix counts its
# placements as unknown.
UNEXPECTED_TYPES = ("Higher education institutions", "British schools overseas",
                    "Offshore schools", "Service children's education",
                    "Institution funded by other government department", "Miscellaneous",
                    "Children's centre", "Children's centre linked site")

# Table id -> the link towards the person: module -> (link column, parent module).
_PARENT = {"requests": ("persontableid", "person"),
           "assessment": ("requeststableid", "requests"),
           "namedplan": ("assessmenttableid", "assessment"),
           "plandetail": ("namedplantableid", "namedplan"),
           "activeplans": ("requeststableid", "requests"),
           "placementdetail": ("activeplanstableid", "activeplans"),
           "senneed": ("activeplanstableid", "activeplans")}

# The staged columns the checks read, per module, with their types (a module of an older
# version lacks some: they read as null). None: a link id, of the module's id type.
COLUMNS_READ: dict[str, dict[str, pl.DataType | None]] = {
    "person": {"upn_id": pl.Utf8, "uln_id": pl.Utf8, "upnunknown": pl.Utf8,
               "birth_year": pl.Int32, "birth_month": pl.Int32, "identity_id": pl.Utf8},
    "requests": {"persontableid": None, "receiveddate": pl.Date,
                 "requestoutcomedate": pl.Date, "requestoutcome": pl.Utf8},
    "assessment": {"requeststableid": None, "assessmentoutcome": pl.Utf8,
                   "assessmentoutcomedate": pl.Date, "week20": pl.Boolean},
    "namedplan": {"assessmenttableid": None, "startdate": pl.Date, "ceasedate": pl.Date},
    "plandetail": {"namedplantableid": None},
    "activeplans": {"requeststableid": None, "transferla": pl.Utf8, "reviewmeeting": pl.Date,
                    "lastreview": pl.Date, "reviewdraft": pl.Date,
                    "phasetransferduedate": pl.Date, "phasetransferfinaldate": pl.Date},
    "placementdetail": {"activeplanstableid": None, "urn": pl.Int64, "placementrank": pl.Int64,
                        "entrydate": pl.Date, "leavingdate": pl.Date,
                        "senunitindicator": pl.Boolean,
                        "resourcedprovisionindicator": pl.Boolean},
    "senneed": {"activeplanstableid": None, "sentyperank": pl.Int64},
}


def check(check_id: str) -> Check:
    """A check of either catalogue by its id."""
    for c in (*CHECKS, *QUARANTINE_CHECKS):
        if c.id == check_id:
            return c
    raise KeyError(check_id)


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


class _Export:
    """One export's modules with ids of one type (`raw`), the columns the checks read (`m`)
    and of those the records of the return (`s`, see the module's docstring)."""

    def __init__(self, export: dict[str, pl.DataFrame], census_day: dt.date,
                 establishments: pl.DataFrame | None = None):
        typed = whole_number_ids({m: f for m, f in export.items() if m in COLUMNS_READ})
        self.raw = typed
        self.census_day = census_day
        self.establishments = establishments
        self.period_start = dt.date(census_day.year - 1, 1, 1)
        self.m = {m: _select(typed[m], m) for m in COLUMNS_READ}
        self._in_scope = self._requests_in_scope()
        self.s = self._scoped()

    def _requests_in_scope(self) -> pl.DataFrame:
        m, start = self.m, self.period_start
        assessment = m["assessment"]
        assessed = assessment.filter(pl.col("assessmentoutcome").is_not_null())
        lately = assessment.filter(pl.col("assessmentoutcomedate") >= start)
        recent = m["namedplan"].filter(
            pl.col("ceasedate").is_null() | (pl.col("ceasedate") >= start))
        planned = _semi(assessment, "assessmenttableid", recent)
        requests = m["requests"].with_columns(_open_request(assessed).alias("open"))
        return requests.filter(
            pl.col("open") | (pl.col("receiveddate") >= start)
            | (pl.col("requestoutcomedate") >= start)
            | _one_of("requeststableid", lately) | _one_of("requeststableid", planned))

    def _scoped(self) -> dict[str, pl.DataFrame]:
        m, keep = self.m, self._in_scope
        s = {"requests": keep, "person": _semi(m["person"], "persontableid", keep),
             "assessment": _semi(m["assessment"], "requeststableid", keep),
             "activeplans": _semi(m["activeplans"], "requeststableid", keep)}
        s["namedplan"] = _semi(m["namedplan"], "assessmenttableid", s["assessment"])
        s["plandetail"] = _semi(m["plandetail"], "namedplantableid", s["namedplan"])
        for child in ("placementdetail", "senneed"):
            s[child] = _semi(m[child], "activeplanstableid", s["activeplans"])
        return s

    # (Each frame below is read by several checks: worked out once.)
    @cached_property
    def plans(self) -> pl.DataFrame:
        """The return's named plans with their request (id and received date)."""
        return _join(_join(self.s["namedplan"], self.m["assessment"].select(
            "assessmenttableid", "requeststableid", "assessmentoutcome"), "assessmenttableid"),
            self.m["requests"].select("requeststableid", "receiveddate"), "requeststableid",
            "left")

    @cached_property
    def active_plans(self) -> pl.DataFrame:
        """Plans active on census day (transforms.kpis.active_on's rule)."""
        day = self.census_day
        return self.plans.filter((pl.col("startdate") <= day) & (
            pl.col("ceasedate").is_null() | (pl.col("ceasedate") > day)))

    @cached_property
    def transferred(self) -> pl.DataFrame:
        """Requests whose active plan record says it came from another LA."""
        return self.m["activeplans"].filter(pl.col("transferla").is_not_null()).select(
            "requeststableid").unique()

    @cached_property
    def person_ids(self) -> pl.DataFrame:
        """persontableid -> the person's pseudonym, as core_plans makes it."""
        person = self.raw["person"]
        return person.select("persontableid", _person_id(person).alias("person_id"))

    @cached_property
    def placed_at(self) -> pl.DataFrame | None:
        """The return's placements with a URN, with GIAS's row for it (`_known`); None
        without GIAS."""
        if self.establishments is None:
            return None
        return _join(self.s["placementdetail"].filter(pl.col("urn").is_not_null()),
                     self.gias.with_columns(pl.lit(True).alias("_known")), "urn", "left")

    @cached_property
    def gias(self) -> pl.DataFrame:
        return _gias(self.establishments)

    @cached_property
    def placed_on_census_day(self) -> pl.DataFrame:
        """Placements current on census day (as the placement mix reads them): entered on
        or before it and not left by it."""
        day = self.census_day
        return self.m["placementdetail"].filter(
            (pl.col("entrydate") <= day)
            & (pl.col("leavingdate").is_null() | (pl.col("leavingdate") > day)))

    @cached_property
    def unplaced(self) -> pl.DataFrame:
        """Plans active on census day with no placement current that day, with the transfer
        LA of their active plan and how many placements they have at all."""
        links = self.m["activeplans"].select("activeplanstableid", "requeststableid")
        placed = _semi(links, "activeplanstableid", self.placed_on_census_day)
        plans = _anti(self.active_plans, "requeststableid", placed)
        mine = _semi(links, "requeststableid", plans)
        recorded = _join(_semi(self.m["placementdetail"], "activeplanstableid", mine), mine,
                         "activeplanstableid").group_by("requeststableid").agg(
            pl.len().alias("placements"))
        transfer = _semi(self.m["activeplans"], "requeststableid", plans).filter(
            pl.col("transferla").is_not_null()).group_by("requeststableid").agg(
            pl.col("transferla").first())
        return _join(_join(plans, transfer, "requeststableid", "left"), recorded,
                     "requeststableid", "left")


def _person_id(person: pl.DataFrame) -> pl.Expr:
    return pl.coalesce("upn_id", "uln_id", pl.format("sen2:{}", "persontableid"))


def _open_request(assessed: pl.DataFrame) -> pl.Expr:
    """A request not yet settled: no outcome, or decided to assess with no assessment
    outcome yet (`assessed`: the assessments with one; withdrawn or refused requests are
    settled)."""
    return pl.col("requestoutcome").is_null() | (
        (pl.col("requestoutcome") == "A") & ~_one_of("requeststableid", assessed))


# Joins. A semi or anti join on a table id is a filter by `is_in` (for integer ids a sixth
# of the time of the join), and other joins run lazily (a third of the time of an eager
# join of a million rows each side, in polars 2.1).
def _one_of(column: str, other: pl.DataFrame | pl.Series) -> pl.Expr:
    """True where `column` is among `other`'s values of it (never null)."""
    ids = other if isinstance(other, pl.Series) else other.get_column(column)
    return pl.col(column).is_in(ids.drop_nulls().implode()).fill_null(False)


def _semi(frame: pl.DataFrame, column: str, other: pl.DataFrame | pl.Series) -> pl.DataFrame:
    return frame.filter(_one_of(column, other))


def _anti(frame: pl.DataFrame, column: str, other: pl.DataFrame | pl.Series) -> pl.DataFrame:
    return frame.filter(~_one_of(column, other))


def _join(frame: pl.DataFrame, other: pl.DataFrame, on: str, how: str = "inner"
          ) -> pl.DataFrame:
    return frame.lazy().join(other.lazy(), on=on, how=how).collect()


def _select(frame: pl.DataFrame, module: str) -> pl.DataFrame:
    """The module's id, the columns the checks read (null when this version lacks them) and
    booleans as booleans (a warehouse staged before they were typed holds text)."""
    exprs = [pl.col(f"{module}tableid")]
    for name, kind in COLUMNS_READ[module].items():
        if name not in frame.columns:
            exprs.append(pl.lit(None, kind or frame.schema[f"{module}tableid"]).alias(name))
        elif kind is pl.Boolean and frame.schema[name] != pl.Boolean:
            exprs.append(parse_bool(pl.col(name).cast(pl.Utf8)).alias(name))
        elif kind is not None and frame.schema[name] != kind:
            exprs.append(pl.col(name).cast(kind, strict=False).alias(name))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


# ---- the values an issue shows ----------------------------------------------------------

def _shown(name: str, value: pl.Expr | None = None) -> pl.Expr:
    """`name=value`, the value as text and masked as quarantine masks (none of the values
    shown is personal: pseudonyms, codes, dates, URNs)."""
    expr = pl.col(name) if value is None else value
    return pl.lit(f"{name}=") + mask(expr.cast(pl.Utf8), pl.lit(False))


def _values(*parts: pl.Expr) -> pl.Expr:
    return pl.concat_str(list(parts), separator="; ").alias("values_masked")


def _fields(*names: str) -> pl.Expr:
    return pl.lit(",".join(names)).alias("fields")


def _issues(frame: pl.DataFrame, module: str, fields: pl.Expr, values: pl.Expr
            ) -> pl.DataFrame:
    return frame.select(pl.col(f"{module}tableid"), fields, values)


# ---- the checks -------------------------------------------------------------------------

def _upn_missing(x: _Export, **_) -> pl.DataFrame:
    reason = pl.col("upnunknown").str.strip_chars()
    rows = x.s["person"].filter(pl.col("upn_id").is_null() & pl.col("uln_id").is_null()
                                & (reason.is_null() | (reason == "")))
    return _issues(rows, "person", _fields("upn", "uniquelearnernumber", "upnunknown"),
                   _values(_shown("upn_id"), _shown("uln_id"), _shown("upnunknown")))


def _duplicate_upn(x: _Export, **_) -> pl.DataFrame:
    person = x.s["person"]
    upn = pl.col("upn_id").is_not_null() & pl.col("upn_id").is_duplicated()
    uln = pl.col("uln_id").is_not_null() & pl.col("uln_id").is_duplicated()
    rows = person.with_columns(upn.alias("_upn"), uln.alias("_uln")).filter(
        pl.col("_upn") | pl.col("_uln"))
    fields = pl.concat_str([pl.when(pl.col("_upn")).then(pl.lit("upn")),
                            pl.when(pl.col("_uln")).then(pl.lit("uniquelearnernumber"))],
                           separator=",", ignore_nulls=True).alias("fields")
    values = pl.concat_str([pl.when(pl.col("_upn")).then(_shown("upn_id")),
                            pl.when(pl.col("_uln")).then(_shown("uln_id"))],
                           separator="; ", ignore_nulls=True).alias("values_masked")
    return _issues(rows, "person", fields, values)


def _duplicate_name_dob(x: _Export, **_) -> pl.DataFrame:
    person = x.s["person"].filter(pl.col("identity_id").is_not_null())
    rows = person.with_columns(_person_id(person).alias("_pid")).filter(
        pl.col("_pid").n_unique().over("identity_id") > 1)
    return _issues(rows, "person", _fields("surname", "forename", "personbirthdate"),
                   _values(_shown("identity_id")))


def _age_outside_range(x: _Export, **_) -> pl.DataFrame:
    day = x.census_day
    # Months from the birth month to census day's month: with only year and month known,
    # 313 or more is certainly past the 26th birthday, below 0 certainly before birth.
    months = (day.year - pl.col("birth_year")) * 12 + (day.month - pl.col("birth_month"))
    # (The few persons out of range first, then whether they have an active plan.)
    outside = x.s["person"].filter((months >= (SEND_MAX_AGE + 1) * 12 + 1) | (months < 0))
    theirs = _semi(x.m["requests"], "persontableid", outside)
    rows = _semi(outside, "persontableid", _semi(theirs, "requeststableid", x.active_plans))
    return _issues(rows, "person", _fields("personbirthdate"),
                   _values(_shown("birth_year"), _shown("birth_month"),
                           _shown("census_day", pl.lit(day))))


def _open_requests_multiple(x: _Export, **_) -> pl.DataFrame:
    open_ = _join(x.s["requests"].filter("open"), x.person_ids, "persontableid", "left")
    rows = open_.filter(pl.len().over("person_id") > 1)
    return _issues(rows, "requests", _fields("requestoutcome", "assessmentoutcome"),
                   _values(_shown("receiveddate"), _shown("requestoutcome")))


def _future(module: str, *columns: str) -> Callable[..., pl.DataFrame]:
    def run(x: _Export, today: dt.date, **_) -> pl.DataFrame:
        def late(c: str) -> pl.Expr:
            return (pl.col(c) > today).fill_null(False)

        rows = x.s[module].filter(pl.any_horizontal([late(c) for c in columns]))
        fields = pl.concat_str([pl.when(late(c)).then(pl.lit(c)) for c in columns],
                               separator=",", ignore_nulls=True).alias("fields")
        values = pl.concat_str([pl.when(late(c)).then(_shown(c)) for c in columns],
                               separator="; ", ignore_nulls=True).alias("values_masked")
        return _issues(rows, module, fields, values)
    return run


def _week20_not_late(x: _Export, **_) -> pl.DataFrame:
    flagged = x.s["assessment"].filter(pl.col("week20").fill_null(False))
    plans = _anti(_semi(x.plans, "assessmenttableid", flagged), "requeststableid",
                  x.transferred).select(
        "assessmenttableid", "startdate", "receiveddate",
        (pl.col("startdate") - pl.col("receiveddate")).dt.total_days().alias("days"))
    rows = _join(flagged, plans, "assessmenttableid").filter(
        pl.col("days") <= TIMELINESS_DAYS)
    return _issues(rows, "assessment", _fields("week20", "receiveddate", "startdate"),
                   _values(_shown("week20"), _shown("receiveddate"), _shown("startdate"),
                           _shown("days")))


def _plan_not_assessed_y(x: _Export, **_) -> pl.DataFrame:
    rows = x.plans.filter(pl.col("assessmentoutcome").is_null()
                          | (pl.col("assessmentoutcome") != "Y"))
    return _issues(rows, "namedplan", _fields("assessmentoutcome"),
                   _values(_shown("assessmentoutcome")))


def _plan_start_before_request(x: _Export, **_) -> pl.DataFrame:
    rows = _anti(x.plans, "requeststableid", x.transferred).filter(
        pl.col("startdate") < pl.col("receiveddate"))
    return _issues(rows, "namedplan", _fields("startdate", "receiveddate"),
                   _values(_shown("startdate"), _shown("receiveddate")))


def _plan_no_detail(x: _Export, **_) -> pl.DataFrame:
    rows = _anti(x.s["namedplan"], "namedplantableid", x.m["plandetail"])
    return _issues(rows, "namedplan", _fields("plandetail"),
                   _values(_shown("plandetail", pl.lit("none"))))


def _no_placement(transferred: bool) -> Callable[..., pl.DataFrame]:
    def run(x: _Export, **_) -> pl.DataFrame:
        rows = x.unplaced.filter(pl.col("transferla").is_not_null() == transferred)
        return _issues(rows, "namedplan", _fields("entrydate", "leavingdate", "transferla"),
                       _values(_shown("census_day", pl.lit(x.census_day)),
                               _shown("placements", pl.col("placements").fill_null(0)),
                               _shown("transferla")))
    return run


def _phase_transfer_overdue(x: _Export, today: dt.date, **_) -> pl.DataFrame:
    due = x.s["activeplans"].filter((pl.col("phasetransferduedate") < today)
                                    & pl.col("phasetransferfinaldate").is_null())
    ceased = _semi(x.plans, "requeststableid", due).group_by("requeststableid").agg(
        pl.col("ceasedate").min())
    rows = _join(due, ceased, "requeststableid", "left").filter(
        pl.col("ceasedate").is_null() | (pl.col("ceasedate") > pl.col("phasetransferduedate")))
    return _issues(rows, "activeplans",
                   _fields("phasetransferduedate", "phasetransferfinaldate"),
                   _values(_shown("phasetransferduedate"), _shown("phasetransferfinaldate")))


def _primary_need_missing(x: _Export, **_) -> pl.DataFrame:
    primary = x.m["senneed"].filter(pl.col("sentyperank") == 1)
    rows = _anti(_semi(x.s["activeplans"], "requeststableid", x.active_plans),
                 "activeplanstableid", primary)
    return _issues(rows, "activeplans", _fields("sentype", "sentyperank"),
                   _values(_shown("primary need", pl.lit("none"))))


def _rank1_needs_multiple(x: _Export, **_) -> pl.DataFrame:
    rows = x.s["senneed"].filter(pl.col("sentyperank") == 1).filter(
        pl.col("activeplanstableid").is_duplicated())
    return _issues(rows, "senneed", _fields("sentyperank"),
                   _values(_shown("sentyperank"),
                           _shown("rank 1 needs", pl.len().over("activeplanstableid"))))


def _placements_overlap(x: _Export, **_) -> pl.DataFrame:
    key = ["activeplanstableid", "_rank"]
    never = dt.date(9999, 12, 31)
    dated = x.s["placementdetail"].filter(pl.col("entrydate").is_not_null()).with_columns(
        pl.col("placementrank").fill_null(1).alias("_rank"),
        pl.col("leavingdate").fill_null(never).alias("_until"))
    # Only plans with two placements of a rank can overlap: the pairs are built for those.
    several = dated.filter(pl.struct(key).is_duplicated())
    other = several.select(*key, pl.col("placementdetailtableid").alias("_other"),
                           pl.col("entrydate").alias("_entry2"), pl.col("_until").alias("_until2"))
    pairs = several.lazy().join(other.lazy(), on=key).filter(
        (pl.col("placementdetailtableid") != pl.col("_other"))
        & (pl.col("entrydate") < pl.col("_until2")) & (pl.col("_entry2") < pl.col("_until"))
    ).select("placementdetailtableid").collect()
    rows = _semi(several, "placementdetailtableid", pairs)
    return _issues(rows, "placementdetail", _fields("entrydate", "leavingdate", "placementrank"),
                   _values(_shown("entrydate"), _shown("leavingdate"), _shown("placementrank")))


def _rank1_placements_multiple(x: _Export, **_) -> pl.DataFrame:
    first = x.placed_on_census_day.filter(pl.col("placementrank").fill_null(1) == 1)
    rows = _semi(first.filter(pl.col("activeplanstableid").is_duplicated()),
                 "activeplanstableid", x.s["activeplans"])
    return _issues(rows, "placementdetail", _fields("placementrank", "entrydate", "leavingdate"),
                   _values(_shown("placementrank"), _shown("entrydate"), _shown("leavingdate"),
                           _shown("census_day", pl.lit(x.census_day))))


def _ceased_plan_open_placement(x: _Export, **_) -> pl.DataFrame:
    ceased = x.plans.filter(pl.col("ceasedate").is_not_null()).group_by(
        "requeststableid").agg(pl.col("ceasedate").max())
    ended = _join(x.m["activeplans"].select("activeplanstableid", "requeststableid"), ceased,
                  "requeststableid")
    rows = _join(x.s["placementdetail"], ended, "activeplanstableid").filter(
        pl.col("leavingdate").is_null() | (pl.col("leavingdate") > pl.col("ceasedate")))
    return _issues(rows, "placementdetail", _fields("leavingdate", "ceasedate"),
                   _values(_shown("leavingdate"), _shown("ceasedate")))


def _gias(establishments: pl.DataFrame) -> pl.DataFrame:
    wanted = {"type_of_establishment": pl.Utf8, "close_date": pl.Date,
              "sen_unit_on_roll": pl.Int64, "sen_unit_capacity": pl.Int64,
              "resourced_provision_on_roll": pl.Int64, "resourced_provision_capacity": pl.Int64,
              "type_of_resourced_provision": pl.Utf8}
    return establishments.select(
        pl.col("urn").cast(pl.Int64),
        *(pl.col(c).cast(k) if c in establishments.columns else pl.lit(None, k).alias(c)
          for c, k in wanted.items())
    ).filter(pl.col("urn").is_not_null()).unique("urn", keep="first", maintain_order=True)


def _urn_unknown(x: _Export, **_) -> pl.DataFrame | None:
    placed = x.placed_at
    if placed is None:
        return None
    rows = placed.filter(pl.col("_known").is_null())
    return _issues(rows, "placementdetail", _fields("urn"), _values(_shown("urn")))


def _urn_closed(x: _Export, **_) -> pl.DataFrame | None:
    placed = x.placed_at
    if placed is None:
        return None
    day = x.census_day
    still_open = pl.col("leavingdate").is_null() | (pl.col("leavingdate") > day)
    rows = placed.filter((pl.col("close_date") < pl.col("entrydate"))
                         | ((pl.col("close_date") < day) & still_open))
    return _issues(rows, "placementdetail", _fields("urn", "entrydate", "leavingdate"),
                   _values(_shown("urn"), _shown("close_date"), _shown("entrydate"),
                           _shown("leavingdate")))


def _urn_type_unexpected(x: _Export, **_) -> pl.DataFrame | None:
    placed = x.placed_at
    if placed is None:
        return None
    kind = pl.col("type_of_establishment")
    rows = placed.filter(kind.is_in(UNEXPECTED_TYPES) | ~kind.is_in(list(TYPE_GROUP)))
    return _issues(rows, "placementdetail", _fields("urn"),
                   _values(_shown("urn"), _shown("type_of_establishment")))


def _provision_not_at_school(indicator: str, capacity: str, on_roll: str, kind: str
                             ) -> Callable[..., pl.DataFrame | None]:
    def run(x: _Export, **_) -> pl.DataFrame | None:
        placed = x.placed_at
        if placed is None:
            return None
        gias = x.gias
        # An extract without the columns (or with them all blank) says nothing either way.
        told = gias.select(pl.any_horizontal(
            pl.col(capacity, on_roll, "type_of_resourced_provision").is_not_null().any()
        )).item()
        if not told:
            return None
        # Any of GIAS's columns saying the school has one is enough not to flag it.
        has = ((pl.col(capacity).fill_null(0) > 0) | (pl.col(on_roll).fill_null(0) > 0)
               | pl.col("type_of_resourced_provision").str.contains(kind).fill_null(False))
        rows = placed.filter(pl.col(indicator).fill_null(False) & pl.col("_known").is_not_null()
                             & ~has)
        return _issues(rows, "placementdetail", _fields(indicator, "urn"),
                       _values(_shown(indicator), _shown("urn"), _shown(capacity),
                               _shown(on_roll), _shown("type_of_resourced_provision")))
    return run


_RUNS: dict[str, Callable[..., pl.DataFrame | None]] = {
    "upn-missing": _upn_missing,
    "duplicate-upn": _duplicate_upn,
    "duplicate-name-dob": _duplicate_name_dob,
    "age-outside-range": _age_outside_range,
    "open-requests-multiple": _open_requests_multiple,
    "request-outcome-future": _future("requests", "requestoutcomedate"),
    "assessment-outcome-future": _future("assessment", "assessmentoutcomedate"),
    "week20-exception-not-late": _week20_not_late,
    "plan-not-assessed-y": _plan_not_assessed_y,
    "plan-start-before-request": _plan_start_before_request,
    "plan-no-detail": _plan_no_detail,
    "cease-date-future": _future("namedplan", "ceasedate"),
    "active-no-placement": _no_placement(transferred=False),
    "active-no-placement-transfer-in": _no_placement(transferred=True),
    "phase-transfer-overdue": _phase_transfer_overdue,
    "review-date-future": _future("activeplans", "reviewmeeting", "lastreview", "reviewdraft"),
    "primary-need-missing": _primary_need_missing,
    "rank1-needs-multiple": _rank1_needs_multiple,
    "placements-overlap": _placements_overlap,
    "rank1-placements-multiple": _rank1_placements_multiple,
    "placement-date-future": _future("placementdetail", "entrydate", "leavingdate"),
    "ceased-plan-open-placement": _ceased_plan_open_placement,
    "urn-unknown": _urn_unknown,
    "urn-closed": _urn_closed,
    "urn-type-unexpected": _urn_type_unexpected,
    "sen-unit-not-at-school": _provision_not_at_school(
        "senunitindicator", "sen_unit_capacity", "sen_unit_on_roll", "SEN unit"),
    "resourced-provision-not-at-school": _provision_not_at_school(
        "resourcedprovisionindicator", "resourced_provision_capacity",
        "resourced_provision_on_roll", "Resourced provision"),
}


def find_issues(export: dict[str, pl.DataFrame], establishments: pl.DataFrame | None,
                census_day: dt.date, today: dt.date) -> pl.DataFrame:
    """Every issue of CHECKS in one export's staged modules (transforms.sen2.stage_module's
    frames; the eight below `sen2` are needed), ISSUE_SCHEMA, in catalogue order then table
    id. `establishments`: the staged
    GIAS extract, or None to skip the GIAS checks. `census_day`: the January census day of
    the return; `today`: what a date must not be after."""
    x = _Export(export, census_day, establishments)
    found = []
    for c in CHECKS:
        rows = _RUNS[c.id](x, today=today)
        if rows is None or rows.height == 0:
            continue
        found.append(_named(x, c, rows))
    return pl.concat(found) if found else empty_issues()


def _named(x: _Export, c: Check, rows: pl.DataFrame) -> pl.DataFrame:
    """A check's rows (the module's table id, fields, values) as issues: one per record,
    with the record's NativeId and its person's pseudonym."""
    key = f"{c.module}tableid"
    rows = sort_by_id(rows.unique(key, keep="first", maintain_order=True), key)
    module = x.raw[c.module]
    native = module.select(key, pl.col("nativeid") if "nativeid" in module.columns
                           else pl.lit(None, pl.Utf8).alias("nativeid"))
    person = _persons_of(x, c.module, rows.select(key))
    return rows.join(_semi(native, key, rows), on=key, how="left",
                     maintain_order="left").join(
        person, on=key, how="left", maintain_order="left").select(
        pl.lit(c.id).alias("check_id"), pl.lit(c.severity).alias("severity"),
        pl.lit(c.module).alias("module"), pl.col(key).cast(pl.Utf8).alias("table_id"),
        pl.col("nativeid").cast(pl.Utf8).alias("native_id"), pl.col("person_id"),
        "fields", "values_masked")


def _persons_of(x: _Export, module: str, ids: pl.DataFrame) -> pl.DataFrame:
    """(the module's table id, person_id) for `ids`, following the links up to the person.
    Each module is first cut to the few rows the issues name, so that the joins are of a
    few rows, not a million."""
    key = f"{module}tableid"
    walk = ids.with_columns(pl.col(key).alias("_at"))
    at = module
    while at != "person":
        link, parent = _PARENT[at]
        up = x.raw[at].select(pl.col(f"{at}tableid").alias("_at"), pl.col(link).alias("_up"))
        walk = walk.join(_semi(up, "_at", walk), on="_at", how="left").drop(
            "_at").rename({"_up": "_at"})
        at = parent
    people = x.person_ids.rename({"persontableid": "_at"})
    return walk.join(_semi(people, "_at", walk), on="_at", how="left").select(
        key, "person_id").unique(key, keep="first")


def quarantine_issues(records: pl.DataFrame) -> pl.DataFrame:
    """The rows the schema (and transforms.sen2.orphans) quarantined, as issues:
    `records` holds module, table_id, native_id, column_name, rule, value_masked (the
    quarantine of one export, with each row's table id and NativeId). One issue per check
    and record, its fields the columns that failed; ISSUE_SCHEMA, in catalogue order."""
    if records.height == 0:
        return empty_issues()
    check_id = pl.lit("unreadable-field")
    for column, prefix, cid in reversed(_QUARANTINE_RULES):
        hit = pl.col("rule").str.starts_with(prefix)
        if column is not None:
            hit = hit & (pl.col("column_name") == column)
        check_id = pl.when(hit).then(pl.lit(cid)).otherwise(check_id)
    order = {c.id: i for i, c in enumerate(QUARANTINE_CHECKS)}
    severity = {c.id: c.severity for c in QUARANTINE_CHECKS}
    named = records.with_columns(
        check_id.alias("check_id"), pl.col("table_id").cast(pl.Utf8),
        pl.col("native_id").cast(pl.Utf8),
        (pl.col("column_name") + "=" + pl.col("value_masked").fill_null("<blank>"))
        .alias("_value"))
    grouped = named.group_by("check_id", "module", "table_id", maintain_order=True).agg(
        pl.col("native_id").first(),
        pl.col("column_name").unique(maintain_order=True).str.join(",").alias("fields"),
        pl.col("_value").unique(maintain_order=True).str.join("; ").alias("values_masked"))
    return grouped.with_columns(
        pl.col("check_id").replace_strict(severity).alias("severity"),
        pl.lit(None, pl.Utf8).alias("person_id"),
        pl.col("check_id").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
    ).sort("_order", pl.col("table_id").str.len_bytes(), "table_id", "module",
           nulls_last=True).select(list(ISSUE_SCHEMA))
