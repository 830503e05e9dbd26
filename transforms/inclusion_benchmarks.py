"""The DfE's published absence and exclusions by SEN status as kpi.benchmarks figures: the
comparators of kpi.sen_attendance (docs/kpis.md#sen-attendance), for England, the regions and
each LA.

The files (Explore Education Statistics; read by transforms/dfe_statistics.py as kinds
`pupil_absence_by_characteristic` and `exclusions_by_characteristic`, or without the suffix for
a file with no characteristic filter, whose total row gives `all`), as seen in public sources:

- *Pupil absence in schools in England*, absence by pupil characteristics, in three layouts.
  2016-17 to 2022-23: filters `school_type` and `characteristic`, SEN values `SEN - Statement
  or EHCP`, `SEN - SEN support`, `SEN - No SEN` (`6_absence_2term_characteristics.csv`, read by
  dfe-analytical-services/SEND-AP-Inclusion-Dashboard, prep/data_preparation.R at b215e61e);
  the termly files from 2019-20: `education_phase` (before 2024-25 `school_type`),
  `characteristic` (the group, e.g. `SEN primary need`) and `characteristic_breakdown` (its
  value); the full-year file from 2018-19 to 2024-25: `absence_terms`, `education_phase`,
  `breakdown_topic` / `breakdown` (EES data catalogue data sets e2eb493a, 1d929939, 9a01c311).
  Measures `sess_overall_percent` (overall absence rate) and `enrolments_pa_10_exact_percent`
  (persistent absence), unrounded; time identifiers `Autumn term`, `Spring term`, `Autumn
  and spring term`, `Academic year`.
- *Suspensions and permanent exclusions in England*, by characteristic: filters
  `education_phase` (before 2022-23 `school_type`), `characteristic_group` and
  `characteristic` (data set 0768784d, full year, and 99baa7e8, termly; `exc_characteristics.csv`
  in the SEND-AP-Inclusion-Dashboard's data guidance), a newer national file `breakdown_topic`
  / `breakdown` (5ebea1a9). Measures `headcount`, `suspension`, `susp_rate`, `perm_excl`,
  `perm_excl_rate` per 100 of the January census headcount; before 2021 `fixed_excl_rate`
  (fixed period exclusions, renamed suspensions).

Not confirmed: the SEN values' spelling in the newest layouts (no file was seen). Values
seen: `SEN - Statement or EHCP` (absence 2022-23), `SEN_provision_Statement_or_EHCP`,
`SEN_provision_SEN_Support`, `SEN_provision_No_identified_SEN` (absence 2016-17) and
`SEN_provision_SEN_with_statement_EHC`, `SEN_provision_SEN_without_statement`,
`SEN_Provision_No_SEN` (exclusions 2016-17; dfe-analytical-services/explore-education-statistics,
src/DataApi/wwwroot/data/*_natcharacteristics.csv), and the DfE's filter list's
`Education, health and care plan`, `SEN support / SEN without an EHC plan`, `No SEN
provision` (dfe-analytical-services/dfe-published-data-qa, data/sen.csv). So a value is read
by its words (sen_status) inside a SEN provision group, whatever its spelling.
"""

from __future__ import annotations

import polars as pl

# The kinds of file (transforms.dfe_statistics.recognise) and their publication.
PUBLICATIONS = {
    "pupil_absence_by_characteristic": "Pupil absence in schools in England",
    "pupil_absence": "Pupil absence in schools in England",
    "exclusions_by_characteristic": "Suspensions and permanent exclusions in England",
    "exclusions": "Suspensions and permanent exclusions in England"}
KINDS = tuple(PUBLICATIONS)


def _columns(publication: str, *names: str) -> tuple[tuple[str, str], ...]:
    """(kind, column) for each name, the files by characteristic first (the files by
    geography have only the `all` row, which fills a period the first do not have)."""
    return tuple((f"{publication}{by}", n) for n in names for by in ("_by_characteristic", ""))


# kpi.sen_attendance's measure: the DfE's columns for it, in the order tried (a later one
# only fills a period and geography the earlier does not have).
METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "absence_rate_pct": _columns("pupil_absence", "sess_overall_percent"),
    "persistent_absence_pct": _columns("pupil_absence", "enrolments_pa_10_exact_percent"),
    "suspension_rate": _columns("exclusions", "susp_rate", "fixed_excl_rate"),
    "permanent_exclusion_rate": _columns("exclusions", "perm_excl_rate"),
}
# Decimals, as kpi.sen_attendance rounds the LA's own figure (the DfE's files are unrounded).
DECIMALS = {"absence_rate_pct": 1, "persistent_absence_pct": 1, "suspension_rate": 2,
            "permanent_exclusion_rate": 2}
STATUSES = ("ehcp", "sen_support", "no_sen", "all")
# The period a figure is for, by its time identifier, as the measure name's last part.
PERIODS = {"autumn term": "autumn", "spring term": "spring", "summer term": "summer",
           "autumn and spring term": "autumn_spring", "academic year": "full_year"}
TERM_PERIOD = {"autumn": "autumn", "spring": "spring", "summer": "summer"}


def measure_name(metric: str, status: str, period: str) -> str:
    """`absence_rate_pct_ehcp_autumn`: kpi.sen_attendance's column, its sen_status, the period."""
    return f"{metric}_{status}_{period}"


def benchmark_year(academic_year_start: int, period: str) -> int:
    """kpi.benchmarks' `year` for a period of the academic year starting in
    `academic_year_start`: the calendar year the period ends in (transforms.dfe_statistics.tidy's
    year): the autumn term its first year, every other period its second."""
    return academic_year_start + (0 if period == "autumn" else 1)


def measure_rows() -> pl.DataFrame:
    """Every (measure_name, kind, measure, sen_status, period, rank) this module publishes."""
    rows = [(measure_name(metric, status, period), kind, column, status, period, rank)
            for metric, columns in METRICS.items() for rank, (kind, column) in enumerate(columns)
            for status in STATUSES for period in PERIODS.values()]
    return pl.DataFrame(rows, schema={"measure_name": pl.Utf8, "kind": pl.Utf8,
                                      "measure": pl.Utf8, "sen_status": pl.Utf8,
                                      "period": pl.Utf8, "rank": pl.Int32}, orient="row")


def _words(text: pl.Expr) -> pl.Expr:
    """Lower case, underscores as spaces, single spaces: `SEN_provision_SEN_Support` and
    `SEN provision SEN support` read alike."""
    return (text.str.to_lowercase().str.replace_all("_", " ").str.replace_all(r"\s+", " ")
            .str.strip_chars())


def _status_of_value(value: pl.Expr) -> pl.Expr:
    """A SEN provision value's status by its words: no SEN first (`No SEN provision`), then SEN
    support (`SEN support / SEN without an EHC plan`, `SEN without statement`), then EHC plan
    or statement; anything else (`Unclassified`, `Any SEN`) none."""
    return (pl.when(value.str.contains(r"\bno (identified )?sen\b|\bno special educational"))
            .then(pl.lit("no_sen"))
            .when(value.str.contains(r"sen support|without (a |an )?(statement|ehc)"))
            .then(pl.lit("sen_support"))
            .when(value.str.contains(r"ehc|statement|education, health and care"))
            .then(pl.lit("ehcp")))


# A SEN provision group's names, as a topic or a group value (`SEN provision`, `SEN status`).
_SEN_GROUP = r"^sen (provision|status)$"
# The value prefixes of the one-filter layout (`SEN - SEN support`, `SEN_provision_SEN_Support`).
_SEN_PREFIX = r"^(sen provision|sen) (- )?"


def sen_status(topic: pl.Expr, breakdown: pl.Expr) -> pl.Expr:
    """The sen_status (ehcp, sen_support, no_sen; `all` for the headline row) of a tidy row by
    its `breakdown_topic` and `breakdown`, or null when the row is any other breakdown.

    A row counts only when SEN provision is its one breakdown: every other filter (school type
    or phase, another characteristic) at its total, which tidy() shows by leaving it out of the
    topic. `absence_terms` (the full-year file's description of the terms it covers) is the
    one filter allowed beside it; its value is dropped. Layouts: topic `SEN provision` (or
    `SEN status`) with the value as breakdown; `characteristic_group / characteristic` or
    `characteristic / characteristic_breakdown` with `SEN provision / <value>`;
    `characteristic` alone with `SEN - <value>`."""
    t = _words(topic)
    b = _words(breakdown)
    terms = t.str.ends_with(" / absence terms")
    t = pl.when(terms).then(t.str.head(-len(" / absence terms"))).otherwise(t)
    b = pl.when(terms).then(b.str.replace(r" / [^/]*$", "")).otherwise(b)
    grouped = t.is_in(["characteristic group / characteristic",
                       "characteristic / characteristic breakdown"])
    group, value = b.str.extract(r"^([^/]*) / ", 1), b.str.replace(r"^[^/]* / ", "")
    prefixed = b.str.contains(_SEN_PREFIX) & ~b.str.contains(r"^sen (primary|secondary)")
    return (pl.when(t.is_in(["total", "total / absence terms"]) & (b == "total"))
            .then(pl.lit("all"))
            .when(t.str.contains(_SEN_GROUP)).then(_status_of_value(b))
            .when(grouped & group.str.contains(_SEN_GROUP)).then(_status_of_value(value))
            .when((t == "characteristic") & prefixed)
            .then(_status_of_value(b.str.replace(_SEN_PREFIX, ""))))


def inclusion_figures(rows: pl.DataFrame) -> pl.DataFrame:
    """Tidy rows of the absence and exclusions files as kpi.benchmarks figures: each row with
    its `measure_name` (measure_rows), `rank` (the column's place in METRICS) and the value
    rounded as kpi.sen_attendance rounds its own; rows of other breakdowns, geographies'
    non-SEN characteristics and periods not in PERIODS are left out."""
    period = (pl.col("time_identifier").str.strip_chars().str.to_lowercase()
              .replace_strict(PERIODS, default=None))
    keyed = rows.filter(pl.col("kind").is_in(list(KINDS))).with_columns(
        period.alias("period"), sen_status(pl.col("breakdown_topic").fill_null("Total"),
                                           pl.col("breakdown").fill_null("Total"))
        .alias("sen_status"))
    out = keyed.join(measure_rows(), on=["kind", "measure", "sen_status", "period"],
                     how="inner")
    decimals = pl.col("measure_name").str.extract(r"^(" + "|".join(METRICS) + ")", 1)
    return out.with_columns(
        pl.coalesce([pl.when(decimals == m).then(pl.col("value").round(d))
                     for m, d in DECIMALS.items()]).alias("value")).drop("sen_status", "period")
