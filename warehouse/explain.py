"""`sendboard explain`: the records behind one row of a published KPI table.

The row is read from the published database (sendboard.duckdb); its records are the frame
the table's own function aggregates (its registry entry's Explanation: transforms/records.py),
computed from the working warehouse's staged rows as the rebuild computes them, filtered to
the row and to the count asked for. Both databases are opened read-only: BI readers may hold
the published one open. The records carry pseudonyms, table ids, dates and codes only: the
warehouse holds no name, UPN or date of birth, and no birth year or month is printed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from warehouse import store
from warehouse.registry import BY_NAME, KPI, REGISTRY, Explanation, Row
from warehouse.settings import Settings

TRACE = ("file", "sha256", "row")  # the columns that say where a record came from
SHOWN_VALUES = 40  # allowed values listed in a message, at most
# Where a SEN2 record's source row is: its stage table and the table id it is keyed by.
_SEN2_ROWS = {"plan": ("stage.sen2_namedplan", "namedplantableid", "plan_id"),
              "request": ("stage.sen2_requests", "requeststableid", "request_id")}


class ExplainError(Exception):
    """What explain cannot do, said in one message; `code` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Explained:
    table: str  # kpi.<name>
    row: Row  # the grain columns chosen and their values
    column: str  # the count explained
    value: object  # its value in the published table
    of: str  # what a record is
    sums: str | None  # the records' column that adds up to it (money), or None: counted
    records: pl.DataFrame  # the records to print, with TRACE
    anchor: str  # docs/kpis.md#<anchor>

    @property
    def found(self) -> object:
        """The records' count, or the sum of their `sums` column."""
        if self.sums is None:
            return self.records.height
        values = [v for v in self.records[self.sums].to_list() if v is not None]
        return sum(values, Decimal(0) if values and isinstance(values[0], Decimal) else 0)

    @property
    def agrees(self) -> bool:
        if self.value is None:  # an empty value (no count yet, no actual yet): none to find
            if self.sums is None:
                return self.records.height == 0
            return self.records[self.sums].null_count() == self.records.height
        return self.found == self.value

    def summary(self) -> str:
        where = " ".join(f"{c}={'' if v is None else v}" for c, v in self.row.items())
        head = (f"{self.table} {where}: {self.column} = {_text(self.value)} "
                f"(docs/kpis.md#{self.anchor})")
        many = f"{self.records.height:,} {self.of}{'' if self.records.height == 1 else 's'}"
        if self.sums is None:
            return f"{head}\n{many} behind it, one a line"
        return (f"{head}\n{many} behind it, one a line; their {self.sums} adds up to "
                f"{_text(self.found)}")

    def verdict(self) -> str:
        if self.agrees:
            return f"{self.column} {_text(self.value)}: the records agree with the table"
        return (f"MISMATCH: {self.table} says {self.column} = {_text(self.value)} but the "
                f"records give {_text(self.found)}: the published table and the working "
                "warehouse disagree (a run rebuilt the warehouse but did not publish, or a "
                "defect): do not quote this number until they agree")


def _text(value: object) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def explainable(kpi: KPI) -> bool:
    return isinstance(kpi.explained, Explanation)


def kpi_of(table: str) -> KPI:
    """The registry entry of `kpi.<name>` (or `<name>`); public.* is refused."""
    schema, _, name = table.rpartition(".")
    listed = ", ".join(k.table for k in REGISTRY if explainable(k))
    if schema == "public":
        raise ExplainError(
            f"{table} is a public table (small numbers suppressed): explain lists children's "
            f"records, for use inside the LA only, behind the kpi.* tables; give kpi.{name}")
    if schema not in ("", "kpi") or name not in BY_NAME:
        raise ExplainError(f"{table} is not a KPI table; explain takes one of: {listed}")
    kpi = BY_NAME[name]
    if not explainable(kpi):
        raise ExplainError(f"{kpi.table} has no records to list: {kpi.explained}")
    return kpi


def parse_where(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip():
            raise ExplainError(f"--where {pair!r}: give it as COLUMN=VALUE")
        out[column.strip()] = value.strip()
    return out


def _as_text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Utf8).fill_null("")


def _allowed(table: pl.DataFrame, column: str) -> str:
    values = table.select(_as_text(column)).unique().sort(column)[column].to_list()
    shown = ", ".join(v or "(blank: give COLUMN=)" for v in values[:SHOWN_VALUES])
    more = f" ... ({len(values)} values)" if len(values) > SHOWN_VALUES else ""
    return f"{column} takes {shown}{more}"


def choose_row(kpi: KPI, table: pl.DataFrame, where: dict[str, str]) -> dict:
    """The one row of the published table the --where values pick: every grain column
    given, none other."""
    grain = list(kpi.grain)
    unknown = [c for c in where if c not in grain]
    missing = [c for c in grain if c not in where]
    if unknown or missing:
        problems = ([f"{', '.join(unknown)} not a grain column"] if unknown else []) + (
            [f"missing {', '.join(missing)}"] if missing else [])
        raise ExplainError(
            f"{kpi.table}: {'; '.join(problems)}. Give every grain column, "
            f"--where {' --where '.join(f'{c}=VALUE' for c in grain)}: "
            + "; ".join(_allowed(table, c) for c in grain))
    picked = table.filter(pl.all_horizontal([_as_text(c) == where[c] for c in grain]))
    if picked.height == 0:
        wrong = [c for c in grain if where[c] not in table.select(_as_text(c))[c].to_list()]
        shown = wrong or grain
        raise ExplainError(
            f"no row of {kpi.table} has "
            f"{', '.join(f'{c}={where[c]}' for c in grain)}: "
            + "; ".join(_allowed(table, c) for c in shown))
    (row,) = picked.to_dicts()
    return row


def _published_table(published, kpi: KPI) -> pl.DataFrame:
    if not published.exists():
        raise ExplainError(f"nothing published yet ({published} does not exist): run "
                           "`sendboard run` first")
    con = duckdb.connect(str(published), read_only=True)
    try:
        if not store.table_exists(con, kpi.table):
            raise ExplainError(f"{kpi.table} is not in {published}: its sources have not "
                               "been loaded")
        return store.read(con, f"SELECT * FROM {kpi.table}")
    finally:
        con.close()


def _connect_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    path = settings.home.warehouse
    if not path.exists():
        raise ExplainError(f"no working warehouse in {settings.home.root}: run "
                           "`sendboard run` first")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as e:
        if "lock" not in str(e).lower():
            raise
        raise ExplainError(f"a sendboard run is writing to {path}: run explain again when "
                           "it has finished", code=1) from None


def explain(settings: Settings, table: str, where: dict[str, str],
            count: str | None = None) -> Explained:
    """The records behind the row of `table` that `where` picks, for the count `count`
    (default: the table's main count)."""
    kpi = kpi_of(table)
    how = kpi.explained
    assert isinstance(how, Explanation)
    column = count or how.count
    if column not in how.counts:
        raise ExplainError(f"{kpi.table}: --count {column} is not a column explain can trace; "
                           f"it traces {', '.join(how.counts)} (default {how.count})")
    published = _published_table(settings.home.published, kpi)
    row = choose_row(kpi, published, where)
    grain = {c: row[c] for c in kpi.grain}
    con = _connect_warehouse(settings)
    try:
        frame, export = records_of(con, settings, kpi)
        traced = _traced(con, pick(frame, how, grain, column), how, export)
    finally:
        con.close()
    shown = [c for c in how.shows if c in traced.columns]
    # In the order of the source files' rows.
    records = traced.select(*shown, *TRACE).sort("file", "row", nulls_last=True)
    return Explained(kpi.table, grain, column, row[column], how.of, how.counts[column].sums,
                     records, kpi.anchor)


def records_of(con: duckdb.DuckDBPyConnection, settings: Settings, kpi: KPI
               ) -> tuple[pl.DataFrame, dt.date | None]:
    """Every record of the table (its Explanation's frame), from what the working warehouse
    has staged, read as the rebuild reads it; and the SEN2 export it is of."""
    from warehouse.build import read_inputs
    from warehouse.core import census_rows

    how = kpi.explained
    assert isinstance(how, Explanation)
    inputs, missing = read_inputs(con, settings, None)
    if "stage.census" in kpi.inputs and inputs.census is not None:
        inputs = dataclasses.replace(inputs, census=census_rows(con, trace=True))
    # The kpi tables an entry's records read, as published.
    for name in (i for i in kpi.inputs if i.startswith("kpi.")):
        inputs.out[name] = _published_table(settings.home.published, BY_NAME[name[4:]])
    frame = how.records(inputs)
    if frame is None:
        raise ExplainError(f"the working warehouse has not what {kpi.table}'s records are "
                           f"made from{f': {missing}' if missing else ''}", code=1)
    return frame, inputs.core.export if inputs.core else None


def pick(frame: pl.DataFrame, how: Explanation, grain: Row, column: str) -> pl.DataFrame:
    """The records of one row that its `column` counts (or sums)."""
    count = how.counts[column]
    chosen = frame.filter(how.selects(grain)).filter(count.selects())
    if (key := count.distinct_of or how.distinct) is not None:
        chosen = chosen.unique(key, keep="first", maintain_order=True)
    return chosen


def _traced(con: duckdb.DuckDBPyConnection, records: pl.DataFrame, how: Explanation,
            export: dt.date | None) -> pl.DataFrame:
    """The records with the file (source folder and name, SHA-256 prefix) and the row number
    (the header is row 1) they were read from: a SEN2 record's is its named plan's or
    request's row in the export the tables were built from."""
    if how.source == "row":
        table = None
        frame = records.rename({"row_number": "row"})
    else:
        table, key, id_column = _SEN2_ROWS[how.source]
        rows = store.read(con, f"SELECT {key}::VARCHAR AS {id_column}, row_number AS row, "
                               f"sha256 FROM {table} WHERE export_date = ?", [export])
        frame = records.with_columns(pl.col(id_column).cast(pl.Utf8)).join(
            rows, on=id_column, how="left")
    # A SEN2 module can be byte-identical in two exports: the name is the staged table's.
    names = store.read(con, "SELECT sha256, source, min(original_name) AS name "
                            "FROM audit.files WHERE status = 'loaded'"
                            + (" AND table_name = ?" if table else "")
                            + " GROUP BY sha256, source", [table] if table else None)
    file = pl.concat_str([pl.col("source"), pl.col("name")], separator="/")
    if how.untraced is not None:
        file = pl.when(pl.col("sha256").is_null()).then(pl.lit(how.untraced)).otherwise(file)
    return frame.join(names, on="sha256", how="left").with_columns(
        file.alias("file"),
        pl.col("sha256").str.slice(0, 12),
        pl.col("row").cast(pl.Int64))


def as_csv(e: Explained) -> str:
    return e.records.write_csv()


def as_table(e: Explained) -> str:
    """The records as aligned text columns under the summary."""
    frame = e.records.select(pl.all().cast(pl.Utf8).fill_null(""))
    columns = frame.columns
    cells = [columns, *frame.rows()]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    return "\n".join([e.summary(), "", *lines, "", e.verdict()])
