"""The file types a load passes along: a landed file, what reading it gave, what preparing it
gave, and what became of it. No logic of their own beyond describing themselves, so that
every stage of a load (discovery, reading, the exports, committing) can import them without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from transforms.readers import RawTable
from transforms.validate import Validated


@dataclass(frozen=True)
class LandedFile:
    source: str
    path: Path
    sha256: str
    original_name: str | None = None  # when replayed from the archive (named by SHA-256)
    blade_table: str | None = None  # a census file's Blade table, from its header

    @property
    def name(self) -> str:
        return self.original_name or self.path.name


@dataclass
class FileOutcome:
    source: str
    name: str
    sha256: str
    status: str  # loaded, rejected, waiting, skipped
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    period: str | None = None
    top_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Discovery:
    new: list[LandedFile]
    warnings: list[str]


_FORMAT_NAMES = {"%Y-%m-%d": "yyyy-mm-dd", "%d/%m/%Y": "dd/mm/yyyy",
                 "%Y-%b-%d %H:%M:%S": "yyyy-Mon-dd hh:mm:ss", "%d-%m-%Y": "dd-mm-yyyy",
                 "%Y-%m-%d %H:%M:%S": "yyyy-mm-dd hh:mm:ss"}


@dataclass
class Read:
    """A file read and validated, not yet staged."""

    validated: Validated
    quarantine: pl.DataFrame  # reader problems and validation failures together
    unknown: list[str]
    raw: RawTable
    mixed_dates: dict[str, list[str]] = field(default_factory=dict)

    def take_good(self) -> pl.DataFrame:
        """The validated rows, which this read then no longer holds: whoever takes them is
        their only holder and can let them go (staging does, once typed)."""
        good = self.validated.good
        self.validated = replace(self.validated, good=good.clear())
        return good

    @property
    def rows_read(self) -> int:
        return self.validated.rows_read + self.raw.problems["row_number"].n_unique()

    @property
    def notes(self) -> str | None:
        notes = []
        if self.unknown:
            shown = ", ".join(self.unknown[:8]) + (" ..." if len(self.unknown) > 8 else "")
            notes.append(f"{len(self.unknown)} unknown column(s) ignored: {shown}")
        if self.raw.empty_rows:
            notes.append(f"{self.raw.empty_rows} empty row(s) skipped")
        for column, formats in self.mixed_dates.items():
            shown = " and ".join(_FORMAT_NAMES.get(f, f) for f in formats)
            notes.append(f"{column} has dates written in more than one format ({shown}); "
                         "all were read as day-month-year, never month-first")
        return "; ".join(notes) or None


@dataclass
class Prepared:
    """A single file read, validated and staged, not yet written: the part of a load that
    needs no database, so files can be prepared in parallel and committed in order."""

    file: LandedFile
    table: str | None = None
    period_columns: tuple[str, ...] = ()
    read: Read | None = None
    staged: pl.DataFrame | None = None
    rejection: str | None = None
    period: str | None = None
    periods: list[str] = field(default_factory=list)
    # The rows a re-issued file replaces, when finer than its periods: a census file
    # replaces the (census date, school) pairs it holds, so that returns made apart for one
    # census day (maintained schools, academies, a school at a time) add up.
    replace_columns: tuple[str, ...] | None = None
    # The rows it loaded, when not one a staged row (a DfE file is a staged row a figure).
    loaded: int | None = None

    @property
    def replaces(self) -> tuple[str, ...]:
        return self.period_columns if self.replace_columns is None else self.replace_columns


def top_reasons(q: pl.DataFrame) -> list[str]:
    """The three most common quarantine reasons of a file, with their row counts."""
    if q.height == 0:
        return []
    top = q.group_by("column_name", "rule").agg(pl.col("row_number").n_unique().alias("n")) \
        .sort(["n", "column_name"], descending=[True, False]).head(3)
    return [f"{r['column_name']} {r['rule']} ({r['n']})" for r in top.iter_rows(named=True)]


def period_values(staged: pl.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """The periods a file holds, one string each (`2024-25`; `E06000054 2024`)."""
    if not columns or staged.height == 0:
        return []
    # The distinct periods first, then their text: a census is 9 million rows of one date.
    return staged.select(columns).unique().select(pl.concat_str(
        [pl.col(c).cast(pl.Utf8) for c in columns], separator=" ")).to_series().unique().sort() \
        .to_list()


def periods_text(staged: pl.DataFrame, columns: tuple[str, ...]) -> str | None:
    """The periods a file holds, as audit text (`2024-25, 2025-26`, `2025-01-16`)."""
    if not columns:
        return "snapshot"
    if staged.height == 0:
        return None
    values = period_values(staged, columns)
    return ", ".join(values) if len(values) <= 6 else f"{values[0]} .. {values[-1]} " \
        f"({len(values)} periods)"
