"""DfE "Explore Education Statistics" (EES) CSVs as one tidy long table.

Any EES file has the standard filter columns (time, geography, breakdown) and then one column per
measure. The EHC plans release has had four layouts, all read here by their headers (never their
file names):

- pre-2023 (the 2022 release, `../shared/external/dfe-ehcp-2022-guidance.txt`): wide files with
  filters of their own (`characteristic_age`, `establishment_type`, `establishment_group`),
  statements and EHC plans side by side (`Total_st`, `Total_ehc`, `Total_all`) and January
  labelled `2022, Calendar year`; `sen2_mi.csv` holds requests, timeliness and discontinued plans;
- 2023-2024 (`sen2_age_caseload.csv`, `sen2_mi.csv`, ... with snake-case measures): filters
  `age`, `ehcp_or_statement`, `establishment_type`, `weeks`;
- 2025 (`caseload.csv`, `requests.csv`, ...): `breakdown_topic` / `breakdown`, January labelled
  `202425, Academic year`;
- 2026: the 2025 files with new columns (`special_academy`, `special_free_school`, ...) and new
  files (annual reviews, phase transfers, personal budgets, residential and work-based
  placements).

The *Pupil absence* and *Suspensions and permanent exclusions* releases' files are read the same
way (kinds `pupil_absence[_by_characteristic]` and `exclusions[_by_characteristic]`; their
layouts, with sources, in transforms/inclusion_benchmarks.py).

Filter columns are breakdowns, never measures: a file's own filters become `breakdown_topic` and
`breakdown` (the filters that are not "Total", joined by " / "; "Total" when all are), so every
file has one headline row per geography and year. Every other column is a measure whose cells are
a number, a symbol (`x`, `c`, ...) or blank, except the designated medical / clinical officer
columns, whose answers are text (Yes, No, Recruiting) and are kept in `text`.

Release drift absorbed here: header case (`PC_` vs `pc_`), column order (headers are matched by
name), quoted empty strings, padded cells, and January caseload labelled `202425, Academic year`
(2025 release) or `2025, Calendar year` (2022 release): both are year 2025. The byte order mark is
stripped by `transforms.readers.read_raw`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import pandera.polars as pa
import polars as pl

from schemas.checks import expr_check, row_rule

FILTER_COLUMNS = (
    "time_period", "time_identifier", "geographic_level",
    "country_code", "country_name", "region_code", "region_name",
    "new_la_code", "old_la_code", "la_name",
    "lad_code", "lad_name", "pcon_code", "pcon_name", "ward_code", "ward_name",
    "lep_code", "lep_name", "lsip_code", "lsip_name", "mcr_code", "mcr_name",
    "english_devolved_area_code", "english_devolved_area_name",
    "opportunity_area_code", "opportunity_area_name", "rsc_region_lead_name",
    "pa_code", "pa_name", "trust_id", "trust_name", "sponsor_id", "sponsor_name",
    "school_urn", "school_laestab", "school_name", "provider_ukprn", "provider_name",
    "institution_id", "institution_name",
    "breakdown_topic", "breakdown",
)
# The files' own breakdown filters ("Filter by ..." in the data guidance of the 2022 and 2024
# releases; `weeks` is the residential files' 38-51 / 52 weeks, whose "52" would otherwise pass
# for a number). In this order they become `breakdown_topic` / `breakdown`. The absence and
# exclusions releases' filters follow (transforms/inclusion_benchmarks.py cites their files):
# a characteristic's group before its value (`characteristic_group` / `characteristic` in the
# exclusions files, `characteristic` / `characteristic_breakdown` in the termly absence files),
# then the school type (`school_type`, newer `education_phase`) and the full-year absence
# file's `absence_terms`.
BREAKDOWN_FILTERS = ("characteristic_age", "age", "ehcp_or_statement", "establishment_type",
                     "establishment_group", "weeks", "characteristic_group", "characteristic",
                     "characteristic_breakdown", "school_type", "education_phase",
                     "absence_terms")
# Designated medical / clinical officer in place: answers, not numbers.
TEXT_MEASURES = ("dmo", "dco", "dmodcofunction", "des_med_off", "des_clin_off",
                 "des_so_care_off")
TEXT_ANSWERS = ("yes", "no", "recruiting", "y", "n", "r")
REQUIRED = ("time_period", "time_identifier", "geographic_level")
# The geography and breakdown columns tidy() keeps; the rest of FILTER_COLUMNS are accepted but
# not carried into the long table (no EHC plans file publishes below local authority level).
KEPT = ("country_code", "region_code", "region_name", "new_la_code", "old_la_code", "la_name",
        "breakdown_topic", "breakdown")

SYMBOLS: dict[str, str] = {
    "x": "unavailable",
    "z": "not applicable",
    "c": "confidential",
    "low": "rounds to zero",
    ":": "not available",
    "~": "rounds to zero",
}

TIME_IDENTIFIERS = (
    "Academic year", "Calendar year", "Financial year", "Tax year", "Reporting year",
    *(f"{y} Q{q}" for y in ("Academic year", "Calendar year", "Financial year", "Tax year")
      for q in (1, 2, 3, 4)),
    "Autumn term", "Spring term", "Summer term", "Autumn and spring term",
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
    *(f"Week {w}" for w in range(1, 53)),
)
GEOGRAPHIC_LEVELS = (
    "National", "Regional", "Local authority", "Local authority district",
    "Parliamentary constituency", "Ward", "Local enterprise partnership",
    "Local skills improvement plan area", "Mayoral combined authority", "English devolved area",
    "Opportunity area", "RSC region", "Planning area", "MAT", "Sponsor", "School", "Provider",
    "Institution",
)

NUMBER = r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"
TIDY_COLUMNS = ("kind", "time_period", "time_identifier", "year", "geographic_level", *KEPT,
                "measure", "value", "symbol", "reason", "text", "row_number")


def _key(name: str) -> str:
    return name.strip().lstrip("\ufeff").lower()


def is_ees(columns: Iterable[str]) -> bool:
    return set(REQUIRED) <= {_key(c) for c in columns}


def csv_header(path: Path) -> list[str]:
    """A CSV's column names from its first line alone (a release's files are tens of MB; the
    kind of file is in its header)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        return next(csv.reader([f.readline()]), [])


def _any(*names: str) -> Callable[[set[str]], bool]:
    return lambda cols: bool(cols & set(names))


def _both(first: Callable[[set[str]], bool], second: Callable[[set[str]], bool]
          ) -> Callable[[set[str]], bool]:
    return lambda cols: first(cols) and second(cols)


_CASELOAD_COUNT = _any("total_all", "num_caseload")
_NEW_PLANS_COUNT = _any("total_new_all", "num_new_plans")
_AGE = _any("characteristic_age", "age")
_ABSENCE = _any("sess_overall_percent", "enrolments_pa_10_exact_percent")
_EXCLUSIONS = _any("perm_excl_rate", "susp_rate", "fixed_excl_rate")
_CHARACTERISTIC = _any("characteristic", "characteristic_group", "characteristic_breakdown",
                       "breakdown_topic")
# Kinds by the measures (and filters) their headers carry, most specific first. Names follow
# the 2025 release; the pre-2025 files that split a statistic by a filter carry it in the kind.
KINDS: tuple[tuple[str, Callable[[set[str]], bool]], ...] = (
    # 2023 onwards
    ("ehcp_caseload", _any("ehcplans")),
    ("ehcp_requests", _any("requests_received_in_year")),
    ("ehcp_assessments", _any("assess_issued", "assess_in_year")),
    ("ehcp_timeliness", _any("plans_issued_den", "plans_issued_within_20_weeks")),
    ("ehcp_new_plans", _any("new_ehc_plans")),
    ("ehcp_ceased", _any("total_ceased")),
    ("ehcp_annual_reviews", _any("outcome_maintained", "decision_4_weeks")),
    ("ehcp_phase_transfers", _any("number_plans")),
    ("ehcp_personal_budgets", _any("personal_budget")),
    ("ehcp_residential", _any("res_tot")),
    ("ehcp_work_based_placements", _any("open_wbp")),
    # the supporting SEND Tribunal appeal rate table, as transforms/appeal_rates.py reads it
    ("ehcp_appeal_rate", _any("appealable_decisions")),
    # the pre-2023 wide files and the 2023-2024 sen2_* files
    ("ehcp_caseload_by_establishment", _both(_CASELOAD_COUNT, _any("establishment_type"))),
    ("ehcp_caseload_by_age", _both(_CASELOAD_COUNT, _AGE)),
    ("ehcp_caseload_by_characteristics", _both(_CASELOAD_COUNT, _any("breakdown"))),
    ("ehcp_new_plans_by_establishment", _both(_NEW_PLANS_COUNT, _any("establishment_type"))),
    ("ehcp_new_plans_by_age", _both(_NEW_PLANS_COUNT, _AGE)),
    ("ehcp_new_plans_by_characteristics", _both(_NEW_PLANS_COUNT, _any("breakdown"))),
    ("ehcp_sen2_mi", _any("inreqehc", "inreq_ehc", "newallehc", "new_all_ehc")),
    ("ehcp_workbased_residential_dmo", _any("workbasedehc", "totmres38weekehc")),
    ("ehcp_residential_statements", _any("num_children_yp")),
    ("ehcp_dmo_dco", _any(*TEXT_MEASURES)),
    # *Pupil absence in schools in England* and *Suspensions and permanent exclusions in
    # England*, any term or year: the files by pupil characteristic apart from the others (by
    # geography, school type...), so that loading one never replaces the other's rows.
    ("pupil_absence_by_characteristic", _both(_ABSENCE, _CHARACTERISTIC)),
    ("pupil_absence", _ABSENCE),
    ("exclusions_by_characteristic", _both(_EXCLUSIONS, _CHARACTERISTIC)),
    ("exclusions", _EXCLUSIONS),
)
# Kinds whose rows are January snapshots although labelled "Calendar year" (the 2022 style);
# files labelled "Academic year" say so themselves. Used to tell a file's release (release_of).
JANUARY_KINDS = frozenset({
    "ehcp_caseload", "ehcp_needs_all_plans", "ehcp_caseload_by_establishment",
    "ehcp_caseload_by_age", "ehcp_caseload_by_characteristics", "ehcp_workbased_residential_dmo",
    "ehcp_residential_statements", "ehcp_dmo_dco"})


def recognise(columns: list[str], time_identifiers: set[str],
              breakdown_topics: set[str] | None = None) -> str:
    """The kind of EHC plans file from its headers (never its name), else `other`.

    The two primary-need files have the same headers. A file is all plans (the January
    snapshot) when it is labelled "Academic year" or has a "Years EHC plan in place" breakdown
    (a new plan has no tenure), and new plans when it is labelled only "Calendar year" without
    that breakdown. Limit: a January snapshot labelled "Calendar year" (2022 style) that has
    been filtered to drop the tenure breakdown, or that was read without `breakdown_topics`,
    is taken for new plans; the 2025 release is the first with needs files, so this cannot be
    checked against an older one.
    """
    cols = {_key(c) for c in columns}
    idents = {t.strip().lower() for t in time_identifiers if t}
    topics = {t.strip().lower() for t in breakdown_topics or set() if t}
    if "ehc_plans" in cols and "number_asd" in cols:
        tenure = any("years" in t and "plan" in t for t in topics)
        if "academic year" in idents or tenure:
            return "ehcp_needs_all_plans"
        return "ehcp_needs_new_plans" if idents == {"calendar year"} else "other"
    return next((kind for kind, fits in KINDS if fits(cols)), "other")


def release_of(tidy_rows: pl.DataFrame) -> int | None:
    """The reporting year of the release a tidy file belongs to, from its figures: the latest
    January it has (snapshots), or the year after its latest calendar year (a release counts
    the previous calendar year's activity: requests in 2024 are in the 2025 release).

    A file cut down to earlier years reads as an earlier release: it then ranks below the
    release it was cut from, never above it.
    """
    if tidy_rows.height == 0:
        return None
    periods = tidy_rows.select("kind", "year", "time_identifier").unique()
    ident = pl.col("time_identifier").str.to_lowercase()
    january = (pl.col("kind").is_in(list(JANUARY_KINDS)) | ident.str.starts_with("academic year")
               | ident.str.ends_with("term"))
    return int(periods.select((pl.col("year") + pl.when(january).then(0).otherwise(1)).max())
               .item())


def _blank(c: str) -> pl.Expr:
    # Quoted empty strings arrive as "" rather than null; they are blanks all the same.
    return pl.col(c).str.strip_chars() == ""


def _pattern(pattern: str, what: str) -> pa.Check:
    return expr_check(f"is {what}", lambda c: pl.col(c).str.contains(pattern) | _blank(c))


def _listed(values: tuple[str, ...], what: str) -> pa.Check:
    allowed = [v.lower() for v in values]
    return expr_check(f"is {what} ({', '.join(values[:4])}...)",
                      lambda c: pl.col(c).str.strip_chars().str.to_lowercase().is_in(allowed))


def _time_period(c: str) -> pl.Expr:
    # A six-digit period is two consecutive years (202425), including the century turn (199900).
    t = pl.col(c).str.strip_chars()
    first = t.str.slice(2, 2).cast(pl.Int32, strict=False)
    second = t.str.slice(4, 2).cast(pl.Int32, strict=False)
    return t.str.contains(r"^\d{4}$") | (t.str.contains(r"^\d{6}$") & ((first + 1) % 100 == second))


def _measure(c: str) -> pl.Expr:
    t = pl.col(c).str.strip_chars()
    return t.str.contains(NUMBER) | t.str.to_lowercase().is_in(list(SYMBOLS)) | (t == "")


def _answer(c: str) -> pl.Expr:
    t = pl.col(c).str.strip_chars().str.to_lowercase()
    return t.is_in([*TEXT_ANSWERS, *SYMBOLS]) | (t == "")


def _spans_two_years(identifier: pl.Expr) -> pl.Expr:
    i = identifier.str.strip_chars().str.to_lowercase()
    return (i.str.starts_with("academic year") | i.str.starts_with("financial year")
            | i.str.starts_with("tax year") | i.str.ends_with("term"))


def ees_schema(columns: list[str]) -> pa.DataFrameSchema:
    """Checks for one EES file with these headers; every column that is not a standard one
    or a known breakdown filter is a measure.

    Blanks (null or quoted empty) pass every check except on the three required columns.
    """
    checks = {
        "time_period": [expr_check("is a year (2025) or two consecutive years (202425)",
                                   _time_period)],
        "time_identifier": [_listed(TIME_IDENTIFIERS, "an EES time identifier")],
        "geographic_level": [_listed(GEOGRAPHIC_LEVELS, "an EES geographic level")],
        "country_code": [_pattern(r"^[EKNSW]\d{8}$", "a country code (E92000001)")],
        "region_code": [_pattern(r"^E1[23]\d{6}$", "a region code (E12000009)")],
        "new_la_code": [_pattern(r"^E\d{8}$", "a 9-character LA code (E06000054)")],
        "old_la_code": [_pattern(r"^\d{3}$", "a 3-digit LA number (865)")],
    }
    # `row_number` is the reader's, not the file's.
    by_key = {_key(c): c for c in columns if c != "row_number"}
    schema: dict[str, pa.Column] = {
        name: pa.Column(pl.Utf8, nullable=False, checks=checks[name])
        for name in REQUIRED if name not in by_key}
    for key, name in by_key.items():
        if key in FILTER_COLUMNS or key in BREAKDOWN_FILTERS:
            schema[name] = pa.Column(pl.Utf8, nullable=key not in REQUIRED,
                                     checks=checks.get(key, []))
        elif key in TEXT_MEASURES:
            schema[name] = pa.Column(pl.Utf8, nullable=True, checks=[expr_check(
                "is Yes, No or Recruiting (Y/N/R), a symbol or blank", _answer)])
        else:
            schema[name] = pa.Column(pl.Utf8, nullable=True, checks=[expr_check(
                f"is a number, a symbol ({' '.join(SYMBOLS)}) or blank", _measure)])
    period, ident = by_key.get("time_period"), by_key.get("time_identifier")
    frame_checks = [] if period is None or ident is None else [row_rule(
        period, "has 6 digits for academic, financial and tax years and terms, 4 otherwise",
        (pl.col(period).str.strip_chars().str.len_chars() == 6) == _spans_two_years(
            pl.col(ident)))]
    return pa.DataFrameSchema(schema, checks=frame_checks, name="published", strict=False)


def _breakdowns(filters: list[str], has_standard: bool) -> list[pl.Expr]:
    """`breakdown_topic` and `breakdown` from a file's own filters: the filters whose value is
    not "Total" (nor blank), by name and by value, joined by " / " after any standard
    breakdown; "Total" for both when every filter is its total (the headline row)."""
    def part(f: str, what: pl.Expr) -> pl.Expr:
        total = pl.col(f).is_null() | (pl.col(f).str.to_lowercase() == "total")
        return pl.when(total).then(None).otherwise(what)

    out = []
    for column, what in (("breakdown_topic", pl.lit), ("breakdown", pl.col)):
        parts = ([pl.col(column)] if has_standard else []) + [part(f, what(f)) for f in filters]
        joined = pl.concat_str(parts, separator=" / ", ignore_nulls=True)
        out.append(pl.when(joined.is_null() | (joined == "")).then(pl.lit("Total"))
                   .otherwise(joined).alias(column))
    return out


def tidy(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Validated EES text rows (with `row_number`) as one row a (row, measure).

    `year` is the calendar year a figure is for: a four-digit period is that year; a six-digit
    one (202425) is its second year, the January of the academic year, so a January caseload
    is 2025 whether labelled `202425, Academic year` or `2025, Calendar year`. Financial and tax
    years and the autumn term take the first year instead (`202425, Financial year` is 2024:
    April 2024 to March 2025). `value` is null for symbols, blanks and text answers, and
    `reason` says why; a text answer (Yes, No, Recruiting) is in `text`.
    """
    renames = {c: _key(c) for c in frame.columns
               if _key(c) in FILTER_COLUMNS or _key(c) in BREAKDOWN_FILTERS}
    measures = [c for c in frame.columns if c not in renames and c != "row_number"]
    text = frame.rename(renames).with_columns(
        pl.col(list(renames.values())).str.strip_chars().replace("", None))
    # In a fixed order, not the file's: the 2022 guidance lists establishment_group first, its
    # files have establishment_type first, and a breakdown must read the same either way.
    filters = [c for c in BREAKDOWN_FILTERS if c in renames.values()]
    if filters:
        text = text.with_columns(_breakdowns(filters, "breakdown_topic" in renames.values()))
    index = [c for c in text.columns if c not in measures and c not in filters]
    long = text.unpivot(on=measures, index=index, variable_name="measure", value_name="cell")
    missing = [pl.lit(None, pl.Utf8).alias(c) for c in KEPT if c not in long.columns]
    cell = pl.col("cell").str.strip_chars()
    lowered = cell.str.to_lowercase()
    symbol = lowered.is_in(list(SYMBOLS))
    answer = pl.col("measure").is_in(list(TEXT_MEASURES)) & ~symbol & (cell != "")
    start = pl.col("time_period").str.slice(0, 4).cast(pl.Int32)
    two_years = pl.col("time_period").str.len_chars() == 6
    later = ~pl.col("time_identifier").str.to_lowercase().str.contains(
        "^(financial year|tax year|autumn term)")
    return long.with_columns(missing).with_columns(
        pl.col("measure").str.strip_chars().str.to_lowercase(),
    ).with_columns(
        pl.lit(kind).alias("kind"),
        pl.when(two_years & later).then(start + 1).otherwise(start).alias("year"),
        pl.when(symbol | answer).then(None).otherwise(cell.cast(pl.Float64, strict=False))
        .alias("value"),
        pl.when(symbol).then(cell).alias("symbol"),
        pl.when(symbol).then(lowered.replace_strict(SYMBOLS, default=None))
        .when(answer).then(pl.lit("text answer"))
        .when(cell.is_null() | (cell == "")).then(pl.lit("blank")).alias("reason"),
        pl.when(answer).then(cell).alias("text"),
    ).select(TIDY_COLUMNS)
