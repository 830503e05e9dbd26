"""KPI tables, with the DfE's definitions (docs/kpis.md is the one place they are written).

Pure functions of core tables. Every table carries `definition` (an anchor into
docs/kpis.md), `source` (which extracts it was computed from) and `as_of`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from transforms.calendar import january_census_day
from transforms.records import ALL, Count, counted

# The SEND reforms took effect in September 2014: the first January of EHC plans is 2015.
FIRST_YEAR = 2015
TIMELINESS_DAYS = 140  # 20 weeks from request received to plan issued
KPI_DOC = "docs/kpis.md"


def definition(anchor: str) -> str:
    return f"{KPI_DOC}#{anchor}"


def _stamp(frame: pl.DataFrame, anchor: str, source: str, as_of: dt.date) -> pl.DataFrame:
    return frame.with_columns(pl.lit(as_of).alias("as_of"),
                              pl.lit(definition(anchor)).alias("definition"),
                              pl.lit(source).alias("source"))


def _pct(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then((100 * pl.col(num) / pl.col(den)).round(1))


def januaries(export_date: dt.date, first_year: int = FIRST_YEAR) -> pl.DataFrame:
    """Each January census day from `first_year` up to the export."""
    years = [y for y in range(first_year, export_date.year + 1)
             if january_census_day(y) <= export_date]
    return pl.DataFrame({"year": years, "census_date": [january_census_day(y) for y in years]},
                        schema={"year": pl.Int32, "census_date": pl.Date})


def active_on(day: pl.Expr) -> pl.Expr:
    """Active on a day: started on or before it and not ceased by it (ceasing on it counts
    as ceased, as in SEN2)."""
    return (pl.col("start_date") <= day) & (pl.col("cease_date").is_null()
                                            | (pl.col("cease_date") > day))


def open_on(plans: pl.DataFrame, days: pl.DataFrame, day: str = "census_date"
            ) -> pl.DataFrame:
    """A row for every plan and every row of `days` on whose `day` it is active (active_on's
    rule), with the columns of both. Each plan's days are a range of positions in the sorted
    days (from the first on or after its start to the first on or after its cease), so no
    plans x days cross join is built: at national scale that is a million plans times a
    dozen Januaries."""
    days = days.sort(day).with_row_index("__k").with_columns(pl.col("__k").cast(pl.Int64))
    never = dt.date(9999, 12, 31)
    return (plans.with_columns(pl.int_ranges(
        days[day].search_sorted(plans["start_date"], side="left"),
        days[day].search_sorted(plans["cease_date"].fill_null(never), side="left"),
        dtype=pl.Int64).alias("__k"))
        .explode("__k").drop_nulls("__k").join(days, on="__k").drop("__k"))


CASELOAD = {"caseload": ALL}


def caseload_records(plans: pl.DataFrame, export_date: dt.date) -> pl.DataFrame:
    """A row for every plan and January census day it is active on (year, census_date and
    the plans' columns): kpi.ehcp_caseload's records."""
    return open_on(plans, januaries(export_date))


def ehcp_caseload(plans: pl.DataFrame, export_date: dt.date, population: pl.DataFrame | None,
                  source: str, as_of: dt.date) -> pl.DataFrame:
    """Plans active on each January census day; growth on the year before; rate per 10,000
    residents aged 0-25 (ONS mid-year estimate of the previous June)."""
    days = januaries(export_date)
    counts = (caseload_records(plans.select("start_date", "cease_date"), export_date)
              .group_by("year").agg(counted(CASELOAD)))
    out = (days.join(counts, on="year", how="left")
           .with_columns(pl.col("caseload").fill_null(0)).sort("year")
           .with_columns(pl.when(pl.col("caseload").shift(1) > 0)
                         .then((pl.col("caseload") / pl.col("caseload").shift(1) - 1) * 100)
                         .round(1).alias("growth_pct")))
    if population is not None and population.height:
        pop = population.select((pl.col("year") + 1).cast(pl.Int32).alias("year"),
                                pl.col("year").cast(pl.Int32).alias("population_year"),
                                "population_0_25")
        out = out.join(pop, on="year", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Int32).alias("population_year"),
                               pl.lit(None, pl.Int64).alias("population_0_25"))
    out = out.with_columns(
        pl.when(pl.col("population_0_25") > 0)
        .then((pl.col("caseload") / pl.col("population_0_25") * 10_000).round(1))
        .alias("rate_per_10k_0_25"))
    return _stamp(out.select("year", "census_date", "caseload", "growth_pct",
                             "rate_per_10k_0_25", "population_0_25", "population_year"),
                  "ehcp-caseload", source, as_of)


def complete_years(export_date: dt.date, first_year: int = FIRST_YEAR) -> pl.DataFrame:
    """Calendar years wholly before the export: a part year would read as a collapse."""
    return pl.DataFrame({"year": list(range(first_year, export_date.year))},
                        schema={"year": pl.Int32})


NEW_PLANS = {"new_plans": ALL, "within_20_weeks": Count(pl.col("within")),
             "new_plans_ex": Count(~pl.col("exception_applies")),
             "within_20_weeks_ex": Count(pl.col("within") & ~pl.col("exception_applies"))}


def new_plans_records(plans: pl.DataFrame) -> pl.DataFrame:
    """Plans first issued by the LA (transfers in excluded), with the calendar year of issue
    and whether it was within 20 weeks of the request: kpi.ehcp_new_plans's records."""
    return plans.filter(pl.col("transfer_la").is_null()).with_columns(
        pl.col("start_date").dt.year().cast(pl.Int32).alias("year"),
        ((pl.col("start_date") - pl.col("request_received")).dt.total_days()
         <= TIMELINESS_DAYS).fill_null(False).alias("within"))


def ehcp_new_plans(plans: pl.DataFrame, export_date: dt.date, source: str,
                   as_of: dt.date) -> pl.DataFrame:
    """Plans first issued in each calendar year (transfers in excluded), and the share issued
    within 20 weeks of the request, including and excluding exception cases."""
    agg = new_plans_records(plans).group_by("year").agg(counted(NEW_PLANS))
    counts = ["new_plans", "within_20_weeks", "new_plans_ex", "within_20_weeks_ex"]
    out = (complete_years(export_date).join(agg, on="year", how="left")
           .with_columns(pl.col(counts).fill_null(0)).sort("year")
           .with_columns(_pct("within_20_weeks", "new_plans").alias("pct_within_20_weeks"),
                         _pct("within_20_weeks_ex", "new_plans_ex")
                         .alias("pct_within_20_weeks_ex")))
    return _stamp(out.select("year", "new_plans", "within_20_weeks", "pct_within_20_weeks",
                             "new_plans_ex", "within_20_weeks_ex", "pct_within_20_weeks_ex"),
                  "ehcp-new-plans", source, as_of)


PHASE_BY_NUMBER = [(1000, 1099, "Nursery"), (1100, 1199, "Alternative provision"),
                   (2000, 3999, "Primary"), (4000, 5999, "Secondary"),
                   (6000, 6999, "Independent"), (7000, 7999, "Special")]


def school_phases(census: pl.DataFrame, establishments: pl.DataFrame | None) -> pl.DataFrame:
    """URN -> phase: special and AP schools by type, others by GIAS phase; with no GIAS row,
    by the DfE's establishment number ranges."""
    urns = census.select("urn", "laestab").unique(subset="urn", keep="first")
    number = pl.col("laestab").str.slice(3, 4).cast(pl.Int32)
    fallback = pl.lit(None, pl.Utf8)
    for lo, hi, name in reversed(PHASE_BY_NUMBER):
        fallback = pl.when(number.is_between(lo, hi)).then(pl.lit(name)).otherwise(fallback)
    if establishments is None or establishments.height == 0:
        return urns.select("urn", fallback.alias("phase"))
    t = pl.col("type_of_establishment").str.to_lowercase()
    gias = establishments.select(
        "urn",
        pl.when(t.str.contains("special")).then(pl.lit("Special"))
        .when(t.str.contains("pupil referral|alternative provision")).then(
            pl.lit("Alternative provision"))
        .when(pl.col("phase_of_education").is_in(["Not applicable", ""])
              | pl.col("phase_of_education").is_null()).then(None)
        .otherwise(pl.col("phase_of_education")).alias("gias_phase"))
    return urns.join(gias, on="urn", how="left").select(
        "urn", pl.coalesce("gias_phase", fallback, pl.lit("Unknown")).alias("phase"))


def sen_prevalence(census: pl.DataFrame, establishments: pl.DataFrame | None, source: str,
                   as_of: dt.date) -> pl.DataFrame:
    """Pupils on roll (sole and main registrations, enrol status C and M) with an EHC plan (E)
    and on SEN support (K), per census: for the LA, per phase and per school. A dual-registered
    pupil's subsidiary row (S) is never counted, at the school or for the LA."""
    on_roll = on_roll_rows(census)
    phases = school_phases(census, establishments)
    out = (_prevalence_counted(on_roll, phases) if _one_row_per_pupil(on_roll)
           else _prevalence_distinct(on_roll, phases))
    order = pl.col("scope").replace_strict({"la": 0, "phase": 1, "school": 2},
                                           return_dtype=pl.Int8)
    out = out.with_columns(_pct("ehcp", "pupils").alias("ehcp_pct"),
                           _pct("sen_support", "pupils").alias("sen_support_pct"))
    out = out.sort(["census_date", order, "scope_id"])
    return _stamp(out.select("census_date", "scope", "scope_id", "pupils", "ehcp", "ehcp_pct",
                             "sen_support", "sen_support_pct", "phase"),
                  "sen-prevalence", source, as_of)


PREVALENCE = {"pupils": ALL, "ehcp": Count(pl.col("sen_provision") == "E"),
              "sen_support": Count(pl.col("sen_provision") == "K")}
# The column of each scope's id in prevalence_records.
PREVALENCE_SCOPES = {"la": "la_number", "phase": "phase", "school": "urn"}


def on_roll_rows(census: pl.DataFrame) -> pl.DataFrame:
    """The census rows counted: sole and main registrations (C, M), not subsidiary (S)."""
    return census.filter(pl.col("enrol_status").is_in(["C", "M"]))


def prevalence_records(census: pl.DataFrame, establishments: pl.DataFrame | None
                       ) -> pl.DataFrame:
    """kpi.sen_prevalence's records: the census rows counted, with their school's phase;
    a row of the table counts the distinct pupils among those of its census day whose
    PREVALENCE_SCOPES column is its scope_id."""
    return on_roll_rows(census).join(school_phases(census, establishments), on="urn",
                                     how="left")


def _one_row_per_pupil(on_roll: pl.DataFrame) -> bool:
    """No pupil on roll twice in one census, so counting rows counts pupils. Hashes are
    compared, not the ids (nationally, distinct ids cost seconds): equal ids always hash
    equal, so distinct hashes prove distinct ids; a collision only sends the census down the
    exact distinct-count path."""
    key = pl.col("pupil_id").hash().xor(pl.col("census_date").hash())
    return on_roll.select(key.n_unique()).item() == on_roll.height


def _prevalence_counted(on_roll: pl.DataFrame, phases: pl.DataFrame) -> pl.DataFrame:
    """_prevalence_distinct for a census with a row per pupil: one pass over the pupils to
    school counts, which then add up to the phase and LA counts."""
    # Lazily: polars' default engine for a query groups the nine million rows in about half
    # the time of the eager group_by (counts, so the order rows are met in cannot matter).
    schools = on_roll.lazy().group_by("census_date", "la_number", "urn").agg(
        counted(PREVALENCE)).collect().join(phases, on="urn", how="left")

    def count(scope: str, scope_id: str, phase: pl.Expr) -> pl.DataFrame:
        return schools.group_by("census_date", scope_id).agg(
            phase.alias("scope_phase"),
            *[pl.col(c).sum().cast(pl.Int64) for c in ("pupils", "ehcp", "sen_support")],
        ).select("census_date", pl.col(scope_id).cast(pl.Utf8).alias("scope_id"),
                 pl.col("scope_phase").alias("phase"), "pupils", "ehcp", "sen_support",
                 pl.lit(scope).alias("scope"))

    return pl.concat([count("la", "la_number", pl.lit(None, pl.Utf8)),
                      count("phase", "phase", pl.col("phase").first()),
                      count("school", "urn", pl.col("phase").first())])


def _prevalence_distinct(on_roll: pl.DataFrame, phases: pl.DataFrame) -> pl.DataFrame:
    """Distinct pupils per census and LA, phase and school (census_date, scope_id, phase,
    pupils, ehcp, sen_support, scope)."""
    on_roll = on_roll.join(phases, on="urn", how="left")

    def count(scope: str, scope_id: pl.Expr) -> pl.DataFrame:
        return on_roll.with_columns(scope_id.cast(pl.Utf8).alias("scope_id")).group_by(
            "census_date", "scope_id").agg(
            pl.col("phase").first() if scope != "la" else pl.lit(None, pl.Utf8).alias("phase"),
            *(c.distinct(name, "pupil_id") for name, c in PREVALENCE.items()),
        ).with_columns(pl.lit(scope).alias("scope"))

    return pl.concat([count(scope, pl.col(column)) for scope, column in
                      PREVALENCE_SCOPES.items()])


def population_0_25(population: pl.DataFrame, new_la_code: str | None) -> pl.DataFrame:
    """Residents aged 0-25 per mid-year, from ONS estimates (stage.population rows); the LA's
    own code, or the only code there is."""
    pop = population
    codes = pop["new_la_code"].unique().to_list()
    if new_la_code is not None:
        pop = pop.filter(pl.col("new_la_code") == new_la_code)
    elif len(codes) != 1:
        return pl.DataFrame(schema={"year": pl.Int32, "population_0_25": pl.Int64})
    return pop.filter(pl.col("age").is_between(0, 25)).group_by("year").agg(
        pl.col("population").sum().alias("population_0_25")).sort("year")


DECISION_DAYS = 42  # six weeks from request to the decision whether to assess
REQUESTS = {"requests_received": ALL,
            "decided_to_assess": Count(pl.col("outcome") == "A"),
            "decided_not_to_assess": Count(pl.col("outcome") == "N"),
            "withdrawn": Count(pl.col("outcome") == "W"),
            "awaiting_decision": Count(pl.col("outcome").is_null()),
            "decisions": Count(pl.col("decided_either_way")),
            "decided_within_6_weeks": Count(pl.col("decided_either_way")
                                            & pl.col("in_time").fill_null(False))}


def requests_records(requests: pl.DataFrame) -> pl.DataFrame:
    """Requests received (those that came with a plan transferred in excluded), with the
    calendar year received, whether the LA decided (to assess or not) and whether within six
    weeks: kpi.ehcp_requests's records."""
    return requests.filter(~pl.col("transfer_in")).with_columns(
        pl.col("received").dt.year().cast(pl.Int32).alias("year"),
        pl.col("outcome").is_in(["A", "N"]).alias("decided_either_way"),
        ((pl.col("decided") - pl.col("received")).dt.total_days() <= DECISION_DAYS)
        .alias("in_time"))


def ehcp_requests(requests: pl.DataFrame, export_date: dt.date, source: str,
                  as_of: dt.date) -> pl.DataFrame:
    """Requests for an EHC needs assessment received in each calendar year (requests that came
    with a plan transferred in excluded), how many the LA decided to assess, and how many
    decisions (to assess or not) were made within six weeks."""
    agg = requests_records(requests).group_by("year").agg(counted(REQUESTS))
    counts = ["requests_received", "decided_to_assess", "decided_not_to_assess", "withdrawn",
              "awaiting_decision", "decisions", "decided_within_6_weeks"]
    out = (complete_years(export_date).join(agg, on="year", how="left")
           .with_columns(pl.col(counts).fill_null(0)).sort("year")
           .with_columns(_pct("decided_to_assess", "requests_received")
                         .alias("pct_decided_to_assess"),
                         _pct("decided_within_6_weeks", "decisions")
                         .alias("pct_decided_within_6_weeks")))
    return _stamp(out.select("year", "requests_received", "decided_to_assess",
                             "pct_decided_to_assess", "decided_within_6_weeks",
                             "pct_decided_within_6_weeks", "decided_not_to_assess", "withdrawn",
                             "awaiting_decision", "decisions"),
                  "ehcp-requests", source, as_of)


PLACEMENT_MIX = {"plans": ALL}


def placement_records(plans: pl.DataFrame, placements: pl.DataFrame, export_date: dt.date,
                      placement: tuple[str, ...] = ()) -> pl.DataFrame:
    """kpi.ehcp_placement_mix's records: a row for every plan and January it is active on
    (caseload_records), with the placement group of the setting attended that day
    (placement rank 1, the latest entry if two overlap; none: `unknown`) and the placement's
    `placement` columns."""
    active = caseload_records(plans, export_date)
    return active.join(_placed(active, placements, placement), on=["year", "plan_id"],
                       how="left").with_columns(pl.col("placement_group").fill_null("unknown"))


def _placed(active: pl.DataFrame, placements: pl.DataFrame, placement: tuple[str, ...] = ()
            ) -> pl.DataFrame:
    """The plans of `active` (caseload_records) with a placement attended on the January:
    a row a plan and January (year, plan_id, placement_group, `placement`)."""
    # Only the columns used: the join is a row per plan, January and placement.
    used = ("plan_id", "entry_date", "leaving_date", "placement_group")
    first = placements.filter(pl.col("placement_rank") == 1).select(
        *used, *(c for c in placement if c not in used),
        pl.col("plan_id").is_duplicated().alias("several"))
    kept = ("placement_group", *placement)
    current = (active.select("year", "census_date", "plan_id").join(first, on="plan_id",
                                                                    how="left")
               .filter((pl.col("entry_date") <= pl.col("census_date"))
                       & (pl.col("leaving_date").is_null()
                          | (pl.col("leaving_date") > pl.col("census_date")))))
    # A plan counts once: its current placement, the latest entry if two overlap. Only a plan
    # with two rank-1 placements can have two, so only its rows need grouping.
    return pl.concat([
        current.filter(~pl.col("several")).select("year", "plan_id", *kept),
        current.filter(pl.col("several")).sort("entry_date", maintain_order=True)
        .group_by("year", "plan_id").agg(pl.col(*kept).last())])


@dataclass(frozen=True)
class JanuaryPlacements:
    """Where the January caseload was on each census day, built once for the placement mix
    and its 2026 split (nationally a row per plan and January: built twice, it would cost
    the run its time twice)."""

    # year, plan_id, placement_group, setting_2026 (a placement_groups.SETTING_CODE): a row
    # per plan placed that day.
    placed: pl.DataFrame
    caseload: pl.DataFrame  # year, plans: every plan active that January


def january_placements(plans: pl.DataFrame, placements: pl.DataFrame, export_date: dt.date,
                       settings: bool = True) -> JanuaryPlacements:
    """The setting attended on each January census day (placement rank 1: entry on or before
    the day, no leaving date or one after it) of each plan active that day (_placed, the
    step placement_records shares), with today's group and (`settings`) the 2026 release's
    setting (transforms/placement_groups.py)."""
    from transforms.placement_groups import setting_2026

    active = caseload_records(plans.select("plan_id", "start_date", "cease_date"),
                              export_date)
    with_setting = placements.filter(pl.col("placement_rank") == 1).with_columns(
        (setting_2026() if settings else pl.lit(None, pl.Int8)).alias("setting_2026"))
    placed = _placed(active, with_setting, ("setting_2026",))
    return JanuaryPlacements(placed, active.group_by("year").agg(counted(PLACEMENT_MIX)))


def ehcp_placement_mix(plans: pl.DataFrame, placements: pl.DataFrame, export_date: dt.date,
                       source: str, as_of: dt.date,
                       january: JanuaryPlacements | None = None) -> pl.DataFrame:
    """The January caseload by the setting attended that day (placement rank 1), in the
    DfE's caseload groups, which sum to the caseload; no current placement is `unknown`.
    `january`: january_placements of the same arguments, when already built."""
    from schemas.contracts import PLACEMENT_GROUPS

    january = january or january_placements(plans, placements, export_date, settings=False)
    # placement_records aggregated, without joining the caseload (a row per plan and
    # January) back to the placed plans: the plans with no current placement, `unknown`,
    # are counted by difference (nationally, seconds of a run).
    unplaced = _unplaced(january).select("year", pl.lit("unknown").alias("placement_group"),
                                         "plans")
    counts = pl.concat([
        january.placed.group_by("year", pl.col("placement_group").fill_null("unknown"))
        .agg(counted(PLACEMENT_MIX)), unplaced]).group_by("year", "placement_group").agg(
        pl.col("plans").sum().cast(pl.Int64))
    grid = januaries(export_date).select("year").join(
        pl.DataFrame({"placement_group": list(PLACEMENT_GROUPS)}), how="cross")
    out = (grid.join(counts, on=["year", "placement_group"], how="left")
           .with_columns(pl.col("plans").fill_null(0))
           .with_columns(pl.col("plans").sum().over("year").alias("caseload"))
           .with_columns(_pct("plans", "caseload").alias("pct"))
           .sort("year", pl.col("placement_group").replace_strict(
               {g: i for i, g in enumerate(PLACEMENT_GROUPS)}, return_dtype=pl.Int8)))
    return _stamp(out.select("year", "placement_group", "plans", "pct", "caseload"),
                  "ehcp-placement-mix", source, as_of)


NEED_MIX = {"plans": ALL}


def need_records(plans: pl.DataFrame, needs: pl.DataFrame, export_date: dt.date
                 ) -> pl.DataFrame:
    """kpi.ehcp_need_mix's records: a row for every plan and January it is active on, with
    its primary need (SEN type ranked 1, the first if two; none recorded: `unknown`)."""
    primary = needs.filter(pl.col("rank") == 1).unique("plan_id", keep="first")
    return caseload_records(plans, export_date).join(primary, on="plan_id", how="left"
                                                     ).with_columns(
        pl.col("need").fill_null("unknown"))


def _unplaced(january: JanuaryPlacements) -> pl.DataFrame:
    """year, plans: the plans active that January with no placement that day."""
    return (january.caseload.join(january.placed.group_by("year").agg(
        pl.len().alias("placed")), on="year", how="left")
        .select("year", (pl.col("plans") - pl.col("placed").fill_null(0)).alias("plans")))


def detail_records(plans: pl.DataFrame, placements: pl.DataFrame, export_date: dt.date,
                   placement: tuple[str, ...] = ()) -> pl.DataFrame:
    """kpi.ehcp_placement_detail's records: placement_records with each plan's 2026 setting
    that January, named as ehcp_placement_detail names it (none: `placement_unknown`; NIEO
    split by compulsory school age). tests/test_explain.py checks that they add up to the
    table, row for row."""
    from transforms.placement_groups import (
        SETTING_CODE,
        SETTING_NAME,
        compulsory_school_age,
        setting_2026,
    )

    with_setting = placements.with_columns(setting_2026().alias("setting_2026"))
    records = placement_records(plans, with_setting, export_date, ("setting_2026", *placement))
    named = pl.col("setting_2026").replace_strict(SETTING_NAME, default=None,
                                                  return_dtype=pl.Utf8)
    young = compulsory_school_age(pl.col("year"), pl.col("birth_year"),
                                  pl.col("birth_month")).fill_null(False)
    return records.with_columns(
        pl.when((pl.col("setting_2026") == SETTING_CODE["neet_other"]) & young)
        .then(pl.lit("neet_other_csa")).otherwise(named).fill_null("placement_unknown")
        .alias("setting_2026"))


def ehcp_placement_detail(plans: pl.DataFrame, placements: pl.DataFrame,
                          export_date: dt.date, source: str, as_of: dt.date,
                          january: JanuaryPlacements | None = None) -> pl.DataFrame:
    """The January caseload by the DfE 2026 release's placement settings (its caseload.csv
    columns: special academies apart from special free schools, online providers, NEET by
    kind...), each row inside today's group (kpi.ehcp_placement_mix), so that a group's
    settings add up to it and all of them to the caseload. No current placement, or one
    today's groups cannot place, is `placement_unknown`. Not in education or training for a
    reason other than a notice to cease (SEN2 NIEO) is `neet_other_csa` when the child is of
    compulsory school age on the day, else `neet_other`. `pct` is of the caseload,
    `pct_of_group` of the group's plans."""
    from schemas.contracts import SETTINGS_2026
    from transforms.placement_groups import SETTING_CODE, SETTING_NAME, compulsory_school_age

    january = january or january_placements(plans, placements, export_date)
    keys = ["year", "placement_group", "setting_2026"]
    # Lazily, by the setting's code (a row per plan and January: millions nationally): in a
    # tenth of the time of an eager group_by on text.
    counts = january.placed.lazy().group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("plans")).collect()
    other_code = SETTING_CODE["neet_other"]
    other = january.placed.filter(pl.col("setting_2026") == other_code)
    if other.height:
        # Only NIEO rows need an age: joined to the plans' birth month for those rows alone.
        aged = other.join(plans.select("plan_id", "birth_year", "birth_month"), on="plan_id",
                          how="left").with_columns(
            pl.when(compulsory_school_age(pl.col("year"), pl.col("birth_year"),
                                          pl.col("birth_month")).fill_null(False))
            .then(SETTING_CODE["neet_other_csa"]).otherwise(other_code)
            .cast(counts.schema["setting_2026"]).alias("setting_2026"))
        counts = pl.concat([counts.filter(pl.col("setting_2026") != other_code),
                            aged.group_by(keys).agg(pl.len().cast(pl.Int64).alias("plans"))])
    counts = pl.concat([
        counts.select("year", pl.col("placement_group").fill_null("unknown"),
                      pl.col("setting_2026").replace_strict(SETTING_NAME, default=None,
                                                            return_dtype=pl.Utf8)
                      .fill_null("placement_unknown"), "plans"),
        _unplaced(january).select("year", pl.lit("unknown").alias("placement_group"),
                                  pl.lit("placement_unknown").alias("setting_2026"), "plans")
    ]).group_by(keys).agg(pl.col("plans").sum().cast(pl.Int64))
    order = {s: i for i, s in enumerate(SETTINGS_2026)}
    groups = {g: i for i, g in enumerate(dict.fromkeys(SETTINGS_2026.values()))}
    # Every setting of the release in its own group, shown at zero; a setting counted in
    # another of today's groups (service children's education: mainstream today, other
    # school types for the DfE) is a row of its own.
    grid = januaries(export_date).select("year").join(pl.DataFrame(
        {"placement_group": list(SETTINGS_2026.values()),
         "setting_2026": list(SETTINGS_2026)}), how="cross")
    out = (grid.join(counts, on=keys, how="full", coalesce=True)
           .with_columns(pl.col("plans").fill_null(0))
           .with_columns(pl.col("plans").sum().over("year", "placement_group")
                         .alias("group_plans"),
                         pl.col("plans").sum().over("year").alias("caseload"))
           .with_columns(_pct("plans", "caseload").alias("pct"),
                         _pct("plans", "group_plans").alias("pct_of_group"))
           .sort("year", pl.col("placement_group").replace_strict(groups, default=99,
                                                                  return_dtype=pl.Int8),
                 pl.col("setting_2026").replace_strict(order, default=99,
                                                       return_dtype=pl.Int8)))
    return _stamp(out.select("year", "placement_group", "setting_2026", "plans", "pct",
                             "pct_of_group", "group_plans", "caseload"),
                  "ehcp-placement-detail", source, as_of)


def ehcp_need_mix(plans: pl.DataFrame, needs: pl.DataFrame, export_date: dt.date, source: str,
                  as_of: dt.date) -> pl.DataFrame:
    """The January caseload by primary need (SEN type ranked 1); none recorded: `unknown`."""
    counts = need_records(plans.select("plan_id", "start_date", "cease_date"), needs,
                          export_date).group_by("year", "need").agg(counted(NEED_MIX))
    out = (counts.with_columns(pl.col("plans").sum().over("year").alias("caseload"))
           .with_columns(_pct("plans", "caseload").alias("pct"))
           .sort(["year", "plans", "need"], descending=[False, True, False]))
    return _stamp(out.select("year", "need", "plans", "pct", "caseload"), "ehcp-need-mix",
                  source, as_of)


CEASE_REASONS = {1: "reached maximum age", 2: "needs met without a plan",
                 3: "moved on to higher education", 4: "moved on to paid employment",
                 5: "transferred to another LA", 6: "young person no longer engaging",
                 7: "moved outside England", 8: "deceased", 9: "other"}


CEASED = {"plans": ALL}


def ceased_records(plans: pl.DataFrame) -> pl.DataFrame:
    """kpi.ehcp_ceased's records: plans with a cease date, with its calendar year and the
    reason (1-9) as a number."""
    return plans.filter(pl.col("cease_date").is_not_null()).with_columns(
        pl.col("cease_date").dt.year().cast(pl.Int32).alias("year"),
        pl.col("cease_reason").cast(pl.Int32))


def ehcp_ceased(plans: pl.DataFrame, export_date: dt.date, source: str,
                as_of: dt.date) -> pl.DataFrame:
    """Plans whose cease date falls in each complete calendar year, by reason (1-9)."""
    grid = complete_years(export_date).join(
        pl.DataFrame({"cease_reason": list(CEASE_REASONS)}, schema={"cease_reason": pl.Int32}),
        how="cross")
    counts = ceased_records(plans).group_by("year", "cease_reason").agg(counted(CEASED))
    out = (grid.join(counts, on=["year", "cease_reason"], how="left")
           .with_columns(pl.col("plans").fill_null(0),
                         pl.col("cease_reason").replace_strict(CEASE_REASONS)
                         .alias("cease_reason_name"))
           .sort("year", "cease_reason"))
    return _stamp(out.select("year", "cease_reason", "cease_reason_name", "plans"),
                  "ehcp-ceased", source, as_of)
