"""Small-number suppression: on random tables, no withheld cell can be worked out from what
is published (totals, other cells, percentages)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from schemas.contracts import PLACEMENT_GROUPS
from transforms.suppression import POLICIES, suppress

LIMIT = 5


def small_count(rng: np.random.Generator) -> int:
    """Mostly small numbers (zeros, ones, twos...) with the odd large one."""
    return int(rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 6, 9, 14, 40, 200]))


def assert_not_recoverable(parts: list[int | None], total: int | None) -> None:
    """With the total known and each withheld part at least 1 (zeros are shown), a withheld
    part is pinned down when it is alone, or when the withheld parts are all ones."""
    if total is None:
        return
    hidden = [p for p in parts if p is None]
    if not hidden:
        return
    rest = total - sum(p for p in parts if p is not None)
    assert len(hidden) >= 2, f"one withheld part = {rest} (total {total}, parts {parts})"
    assert rest > len(hidden), f"{len(hidden)} withheld parts must all be 1 (total {total})"


@pytest.mark.parametrize("seed", range(40))
def test_random_placement_mix_keeps_withheld_cells_hidden(seed):
    rng = np.random.default_rng(seed)
    rows = []
    for year in range(2019, 2019 + int(rng.integers(1, 5))):
        plans = [small_count(rng) for _ in PLACEMENT_GROUPS]
        for group, n in zip(PLACEMENT_GROUPS, plans, strict=True):
            rows.append({"year": year, "placement_group": group, "plans": n,
                         "caseload": sum(plans)})
    frame = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("caseload") > 0).then(100 * pl.col("plans") / pl.col("caseload"))
        .round(1).alias("pct"))
    public = suppress(frame, POLICIES["ehcp_placement_mix"], LIMIT)
    shown = public["plans"].drop_nulls()
    assert not ((shown > 0) & (shown < LIMIT)).any()
    # A percentage of a withheld count would give it back (pct x caseload).
    assert public.filter(pl.col("plans").is_null() & pl.col("pct").is_not_null()).height == 0
    for _, group in public.group_by("year"):
        totals = group["caseload"].drop_nulls().unique().to_list()
        assert_not_recoverable(group["plans"].to_list(), totals[0] if totals else None)
    # Nothing is withheld that did not need to be hidden or to protect another cell.
    assert public.filter(pl.col("suppressed").is_not_null()).height <= frame.filter(
        pl.col("plans") > 0).height


@pytest.mark.parametrize("seed", range(40))
def test_random_school_tables_keep_withheld_cells_hidden(seed):
    """Schools add up to their phase, phases to the LA: both levels are checked."""
    rng = np.random.default_rng(1000 + seed)
    schools = []
    for phase in ("Primary", "Secondary", "Special"):
        for k in range(int(rng.integers(1, 7))):
            ehcp, support = small_count(rng), small_count(rng)
            schools.append({"scope": "school", "scope_id": f"{phase[:3]}{k}", "phase": phase,
                            "ehcp": ehcp, "sen_support": support,
                            "pupils": ehcp + support + int(rng.integers(0, 300))})
    frame = pl.DataFrame(schools)
    phases = frame.group_by("phase").agg(pl.col("ehcp", "sen_support", "pupils").sum()) \
        .with_columns(pl.lit("phase").alias("scope"), pl.col("phase").alias("scope_id"))
    la = frame.select(pl.col("ehcp", "sen_support", "pupils").sum()).with_columns(
        pl.lit("la").alias("scope"), pl.lit("865").alias("scope_id"),
        pl.lit(None, pl.Utf8).alias("phase"))
    table = pl.concat([frame, phases.select(frame.columns), la.select(frame.columns)])
    table = table.with_columns(
        pl.lit("2025-01-16").str.to_date().alias("census_date"),
        *[pl.when(pl.col("pupils") > 0).then(100 * pl.col(c) / pl.col("pupils")).round(1)
          .alias(f"{c}_pct") for c in ("ehcp", "sen_support")])
    public = suppress(table, POLICIES["sen_prevalence"], LIMIT)
    for column in ("ehcp", "sen_support", "pupils"):
        shown = public[column].drop_nulls()
        assert not ((shown > 0) & (shown < LIMIT)).any()
        for phase, group in public.filter(pl.col("scope") == "school").group_by("phase"):
            total = public.filter((pl.col("scope") == "phase")
                                  & (pl.col("scope_id") == phase[0]))[column][0]
            assert_not_recoverable(group[column].to_list(), total)
        la_total = public.filter(pl.col("scope") == "la")[column][0]
        assert_not_recoverable(public.filter(pl.col("scope") == "phase")[column].to_list(),
                               la_total)
    for c in ("ehcp", "sen_support"):
        leak = public.filter(pl.col(c).is_null() & pl.col(f"{c}_pct").is_not_null()
                             & pl.col("pupils").is_not_null())
        assert leak.height == 0


def test_zero_is_shown_and_the_withheld_columns_are_listed():
    frame = pl.DataFrame({"year": [2025] * 3, "placement_group": ["mainstream", "special", "fe"],
                          "plans": [0, 3, 40], "caseload": [43] * 3})
    frame = frame.with_columns((100 * pl.col("plans") / pl.col("caseload")).round(1)
                               .alias("pct"))
    public = suppress(frame, POLICIES["ehcp_placement_mix"], LIMIT)
    assert public["plans"].to_list() == [0, None, None]  # 3 primary, 40 to protect it
    assert public["suppressed"].to_list() == [None, "plans,pct", "plans,pct"]
    assert public["caseload"].to_list() == [43, 43, 43]


def test_a_year_of_withheld_ceased_counts_withholds_its_total_in_reconciliation():
    """Five reasons of one plan each: all withheld, and the year total of 5 (not small itself)
    would say they are all ones, so reconciliation withholds it too; 2024's stays."""
    from warehouse.build import public_tables

    ceased = pl.DataFrame({"year": [2023] * 5 + [2024, 2024],
                           "cease_reason": [1, 2, 3, 4, 5, 1, 2], "plans": [1] * 5 + [12, 9]})
    recon = pl.DataFrame({"year": [2023, 2024], "measure": ["ceased_plans"] * 2,
                          "local_value": [5.0, 21.0], "published_value": [5.0, 20.0],
                          "difference": [0.0, 1.0], "tolerance": [1.0, 1.0],
                          "flagged": [False, False], "note": [None, None]},
                         schema_overrides={"note": pl.Utf8})
    public = public_tables({"kpi.ehcp_ceased": ceased, "kpi.reconciliation": recon}, LIMIT)
    assert public["public.ehcp_ceased"]["plans"].to_list() == [None] * 5 + [12, 9]
    got = public["public.reconciliation"].select("year", "local_value", "difference",
                                                 "suppressed").rows()
    assert got == [(2023, None, None, "local_value"), (2024, 21.0, 1.0, None)]


def test_parts_in_columns_of_one_row_are_protected_like_parts_in_rows():
    """A year's review decisions add up to the reviews held: one withheld decision would be
    given back by subtraction, so the smallest other non-zero one is withheld too."""
    frame = pl.DataFrame({"year": [2025, 2024], "reviews_due": [500, 400],
                          "reviews_held": [420, 380], "decided_within_4_weeks": [300, 200],
                          "pct_decided_within_4_weeks": [71.4, 52.6], "amended": [3, 200],
                          "ceased": [17, 0], "maintained": [380, 170], "no_outcome": [20, 10],
                          "not_held": [80, 20], "pct_held": [84.0, 95.0]})
    out = suppress(frame, POLICIES["ehcp_annual_reviews"], 5)
    first, second = out.row(0, named=True), out.row(1, named=True)
    # 2025: amended (3) is primary; ceased (17), the smallest other non-zero, secondary.
    assert (first["amended"], first["ceased"], first["maintained"], first["no_outcome"],
            first["suppressed"]) == (None, None, 380, 20, "amended,ceased")
    assert second["suppressed"] is None and second["ceased"] == 0
