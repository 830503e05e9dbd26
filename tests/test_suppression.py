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


def _detail_and_mix(counts: dict[tuple[int, str, str], int]
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """kpi.ehcp_placement_detail-like rows from (year, group, setting) counts, and the
    kpi.ehcp_placement_mix rows they add up to, in the mix's order."""
    detail = pl.DataFrame([(y, g, s, n) for (y, g, s), n in counts.items()],
                          schema={"year": pl.Int32, "placement_group": pl.Utf8,
                                  "setting_2026": pl.Utf8, "plans": pl.Int64}, orient="row")
    detail = detail.with_columns(
        pl.col("plans").sum().over("year", "placement_group").alias("group_plans"),
        pl.col("plans").sum().over("year").alias("caseload")).with_columns(
        pl.when(pl.col("caseload") > 0).then((100 * pl.col("plans") / pl.col("caseload"))
                                             .round(1)).alias("pct"),
        pl.when(pl.col("group_plans") > 0).then((100 * pl.col("plans") / pl.col("group_plans"))
                                                .round(1)).alias("pct_of_group"))
    order = {g: i for i, g in enumerate(PLACEMENT_GROUPS)}
    mix = (detail.group_by("year", "placement_group").agg(
        pl.col("group_plans").first().alias("plans"), pl.col("caseload").first())
        .with_columns((100 * pl.col("plans") / pl.col("caseload")).round(1).alias("pct"))
        .sort("year", pl.col("placement_group").replace_strict(order, return_dtype=pl.Int8)))
    return detail, mix


def _published(detail: pl.DataFrame, mix: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    from transforms.suppression import across_tables, placement_detail_public

    public = across_tables({
        "public.ehcp_placement_mix": suppress(mix, POLICIES["ehcp_placement_mix"], LIMIT),
        "public.ehcp_placement_detail": placement_detail_public(detail, LIMIT)})
    return public["public.ehcp_placement_detail"], public["public.ehcp_placement_mix"]


@pytest.mark.parametrize("seed", range(40))
def test_random_placement_detail_with_its_mix_keeps_withheld_cells_hidden(seed):
    """The 2026 settings add up to the mix's groups and to the caseload: what either table
    publishes gives back no cell the other withholds."""
    from schemas.contracts import SETTINGS_2026

    rng = np.random.default_rng(seed)
    counts = {(2025, g, s): small_count(rng) for s, g in SETTINGS_2026.items()}
    detail, mix = _published(*_detail_and_mix(counts))
    year_total = mix["caseload"].drop_nulls().to_list()
    caseload = year_total[0] if year_total else None
    assert_not_recoverable(detail["plans"].to_list(), caseload)
    assert_not_recoverable(mix["plans"].to_list(), caseload)
    shown = dict(mix.select("placement_group", "plans").rows())
    for group in PLACEMENT_GROUPS:
        rows = detail.filter(pl.col("placement_group") == group)
        parts = rows["plans"].to_list()
        assert_not_recoverable(parts, shown[group])
        assert_not_recoverable(parts, rows["group_plans"][0])
        if shown[group] is None and any(p for p in counts.values()):
            # A group the mix withholds is not given back by its settings.
            real = [n for (_, g, _), n in counts.items() if g == group]
            if sum(real):
                assert None in parts, f"{group}'s settings add up to its withheld total"


def test_a_group_of_single_plans_is_withheld_in_the_mix_too():
    """Five settings of one plan each and nothing else in the group: the mix would show 5,
    and five withheld parts adding up to 5 are all ones, so the mix withholds it too, and
    one more group with it."""
    from schemas.contracts import SETTINGS_2026

    ones = ("elective_home_education", "other_arrangements_la", "other_arrangements_parents",
            "neet", "neet_ntci")
    counts = {(2025, g, s): (1 if s in ones else 40 if s == "special_la_maintained"
                             else 30 if s == "mainstream_academy"
                             else 20 if s == "general_fe_tertiary_colleges" else 0)
              for s, g in SETTINGS_2026.items()}
    detail, mix = _published(*_detail_and_mix(counts))
    elsewhere = detail.filter(pl.col("placement_group") == "educated_elsewhere")
    assert elsewhere.filter(pl.col("setting_2026").is_in(list(ones)))["plans"].null_count() == 5
    assert set(elsewhere["group_plans"]) == {None}
    shown = dict(mix.select("placement_group", "plans").rows())
    # Alone it would show 5 in the mix; withheld, so is the next smallest group (FE, 20).
    assert shown == {"mainstream": 30, "special": 40, "ap_pru": 0, "fe": None,
                     "educated_elsewhere": None, "early_years": 0, "unknown": 0}
    assert mix.filter(pl.col("placement_group") == "educated_elsewhere")["suppressed"][0] \
        == "plans,pct"
