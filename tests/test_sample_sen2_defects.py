"""The sample LA's SEN2 export holds a realistic handful of every defect the readiness checks
look for (issue 18; sendboard/sample/sen2_defects.py), and the checks find them.

The small sample (tests/conftest.py `small_sample`: seed 7, 150 children a birth year) is
read through the loader's own path (tests/sen2_builder.staged: reading, the schema, links,
staging) with its GIAS extract, and checked as the nightly run would on the export day. The
generator is seeded, so the counts are exact: a change to the generator that moves them
must say so here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sendboard.sample.sen2_defects import RATES
from tests.sen2_builder import KEY, staged
from transforms.calendar import january_census_day
from transforms.sen2_checks import CHECKS, _Export, find_issues, quarantine_issues
from warehouse.reading import read_validated
from warehouse.sources import SOURCES

CENSUS_DAY = january_census_day(2026)
EXPORT = CENSUS_DAY + dt.timedelta(days=70)  # `sendboard sample`'s export day

# Issues on the small sample, by check: the planted records (one each, a few of the common
# ones; a duplicate, overlap or second rank 1 names both records) and, for
# active-no-placement, the world's plans with no setting on census day.
EXPECTED = {
    "upn-missing": 3, "duplicate-upn": 2, "duplicate-name-dob": 2, "age-outside-range": 1,
    "open-requests-multiple": 2, "week20-exception-not-late": 1, "plan-not-assessed-y": 1,
    "plan-start-before-request": 1, "plan-no-detail": 1, "cease-date-future": 1,
    "active-no-placement": 4, "active-no-placement-transfer-in": 1,
    "phase-transfer-overdue": 1, "review-date-future": 1, "primary-need-missing": 1,
    "rank1-needs-multiple": 2, "placements-overlap": 4, "rank1-placements-multiple": 2,
    "placement-date-future": 1, "ceased-plan-open-placement": 2, "urn-unknown": 1,
    "sen-unit-not-at-school": 4, "resourced-provision-not-at-school": 1,
}
TOTAL = 40
# Checks whose share of the return's records is meant to be 1-3%, as in a real export.
COMMON = ("upn-missing", "active-no-placement", "sen-unit-not-at-school")
# Checks the sample plants nothing for: its GIAS has no closed school and no unexpected
# type; the outcome dates after the export come only from the county's pending requests.
NOT_PLANTED = {"urn-closed", "urn-type-unexpected", "request-outcome-future",
               "assessment-outcome-future"}


@pytest.fixture(scope="module")
def checked(small_sample: Path):
    """(staged modules, the quarantine as issues, the issues, the staged GIAS)."""
    stage, quarantine = staged(small_sample / "sen2", export=EXPORT)
    source = SOURCES["establishments"][0]
    gias_file = next((small_sample / "establishments").glob("edubasealldata*.csv"))
    read = read_validated(gias_file, source.contract, source.schema())
    establishments = source.stage(read.validated.good, KEY)
    issues = find_issues(stage, establishments, CENSUS_DAY, EXPORT)
    return stage, quarantine_issues(quarantine), issues, establishments


def _raw(small_sample: Path, module: str) -> pl.DataFrame:
    path = next((small_sample / "sen2").glob(f"Blade-Export_*_{module}.csv"))
    return pl.read_csv(path, infer_schema=False).with_columns(pl.all().fill_null(""))


def _days(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Date, "%Y-%b-%d 00:00:00", strict=False)


def test_the_checks_find_exactly_the_issues_recorded_for_the_small_sample(checked):
    *_, issues, _ = checked
    counts = dict(issues.group_by("check_id").len().iter_rows())
    assert counts == EXPECTED
    assert issues.height == sum(EXPECTED.values()) == TOTAL


def test_every_defect_planted_is_found_and_only_gias_and_dates_are_not_planted(checked):
    _, quarantined, issues, _ = checked
    found = set(issues["check_id"]) | set(quarantined["check_id"])
    assert set(RATES) <= found
    assert {c.id for c in CHECKS} - set(RATES) == NOT_PLANTED | {"active-no-placement"}
    assert not NOT_PLANTED & found


def test_common_checks_are_1_to_3_percent_of_the_return_and_the_rest_rarer(checked):
    stage, _, issues, establishments = checked
    # (The checks' own reading of which records are the return's, and of active plans.)
    x = _Export(stage, CENSUS_DAY, establishments)
    module = {c.id: c.module for c in CHECKS}
    counts = dict(issues.group_by("check_id").len().iter_rows())
    shares = {}
    for check_id, n in counts.items():
        records = (x.active_plans.height if check_id.startswith("active-no-placement")
                   else x.s[module[check_id]].height)
        shares[check_id] = n / records
    assert {c: round(100 * shares[c], 2) for c in COMMON} == {
        "upn-missing": 1.59, "active-no-placement": 2.52, "sen-unit-not-at-school": 1.18}
    assert all(0.01 <= shares[c] <= 0.03 for c in COMMON)
    # The rest: one planted record, or the two of one pair, in 150 to 350.
    assert max(s for c, s in shares.items() if c not in COMMON) < 0.012


def test_only_the_bad_check_letter_is_quarantined_with_the_requests_it_orphans(
        checked, small_sample):
    stage, quarantined, *_ = checked
    assert quarantined.select("check_id", "module").rows() == [
        ("upn-check-letter", "person"), ("orphan-record", "assessment"),
        ("orphan-record", "requests")]
    # Every other record, defects and all, loads.
    lost = dict(quarantined.group_by("module").len().iter_rows())
    for module, frame in stage.items():
        assert frame.height == _raw(small_sample, module).height - lost.get(module, 0), module
    # The person quarantined holds no plan: no plan is lost.
    assert stage["namedplan"].height == _raw(small_sample, "namedplan").height


def test_week20_is_set_only_on_plans_issued_late_but_for_the_planted_defect(
        checked, small_sample):
    *_, issues, _ = checked
    plans = (_raw(small_sample, "namedplan").select("assessmenttableid", "startdate")
             .join(_raw(small_sample, "assessment").select(
                 "assessmenttableid", "requeststableid", "week20"), on="assessmenttableid")
             .join(_raw(small_sample, "requests").select("requeststableid", "receiveddate"),
                   on="requeststableid")
             .join(_raw(small_sample, "activeplans").select("requeststableid", "transferla"),
                   on="requeststableid")
             .with_columns((_days("startdate") - _days("receiveddate")).dt.total_days()
                           .alias("days")))
    flagged = plans.filter(pl.col("week20") == "1")
    assert flagged.height >= 10
    # In the whole export, since 2014: the flag on a plan issued in time is the planted one.
    in_time = flagged.filter((pl.col("days") <= 140) & (pl.col("transferla") == ""))
    found = issues.filter(pl.col("check_id") == "week20-exception-not-late")
    assert in_time["assessmenttableid"].to_list() == found["table_id"].to_list()
    assert in_time.height == 1


def test_a_duplicate_name_and_birth_date_is_one_child_under_two_upns(checked, small_sample):
    *_, issues, _ = checked
    person = _raw(small_sample, "person")
    same = person.filter(pl.col("upn") != "").filter(
        pl.col("upn").n_unique().over("surname", "forename", "personbirthdate") > 1)
    assert same.height == 2
    assert same["surname"].n_unique() == same["forename"].n_unique() == 1
    assert same["upn"].n_unique() == 2 and same["uniquelearnernumber"].to_list()[1] == ""
    found = issues.filter(pl.col("check_id") == "duplicate-name-dob")
    assert sorted(found["table_id"]) == sorted(same["persontableid"])
    # The other duplicate: one UPN under two person records.
    twice = person.filter((pl.col("upn") != "") & pl.col("upn").is_duplicated())
    assert sorted(issues.filter(pl.col("check_id") == "duplicate-upn")["table_id"]) == sorted(
        twice["persontableid"])


def test_no_name_upn_or_birth_date_of_the_sample_reaches_an_issue(checked, small_sample):
    *_, issues, _ = checked
    person = _raw(small_sample, "person")
    secrets = {v.upper() for c in ("upn", "uniquelearnernumber", "surname", "personbirthdate")
               for v in person[c] if v}
    cells = {str(v).upper() for row in issues.iter_rows() for v in row if v is not None}
    assert not [s for s in secrets for cell in cells if s in cell]
