"""Building blocks for the pandera models: vectorised checks over text columns.

Row-level checks that involve more than one column are dataframe checks named
`column|rule`, so that quarantine can say which column a failure is about.
"""

from __future__ import annotations

from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from values.parse import in_any_case, is_bool, parsed_date, with_parsed_dates
from values.upn import upn_is_valid


def expr_check(name: str, build: Callable[[str], pl.Expr]) -> pa.Check:
    """A column check from a polars expression over the column.

    Blanks pass: whether a value is required is the column's `nullable`, reported once as
    "is required" rather than again as every rule the blank cannot meet.
    """
    def ok(column: str) -> pl.Expr:
        return build(column).fill_null(False) | pl.col(column).is_null()

    return _with_expression(pa.Check(lambda data: _select(data.lazyframe, ok(data.key)),
                                     name=name), ok)


def _select(frame: pl.LazyFrame, ok: pl.Expr) -> pl.LazyFrame:
    return with_parsed_dates(frame, [ok]).select(ok)


def _with_expression(check: pa.Check, ok: Callable[[str], pl.Expr]) -> pa.Check:
    # transforms.validate evaluates every check's expression in one polars pass (pandera
    # runs them one by one); `ok(column)` is true for rows that pass.
    check.sendboard_ok = ok
    return check


def is_date() -> pa.Check:
    return expr_check("is a date (yyyy-mm-dd, dd/mm/yyyy or yyyy-Mon-dd)",
                      lambda c: parsed_date(c).is_not_null())


def is_boolean() -> pa.Check:
    return expr_check("is a yes/no value (1/0, true/false, Y/N)", is_bool)


def is_upn() -> pa.Check:
    return expr_check("is a valid UPN (check letter and LA number)", upn_is_valid)


def one_of(values: tuple[str, ...] | list[str], what: str, shown: str | None = None
           ) -> pa.Check:
    """One of the listed codes, ignoring case; the rule names them all (or `shown`)."""
    allowed = tuple(values)
    return expr_check(f"is {article(what)} {what} ({shown or ', '.join(allowed)})",
                      lambda c: in_any_case(c, allowed))


def article(phrase: str) -> str:
    """`a` or `an` as spoken: an NC year, an S251 line, a need code."""
    first = phrase.split()[0]
    spoken_vowel = first[0].lower() in "aeiou" or (first.isupper() and first[0] in "AEFHILMNORSX")
    return "an" if spoken_vowel else "a"


def matches(pattern: str, what: str) -> pa.Check:
    return expr_check(f"is {what}", lambda c: pl.col(c).str.contains(pattern))


def row_rule(column: str, rule: str, ok: pl.Expr) -> pa.Check:
    """A rule across columns: `ok` is true for good rows (null counts as good)."""
    return _with_expression(pa.Check(lambda data: _select(data.lazyframe, ok.fill_null(True)),
                                     name=f"{column}|{rule}"), lambda _: ok.fill_null(True))


def among_repeats(key: pl.Expr, ok: pl.Expr) -> pl.Expr:
    """`ok`, a rule that compares rows with one another, worked out only among the rows whose
    `key` value repeats; every other row passes. Right for any rule that a row passes when
    no other row shares its key (an identical row, or a second registration, has the same
    UPN or id). Comparing whole rows across a national census takes seconds; hashing one
    column and comparing the few rows that share a hash does not."""
    def among(rows: pl.Series) -> pl.Series:
        frame = rows.struct.unnest()
        hashes = frame.select(key.hash()).to_series()
        # Repeated hashes found by sorting: a hash table of millions of rows is slower.
        ordered = hashes.sort()
        repeats = hashes.is_in(ordered.filter(ordered == ordered.shift(1)).unique().implode())
        passed = pl.repeat(True, frame.height, dtype=pl.Boolean, eager=True)
        if not repeats.any():
            return passed
        at = repeats.arg_true()
        return passed.scatter(at, frame.select(pl.all().gather(at)).select(
            ok.fill_null(True)).to_series())

    return pl.struct(pl.all()).map_batches(among, return_dtype=pl.Boolean)


def id_rules(key: str) -> list[pa.Check]:
    """A table's own id column: an exact repeat of a row loads once; two different rows with
    one id are both held back, since nothing says which is right."""
    first = pl.struct(pl.all()).is_first_distinct()
    repeat = row_rule(key, "repeats an identical earlier row", among_repeats(pl.col(key), first))
    distinct_ids = pl.col(key).filter(first)
    unique_id = row_rule(key, "repeats the table id of a different row", among_repeats(
        pl.col(key), ~(first & pl.col(key).is_in(
            distinct_ids.filter(distinct_ids.is_duplicated()).implode()))))
    return [repeat, unique_id]
