"""Read a landed file into an all-text polars frame with the contract's column names.

Everything is read as text so that a bad value is a row to quarantine, not a file that fails
to parse; typing happens after validation. CSV may be UTF-8 (with or without BOM) or
Windows-1252; XLSX is read from its first sheet.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas.contracts import Contract, normalise_header


class FileRejected(Exception):
    """The whole file is unusable; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class RawTable:
    frame: pl.DataFrame  # all Utf8, original header names
    encoding: str


def decode(data: bytes) -> tuple[bytes, str]:
    """UTF-8 bytes of a CSV and the encoding it came in."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FileRejected(f"has a UTF-8 byte order mark but is not UTF-8 ({e.reason} at "
                               f"byte {e.start})") from None
        return data, "utf-8-sig"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252").encode("utf-8"), "windows-1252"
    except UnicodeDecodeError as e:
        raise FileRejected(f"is neither UTF-8 nor Windows-1252 text (byte {e.start})") from None


def read_raw(path: Path) -> RawTable:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        data = path.read_bytes()
        if not data.strip():
            raise FileRejected("is empty")
        if b"\x00" in data[:4096]:
            raise FileRejected("is not a CSV file (it contains binary data)")
        text, encoding = decode(data)
        try:
            frame = pl.read_csv(io.BytesIO(text), infer_schema=False, has_header=True)
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
            first = str(e).strip().splitlines()[0]
            raise FileRejected(f"could not be read as CSV: {first}") from None
        return RawTable(frame, encoding)
    if suffix == ".xlsx":
        try:
            frame = pl.read_excel(path, sheet_id=1, infer_schema_length=0)
        except Exception as e:  # fastexcel raises its own error types for broken workbooks
            raise FileRejected(f"could not be read as XLSX: {str(e).splitlines()[0]}") from None
        return RawTable(frame.select(pl.all().cast(pl.Utf8)), "xlsx")
    raise FileRejected(f"is not a CSV or XLSX file (extension {path.suffix or 'none'!r})")


@dataclass(frozen=True)
class Conformed:
    frame: pl.DataFrame  # contract column names, text, trimmed, blanks as null
    unknown_columns: list[str]


def conform(raw: pl.DataFrame, contract: Contract) -> Conformed:
    """Rename headers to the contract's names; reject the file when required ones are missing."""
    aliases = contract.alias_map()
    rename: dict[str, str] = {}
    unknown: list[str] = []
    for name in raw.columns:
        target = aliases.get(normalise_header(name))
        if target is None:
            unknown.append(name)
        elif target in rename.values():
            raise FileRejected(f"has two columns for {target!r} ({name!r} and another)")
        else:
            rename[name] = target
    missing = [c for c in contract.required if c not in rename.values()]
    if missing:
        raise FileRejected(f"lacks required column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(missing)}")
    if raw.height == 0:
        raise FileRejected("has a header but no rows")
    frame = raw.select([pl.col(src).alias(dst) for src, dst in rename.items()])
    optional = [c.name for c in contract.columns if c.name not in frame.columns]
    frame = frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in frame.columns]
        + [pl.lit(None, pl.Utf8).alias(c) for c in optional])
    return Conformed(frame.select([c.name for c in contract.columns]), unknown)
