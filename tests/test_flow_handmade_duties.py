"""The nightly flow on the hand-made export written as SEN2 v1.3 with the statutory duties'
fields filled (tests/handmade.py `write_sen2_duties`) and the hand-made census as a Blade
export with attendance (tests/test_attendance_kpis.py `write_export`): every value below
worked out by hand from the plans table in tests/handmade.py and the additions there, and
the sessions and exclusions in tests/test_attendance_kpis.py.

Requests received (D is a transfer in: counted nowhere): 2021 F, 2022 A, 2023 B and C,
2024 E, G and H. G was refused; H was assessed and not issued.
"""

from __future__ import annotations

import duckdb
import pytest

from flows.nightly import nightly
from tests import handmade
from tests.test_attendance_kpis import write_export
from tests.test_flow_handmade import rows


@pytest.fixture(scope="module")
def published(tmp_path_factory, prefect_harness):
    home = tmp_path_factory.mktemp("duties")
    handmade.write_sen2_duties(home / "landing" / "sen2")
    # The census as a COLLECT Blade export with its attendance and exclusions tables.
    write_export(home / "landing" / "census")
    assert nightly(home=str(home), landing=str(home / "landing")).status == "published"
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    yield con
    con.close()


def test_every_file_of_the_v1_3_export_loads_whole(published):
    # G and H add a person and a request each, H an assessment; no row is quarantined.
    assert rows(published, "SELECT split_part(original_name, '_', 3), rows_loaded, "
                           "rows_quarantined FROM audit.files WHERE source = 'sen2' "
                           "ORDER BY 1") == [
        ("activeplans.csv", 6, 0), ("assessment.csv", 7, 0), ("namedplan.csv", 6, 0),
        ("person.csv", 8, 0), ("placementdetail.csv", 6, 0), ("plandetail.csv", 6, 0),
        ("requests.csv", 8, 0), ("sen2.csv", 1, 0), ("senneed.csv", 6, 0)]


def test_requests_by_source(published):
    """2021: F, none recorded; 2022: A (1); 2023: B and C (2); 2024: G (1), E (4), H (5)."""
    assert rows(published, "SELECT year, request_source, requests, pct, requests_received "
                           "FROM kpi.ehcp_requests_by_source ORDER BY year, request_source") == [
        (2021, "unknown", 1, 100.0, 1), (2022, "1", 1, 100.0, 1), (2023, "2", 2, 100.0, 2),
        (2024, "1", 1, 33.3, 3), (2024, "4", 1, 33.3, 3), (2024, "5", 1, 33.3, 3)]


def test_disputes_by_stage_and_appeal_rate(published):
    """2023: C's request went to mediation, B's assessment to a tribunal; the only
    appealable decision is the plan stage's January 2023 caseload (F). 2024: G's refusal
    went to mediation and a tribunal (1 refusal), H's decision not to issue to a tribunal
    (1 such decision), E's plan to a tribunal (January 2024 caseload 4 + C and E ceased as
    needs met = 6): 3 tribunals of 8 decisions, 37.5%."""
    assert rows(published, "SELECT year, stage, mediations, tribunals, appealable_decisions, "
                           "appeal_rate_pct FROM kpi.ehcp_disputes WHERE year >= 2023") == [
        (2023, "request", 1, 0, 0, None), (2023, "assessment", 0, 1, 0, None),
        (2023, "plan", 0, 0, 1, 0.0), (2023, "all", 1, 1, 1, 100.0),
        (2024, "request", 1, 1, 1, 100.0), (2024, "assessment", 0, 1, 1, 100.0),
        (2024, "plan", 0, 1, 6, 16.67), (2024, "all", 1, 3, 8, 37.5)]


def test_assessment_decisions(published):
    """H: decided not to issue on 1 May 2024, 90 days after the request (within 16 weeks).
    Open at each year's end: F (2021), A (2022), B (2023, 152 days: over 20 weeks)."""
    assert rows(published, "SELECT year, decided_not_to_issue, not_to_issue_within_16_weeks, "
                           "pct, assessments_open, open_over_20_weeks FROM "
                           "kpi.ehcp_assessment_decisions WHERE year >= 2021") == [
        (2021, 0, 0, None, 1, 1), (2022, 0, 0, None, 1, 0), (2023, 0, 0, None, 1, 1),
        (2024, 1, 1, 100.0, 0, 0)]


def test_timeliness_bands(published):
    """F 245 days (35.0 weeks); A 120 and C 140 days (mean 18.6 weeks); B 170 days (24.3)
    and E 121 days (17.3), both exception cases, so 2024 has no band without exceptions."""
    assert rows(published, "SELECT year, band, with_exceptions, plans, pct, mean_weeks FROM "
                           "kpi.ehcp_timeliness_bands WHERE year >= 2022 AND plans > 0") == [
        (2022, "20_to_52", True, 1, 100.0, 35.0), (2022, "20_to_52", False, 1, 100.0, 35.0),
        (2023, "under_20", True, 2, 100.0, 18.6), (2023, "under_20", False, 2, 100.0, 18.6),
        (2024, "under_20", True, 1, 50.0, 17.3), (2024, "20_to_52", True, 1, 50.0, 24.3)]


def test_personal_budgets_of_new_plans(published):
    """New plans: 2022 F (none); 2023 A (pb, oa) and C; 2024 B (pb, oa, dp) and E (pb, dp)."""
    assert rows(published, "SELECT year, plans_with_pb, organised_arrangements, "
                           "direct_payments, pct_of_new_plans, new_plans FROM "
                           "kpi.ehcp_personal_budgets WHERE year >= 2022") == [
        (2022, 0, 0, 0, 0.0, 1), (2023, 1, 1, 0, 50.0, 2), (2024, 2, 1, 2, 100.0, 2)]


def test_personal_budgets_of_the_january_caseload(published):
    """January 2023: F alone, no budget; January 2024 and 2025: A (pb, oa) and B (pb, oa, dp)
    of A, B, D and F (C ceased on census day, E not yet issued, then ceased)."""
    assert rows(published, "SELECT year, caseload, plans_with_pb, organised_arrangements, "
                           "direct_payments, pct_of_caseload FROM "
                           "kpi.ehcp_personal_budgets_caseload WHERE year >= 2023") == [
        (2023, 1, 0, 0, 0, 0.0), (2024, 4, 2, 2, 1, 50.0), (2025, 4, 2, 2, 1, 50.0)]


def test_not_in_school_and_ceased_by_duration(published):
    """F is in elective home education (no URN) from its start: 1 of 1 plan in January
    2023, 1 of 4 in 2024 and 2025; A, B and D are at a school GIAS was not loaded for, so
    their placement group is unknown. C (0.63 years) and E (0.67) ceased as needs met."""
    assert rows(published, "SELECT year, setting, plans, pct FROM kpi.ehcp_not_in_school "
                           "WHERE plans > 0") == [
        (2023, "EHE", 1, 100.0), (2024, "EHE", 1, 25.0), (2024, "unknown", 3, 75.0),
        (2025, "EHE", 1, 25.0), (2025, "unknown", 3, 75.0)]
    assert rows(published, "SELECT year, years_held_band, cease_reason, plans FROM "
                           "kpi.ehcp_ceased_by_duration WHERE plans > 0") == [
        (2024, "under_1", 2, 2)]


def test_sen_attendance_through_the_nightly_flow(published):
    """The autumn 2023/24 term of the hand-made Blade export, as
    tests/test_attendance_kpis.py works it out (enrolments, pupils, possible and missed
    sessions, absence rate, persistent absentees and their share; suspensions, pupils
    suspended, permanent exclusions)."""
    assert rows(published, "SELECT sen_status, enrolments, pupils, sessions_possible, "
                           "sessions_missed, absence_rate_pct, persistent_absentees, "
                           "persistent_absence_pct, suspensions, pupils_suspended, "
                           "permanent_exclusions FROM kpi.sen_attendance WHERE academic_year "
                           "= '2023/24' AND term = 'autumn' ORDER BY sen_status") == [
        ("all", 6, 5, 700, 61, 8.7, 3, 50.0, 3, 2, 0),
        ("ehcp", 1, 1, 140, 16, 11.4, 1, 100.0, 0, 0, 0),
        ("no_sen", 2, 2, 240, 10, 4.2, 1, 50.0, 1, 1, 0),
        ("sen_support", 3, 3, 320, 35, 10.9, 1, 33.3, 2, 1, 0)]
