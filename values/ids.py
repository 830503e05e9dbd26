"""Identifiers (UPNs, ULNs) in the one form they are compared and pseudonymised in."""

from __future__ import annotations

import polars as pl


def canonical_id(column: str) -> pl.Expr:
    """An identifier column trimmed and upper-cased, as identifiers are compared and
    pseudonymised (see `canonical`)."""
    return pl.col(column).map_batches(canonical, return_dtype=pl.Utf8)


def canonical(values: pl.Series) -> pl.Series:
    """Identifiers trimmed and upper-cased; values that already are (as extracts mostly
    write them) are returned as they are: finding that out takes a third of the time of
    doing it to 9 million UPNs."""
    if values.str.contains(r"[^A-Z0-9]").any():
        return values.str.to_uppercase().str.strip_chars()
    return values
