"""UPN validation, vectorised: the same rules as `stdnum.gb.upn`, without a Python call a row.

A UPN is a check letter, a 3-digit LA number, a 4-digit establishment, 2-digit year and a
3-character serial (a temporary UPN ends in a letter). The check letter is the weighted sum of
the other twelve characters, mod 23. The LA numbers come from python-stdnum itself.
"""

from __future__ import annotations

from functools import cache

import numpy as np
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
    return (u.str.contains(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")
            & u.map_batches(_check_letter_ok, return_dtype=pl.Boolean, is_elementwise=True)
            & u.str.slice(1, 3).is_in(valid_la_numbers())).fill_null(False)


# Byte -> index in ALPHABET (-1 for any other byte).
_INDEX = np.full(256, -1, dtype=np.int64)
_INDEX[np.frombuffer(ALPHABET.encode(), dtype=np.uint8)] = np.arange(len(ALPHABET))


def _check_letter_ok(values: pl.Series) -> pl.Series:
    """True where the first of 13 characters is the check letter of the other twelve: the
    13-byte values as one numpy matrix, so millions of UPNs take a few milliseconds."""
    fits = (values.str.len_bytes() == 13).fill_null(False)
    out = np.zeros(values.len(), dtype=bool)
    if fits.any():
        text = values.filter(fits).str.join("").item().encode()
        index = _INDEX[np.frombuffer(text, dtype=np.uint8).reshape(-1, 13)]
        total = (index[:, 1:] * np.arange(2, 14)).sum(axis=1)
        out[fits.to_numpy()] = ((index[:, 1:] >= 0).all(axis=1) & (index[:, 0] < 23)
                                & (index[:, 0] == total % 23))
    return pl.Series(values.name, out)
