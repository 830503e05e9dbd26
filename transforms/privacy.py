"""Pseudonyms and the removal of direct identifiers, before anything is stored.

A pseudonym is HMAC-SHA256(key, identifier) as hex, cut to 32 characters (128 bits: no
collision among millions of children in practice). The same key gives the same pseudonym
for the same child in every extract and every run, which is what links census, SEN2 and
later years; without the key a pseudonym cannot be reversed or recomputed.
The HMAC runs inside DuckDB's vectorised sha256 rather than a Python loop a row.
"""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.timing import stage

PSEUDONYM_CHARS = 32
_BLOCK = 64  # SHA-256 block size in bytes


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        import hashlib

        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pseudonymise(frame: pl.DataFrame, columns: dict[str, str], key: bytes,
                 prefix: dict[str, str] | None = None) -> pl.DataFrame:
    """Replace each identifier column with its pseudonym column (`{"upn": "pupil_id"}`).

    Values are trimmed and upper-cased first, so `b801...` and `B801...` are one child.
    An optional prefix per column (e.g. `uln:`) keeps pseudonyms of different identifier
    kinds apart. Nulls stay null.
    """
    if frame.height == 0:
        return frame.drop(list(columns)).with_columns(
            [pl.lit(None, pl.Utf8).alias(out) for out in columns.values()])
    with stage("pseudonymise"):
        return _hmac(frame, columns, key, prefix or {})


def _hmac(frame: pl.DataFrame, columns: dict[str, str], key: bytes,
          prefix: dict[str, str]) -> pl.DataFrame:
    ipad, opad = _pads(key)
    con = duckdb.connect()
    try:
        src = frame.select([
            (pl.lit(prefix.get(c, "")) + pl.col(c).str.strip_chars().str.to_uppercase())
            .alias(c) for c in columns])
        con.register("src", src)
        select = ", ".join(
            f"left(sha256($opad || unhex(sha256($ipad || encode(\"{c}\")))), {PSEUDONYM_CHARS})"
            f" AS \"{out}\"" for c, out in columns.items())
        hashed = con.sql(f"SELECT {select} FROM src", params={"ipad": ipad, "opad": opad}).pl()
    finally:
        con.close()
    return frame.drop(list(columns)).hstack(hashed)


def birth_year_month(date_of_birth: pl.Expr) -> list[pl.Expr]:
    """A date of birth reduced to year and month: enough for age, not enough to identify."""
    return [date_of_birth.dt.year().cast(pl.Int16).alias("birth_year"),
            date_of_birth.dt.month().cast(pl.Int8).alias("birth_month")]
