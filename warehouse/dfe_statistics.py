"""The DfE's EHC plans statistics: landed releases (published/) into stage.dfe_statistics, one row a
figure, and the release that ships with sendboard.

Each row carries the `release` it came from (its reporting year, read from the figures: see
transforms.dfe_statistics.release_of). A file replaces the rows of its own release, kind and years
(a revised file of the same release); other releases stay side by side, and the build takes
each figure from the newest release that has it (transforms.benchmarks.headline_figures), so
loading an older release after a newer one changes no newer figure.

The 2025 release's national, regional and LA headline rows ship in
warehouse/reference/dfe_ehcp_2025.parquet (regenerate with
`python -m warehouse.dfe_statistics FOLDER`): with no release landed the benchmarks and
reconciliation still run, and a landed release is one more, newer or older, beside it.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from transforms import appeal_rates
from transforms.benchmarks import headline_figures, measure_parts, year_named_stems
from transforms.dfe_statistics import ees_schema, is_ees, recognise, release_of, tidy
from transforms.inclusion_benchmarks import PUBLICATIONS
from transforms.inclusion_benchmarks import measure_rows as inclusion_measures
from transforms.readers import FileRejected, RawTable, read_raw
from transforms.validate import validate
from warehouse import store
from warehouse.files import LandedFile, Prepared, Read, periods_text
from warehouse.reference import REFERENCE, local_authorities

TABLE = "stage.dfe_statistics"
PERIOD_COLUMNS = ("release", "kind", "year")
SHIPPED = REFERENCE / "dfe_ehcp_2025.parquet"
LEVELS = ("National", "Regional", "Local authority")


def _unnamed_blank(frame: pl.DataFrame) -> list[str]:
    # Trailing commas in a header (a file saved from Excel) give columns with no name and no
    # values: noted and left out, where as measures they would be a blank figure a row.
    return [c for c in frame.columns if c.startswith("(unnamed column ")
            and frame[c].str.strip_chars().replace("", None).null_count() == frame.height]


def read_release_file(path: Path) -> tuple[pl.DataFrame, list[str], str, object]:
    """One EES file read and validated: (text rows, columns left out, kind, Validated).
    Raises FileRejected for a file that is not an EES file."""
    raw = read_raw(path)
    dropped = _unnamed_blank(raw.frame)
    frame = raw.frame.drop(dropped)
    columns = [c for c in frame.columns if c != "row_number"]
    table = not is_ees(columns) and appeal_rates.is_appeal_rate_table(frame)
    if table:
        raw, frame = _appeal_rate_rows(raw, frame)
        columns = [c for c in frame.columns if c != "row_number"]
    if not is_ees(columns):
        raise FileRejected("is not a DfE statistics file (it lacks time_period, "
                           "time_identifier or geographic_level)")
    if frame.height == 0:
        raise FileRejected("has a header but no rows")
    v = validate(frame, ees_schema(columns), set())
    if table:
        # A line of the table is a record a year: a bad figure in one quarantines the line,
        # and the rows read are the table's lines, not its records.
        bad = pl.col("row_number").is_in(v.quarantine["row_number"].unique().implode())
        v = replace(v, good=v.good.filter(~bad.fill_null(False)),
                    rows_read=frame["row_number"].drop_nulls().n_unique())
    lower = {c.strip().lower(): c for c in columns}

    def values(name: str) -> set[str]:
        col = lower.get(name)
        return set(v.good[col].drop_nulls().unique().to_list()) if col else set()

    kind = recognise(columns, values("time_identifier"), values("breakdown_topic"))
    return raw, dropped, kind, v


def _appeal_rate_rows(raw: RawTable, frame: pl.DataFrame) -> tuple[RawTable, pl.DataFrame]:
    """The release's SEND Tribunal appeal rate table (a spreadsheet export) as the EES rows
    it holds; the lines that cannot be placed join the reader's problems."""
    try:
        rows, unplaced = appeal_rates.as_ees(frame, local_authorities())
    except ValueError as e:
        raise FileRejected(str(e)) from None
    return replace(raw, problems=pl.concat([raw.problems, unplaced])), rows


def prepare_release(f: LandedFile) -> Prepared:
    try:
        raw, dropped, kind, v = read_release_file(f.path)
    except FileRejected as e:
        return Prepared(f, rejection=str(e))
    staged = tidy(v.good, kind)
    release = release_of(staged)
    staged = staged.with_columns(pl.lit(release, pl.Int32).alias("release"))
    read = Read(v, pl.concat([raw.problems, v.quarantine]), dropped, raw)
    years = periods_text(staged, ("year",)) or ""
    return Prepared(f, TABLE, PERIOD_COLUMNS, read, staged,
                    period=f"{kind} {years}",
                    periods=[str(y) for y in sorted(staged["year"].unique().to_list())],
                    # An absence or exclusions file holds some periods of a year (a term, two
                    # terms, the full year), and another file the year's others: a re-issued
                    # file replaces the periods it holds, not the year.
                    replace_columns=(*PERIOD_COLUMNS, "time_identifier")
                    if kind in PUBLICATIONS else None,
                    # rows of the file, not its figures
                    loaded=v.good["row_number"].drop_nulls().n_unique())


@cache
def _shipped(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def shipped_release(path: Path = SHIPPED) -> pl.DataFrame:
    """The release shipped with sendboard: tidy rows with `release` and `sha256` (of the DfE
    file each came from)."""
    return _shipped(path)


def _candidates(frame_sql: str) -> str:
    """A WHERE clause keeping only rows that can be a benchmark figure (the rest of a release
    is most of its 3.6 million rows)."""
    def listed(values) -> str:
        return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)

    parts = measure_parts()
    kinds = listed(parts["kind"].unique().sort())
    measures = listed(parts["measure"].unique().sort())
    named = listed(parts["part"].drop_nulls().unique().sort())
    # Columns named for their year are kept by their stem (year_relative reads them; `_`
    # matching any character only keeps a few rows more, which headline_figures drops).
    stems = "".join(f" OR measure LIKE '{stem}_%'" for stem in year_named_stems())
    ehcp = (f"kind IN ({kinds}) AND (measure IN ({measures}){stems}) AND (breakdown IS "
            f"NULL OR breakdown = breakdown_topic OR breakdown IN ({named}))")
    # The absence and exclusions files: their headline rows and any SEN breakdown (which of
    # them is a SEN status is transforms.inclusion_benchmarks.sen_status's to say).
    inclusion = inclusion_measures()
    sen = (f"kind IN ({listed(inclusion['kind'].unique().sort())}) AND measure IN "
           f"({listed(inclusion['measure'].unique().sort())}) AND (breakdown IS NULL OR "
           "breakdown = breakdown_topic OR lower(concat(breakdown_topic, ' ', breakdown)) "
           "LIKE '%sen%')")
    return (f"{frame_sql} WHERE geographic_level IN ({listed(LEVELS)}) "
            f"AND (({ehcp}) OR ({sen}))")


def _landed(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    if not store.table_exists(con, TABLE):
        return None
    rows = store.read(con, _candidates(f"SELECT * FROM {TABLE}"))
    names = store.read(con, f"SELECT sha256, min(original_name) AS file FROM audit.files "
                            f"WHERE sha256 IN (SELECT DISTINCT sha256 FROM {TABLE}) "
                            "GROUP BY sha256")
    if "release" not in rows.columns:  # a stage table from before releases were told apart
        rows = rows.with_columns(pl.lit(None, pl.Int32).alias("release"))
    file = pl.format("{} {}", pl.col("file"), pl.col("sha256").str.slice(0, 12))
    return rows.join(names, on="sha256", how="left").with_columns(
        pl.lit(False).alias("shipped"),
        pl.when(pl.col("release").is_null()).then(pl.format("DfE statistics ({})", file))
        .when(pl.col("kind").is_in(list(PUBLICATIONS)))
        .then(pl.format("DfE {} ({} {}, {})", pl.col("kind").replace_strict(PUBLICATIONS),
                        pl.col("time_identifier").str.to_lowercase(),
                        _academic_year(pl.col("time_period")), file))
        .otherwise(pl.format("DfE EHC plans {} release ({})", pl.col("release"), file))
        .alias("source"))



def _academic_year(period: pl.Expr) -> pl.Expr:
    """`2024/25` from `202425`."""
    return pl.when(period.str.len_chars() == 6).then(
        pl.format("{}/{}", period.str.slice(0, 4), period.str.slice(4, 2))).otherwise(period)


def _describe(figures: pl.DataFrame) -> str:
    """The releases the figures came from, newest first, for a table's source line."""
    inclusion = pl.col("kind").is_in(list(PUBLICATIONS))
    used = figures.filter(~inclusion).group_by("release", "shipped").agg(
        pl.col("file").drop_nulls().unique().sort()).sort(
        "release", "shipped", descending=[True, False], nulls_last=True)
    out = []
    for release, shipped, files in used.iter_rows():
        what = f"{release} release" if release else "release not known"
        if shipped:
            out.append(f"{what} (shipped with sendboard)")
        else:
            out.append(f"{what} ({', '.join(files) if len(files) <= 3 else f'{len(files)} files'})")
    parts = ["DfE EHC plans statistics: " + "; ".join(out)] if out else []
    # The absence and exclusions files, by publication, each with its files.
    for name in dict.fromkeys(PUBLICATIONS.values()):
        kinds = [k for k, n in PUBLICATIONS.items() if n == name]
        files = sorted(set(figures.filter(pl.col("kind").is_in(kinds))["file"].drop_nulls()))
        if files:
            named = ", ".join(files) if len(files) <= 3 else f"{len(files)} files"
            parts.append(f"DfE {name} ({named})")
    return "; ".join(parts)


def published_rows(con: duckdb.DuckDBPyConnection, shipped: Path | None = SHIPPED
                   ) -> pl.DataFrame | None:
    """The candidate rows (tidy, with `release`, `shipped` and `source`) of every release
    landed in stage.dfe_statistics and of the shipped one; None without any."""
    frames = []
    landed = _landed(con)
    if landed is not None:
        frames.append(landed)
    if shipped is not None and shipped.is_file():
        release = shipped_release(shipped)
        frames.append(pl.SQLContext(shipped=release).execute(
            _candidates("SELECT * FROM shipped"), eager=True).with_columns(
            pl.lit(True).alias("shipped"), pl.lit(None, pl.Utf8).alias("file"),
            pl.format("DfE EHC plans {} release (shipped with sendboard)", pl.col("release"))
            .alias("source")))
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def figures_of(rows: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """The benchmark figures (transforms.benchmarks.headline_figures) of published_rows,
    newest release first for each figure, each with its `source`; and the source line naming
    the releases used."""
    figures = headline_figures(rows)
    return figures.drop("file"), _describe(figures)


def dfe_figures(con: duckdb.DuckDBPyConnection, shipped: Path | None = SHIPPED
                ) -> tuple[pl.DataFrame, str] | None:
    """figures_of every landed release and the shipped one; None without any."""
    rows = published_rows(con, shipped)
    return None if rows is None else figures_of(rows)


def ship_release(release: Path, out: Path = SHIPPED) -> pl.DataFrame:
    """Write the shipped copy of a DfE release (a folder of its data CSVs): the national,
    regional and LA headline rows (all plans; every measure) of every file, as tidy rows with
    their `release` and `sha256`, zstd Parquet. A file with a quarantined row, or files of
    different releases, stop it: the shipped copy is the release exactly as published."""
    frames = []
    for path in sorted(release.glob("*.csv")):
        try:
            _, _, kind, v = read_release_file(path)
        except FileRejected as e:
            raise ValueError(f"{path.name} {e}") from None
        if v.quarantine.height:
            raise ValueError(f"{path.name} has {v.rows_quarantined} rows that fail the "
                             "published schema")
        rows = tidy(v.good, kind)
        frames.append(rows.filter(
            pl.col("geographic_level").is_in(LEVELS)
            & (pl.col("breakdown").is_null() | (pl.col("breakdown") == pl.col("breakdown_topic"))))
            .with_columns(pl.lit(release_of(rows), pl.Int32).alias("release"),
                          pl.lit(hashlib.sha256(path.read_bytes()).hexdigest()).alias("sha256")))
    if not frames:
        raise ValueError(f"{release} has no CSV files")
    shipped = pl.concat(frames).sort("kind", "measure", "geographic_level", "region_code",
                                     "new_la_code", "year", nulls_last=False)
    if shipped["release"].n_unique() != 1:
        raise ValueError(f"{release} mixes releases {sorted(shipped['release'].unique())}")
    out.parent.mkdir(parents=True, exist_ok=True)
    shipped.write_parquet(out, compression="zstd", compression_level=19, statistics=False)
    _shipped.cache_clear()
    return shipped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m warehouse.dfe_statistics", description=(
        "Regenerate the DfE release shipped with sendboard from the release's data CSVs."))
    p.add_argument("release", help="folder of the release's data CSVs (the DfE's zip unpacked)")
    p.add_argument("--out", default=str(SHIPPED), help="Parquet to write (default: %(default)s)")
    args = p.parse_args(argv)
    shipped = ship_release(Path(args.release), Path(args.out))
    print(f"wrote {shipped.height} rows of the {shipped['release'][0]} release to {args.out} "
          f"({Path(args.out).stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
