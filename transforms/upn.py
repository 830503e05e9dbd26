"""UPN validation, vectorised: the same rules as `stdnum.gb.upn`, without a Python call a row.

A UPN is a check letter, a 3-digit LA number, a 4-digit establishment, 2-digit year and a
3-character serial (a temporary UPN ends in a letter). The check letter is the weighted sum of
the other twelve characters, mod 23. The LA numbers come from python-stdnum itself.
"""

from __future__ import annotations

from functools import cache

import polars as pl
from stdnum.gb import upn as stdnum_upn

ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ0123456789"


@cache
def valid_la_numbers() -> tuple[str, ...]:
    """LA numbers python-stdnum accepts, found through its public API."""
    out = []
    for n in range(100, 1000):
        body = f"{n}0000000001"[:12]
        if stdnum_upn.is_valid(stdnum_upn.calc_check_digit(body) + body):
            out.append(str(n))
    return tuple(out)


def upn_is_valid(col: str) -> pl.Expr:
    """True where the value is a well-formed UPN with the right check letter and LA number."""
    u = pl.col(col).str.to_uppercase()
    index = {c: i for i, c in enumerate(ALPHABET)}
    # Characters 1-11 are digits (the pattern below says so), whose index is digit + 23:
    # read as integers, which is cheaper than a table lookup each.
    total = pl.sum_horizontal(
        [(u.str.slice(i, 1).str.to_integer(strict=False) + 23) * (i + 1) for i in range(1, 12)]
        + [u.str.slice(12, 1).replace_strict(index, default=None, return_dtype=pl.Int64) * 13])
    check = pl.lit(list(ALPHABET[:23])).list.get((total % 23).cast(pl.Int64), null_on_oob=True)
    return (u.str.contains(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")
            & (u.str.slice(0, 1) == check)
            & u.str.slice(1, 3).is_in(valid_la_numbers())).fill_null(False)
