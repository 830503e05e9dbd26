"""Comparators from the DfE's published statistics, and reconciliation of the LA's own
figures with what the DfE published for it."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schemas.contracts import SETTINGS_2026
from transforms.inclusion_benchmarks import KINDS as INCLUSION_KINDS
from transforms.inclusion_benchmarks import inclusion_figures
from transforms.kpis import _stamp

# Where each layout of the DfE's release publishes each measure of kpi.benchmarks, newest layout
# first: (kind of file, measure column, breakdown). A breakdown of None is the file's headline
# row (all plans); several parts of one kind are added up. The pre-2023 files count statements
# and EHC plans together (`total_all`), as the seed paper's first chart does, so the caseload
# runs from 2010 when the 2022 release is loaded. Their placement groups are those the later
# releases carry back to 2019 (checked: England's January 2019-2022 shares agree): special
# includes hospital schools, and "educated elsewhere" is home education, other arrangements by
# the LA or by parents and NEET, without those awaiting provision or permanently excluded.
# The 2026 layout splits special academies from special free schools, and adds online
# providers and NEET subgroups, inside the same totals (`special_total_pc`, `ed_elsewhere_pc`).
Part = tuple[str, str, str | None]
_ELSEWHERE_2022 = ("Elective home education / Educated elsewhere",
                   "Other arrangements by local authority / Educated elsewhere",
                   "Other arrangements by parents / Educated elsewhere", "NEET")


def _estab(group: str) -> Part:
    return ("ehcp_caseload_by_establishment", "total_all_pc", group)


PUBLISHED_MEASURES: dict[str, tuple[Part, ...]] = {
    "ehcp_caseload": (("ehcp_caseload", "ehcplans", None),
                      ("ehcp_caseload_by_age", "num_caseload", None),
                      ("ehcp_caseload_by_age", "total_all", None)),
    "pct_mainstream": (("ehcp_caseload", "mainstream_total_pc", None),
                       _estab("Mainstream school")),
    "pct_special": (("ehcp_caseload", "special_total_pc", None), _estab("Special school")),
    "pct_fe": (("ehcp_caseload", "fe_total_pc", None), _estab("Further education")),
    "pct_ap_pru": (("ehcp_caseload", "ap_pru_total_pc", None),
                   _estab("Alternative provision/Pupil referral unit")),
    "pct_educated_elsewhere": (("ehcp_caseload", "ed_elsewhere_pc", None),
                               *(_estab(b) for b in _ELSEWHERE_2022)),
    "new_plans": (("ehcp_new_plans", "new_ehc_plans", None),
                  ("ehcp_new_plans_by_age", "num_new_plans", None),
                  ("ehcp_new_plans_by_age", "total_new_all", None)),
    "plans_issued": (("ehcp_timeliness", "plans_issued_den", None),
                     ("ehcp_sen2_mi", "tot_inc_exc_ehc", None),
                     ("ehcp_sen2_mi", "totincexcehc", None)),
    "pct_within_20_weeks": (("ehcp_timeliness", "pc_plans_issued_within_20_weeks", None),
                            ("ehcp_sen2_mi", "inc_exc_20week_rate", None),
                            ("ehcp_sen2_mi", "incexc20weekrate", None)),
    "pct_within_20_weeks_ex": (("ehcp_timeliness", "pc_plans_issued_20_weeks_ex", None),
                               ("ehcp_sen2_mi", "no_exc_20week_rate", None),
                               ("ehcp_sen2_mi", "noexc20weekrate", None)),
    # The DfE's other two timeliness bands (2023 onwards), all plans with exceptions.
    "pct_20_to_52_weeks": (("ehcp_timeliness", "pc_plans_issued_gt20weeks_ltyear", None),),
    "pct_over_52_weeks": (("ehcp_timeliness", "pc_plans_issued_gt_1_year", None),),
    "decided_not_to_issue": (("ehcp_assessments", "assess_not_issued", None),),
    # The 2026 layout's annual reviews and phase transfers: columns named for the year
    # (`review_expected_2025`, `due_25`), read as `_YEAR` (year_relative).
    "reviews_due": (("ehcp_annual_reviews", "review_expected_YEAR", None),),
    "reviews_held": (("ehcp_annual_reviews", "review_completed_YEAR", None),),
    "reviews_decided_within_4_weeks": (("ehcp_annual_reviews", "decision_4_weeks", None),),
    # The reviews' decisions (kpi.ehcp_annual_reviews' amended, ceased, maintained and
    # no_outcome: SEN2 `reviewoutcome`, as the DfE's columns count the reviews completed).
    "reviews_amended": (("ehcp_annual_reviews", "outcome_amended", None),),
    "reviews_ceased": (("ehcp_annual_reviews", "outcome_ceased", None),),
    "reviews_maintained": (("ehcp_annual_reviews", "outcome_maintained", None),),
    "reviews_no_outcome": (("ehcp_annual_reviews", "no_outcome_recorded", None),),
    "transfers_due": (("ehcp_phase_transfers", "due_YEAR", None),),
    # Mediations and tribunals (kpi.ehcp_disputes' stages): requests subject to each (calendar
    # year of the request), and those related to the assessment decision and to the
    # assessment for other reasons (calendar year of the assessment).
    "mediations_request": (("ehcp_requests", "mediation_related_request", None),),
    "tribunals_request": (("ehcp_requests", "tribunal_related_request", None),),
    "mediations_assessment": (("ehcp_assessments", "number_assess_mediation", None),),
    "tribunals_assessment": (("ehcp_assessments", "number_assess_tribunal", None),),
    "mediations_plan": (("ehcp_assessments", "number_other_mediation", None),),
    "tribunals_plan": (("ehcp_assessments", "number_other_tribunal", None),),
    # The SEND Tribunal appeal rate (the release's supporting table, transforms/appeal_rates.py):
    # HMCTS appeals registered in the calendar year over the DfE's appealable decisions.
    "appeal_rate_pct": (("ehcp_appeal_rate", "appeal_rate_pct", None),),
    "appeals_registered": (("ehcp_appeal_rate", "appeals_registered", None),),
    "appealable_decisions": (("ehcp_appeal_rate", "appealable_decisions", None),),
    # The January caseload not in a school or college (kpi.ehcp_not_in_school's settings).
    "plans_ehe": (("ehcp_caseload", "elective_home_education", None),),
    "plans_eotas": (("ehcp_caseload", "other_arrangements_la", None),),
    "plans_parent_arrangements": (("ehcp_caseload", "other_arrangements_parents", None),),
    "plans_neet": (("ehcp_caseload", "neet", None),),
    "requests_received": (("ehcp_requests", "requests_received_in_year", None),
                          ("ehcp_sen2_mi", "inreq_ehc", None),
                          ("ehcp_sen2_mi", "inreqehc", None)),
    # The pre-2023 files publish discontinued plans by reason only (and for compulsory school
    # age): no total to compare with the later releases' ceased plans, so none is made up.
    "ceased_plans": (("ehcp_ceased", "total_ceased", None),
                     ("ehcp_sen2_mi", "discontinued_total", None)),
}
# The measures above that kpi.reconciliation compares with the LA's own figure, where both
# count alike. kpi.ehcp_disputes' request-stage columns (the DfE counts requests by the
# request's calendar year, as the table does; its assessment stages by the assessment's
# year, so those are benchmarked only).
DISPUTES_RECONCILED = {"mediations": "mediations_request", "tribunals": "tribunals_request"}
# kpi.ehcp_annual_reviews' columns that kpi.reconciliation compares with the 2026 release's
# annual_reviews.csv (column -> measure).
REVIEWS_RECONCILED = {"reviews_due": "reviews_due", "reviews_held": "reviews_held",
                      "decided_within_4_weeks": "reviews_decided_within_4_weeks",
                      "amended": "reviews_amended", "ceased": "reviews_ceased",
                      "maintained": "reviews_maintained", "no_outcome": "reviews_no_outcome"}
# kpi.ehcp_not_in_school's settings that are the DfE caseload file's columns of the same
# plans (SEN2 sensetting EHE, OLA, OPA). (Its `neet` is benchmarked but not reconciled:
# whether it counts NIEC and NIEO too is not said.)
NOT_IN_SCHOOL_RECONCILED = {"EHE": "plans_ehe", "EOTAS": "plans_eotas",
                            "parent_arrangements": "plans_parent_arrangements"}
# The 2026 release's placement settings (schemas.contracts.SETTINGS_2026, its caseload.csv
# columns), read as counts (`plans_setting_<column>`) and published in kpi.benchmarks as
# shares of the same release's caseload (`pct_setting_<column>`: caseload_shares). Only from
# the 2026 release on: the 2025 release has the columns but special academies and free
# schools together, and kpi.benchmarks compares like with like.
SETTING_COUNT, SETTING_SHARE = "plans_setting_", "pct_setting_"
PUBLISHED_MEASURES |= {f"{SETTING_COUNT}{s}": (("ehcp_caseload", s, None),)
                       for s in SETTINGS_2026}
FIRST_RELEASE = dict.fromkeys((f"{SETTING_COUNT}{s}" for s in SETTINGS_2026), 2026)
# The 2026 release's personal_budgets.csv (kind ehcp_personal_budgets): the January caseload's
# plans with a personal budget in place (`personal_budget`) and with organised arrangements
# (`org_arrangments`, the DfE's spelling), headline "All personal budgets" (data guidance,
# ../shared/external/dfe-ehcp-2026-headers.txt). Its budget covers (`pb_health`,
# `pb_education`, `pb_social`, `pb_integrated`) say what a budget pays for, not whether it
# is paid directly, so nothing is read as direct payments.
PUBLISHED_MEASURES |= {
    "plans_with_pb": (("ehcp_personal_budgets", "personal_budget", None),),
    "plans_with_oa": (("ehcp_personal_budgets", "org_arrangments", None),)}
# kpi.ehcp_personal_budgets_caseload's columns that kpi.reconciliation compares with the
# DfE's count for the LA (column -> measure).
PERSONAL_BUDGETS_RECONCILED = {"plans_with_pb": "plans_with_pb",
                               "organised_arrangements": "plans_with_oa"}
# Counts published in kpi.benchmarks as their share of the same release's January caseload
# (caseload_shares): count measure -> share measure.
CASELOAD_SHARES = {f"{SETTING_COUNT}{s}": f"{SETTING_SHARE}{s}" for s in SETTINGS_2026} | {
    "plans_with_pb": "pct_caseload_with_pb"}
# Of those, the counts kept as measures beside their share: reconciliation compares the
# LA's own count with them (a settings count is reconciled as its share).
SHARED_COUNTS_KEPT = frozenset({"plans_with_pb"})
# SEN2 primary need codes; the DfE publishes each need's share of all plans as <code>_pc.
NEEDS = ("ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH", "SLCN", "SLD", "SPLD", "VI")
PUBLISHED_MEASURES |= {f"pct_need_{n.lower()}": (("ehcp_needs_all_plans", f"{n.lower()}_pc",
                                                  None),) for n in NEEDS}
# The geography columns a figure is for (besides geographic_level).
GEOGRAPHY = ("country_code", "region_code", "region_name", "new_la_code", "old_la_code",
             "la_name")


# A placeholder no DfE column uses (their names are lower case once tidied).
OWN_YEAR = "_YEAR"


def year_relative(measure: pl.Expr, year: pl.Expr) -> pl.Expr:
    """A measure named for its row's own year, as the 2026 release names some
    (`review_expected_2025`, `due_25` in a 2025 row), as `<name>_YEAR`; others as they are.
    A column for another year (`due_26` in a 2025 row) keeps its name."""
    four = pl.concat_str(pl.lit("_"), year.cast(pl.Utf8))
    two = pl.concat_str(pl.lit("_"), (year % 100).cast(pl.Utf8).str.zfill(2))
    return (pl.when(measure.str.ends_with(four)).then(measure.str.head(-5) + OWN_YEAR)
            .when(measure.str.ends_with(two) & ~measure.str.contains(r"_\d{4}$"))
            .then(measure.str.head(-3) + OWN_YEAR).otherwise(measure))


def year_named_stems() -> list[str]:
    """The names PUBLISHED_MEASURES reads year_relative, without `_YEAR`."""
    return sorted({column.removesuffix(OWN_YEAR) for parts in PUBLISHED_MEASURES.values()
                   for _, column, _ in parts if column.endswith(OWN_YEAR)})


def measure_parts() -> pl.DataFrame:
    """PUBLISHED_MEASURES as rows: measure_name, kind, measure, part (the breakdown), rank
    (the layout's place in the list), first_release (the first release it is read from, or
    null: any), parts (how many of that kind make the measure)."""
    rows = [(name, kind, column, part, rank, FIRST_RELEASE.get(name))
            for name, parts in PUBLISHED_MEASURES.items()
            for rank, (kind, column, part) in enumerate(parts)]
    out = pl.DataFrame(rows, schema={"measure_name": pl.Utf8, "kind": pl.Utf8,
                                     "measure": pl.Utf8, "part": pl.Utf8, "rank": pl.Int32,
                                     "first_release": pl.Int32}, orient="row")
    return out.with_columns(pl.len().over("measure_name", "kind").alias("parts"))


def _geography_key() -> pl.Expr:
    level = pl.col("geographic_level")
    return (pl.when(level == "Local authority").then(pl.col("new_la_code"))
            .when(level == "Regional").then(pl.col("region_code"))
            .otherwise(pl.coalesce("country_code", pl.lit(""))))


def headline_figures(published: pl.DataFrame) -> pl.DataFrame:
    """The figures of the measures above, one a (measure, year, geography), in the measure
    names of kpi.benchmarks (`measure_name`).

    `published` is tidy rows (transforms.dfe_statistics.tidy) of any number of releases, with their
    `release` (the reporting year) and `shipped` (the release that ships with sendboard) when
    known. For each measure, year and geography the newest release that has a figure wins
    (releases revise earlier years) and older ones fill the years before; at the same release
    a landed file wins over the shipped copy. A newer release's symbol (x, c) does not hide an
    older release's number for the same year; when no release has a number, the newest
    release's symbol row is kept.
    """
    extra = [pl.lit(v).alias(c) for c, v in (("release", None), ("shipped", False))
             if c not in published.columns]
    published = published.with_columns(extra).with_columns(pl.col("release").cast(pl.Int32))
    # The absence and exclusions files by SEN status and period (transforms/
    # inclusion_benchmarks.py); the EHC plans files by the parts below.
    inclusion = inclusion_figures(published).with_columns(
        pl.lit(None, pl.Utf8).alias("part"), pl.lit(1, pl.UInt32).alias("parts"),
        pl.lit(None, pl.Int32).alias("first_release"))
    rows = published.filter(~pl.col("kind").is_in(list(INCLUSION_KINDS))).with_columns(
        year_relative(pl.col("measure"), pl.col("year"))
    ).join(measure_parts(), on=["kind", "measure"], how="inner")
    headline = pl.col("breakdown").is_null() | (pl.col("breakdown") == pl.col("breakdown_topic"))
    rows = rows.filter(pl.when(pl.col("part").is_null()).then(headline)
                       .otherwise(pl.col("breakdown") == pl.col("part")),
                       pl.col("first_release").is_null()
                       | (pl.col("release") >= pl.col("first_release")).fill_null(False))
    single, several = rows.filter(pl.col("parts") == 1), rows.filter(pl.col("parts") > 1)
    if several.height:
        keys = ["measure_name", "kind", "release", "shipped", "year", "geographic_level",
                *GEOGRAPHY]
        # Parts in a fixed order (a database read may give them in any), and the sum rounded
        # to the parts' own precision: the same inputs give the same figure to the last bit.
        summed = several.sort("breakdown", "measure").group_by(keys, maintain_order=True).agg(
            pl.when(pl.col("value").count() > 0).then(pl.col("value").sum().round(6))
            .alias("value"), pl.exclude([*keys, "value"]).first())
        rows = pl.concat([single, summed.select(single.columns)])
    rows = pl.concat([rows, inclusion.select(rows.columns)], how="vertical_relaxed")
    ranked = rows.with_columns(_geography_key().alias("_geography"),
                               pl.col("value").is_not_null().alias("_has_value")).sort(
        ["_has_value", "release", "shipped", "rank", "kind"],
        descending=[True, True, False, False, False], nulls_last=True, maintain_order=True)
    figures = ranked.unique(["measure_name", "year", "geographic_level", "_geography"],
                            keep="first", maintain_order=True)
    return caseload_shares(figures).drop("_geography", "_has_value", "part", "rank", "parts",
                                        "first_release")


def caseload_shares(figures: pl.DataFrame) -> pl.DataFrame:
    """The counts of CASELOAD_SHARES (the 2026 settings, plans with a personal budget) as
    shares of the caseload the same release publishes for that year and geography
    (`ehcplans`), rounded as the DfE rounds its `_pc` columns. A count is no benchmark of its
    own (a county's count against England's says nothing), so only those reconciliation
    compares (SHARED_COUNTS_KEPT) stay beside their share."""
    counted = pl.col("measure_name").is_in(list(CASELOAD_SHARES))
    counts = figures.filter(counted)
    if counts.height == 0:
        return figures
    keys = ["release", "year", "geographic_level", "_geography"]
    # The caseload figure of the same release (the newest release wins both, so it is there
    # unless a release withheld one and not the other: then no share).
    caseload = figures.filter(pl.col("measure_name") == "ehcp_caseload",
                              pl.col("measure") == "ehcplans")
    denominators = counts.select(keys).unique().join(
        caseload.select(*keys, pl.col("value").alias("_caseload")), on=keys, how="left")
    shares = counts.join(denominators, on=keys, how="left").with_columns(
        pl.col("measure_name").replace_strict(CASELOAD_SHARES),
        pl.when(pl.col("_caseload") > 0).then((100 * pl.col("value") / pl.col("_caseload"))
                                              .round(1)).alias("value")).drop("_caseload")
    kept = figures.filter(~counted | pl.col("measure_name").is_in(list(SHARED_COUNTS_KEPT)))
    return pl.concat([kept, shares.select(figures.columns)])


def benchmarks(published: pl.DataFrame, la_code: str, region_code: str | None,
               neighbours: list[str], source: str, as_of: dt.date) -> pl.DataFrame:
    """The LA against its region, England and its statistical neighbours (each neighbour, and
    their mean as geography `statistical_neighbours`).

    `published`: tidy rows, or headline_figures already taken from them. When they carry a
    `source` (which release each figure came from), each row's source says so; `source` is for
    rows without one.
    """
    figures = published if "measure_name" in published.columns else headline_figures(published)
    if "source" not in figures.columns:
        figures = figures.with_columns(pl.lit(None, pl.Utf8).alias("source"))
    national = figures.filter(pl.col("geographic_level") == "National").with_columns(
        pl.lit("E92000001").alias("geography_code"), pl.lit("England").alias("geography_name"),
        pl.lit("england").alias("comparison"))
    regional = figures.filter((pl.col("geographic_level") == "Regional")
                              & (pl.col("region_code") == region_code)).with_columns(
        pl.col("region_code").alias("geography_code"),
        pl.col("region_name").alias("geography_name"), pl.lit("region").alias("comparison"))
    las = figures.filter(pl.col("geographic_level") == "Local authority").with_columns(
        pl.col("new_la_code").alias("geography_code"), pl.col("la_name").alias("geography_name"))
    own = las.filter(pl.col("new_la_code") == la_code).with_columns(
        pl.lit("la").alias("comparison"))
    near = las.filter(pl.col("new_la_code").is_in(neighbours)).with_columns(
        pl.lit("statistical_neighbour").alias("comparison"))
    mean = near.group_by("year", "measure_name").agg(
        pl.col("value").mean().round(1), pl.len().alias("n"),
        pl.col("source").drop_nulls().unique().sort().str.join("; ")).with_columns(
        pl.lit("Statistical neighbours").alias("geographic_level"),
        pl.lit("statistical_neighbours").alias("geography_code"),
        pl.format("Mean of {} statistical neighbours", "n").alias("geography_name"),
        pl.lit("statistical_neighbours_mean").alias("comparison"))
    cols = ["year", "measure_name", "geographic_level", "geography_code", "geography_name",
            "comparison", "value", "source"]
    out = pl.concat([f.select(cols) for f in (own, regional, national, near)]
                    + [mean.select(cols)]).rename({"measure_name": "measure"})
    order = {"la": 0, "region": 1, "england": 2, "statistical_neighbours_mean": 3,
             "statistical_neighbour": 4}
    out = out.sort(["measure", "year", pl.col("comparison").replace_strict(
        order, return_dtype=pl.Int8), "geography_code"])
    return _per_row_source(_stamp(out.rename({"source": "_source"}), "benchmarks", source,
                                  as_of), lambda own: own)


def _per_row_source(out: pl.DataFrame, wording) -> pl.DataFrame:
    """`source` from each row's `_source` where it has one (worded by `wording`), else the
    table's."""
    row = pl.col("_source").replace("", None)
    return out.with_columns(pl.when(row.is_not_null()).then(wording(row))
                            .otherwise(pl.col("source")).alias("source")).drop("_source")


# Differences beyond these are flagged: counts by share of the published figure,
# percentages by percentage points.
COUNT_TOLERANCE = 0.02
PCT_TOLERANCE_POINTS = 2.0


def reconciliation(local: pl.DataFrame, published_la: pl.DataFrame, source: str,
                   as_of: dt.date) -> pl.DataFrame:
    """Local figures against published ones, per year and measure.

    `local`: year, measure, local_value, note. `published_la`: year, measure, value (the
    DfE's figure for this LA) and optionally `source` (the release it came from, added to the
    row's source after `source`, which names the local side); measures present in one and not
    the other show with a blank.
    """
    if "source" not in published_la.columns:
        published_la = published_la.with_columns(pl.lit(None, pl.Utf8).alias("source"))
    joined = local.join(published_la.rename({"value": "published_value", "source": "_source"}),
                        on=["year", "measure"], how="full", coalesce=True)
    pct = pl.col("measure").str.starts_with("pct_")
    diff = pl.col("local_value") - pl.col("published_value")
    tolerance = pl.when(pct).then(pl.lit(PCT_TOLERANCE_POINTS)).otherwise(
        (pl.col("published_value").abs() * COUNT_TOLERANCE).clip(lower_bound=1.0))
    out = joined.with_columns(diff.round(1).alias("difference"),
                              tolerance.round(1).alias("tolerance"))
    out = out.with_columns(
        (pl.col("difference").abs() > pl.col("tolerance")).fill_null(False).alias("flagged"),
        pl.when(pl.col("published_value").is_null() & pl.col("local_value").is_not_null())
        .then(pl.lit("not published for this year")).when(pl.col("local_value").is_null())
        .then(pl.lit("no local figure")).otherwise(pl.col("note")).alias("note"))
    stamped = _stamp(out.select("year", "measure", "local_value", "published_value",
                                "difference", "tolerance", "flagged", "note", "_source")
                     .sort("measure", "year"), "reconciliation", source, as_of)
    return _per_row_source(stamped, lambda row: pl.lit(source + " and ") + row)
