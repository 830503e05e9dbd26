"""The KPI registry: one declaration per published table, and the one place that says, for
each, where it is defined (docs/kpis.md), its grain, what it is computed from and by which
pure function, how its public copy is suppressed, which quality suite guards it, how
reconciliation reads it and which section of the board pack shows it.

The rebuild (warehouse/build.py), the public copies, the quality gate, the board pack and
`sendboard explain` (warehouse/explain.py: the records behind a row) all loop over REGISTRY;
a new measure is one entry here, its function, its doc section, its suite, its test and how
it is explained (tests/test_registry.py checks each entry has them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from schemas import quality
from transforms import (
    attendance_kpis,
    duty_kpis,
    finance_kpis,
    forecast,
    forecast_backtest,
    kpis,
    place_kpis,
    suppression,
)
from transforms.benchmarks import (
    DISPUTES_RECONCILED,
    NOT_IN_SCHOOL_RECONCILED,
    PERSONAL_BUDGETS_RECONCILED,
    REVIEWS_RECONCILED,
    benchmarks,
    reconciliation,
)
from transforms.finance_kpis import dsg_balance, hnb_outturn, recovery_plan, unit_costs
from transforms.place_kpis import place_sufficiency
from transforms.records import Count
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
    # Every loaded release's caseload, new plans and requests, a row a release
    # (transforms.forecast_backtest.series_of): what the forecast's backtest fits on.
    dfe_series: pl.DataFrame | None
    census_sides: tuple[pl.DataFrame, pl.DataFrame] | None  # census EHCP pupils vs SEN2
    # stage.census_attendance and stage.census_exclusions (None: not loaded); the pair is
    # None when no census is loaded at all.
    attendance: tuple[pl.DataFrame | None, pl.DataFrame | None] | None
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


Row = dict[str, object]  # a KPI row's grain columns and their values


@dataclass(frozen=True)
class Explanation:
    """How `sendboard explain` lists the records behind a row of the table: the frame of
    records its function aggregates (transforms/records.py), and the Counts it aggregates
    them with, one a column explain can trace."""

    records: Callable[[Inputs], pl.DataFrame | None]  # None: an input is missing
    counts: Mapping[str, Count]
    count: str  # the table's main count, explained unless --count names another
    of: str  # what one record is ("plan", "request", "pupil row", "ledger line", ...)
    shows: tuple[str, ...]  # the records' columns printed: ids, dates and codes
    # Where a record's source row is: the SEN2 named plan or request of its plan_id or
    # request_id, or (`row`) its own sha256 and row_number (census, ledger, register).
    source: Literal["plan", "request", "row"]
    # The records of a row; None: those whose grain columns equal the row's.
    select: Callable[[Row], pl.Expr] | None = None
    # Every count of the table counts distinct values of this column (a Count's own
    # `distinct_of` says it of one count).
    distinct: str | None = None
    # What `file` says of a record whose staged row kept no source (staged before sendboard
    # kept it); None: every record's is kept.
    untraced: str | None = None

    def selects(self, row: Row) -> pl.Expr:
        if self.select is not None:
            return self.select(row)
        return pl.all_horizontal([pl.col(c).eq_missing(pl.lit(v)) for c, v in row.items()])


# A KPI with no records to list says why (warehouse/explain.py prints it).
Explained = Explanation | str
# Attendance rows staged before stage.census_attendance kept its pupilonroll file (commit
# 1ac3d04) have a row number but no file: a backfill of the census stages them again with it.
ATTENDANCE_UNTRACED = ("source not kept for rows staged before 1ac3d04 (`sendboard backfill "
                       "--source census` stages them again with it)")


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
    explained: Explained  # the records behind a row, for `sendboard explain`
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


def _by_row(column: str, key: str, measures: dict[str, str]
            ) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """One column of a yearly table's rows as reconciliation's measures: {key value: measure}."""
    def reconciled(t: pl.DataFrame) -> pl.DataFrame:
        return t.filter(pl.col(key).is_in(list(measures))).select(
            "year", pl.col(key).replace_strict(measures).alias("measure"),
            pl.col(column).cast(pl.Float64).alias("local_value"))
    return reconciled


def _disputes(t: pl.DataFrame) -> pl.DataFrame:
    """Requests with a mediation or a tribunal about the refusal to assess
    (benchmarks.DISPUTES_RECONCILED)."""
    return pl.concat([_by_row(c, "stage", {"request": measure})(t)
                      for c, measure in DISPUTES_RECONCILED.items()])


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


def _track_record(i: Inputs) -> pl.DataFrame | None:
    """The forecast's backtest for the LA, on the DfE's figures: none without them or
    without a forecast the loaded releases can score for it."""
    if i.dfe is None or i.dfe_series is None or not i.la_code:
        return None
    record = forecast_backtest.track_record(i.dfe_series, i.la_code)
    if record.is_empty():
        return None
    return kpis._stamp(record, "forecast-track-record", i.dfe[1], i.as_of)


def _forecast(i: Inputs) -> tuple[pl.DataFrame | None, list[str]]:
    """The forecast's table and its notes (a scenario left out, and why)."""
    from warehouse.forecast import build_forecast

    named = [i.core.source, *(name for table, name in (
        ("kpi.hnb_outturn", "HNB ledger"), ("kpi.dsg_balance", "DSG"),
        ("kpi.recovery_plan", "recovery plan register")) if table in i.out)]
    if i.population is not None:
        named.append("ONS population estimates")
    # England's rates, which the LA's are pooled towards, from the newest release loaded
    # (a landed one revises the shipped one's figures), as the backtest reads them.
    return build_forecast(dict(i.out), i.ledger, ", ".join(named), i.as_of,
                          i.settings.scenarios, population=i.population,
                          series=i.dfe_series)


def _core(records: Callable[[Core], pl.DataFrame]) -> Callable[[Inputs], pl.DataFrame | None]:
    """Records of the SEN2 export's core tables: none without a whole export."""
    return lambda i: records(i.core) if i.core is not None else None


_PLAN = ("person_id", "plan_id")
_REQUEST = ("person_id", "request_id")
_PLACEMENT = ("urn", "ukprn", "sensetting", "entry_date")


def _prevalence_row(row: Row) -> pl.Expr:
    """A sen_prevalence row's records: its census day's rows whose scope column (LA number,
    phase or URN) is its scope_id."""
    column = kpis.PREVALENCE_SCOPES[str(row["scope"])]
    return (pl.col("census_date") == pl.lit(row["census_date"])) & (
        pl.col(column).cast(pl.Utf8) == pl.lit(str(row["scope_id"])))


def _timeliness_row(row: Row) -> pl.Expr:
    return ((pl.col("year") == pl.lit(row["year"])) & (pl.col("band") == pl.lit(row["band"]))
            & duty_kpis.TIMELINESS_KINDS[bool(row["with_exceptions"])])


def _disputes_row(row: Row) -> pl.Expr:
    """`all` holds every stage's records."""
    year = pl.col("year") == pl.lit(row["year"])
    return year if row["stage"] == "all" else year & (pl.col("stage") == pl.lit(row["stage"]))


def _unit_cost_records(i: Inputs) -> pl.DataFrame | None:
    if i.core is None or i.kpi("hnb_outturn") is None:
        return None
    return finance_kpis.unit_cost_records(i.kpi("hnb_outturn"), i.core.plans,
                                          i.core.placements, i.establishments, i.core.export)


def _place_records(i: Inputs) -> pl.DataFrame | None:
    if i.core is None or i.places is None:
        return None
    return place_kpis.place_records(i.places, i.core.plans, i.core.placements, i.core.export)


REGISTRY: tuple[KPI, ...] = (
    KPI("ehcp_caseload", "ehcp-caseload", ("year",), ("core.ehc_plans", "stage.population"),
        kpis.ehcp_caseload,
        _sen2(lambda i, c: kpis.ehcp_caseload(c.plans, c.export, i.population_0_25, c.source,
                                              i.as_of)),
        suppression.POLICIES["ehcp_caseload"], quality.ehcp_caseload,
        "tests/test_kpis.py::test_ehcp_caseload",
        explained=Explanation(
            _core(lambda c: kpis.caseload_records(c.plans, c.export)), kpis.CASELOAD,
            "caseload", "plan", (*_PLAN, "census_date", "start_date", "cease_date"), "plan"),
        pack="caseload",
        reconciled=_picked(("caseload", "ehcp_caseload"))),
    KPI("ehcp_new_plans", "ehcp-new-plans", ("year",), ("core.ehc_plans",),
        kpis.ehcp_new_plans,
        _sen2(lambda i, c: kpis.ehcp_new_plans(c.plans, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_new_plans"], quality.ehcp_new_plans,
        "tests/test_kpis.py::test_ehcp_new_plans",
        explained=Explanation(
            _core(lambda c: kpis.new_plans_records(c.plans)), kpis.NEW_PLANS, "new_plans",
            "plan", (*_PLAN, "year", "request_received", "start_date", "within",
                     "exception_applies", "transfer_la"), "plan"), pack="timeliness",
        reconciled=_picked(("new_plans", "new_plans"),
                           ("pct_within_20_weeks", "pct_within_20_weeks"),
                           ("pct_within_20_weeks_ex", "pct_within_20_weeks_ex"))),
    KPI("ehcp_requests", "ehcp-requests", ("year",), ("core.ehc_requests",),
        kpis.ehcp_requests,
        _sen2(lambda i, c: kpis.ehcp_requests(c.requests, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_requests"], quality.ehcp_requests,
        "tests/test_kpis.py::test_ehcp_requests",
        explained=Explanation(
            _core(lambda c: kpis.requests_records(c.requests)), kpis.REQUESTS,
            "requests_received", "request", (*_REQUEST, "year", "received", "outcome",
                                             "decided", "in_time"), "request"),
        pack="requests", reconciled=_picked(("requests_received", "requests_received"))),
    KPI("ehcp_placement_mix", "ehcp-placement-mix", ("year", "placement_group"),
        ("core.ehc_plans", "core.ehc_placements"), kpis.ehcp_placement_mix,
        _sen2(lambda i, c: kpis.ehcp_placement_mix(c.plans, c.placements, c.export, c.source,
                                                   i.as_of, _january(i, c))),
        suppression.POLICIES["ehcp_placement_mix"], quality.ehcp_placement_mix,
        "tests/test_kpis.py::test_ehcp_placement_mix",
        explained=Explanation(
            _core(lambda c: kpis.placement_records(c.plans, c.placements, c.export,
                                                   _PLACEMENT)),
            kpis.PLACEMENT_MIX, "plans", "plan",
            (*_PLAN, "census_date", "start_date", "cease_date", "placement_group",
             *_PLACEMENT), "plan"), pack="placement",
        reconciled=_placement_shares),
    # Right after the mix: the January placements it built are dropped once this has them.
    KPI("ehcp_placement_detail", "ehcp-placement-detail",
        ("year", "placement_group", "setting_2026"), ("core.ehc_plans", "core.ehc_placements"),
        kpis.ehcp_placement_detail,
        _sen2(lambda i, c: kpis.ehcp_placement_detail(
            c.plans, c.placements, c.export, c.source, i.as_of, _january(i, c, last=True))),
        suppression.placement_detail_public, quality.ehcp_placement_detail,
        "tests/test_kpis.py::test_ehcp_placement_detail",
        explained=Explanation(
            _core(lambda c: kpis.detail_records(c.plans, c.placements, c.export, _PLACEMENT)),
            kpis.PLACEMENT_MIX, "plans", "plan",
            (*_PLAN, "census_date", "placement_group", "setting_2026", *_PLACEMENT), "plan"),
        pack="placement", reconciled=_setting_shares, reconciled_where_published=True),
    KPI("ehcp_need_mix", "ehcp-need-mix", ("year", "need"),
        ("core.ehc_plans", "core.ehc_needs"), kpis.ehcp_need_mix,
        _sen2(lambda i, c: kpis.ehcp_need_mix(c.plans, c.needs, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_need_mix"], quality.ehcp_need_mix,
        "tests/test_kpis.py::test_ehcp_need_mix",
        explained=Explanation(
            _core(lambda c: kpis.need_records(c.plans, c.needs, c.export)), kpis.NEED_MIX,
            "plans", "plan", (*_PLAN, "census_date", "start_date", "cease_date", "need"),
            "plan"), pack="need", reconciled=_need_shares),
    KPI("ehcp_ceased", "ehcp-ceased", ("year", "cease_reason"), ("core.ehc_plans",),
        kpis.ehcp_ceased,
        _sen2(lambda i, c: kpis.ehcp_ceased(c.plans, c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_ceased"], quality.ehcp_ceased,
        "tests/test_kpis.py::test_ehcp_ceased",
        explained=Explanation(
            _core(lambda c: kpis.ceased_records(c.plans)), kpis.CEASED, "plans", "plan",
            (*_PLAN, "start_date", "cease_date", "cease_reason"), "plan"),
        pack="requests", reconciled=_ceased_total),
    KPI("sen_prevalence", "sen-prevalence", ("census_date", "scope", "scope_id"),
        ("stage.census", "stage.establishments"), kpis.sen_prevalence,
        lambda i: None if i.census is None else kpis.sen_prevalence(
            i.census, i.establishments, i.sources["census"], i.as_of),
        suppression.POLICIES["sen_prevalence"], quality.sen_prevalence,
        "tests/test_kpis.py::test_sen_prevalence",
        explained=Explanation(
            lambda i: None if i.census is None else kpis.prevalence_records(
                i.census, i.establishments), kpis.PREVALENCE, "pupils", "pupil row",
            ("pupil_id", "census_date", "la_number", "laestab", "urn", "phase",
             "enrol_status", "sen_provision"), "row", select=_prevalence_row,
            distinct="pupil_id"), pack="prevalence"),
    KPI("hnb_outturn", "hnb-outturn", ("financial_year", "s251_line"),
        ("stage.finance_ledger",), hnb_outturn,
        lambda i: None if i.ledger is None else hnb_outturn(i.ledger, i.sources["ledger"],
                                                            i.as_of),
        None, quality.hnb_outturn, "tests/test_finance_kpis.py::test_hnb_outturn",
        explained=Explanation(
            lambda i: i.ledger, finance_kpis.OUTTURN, "actual_gbp", "ledger line",
            ("financial_year", "period", "s251_line", "cost_centre", "description",
             "provider_urn", "entry_type", "amount_gbp"), "row"),
        pack="finance"),
    KPI("hnb_unit_costs", "hnb-unit-costs", ("financial_year", "measure", "cost_group"),
        ("stage.finance_ledger", "kpi.hnb_outturn", "core.ehc_plans", "core.ehc_placements",
         "stage.establishments"), unit_costs,
        _sen2(lambda i, c: None if i.ledger is None else unit_costs(
            i.ledger, i.kpi("hnb_outturn"), c.plans, c.placements, i.establishments, c.export,
            f"{i.sources['ledger']}, {c.source} and GIAS", i.as_of)),
        suppression.POLICIES["hnb_unit_costs"], quality.hnb_unit_costs,
        "tests/test_finance_kpis.py::test_hnb_unit_costs",
        explained=Explanation(
            _unit_cost_records, finance_kpis.UNIT_COSTS, "plans", "plan",
            (*_PLAN, "financial_year", "census_date", "start_date", "cease_date", "urn",
             "entry_date"), "plan", distinct="plan_id"), pack="finance"),
    KPI("dsg_balance", "dsg-balance", ("financial_year",),
        ("stage.finance_dsg", "kpi.hnb_outturn"), dsg_balance,
        lambda i: None if i.dsg is None or i.kpi("hnb_outturn") is None else dsg_balance(
            i.dsg, i.kpi("hnb_outturn"), f"{i.sources['dsg']} and the HNB ledger", i.as_of),
        None, quality.dsg_balance, "tests/test_finance_kpis.py::test_dsg_balance",
        explained=("one row of the DSG extract a financial year with kpi.hnb_outturn's "
         "spend: `sendboard explain hnb_outturn` lists the ledger lines"),
        pack="finance"),
    KPI("recovery_plan", "recovery-plan", ("project_id", "financial_year"),
        ("stage.recovery_plan",), recovery_plan,
        lambda i: None if i.register is None else recovery_plan(
            i.register, i.sources["register"], i.as_of),
        None, quality.recovery_plan, "tests/test_finance_kpis.py::test_recovery_plan",
        explained=Explanation(
            lambda i: i.register, finance_kpis.RECOVERY, "planned_saving_gbp",
            "register row", ("project_id", "project_name", "financial_year",
                             "planned_saving_gbp", "actual_saving_gbp"), "row"),
        pack="recovery"),
    KPI("place_sufficiency", "place-sufficiency", ("financial_year", "urn", "provision"),
        ("stage.places", "core.ehc_plans", "core.ehc_placements"), place_sufficiency,
        _sen2(lambda i, c: None if i.places is None else place_sufficiency(
            i.places, c.plans, c.placements, c.export, f"{i.sources['places']} and {c.source}",
            i.as_of)),
        suppression.POLICIES["place_sufficiency"], quality.place_sufficiency,
        "tests/test_place_kpis.py::test_place_sufficiency",
        explained=Explanation(
            _place_records, place_kpis.PLACES, "ehcp_pupils", "plan",
            (*_PLAN, "financial_year", "census_date", "urn", "provision", "entry_date",
             "resourced_provision", "sen_unit"), "plan"), pack="places"),
    KPI("forecast", "forecast", ("scenario", "year", "measure", "breakdown"),
        ("kpi.ehcp_caseload", "kpi.ehcp_requests", "core.ehc_plans", "stage.population",
         "stage.finance_ledger", "kpi.hnb_outturn", "kpi.dsg_balance", "kpi.recovery_plan",
         "kpi.place_sufficiency"), forecast.simulate,
        _sen2(lambda i, c: _forecast(i)), suppression.POLICIES["forecast"], quality.forecast,
        "tests/test_forecast.py::test_",
        explained="a projection of the scenarios' model, not a count of records",
        pack="forecast", background=True),
    # The statutory duties after the forecast: nothing it reads. (build.compute_order starts
    # it once what it reads is computed, so the mixes, prevalence and these are computed
    # while it simulates in its own thread.)
    KPI("ehcp_timeliness_bands", "ehcp-timeliness-bands", ("year", "with_exceptions", "band"),
        ("core.ehc_plans",), duty_kpis.ehcp_timeliness_bands,
        _sen2(lambda i, c: duty_kpis.ehcp_timeliness_bands(c.plans, c.export, c.source,
                                                           i.as_of)),
        suppression.POLICIES["ehcp_timeliness_bands"], quality.ehcp_timeliness_bands,
        "tests/test_duty_kpis.py::test_ehcp_timeliness_bands",
        explained=Explanation(
            _core(lambda c: duty_kpis.timeliness_records(c.plans)), duty_kpis.TIMELINESS,
            "plans", "plan", (*_PLAN, "year", "request_received", "start_date", "days",
                              "band", "exception_applies"), "plan",
            select=_timeliness_row), pack="duties",
        reconciled=_bands),
    KPI("ehcp_assessment_decisions", "ehcp-assessment-decisions", ("year",),
        ("core.ehc_requests",), duty_kpis.ehcp_assessment_decisions,
        _sen2(lambda i, c: duty_kpis.ehcp_assessment_decisions(c.requests, c.export, c.source,
                                                               i.as_of)),
        suppression.POLICIES["ehcp_assessment_decisions"], quality.ehcp_assessment_decisions,
        "tests/test_duty_kpis.py::test_ehcp_assessment_decisions",
        explained=Explanation(
            _core(lambda c: duty_kpis.decision_records(c.requests, c.export)),
            duty_kpis.DECISIONS, "decided_not_to_issue", "request",
            (*_REQUEST, "record", "year", "received", "decided", "assessment_outcome",
             "assessment_decided", "snapshot_date", "in_time"), "request"), pack="duties",
        reconciled=_picked(("decided_not_to_issue", "decided_not_to_issue"))),
    KPI("ehcp_disputes", "ehcp-disputes", ("year", "stage"),
        ("core.ehc_requests", "core.ehc_plans", "kpi.ehcp_caseload"), duty_kpis.ehcp_disputes,
        _sen2(lambda i, c: duty_kpis.ehcp_disputes(c.requests, c.plans, i.kpi("ehcp_caseload"),
                                                   c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_disputes"], quality.ehcp_disputes,
        "tests/test_duty_kpis.py::test_ehcp_disputes",
        explained=Explanation(
            _core(lambda c: duty_kpis.dispute_records(c.requests)), duty_kpis.DISPUTES,
            "tribunals", "request", (*_REQUEST, "year", "stage", "received", "mediation",
                                     "tribunal"), "request", select=_disputes_row), pack="duties",
        reconciled=_disputes),
    KPI("ehcp_annual_reviews", "ehcp-annual-reviews", ("year",), ("core.ehc_plans",),
        duty_kpis.ehcp_annual_reviews,
        _sen2(lambda i, c: duty_kpis.ehcp_annual_reviews(c.plans, c.export, c.source,
                                                         i.as_of)),
        suppression.POLICIES["ehcp_annual_reviews"], quality.ehcp_annual_reviews,
        "tests/test_duty_kpis.py::test_ehcp_annual_reviews",
        explained=Explanation(
            _core(lambda c: duty_kpis.review_records(c.plans, c.export)), duty_kpis.REVIEWS,
            "reviews_due", "plan", (*_PLAN, "year", "start_date", "held", "review_meeting",
                                    "review_decided", "review_outcome"), "plan"), pack="duties",
        reconciled=_picked(*REVIEWS_RECONCILED.items())),
    KPI("ehcp_phase_transfers", "ehcp-phase-transfers", ("year",), ("core.ehc_plans",),
        duty_kpis.ehcp_phase_transfers,
        _sen2(lambda i, c: duty_kpis.ehcp_phase_transfers(c.plans, c.export, c.source,
                                                          i.as_of)),
        suppression.POLICIES["ehcp_phase_transfers"], quality.ehcp_phase_transfers,
        "tests/test_duty_kpis.py::test_ehcp_phase_transfers",
        explained=Explanation(
            _core(lambda c: duty_kpis.transfer_records(c.plans, c.export)),
            duty_kpis.TRANSFERS, "transfers_due", "plan",
            (*_PLAN, "year", "transfer_due", "transfer_final", "passed"), "plan"), pack="duties",
        reconciled=_picked(("transfers_due", "transfers_due"))),
    KPI("ehcp_not_in_school", "ehcp-not-in-school", ("year", "setting"),
        ("core.ehc_plans", "core.ehc_placements", "kpi.ehcp_placement_mix"),
        duty_kpis.ehcp_not_in_school,
        _sen2(lambda i, c: duty_kpis.ehcp_not_in_school(
            c.plans, c.placements, i.kpi("ehcp_placement_mix"), c.export, c.source, i.as_of)),
        suppression.POLICIES["ehcp_not_in_school"], quality.ehcp_not_in_school,
        "tests/test_duty_kpis.py::test_ehcp_not_in_school",
        explained=Explanation(
            _core(lambda c: duty_kpis.not_in_school_records(c.plans, c.placements,
                                                            c.export)),
            duty_kpis.NOT_IN_SCHOOL_COUNTS, "plans", "plan",
            (*_PLAN, "census_date", "start_date", "cease_date", "setting", "sensetting",
             "entry_date"), "plan"), pack="duties",
        reconciled=_by_row("plans", "setting", NOT_IN_SCHOOL_RECONCILED)),
    KPI("ehcp_personal_budgets", "ehcp-personal-budgets", ("year",), ("core.ehc_plans",),
        duty_kpis.ehcp_personal_budgets,
        _sen2(lambda i, c: duty_kpis.ehcp_personal_budgets(c.plans, c.export, c.source,
                                                           i.as_of)),
        suppression.POLICIES["ehcp_personal_budgets"], quality.ehcp_personal_budgets,
        "tests/test_duty_kpis.py::test_ehcp_personal_budgets",
        explained=Explanation(
            _core(lambda c: duty_kpis.personal_budget_records(c.plans)),
            duty_kpis.PERSONAL_BUDGETS, "plans_with_pb", "plan",
            (*_PLAN, "year", "start_date", "personal_budget", "organised_arrangements",
             "direct_payments"), "plan")),
    KPI("ehcp_personal_budgets_caseload", "ehcp-personal-budgets-caseload", ("year",),
        ("core.ehc_plans",), duty_kpis.ehcp_personal_budgets_caseload,
        _sen2(lambda i, c: duty_kpis.ehcp_personal_budgets_caseload(c.plans, c.export,
                                                                    c.source, i.as_of)),
        suppression.POLICIES["ehcp_personal_budgets_caseload"],
        quality.ehcp_personal_budgets_caseload,
        "tests/test_duty_kpis.py::test_ehcp_personal_budgets_caseload",
        explained=Explanation(
            _core(lambda c: duty_kpis.caseload_budget_records(c.plans, c.export)),
            duty_kpis.CASELOAD_BUDGETS, "plans_with_pb", "plan",
            (*_PLAN, "census_date", "start_date", "cease_date", "transfer_la",
             "personal_budget", "organised_arrangements", "direct_payments"), "plan"),
        pack="duties", reconciled=_picked(*PERSONAL_BUDGETS_RECONCILED.items()),
        reconciled_where_published=True),
    KPI("ehcp_requests_by_source", "ehcp-requests-by-source", ("year", "request_source"),
        ("core.ehc_requests",), duty_kpis.ehcp_requests_by_source,
        _sen2(lambda i, c: duty_kpis.ehcp_requests_by_source(c.requests, c.export, c.source,
                                                             i.as_of)),
        suppression.POLICIES["ehcp_requests_by_source"], quality.ehcp_requests_by_source,
        "tests/test_duty_kpis.py::test_ehcp_requests_by_source",
        explained=Explanation(
            _core(lambda c: duty_kpis.source_records(c.requests)), duty_kpis.BY_SOURCE,
            "requests", "request", (*_REQUEST, "year", "received", "request_source"),
            "request"), pack="requests"),
    KPI("ehcp_ceased_by_duration", "ehcp-ceased-by-duration",
        ("year", "years_held_band", "cease_reason"), ("core.ehc_plans",),
        duty_kpis.ehcp_ceased_by_duration,
        _sen2(lambda i, c: duty_kpis.ehcp_ceased_by_duration(c.plans, c.export, c.source,
                                                             i.as_of)),
        suppression.POLICIES["ehcp_ceased_by_duration"], quality.ehcp_ceased_by_duration,
        "tests/test_duty_kpis.py::test_ehcp_ceased_by_duration",
        explained=Explanation(
            _core(lambda c: duty_kpis.duration_records(c.plans)), duty_kpis.BY_DURATION,
            "plans", "plan", (*_PLAN, "year", "start_date", "cease_date", "years_held_band",
                              "cease_reason"), "plan"), pack="requests"),
    # Built whenever a census is loaded, empty without a Blade census's attendance tables
    # (the flat layout has none), so the pack can say so.
    KPI("sen_attendance", "sen-attendance", ("academic_year", "term", "sen_status"),
        # (stage.census: a leaver's SEN status is their row's at an earlier census.)
        ("stage.census_attendance", "stage.census_exclusions", "stage.census"),
        attendance_kpis.sen_attendance,
        lambda i: None if i.attendance is None else attendance_kpis.sen_attendance(
            *i.attendance, i.sources["attendance"], i.as_of, census=i.census),
        suppression.POLICIES["sen_attendance"], quality.sen_attendance,
        "tests/test_attendance_kpis.py::test_sen_attendance",
        explained=Explanation(
            lambda i: None if i.attendance is None else attendance_kpis.attendance_records(
                *i.attendance, census=i.census), attendance_kpis.ATTENDANCE, "enrolments",
            "pupil record",
            ("pupil_id", "academic_year", "term", "sen_status", "kind", "census_date",
             "laestab", "start_date", "possible", "missed", "persistent"), "row",
            untraced=ATTENDANCE_UNTRACED), pack="inclusion"),
    KPI("benchmarks", "benchmarks", ("year", "measure", "comparison", "geography_code"),
        ("stage.dfe_statistics",), benchmarks, _benchmarks, None, quality.benchmarks,
        "tests/test_benchmarks.py::test_benchmarks",
        explained="the DfE's published figures for England, the region and neighbours"),
    KPI("forecast_track_record", "forecast-track-record", ("fit_until", "horizon"),
        ("stage.dfe_statistics",), forecast_backtest.track_record, _track_record, None,
        quality.forecast_track_record, "tests/test_forecast_backtest.py::test_track_record",
        explained=("the DfE's published figures for this LA and every LA, as `sendboard "
                   "backtest` scores them"), pack="forecast"),
    KPI("reconciliation", "reconciliation", ("year", "measure"),
        ("kpi.*", "stage.dfe_statistics"), reconciliation, _reconciliation,
        suppression.reconciliation_public, quality.reconciliation,
        "tests/test_benchmarks.py::test_reconciliation",
        explained=("the LA's figures beside the DfE's: explain the kpi table each measure "
         "comes from")),
)
BY_NAME = {k.name: k for k in REGISTRY}
