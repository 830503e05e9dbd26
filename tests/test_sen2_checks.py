"""The SEN2 readiness checks on hand-made Blade exports read through the loader's own path.

Every check has a case it must flag and a near miss it must not, each a clean child
(tests/sen2_builder.py: census day 16 January 2025, export and `today` 1 March 2025)
changed in one thing. All cases are one export, checked once; each case's issues are told
apart by their table ids (a row's id carries its child's number, and a case owns ten
children), and must be exactly the expected (check id, table id) pairs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import polars as pl
import pytest

from schemas.contracts import SEN2_MODULES
from schemas.sen2 import sen2_schema
from tests.sen2_builder import CENSUS_DAY, EXPORT, KEY, Blade, gias, native_id, staged
from transforms.sen2 import stage_module
from transforms.sen2_checks import (
    _QUARANTINE_RULES,
    CHECKS,
    ISSUE_SCHEMA,
    QUARANTINE_CHECKS,
    find_issues,
    quarantine_issues,
)

TODAY = EXPORT
Expected = list[tuple[str, int]]

# URNs of the hand-made GIAS extract.
SCHOOL = "100001"  # community primary, no SEN unit or resourced provision
UNIT_SCHOOL = "100002"  # a SEN unit (its type says so; capacity left blank)
CLOSED = "100003"  # closed 31 August 2024
CHILDRENS_CENTRE = "100004"
INDEPENDENT = "100005"  # another LA's independent school: a known, expected type
RP_BY_CAPACITY = "100006"  # type "Not applicable" but 20 resourced places
NO_RP = "100007"  # type "Not applicable", 0 places, 0 on roll
GIAS_ROWS = [
    {"URN": SCHOOL},
    {"URN": UNIT_SCHOOL, "TypeOfResourcedProvision (name)": "SEN unit"},
    {"URN": CLOSED, "EstablishmentStatus (name)": "Closed", "CloseDate": "31-08-2024"},
    {"URN": CHILDRENS_CENTRE, "TypeOfEstablishment (name)": "Children's centre",
     "EstablishmentTypeGroup (name)": "Children's centres"},
    {"URN": INDEPENDENT, "LA (code)": "866", "LA (name)": "Swindon",
     "TypeOfEstablishment (name)": "Other independent school",
     "EstablishmentTypeGroup (name)": "Independent schools"},
    {"URN": RP_BY_CAPACITY, "ResourcedProvisionCapacity": "20",
     "ResourcedProvisionOnRoll": "18"},
    {"URN": NO_RP, "ResourcedProvisionCapacity": "0", "ResourcedProvisionOnRoll": "0",
     "SenUnitCapacity": "0", "SenUnitOnRoll": "0"},
]


def _only(check_id: str, *ids: int) -> Expected:
    return [(check_id, i) for i in ids]


# Each case builds its children from child number `c` (up to c + 9) and returns the issues
# it must raise. "near" cases must raise none.
def upn_missing(b: Blade, c: int) -> Expected:
    return _only("upn-missing", b.case(c, person={"upn": ""})["person"][0])


def upn_missing_near(b: Blade, c: int) -> Expected:
    b.case(c, person={"upn": "", "upnunknown": "UN2"})
    b.case(c + 1, person={"upn": "", "uniquelearnernumber": "1234567890"})
    return []


def duplicate_upn(b: Blade, c: int) -> Expected:
    first = b.case(c)["person"][0]
    again = b.case(c + 1, person={"upn": b.rows["person"][-1]["upn"].lower()})["person"][0]
    return _only("duplicate-upn", first, again)


def duplicate_upn_near(b: Blade, c: int) -> Expected:
    # Blank ULNs and UPNs are no one's: two children without them are not duplicates.
    b.case(c, person={"upn": "", "upnunknown": "UN2"})
    b.case(c + 1, person={"upn": "", "upnunknown": "UN2"})
    return []


def duplicate_name_dob(b: Blade, c: int) -> Expected:
    same = {"surname": "Marsh", "forename": "Sam", "personbirthdate": "2014-03-03"}
    first = b.case(c, person=same)["person"][0]
    again = b.case(c + 1, person=same | {"surname": " marsh ", "forename": "SAM"})["person"][0]
    return _only("duplicate-name-dob", first, again)


def duplicate_name_dob_near(b: Blade, c: int) -> Expected:
    # Twins: one surname and birth date, two forenames.
    b.case(c, person={"surname": "Brook", "forename": "Ann", "personbirthdate": "2014-03-03"})
    b.case(c + 1, person={"surname": "Brook", "forename": "Una",
                          "personbirthdate": "2014-03-03"})
    return []


def age_outside_range(b: Blade, c: int) -> Expected:
    # Born in December 1998: 26 by 16 January 2025 whatever the day.
    return _only("age-outside-range",
                 b.case(c, person={"personbirthdate": "1998-12-01"})["person"][0])


def age_outside_range_near(b: Blade, c: int) -> Expected:
    # Born 31 January 1999: 25 years 11 months on census day.
    b.case(c, person={"personbirthdate": "1999-01-31"})
    return []


def open_requests_multiple(b: Blade, c: int) -> Expected:
    p = b.person(c)
    pending = {"requestoutcome": "", "requestoutcomedate": ""}
    first = b.request(p, receiveddate="2024-10-01", **pending)
    second = b.request(p, receiveddate="2024-11-01", **pending)
    return _only("open-requests-multiple", first, second)


def open_requests_multiple_near(b: Blade, c: int) -> Expected:
    p = b.person(c)
    b.request(p, receiveddate="2024-10-01", requestoutcome="W",
              requestoutcomedate="2024-10-20")
    b.request(p, receiveddate="2024-11-01", requestoutcome="", requestoutcomedate="")
    return []


def request_outcome_future(b: Blade, c: int) -> Expected:
    r = b.request(b.person(c), receiveddate="2025-01-20", requestoutcome="N",
                  requestoutcomedate="2025-03-02")
    return _only("request-outcome-future", r)


def request_outcome_future_near(b: Blade, c: int) -> Expected:
    b.request(b.person(c), receiveddate="2025-01-20", requestoutcome="N",
              requestoutcomedate="2025-03-01")
    return []


def assessment_outcome_future(b: Blade, c: int) -> Expected:
    r = b.request(b.person(c), receiveddate="2024-06-01", requestoutcomedate="2024-07-01")
    return _only("assessment-outcome-future", b.assessment(
        r, assessmentoutcome="N", assessmentoutcomedate="2025-03-02"))


def assessment_outcome_future_near(b: Blade, c: int) -> Expected:
    r = b.request(b.person(c), receiveddate="2024-06-01", requestoutcomedate="2024-07-01")
    b.assessment(r, assessmentoutcome="N", assessmentoutcomedate="2025-03-01")
    return []


def _issued_after(days: int) -> dict:
    issued = (dt.date(2023, 1, 10) + dt.timedelta(days=days)).isoformat()
    return {"assessment": {"week20": 1, "assessmentoutcomedate": issued},
            "plan": {"startdate": issued}, "placements": [{"entrydate": issued}]}


def week20_exception_not_late(b: Blade, c: int) -> Expected:
    return _only("week20-exception-not-late", b.case(c, **_issued_after(140))["assessment"][0])


def week20_exception_not_late_near(b: Blade, c: int) -> Expected:
    b.case(c, **_issued_after(141))
    return []


def plan_not_assessed_y(b: Blade, c: int) -> Expected:
    return _only("plan-not-assessed-y",
                 b.case(c, assessment={"assessmentoutcome": "N"})["namedplan"][0])


def plan_not_assessed_y_near(b: Blade, c: int) -> Expected:
    b.case(c, assessment={"assessmentoutcome": "y"})
    return []


_EARLY_PLAN = {"request": {"receiveddate": "2023-01-10", "requestoutcomedate": "2023-01-10"},
               "assessment": {"assessmentoutcomedate": "2023-01-10"},
               "plan": {"startdate": "2023-01-09"}}


def plan_start_before_request(b: Blade, c: int) -> Expected:
    return _only("plan-start-before-request", b.case(c, **_EARLY_PLAN)["namedplan"][0])


def plan_start_before_request_near(b: Blade, c: int) -> Expected:
    # A plan transferred in started with the other LA, before this LA's request record.
    b.case(c, **_EARLY_PLAN, active={"transferla": "803"})
    b.case(c + 1, **_EARLY_PLAN | {"plan": {"startdate": "2023-01-10"}})
    return []


def plan_no_detail(b: Blade, c: int) -> Expected:
    return _only("plan-no-detail", b.case(c, omit=("plandetail",))["namedplan"][0])


def plan_no_detail_near(b: Blade, c: int) -> Expected:
    b.case(c, detail={"urn": "", "sensetting": "OTH"})
    return []


def cease_date_future(b: Blade, c: int) -> Expected:
    ids = b.case(c, plan={"ceasedate": "2025-03-02", "ceasereason": "2"},
                 placements=[{"leavingdate": "2025-01-31"}])
    return _only("cease-date-future", ids["namedplan"][0])


def cease_date_future_near(b: Blade, c: int) -> Expected:
    b.case(c, plan={"ceasedate": "2025-03-01", "ceasereason": "2"},
           placements=[{"leavingdate": "2025-01-31"}])
    return []


def active_no_placement(b: Blade, c: int) -> Expected:
    return _only("active-no-placement", b.case(c, omit=("placementdetail",))["namedplan"][0])


def active_no_placement_near(b: Blade, c: int) -> Expected:
    b.case(c, placements=[{"entrydate": "2025-01-16"}])  # entered on census day
    return []


def active_no_placement_transfer_in(b: Blade, c: int) -> Expected:
    ids = b.case(c, active={"transferla": "803"}, placements=[{"leavingdate": "2025-01-16"}])
    return _only("active-no-placement-transfer-in", ids["namedplan"][0])


def active_no_placement_transfer_in_near(b: Blade, c: int) -> Expected:
    b.case(c, active={"transferla": "803"}, placements=[{"leavingdate": "2025-01-17"}])
    return []


def phase_transfer_overdue(b: Blade, c: int) -> Expected:
    ids = b.case(c, active={"phasetransferduedate": "2025-02-15"})
    return _only("phase-transfer-overdue", ids["activeplans"][0])


def phase_transfer_overdue_near(b: Blade, c: int) -> Expected:
    b.case(c, active={"phasetransferduedate": "2025-03-01"})  # due today: not yet late
    b.case(c + 1, active={"phasetransferduedate": "2025-02-15",
                          "phasetransferfinaldate": "2025-02-10"})
    return []


def review_date_future(b: Blade, c: int) -> Expected:
    ids = b.case(c, active={"reviewmeeting": "2025-03-02", "lastreview": "2025-03-01"})
    return _only("review-date-future", ids["activeplans"][0])


def review_date_future_near(b: Blade, c: int) -> Expected:
    b.case(c, active={"reviewmeeting": "2025-03-01", "lastreview": "2025-03-01"})
    return []


def primary_need_missing(b: Blade, c: int) -> Expected:
    ids = b.case(c, needs=[{"sentype": "SLCN", "sentyperank": 2}])
    return _only("primary-need-missing", ids["activeplans"][0])


def primary_need_missing_near(b: Blade, c: int) -> Expected:
    # Ceased in 2024: in the return, but not active on census day.
    b.case(c, plan={"ceasedate": "2024-06-30", "ceasereason": "2"},
           placements=[{"leavingdate": "2024-06-30"}], omit=("senneed",))
    return []


def rank1_needs_multiple(b: Blade, c: int) -> Expected:
    ids = b.case(c, needs=[{"sentype": "ASD"}, {"sentype": "SLCN"}])
    return _only("rank1-needs-multiple", *ids["senneed"])


def rank1_needs_multiple_near(b: Blade, c: int) -> Expected:
    b.case(c, needs=[{"sentype": "ASD"}, {"sentype": "SLCN", "sentyperank": 2}])
    return []


def placements_overlap(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{"leavingdate": "2024-03-01"}, {"entrydate": "2024-02-01"}])
    return _only("placements-overlap", *ids["placementdetail"])


def placements_overlap_near(b: Blade, c: int) -> Expected:
    # The second starts the day the first ends: touching, not overlapping.
    b.case(c, placements=[{"leavingdate": "2024-02-01"}, {"entrydate": "2024-02-01"}])
    return []


def rank1_placements_multiple(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{}, {"entrydate": "2024-09-01", "urn": UNIT_SCHOOL}])
    # Both open on census day: they overlap as well.
    return (_only("placements-overlap", *ids["placementdetail"])
            + _only("rank1-placements-multiple", *ids["placementdetail"]))


def rank1_placements_multiple_near(b: Blade, c: int) -> Expected:
    # A dual placement: the second setting is rank 2.
    b.case(c, placements=[{}, {"entrydate": "2024-09-01", "placementrank": 2}])
    return []


def placement_date_future(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{"leavingdate": "2025-03-02"}])
    return _only("placement-date-future", *ids["placementdetail"])


def placement_date_future_near(b: Blade, c: int) -> Expected:
    b.case(c, placements=[{"leavingdate": "2025-03-01"}])
    return []


def ceased_plan_open_placement(b: Blade, c: int) -> Expected:
    ids = b.case(c, plan={"ceasedate": "2024-12-31", "ceasereason": "2"})
    return _only("ceased-plan-open-placement", *ids["placementdetail"])


def ceased_plan_open_placement_near(b: Blade, c: int) -> Expected:
    b.case(c, plan={"ceasedate": "2024-12-31", "ceasereason": "2"},
           placements=[{"leavingdate": "2024-12-31"}])
    return []


def urn_unknown(b: Blade, c: int) -> Expected:
    return _only("urn-unknown", *b.case(c, placements=[{"urn": "999999"}])["placementdetail"])


def urn_unknown_near(b: Blade, c: int) -> Expected:
    b.case(c, placements=[{"urn": INDEPENDENT}])  # another LA's school GIAS knows
    return []


def urn_closed(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{"urn": CLOSED}])
    later = b.case(c + 1, placements=[{"urn": CLOSED, "entrydate": "2024-09-02",
                                       "leavingdate": "2024-10-01"}, {"entrydate": "2024-10-01"}])
    return _only("urn-closed", ids["placementdetail"][0], later["placementdetail"][0])


def urn_closed_near(b: Blade, c: int) -> Expected:
    # Left when the school closed, then placed elsewhere.
    b.case(c, placements=[{"urn": CLOSED, "leavingdate": "2024-08-31"},
                          {"entrydate": "2024-09-01"}])
    return []


def urn_type_unexpected(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{"urn": CHILDRENS_CENTRE}])
    return _only("urn-type-unexpected", *ids["placementdetail"])


def urn_type_unexpected_near(b: Blade, c: int) -> Expected:
    b.case(c, placements=[{"urn": INDEPENDENT}])
    return []


def sen_unit_not_at_school(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{"senunitindicator": 1}])
    zero = b.case(c + 1, placements=[{"urn": NO_RP, "senunitindicator": 1}])
    return _only("sen-unit-not-at-school", ids["placementdetail"][0],
                 zero["placementdetail"][0])


def sen_unit_not_at_school_near(b: Blade, c: int) -> Expected:
    b.case(c, placements=[{"urn": UNIT_SCHOOL, "senunitindicator": 1}])
    return []


def resourced_provision_not_at_school(b: Blade, c: int) -> Expected:
    ids = b.case(c, placements=[{"urn": NO_RP, "resourcedprovisionindicator": 1}])
    return _only("resourced-provision-not-at-school", *ids["placementdetail"])


def resourced_provision_not_at_school_near(b: Blade, c: int) -> Expected:
    b.case(c, placements=[{"urn": RP_BY_CAPACITY, "resourcedprovisionindicator": 1}])
    return []


def out_of_the_return(b: Blade, c: int) -> Expected:
    """A plan ceased in 2019 with a missing UPN, no plan detail, no need and an open
    placement: no part of the January 2025 return, so nothing is flagged."""
    b.case(c, person={"upn": ""}, request={"receiveddate": "2016-01-04",
                                           "requestoutcomedate": "2016-02-01"},
           assessment={"assessmentoutcomedate": "2016-05-01"},
           plan={"startdate": "2016-05-01", "ceasedate": "2019-07-31", "ceasereason": "2"},
           placements=[{"entrydate": "2016-05-01"}], omit=("plandetail", "senneed"))
    return []


def _name(check_id: str) -> str:
    return check_id.replace("-", "_")


CASES: dict[str, Callable[[Blade, int], Expected]] = {}
for _check in CHECKS:
    CASES[f"{_check.id} flagged"] = globals()[_name(_check.id)]
    CASES[f"{_check.id} near miss"] = globals()[_name(_check.id) + "_near"]
CASES["out of the return"] = out_of_the_return


def _child_of(table_id: pl.Expr) -> pl.Expr:
    return table_id % 1_000_000 // 100


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every case in one export: (the Blade rows, each case's expected issues, the issues
    found, the staged modules, the GIAS frame)."""
    root = tmp_path_factory.mktemp("sen2_checks")
    b = Blade()
    expected = {}
    for k, (name, build) in enumerate(CASES.items(), 1):
        expected[name] = (k, build(b, 10 * k))
    b.write(root / "sen2")
    stage, quarantine = staged(root / "sen2")
    assert quarantine.height == 0, quarantine
    establishments = gias(root / "gias", GIAS_ROWS)
    issues = find_issues(stage, establishments, CENSUS_DAY, TODAY)
    return b, expected, issues, stage, establishments, root


@pytest.mark.parametrize("case", list(CASES))
def test_each_check_flags_its_case_and_spares_its_near_miss(built, case):
    _, expected, issues, *_ = built
    k, want = expected[case]
    mine = issues.filter(_child_of(pl.col("table_id").cast(pl.Int64)) // 10 == k)
    got = sorted(zip(mine["check_id"], mine["table_id"].cast(pl.Int64), strict=True))
    assert got == sorted(want)


def test_every_check_has_a_flagged_case_and_raises_only_catalogue_ids(built):
    _, _, issues, *_ = built
    assert issues.schema == pl.Schema(ISSUE_SCHEMA)
    assert set(issues["check_id"]) == {c.id for c in CHECKS}
    # Catalogue order, then table id.
    order = {c.id: i for i, c in enumerate(CHECKS)}
    keys = list(zip(issues["check_id"].replace_strict(order), issues["table_id"].cast(pl.Int64),
                    strict=True))
    assert keys == sorted(keys)


def test_an_issue_names_the_record_its_native_id_and_its_person(built):
    b, _, issues, stage, *_ = built
    row = issues.filter(pl.col("check_id") == "rank1-needs-multiple").row(0, named=True)
    need = next(r for r in b.rows["senneed"] if r["_id"] == int(row["table_id"]))
    owner = need["_child"]
    pseudonym = stage["person"].filter(
        pl.col("persontableid") == 2_000_000 + 100 * owner)["upn_id"].item()
    assert row == {"check_id": "rank1-needs-multiple", "severity": "error", "module": "senneed",
                   "table_id": row["table_id"], "native_id": native_id("senneed", need["_id"]),
                   "person_id": pseudonym, "fields": "sentyperank",
                   "values_masked": "sentyperank=1; rank 1 needs=2"}
    missing = issues.filter(pl.col("check_id") == "upn-missing").row(0, named=True)
    assert missing["person_id"] == f"sen2:{missing['table_id']}"
    assert missing["values_masked"] == "upn_id=<blank>; uln_id=<blank>; upnunknown=<blank>"
    age = issues.filter(pl.col("check_id") == "age-outside-range")["values_masked"].to_list()
    assert age == ["birth_year=1998; birth_month=12; census_day=2025-01-16"]


def test_nothing_personal_reaches_an_issue(built):
    """No raw UPN, name, postcode or full date of birth of the export, in any cell."""
    b, _, issues, *_ = built
    secrets = set()
    for row in b.rows["person"]:
        secrets |= {row["upn"], row["surname"].strip(), row["forename"], row["postcode"],
                    row["personbirthdate"], dt.date.fromisoformat(row["personbirthdate"])
                    .strftime("%Y-%b-%d")}
    secrets = {s.upper() for s in secrets if s}
    cells = [str(v).upper() for row in issues.iter_rows() for v in row if v is not None]
    assert issues.height > 30
    leaks = sorted(s for s in secrets for cell in cells if s in cell)
    assert leaks == []


def test_without_gias_the_gias_checks_are_skipped(built):
    _, _, issues, stage, *_ = built
    alone = find_issues(stage, None, CENSUS_DAY, TODAY)
    gias_checks = {"urn-unknown", "urn-closed", "urn-type-unexpected", "sen-unit-not-at-school",
                   "resourced-provision-not-at-school"}
    assert set(alone["check_id"]) == {c.id for c in CHECKS} - gias_checks
    assert alone.height == issues.filter(~pl.col("check_id").is_in(gias_checks)).height


def test_a_gias_extract_without_provision_columns_raises_no_provision_issue(built):
    *_, stage, _, root = built
    bare = gias(root / "gias-bare", GIAS_ROWS, optional=False)
    found = find_issues(stage, bare, CENSUS_DAY, TODAY)
    assert not {"sen-unit-not-at-school", "resourced-provision-not-at-school"} & set(
        found["check_id"])
    # Its other GIAS checks still run (no close dates, so no closed school).
    assert found.filter(pl.col("check_id") == "urn-unknown").height == 1


def test_text_ids_and_an_empty_export(tmp_path):
    """Ids that are no whole numbers (Blade's hashes) name records as the export wrote them;
    an export with no problem has no issue."""
    def hashed(module: str, i: int) -> str:
        h = hashlib.sha1(f"{module}/{i}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:11]}"

    b = Blade(ids=hashed)
    ids = b.case(1, omit=("plandetail",))
    b.case(2)
    b.write(tmp_path / "sen2")
    stage, _ = staged(tmp_path / "sen2")
    issues = find_issues(stage, None, CENSUS_DAY, TODAY)
    assert issues.select("check_id", "table_id", "native_id").rows() == [
        ("plan-no-detail", hashed("namedplan", ids["namedplan"][0]),
         native_id("namedplan", ids["namedplan"][0]))]
    clean = Blade()
    clean.case(1)
    clean.write(tmp_path / "clean")
    stage, _ = staged(tmp_path / "clean")
    none = find_issues(stage, None, CENSUS_DAY, TODAY)
    assert none.height == 0 and none.schema == pl.Schema(ISSUE_SCHEMA)


def test_identity_id_is_one_pseudonym_for_one_name_and_birth_date(tmp_path):
    """stage_module's identity_id: trimmed and upper-cased names with the ISO birth date,
    keyed; null when a part is missing; the names themselves are not staged."""
    b = Blade()
    b.case(1, person={"surname": "Marsh", "forename": "Sam", "personbirthdate": "2014-03-03"})
    b.person(2, surname="  MARSH", forename="sam ", personbirthdate="2014-03-03")
    b.person(3, surname="Marsh", forename="Sam", personbirthdate="2014-03-04")
    b.person(4, surname="", forename="Sam", personbirthdate="2014-03-03")
    b.write(tmp_path / "sen2")
    stage, _ = staged(tmp_path / "sen2")
    ids = stage["person"].sort("persontableid")["identity_id"].to_list()
    assert ids[0] == ids[1] and ids[2] not in (None, ids[0]) and ids[3] is None
    assert len(ids[0]) == 32
    assert not {"surname", "forename", "personbirthdate", "postcode", "upn"} & set(
        stage["person"].columns)
    other_key, _ = staged(tmp_path / "sen2", key=b"another key" * 3)
    assert other_key["person"]["identity_id"][0] != ids[0]


def test_stage_module_keeps_identity_id_within_the_staging_budget(tmp_path):
    """One expression over the column (no Python loop a row): 200,000 persons stage in
    well under the time a loop would take."""
    import time

    n = 200_000
    good = pl.DataFrame({
        "row_number": range(2, n + 2), "persontableid": [str(i) for i in range(n)],
        "sen2tableid": ["1"] * n, "surname": [f"Name{i % 5000}" for i in range(n)],
        "forename": ["Kit"] * n, "personbirthdate": ["2015-06-15"] * n, "sex": ["F"] * n,
        "ethnicity": ["WBRI"] * n, "postcode": [""] * n, "upn": [None] * n,
        "uniquelearnernumber": [None] * n, "upnunknown": ["UN2"] * n, "nativeid": ["x"] * n},
        schema_overrides={"upn": pl.Utf8, "uniquelearnernumber": pl.Utf8})
    start = time.perf_counter()
    typed = stage_module("person", good, KEY, EXPORT)
    assert time.perf_counter() - start < 10
    assert typed["identity_id"].n_unique() == 5000


# ---- the quarantine as issues -------------------------------------------------------------

def _quarantine_export(b: Blade) -> dict[str, list[tuple[str, int]]]:
    """Rows the schema or the links quarantine, one kind a child, and near misses that load;
    each kind's expected (check id, module, table id) issues."""
    want: dict[str, list] = {}
    b.case(99)  # (a module with no row at all is rejected whole)

    def person_only(child: int, **fields) -> int:
        return b.person(child, **fields)

    def plan_only(child: int, **fields) -> int:
        r = b.request(b.person(child))
        return b.plan(b.assessment(r), **fields)

    def placement_only(child: int, **fields) -> int:
        return b.placement(b.active(b.request(b.person(child))), **fields)

    want["upn-check-letter"] = [("person", person_only(1, upn="A801200005001"))]
    person_only(2, upn="B801200005001")
    want["uln-invalid"] = [("person", person_only(3, upn="", uniquelearnernumber="12345"))]
    person_only(4, upn="", uniquelearnernumber="1234567890")
    want["sensetting-invalid"] = [("placementdetail",
                                   placement_only(5, urn="", sensetting="XYZ"))]
    placement_only(6, urn="", sensetting="oth")
    ap = b.active(b.request(b.person(7)))
    want["need-code-invalid"] = [("senneed", b.need(ap, sentype="ABC"))]
    b.need(b.active(b.request(b.person(8))), sentype="besd")
    want["cease-reason-invalid"] = [("namedplan", plan_only(9, ceasedate="2024-06-01",
                                                            ceasereason="12"))]
    plan_only(10, ceasedate="2024-06-01", ceasereason="9")
    want["cease-reason-missing"] = [("namedplan", plan_only(11, ceasedate="2024-06-01"))]
    plan_only(12, ceasedate="", ceasereason="")
    want["request-received-future"] = [("requests", b.request(
        b.person(13), receiveddate="2099-01-01", requestoutcomedate="2099-02-01"))]
    b.request(b.person(14), receiveddate=dt.date.today().isoformat(), requestoutcome="",
              requestoutcomedate="")
    want["plan-start-future"] = [("namedplan", plan_only(15, startdate="2099-01-01"))]
    want["cease-before-start"] = [("namedplan", plan_only(16, ceasedate="2023-04-30",
                                                          ceasereason="2"))]
    plan_only(17, ceasedate="2023-05-01", ceasereason="2")
    want["request-outcome-before-received"] = [("requests", b.request(
        b.person(18), requestoutcomedate="2023-01-09"))]
    b.request(b.person(19), requestoutcomedate="2023-01-10")
    want["assessment-before-request"] = [("assessment", b.assessment(
        b.request(b.person(20)), assessmentoutcomedate="2023-01-09"))]
    b.assessment(b.request(b.person(21)), assessmentoutcomedate="2023-01-10")
    want["leaving-before-entry"] = [("placementdetail", placement_only(
        22, leavingdate="2023-04-30"))]
    placement_only(23, leavingdate="2023-05-01")
    want["placement-setting-missing"] = [("placementdetail", placement_only(24, urn=""))]
    placement_only(25, urn="", ukprn="10012345")
    # Two different rows with one id: both are held back.
    twin = b.person(26)
    b.rows["person"].append(dict(b.rows["person"][-1], surname="Other"))
    want["table-id-repeated"] = [("person", twin)]
    copy = b.person(27)
    b.rows["person"].append(dict(b.rows["person"][-1]))
    want["row-repeated"] = [("person", copy)]
    orphan = b.request(b.person(28))
    b.rows["requests"][-1]["persontableid"] = 9_999_999
    want["orphan-record"] = [("requests", orphan)]
    want["unreadable-field"] = [("person", person_only(29, sex="X", personbirthdate="31/02/2015"))]
    return want


def test_every_quarantined_row_is_an_issue_with_its_check(tmp_path):
    b = Blade()
    want = _quarantine_export(b)
    b.write(tmp_path / "sen2")
    _, records = staged(tmp_path / "sen2")
    issues = quarantine_issues(records)
    assert issues.schema == pl.Schema(ISSUE_SCHEMA)
    expected = sorted((cid, module, str(i)) for cid, rows in want.items() for module, i in rows)
    got = sorted(zip(issues["check_id"], issues["module"], issues["table_id"], strict=True))
    assert got == expected
    assert set(issues["check_id"]) == {c.id for c in QUARANTINE_CHECKS}
    by_check = {r["check_id"]: r for r in issues.iter_rows(named=True)}
    assert by_check["upn-check-letter"]["values_masked"] == "upn=<withheld: 13 characters>"
    assert by_check["upn-check-letter"]["severity"] == "error"
    assert by_check["upn-check-letter"]["native_id"] == native_id(
        "person", want["upn-check-letter"][0][1])
    # One issue per check and record: the row's two unreadable fields are one issue.
    assert by_check["unreadable-field"]["fields"] == "personbirthdate,sex"
    assert by_check["table-id-repeated"]["fields"] == "persontableid"
    order = [c.id for c in QUARANTINE_CHECKS]
    assert issues["check_id"].to_list() == sorted(issues["check_id"], key=order.index)
    assert "A801200005001" not in " ".join(str(v) for r in issues.iter_rows() for v in r)


def test_every_quarantine_rule_mapped_is_a_rule_the_schema_has():
    """A rule renamed in schemas/sen2.py would silently fall to unreadable-field."""
    rules = {("is before its request was received", "assessmentoutcomedate"),
             ("links to ", None)}
    for module in SEN2_MODULES:
        schema = sen2_schema(module)
        rules |= {(check.name, name) for name, col in schema.columns.items()
                  for check in col.checks}
        rules |= {tuple(reversed(check.name.split("|", 1))) for check in schema.checks}
    for column, prefix, _ in _QUARANTINE_RULES:
        assert any(rule.startswith(prefix) and (column is None or column == col)
                   for rule, col in rules), (column, prefix)


def test_the_docs_list_every_check_with_its_severity():
    from pathlib import Path

    from transforms.sen2_compare import COMPARE_CHECKS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "sen2-readiness.md").read_text()
    for c in (*CHECKS, *QUARANTINE_CHECKS, *COMPARE_CHECKS):
        assert f"| `{c.id}` | {c.severity} | {c.module} | {c.message} |" in doc, c.id
