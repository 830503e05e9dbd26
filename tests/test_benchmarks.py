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
    for name in ("caseload.csv", "timeliness_20_week.csv"):
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


