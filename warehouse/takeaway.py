"""Tables to take away: the published tables as files an analyst opens without a database.

After each publish: `reports/sendboard-<as of>.xlsx`, a sheet per `public.*` table plus
"definitions" (each table's docs/kpis.md anchor and the first paragraph of its section) and
"sources" (what each table was computed from, and the files loaded); the same public tables
as CSV and Parquet under `reports/tables/<as of>/`; and `sendboard-<as of>-internal-kpi.xlsx`,
the exact `kpi.*` tables, for use inside the LA only. Every number is read from the
published database; nothing personal is in it (the published database holds none, and the
sources sheet lists files by name, source, period and SHA-256 prefix only).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

EXCEL_MAX_ROWS = 1_048_575  # below the header row
SHEET_NAME_LIMIT = 31
DEFINITIONS, SOURCES = "definitions", "sources"
LOCAL_TIME = "Europe/London"
# Integer columns that are codes or years: "2025" and "100234", not "2,025" and "100,234".
_CODE_LIKE = re.compile(r"(^|_)(year|urn|ukprn|laestab|id|code)$")
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


def public_workbook_name(as_of: dt.date | None) -> str:
    return f"sendboard-{as_of or 'undated'}.xlsx"


def internal_workbook_name(as_of: dt.date | None) -> str:
    return f"sendboard-{as_of or 'undated'}-internal-kpi.xlsx"


def write_takeaway(published: Path, reports: Path, kpi_doc: Path,
                   workbooks: bool = True) -> list[Path]:
    """The public and internal workbooks and the public tables as CSV and Parquet, from the
    published database `published`, into `reports`; `kpi_doc` is docs/kpis.md
    (Settings.kpi_doc). Returns the files written, the public workbook first.

    `workbooks=False` writes only the CSV and Parquet files: what every run does, since
    nationally the two workbooks take seconds of pure-Python XLSX writing (xlsxwriter, about
    7 microseconds a cell) that the run cannot spare; `sendboard report --tables` writes
    them."""
    sections = kpi_sections(kpi_doc)
    con = duckdb.connect(str(published), read_only=True)
    try:
        as_of = _published_as_of(con)
        files = con.sql(
            "SELECT original_name AS name, source, period, left(sha256, 12) AS sha256_prefix, "
            "rows_loaded FROM audit.files WHERE status = 'loaded' ORDER BY source, period, name"
        ).pl()
        tables = {schema: _tables(con, schema) for schema in ("public", "kpi")}
    finally:
        con.close()
    reports.mkdir(parents=True, exist_ok=True)
    folder = reports / "tables" / str(as_of or "undated")
    if not workbooks:
        return _flat_files(folder, tables["public"])
    written = [
        _workbook(reports / public_workbook_name(as_of), tables["public"], sections, files,
                  f"SEND Board tables, public version (small numbers suppressed), as of "
                  f"{as_of}", f"The public.* tables; CSV and Parquet in tables/{folder.name}/."),
        _workbook(reports / internal_workbook_name(as_of), tables["kpi"], sections, files,
                  f"SEND Board tables, INTERNAL (exact small numbers, not for publication), "
                  f"as of {as_of}", "The kpi.* tables: for use inside the LA only.")]
    return written + _flat_files(folder, tables["public"])


def _published_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The as-of date of the run whose tables these are (the published copy carries its
    own run's record), as the board pack names itself."""
    rows = con.execute("SELECT as_of FROM audit.runs WHERE status = 'published' "
                       "ORDER BY finished_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, pl.DataFrame]:
    """`schema`'s tables by their qualified name, in name order."""
    names = [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = ? ORDER BY 1", [schema]).fetchall()]
    return {f"{schema}.{t}": con.sql(f'SELECT * FROM {schema}."{t}"').pl() for t in names}


# ------------------------------------------------------------------------------------------
# The workbooks
# ------------------------------------------------------------------------------------------

def _workbook(path: Path, tables: dict[str, pl.DataFrame], sections: dict[str, str],
              files: pl.DataFrame, title: str, comments: str) -> Path:
    names = sheet_names(tables, reserved=(DEFINITIONS, SOURCES))
    fits = {t: f.height <= EXCEL_MAX_ROWS for t, f in tables.items()}
    definitions = pl.DataFrame(
        [{"sheet": names[t] if fits[t] else None, "table": t, "rows": f.height,
          "definition": _first(f, "definition"),
          "description": _description(t, f, sections, fits[t])} for t, f in tables.items()],
        schema={"sheet": pl.String, "table": pl.String, "rows": pl.Int64,
                "definition": pl.String, "description": pl.String})
    table_sources = pl.concat([_SOURCES_EMPTY, *(_sources(t, f) for t, f in tables.items())])
    # Written beside the finished file and renamed over it: a Power BI refresh or a
    # colleague opening it never reads half a workbook. The .tmp ending keeps it out of
    # folder queries that filter on .xlsx.
    tmp = path.with_name(f".{path.name}.tmp")
    with xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False,
                                        "strings_to_numbers": False,
                                        "nan_inf_to_errors": True}) as wb:
        wb.set_properties({"title": title, "comments": comments, "author": "sendboard"})
        _sheet(wb, DEFINITIONS, "definitions", definitions, wide={"description": 600})
        # Two tables side by side, so that one frozen row heads both.
        _sheet(wb, SOURCES, "table_sources", table_sources)
        _sheet(wb, SOURCES, "files_loaded", files, column=table_sources.width + 1)
        for table, frame in tables.items():
            if fits[table]:
                _sheet(wb, names[table], _table_name(table), frame)
    os.replace(tmp, path)
    return path


def _sheet(wb: xlsxwriter.Workbook, sheet: str, table_name: str, frame: pl.DataFrame,
           column: int = 0, wide: dict[str, int] | None = None) -> None:
    """`frame` as an Excel table named `table_name` (what Power BI's navigator lists) at
    row 1, `column`, of `sheet`, its header row frozen."""
    frame = _excel_types(frame)
    frame.write_excel(wb, sheet, position=(0, column), table_name=table_name,
                      column_formats=_formats(frame), dtype_formats=_DTYPE_FORMATS,
                      column_widths={**_widths(frame), **(wide or {})}, freeze_panes=(1, 0))


# Numbers stay numbers and dates dates; these only say how Excel shows them.
_DTYPE_FORMATS = {pl.Date: "yyyy-mm-dd", pl.Datetime: "yyyy-mm-dd hh:mm:ss"}


def _excel_types(frame: pl.DataFrame) -> pl.DataFrame:
    """Types Excel has: decimals as doubles (what Excel keeps every number as), times in
    UK local time without a zone (Excel has no zones), categories as text."""
    casts = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Decimal):
            casts.append(pl.col(name).cast(pl.Float64))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            casts.append(pl.col(name).dt.convert_time_zone(LOCAL_TIME)
                         .dt.replace_time_zone(None))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            casts.append(pl.col(name).cast(pl.String))
    return frame.with_columns(casts) if casts else frame


def _formats(frame: pl.DataFrame) -> dict[str, str]:
    formats = {}
    for name, dtype in frame.schema.items():
        if dtype.is_integer():
            formats[name] = "0" if _CODE_LIKE.search(name) else "#,##0"
        elif dtype.is_float():
            formats[name] = ("#,##0.00" if name.endswith("_gbp") else
                             "0.0" if "pct" in name.split("_") else "General")
    return formats


def _widths(frame: pl.DataFrame) -> dict[str, int]:
    """Column widths in pixels from the header and the first rows' text: autofit's effect
    without its pass over every cell."""
    head = frame.head(500)
    widths = {}
    for name, dtype in frame.schema.items():
        chars = 12 if dtype.is_numeric() else 11 if dtype.is_temporal() else 6
        if dtype == pl.String and head.height:
            chars = max(chars, head[name].str.len_chars().max() or 0)
        widths[name] = min(max(chars, len(name)) * 7 + 24, 360)
    return widths


def sheet_names(tables: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """A sheet name for each table: its name without the schema, without the characters
    Excel refuses, at most 31 characters, unique (Excel ignores case) and none of
    `reserved` ("History" is Excel's own)."""
    used = {r.lower() for r in (*reserved, "History")}
    names = {}
    for table in tables:
        base = _NOT_IN_SHEET_NAMES.sub("_", table.split(".", 1)[-1]).strip("'") or "table"
        name, n = base[:SHEET_NAME_LIMIT], 1
        while name.lower() in used:
            n += 1
            name = f"{base[:SHEET_NAME_LIMIT - len(str(n)) - 1]}~{n}"
        used.add(name.lower())
        names[table] = name
    return names


def _table_name(table: str) -> str:
    """An Excel table name: letters, digits and underscores (public.x -> public_x)."""
    return re.sub(r"\W", "_", table)


def _first(frame: pl.DataFrame, column: str) -> str | None:
    if column not in frame.columns or frame.is_empty():
        return None
    value = frame[column].drop_nulls()
    return str(value[0]) if len(value) else None


def _description(table: str, frame: pl.DataFrame, sections: dict[str, str], fits: bool
                 ) -> str | None:
    """The table's section of docs/kpis.md: named by its rows' definition, or, for a table
    with no rows (attendance without a Blade census), by its registry entry."""
    from warehouse.registry import REGISTRY

    anchors = {k.name: k.anchor for k in REGISTRY}
    anchor = (_first(frame, "definition") or "").rpartition("#")[2] \
        or anchors.get(table.split(".", 1)[-1], "")
    text = sections.get(anchor)
    if fits:
        return text
    return (f"Too many rows for an Excel sheet ({frame.height:,}): use the CSV or Parquet "
            f"file, or the database. {text or ''}").strip()


_SOURCES_EMPTY = pl.DataFrame(schema={"table": pl.String, "source": pl.String, "as_of": pl.Date})


def _sources(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Each source a table names (the DfE tables name a release per row), with its as_of."""
    columns = [pl.col(c) if c in frame.columns else pl.lit(None) for c in ("source", "as_of")]
    return (frame.select(pl.lit(table).alias("table"), columns[0].cast(pl.String)
                         .alias("source"), columns[1].cast(pl.Date).alias("as_of"))
            .unique(maintain_order=True))


# ------------------------------------------------------------------------------------------
# docs/kpis.md
# ------------------------------------------------------------------------------------------

def kpi_sections(kpi_doc: Path) -> dict[str, str]:
    """Each section of docs/kpis.md by its anchor (`ehcp-caseload`), as the first paragraph
    under its heading, in plain text (no Markdown marks)."""
    if not kpi_doc.exists():
        return {}
    sections: dict[str, str] = {}
    anchor, paragraph = None, []

    def close() -> None:
        if anchor is not None and paragraph and anchor not in sections:
            sections[anchor] = _plain(" ".join(paragraph))
        paragraph.clear()

    for line in kpi_doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            close()
            anchor = _anchor(line.lstrip("#"))
        elif line.strip():
            if anchor not in sections:
                paragraph.append(line.strip())
        else:
            close()
    close()
    return sections


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, spaces as hyphens, no punctuation."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _plain(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [forecast.md](forecast.md)
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\\(.)", r"\1", text)  # \*_ex -> *_ex


# ------------------------------------------------------------------------------------------
# CSV and Parquet
# ------------------------------------------------------------------------------------------

def _flat_files(folder: Path, tables: dict[str, pl.DataFrame]) -> list[Path]:
    """Each table as `<schema>.<table>.csv` and `.parquet` in `folder`; a file of a table
    this run did not publish (a rerun of the same as-of date) is removed, so the folder
    holds exactly what the database holds."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table, frame in tables.items():
        for suffix in (".csv", ".parquet"):
            path = folder / f"{table}{suffix}"
            tmp = path.with_name(f".{path.name}.tmp")
            if suffix == ".csv":
                # The byte order mark tells Excel the file is UTF-8 (school names, £).
                frame.write_csv(tmp, include_bom=True)
            else:
                frame.write_parquet(tmp)
            os.replace(tmp, path)
            written.append(path)
    for stale in [*folder.glob("*.csv"), *folder.glob("*.parquet")]:
        if stale not in written:
            stale.unlink()
    return written


def describe(paths: list[Path], reports: Path) -> str:
    """The files a run wrote, for its log: names within `reports`, a tables folder as one."""
    named, folders = [], {}
    for path in paths:
        relative = path.relative_to(reports) if path.is_relative_to(reports) else path
        if relative.parent.parent == Path("tables"):
            folders.setdefault(relative.parent, []).append(path.suffix)
        else:
            named.append(str(relative))
    for folder, suffixes in folders.items():
        named.append(f"{folder}/ ({suffixes.count('.csv')} CSV, "
                     f"{suffixes.count('.parquet')} Parquet)")
    return f"{', '.join(named)} in {reports}"
