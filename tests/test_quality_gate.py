"""The quality gate on small KPI tables: each rule fails when it should, and says why."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from warehouse.quality_gate import run_gate

AS_OF = dt.date(2025, 3, 1)


def caseload(values: dict[int, int], as_of: dt.date = AS_OF) -> pl.DataFrame:
    years = sorted(values)
    frame = pl.DataFrame({"year": years, "caseload": [values[y] for y in years]})
    return frame.with_columns(
        ((pl.col("caseload") / pl.col("caseload").shift(1) - 1) * 100).round(1)
        .alias("growth_pct"), pl.lit(100.0).alias("rate_per_10k_0_25"),
        pl.lit(as_of).alias("as_of"))


def mix(year_counts: dict[int, dict[str, int]]) -> pl.DataFrame:
    rows = [{"year": y, "placement_group": g, "plans": n, "pct": 50.0}
            for y, groups in year_counts.items() for g, n in groups.items()]
    return pl.DataFrame(rows)


@pytest.fixture()
def reports(tmp_path):
    return tmp_path / "reports"


def failed(result) -> list[tuple[str, str | None]]:
    bad = result.checks.filter(~pl.col("success"))
    return list(zip(bad["suite"].to_list(), bad["column"].to_list(), strict=True))


def test_good_tables_pass_and_data_docs_are_written(reports):
    tables = {"kpi.ehcp_caseload": caseload({2023: 100, 2024: 110, 2025: 120}),
              "kpi.ehcp_placement_mix": mix({2023: {"mainstream": 60, "special": 40},
                                            2024: {"mainstream": 70, "special": 40},
                                            2025: {"mainstream": 70, "special": 50}})}
    result = run_gate(tables, reports, "run-1", today=AS_OF)
    assert result.passed and result.failures == []
    assert result.checks.height == 10  # caseload 5, freshness 1, mix 3, sums 1
    assert (reports / "data-docs" / "index.html").exists()


def test_parts_that_do_not_sum_to_the_caseload_fail(reports):
    tables = {"kpi.ehcp_caseload": caseload({2024: 110, 2025: 120}),
              "kpi.ehcp_placement_mix": mix({2024: {"mainstream": 70, "special": 40},
                                            2025: {"mainstream": 70, "special": 49}})}
    result = run_gate(tables, reports, "run-1", today=AS_OF)
    assert failed(result) == [("ehcp_placement_mix_sums_to_caseload", "difference")]
    assert "placement_group counts add up to each January's caseload" in result.failures[0]
    assert "e.g. [-1.0]" in result.failures[0] or "e.g. [-1]" in result.failures[0]


def test_a_missing_year_a_negative_count_and_implausible_growth_fail(reports):
    frame = caseload({2021: 100, 2022: 100, 2024: 190, 2025: -5})
    result = run_gate({"kpi.ehcp_caseload": frame}, reports, "run-1", today=AS_OF)
    assert sorted(failed(result), key=str) == sorted([
        ("ehcp_caseload", "caseload"), ("ehcp_caseload", None),
        ("ehcp_caseload", "growth_checked")], key=str)
    assert any("no year missing between 2021 and 2025" in f for f in result.failures)


def test_stale_data_fails_freshness_unless_it_is_sample_data(reports):
    tables = {"kpi.ehcp_caseload": caseload({2024: 100, 2025: 110})}
    stale = run_gate(tables, reports, "run-1", today=AS_OF + dt.timedelta(days=401),
                     max_age_days=400)
    assert failed(stale) == [("freshness", "age_days")]
    fresh = run_gate(tables, reports, "run-2", today=AS_OF + dt.timedelta(days=399),
                     max_age_days=400)
    assert fresh.passed
    sample = run_gate(tables, reports, "run-3", today=AS_OF + dt.timedelta(days=4000),
                      max_age_days=None)
    assert sample.passed


def test_timeliness_bands_that_disagree_with_the_new_plans_fail(reports):
    """The bands and kpi.ehcp_new_plans count the same plans: a band short of a plan, or a
    year the bands lack, fails the bands' suite on the column that says which count."""
    from transforms.duty_kpis import ehcp_timeliness_bands

    plans = pl.DataFrame({
        "start_date": [dt.date(2023, 5, 1), dt.date(2023, 9, 1), dt.date(2024, 3, 1)],
        "request_received": [dt.date(2023, 1, 2), dt.date(2023, 1, 2), dt.date(2023, 12, 1)],
        "transfer_la": [None, None, None], "exception_applies": [False, False, False]},
        schema_overrides={"transfer_la": pl.Utf8})
    bands = ehcp_timeliness_bands(plans, AS_OF, "test", AS_OF)
    # 2023: one plan within 20 weeks (119 days), one over (242 days); 2024: one within.
    new_plans = pl.DataFrame({"year": [2023, 2024], "new_plans": [2, 1],
                              "within_20_weeks": [1, 1], "new_plans_ex": [2, 1],
                              "within_20_weeks_ex": [1, 1],
                              "pct_within_20_weeks": [50.0, 100.0],
                              "pct_within_20_weeks_ex": [50.0, 100.0]})
    good = run_gate({"kpi.ehcp_new_plans": new_plans, "kpi.ehcp_timeliness_bands": bands},
                    reports, "run-1", today=AS_OF)
    assert good.passed, good.failures
    bad = run_gate({"kpi.ehcp_new_plans": new_plans.with_columns(
                        pl.when(pl.col("year") == 2024).then(2).otherwise(pl.col("new_plans"))
                        .alias("new_plans")),
                    "kpi.ehcp_timeliness_bands": bands}, reports, "run-2", today=AS_OF)
    assert failed(bad) == [("ehcp_timeliness_bands", "new_plans_difference")]
