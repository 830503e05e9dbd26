"""Run a pandera schema over a whole file at once and split good rows from quarantined ones.

Every failing row is kept with every reason (row number, column, rule, masked value); the
good rows of the same file go on. Values of personal columns are never copied into the
quarantine: only their length is.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from transforms.readers import PROBLEM_SCHEMA as QUARANTINE_SCHEMA
from transforms.readers import FileRejected, moved
from values.parse import PARSED, with_parsed_dates


@dataclass(frozen=True)
class Validated:
    good: pl.DataFrame  # the rows that passed, with `row_number`
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA, one row per (row, reason)
    rows_read: int
    # `row_number` and the `ids` columns validate was asked for, of the quarantined rows:
    # the record's own ids (a SEN2 row's table id), for whoever must fix it at the source.
    failed_ids: pl.DataFrame | None = None

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine["row_number"].n_unique()


def mask(values: pl.Expr, personal: pl.Expr) -> pl.Expr:
    withheld = pl.format("<withheld: {} characters>", values.str.len_chars())
    shown = pl.when(values.str.len_chars() > 60).then(values.str.slice(0, 57) + "...") \
        .otherwise(values)
    return pl.when(values.is_null()).then(pl.lit("<blank>")) \
        .when(personal).then(withheld).otherwise(shown)


def validate(frame: pl.DataFrame, schema: pa.DataFrameSchema,
             personal: set[str], consume: bool = False,
             ids: tuple[str, ...] = ()) -> Validated:
    """`frame` is text columns plus `row_number`; the schema sees the text columns only.
    The good rows also carry the dates the rules parsed (`transforms.parse.parsed_date`),
    so that staging does not parse them again. `consume=True` moves the columns out of
    `frame` (left empty) a column at a time as the good rows are taken: a national census
    is about 2 GB of text, which is then never held twice. `ids`: columns (not personal)
    whose values the quarantined rows keep in `failed_ids`."""
    found = _failures(frame.drop("row_number"), schema)
    failures, parsed = found if found else (_pandera_failures(frame, schema), None)
    quarantine = _with_values(failures, frame, personal)
    failed_ids = None
    if ids:
        present = [c for c in ids if c in frame.columns]
        failed_ids = frame[failures["_i"].unique().sort()].select(
            "row_number", *present, *(pl.lit(None, pl.Utf8).alias(c) for c in ids
                                      if c not in present))
    rows_read = frame.height
    keep = None
    if failures.height:
        keep = pl.repeat(True, rows_read, dtype=pl.Boolean, eager=True).scatter(
            failures["_i"].unique(), False)
    source = frame if consume else frame.clone()  # (a clone shares the columns' data)
    if parsed is not None:
        source.hstack(parsed, in_place=True)
    good = moved(source, (lambda c: c) if keep is None else (lambda c: c.filter(keep)))
    return Validated(good=good, quarantine=quarantine, rows_read=rows_read,
                     failed_ids=failed_ids)


def _failures(frame: pl.DataFrame, schema: pa.DataFrameSchema,
              ) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """(_i, column_name, rule) of every failure, every check in one parallel polars pass,
    and the parsed date columns the checks read. None when the frame is not the schema's
    text columns or a check has no expression: then pandera decides."""
    columns = schema.columns
    if list(frame.columns) != list(columns) or any(t != pl.Utf8 for t in frame.dtypes):
        return None
    exprs: list[pl.Expr] = []
    labels: list[tuple[str, str]] = []
    for name, column in columns.items():
        if not column.nullable:
            exprs.append(pl.col(name).is_not_null())
            labels.append((name, "is required"))
        for check in column.checks:
            if not hasattr(check, "sendboard_ok"):
                return None
            exprs.append(check.sendboard_ok(name))
            labels.append((name, check.name))
    for check in schema.checks:
        if not hasattr(check, "sendboard_ok"):
            return None
        exprs.append(check.sendboard_ok(None))
        labels.append(tuple(check.name.split("|", 1)))
    try:
        ok = with_parsed_dates(frame, exprs).lazy().select(
            *[e.alias(f"_{k}") for k, e in enumerate(exprs)], pl.col(f"^{PARSED}.*$")).collect()
    except pl.exceptions.PolarsError:
        return None
    parsed = ok.select(pl.col(f"^{PARSED}.*$"))
    parts = [pl.DataFrame({"_i": ok[f"_{k}"].not_().arg_true().cast(pl.UInt32)}).with_columns(
        pl.lit(column).alias("column_name"), pl.lit(rule).alias("rule"))
        for k, (column, rule) in enumerate(labels) if not ok[f"_{k}"].all()]
    if not parts:
        return pl.DataFrame(schema={"_i": pl.UInt32, "column_name": pl.Utf8, "rule": pl.Utf8}
                            ), parsed
    return pl.concat(parts).unique(maintain_order=True), parsed


def _pandera_failures(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    try:
        schema.validate(frame.drop("row_number"), lazy=True)
        failures = pl.DataFrame(schema={"_i": pl.UInt32, "column_name": pl.Utf8,
                                        "rule": pl.Utf8})
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        if fc.filter(pl.col("index").is_null()).height:
            first = fc.filter(pl.col("index").is_null()).row(0, named=True)
            raise FileRejected(f"does not fit the {schema.name} schema: {first['check']} "
                               f"({first['column']})") from None
        # Dataframe-level checks are named `column|rule`; column checks name their column.
        failures = fc.select(
            pl.col("index").cast(pl.UInt32).alias("_i"),
            pl.when(pl.col("schema_context") == "DataFrameSchema")
            .then(pl.col("check").str.split("|").list.first()).otherwise(pl.col("column"))
            .alias("column_name"),
            pl.when(pl.col("schema_context") == "DataFrameSchema")
            .then(pl.col("check").str.split("|").list.last())
            .when(pl.col("check") == "not_nullable").then(pl.lit("is required"))
            .otherwise(pl.col("check")).alias("rule"),
        ).unique(maintain_order=True)
    return failures


def _with_values(failures: pl.DataFrame, frame: pl.DataFrame,
                 personal: set[str]) -> pl.DataFrame:
    if failures.height == 0:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    # The failing rows fetched by position: filtering a national census for its couple of
    # thousand failures copied a second of columns that were then thrown away.
    failed = failures["_i"].unique().sort()
    rows = frame[failed].with_columns(failed.alias("_i"))
    long = rows.unpivot(index=["_i", "row_number"], variable_name="column_name",
                        value_name="value")
    joined = failures.join(long.drop("row_number"), on=["_i", "column_name"], how="left").join(
        rows.select("_i", "row_number"), on="_i", how="left")
    return joined.select(
        "row_number", "column_name", "rule",
        mask(pl.col("value"), pl.col("column_name").is_in(sorted(personal))).alias(
            "value_masked"),
    ).sort("row_number", "column_name")


def quarantine_rows(frame: pl.DataFrame, bad: pl.Expr | pl.Series, column: str, rule: str,
                    personal: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows that fail a rule checked outside pandera (e.g. across files).

    `frame` carries `row_number`; `bad` is true for failing rows; returns (good rows,
    quarantine records). The rule is evaluated once, and a frame with no failing row is
    returned as it is, not copied.
    """
    flagged = bad if isinstance(bad, pl.Series) else frame.select(
        bad.fill_null(False)).to_series()
    if not flagged.any():
        return frame, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    records = frame.filter(flagged).select(
        "row_number", pl.lit(column).alias("column_name"), pl.lit(rule).alias("rule"),
        mask(pl.col(column).cast(pl.Utf8), pl.lit(column in personal)).alias("value_masked"))
    return frame.filter(~flagged), records
