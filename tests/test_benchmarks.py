"""transforms/benchmarks.py: comparators from the DfE's real 2025 release, and
reconciliation's tolerances."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.test_kpis import AS_OF
from transforms.benchmarks import benchmarks, headline_figures, reconciliation

RELEASE = Path(__file__).resolve().parents[2] / "shared" / "external" / "dfe-ehcp-2025"


@pytest.fixture(scope="module")
def published():
    from transforms.dfe_statistics import ees_schema, recognise, tidy
    from transforms.readers import read_raw
    from transforms.validate import validate

    frames = []
    for name in ("caseload.csv", "timeliness_20_week.csv", "requests.csv", "assessments.csv"):
        raw = read_raw(RELEASE / name)
        cols = [c for c in raw.frame.columns if c != "row_number"]
        good = validate(raw.frame, ees_schema(cols), set()).good
        kind = recognise(cols, set(good["time_identifier"].unique()))
        frames.append(tidy(good, kind))
    return headline_figures(pl.concat(frames))


def test_benchmarks_on_the_real_2025_release(published):
    out = benchmarks(published, "E06000054", "E12000009", ["E10000013", "E10000027"], "DfE",
                     AS_OF)
    got = {(r["measure"], r["comparison"], r["geography_name"]): r["value"]
           for r in out.filter(pl.col("year") == 2025).iter_rows(named=True)}
    assert got[("ehcp_caseload", "england", "England")] == 638745
    assert got[("ehcp_caseload", "la", "Wiltshire")] == 6383
    assert got[("pct_mainstream", "la", "Wiltshire")] == 51.2
    assert got[("pct_mainstream", "england", "England")] == 43.6
    assert got[("ehcp_caseload", "region", "South West")] > 40000
    # Gloucestershire 6,412 and Somerset 5,725: their mean is 6,068.5.
    assert got[("ehcp_caseload", "statistical_neighbours_mean",
                "Mean of 2 statistical neighbours")] == 6068.5
    timeliness = out.filter((pl.col("measure") == "pct_within_20_weeks_ex")
                            & (pl.col("comparison") == "england") & (pl.col("year") == 2019))
    assert timeliness["value"].to_list() == [60.4]


def test_reconciliation_flags_differences_beyond_tolerance():
    local = pl.DataFrame({"year": [2024, 2024, 2025], "measure": [
        "ehcp_caseload", "pct_within_20_weeks_ex", "ehcp_caseload"],
        "local_value": [5540.0, 33.0, 6383.0], "note": [None, None, None]})
    published = pl.DataFrame({"year": [2024, 2024, 2025, 2023], "measure": [
        "ehcp_caseload", "pct_within_20_weeks_ex", "ehcp_caseload", "ehcp_caseload"],
        "value": [5536.0, 29.5, 6383.0, 4760.0]})
    out = reconciliation(local, published, "test", AS_OF)
    rows = out.select("year", "measure", "difference", "tolerance", "flagged", "note").rows()
    # 4 of 5,536 is within 2% (110.7); 3.5 points is beyond 2 points.
    assert rows == [
        (2023, "ehcp_caseload", None, 95.2, False, "no local figure"),
        (2024, "ehcp_caseload", 4.0, 110.7, False, None),
        (2025, "ehcp_caseload", 0.0, 127.7, False, None),
        (2024, "pct_within_20_weeks_ex", 3.5, 2.0, True, None)]




def test_disputes_and_settings_outside_school_are_benchmarked_from_the_real_release(published):
    # England's and Wiltshire's figures as the 2025 release's headline rows give them:
    # requests.csv and assessments.csv for 2024, caseload.csv's "All EHC plans" for 2025.
    out = benchmarks(published, "E06000054", "E12000009", [], "DfE", AS_OF)
    got = {(r["measure"], r["year"], r["comparison"]): r["value"] for r in out.iter_rows(
        named=True)}
    assert [got[(m, 2024, "england")] for m in (
        "mediations_request", "tribunals_request", "mediations_assessment",
        "tribunals_assessment", "mediations_plan", "tribunals_plan")] == [
        10507, 4655, 2124, 1445, 1862, 3088]
    assert (got[("mediations_request", 2024, "la")], got[("tribunals_request", 2024, "la")]) \
        == (85, 15)
    assert [got[(m, 2025, "england")] for m in (
        "plans_ehe", "plans_eotas", "plans_parent_arrangements", "plans_neet")] == [
        7155, 11524, 1012, 18056]


def test_disputes_and_settings_outside_school_are_reconciled_where_counted_alike():
    from warehouse.registry import REGISTRY

    reconciled = {k.name: k.reconciled for k in REGISTRY}
    disputes = pl.DataFrame({"year": [2024] * 4, "stage": ["request", "assessment", "plan",
                                                              "all"],
                             "mediations": [3, 5, 2, 10], "tribunals": [1, 2, 0, 3]})
    assert reconciled["ehcp_disputes"](disputes).sort("measure").rows() == [
        (2024, "mediations_request", 3.0), (2024, "tribunals_request", 1.0)]
    settings = pl.DataFrame({"year": [2025] * 4, "setting": ["EHE", "EOTAS", "NEET",
                                                                "parent_arrangements"],
                             "plans": [12, 20, 7, 0]})
    assert reconciled["ehcp_not_in_school"](settings).sort("measure").rows() == [
        (2025, "plans_ehe", 12.0), (2025, "plans_eotas", 20.0),
        (2025, "plans_parent_arrangements", 0.0)]
