"""Read a landed file into an all-text polars frame with the contract's column names.

Everything is read as text so that a bad value is a row to quarantine, not a file that fails
to parse; typing happens after validation. CSV may be UTF-8 (with or without BOM) or
Windows-1252; XLSX is read from its first sheet.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from schemas.contracts import Contract, normalise_header

# The csv module refuses a field over 128 KiB, where polars' reader takes any: a file read the
# careful way (its layout is not simple) would lose rows the fast way loads. Raised once, for
# the process; a file's size is the only limit left.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


class FileRejected(Exception):
    """The whole file is unusable; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class RawTable:
    """A file's rows as text: original headers plus `row_number` (the row a spreadsheet shows
    for it: the header is row 1). Records that cannot be rows at all (a truncated or
    misaligned line) are in `problems`, in the quarantine layout."""

    frame: pl.DataFrame
    encoding: str
    problems: pl.DataFrame
    empty_rows: int = 0
    padded: bool = True  # some value may need trimming or be "" (see `padded`)


PROBLEM_SCHEMA = {"row_number": pl.Int64, "column_name": pl.Utf8, "rule": pl.Utf8,
                  "value_masked": pl.Utf8}


def _no_problems() -> pl.DataFrame:
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


# UTF-8's encodings of the letters and signs names and amounts hold (U+00A0-U+017F: accented
# letters, the pound sign; curly quotes, dashes, the ellipsis, the euro). In Windows-1252
# text these byte pairs read as two unlikely neighbours (Ã©, Â£, â€™), so a file that is not
# UTF-8 but holds one mixes the two encodings.
_UTF8_TEXT = re.compile(rb"\xc2[\xa0-\xbf]|[\xc3-\xc5][\x80-\xbf]|\xe2\x80[\x93\x94\x98-\x9e\xa6]"
                        rb"|\xe2\x82\xac")
_UTF8_LEAD = re.compile(rb"[\xc2-\xc5\xe2][\x80-\xbf]")


def _utf8_text(data: bytes) -> re.Match | None:
    """The first of _UTF8_TEXT in `data`. Its alternation tried at every byte takes about a
    second on a national GIAS extract; a lead byte followed by a continuation byte is found
    about five times faster, and only those places are matched."""
    for candidate in _UTF8_LEAD.finditer(data):
        if m := _UTF8_TEXT.match(data, candidate.start()):
            return m
    return None


def decode(data: bytes) -> tuple[bytes, str]:
    """UTF-8 bytes of a CSV and the encoding it came in. A file that is neither UTF-8 nor
    Windows-1252, or mixes the two, is rejected whole."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FileRejected(f"has a UTF-8 byte order mark but is not UTF-8 ({e.reason} at "
                               f"byte {e.start})") from None
        return data, "utf-8-sig"
    if data.isascii():  # a C scan, where decoding would build a second copy of the file
        return data, "utf-8"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError as e:
        not_utf8 = e.start
    if utf8 := _utf8_text(data):
        # Read as Windows-1252, its UTF-8 letters would change silently (é as Ã©).
        raise FileRejected(
            f"mixes UTF-8 and Windows-1252 text (UTF-8 {utf8.group().decode()!r} at byte "
            f"{utf8.start()}, a byte that is not UTF-8 at byte {not_utf8}): save it again as "
            "'CSV UTF-8 (Comma delimited)' and land it again")
    try:
        return data.decode("cp1252").encode("utf-8"), "windows-1252"
    except UnicodeDecodeError as e:
        raise FileRejected(f"is neither UTF-8 nor Windows-1252 text (byte {e.start})") from None


def _drop_empty_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    data = [c for c in frame.columns if c != "row_number"]
    blank = pl.col(data[0]).is_null() | (pl.col(data[0]).str.strip_chars() == "")
    if not frame.select(blank.any()).item():  # an empty row starts with a blank cell
        return frame, 0
    empty = pl.all_horizontal(pl.col(data).is_null() | (pl.col(data).str.strip_chars() == ""))
    kept = frame.filter(~empty)
    return kept, frame.height - kept.height


def _trimmed_end(text: bytes) -> int:
    end = len(text)
    while end and text[end - 1] in b"\r\n":  # as rstrip, without copying the file
        end -= 1
    return end


def _header_width(text: bytes, end: int) -> int:
    """Commas outside quotes in the first line."""
    first = text.find(b"\n", 0, end)
    header = np.frombuffer(text, dtype=np.uint8, count=end if first < 0 else first)
    return int(np.count_nonzero((header == ord(",")) & ~_inside_quotes(header, 0)))


def _simple_layout(text: bytes) -> bool:
    """True when every line is one record with the header's field count (quoted fields
    allowed, but not quoted line breaks; no blank or ragged lines). Then polars' fast reader
    gives exactly the rows and row numbers the careful reader would."""
    end = _trimmed_end(text)
    width = _header_width(text, end)
    if width == 0:  # one column: only blank lines could break it
        return _no_blank_line(text, end)
    return _commas_per_line_are(text, end, width, b'"' in text)


def _no_blank_line(text: bytes, end: int) -> bool:
    return all(line.strip() for line in text[:end].split(b"\n"))


def _read_fast(text: bytes, keep: list[int]) -> pl.DataFrame | None:
    """polars' fast reader's rows when they are exactly the careful reader's (see
    _simple_layout), else None. A file without quotation marks is read first and checked
    after, by counting: reading every column, polars refuses a line with more fields than
    the header, and reads every other line (blank ones too) as one row, so rows + 1 lines
    holding (rows + 1) x width commas leave no line short. Two counts of the bytes, where
    the line-by-line check takes a thousand numpy calls, each of which waits for the
    interpreter lock again while other threads run Python (a national census read beside an
    import: 1 s became 27). Reading only some columns, polars would cut a long line to fit
    instead of refusing it, and the counts could not tell a line with too many fields beside
    one with too few (or a blank one) from two good lines: so every column is read and only
    the wanted ones (`keep`) returned. A lone CR (not before an LF) ends a line for the
    careful reader, as for Excel, and for polars does not: such a file is read the careful
    way."""
    if b"\r" in text and text.count(b"\r") != text.count(b"\r\n"):
        return None
    quoted = b'"' in text
    if quoted and not _simple_layout(text):
        return None
    try:
        # Without quotes every column is read, and the columns not wanted dropped after:
        # then the two counts below prove every line whole, where a line cut to fit the
        # wanted columns would need each line's commas counted (2.2 s of numpy on one core
        # for a national census, against 0.1-0.4 s more for polars, on every core, to
        # parse the other columns too).
        frame = pl.read_csv(text, infer_schema=False, has_header=True,
                            columns=keep if quoted else None,
                            row_index_name="row_number", row_index_offset=2)
    except pl.exceptions.ColumnNotFoundError:
        return None  # polars finds fewer header cells than the csv module: let that judge
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
        if not quoted:
            return None  # a line too long: the careful reader says which
        first = str(e).strip().splitlines()[0]
        raise FileRejected(f"could not be read as CSV: {first}") from None
    if not quoted:
        end = _trimmed_end(text)
        width = _header_width(text, end)
        lines, commas = _count_bytes(text, end, (ord("\n"), ord(",")))
        # Blank lines at the very end are rows to polars (empty ones, dropped later).
        blank_at_end = max(text.count(b"\n", end) - 1, 0)
        fits = (frame.width == width + 2 and lines + blank_at_end == frame.height
                and commas == (lines + 1) * width and (width > 0 or _no_blank_line(text, end)))
        if not fits:
            return None
        frame = frame.select(frame.columns[0], *(frame.columns[i + 1] for i in keep))
    return frame


# Large: each numpy call on a chunk lets go of the interpreter lock and must win it back,
# which takes up to 5 ms while another thread runs Python (Prefect's, an import). 32 MB
# chunks are a few dozen calls for a national census, not thousands.
_CHUNK = 32 << 20


def _count_bytes(text: bytes, stop: int, values: tuple[int, ...]) -> list[int]:
    """How many times each byte value occurs in text[:stop], with numpy in large chunks."""
    whole = np.frombuffer(text, dtype=np.uint8, count=stop)
    counts = [0] * len(values)
    for start in range(0, stop, _CHUNK):
        chunk = whole[start:start + _CHUNK]
        for i, value in enumerate(values):
            counts[i] += int(np.count_nonzero(chunk == value))
    return counts


def _inside_quotes(chunk: np.ndarray, carry: int) -> np.ndarray:
    """For each byte, whether an odd number of quotation marks come before it (`carry`: 1
    when the chunk starts inside quotes). A doubled quote inside a quoted field toggles
    twice, so it changes nothing."""
    quotes = (chunk == ord('"')).view(np.uint8)
    parity = np.bitwise_xor.accumulate(quotes) ^ np.uint8(carry)
    return (parity ^ quotes).astype(bool)  # a quote itself by the marks before it


def _commas_per_line_are(body: bytes, stop: int, width: int, quoted: bool = False) -> bool:
    """Every line of `body[:stop]` has `width` commas outside quotes (so none is blank), no
    line break is inside quotes and every quote is closed: counted with numpy a chunk at a
    time, where a Python loop (or a regular expression, which holds the interpreter lock
    while other files read) over millions of lines would take seconds."""
    start = 0
    whole = np.frombuffer(body, dtype=np.uint8, count=stop)
    while start < stop:
        end = body.find(b"\n", start + _CHUNK, stop)
        end = stop if end < 0 else end + 1
        chunk = whole[start:end]
        commas = chunk == ord(",")
        ends = np.flatnonzero(chunk == ord("\n"))
        if quoted:
            inside = _inside_quotes(chunk, 0)
            if inside[ends].any() or (end == stop and inside[-1] != (chunk[-1] == ord('"'))):
                return False  # a quoted line break, or a quote never closed
            commas &= ~inside
        if end == stop:
            ends = np.append(ends, len(chunk))
        if not (np.diff(np.searchsorted(np.flatnonzero(commas), ends), prepend=0)
                == width).all():
            return False
        start = end
    return True


# Bytes that start a UTF-8 white-space character other than ASCII's: C2 85 and C2 A0
# (U+0085, U+00A0), and E1, E2, E3 (U+1680, U+2000-U+205F, U+3000), with what may follow.
_WIDE_SPACE_LEADS = (0xE1, 0xE2, 0xE3)
_FIELD_EDGES = np.array([ord(","), ord("\n"), ord('"')], dtype=np.uint8)


def padded(text: bytes) -> bool:
    """Whether a field of this CSV may start or end with white space (or be quoted, and so
    hold anything), judged from the bytes with numpy a chunk at a time. False lets conform
    skip trimming every value, which on a national census is seconds and a copy of it.
    Errs towards True: an ASCII white-space byte next to a comma, quote, line break or the
    file's ends, or any byte that may start a non-ASCII white-space character."""
    if b'"' in text:
        return True
    if not text.isascii() and _wide_spaces(text):
        return True
    # Other bytes of multi-byte characters are all above " ", so they never count below.
    start, stop = 0, len(text)
    whole = np.frombuffer(text, dtype=np.uint8)
    while start < stop:
        end = min(start + _CHUNK, stop)
        chunk = whole[start:end]
        # Counting first, since most chunks of most files hold no white space but line breaks.
        if np.count_nonzero(chunk <= ord(" ")) > np.count_nonzero(chunk == ord("\n")):
            at = start + np.flatnonzero((chunk <= ord(" ")) & (chunk != ord("\n")))
            before = np.where(at > 0, whole[np.maximum(at - 1, 0)], ord("\n"))
            after = np.where(at < stop - 1, whole[np.minimum(at + 1, stop - 1)], ord("\n"))
            line_end = (whole[at] == ord("\r")) & (after == ord("\n"))
            edge = np.isin(before, _FIELD_EDGES) | np.isin(after, _FIELD_EDGES) | (
                after == ord("\r"))
            if (edge & ~line_end).any():
                return True
        start = end
    return False


def _wide_spaces(text: bytes) -> bool:
    """Whether UTF-8 text may hold a non-ASCII white-space character."""
    whole = np.frombuffer(text, dtype=np.uint8)
    leads = np.flatnonzero(whole >= 0xC2)
    if np.isin(whole[leads], _WIDE_SPACE_LEADS).any():
        return True
    follow = whole[np.minimum(leads + 1, len(whole) - 1)]
    return bool(((whole[leads] == 0xC2) & ((follow == 0x85) | (follow == 0xA0))).any())


def moved(frame: pl.DataFrame, each) -> pl.DataFrame:
    """A frame of `each(column)` for `frame`'s columns, which are moved out of it (it is left
    empty) one at a time: each column's old version is let go before the next is made, so a
    large file is never held twice."""
    return pl.DataFrame([each(frame.drop_in_place(name)) for name in list(frame.columns)])


def _problem(row: int, rule: str, value: str) -> dict:
    return {"row_number": row, "column_name": "(whole row)", "rule": rule, "value_masked": value}


def _read_csv_records(text: bytes) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """The careful path: Python's csv module (Excel's quoting), record by record, so a record
    with the wrong number of fields is reported with its row number instead of being padded
    or cut to fit. A quotation mark that is never closed would swallow the rest of the file
    into one field: then each line is read on its own and the unbalanced line is reported.
    The header is the first record with a cell that is not blank (as in a workbook): blank
    lines above it are skipped. Returns the header's cells, the rows (columns by position,
    then `row_number`) and the records that cannot be rows."""
    decoded = text.decode("utf-8")
    try:
        records = _file_records(decoded)
    except csv.Error:
        records = _line_records(decoded)
    header = next((r for r in records if r[1] is None or not _blank(r[1])), None)
    if header is None:
        raise FileRejected("is empty")
    if header[1] is None:
        raise FileRejected(f"has an unmatched quotation mark in its header (line {header[0]})")
    names = header[1]
    rows: list[list[str]] = []
    numbers: list[int] = []
    problems: list[dict] = []
    for start, record in records:
        if record is None:
            problems.append(_problem(start, "has an unmatched quotation mark", "<1 line>"))
        elif len(record) != len(names):
            problems.append(_problem(start, f"has {len(record)} fields where the header has "
                                            f"{len(names)} (a truncated or misaligned line)",
                                     f"<{len(record)} fields>"))
        elif record:
            rows.append(record)
            numbers.append(start)
    # By position: the header's own cells may repeat or be blank (_header_names judges them).
    schema = {f"column {i}": pl.Utf8 for i in range(len(names))}
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)
    frame = frame.with_columns(pl.Series("row_number", numbers, dtype=pl.Int64))
    return names, frame, pl.DataFrame(problems, schema=PROBLEM_SCHEMA)


def _blank(record: list[str]) -> bool:
    return all(not cell.strip() for cell in record)


def _file_records(decoded: str):
    """(first line of the record, fields) for every non-blank record; raises csv.Error."""
    reader = csv.reader(io.StringIO(decoded, newline=""), strict=True)
    out = []
    ended = 0
    for record in reader:
        start, ended = ended + 1, reader.line_num
        if record:
            out.append((start, record))
    return iter(out)


def _line_records(decoded: str):
    """Each line as its own record; None for a line whose quotes do not balance."""
    for number, line in enumerate(decoded.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, next(csv.reader([line], strict=True))
        except csv.Error:
            yield number, None


def _first_record(text: str) -> list[str]:
    """The header's cells from the start of a decoded CSV: its first record with a cell that
    is not blank, line breaks being LF, CRLF or a lone CR (as old Mac software writes them);
    [] when there is none."""
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            if not _blank(record):
                return record
    except csv.Error:  # (a record cut off by the end of `text`): its cells so far
        pass
    return []


def _header_names(header: list) -> list[str]:
    """Header cells as column names; a blank header becomes `(unnamed column N)` so that its
    data is reported as an unknown column rather than lost."""
    names = [("" if h is None else str(h)).strip().lstrip("\ufeff") for h in header]
    names = [n or f"(unnamed column {i})" for i, n in enumerate(names, 1)]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise FileRejected(f"has repeated column names: {', '.join(dup)}")
    return names


def read_raw(path: Path, unread: set[str] = frozenset(),
             only: set[str] | None = None) -> RawTable:
    """The file's rows as text columns; columns whose normalised header is in `unread`, or
    not in `only` when given, are not returned (the fast CSV path parses them only in a file
    without quotation marks, where that is what proves its lines whole, and drops them at
    once)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        data = path.read_bytes()
        if not data or data.isspace():  # (strip() would copy the file)
            raise FileRejected("is empty")
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise FileRejected("is UTF-16 text (Excel's 'Unicode Text'): save it as 'CSV UTF-8 "
                               "(Comma delimited)' and land it again")
        if b"\x00" in data[:4096]:
            raise FileRejected("is not a CSV file (it contains binary data)")
        text, encoding = decode(data)
        head = text[:text.find(b"\n")] if b"\n" in text else text
        if b";" in head and b"," not in head:
            raise FileRejected("separates fields with semicolons: save it as comma-separated "
                               "CSV and land it again")
        problems = _no_problems()
        # The first line's cells, for the fast reader, which takes the first line as the
        # header (a first line that is blank, or holds a lone CR, sends the file the careful
        # way, which finds the header itself: see _read_fast).
        first_line = head.decode("utf-8").rstrip("\r")
        names = _header_names(next(csv.reader([first_line.split("\r", 1)[0]]), []))
        keep = [i for i, n in enumerate(names) if _wanted(n, unread, only)]
        trim = True  # the careful reader gives "" for an empty cell
        frame = _read_fast(text, keep)
        if frame is not None:
            trim = padded(text)
            kept = [names[i] for i in keep]
            frame.columns = ["row_number", *kept]
            frame = frame.select(*kept, pl.col("row_number").cast(pl.Int64))
        else:
            header, frame, problems = _read_csv_records(text)
            names = _header_names(header)
            keep = [i for i, n in enumerate(names) if _wanted(n, unread, only)]
            frame.columns = [*names, "row_number"]
            frame = frame.select(*(names[i] for i in keep), "row_number")
        # One chunk (polars reads in hundreds), copied once the file's bytes are let go: the
        # rules and staging over hundreds of chunks hold gigabytes more.
        del data, text
        frame = moved(frame, pl.Series.rechunk)
        frame, empty = _drop_empty_rows(frame)
        return RawTable(frame, encoding, problems, empty, trim)
    if suffix == ".xlsx":
        raw = _read_xlsx(path)
        unwanted = [c for c in raw.frame.columns
                    if c != "row_number" and not _wanted(c, unread, only)]
        return replace(raw, frame=raw.frame.drop(unwanted)) if unwanted else raw
    raise FileRejected(f"is not a CSV or XLSX file (extension {path.suffix or 'none'!r})")


def _wanted(name: str, unread: set[str], only: set[str] | None) -> bool:
    key = normalise_header(name)
    return key not in unread and (only is None or key in only)


def header_of(path: Path) -> list[str]:
    """A CSV's header cells (decoded as read_raw decodes the file), without reading the
    rest; [] for a file that is not a readable CSV (read_raw says why when it loads)."""
    if path.suffix.lower() not in (".csv", ".txt"):
        return []
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    head = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        # A character cut by the end of the 64 KiB read is no reason to read it as cp1252.
        text = head[:e.start].decode("utf-8") if e.start > len(head) - 4 else head.decode(
            "cp1252", errors="replace")
    return [h.strip() for h in _first_record(text)]


def _read_xlsx(path: Path) -> RawTable:
    """First sheet; the header is the first non-blank row (Excel files often start with blank
    rows); row numbers are the sheet's own."""
    import fastexcel

    try:
        sheet = fastexcel.read_excel(str(path)).load_sheet(0, header_row=None, skip_rows=0,
                                                           dtypes="string")
        grid = sheet.to_polars()
    except Exception:  # fastexcel has its own error types for broken workbooks
        raise FileRejected("could not be read as XLSX: the workbook is damaged or is not an "
                           "Excel file") from None
    grid = grid.with_row_index("row_number", offset=1).with_columns(
        pl.col("row_number").cast(pl.Int64))
    filled = grid.select(pl.any_horizontal(pl.exclude("row_number").is_not_null()))
    header_at = filled.to_series().arg_true()
    if header_at.len() == 0:
        raise FileRejected("is empty (its first sheet has no cells)")
    h = int(header_at[0])
    names = _header_names(list(grid.row(h)[1:]))
    data = grid.slice(h + 1)
    data.columns = ["row_number", *names]
    frame, empty = _drop_empty_rows(data.select(*names, "row_number"))
    return RawTable(frame, "xlsx", _no_problems(), empty)


@dataclass(frozen=True)
class Conformed:
    frame: pl.DataFrame  # contract column names, text, trimmed, blanks as null
    unknown_columns: list[str]


def conform(raw: pl.DataFrame, contract: Contract, trim: bool = True) -> Conformed:
    """Rename headers to the contract's names; reject the file when required ones are missing.

    Values are trimmed and blank cells become null; `row_number` is kept. `trim=False` (no
    value is padded and no cell is an empty string, as `RawTable.padded` says of a file read
    by polars, which reads an empty cell as null) keeps the values as they are.
    """
    aliases = contract.alias_map()
    rename: dict[str, str] = {}
    unknown: list[str] = []
    for name in raw.columns:
        if name == "row_number":
            continue
        target = aliases.get(normalise_header(name))
        if target is None:
            unknown.append(name)
        elif target in rename.values():
            first = next(k for k, v in rename.items() if v == target)
            raise FileRejected(f"has two columns for {target} ({first!r} and {name!r})")
        else:
            rename[name] = target
    missing = [c for c in contract.required if c not in rename.values()]
    if missing:
        raise FileRejected(f"lacks required column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(missing)}")
    if raw.height == 0:
        raise FileRejected("has a header but no rows")
    # Built from the columns themselves: select, drop and with_columns would each copy the
    # whole file into one chunk (a national census is read in 300 chunks: 1.6 GB more at
    # the run's memory peak).
    columns = {dst: raw.get_column(src).alias(dst) for src, dst in rename.items()}
    if trim:
        columns = {c: v.str.strip_chars().replace("", None) for c, v in columns.items()}
    frame = pl.DataFrame([columns[c] if c in columns else pl.repeat(
        None, raw.height, dtype=pl.Utf8, eager=True).alias(c) for c in contract.kept]
        + [raw.get_column("row_number")])
    return Conformed(frame, unknown)
