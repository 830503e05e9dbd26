"""The SEND Tribunal appeal rate by local authority, as the DfE's EHC plans release publishes it
beside its data (the 2026 release's `supporting-files/SEND appealable decisions rate
2024-2025.csv`): rows an EES file would have, so that it is validated, staged and benchmarked
as one.

The file is a spreadsheet saved as CSV, not an EES file (its layout:
`../shared/external/dfe-ehcp-2026-headers.txt`): title and source rows, then a row of years
(`,,2024,,,2025,,`: each year over the columns up to the next), a row of headers (`,Old LA
code,Appeals registered,Total Appealable Decisions,SEND Tribunal Appeal Rate2,...`: a footnote
number may trail a name), region headings in capitals with no figures (`NORTH EAST,,,,`), and a
row a local authority by name and old LA code (`Darlington,841,8,700,1.10%,...`). Appeals are
those His Majesty's Courts and Tribunals Service registered in the calendar year; appealable
decisions are the DfE's count from SEN2 for the same year; the rate is one over the other.

Each LA row becomes a `Local authority` row with its new code and region from the DfE's list of
LAs (`las`: old_la_code, new_la_code, la_name, region_code, region_name); a row with figures
named England (or Total) is the `National` row, and a region's own row with figures its
`Regional` row. Where the file has no figures of its own for England or a region, they are
the sums of its LA rows and the rate worked out from them, as the DfE works out each LA's
(withheld, `x`, where an LA's figure is; none when a row could not be placed: no partial
sum passes for England's). A row that
cannot be placed (an old LA code not in the list, or figures under a name that is neither an
LA, a region nor England) is a problem row, in the reader's quarantine layout, never dropped.
"""

from __future__ import annotations

import re

import polars as pl

KIND_COLUMNS = ("appeals_registered", "appealable_decisions", "appeal_rate_pct")
_CODE = re.compile(r"^\d{3}$")
_YEAR = re.compile(r"^(19|20)\d{2}$")
HEAD_LINES = 40  # the title, sources, years and header come within the first dozen
_NATIONAL = ("england", "england total", "total", "total england")
EES_COLUMNS = ("time_period", "time_identifier", "geographic_level", "country_code",
               "country_name", "region_code", "region_name", "new_la_code", "old_la_code",
               "la_name")


def _cells(frame: pl.DataFrame) -> list[tuple[int, list[str]]]:
    """Every line of the file as (spreadsheet row number, stripped cells); the reader took the
    first line for a header, so it comes back as row 1."""
    names = [c for c in frame.columns if c != "row_number"]
    first = [("" if n.startswith("(unnamed column ") else n).strip() for n in names]
    rows = [(1, first)]
    for record in frame.select(*names, "row_number").iter_rows():
        rows.append((record[-1], [(v or "").strip() for v in record[:-1]]))
    return rows


def _header_at(rows: list[tuple[int, list[str]]]) -> int | None:
    return next((i for i, (_, cells) in enumerate(rows)
                 if any(c.lower() == "old la code" for c in cells)), None)


def opens_like_the_table(head: str) -> bool:
    """Whether a file's opening text (its first few kB) names the appeal rate and has an
    `Old LA code` header: enough to keep it from a release zip (warehouse/release_fetch.py),
    which is_appeal_rate_table then checks row by row when it is loaded."""
    text = head.lower()
    return "appeal rate" in text and "old la code" in text


def is_appeal_rate_table(frame: pl.DataFrame) -> bool:
    """Whether a file the reader could not take for an EES file is this table: a header row
    with `Old LA code` and an appeal rate column, under a title naming the appeal rate.
    Only the opening lines are looked at: any other file a folder holds may be large."""
    rows = _cells(frame.head(HEAD_LINES))
    at = _header_at(rows)
    if at is None:
        return False
    title = " ".join(" ".join(cells) for _, cells in rows[:at]).lower()
    header = " ".join(rows[at][1]).lower()
    return "appeal rate" in title and "appeal rate" in header


def _measure(header: str) -> str | None:
    name = re.sub(r"\d+$", "", header).strip().lower()  # `Appeal Rate2`: a footnote mark
    if "rate" in name:
        return "appeal_rate_pct"
    if "decision" in name:
        return "appealable_decisions"
    if "appeal" in name:
        return "appeals_registered"
    return None


def _columns(years: list[str], header: list[str]) -> dict[int, tuple[str, str]]:
    """{column index: (year, measure)}: each year heads the columns up to the next year."""
    out, year = {}, None
    for i, name in enumerate(header):
        if i < len(years) and _YEAR.match(years[i]):
            year = years[i]
        measure = _measure(name) if i > 1 else None
        if measure and year:
            out[i] = (year, measure)
    return out


def _figure(cell: str) -> str:
    # `1.10%`: the rate in percent, as the DfE's `_pc` columns give it.
    return cell[:-1].strip() if cell.endswith("%") else cell


def _problem(row: int, column: str, rule: str, value: str) -> dict:
    return {"row_number": row, "column_name": column, "rule": rule, "value_masked": value}


def as_ees(frame: pl.DataFrame, las: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The table (the reader's text rows) as EES text rows, one a geography and year with
    `appeals_registered`, `appealable_decisions` and `appeal_rate_pct` (plus `row_number`,
    the file's row), and the rows that could not be placed (PROBLEM_SCHEMA layout).

    Raises ValueError when the header row names no year or measure it can read."""
    rows = _cells(frame)
    at = _header_at(rows)
    years = next((cells for _, cells in reversed(rows[:at])
                  if any(_YEAR.match(c) for c in cells)), [])
    columns = _columns(years, rows[at][1])
    if not columns:
        raise ValueError("has an `Old LA code` header but no year and appeals, appealable "
                         "decisions or appeal rate columns under it")
    by_code = {r["old_la_code"]: r for r in las.iter_rows(named=True)}
    regions = {r["region_name"].lower(): r for r in las.iter_rows(named=True)}
    records, problems = [], []
    for row, cells in rows[at + 1:]:
        name, code = (cells + ["", ""])[:2]
        figures = {i: _figure(cells[i]) for i in columns if i < len(cells) and cells[i]}
        place = None
        if _CODE.match(code):
            la = by_code.get(code)
            if la is None:
                problems.append(_problem(row, "Old LA code", "is an old LA code in the DfE's "
                                         "list of local authorities", code))
                continue
            place = {"geographic_level": "Local authority", "region_code": la["region_code"],
                     "region_name": la["region_name"], "new_la_code": la["new_la_code"],
                     "old_la_code": code, "la_name": la["la_name"]}
        elif not figures:
            continue  # a region heading, a note or a blank line
        elif name.lower() in _NATIONAL:
            place = {"geographic_level": "National"}
        elif name.lower() in regions:
            region = regions[name.lower()]
            place = {"geographic_level": "Regional", "region_code": region["region_code"],
                     "region_name": region["region_name"]}
        else:
            problems.append(_problem(row, "Old LA code", "has figures under a local authority "
                                     "(with its old LA code), a region or England", name))
            continue
        for year in dict.fromkeys(y for y, _ in columns.values()):
            cells_of_year = {m: figures.get(i, "") for i, (y, m) in columns.items() if y == year}
            records.append({**place, "time_period": year, "row_number": row, **cells_of_year})
    schema = {c: pl.Utf8 for c in (*EES_COLUMNS, *KIND_COLUMNS)} | {"row_number": pl.Int64}
    out = pl.DataFrame(records, schema=schema).with_columns(
        pl.lit("Calendar year").alias("time_identifier"),
        pl.lit("E92000001").alias("country_code"), pl.lit("England").alias("country_name"))
    # Sums only over a file whose every row was placed: without a quarantined LA's figures
    # they would pass for England's.
    out = out if problems else pl.concat([out, _summed(out)])
    problem_schema = {"row_number": pl.Int64, "column_name": pl.Utf8, "rule": pl.Utf8,
                      "value_masked": pl.Utf8}
    return (out.select(*EES_COLUMNS, *KIND_COLUMNS, "row_number"),
            pl.DataFrame(problems, schema=problem_schema))


def _summed(rows: pl.DataFrame) -> pl.DataFrame:
    """England's and each region's rows the file does not give, from its LA rows: summed
    where every LA has a number, the rate as appeals over decisions (2 dp, as published)."""
    las = rows.filter(pl.col("geographic_level") == "Local authority")
    counts = ["appeals_registered", "appealable_decisions"]
    number = r"^\d+(\.\d+)?$"

    def total(keys: list[str], level: str) -> pl.DataFrame:
        given = rows.filter(pl.col("geographic_level") == level).select(*keys, "time_period")
        summed = las.group_by(*keys, "time_period").agg(
            *(pl.when(pl.col(c).str.contains(number).all())
              .then(pl.col(c).cast(pl.Float64, strict=False).sum()).alias(c) for c in counts))
        rate = (pl.when(pl.col("appealable_decisions") > 0)
                .then((100 * pl.col("appeals_registered") / pl.col("appealable_decisions"))
                      .round(2)))
        return summed.join(given, on=[*keys, "time_period"], how="anti").with_columns(
            rate.alias("appeal_rate_pct")).with_columns(
            pl.col(*counts, "appeal_rate_pct").cast(pl.Utf8).fill_null("x"),
            pl.lit(level).alias("geographic_level"))

    extra = pl.concat([total([], "National"), total(["region_code", "region_name"], "Regional")],
                      how="diagonal")
    if extra.height == 0:
        return rows.clear()
    return extra.with_columns(
        pl.col(*counts).str.replace(r"\.0$", ""),
        *(pl.lit(None, pl.Utf8).alias(c) for c in ("new_la_code", "old_la_code", "la_name")
          if c not in extra.columns),
        pl.lit("Calendar year").alias("time_identifier"),
        pl.lit("E92000001").alias("country_code"), pl.lit("England").alias("country_name"),
        pl.lit(None, pl.Int64).alias("row_number")).select(rows.columns)
