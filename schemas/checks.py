"""Building blocks for the pandera models: vectorised checks over text columns.

Row-level checks that involve more than one column are dataframe checks named
`column|rule`, so that quarantine can say which column a failure is about.
"""

from __future__ import annotations

from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from transforms.parse import is_bool, parse_date
from transforms.upn import upn_is_valid


def expr_check(name: str, build: Callable[[str], pl.Expr]) -> pa.Check:
    """A column check from a polars expression over the column.

    Blanks pass: whether a value is required is the column's `nullable`, reported once as
    "is required" rather than again as every rule the blank cannot meet.
    """
    def ok(column: str) -> pl.Expr:
        return build(column).fill_null(False) | pl.col(column).is_null()

    return _with_expression(pa.Check(lambda data: data.lazyframe.select(ok(data.key)),
                                     name=name), ok)


def _with_expression(check: pa.Check, ok: Callable[[str], pl.Expr]) -> pa.Check:
    # transforms.validate evaluates every check's expression in one polars pass (pandera
    # runs them one by one); `ok(column)` is true for rows that pass.
    check.sendboard_ok = ok
    return check


def is_date() -> pa.Check:
    return expr_check("is a date (yyyy-mm-dd, dd/mm/yyyy or yyyy-Mon-dd)",
                      lambda c: parse_date(c).is_not_null())


def is_boolean() -> pa.Check:
    return expr_check("is a yes/no value (1/0, true/false, Y/N)", is_bool)


def is_upn() -> pa.Check:
    return expr_check("is a valid UPN (check letter and LA number)", upn_is_valid)


def one_of(values: tuple[str, ...] | list[str], what: str, shown: str | None = None
           ) -> pa.Check:
    """One of the listed codes, ignoring case; the rule names them all (or `shown`)."""
    allowed = tuple(values)
    upper = [v.upper() for v in allowed]
    return expr_check(f"is {article(what)} {what} ({shown or ', '.join(allowed)})",
                      lambda c: pl.col(c).str.to_uppercase().is_in(upper))


def article(phrase: str) -> str:
    """`a` or `an` as spoken: an NC year, an S251 line, a need code."""
    first = phrase.split()[0]
    spoken_vowel = first[0].lower() in "aeiou" or (first.isupper() and first[0] in "AEFHILMNORSX")
    return "an" if spoken_vowel else "a"


def matches(pattern: str, what: str) -> pa.Check:
    return expr_check(f"is {what}", lambda c: pl.col(c).str.contains(pattern))


def row_rule(column: str, rule: str, ok: pl.Expr) -> pa.Check:
    """A rule across columns: `ok` is true for good rows (null counts as good)."""
    return _with_expression(pa.Check(lambda data: data.lazyframe.select(ok.fill_null(True)),
                                     name=f"{column}|{rule}"), lambda _: ok.fill_null(True))
