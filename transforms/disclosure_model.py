"""What the public tables say about each other: the linear relations an attacker can use
(docs/disclosure.md). One declaration a relation, named by the public tables (without the
`public.` prefix) and their columns; tests/test_disclosure.py checks every relation holds
exactly on the true kpi.* tables of the sample, so a wrong one cannot hide.

Not modelled: money and the DfE's own figures (not suppressed), the forecast (projections,
not counts), and the census's EHCP pupils against SEN2's placements at a school (two
sources that usually but not always agree; see docs/disclosure.md, limits).
"""

from __future__ import annotations

import polars as pl

from transforms import suppression
from transforms.benchmarks import (
    DISPUTES_RECONCILED,
    NOT_IN_SCHOOL_RECONCILED,
    PERSONAL_BUDGETS_RECONCILED,
    REVIEWS_RECONCILED,
)
from transforms.disclosure import Attribute, Derived, Model, Ref, Relation

YEAR = {"year": "year"}
_GROUP = {"year": "year", "group": "placement_group"}
SCHOOL, PHASE, LA = (pl.col("scope") == s for s in ("school", "phase", "la"))


def _row_sum(table: str, name: str, parts: tuple[str, ...], total: str,
             sense: str = "=", keys: dict | None = None) -> Relation:
    """Columns of a row that add up to another of it (the row's grain as keys)."""
    keys = keys or YEAR
    return Relation(name, Ref(table, parts, keys), Ref(table, (total,), keys), sense)


def _same(name: str, a: Ref, b: Ref) -> Relation:
    """One figure published in more than one place."""
    return Relation(name, a, b, "same")


def _reconciled(measure: str, ref: Ref) -> Relation:
    """kpi.reconciliation's local value of a measure is another table's figure."""
    return _same(f"reconciliation {measure}",
                 Ref("reconciliation", ("local_value",), YEAR, pl.col("measure") == measure),
                 ref)


_PREVALENCE = ("pupils", "ehcp", "sen_support")
_JANUARY = {"year": pl.col("census_date").dt.year()}
_TERM = {"year": "academic_year", "term": "term"}

RELATIONS: tuple[Relation, ...] = (
    # The requests funnel: every request received is decided either way, withdrawn, or
    # still awaiting a decision; the decisions are those to assess and not to.
    _row_sum("ehcp_requests", "requests funnel",
             ("decided_to_assess", "decided_not_to_assess", "withdrawn", "awaiting_decision"),
             "requests_received"),
    _row_sum("ehcp_requests", "requests decisions",
             ("decided_to_assess", "decided_not_to_assess"), "decisions"),
    _row_sum("ehcp_requests", "decided within 6 weeks", ("decided_within_6_weeks",),
             "decisions", "<="),
    Relation("requests by source", Ref("ehcp_requests_by_source", ("requests",), YEAR),
             Ref("ehcp_requests", ("requests_received",), YEAR)),
    _same("requests by source total", Ref("ehcp_requests", ("requests_received",), YEAR),
          Ref("ehcp_requests_by_source", ("requests_received",), YEAR)),
    # The January caseload and its breakdowns.
    Relation("placement groups", Ref("ehcp_placement_mix", ("plans",), YEAR),
             Ref("ehcp_caseload", ("caseload",), YEAR)),
    Relation("needs", Ref("ehcp_need_mix", ("plans",), YEAR),
             Ref("ehcp_caseload", ("caseload",), YEAR)),
    *(_same(f"{t} caseload", Ref(t, ("caseload",), YEAR),
            Ref("ehcp_caseload", ("caseload",), YEAR))
      for t in ("ehcp_placement_mix", "ehcp_need_mix", "ehcp_not_in_school",
                "ehcp_placement_detail", "ehcp_personal_budgets_caseload")),
    # The 2026 settings add up to today's groups, whose plans they repeat as group_plans.
    Relation("placement settings", Ref("ehcp_placement_detail", ("plans",), _GROUP),
             Ref("ehcp_placement_mix", ("plans",), _GROUP)),
    _same("placement settings group plans",
          Ref("ehcp_placement_detail", ("group_plans",), _GROUP),
          Ref("ehcp_placement_mix", ("plans",), _GROUP)),
    _same("not in school: unknown",
          Ref("ehcp_not_in_school", ("plans",), YEAR, pl.col("setting") == "unknown"),
          Ref("ehcp_placement_mix", ("plans",), YEAR,
              pl.col("placement_group") == "unknown")),
    Relation("not in school: elsewhere",
             Ref("ehcp_not_in_school", ("plans",), YEAR, pl.col("setting") != "unknown"),
             Ref("ehcp_placement_mix", ("plans",), YEAR,
                 pl.col("placement_group") == "educated_elsewhere"), "<="),
    # New plans, how long they took, and their personal budgets.
    _row_sum("ehcp_new_plans", "within 20 weeks", ("within_20_weeks",), "new_plans", "<="),
    _row_sum("ehcp_new_plans", "within 20 weeks ex", ("within_20_weeks_ex",), "new_plans_ex",
             "<="),
    _row_sum("ehcp_new_plans", "new plans ex", ("new_plans_ex",), "new_plans", "<="),
    *(Relation(f"timeliness bands {w}",
               Ref("ehcp_timeliness_bands", ("plans",), YEAR, pl.col("with_exceptions") == w),
               Ref("ehcp_timeliness_bands", ("issued",), YEAR,
                   pl.col("with_exceptions") == w)) for w in (True, False)),
    *(_same(f"timeliness issued {w}",
            Ref("ehcp_timeliness_bands", ("issued",), YEAR, pl.col("with_exceptions") == w),
            Ref("ehcp_new_plans", (total,), YEAR))
      for w, total in ((True, "new_plans"), (False, "new_plans_ex"))),
    *(_same(f"timeliness under 20 {w}",
            Ref("ehcp_timeliness_bands", ("plans",), YEAR,
                (pl.col("with_exceptions") == w) & (pl.col("band") == "under_20")),
            Ref("ehcp_new_plans", (within,), YEAR))
      for w, within in ((True, "within_20_weeks"), (False, "within_20_weeks_ex"))),
    _same("personal budgets new plans", Ref("ehcp_personal_budgets", ("new_plans",), YEAR),
          Ref("ehcp_new_plans", ("new_plans",), YEAR)),
    *(_row_sum("ehcp_personal_budgets", f"personal budgets {c}", (c,), "plans_with_pb", "<=")
      for c in ("organised_arrangements", "direct_payments")),
    _row_sum("ehcp_personal_budgets", "plans with a budget", ("plans_with_pb",), "new_plans",
             "<="),
    # The January caseload's personal budgets.
    *(_row_sum("ehcp_personal_budgets_caseload", f"caseload budgets {c}", (c,),
               "plans_with_pb", "<=") for c in ("organised_arrangements", "direct_payments")),
    _row_sum("ehcp_personal_budgets_caseload", "caseload with a budget", ("plans_with_pb",),
             "caseload", "<="),
    # Ceased plans: by reason, and by reason and how long they were held.
    Relation("ceased by duration",
             Ref("ehcp_ceased_by_duration", ("plans",),
                 {"year": "year", "reason": "cease_reason"}),
             Ref("ehcp_ceased", ("plans",), {"year": "year", "reason": "cease_reason"})),
    Relation("reconciliation ceased_plans", Ref("ehcp_ceased", ("plans",), YEAR),
             Ref("reconciliation", ("local_value",), YEAR,
                 pl.col("measure") == "ceased_plans")),
    # Statutory duties.
    _row_sum("ehcp_assessment_decisions", "not to issue within 16 weeks",
             ("not_to_issue_within_16_weeks",), "decided_not_to_issue", "<="),
    _row_sum("ehcp_assessment_decisions", "open over 20 weeks", ("open_over_20_weeks",),
             "assessments_open", "<="),
    *(Relation(f"dispute stages {c}",
               Ref("ehcp_disputes", (c,), YEAR, pl.col("stage") != "all"),
               Ref("ehcp_disputes", (c,), YEAR, pl.col("stage") == "all"))
      for c in ("mediations", "tribunals", "appealable_decisions")),
    _row_sum("ehcp_annual_reviews", "review outcomes",
             ("amended", "ceased", "maintained", "no_outcome"), "reviews_held"),
    _row_sum("ehcp_annual_reviews", "reviews held or not", ("reviews_held", "not_held"),
             "reviews_due"),
    _row_sum("ehcp_annual_reviews", "reviews decided within 4 weeks",
             ("decided_within_4_weeks",), "reviews_held", "<="),
    _row_sum("ehcp_phase_transfers", "phase transfers settled",
             ("final_by_deadline", "final_after_deadline", "no_final_past_deadline"),
             "settled"),
    _row_sum("ehcp_phase_transfers", "phase transfers past deadline", ("deadline_passed",),
             "settled", "<="),
    _row_sum("ehcp_phase_transfers", "phase transfers settled of due", ("settled",),
             "transfers_due", "<="),
    # The same figures in reconciliation (its local value is the LA's own).
    _reconciled("ehcp_caseload", Ref("ehcp_caseload", ("caseload",), YEAR)),
    _reconciled("new_plans", Ref("ehcp_new_plans", ("new_plans",), YEAR)),
    _reconciled("requests_received", Ref("ehcp_requests", ("requests_received",), YEAR)),
    _reconciled("decided_not_to_issue",
                Ref("ehcp_assessment_decisions", ("decided_not_to_issue",), YEAR)),
    *(_reconciled(measure, Ref("ehcp_annual_reviews", (c,), YEAR))
      for c, measure in REVIEWS_RECONCILED.items()),
    _reconciled("transfers_due", Ref("ehcp_phase_transfers", ("transfers_due",), YEAR)),
    *(_reconciled(measure, Ref("ehcp_disputes", (c,), YEAR, pl.col("stage") == "request"))
      for c, measure in DISPUTES_RECONCILED.items()),
    *(_reconciled(measure, Ref("ehcp_not_in_school", ("plans",), YEAR,
                               pl.col("setting") == setting))
      for setting, measure in NOT_IN_SCHOOL_RECONCILED.items()),
    *(_reconciled(measure, Ref("ehcp_personal_budgets_caseload", (c,), YEAR))
      for c, measure in PERSONAL_BUDGETS_RECONCILED.items()),
    # (A census of several LAs has a row for each: they add up.)
    Relation("reconciliation census_ehcp_pupils",
             Ref("reconciliation", ("local_value",), YEAR,
                 pl.col("measure") == "census_ehcp_pupils"),
             Ref("sen_prevalence", ("ehcp",), _JANUARY,
                 LA & (pl.col("census_date").dt.month() == 1)), summed=True),
    # The school census: schools add up to their phase, phases to the LA; pupils with a plan
    # or on SEN support are at most the pupils.
    *(Relation(f"schools to phase {c}",
               Ref("sen_prevalence", (c,), {"date": "census_date", "phase": "phase"}, SCHOOL),
               Ref("sen_prevalence", (c,), {"date": "census_date", "phase": "phase"}, PHASE))
      for c in _PREVALENCE),
    *(Relation(f"phases to LA {c}",
               Ref("sen_prevalence", (c,), {"date": "census_date"}, PHASE),
               Ref("sen_prevalence", (c,), {"date": "census_date"}, LA), summed=True)
      for c in _PREVALENCE),
    _row_sum("sen_prevalence", "SEN of pupils", ("ehcp", "sen_support"), "pupils", "<=",
             {"date": "census_date", "scope": "scope", "id": "scope_id"}),
    # Attendance and exclusions: an enrolment or exclusion record has one SEN status, so
    # the statuses add up to `all`; a pupil can hold two (an enrolment and an exclusion of
    # different statuses), so their pupils add up to at least `all`'s, each at most it.
    *(Relation(f"attendance statuses {c}",
               Ref("sen_attendance", (c,), _TERM, pl.col("sen_status") != "all"),
               Ref("sen_attendance", (c,), _TERM, pl.col("sen_status") == "all"))
      for c in ("enrolments", "persistent_absentees", "suspensions", "permanent_exclusions")),
    *(Relation(f"attendance pupils {c}",
               Ref("sen_attendance", (c,), _TERM, pl.col("sen_status") == "all"),
               Ref("sen_attendance", (c,), _TERM, pl.col("sen_status") != "all"), "<=",
               summed=True) for c in ("pupils", "pupils_suspended")),
    *(Relation(f"attendance pupils {c} {status} of all",
               Ref("sen_attendance", (c,), _TERM, pl.col("sen_status") == status),
               Ref("sen_attendance", (c,), _TERM, pl.col("sen_status") == "all"), "<=")
      for c in ("pupils", "pupils_suspended")
      for status in ("ehcp", "sen_support", "no_sen", "unknown")),
    *(_row_sum("sen_attendance", f"attendance {part} of {whole}", (part,), whole, "<=",
               {**_TERM, "status": "sen_status"})
      for part, whole in (("persistent_absentees", "enrolments"),
                          ("pupils_suspended", "pupils"), ("pupils_suspended", "suspensions"))),
    # The public pack's printed totals of place sufficiency (pack_totals).
    Relation("pack: place sufficiency totals",
             Ref("place_sufficiency", ("ehcp_pupils",),
                 {"year": "financial_year", "provision": "provision"}),
             Ref("pack.place_sufficiency", ("ehcp_pupils",),
                 {"year": "financial_year", "provision": "provision"})),
)

COUNTS: dict[str, tuple[str, ...]] = {
    **{name: policy.counts for name, policy in suppression.POLICIES.items()
       if name != "forecast"},
    "ehcp_timeliness_bands": ("plans", "issued"),
    "ehcp_placement_detail": suppression.PLACEMENT_DETAIL.counts,
    "reconciliation": ("local_value",),
    "pack.place_sufficiency": ("ehcp_pupils",),
}

DERIVED: tuple[Derived, ...] = (
    *(Derived(name, pct, (num, den)) for name, policy in suppression.POLICIES.items()
      if name != "forecast" for pct, (num, den) in policy.percents.items()),
    *(Derived("ehcp_placement_detail", pct, (num, den))
      for pct, (num, den) in suppression.PLACEMENT_DETAIL.percents.items()),
    Derived("ehcp_caseload", "rate_per_10k_0_25", ("caseload",)),
    # Growth on the year before: with one year's caseload shown it gives back the other's.
    Derived("ehcp_caseload", "growth_pct", ("caseload",), previous=("caseload",)),
    Derived("reconciliation", "difference", ("local_value", "published_value")),
)

ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("sen_prevalence", "ehcp", "pupils"),
    Attribute("sen_prevalence", "sen_support", "pupils"),
)

MODEL = Model(COUNTS, RELATIONS, ATTRIBUTES, DERIVED)


def bare(tables: dict[str, pl.DataFrame], schema: str = "public") -> dict[str, pl.DataFrame]:
    """`schema.<name>` tables by their bare names, as the model names them."""
    prefix = schema + "."
    return {k.removeprefix(prefix): v for k, v in tables.items() if k.startswith(prefix)}


def pack_totals(place_sufficiency: pl.DataFrame) -> pl.DataFrame:
    """The public pack's place sufficiency totals per year and provision: the sum of the
    EHCP pupils when every school's count is shown; otherwise NULL, `at_least` the sum of
    those shown and 1 for each withheld (printed "at least N", never a plain sum) and
    `suppressed` naming it when a school's count was withheld (not when the year has no
    count at all)."""
    withheld = pl.col("ehcp_pupils").is_null() & pl.col("suppressed").fill_null("") \
        .str.split(",").list.contains("ehcp_pupils")
    return place_sufficiency.group_by("financial_year", "provision", maintain_order=True).agg(
        pl.col("funded_places").sum(),
        pl.when(pl.col("ehcp_pupils").is_null().any()).then(None)
        .otherwise(pl.col("ehcp_pupils").sum()).alias("ehcp_pupils"),
        # Each withheld count is at least 1 (zeros are shown): public knowledge.
        (pl.col("ehcp_pupils").sum() + withheld.sum()).alias("at_least"),
        pl.when(withheld.any()).then(pl.lit("ehcp_pupils")).alias("suppressed"),
    ).sort("financial_year", "provision")
