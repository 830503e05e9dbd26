"""The KPI registry (warehouse/registry.py): every published KPI table is one entry, and each
entry has its definition in docs/kpis.md naming it, its function and its unit tests, a
quality suite and a suppression decision. (Its grain is checked on a built table in
tests/test_pipeline_sample.py.)"""

from __future__ import annotations

import re

import pytest

from flows.settings import KPI_DOC, REPOSITORY
from warehouse.registry import BY_NAME, REGISTRY

SECTIONS = {m.group(1): m.group(2) for m in re.finditer(
    r"^## ([a-z0-9-]+)\n(.*?)(?=^## |\Z)", KPI_DOC.read_text(), re.M | re.S)}


def test_the_registry_has_every_published_kpi_once_in_its_build_order():
    assert [k.name for k in REGISTRY] == [
        "ehcp_caseload", "ehcp_new_plans", "ehcp_requests", "ehcp_placement_mix",
        "ehcp_placement_detail", "ehcp_need_mix", "ehcp_ceased", "sen_prevalence",
        "hnb_outturn", "hnb_unit_costs",
        "dsg_balance", "recovery_plan", "place_sufficiency", "forecast",
        "ehcp_timeliness_bands", "ehcp_assessment_decisions", "ehcp_disputes",
        "ehcp_annual_reviews", "ehcp_phase_transfers", "ehcp_not_in_school",
        "ehcp_personal_budgets", "ehcp_personal_budgets_caseload", "ehcp_requests_by_source",
        "ehcp_ceased_by_duration",
        "sen_attendance", "benchmarks", "forecast_track_record", "reconciliation"]
    assert len(BY_NAME) == len(REGISTRY)
    # What an entry is computed from is built before it (the forecast is the one that
    # reads every KPI before it; reconciliation reads them all).
    for position, kpi in enumerate(REGISTRY):
        earlier = {k.table for k in REGISTRY[:position]}
        assert {i for i in kpi.inputs if i.startswith("kpi.") and i != "kpi.*"} <= earlier


@pytest.mark.parametrize("kpi", REGISTRY, ids=lambda k: k.name)
def test_an_entry_has_its_doc_section_function_and_unit_tests(kpi):
    section = SECTIONS[kpi.anchor]
    assert f"`kpi.{kpi.name}`" in section
    function = f"{kpi.function.__module__}.{kpi.function.__name__}"
    assert (f"Registry: `{kpi.name}` in `warehouse/registry.py`; computed by `{function}`; "
            f"unit tests `{kpi.tested_by}`") in section
    path, prefix = kpi.tested_by.split("::")
    tests = re.findall(rf"^def ({prefix}\w*)\(", (REPOSITORY / path).read_text(), re.M)
    assert tests, f"no test named {prefix}* in {path}"


@pytest.mark.parametrize("kpi", REGISTRY, ids=lambda k: k.name)
def test_counts_of_children_are_suppressed_in_public_and_only_they(kpi):
    """Only money, the recovery plan and the DfE's own figures (and the forecast's record on
    them) are published as they are."""
    as_is = {"hnb_outturn", "dsg_balance", "recovery_plan", "benchmarks",
             "forecast_track_record"}
    assert (kpi.public is None) == (kpi.name in as_is)


@pytest.mark.parametrize("kpi", REGISTRY, ids=lambda k: k.name)
def test_an_entry_says_how_explain_lists_its_records_or_why_it_cannot(kpi):
    """`sendboard explain` (warehouse/explain.py): the frame of records its function
    aggregates and the counts it aggregates them with, its main count among them, what is
    shown of a record; or, for a table that counts no records of its own, why."""
    from warehouse.registry import Explanation

    if isinstance(kpi.explained, str):
        assert kpi.name in {"dsg_balance", "forecast", "benchmarks", "forecast_track_record",
                            "reconciliation"}
        assert len(kpi.explained) > 20
        return
    how = kpi.explained
    assert isinstance(how, Explanation)
    assert how.count in how.counts and how.source in ("plan", "request", "row")
    assert how.shows and not [c for c in how.shows if "birth" in c or c in ("upn", "dob")]
    id_column = {"plan": "plan_id", "request": "request_id", "row": None}[how.source]
    assert id_column is None or id_column in how.shows


def test_the_build_computes_each_kpi_after_what_it_reads_and_the_census_ones_first():
    from warehouse.build import compute_order

    order = [k.table for k in compute_order(REGISTRY)]
    assert sorted(order) == sorted(k.table for k in REGISTRY)
    for kpi in REGISTRY:
        for table in kpi.inputs:
            if table == "kpi.*":  # every other table but the background ones
                assert set(order[order.index(kpi.table) + 1:]) <= {
                    k.table for k in REGISTRY if k.background or "kpi.*" in k.inputs}
            elif table.startswith("kpi."):
                assert order.index(table) < order.index(kpi.table), (kpi.table, table)
    # The census's KPIs go first (the frame is let go before the forecast starts), then
    # the forecast's inputs, the forecast, and the rest in the registry's order.
    assert order[:2] == ["kpi.sen_prevalence", "kpi.sen_attendance"]
    assert order[order.index("kpi.forecast") - 1] == "kpi.place_sufficiency"
    assert order[order.index("kpi.forecast") + 1] == "kpi.ehcp_new_plans"
