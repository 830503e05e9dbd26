"""Small-number suppression for public.* (papers that are published).

Primary: a count from 1 to threshold-1 is withheld (zero is kept: it discloses nothing about
a child). Percentages are withheld when their numerator is, or their denominator is below the
threshold. Secondary: where parts add up to a published total (placement groups to the
caseload, schools to the LA), a group with exactly one withheld part would give it away by
subtraction, so the smallest other non-zero part is withheld too. A withheld value is NULL
and the row's `suppressed` column lists what was withheld.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Policy:
    counts: tuple[str, ...]  # counts of children or plans
    percents: dict[str, tuple[str, str]] = field(default_factory=dict)  # pct -> (num, den)
    # (group keys, count column, which rows are parts, where the total is): the column's
    # values over those rows of a group add up to a published total, which is either
    # ("column", name) in the same rows or ("row", which rows) with the same keys.
    groups: tuple[tuple[tuple[str, ...], str, pl.Expr, tuple[str, object] | None], ...] = ()
    # (part columns, total column): columns of one row that add up to another of it.
    row_sums: tuple[tuple[tuple[str, ...], str], ...] = ()
    # A withheld total ("column" groups) is not to be given back by its parts either: a
    # group whose total is withheld keeps at least one of its non-zero parts withheld.
    protect_totals: bool = False


def _flag(col: str) -> str:
    return f"__s_{col}"


def suppress(frame: pl.DataFrame, policy: Policy, limit: int,
             forced: dict[str, str] | None = None) -> pl.DataFrame:
    """`frame` with counts from 1 to `limit` - 1 withheld, and what would give them back.
    `forced`: count column -> a boolean column of `frame` saying where that count is
    withheld whatever its value (another table withholds it); those columns are dropped."""
    forced = forced or {}
    out = frame.with_columns([(((pl.col(c) > 0) & (pl.col(c) < limit)).fill_null(False)
                               | (pl.col(forced[c]).fill_null(False) if c in forced
                                  else pl.lit(False))).alias(_flag(c))
                              for c in policy.counts]).drop(list(forced.values()))
    out = _across_columns(_secondary(out, policy), policy)
    pct_flags = []
    for pct, (num, den) in policy.percents.items():
        withheld = pl.col(_flag(num)) if num in policy.counts else pl.lit(False)
        withheld = withheld | ((pl.col(den) < limit) & (pl.col(den) > 0)).fill_null(False)
        if den in policy.counts:
            withheld = withheld | pl.col(_flag(den))
        out = out.with_columns(withheld.alias(_flag(pct)))
        pct_flags.append(pct)
    flagged = [*policy.counts, *pct_flags]
    listed = pl.concat_str([pl.when(pl.col(_flag(c))).then(pl.lit(c)) for c in flagged],
                           separator=",", ignore_nulls=True)
    return out.with_columns(
        [pl.when(pl.col(_flag(c))).then(None).otherwise(pl.col(c)).alias(c) for c in flagged]
        + [pl.when(listed != "").then(listed).alias("suppressed")]
    ).drop([_flag(c) for c in flagged])


def _secondary(frame: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Make every group safe: no withheld part can be worked out from the total.

    Withheld parts are at least 1 (zeros are shown), so a group is unsafe when exactly one
    part is withheld, or when the withheld parts add up to no more than their number (all
    ones). The smallest other non-zero part is withheld too; when none is left, the total.
    Repeats until stable, since one grouping's extra cell can leave another unsafe.
    """
    if not policy.groups:
        return frame
    frame = frame.with_row_index("__row")
    for _ in range(50):
        changed = False
        for keys, col, is_part, total in policy.groups:
            flag = _flag(col)
            parts = frame.filter(is_part & (pl.col(col) > 0))
            stats = parts.group_by(keys).agg(
                pl.col(flag).sum().alias("n"),
                pl.col(col).filter(pl.col(flag)).sum().alias("s"))
            unsafe = stats.filter((pl.col("n") == 1) | ((pl.col("n") >= 2)
                                                       & (pl.col("s") <= pl.col("n"))))
            if unsafe.height == 0:
                continue
            candidates = (parts.join(unsafe.select(keys), on=list(keys), how="semi")
                          .filter(~pl.col(flag)).sort(col, "__row")
                          .group_by(keys, maintain_order=True).agg(pl.col("__row").first()))
            if candidates.height:
                frame = frame.with_columns(
                    (pl.col(flag) | pl.col("__row").is_in(candidates["__row"].implode()))
                    .alias(flag))
                changed = True
            if policy.protect_totals and total is not None and total[0] == "column":
                bare = _bare(frame, parts, stats, keys, col, is_part, total[1])
                if bare.height:
                    frame = frame.with_columns(
                        (pl.col(flag) | pl.col("__row").is_in(bare["__row"].implode()))
                        .alias(flag))
                    changed = True
            exhausted = unsafe.join(candidates.select(keys), on=list(keys), how="anti")
            if exhausted.height and total is not None:
                kind, where = total
                rows = frame.join(exhausted.select(keys), on=list(keys), how="semi")
                if kind == "column":  # the total is another column of the same rows
                    hit, target = rows.filter(is_part & ~pl.col(_flag(where))), _flag(where)
                else:  # the total is a row of its own (e.g. the phase's row)
                    hit, target = rows.filter(where & ~pl.col(flag)), flag
                if hit.height:
                    frame = frame.with_columns(
                        (pl.col(target) | pl.col("__row").is_in(hit["__row"].implode()))
                        .alias(target))
                    changed = True
        if not changed:
            break
    return frame.drop("__row")


def _bare(frame: pl.DataFrame, parts: pl.DataFrame, stats: pl.DataFrame, keys: tuple[str, ...],
          col: str, is_part: pl.Expr, total: str) -> pl.DataFrame:
    """The smallest non-zero part (`__row`) of each group whose total is withheld but none
    of whose parts is: the parts would add up to the total."""
    hidden = frame.filter(is_part & pl.col(_flag(total))).select(keys).unique()
    none_withheld = stats.filter(pl.col("n") == 0).join(hidden, on=list(keys), how="semi")
    return (parts.join(none_withheld.select(keys), on=list(keys), how="semi").sort(col, "__row")
            .group_by(keys, maintain_order=True).agg(pl.col("__row").first()))


def _across_columns(frame: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """_secondary for parts that are columns of one row (a review's decisions adding up to
    the reviews held): the same rule, row by row (these tables have a row a year)."""
    if not policy.row_sums or frame.height == 0:
        return frame
    flags = {c: frame[_flag(c)].to_list() for parts, total in policy.row_sums
             for c in (*parts, total)}
    values = {c: frame[c].to_list() for c in flags}
    for _ in range(10):
        changed = False
        for parts, total in policy.row_sums:
            for r in range(frame.height):
                withheld = [c for c in parts if flags[c][r]]
                if not withheld or (len(withheld) >= 2
                                    and sum(values[c][r] for c in withheld) > len(withheld)):
                    continue
                others = sorted((values[c][r], c) for c in parts
                                if not flags[c][r] and (values[c][r] or 0) > 0)
                target = others[0][1] if others else total
                if not flags[target][r]:
                    flags[target][r], changed = True, True
        if not changed:
            break
    return frame.with_columns(pl.Series(_flag(c), v) for c, v in flags.items())


ALL = pl.lit(True)
SCHOOLS = pl.col("scope") == "school"  # schools of a phase add up to the phase's row
PHASES = pl.col("scope") == "phase"  # phases add up to the LA's row
LA = pl.col("scope") == "la"

# How each public table is suppressed. Money, published DfE figures and plan years are not
# counts of children.
POLICIES: dict[str, Policy] = {
    "ehcp_caseload": Policy(("caseload",)),
    "ehcp_new_plans": Policy(
        ("new_plans", "within_20_weeks", "new_plans_ex", "within_20_weeks_ex"),
        {"pct_within_20_weeks": ("within_20_weeks", "new_plans"),
         "pct_within_20_weeks_ex": ("within_20_weeks_ex", "new_plans_ex")}),
    "ehcp_requests": Policy(
        ("requests_received", "decided_to_assess", "decided_within_6_weeks",
         "decided_not_to_assess", "withdrawn", "awaiting_decision", "decisions"),
        {"pct_decided_to_assess": ("decided_to_assess", "requests_received"),
         "pct_decided_within_6_weeks": ("decided_within_6_weeks", "decisions")}),
    "ehcp_placement_mix": Policy(("plans", "caseload"), {"pct": ("plans", "caseload")},
                                 groups=((("year",), "plans", ALL, ("column", "caseload")),)),
    "ehcp_need_mix": Policy(("plans", "caseload"), {"pct": ("plans", "caseload")},
                            groups=((("year",), "plans", ALL, ("column", "caseload")),)),
    "ehcp_ceased": Policy(("plans",), groups=((("year",), "plans", ALL, None),)),
    "sen_prevalence": Policy(
        ("pupils", "ehcp", "sen_support"),
        {"ehcp_pct": ("ehcp", "pupils"), "sen_support_pct": ("sen_support", "pupils")},
        groups=tuple((keys, col, rows, ("row", total)) for col in ("pupils", "ehcp", "sen_support")
                     for keys, rows, total in ((("census_date", "phase"), SCHOOLS, PHASES),
                                               (("census_date",), PHASES, LA)))),
    # The bands of a year add up to its plans issued, which kpi.ehcp_new_plans publishes;
    # an average over a handful of plans comes close to one child's wait.
    "ehcp_timeliness_bands": Policy(
        ("plans", "issued"), {"pct": ("plans", "issued"), "mean_weeks": ("plans", "plans")},
        groups=((("year", "with_exceptions"), "plans", ALL, ("column", "issued")),)),
    "ehcp_assessment_decisions": Policy(
        ("decided_not_to_issue", "not_to_issue_within_16_weeks", "assessments_open",
         "open_over_20_weeks"), {"pct": ("not_to_issue_within_16_weeks",
                                         "decided_not_to_issue")}),
    # The stages add up to the year's `all` row.
    "ehcp_disputes": Policy(
        ("mediations", "tribunals", "appealable_decisions"),
        {"appeal_rate_pct": ("tribunals", "appealable_decisions")},
        groups=tuple((("year",), c, pl.col("stage") != "all", ("row", pl.col("stage") == "all"))
                     for c in ("mediations", "tribunals", "appealable_decisions"))),
    # The decisions add up to the reviews held, and held and not held to those due.
    "ehcp_annual_reviews": Policy(
        ("reviews_due", "reviews_held", "decided_within_4_weeks", "amended", "ceased",
         "maintained", "no_outcome", "not_held"),
        {"pct_decided_within_4_weeks": ("decided_within_4_weeks", "reviews_held"),
         "pct_held": ("reviews_held", "reviews_due")},
        row_sums=((("amended", "ceased", "maintained", "no_outcome"), "reviews_held"),
                  (("reviews_held", "not_held"), "reviews_due"))),
    "ehcp_phase_transfers": Policy(
        ("transfers_due", "final_by_deadline", "settled", "deadline_passed",
         "final_after_deadline", "no_final_past_deadline"),
        {"pct_final_by_deadline": ("final_by_deadline", "settled")},
        row_sums=((("final_by_deadline", "final_after_deadline", "no_final_past_deadline"),
                   "deadline_passed"),)),
    "ehcp_not_in_school": Policy(("plans", "caseload"), {"pct": ("plans", "caseload")}),
    "ehcp_personal_budgets": Policy(
        ("plans_with_pb", "organised_arrangements", "direct_payments", "new_plans"),
        {"pct_of_new_plans": ("plans_with_pb", "new_plans")}),
    # The caseload is kpi.ehcp_caseload's, withheld alike (and shown wherever that table
    # shows it: warehouse/build.py CASELOAD_COPIES).
    "ehcp_personal_budgets_caseload": Policy(
        ("caseload", "plans_with_pb", "organised_arrangements", "direct_payments"),
        {"pct_of_caseload": ("plans_with_pb", "caseload")}),
    "ehcp_requests_by_source": Policy(
        ("requests", "requests_received"), {"pct": ("requests", "requests_received")},
        groups=((("year",), "requests", ALL, ("column", "requests_received")),)),
    # A year's reasons add up to kpi.ehcp_ceased's counts, and its bands to the year's.
    "ehcp_ceased_by_duration": Policy(("plans",), groups=(
        (("year", "cease_reason"), "plans", ALL, None),
        (("year", "years_held_band"), "plans", ALL, None))),
    # An average over a handful of placements comes close to one child's package.
    "hnb_unit_costs": Policy(("plans",), {"value_gbp": ("plans", "plans")}),
    # Projections, but a small projected group still points at today's few children.
    "forecast": Policy(("p10", "p50", "p90")),
    "place_sufficiency": Policy(("ehcp_pupils",),
                                {"occupancy_pct": ("ehcp_pupils", "funded_places")}),
    # A term's SEN statuses add up to (about: a pupil of two statuses is one) its `all` row.
    # Sessions and the absence rate go with the enrolments they are of.
    "sen_attendance": Policy(
        ("pupils", "enrolments", "persistent_absentees", "suspensions", "pupils_suspended",
         "permanent_exclusions"),
        {"absence_rate_pct": ("enrolments", "enrolments"),
         "sessions_possible": ("enrolments", "enrolments"),
         "sessions_missed": ("enrolments", "enrolments"),
         "persistent_absence_pct": ("persistent_absentees", "enrolments"),
         "pupils_suspended_pct": ("pupils_suspended", "pupils"),
         "suspension_rate": ("suspensions", "pupils"),
         "permanent_exclusion_rate": ("permanent_exclusions", "pupils")},
        groups=tuple((("academic_year", "term"), c, pl.col("sen_status") != "all",
                      ("row", pl.col("sen_status") == "all"))
                     for c in ("pupils", "enrolments", "persistent_absentees", "suspensions",
                               "pupils_suspended", "permanent_exclusions"))),
}


# kpi.ehcp_placement_detail: settings add up to their group's plans (kpi.ehcp_placement_mix's,
# repeated as `group_plans`) and all of them to the caseload.
PLACEMENT_DETAIL = Policy(
    ("plans", "group_plans", "caseload"),
    {"pct": ("plans", "caseload"), "pct_of_group": ("plans", "group_plans")},
    groups=((("year", "placement_group"), "plans", ALL, ("column", "group_plans")),
            (("year",), "plans", ALL, ("column", "caseload"))),
    protect_totals=True)


def placement_detail_public(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    """kpi.ehcp_placement_detail's public copy. Its settings add up to the groups that
    public.ehcp_placement_mix publishes, so the two are suppressed together: a group (or a
    year's caseload) the mix withholds is withheld here too, with a part of it; and a group
    total only this table must withhold (its parts all ones) is withheld in the mix by
    across_tables. The mix's suppression is worked out again from `group_plans`, as
    public_tables makes it, until the two agree."""
    from schemas.contracts import PLACEMENT_GROUPS

    keys = ["year", "placement_group"]
    mix = frame.group_by(keys).agg(pl.col("group_plans").first().alias("plans"),
                                   pl.col("caseload").first()).with_columns(
        _pct("plans", "caseload").alias("pct")).sort("year", pl.col("placement_group")
                                                     .replace_strict({g: i for i, g in enumerate(
                                                         PLACEMENT_GROUPS)}, default=99,
                                                         return_dtype=pl.Int8))
    hidden = mix.select(keys).clear()
    for _ in range(10):
        in_hidden = pl.struct(keys).is_in(hidden.select(pl.struct(keys)).to_series().implode())
        mixed = suppress(mix.with_columns(in_hidden.alias("__hidden")),
                         POLICIES["ehcp_placement_mix"], limit, forced={"plans": "__hidden"})
        withheld = mixed.select(*keys, pl.col("plans").is_null().alias("__group"),
                                pl.col("caseload").is_null().alias("__caseload"))
        detail = suppress(frame.join(withheld, on=keys, how="left"), PLACEMENT_DETAIL, limit,
                          forced={"group_plans": "__group", "caseload": "__caseload"})
        now = detail.filter(pl.col("group_plans").is_null()).select(keys).unique()
        if now.join(hidden, on=keys, how="anti").height == 0:
            return detail
        hidden = pl.concat([hidden, now]).unique()
    return detail


def _pct(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then((100 * pl.col(num) / pl.col(den)).round(1))


def reconciliation_public(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    """kpi.reconciliation's public copy: its counts (the LA's and the DfE's for it) withheld
    like any count, with their difference; percentages as they are."""
    counts = frame.filter(~pl.col("measure").str.starts_with("pct_"))
    pcts = frame.filter(pl.col("measure").str.starts_with("pct_")).with_columns(
        pl.lit(None, pl.Utf8).alias("suppressed"))
    counts = suppress(counts, Policy(("local_value", "published_value")), limit).with_columns(
        pl.when(pl.col("suppressed").is_not_null()).then(None)
        .otherwise(pl.col("difference")).alias("difference"))
    return pl.concat([counts, pcts]).sort("measure", "year")


def across_tables(public: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The public copies with what one table's published cells would give back of
    another's withheld ones also withheld."""
    public = dict(public)
    if "public.ehcp_placement_detail" in public and "public.ehcp_placement_mix" in public:
        public["public.ehcp_placement_mix"] = _as_the_detail_withholds(
            public["public.ehcp_placement_mix"], public["public.ehcp_placement_detail"])
    # A year whose mix parts could only be protected by hiding the total hides it in the
    # caseload table too, with what would give it back (growth, rate).
    hidden = set()
    for name in ("public.ehcp_placement_mix", "public.ehcp_need_mix",
                 "public.ehcp_placement_detail"):
        if name in public:
            hidden |= set(public[name].filter(pl.col("caseload").is_null()
                                              & (pl.col("plans").is_null()))["year"].to_list())
    if hidden and "public.ehcp_caseload" in public:
        years = sorted(hidden)
        public["public.ehcp_caseload"] = public["public.ehcp_caseload"].with_columns(
            *[pl.when(pl.col("year").is_in(years)).then(None).otherwise(pl.col(c)).alias(c)
              for c in ("caseload", "rate_per_10k_0_25")],
            pl.when(pl.col("year").is_in(years) | pl.col("year").is_in([y + 1 for y in years]))
            .then(None).otherwise(pl.col("growth_pct")).alias("growth_pct"),
            pl.when(pl.col("year").is_in(years)).then(pl.lit("caseload,growth_pct,rate_per_10k"))
            .otherwise(pl.col("suppressed")).alias("suppressed"))
    # A year whose every ceased-plan count is withheld would give them back through the year
    # total that reconciliation shows (five withheld parts adding up to 5 are all ones).
    if "public.ehcp_ceased" in public and "public.reconciliation" in public:
        shown = public["public.ehcp_ceased"].group_by("year").agg(
            (pl.col("plans") > 0).fill_null(False).any().alias("shown"))
        years = shown.filter(~pl.col("shown"))["year"].to_list()
        hide = (pl.col("measure") == "ceased_plans") & pl.col("year").is_in(years)
        public["public.reconciliation"] = public["public.reconciliation"].with_columns(
            *[pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
              for c in ("local_value", "difference")],
            pl.when(hide).then(pl.lit("local_value")).otherwise(pl.col("suppressed"))
            .alias("suppressed"))
    return public


def _as_the_detail_withholds(mix: pl.DataFrame, detail: pl.DataFrame) -> pl.DataFrame:
    """public.ehcp_placement_mix with what public.ehcp_placement_detail withholds of the
    same numbers (a group's plans, a year's caseload) withheld too: nothing, unless a group's
    settings are all ones (placement_detail_public)."""
    keys = ["year", "placement_group"]
    hidden = detail.group_by(keys).agg(pl.col("group_plans").is_null().any().alias("__g"),
                                       pl.col("caseload").is_null().any().alias("__c"))
    out = mix.join(hidden, on=keys, how="left").with_columns(
        (pl.col("__g").fill_null(False) & pl.col("plans").is_not_null()).alias("__g"),
        (pl.col("__c").fill_null(False) & pl.col("caseload").is_not_null()).alias("__c"))
    if not out.select(pl.col("__g").any() | pl.col("__c").any()).item():
        return mix
    note = pl.concat_str([pl.col("suppressed"), pl.when(pl.col("__g")).then(pl.lit("plans,pct")),
                          pl.when(pl.col("__c")).then(pl.lit("caseload"))],
                         separator=",", ignore_nulls=True)
    return out.with_columns(
        pl.when(pl.col("__g")).then(None).otherwise(pl.col("plans")).alias("plans"),
        pl.when(pl.col("__g")).then(None).otherwise(pl.col("pct")).alias("pct"),
        pl.when(pl.col("__c")).then(None).otherwise(pl.col("caseload")).alias("caseload"),
        pl.when(pl.col("__g") | pl.col("__c")).then(note).otherwise(pl.col("suppressed"))
        .alias("suppressed")).drop("__g", "__c")
