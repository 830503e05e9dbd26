"""The KPI registry: one declaration per published table, and the one place that says, for
each, where it is defined (docs/kpis.md), its grain, what it is computed from and by which
pure function, how its public copy is suppressed, which quality suite guards it, how
reconciliation reads it and which section of the board pack shows it.

The rebuild (warehouse/build.py), the public copies, the quality gate and the board pack all
loop over REGISTRY; a new measure is one entry here, its function, its doc section, its
suite and its test (tests/test_registry.py checks each entry has them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from schemas import quality
from transforms import duty_kpis, forecast, kpis, suppression
from transforms.benchmarks import benchmarks, reconciliation
from transforms.finance_kpis import dsg_balance, hnb_outturn, recovery_plan, unit_costs
from transforms.place_kpis import place_sufficiency
from warehouse.core import Core
from warehouse.reference import region_code, statistical_neighbours
from warehouse.settings import Settings


@dataclass
class Inputs:
    """What the KPI functions are computed from, as the rebuild has read and built it."""

    settings: Settings
    as_of: dt.date
    la_code: str | None
    core: Core | None  # the latest whole SEN2 export's core tables, if there is one
    census: pl.DataFrame | None
    establishments: pl.DataFrame | None
    ledger: pl.DataFrame | None
    dsg: pl.DataFrame | None
    register: pl.DataFrame | None
    places: pl.DataFrame | None
    population: pl.DataFrame | None  # the LA's rows
    population_0_25: pl.DataFrame | None
    dfe: tuple[pl.DataFrame, str] | None  # the DfE's headline figures, their source
    census_sides: tuple[pl.DataFrame, pl.DataFrame] | None  # census EHCP pupils vs SEN2
    sources: dict[str, str]  # extract -> how a KPI's source column names it
    out: dict[str, pl.DataFrame] = field(default_factory=dict)  # tables built so far
    # Frames two entries are computed from, built by the first and dropped by the last.
    shared: dict[str, object] = field(default_factory=dict)

    def kpi(self, name: str) -> pl.DataFrame | None:
        return self.out.get(f"kpi.{name}")


Compute = Callable[[Inputs], pl.DataFrame | None]
# suppression.Policy, or a function of the table and the threshold; None: published as is
# (money, the recovery plan, the DfE's own figures).
Public = suppression.Policy | Callable[[pl.DataFrame, int], pl.DataFrame] | None


@dataclass(frozen=True)
class KPI:
    name: str  # kpi.<name>, public.<name>
    anchor: str  # the section of docs/kpis.md that defines it
    grain: tuple[str, ...]  # the columns that are unique together in the table
    inputs: tuple[str, ...]  # the tables it is computed from
    function: Callable  # the pure function that computes it (transforms/)
    compute: Compute  # `function` called on the inputs; None when an input is missing
    public: Public
    quality: quality.Suites
    tested_by: str  # its unit tests: `tests/<file>.py::<test name prefix>`
    pack: str | None = None  # the board pack section that shows it (warehouse/pack)
    # Its figures in the measure names of kpi.benchmarks: year, measure, local_value.
    reconciled: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    # Its reconciliation rows only where the DfE publishes the measure (a release that not
    # every install has: no row a year saying it is not published).
    reconciled_where_published: bool = False
    background: bool = False  # computed in a thread of its own while the rest is written

    @property
    def table(self) -> str:
        return f"kpi.{self.name}"


def _picked(*columns: tuple[str, str]) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """Columns of a yearly table as reconciliation's measures: (column, measure)."""
    def reconciled(t: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([t.select("year", pl.lit(measure).alias("measure"),
                                   pl.col(column).cast(pl.Float64).alias("local_value"))
                          for column, measure in columns])
    return reconciled


def _placement_shares(t: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([t.filter(pl.col("placement_group") == group).select(
        "year", pl.lit(measure).alias("measure"),
        pl.col("pct").cast(pl.Float64).alias("local_value"))
        for group, measure in (("mainstream", "pct_mainstream"), ("special", "pct_special"),
                               ("fe", "pct_fe"))])


def _setting_shares(t: pl.DataFrame) -> pl.DataFrame:
    """Each 2026 setting's share of the caseload, as the 2026 release's benchmarks name it
    (a setting counted in two of today's groups is added up)."""
    from transforms.benchmarks import SETTING_SHARE

    return t.group_by("year", "setting_2026").agg(
        pl.col("plans").sum(), pl.col("caseload").first()).select(
        "year", (pl.lit(SETTING_SHARE) + pl.col("setting_2026")).alias("measure"),
        pl.when(pl.col("caseload") > 0).then((100 * pl.col("plans") / pl.col("caseload"))
                                             .round(1)).cast(pl.Float64).alias("local_value"))


def _need_shares(t: pl.DataFrame) -> pl.DataFrame:
    return t.select("year", pl.format("pct_need_{}", pl.col("need").str.to_lowercase())
                    .alias("measure"), pl.col("pct").cast(pl.Float64).alias("local_value"))


def _ceased_total(t: pl.DataFrame) -> pl.DataFrame:
    return t.group_by("year").agg(pl.col("plans").sum().cast(pl.Float64).alias(
        "local_value")).with_columns(pl.lit("ceased_plans").alias("measure")).select(
        "year", "measure", "local_value")


def _bands(t: pl.DataFrame) -> pl.DataFrame:
    """All plans' (exceptions included) shares over 20 weeks, as the DfE publishes them."""
    rows = t.filter(pl.col("with_exceptions") & (pl.col("band") != "under_20"))
    return rows.select("year", pl.format("pct_{}_weeks", pl.col("band")).alias("measure"),
                       pl.col("pct").cast(pl.Float64).alias("local_value"))


def _sen2(compute: Callable[[Inputs, Core], pl.DataFrame | None]) -> Compute:
    """A KPI of the SEN2 export's core tables: not built without a whole export."""
    return lambda i: compute(i, i.core) if i.core is not None else None


def _january(i: Inputs, c: Core, last: bool = False) -> kpis.JanuaryPlacements:
    """Where the January caseload was placed: built once for the placement mix and its 2026
    split (nationally a row per plan and January), dropped after the split (`last`)."""
    january = i.shared.get("january_placements")
    if january is None:
        january = kpis.january_placements(c.plans, c.placements, c.export)
        i.shared["january_placements"] = january
    if last:
        del i.shared["january_placements"]
    return january


def _reconciliation(i: Inputs) -> pl.DataFrame | None:
    if i.dfe is None or i.core is None:
        return None
    figures, _ = i.dfe
    own = figures.filter(pl.col("new_la_code") == i.la_code).select(
        "year", pl.col("measure_name").alias("measure"), "value", "source")
    published = own.select("year", "measure").unique()
    local = pl.concat([
        k.reconciled(i.out[k.table]).join(published, on=["year", "measure"], how="semi")
        if k.reconciled_where_published else k.reconciled(i.out[k.table]) for k in REGISTRY
        if k.reconciled is not None and k.table in i.out]).with_columns(
        pl.lit(None, pl.Utf8).alias("note"))
    if i.census_sides is not None:
        census_side, sen2_side = i.census_sides
        local, own = pl.concat([local, census_side]), pl.concat([own, sen2_side],
                                                                how="diagonal")
    # Each row's source adds the DfE release its published figure came from.
    return reconciliation(local, own, f"{i.core.source}, school census", i.as_of)


def _benchmarks(i: Inputs) -> pl.DataFrame | None:
    if i.dfe is None:
        return None
    figures, source = i.dfe
    return benchmarks(figures, i.la_code, region_code(i.la_code),
                      statistical_neighbours(i.la_code, i.settings.statistical_neighbours),
                      source, i.as_of)


def _forecast(i: Inputs) -> tuple[pl.DataFrame | None, list[str]]:
    """The forecast's table and its notes (a scenario left out, and why)."""
    from warehouse.forecast import build_forecast

    named = [i.core.source, *(name for table, name in (
        ("kpi.hnb_outturn", "HNB ledger"), ("kpi.dsg_balance", "DSG"),
        ("kpi.recovery_plan", "recovery plan register")) if table in i.out)]
    if i.population is not None:
        named.append("ONS population estimates")
    return build_forecast(dict(i.out), i.ledger, ", ".join(named), i.as_of,
                          i.settings.scenarios, population=i.population)


REGISTRY: tuple[KPI, ...] = (
    KPI("ehcp_caseload", "ehcp-caseload", ("year",), ("core.ehc_plans", "stage.population"),
        kpis.ehcp_caseload,
        _sen2(lambda i, c: kpis.ehcp_caseload(c.plans, c.export, i.population_0_25, c.source,
                                              i.as_of)),
        suppression.POLICIES["ehcp_caseload"], quality.ehcp_caseload,
        "tests/test_kpis.py::test_ehcp_caseload", pack="caseload",
        reconciled=_picked(("caseload", "ehcp_caseload"))),
    KPI("ehcp_new_plans", "ehcp-new-plans", ("year",), ("core.ehc_plans",),
        kpis.ehcp_new_plans,
        _sen2(lambda i, c: kpis.ehcp_new_plans(c.plans, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_new_plans"], quality.ehcp_new_plans,
        "tests/test_kpis.py::test_ehcp_new_plans", pack="timeliness",
        reconciled=_picked(("new_plans", "new_plans"),
                           ("pct_within_20_weeks", "pct_within_20_weeks"),
                           ("pct_within_20_weeks_ex", "pct_within_20_weeks_ex"))),
    KPI("ehcp_requests", "ehcp-requests", ("year",), ("core.ehc_requests",),
        kpis.ehcp_requests,
        _sen2(lambda i, c: kpis.ehcp_requests(c.requests, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_requests"], quality.ehcp_requests,
        "tests/test_kpis.py::test_ehcp_requests",
        reconciled=_picked(("requests_received", "requests_received"))),
    KPI("ehcp_placement_mix", "ehcp-placement-mix", ("year", "placement_group"),
        ("core.ehc_plans", "core.ehc_placements"), kpis.ehcp_placement_mix,
        _sen2(lambda i, c: kpis.ehcp_placement_mix(c.plans, c.placements, c.export, c.source,
                                                   i.as_of, _january(i, c))),
        suppression.POLICIES["ehcp_placement_mix"], quality.ehcp_placement_mix,
        "tests/test_kpis.py::test_ehcp_placement_mix", pack="placement",
        reconciled=_placement_shares),
    # Right after the mix: the January placements it built are dropped once this has them.
    KPI("ehcp_placement_detail", "ehcp-placement-detail",
        ("year", "placement_group", "setting_2026"), ("core.ehc_plans", "core.ehc_placements"),
        kpis.ehcp_placement_detail,
        _sen2(lambda i, c: kpis.ehcp_placement_detail(
            c.plans, c.placements, c.export, c.source, i.as_of, _january(i, c, last=True))),
        suppression.placement_detail_public, quality.ehcp_placement_detail,
        "tests/test_kpis.py::test_ehcp_placement_detail", pack="placement",
        reconciled=_setting_shares, reconciled_where_published=True),
    KPI("ehcp_need_mix", "ehcp-need-mix", ("year", "need"),
        ("core.ehc_plans", "core.ehc_needs"), kpis.ehcp_need_mix,
        _sen2(lambda i, c: kpis.ehcp_need_mix(c.plans, c.needs, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_need_mix"], quality.ehcp_need_mix,
        "tests/test_kpis.py::test_ehcp_need_mix", pack="need", reconciled=_need_shares),
    KPI("ehcp_ceased", "ehcp-ceased", ("year", "cease_reason"), ("core.ehc_plans",),
        kpis.ehcp_ceased,
        _sen2(lambda i, c: kpis.ehcp_ceased(c.plans, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_ceased"], quality.ehcp_ceased,
        "tests/test_kpis.py::test_ehcp_ceased", reconciled=_ceased_total),
    KPI("sen_prevalence", "sen-prevalence", ("census_date", "scope", "scope_id"),
        ("stage.census", "stage.establishments"), kpis.sen_prevalence,
        lambda i: None if i.census is None else kpis.sen_prevalence(
            i.census, i.establishments, i.sources["census"], i.as_of),
        suppression.POLICIES["sen_prevalence"], quality.sen_prevalence,
        "tests/test_kpis.py::test_sen_prevalence", pack="prevalence"),
    KPI("hnb_outturn", "hnb-outturn", ("financial_year", "s251_line"),
        ("stage.finance_ledger",), hnb_outturn,
        lambda i: None if i.ledger is None else hnb_outturn(i.ledger, i.sources["ledger"],
                                                            i.as_of),
        None, quality.hnb_outturn, "tests/test_finance_kpis.py::test_hnb_outturn",
        pack="finance"),
    KPI("hnb_unit_costs", "hnb-unit-costs", ("financial_year", "measure", "cost_group"),
        ("stage.finance_ledger", "kpi.hnb_outturn", "core.ehc_plans", "core.ehc_placements",
         "stage.establishments"), unit_costs,
        _sen2(lambda i, c: None if i.ledger is None else unit_costs(
            i.ledger, i.kpi("hnb_outturn"), c.plans, c.placements, i.establishments, c.export,
            f"{i.sources['ledger']}, {c.source} and GIAS", i.as_of)),
        suppression.POLICIES["hnb_unit_costs"], quality.hnb_unit_costs,
        "tests/test_finance_kpis.py::test_hnb_unit_costs", pack="finance"),
    KPI("dsg_balance", "dsg-balance", ("financial_year",),
        ("stage.finance_dsg", "kpi.hnb_outturn"), dsg_balance,
        lambda i: None if i.dsg is None or i.kpi("hnb_outturn") is None else dsg_balance(
            i.dsg, i.kpi("hnb_outturn"), f"{i.sources['dsg']} and the HNB ledger", i.as_of),
        None, quality.dsg_balance, "tests/test_finance_kpis.py::test_dsg_balance",
        pack="finance"),
    KPI("recovery_plan", "recovery-plan", ("project_id", "financial_year"),
        ("stage.recovery_plan",), recovery_plan,
        lambda i: None if i.register is None else recovery_plan(
            i.register, i.sources["register"], i.as_of),
        None, quality.recovery_plan, "tests/test_finance_kpis.py::test_recovery_plan",
        pack="recovery"),
    KPI("place_sufficiency", "place-sufficiency", ("financial_year", "urn", "provision"),
        ("stage.places", "core.ehc_plans", "core.ehc_placements"), place_sufficiency,
        _sen2(lambda i, c: None if i.places is None else place_sufficiency(
            i.places, c.plans, c.placements, c.export, f"{i.sources['places']} and {c.source}",
            i.as_of)),
        suppression.POLICIES["place_sufficiency"], quality.place_sufficiency,
        "tests/test_place_kpis.py::test_place_sufficiency", pack="places"),
    KPI("forecast", "forecast", ("scenario", "year", "measure", "breakdown"),
        ("kpi.ehcp_caseload", "kpi.ehcp_requests", "core.ehc_plans", "stage.population",
         "stage.finance_ledger", "kpi.dsg_balance", "kpi.recovery_plan",
         "kpi.place_sufficiency"), forecast.simulate,
        _sen2(lambda i, c: _forecast(i)), suppression.POLICIES["forecast"], quality.forecast,
        "tests/test_forecast.py::test_", pack="forecast", background=True),
    # The statutory duties after the forecast: nothing it reads, so they are computed while
    # it simulates in its own thread.
    KPI("ehcp_timeliness_bands", "ehcp-timeliness-bands", ("year", "with_exceptions", "band"),
        ("core.ehc_plans",), duty_kpis.ehcp_timeliness_bands,
        _sen2(lambda i, c: duty_kpis.ehcp_timeliness_bands(c.plans, c.export, c.source,
                                                           i.as_of)),
        suppression.POLICIES["ehcp_timeliness_bands"], quality.ehcp_timeliness_bands,
        "tests/test_duty_kpis.py::test_ehcp_timeliness_bands", pack="duties",
        reconciled=_bands),
    KPI("ehcp_assessment_decisions", "ehcp-assessment-decisions", ("year",),
        ("core.ehc_requests",), duty_kpis.ehcp_assessment_decisions,
        _sen2(lambda i, c: duty_kpis.ehcp_assessment_decisions(c.requests, c.export, c.source,
                                                               i.as_of)),
        suppression.POLICIES["ehcp_assessment_decisions"], quality.ehcp_assessment_decisions,
        "tests/test_duty_kpis.py::test_ehcp_assessment_decisions", pack="duties",
        reconciled=_picked(("decided_not_to_issue", "decided_not_to_issue"))),
    KPI("ehcp_disputes", "ehcp-disputes", ("year", "stage"),
        ("core.ehc_requests", "core.ehc_plans", "kpi.ehcp_caseload"), duty_kpis.ehcp_disputes,
        _sen2(lambda i, c: duty_kpis.ehcp_disputes(c.requests, c.plans, i.kpi("ehcp_caseload"),
                                                   c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_disputes"], quality.ehcp_disputes,
        "tests/test_duty_kpis.py::test_ehcp_disputes", pack="duties"),
    KPI("ehcp_annual_reviews", "ehcp-annual-reviews", ("year",), ("core.ehc_plans",),
        duty_kpis.ehcp_annual_reviews,
        _sen2(lambda i, c: duty_kpis.ehcp_annual_reviews(c.plans, c.export, c.source,
                                                         i.as_of)),
        suppression.POLICIES["ehcp_annual_reviews"], quality.ehcp_annual_reviews,
        "tests/test_duty_kpis.py::test_ehcp_annual_reviews", pack="duties",
        reconciled=_picked(("reviews_due", "reviews_due"), ("reviews_held", "reviews_held"),
                           ("decided_within_4_weeks", "reviews_decided_within_4_weeks"))),
    KPI("ehcp_phase_transfers", "ehcp-phase-transfers", ("year",), ("core.ehc_plans",),
        duty_kpis.ehcp_phase_transfers,
        _sen2(lambda i, c: duty_kpis.ehcp_phase_transfers(c.plans, c.export, c.source,
                                                          i.as_of)),
        suppression.POLICIES["ehcp_phase_transfers"], quality.ehcp_phase_transfers,
        "tests/test_duty_kpis.py::test_ehcp_phase_transfers", pack="duties",
        reconciled=_picked(("transfers_due", "transfers_due"))),
    KPI("ehcp_not_in_school", "ehcp-not-in-school", ("year", "setting"),
        ("core.ehc_plans", "core.ehc_placements", "kpi.ehcp_placement_mix"),
        duty_kpis.ehcp_not_in_school,
        _sen2(lambda i, c: duty_kpis.ehcp_not_in_school(
            c.plans, c.placements, i.kpi("ehcp_placement_mix"), c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_not_in_school"], quality.ehcp_not_in_school,
        "tests/test_duty_kpis.py::test_ehcp_not_in_school", pack="duties"),
    KPI("ehcp_personal_budgets", "ehcp-personal-budgets", ("year",), ("core.ehc_plans",),
        duty_kpis.ehcp_personal_budgets,
        _sen2(lambda i, c: duty_kpis.ehcp_personal_budgets(c.plans, c.export, c.source,
                                                           i.as_of)),
        suppression.POLICIES["ehcp_personal_budgets"], quality.ehcp_personal_budgets,
        "tests/test_duty_kpis.py::test_ehcp_personal_budgets"),
    KPI("ehcp_requests_by_source", "ehcp-requests-by-source", ("year", "request_source"),
        ("core.ehc_requests",), duty_kpis.ehcp_requests_by_source,
        _sen2(lambda i, c: duty_kpis.ehcp_requests_by_source(c.requests, c.export, c.source,
                                                             i.as_of)),
        suppression.POLICIES["ehcp_requests_by_source"], quality.ehcp_requests_by_source,
        "tests/test_duty_kpis.py::test_ehcp_requests_by_source"),
    KPI("ehcp_ceased_by_duration", "ehcp-ceased-by-duration",
        ("year", "years_held_band", "cease_reason"), ("core.ehc_plans",),
        duty_kpis.ehcp_ceased_by_duration,
        _sen2(lambda i, c: duty_kpis.ehcp_ceased_by_duration(c.plans, c.export, c.source,
                                                             i.as_of)),
        suppression.POLICIES["ehcp_ceased_by_duration"], quality.ehcp_ceased_by_duration,
        "tests/test_duty_kpis.py::test_ehcp_ceased_by_duration"),
    KPI("benchmarks", "benchmarks", ("year", "measure", "comparison", "geography_code"),
        ("stage.dfe_statistics",), benchmarks, _benchmarks, None, quality.benchmarks,
        "tests/test_benchmarks.py::test_benchmarks"),
    KPI("reconciliation", "reconciliation", ("year", "measure"),
        ("kpi.*", "stage.dfe_statistics"), reconciliation, _reconciliation,
        suppression.reconciliation_public, quality.reconciliation,
        "tests/test_benchmarks.py::test_reconciliation"),
)
BY_NAME = {k.name: k for k in REGISTRY}
