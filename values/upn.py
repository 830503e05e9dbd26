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
_WIDTH = 13


@cache
def valid_la_numbers() -> tuple[str, ...]:
    """LA numbers python-stdnum accepts, found through its public API."""
    out = []
    for n in range(100, 1000):
        body = f"{n}0000000001"[:12]
        if stdnum_upn.is_valid(stdnum_upn.calc_check_digit(body) + body):
            out.append(str(n))
    return tuple(out)


@cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte -> alphabet index (-1 if not in it; either case), byte -> is a check letter,
    LA number -> valid."""
    index = np.full(256, -1, dtype=np.int32)
    for i, c in enumerate(ALPHABET):
        index[ord(c)] = index[ord(c.lower())] = i
    letter = np.zeros(256, dtype=bool)
    letter[[ord(c) for c in ALPHABET[:23]] + [ord(c.lower()) for c in ALPHABET[:23]]] = True
    la = np.zeros(1000, dtype=bool)
    la[[int(n) for n in valid_la_numbers()]] = True
    return index, letter, la


def upn_valid_series(values: pl.Series) -> pl.Series:
    """True where the value is a well-formed UPN with the right check letter and LA number,
    in either case (null where the value is null). Millions of UPNs are checked as one
    byte matrix in numpy, a column of it at a time: polars would need a string slice per
    character."""
    # Values of another length than 13 bytes become one that fails, so that the text is
    # one contiguous n x 13 matrix.
    fixed = values.to_frame("u").select(
        pl.when(pl.col("u").str.len_bytes() == _WIDTH).then(pl.col("u"))
        .otherwise(pl.lit("#" * _WIDTH))).to_series().to_arrow()
    if fixed.type != "large_string":
        fixed = fixed.cast("large_string")
    start = int(np.frombuffer(fixed.buffers()[1], dtype=np.int64, count=1,
                              offset=fixed.offset * 8)[0])
    grid = np.frombuffer(fixed.buffers()[2], dtype=np.uint8, count=len(fixed) * _WIDTH,
                         offset=start).reshape(len(fixed), _WIDTH)
    # One row per character position, so that every step below runs over contiguous bytes.
    columns = np.ascontiguousarray(grid.T)
    index, letter, la = _tables()
    ok = letter.take(columns[0])
    total = np.full(len(fixed), 23 * sum(range(2, 13)), dtype=np.int32)
    la_number = np.zeros(len(fixed), dtype=np.int32)
    for i in range(1, 12):
        digit = columns[i] - np.uint8(ord("0"))  # below "0" wraps round to above 9
        ok &= digit <= 9
        total += digit.astype(np.int32) * (i + 1)
        if i <= 3:
            la_number = la_number * 10 + digit
    last = index.take(columns[12])
    ok &= last >= 0
    total += last * 13
    ok &= index.take(columns[0]) == total % 23
    ok &= la.take(la_number, mode="clip")
    return pl.Series(values.name, ok).set(values.is_null(), None)


def upn_is_valid(col: str) -> pl.Expr:
    """True where the value is a well-formed UPN with the right check letter and LA number."""
    return pl.col(col).map_batches(upn_valid_series, return_dtype=pl.Boolean).fill_null(False)
