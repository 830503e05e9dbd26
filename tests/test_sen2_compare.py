"""Comparing a SEN2 export with the previous one, both hand-made Blade exports read through
the loader's own path (tests/sen2_builder.py): a child keeps its table ids between exports.

Previous export (1 March 2024): children 1-10 with an open plan, child 11's plan ceased on
31 December 2023. Current export (1 March 2025): children 1-7 unchanged (2 and 3 with a
second need), child 8 without his plan (no cease record), child 9 gone altogether, child
10's plan ceased 31 December 2024, child 11 gone (his plan had ceased: no loss), new
children 12 and 13.

Totals: persons 11 -> 11, requests 11 -> 11, assessments 11 -> 11, plans 11 -> 10 (-9.1%),
active plans 11 -> 11, placements 11 -> 11, needs 11 -> 13 (+18.2%: flagged), open plans
10 -> 9 (-10.0%: exactly the limit, not flagged).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.sen2_builder import Blade, native_id, staged
from transforms.sen2_checks import ISSUE_SCHEMA
from transforms.sen2_compare import TOTALS_SCHEMA, compare_exports

PREVIOUS = dt.date(2024, 3, 1)
CURRENT = dt.date(2025, 3, 1)
SECOND_NEED = [{}, {"sentype": "SLCN", "sentyperank": 2}]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("sen2_compare")
    before = Blade()
    for child in range(1, 11):
        before.case(child)
    before.case(11, plan={"ceasedate": "2023-12-31", "ceasereason": "2"},
                placements=[{"leavingdate": "2023-12-31"}])
    now = Blade()
    for child in range(1, 8):
        now.case(child, needs=SECOND_NEED if child in (2, 3) else None)
    now.case(8, omit=("namedplan",))
    now.case(10, plan={"ceasedate": "2024-12-31", "ceasereason": "2"},
             placements=[{"leavingdate": "2024-12-31"}])
    now.case(12, request={"receiveddate": "2024-03-01", "requestoutcomedate": "2024-03-20"},
             assessment={"assessmentoutcomedate": "2024-07-01"}, plan={"startdate": "2024-07-01"},
             placements=[{"entrydate": "2024-07-01"}])
    now.case(13)
    before.write(root / "previous", PREVIOUS)
    now.write(root / "current", CURRENT)
    previous, _ = staged(root / "previous", export=PREVIOUS)
    current, _ = staged(root / "current", export=CURRENT)
    return current, previous


def test_plans_open_last_time_and_lost_without_a_cease_record_are_flagged(exports):
    current, previous = exports
    issues, _ = compare_exports(current, previous)
    assert issues.schema == pl.Schema(ISSUE_SCHEMA)
    pseudonym = dict(previous["person"].select("persontableid", "upn_id").iter_rows())
    plan_8, plan_9 = 5_000_000 + 800, 5_000_000 + 900
    assert issues.rows(named=True) == [
        {"check_id": "plan-vanished", "severity": "query", "module": "namedplan",
         "table_id": str(plan_8), "native_id": native_id("namedplan", plan_8),
         "person_id": pseudonym[2_000_800], "fields": "namedplantableid,ceasedate",
         "values_masked": "startdate=2023-05-01; ceasedate=<blank>; plan in this export=no; "
                          "person in this export=yes"},
        {"check_id": "plan-vanished", "severity": "query", "module": "namedplan",
         "table_id": str(plan_9), "native_id": native_id("namedplan", plan_9),
         "person_id": pseudonym[2_000_900], "fields": "namedplantableid,ceasedate",
         "values_masked": "startdate=2023-05-01; ceasedate=<blank>; plan in this export=no; "
                          "person in this export=no"}]


def test_totals_that_moved_more_than_ten_percent_are_flagged(exports):
    current, previous = exports
    _, totals = compare_exports(current, previous)
    assert totals.schema == pl.Schema(TOTALS_SCHEMA)
    assert totals.rows() == [
        ("persons", 11, 11, 0.0, False), ("requests", 11, 11, 0.0, False),
        ("assessments", 11, 11, 0.0, False), ("plans", 11, 10, -9.1, False),
        ("active plans", 11, 11, 0.0, False), ("placements", 11, 11, 0.0, False),
        ("needs", 11, 13, 18.2, True), ("open plans", 10, 9, -10.0, False)]


def test_an_export_against_itself_loses_nothing(exports):
    current, _ = exports
    issues, totals = compare_exports(current, current)
    assert issues.height == 0
    assert totals["change_pct"].to_list() == [0.0] * 8
    assert not totals["flagged"].any()


def test_an_export_of_text_ids_matches_one_of_whole_numbers(exports):
    """The same records, one export keyed as text ids that happen to be whole numbers
    (a warehouse that staged them as text) and one as integers: matched id for id."""
    current, previous = exports
    as_text = {m: f.with_columns(pl.col(c).cast(pl.Utf8) for c in f.columns
                                 if c.endswith("tableid")) for m, f in previous.items()}
    issues, totals = compare_exports(current, as_text)
    assert issues["table_id"].to_list() == ["5000800", "5000900"]
    assert totals.filter(pl.col("flagged"))["measure"].to_list() == ["needs"]
