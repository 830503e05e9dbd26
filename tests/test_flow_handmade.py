"""The nightly flow on hand-made extracts: every KPI value here was worked out by hand
(see tests/handmade.py for the cases and the arithmetic)."""

from __future__ import annotations

import json

import duckdb
import pytest

from flows.nightly import nightly
from tests import handmade
from tests.conftest import settings_for

RUN: dict = {}


@pytest.fixture(scope="module")
def published(tmp_path_factory, prefect_harness):
    import os

    os.environ["SENDBOARD_PSEUDONYM_KEY"] = "test-key-not-a-secret-0123456789abcdef"
    home = tmp_path_factory.mktemp("home")
    landing = handmade.write_landing(home / "landing")
    summary = nightly(home=str(home), landing=str(landing))
    assert summary.status == "published"
    RUN["id"] = summary.run_id
    RUN["home"] = home
    RUN["warnings"] = summary.warnings
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    yield con
    con.close()


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_caseload_counts_plan_starting_on_census_day_but_not_one_ceasing_on_it(published):
    got = dict(rows(published, "SELECT year, caseload FROM kpi.ehcp_caseload "
                               "WHERE year >= 2022 ORDER BY year"))
    assert got == {2022: 0, 2023: 1, 2024: 4, 2025: 4}


def test_caseload_growth_and_years(published):
    got = rows(published, "SELECT year, census_date::VARCHAR, growth_pct FROM kpi.ehcp_caseload "
                          "WHERE year >= 2023 ORDER BY year")
    assert got == [(2023, "2023-01-19", None), (2024, "2024-01-18", 300.0),
                   (2025, "2025-01-16", 0.0)]
    years = [r[0] for r in rows(published, "SELECT year FROM kpi.ehcp_caseload ORDER BY 1")]
    assert years == list(range(2015, 2026))


def test_new_plans_exclude_transfers_and_measure_20_weeks(published):
    got = rows(published, """
        SELECT year, new_plans, within_20_weeks, pct_within_20_weeks, new_plans_ex,
               within_20_weeks_ex, pct_within_20_weeks_ex
        FROM kpi.ehcp_new_plans WHERE year >= 2022 ORDER BY year""")
    assert got == [
        (2022, 1, 0, 0.0, 1, 0, 0.0),
        (2023, 2, 2, 100.0, 2, 2, 100.0),
        (2024, 2, 1, 50.0, 0, 0, None),
    ]


def test_new_plans_stop_at_the_last_complete_year(published):
    assert rows(published, "SELECT max(year), min(year) FROM kpi.ehcp_new_plans") == [
        (2024, 2015)]


def test_prevalence_never_counts_a_subsidiary_registration(published):
    got = rows(published, """
        SELECT scope, scope_id, pupils, ehcp, ehcp_pct, sen_support, sen_support_pct
        FROM kpi.sen_prevalence ORDER BY scope, scope_id""")
    assert got == [
        ("la", "865", 5, 1, 20.0, 2, 40.0),
        ("phase", "Alternative provision", 1, 0, 0.0, 1, 100.0),
        ("phase", "Primary", 4, 1, 25.0, 1, 25.0),
        ("school", "100001", 4, 1, 25.0, 1, 25.0),
        ("school", "100002", 1, 0, 0.0, 1, 100.0),
    ]


def test_every_kpi_table_says_definition_source_and_as_of(published):
    for table in ("kpi.ehcp_caseload", "kpi.ehcp_new_plans", "kpi.sen_prevalence"):
        got = rows(published, f"SELECT DISTINCT as_of::VARCHAR, definition FROM {table}")
        assert len(got) == 1
        assert got[0][0] == "2025-03-01"
        assert got[0][1].startswith("docs/kpis.md#")
        source = rows(published, f"SELECT DISTINCT source FROM {table}")[0][0]
        assert source.startswith(("SEN2 export 2025-03-01", "school census (1 censuses)"))


def test_audit_records_the_run_and_every_file(published):
    runs = rows(published, "SELECT flow, status, files_new, error FROM audit.runs")
    assert runs == [("sendboard-nightly", "published", 10, None)]
    files = rows(published, "SELECT source, count(*), sum(rows_loaded), sum(rows_quarantined) "
                            "FROM audit.files GROUP BY source ORDER BY source")
    assert files == [("census", 1, 6, 0), ("sen2", 9, 49, 0)]


def test_the_run_leaves_a_summary_and_a_file_table_in_prefect(published):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        def latest(key):
            [found] = client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[RUN["id"]])))
            return found.data

        summary = latest("sendboard-run")
        files = json.loads(latest("sendboard-files"))
        progress = latest("sendboard-loading")
    assert progress == 100.0  # the loading progress bar reached the end
    assert "files loaded: 10; rejected or waiting: 0" in summary
    assert "| 2025 | 4 | 0.0 |" in summary
    # The one warning: the hand-made LA (Wiltshire's LA number, 4 plans) reconciled against
    # the DfE's figures for Wiltshire, which ship with sendboard.
    assert "quality gate: " in summary and "expectations met (1 warning(s))" in summary
    assert "\n- warning: forecast scenario 'recovery_plan' left out: " in summary
    assert len(files) == 10 and {f["source"] for f in files} == {"census", "sen2"}


def test_a_scenario_whose_recovery_target_is_missing_is_left_out_whole(published):
    # The hand-made register has no RP05/RP09, which recovery_plan targets; with no ledger
    # the forecast is of demand only (caseload and new plans).
    # (high_demand also says how far it is from baseline.)
    assert rows(published, "SELECT scenario, string_agg(DISTINCT measure, ',' ORDER BY "
                           "measure) FROM kpi.forecast GROUP BY 1 ORDER BY 1") == [
        ("baseline", "caseload,new_plans"),
        ("high_demand", "caseload,caseload_vs_baseline,new_plans")]
    # ... and the run says so, with the reason (the CLI prints it; so does the run's summary).
    left_out = ("forecast scenario 'recovery_plan' left out: scenario 'recovery_plan': "
                "recovery plan project 'RP05' has no metric target in the recovery plan "
                "register")
    assert RUN["warnings"] == [left_out]


def test_a_rebuild_drops_kpi_tables_it_no_longer_makes(published):
    """A table whose source is gone must not be published again with its old numbers."""
    from warehouse.build import rebuild

    con = duckdb.connect(str(RUN["home"] / "warehouse.duckdb"))
    try:
        con.execute("CREATE TABLE kpi.made_by_an_older_build AS SELECT 1 AS n")
        con.execute("CREATE TABLE public.made_by_an_older_build AS SELECT 1 AS n")
        rebuild(con, settings_for(RUN["home"]))
        left = rows(con, "SELECT table_schema || '.' || table_name FROM "
                         "information_schema.tables WHERE table_name LIKE 'made_by%' OR "
                         "table_name = 'forecast' ORDER BY 1")
    finally:
        con.close()
    assert left == [("kpi.forecast",), ("public.forecast",)]


def test_the_forecast_thread_runs_in_the_flow_runs_context():
    """The forecast simulates in a thread of its own, in a copy of the caller's context:
    Prefect finds the flow run there, so the thread's log lines go to the run's log rather
    than raising Prefect's 'no flow run id' warning."""
    import contextvars

    from warehouse.build import _background

    run = contextvars.ContextVar("run")
    run.set("the flow run")
    assert _background(run.get).result() == "the flow run"


def test_annual_reviews_due_held_and_decided_within_four_weeks(published):
    """tests/handmade.py: A, D, F due; A and D held; only A decided within 28 days."""
    assert rows(published, "SELECT year, reviews_due, reviews_held, pct_held, "
                           "decided_within_4_weeks, pct_decided_within_4_weeks, amended, "
                           "maintained, no_outcome FROM kpi.ehcp_annual_reviews") == [
        (2024, 3, 2, 66.7, 1, 50.0, 1, 1, 0)]


def test_phase_transfers_final_on_the_deadline_day_is_in_time(published):
    assert rows(published, "SELECT year, transfers_due, final_by_deadline, settled, "
                           "pct_final_by_deadline, final_after_deadline, deadline_passed "
                           "FROM kpi.ehcp_phase_transfers ORDER BY year") == [
        (2024, 2, 1, 2, 50.0, 1, 2), (2025, 1, 1, 1, 100.0, 0, 0)]
