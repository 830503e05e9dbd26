"""Vectorised parsing of the text values extracts carry: dates, booleans, integers.

Each parser returns null for a value it cannot read; the schemas flag those values first, so
a null here never hides a bad value that was not quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import polars as pl

BOOLEAN_TRUE = ("1", "true", "y", "yes")
BOOLEAN_FALSE = ("0", "false", "n", "no")

# ISO, UK (Excel, en-GB), the Blade export's `2022-Sep-28 00:00:00`, GIAS's dd-mm-yyyy and
# ISO timestamps. Never US month-first: a UK extract's 03/04 is 3 April.
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y-%b-%d %H:%M:%S", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


def parse_date(col: str | pl.Expr) -> pl.Expr:
    expr = pl.col(col) if isinstance(col, str) else col
    # Each distinct text parsed once, then mapped back: a column of millions of dates of
    # birth holds a few thousand distinct days, and trying eight formats on every row
    # dominated a national load. (Both `distinct` are the same first-seen order.)
    distinct = expr.drop_nulls().unique(maintain_order=True)
    return expr.replace_strict(distinct, _date_formats(distinct), default=None,
                               return_dtype=pl.Date)


def _date_formats(text: pl.Expr) -> pl.Expr:
    """The date each text is, in the first of DATE_FORMATS that reads it; else null."""
    return pl.coalesce([_read_as(text, f) for f in DATE_FORMATS])


def _read_as(text: pl.Expr | pl.Series, date_format: str):
    """The text read as a date written exactly in `date_format`; null where it is not."""
    return text.str.strptime(pl.Date, date_format, strict=False, exact=True)


# A validation pass parses each date column once, into a column of this prefix, and every
# rule on that date reads it (transforms.validate); polars would parse it again for each
# rule that mentions it, which on a national census is seconds a rule.
PARSED = "__parsed_date__ "


def parsed_date(column: str) -> pl.Expr:
    """A date column's parsed values, inside a frame that `with_parsed_dates` prepared."""
    return pl.col(PARSED + column)


def date_of(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A date column's values parsed: the validator's parse when `frame` carries it (its
    good rows do), otherwise parsed here."""
    return parsed_date(column) if PARSED + column in frame.columns else parse_date(column)


def with_parsed_dates(frame: pl.DataFrame | pl.LazyFrame, exprs: list[pl.Expr]):
    """`frame` plus the parsed date columns that `exprs` read through `parsed_date`."""
    needed = sorted({name.removeprefix(PARSED) for e in exprs for name in e.meta.root_names()
                     if name.startswith(PARSED)})
    if isinstance(frame, pl.DataFrame):
        return frame.hstack([parse_dates(frame.get_column(c)).alias(PARSED + c)
                             for c in needed])
    return frame.with_columns([parse_date(c).alias(PARSED + c) for c in needed])


def dictionary(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(codes, distinct): the distinct values of a text column (nulls aside), and each row's
    position among them (null for a null). A categorical cast of categories of its own does
    it in one hashing pass, where unique() and mapping back take several."""
    categories = pl.Categories.random()
    coded = values.cast(pl.Categorical(categories))
    # (Read while `coded` lives: the categories are the column's, and go with it.)
    return coded.to_physical(), categories.to_series()


def by_distinct(values: pl.Series, work: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """`work` done on each distinct value of `values` once, then put in place for every row:
    a national census's 9 million dates of birth are a few thousand distinct days, and its
    code columns a handful of codes each. Nulls stay null."""
    codes, distinct = dictionary(values)
    return work(distinct).gather(codes).alias(values.name)


def parse_dates(values: pl.Series) -> pl.Series:
    """parse_date's values for one text column, each distinct text parsed once (by_distinct,
    which takes a fifth of the time of parsing a national column row by row, even as ISO)."""
    return by_distinct(values, lambda distinct: distinct.to_frame("d").select(
        _date_formats(pl.col("d"))).to_series())


def any_case(values: tuple[str, ...] | list[str]) -> list[str]:
    """Every way of writing `values` in upper and lower case (`Yes`, `yES`, ...): a column
    matched against them needs no case-folded copy, which for a national census is a new
    string for each of 9 million rows, a column and a rule at a time. Only ASCII letters
    vary, so nothing that case folding would turn into a code (a long s into S) passes.
    A word of n letters has 2**n ways: for long codes use `in_any_case`."""
    return sorted({"".join(chars) for v in values for chars in product(
        *[(c.lower(), c.upper()) if c.isascii() and c.isalpha() else (c,) for c in v])})


_MAX_WAYS = 1024


def in_any_case(col: str | pl.Expr, values: tuple[str, ...] | list[str]) -> pl.Expr:
    """Whether the value is one of `values` in any ASCII case: matched against their case
    variants when those are few (short codes), else upper-cased and required to be ASCII,
    which is the same rule for any list of ASCII codes."""
    expr = pl.col(col) if isinstance(col, str) else col
    ways = sum(2 ** sum(c.isascii() and c.isalpha() for c in v) for v in values)
    if ways <= _MAX_WAYS:
        return expr.is_in(any_case(values))
    upper = [v.upper() for v in values]
    return expr.str.to_uppercase().is_in(upper) & ~expr.str.contains(r"[^\x00-\x7F]")


def parse_bool(col: str | pl.Expr) -> pl.Expr:
    return (pl.when(in_any_case(col, BOOLEAN_TRUE)).then(True)
            .when(in_any_case(col, BOOLEAN_FALSE)).then(False).otherwise(None))


def is_bool(col: str) -> pl.Expr:
    return in_any_case(col, (*BOOLEAN_TRUE, *BOOLEAN_FALSE))


def parse_int(col: str | pl.Expr) -> pl.Expr:
    expr = pl.col(col) if isinstance(col, str) else col
    return expr.cast(pl.Int64, strict=False)


def money_text(col: str | pl.Expr) -> pl.Expr:
    """Pounds as Excel writes them, to a plain decimal string: `£1,234.56` -> `1234.56`,
    `(1,234.56)` -> `-1234.56` (accounting negatives)."""
    expr = pl.col(col) if isinstance(col, str) else col
    clean = expr.str.replace_all(r"[£,\s]", "")
    return pl.when(clean.str.contains(r"^\(.*\)$")).then(
        pl.lit("-") + clean.str.strip_chars("()")).otherwise(clean)


MONEY_PATTERN = r"^-?\d+(\.\d{1,2})?$"
# As written: optional £, commas only between groups of three digits, accounting brackets.
MONEY_WRITTEN = r"^(-?£?-?|\(£?)(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?\)?$"


def parse_money(col: str | pl.Expr) -> pl.Expr:
    """Pounds and pence as an exact decimal (never a float: budgets must add up to the penny).
    Validate with MONEY_PATTERN first: more than two decimals would be cut, not rounded."""
    return money_text(col).cast(pl.Decimal(18, 2), strict=False)


def date_formats_used(frame: pl.DataFrame, column: str) -> list[str]:
    """The DATE_FORMATS a column's values are written in (first match each)."""
    _, values = dictionary(frame.get_column(column))
    if values.len() == 0:
        return []
    parsed = pl.select([_read_as(values, f).alias(f) for f in DATE_FORMATS])
    first = parsed.select(pl.coalesce([pl.when(pl.col(f).is_not_null()).then(pl.lit(f))
                                       for f in DATE_FORMATS]).alias("f"))
    return sorted(first["f"].drop_nulls().unique().to_list(), key=DATE_FORMATS.index)
