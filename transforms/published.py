"""DfE "Explore Education Statistics" (EES) CSVs as one tidy long table.

Any EES file has the standard filter columns (time, geography, breakdown) and then one column per
measure. Every column other than the standard ones is read as a measure whose cells are a number,
a symbol (`x`, `c`, ...) or blank, because measures vary by release and a generic EES file does
not say which of its columns are indicators without its `.meta.csv`. A file with filter columns of
its own (e.g. the pre-2025 `age`, `ehcp_or_statement`) therefore fails the measure check loudly.

Release drift absorbed here: header case (`PC_` vs `pc_`), column order (headers are matched by
name), quoted empty strings, and January caseload labelled `202425, Academic year` (2025 release)
or `2025, Calendar year` (2022 release): both are year 2025. The byte order mark is stripped by
`transforms.readers.read_raw`.
"""

from __future__ import annotations

from collections.abc import Iterable

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
                "measure", "value", "symbol", "reason", "row_number")


def _key(name: str) -> str:
    return name.strip().lstrip("\ufeff").lower()


def is_ees(columns: Iterable[str]) -> bool:
    return set(REQUIRED) <= {_key(c) for c in columns}


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
    for kind, markers in (
        ("ehcp_caseload", ("ehcplans",)),
        ("ehcp_requests", ("requests_received_in_year",)),
        ("ehcp_assessments", ("assess_issued", "assess_in_year")),
        ("ehcp_timeliness", ("plans_issued_den", "plans_issued_within_20_weeks")),
        ("ehcp_new_plans", ("new_ehc_plans",)),
        ("ehcp_ceased", ("total_ceased",)),
    ):
        if cols & set(markers):
            return kind
    return "other"


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


def _spans_two_years(identifier: pl.Expr) -> pl.Expr:
    i = identifier.str.strip_chars().str.to_lowercase()
    return (i.str.starts_with("academic year") | i.str.starts_with("financial year")
            | i.str.starts_with("tax year") | i.str.ends_with("term"))


def published_schema(columns: list[str]) -> pa.DataFrameSchema:
    """Checks for one EES file with these headers; every non-standard column is a measure.

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
        if key in FILTER_COLUMNS:
            schema[name] = pa.Column(pl.Utf8, nullable=key not in REQUIRED,
                                     checks=checks.get(key, []))
        else:
            schema[name] = pa.Column(pl.Utf8, nullable=True, checks=[expr_check(
                f"is a number, a symbol ({' '.join(SYMBOLS)}) or blank", _measure)])
    period, ident = by_key.get("time_period"), by_key.get("time_identifier")
    frame_checks = [] if period is None or ident is None else [row_rule(
        period, "has 6 digits for academic, financial and tax years and terms, 4 otherwise",
        (pl.col(period).str.strip_chars().str.len_chars() == 6) == _spans_two_years(
            pl.col(ident)))]
    return pa.DataFrameSchema(schema, checks=frame_checks, name="published", strict=False)


def tidy(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Validated EES text rows (with `row_number`) as one row a (row, measure).

    `year` is the calendar year a figure is for: a four-digit period is that year; a six-digit
    one (202425) is its second year, the January of the academic year, so a January caseload
    is 2025 whether labelled `202425, Academic year` or `2025, Calendar year`. Financial and tax
    years and the autumn term take the first year instead (`202425, Financial year` is 2024:
    April 2024 to March 2025). `value` is null for symbols and blanks, and `reason` says why.
    """
    renames = {c: _key(c) for c in frame.columns if _key(c) in FILTER_COLUMNS}
    measures = [c for c in frame.columns if c not in renames and c != "row_number"]
    text = frame.rename(renames).with_columns(
        pl.col(list(renames.values())).str.strip_chars().replace("", None))
    index = [*renames.values(), "row_number"]
    long = text.unpivot(on=measures, index=index, variable_name="measure", value_name="cell")
    missing = [pl.lit(None, pl.Utf8).alias(c) for c in KEPT if c not in renames.values()]
    cell = pl.col("cell").str.strip_chars()
    symbol = cell.str.to_lowercase().is_in(list(SYMBOLS))
    start = pl.col("time_period").str.slice(0, 4).cast(pl.Int32)
    two_years = pl.col("time_period").str.len_chars() == 6
    later = ~pl.col("time_identifier").str.to_lowercase().str.contains(
        "^(financial year|tax year|autumn term)")
    return long.with_columns(missing).with_columns(
        pl.lit(kind).alias("kind"),
        pl.when(two_years & later).then(start + 1).otherwise(start).alias("year"),
        pl.col("measure").str.strip_chars().str.to_lowercase(),
        pl.when(symbol).then(None).otherwise(cell.cast(pl.Float64, strict=False)).alias("value"),
        pl.when(symbol).then(cell).alias("symbol"),
        pl.when(symbol).then(cell.str.to_lowercase().replace_strict(SYMBOLS, default=None))
        .when(cell.is_null() | (cell == "")).then(pl.lit("blank")).alias("reason"),
    ).select(TIDY_COLUMNS)
