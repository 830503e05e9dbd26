"""The SEND Tribunal appeal rate table the DfE's 2026 release ships as a supporting file (a
spreadsheet saved as CSV): read into the EES rows it holds, loaded, and benchmarked. Its real
opening lines and first two LA rows are in ../shared/external/dfe-ehcp-2026-headers.txt; the
other rows here are made up in the same layout (marked)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import archive_at
from tests.test_release_layouts import HEADERS_2026
from transforms.benchmarks import benchmarks, headline_figures
from transforms.dfe_statistics import tidy
from transforms.readers import FileRejected
from warehouse import loads, store
from warehouse.archive import sha256_of
from warehouse.dfe_statistics import read_release_file

NAME = "supporting-files/SEND appealable decisions rate 2024-2025.csv"
# Made up, in the file's layout: a South West heading, Wiltshire (a 2025 figure withheld).
WILTSHIRE = ["SOUTH WEST,,,,,,,", "Wiltshire,865,120,4000,3.00%,x,4100,x"]


def real_lines() -> list[str]:
    """The file's lines as the headers file keeps them: title, sources, years, header, the
    North East heading, Darlington and Durham."""
    lines = HEADERS_2026.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {NAME}") + 2
    return lines[start:lines.index("", start)]


def write_table(path: Path, *extra: str, lines: list[str] | None = None) -> Path:
    path.write_text("\n".join([*(real_lines() if lines is None else lines), *extra]) + "\n",
                    encoding="utf-8")
    return path


def tidy_table(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw, _, kind, v = read_release_file(path)
    assert kind == "ehcp_appeal_rate"
    return tidy(v.good, kind), pl.concat([raw.problems, v.quarantine])


def value(rows: pl.DataFrame, measure: str, year: int, level: str, code: str | None = None):
    got = rows.filter(pl.col("measure") == measure, pl.col("year") == year,
                      pl.col("geographic_level") == level)
    if code:
        got = got.filter(pl.coalesce("new_la_code", "region_code") == code)
    assert got.height == 1, got
    return got.select("value", "symbol").row(0)


def test_the_real_opening_rows_read_as_la_figures_with_new_codes(tmp_path):
    assert real_lines()[-1] == "Durham,840,344,3124,11.00%,445,3861,11.50%"
    rows, problems = tidy_table(write_table(tmp_path / "appeals.csv"))
    assert problems.height == 0
    durham = rows.filter(pl.col("old_la_code") == "840")
    # Named by the DfE's list of LAs, not the table's own "Durham"; the row of the file kept.
    assert set(durham.select("new_la_code", "la_name", "region_code", "row_number").rows()) == {
        ("E06000047", "County Durham", "E12000001", 11)}
    assert value(rows, "appeals_registered", 2024, "Local authority", "E06000047") == (344, None)
    assert value(rows, "appealable_decisions", 2025, "Local authority", "E06000047") == (3861,
                                                                                         None)
    assert value(rows, "appeal_rate_pct", 2025, "Local authority", "E06000047") == (11.5, None)
    assert value(rows, "appeal_rate_pct", 2024, "Local authority", "E06000005") == (1.1, None)
    assert set(rows["time_identifier"]) == {"Calendar year"}


def test_england_and_regions_are_summed_when_the_table_gives_none(tmp_path):
    rows, _ = tidy_table(write_table(tmp_path / "appeals.csv", *WILTSHIRE))
    # North East 2024: (8 + 344) / (700 + 3124) = 352 / 3824 = 9.205%.
    assert value(rows, "appeals_registered", 2024, "Regional", "E12000001") == (352, None)
    assert value(rows, "appeal_rate_pct", 2024, "Regional", "E12000001") == (9.21, None)
    # England 2024 adds Wiltshire: 472 / 7824 = 6.03%; in 2025 Wiltshire's appeals are
    # withheld, so England's sum would be partial: withheld too, its decisions still summed.
    assert value(rows, "appeal_rate_pct", 2024, "National") == (6.03, None)
    assert value(rows, "appeals_registered", 2025, "National") == (None, "x")
    assert value(rows, "appealable_decisions", 2025, "National") == (8939, None)
    assert value(rows, "appeal_rate_pct", 2025, "Local authority", "E06000054") == (None, "x")


def test_englands_own_row_is_taken_as_published_not_summed(tmp_path):
    # Made up: an England total row, as the MoJ's tables end with.
    rows, _ = tidy_table(write_table(tmp_path / "appeals.csv", *WILTSHIRE,
                                     "ENGLAND,,13000,400000,3.25%,14000,420000,3.33%"))
    assert value(rows, "appeal_rate_pct", 2025, "National") == (3.33, None)
    assert value(rows, "appeals_registered", 2024, "National") == (13000, None)
    # The regions, which the table heads but gives no figures for, are still summed.
    assert value(rows, "appeal_rate_pct", 2025, "Regional", "E12000001") == (9.38, None)


def test_a_row_that_cannot_be_placed_is_quarantined_and_stops_the_sums(tmp_path):
    rows, problems = tidy_table(write_table(
        tmp_path / "appeals.csv", "Nowhere,999,1,2,50.00%,1,2,50.00%",
        "Mystery,,5,10,50.00%,5,10,50.00%", "1. Footnote: rates are rounded,,,,,,,"))
    assert problems.select("row_number", "rule", "value_masked").rows() == [
        (12, "is an old LA code in the DfE's list of local authorities", "999"),
        (13, "has figures under a local authority (with its old LA code), a region or "
             "England", "Mystery")]
    assert set(rows["geographic_level"]) == {"Local authority"}
    assert rows["old_la_code"].unique().sort().to_list() == ["840", "841"]


def test_a_bad_figure_is_quarantined_by_the_published_schema(tmp_path):
    rows, problems = tidy_table(write_table(tmp_path / "appeals.csv",
                                            "Wiltshire,865,lots,4000,3.00%,1,4100,0.02%"))
    assert problems.select("row_number", "column_name").rows() == [(12, "appeals_registered")]
    assert "E06000054" not in set(rows["new_la_code"].drop_nulls())


def test_a_title_without_year_columns_is_rejected_whole(tmp_path):
    lines = [line for line in real_lines() if not line.startswith(",,2024")]
    with pytest.raises(FileRejected, match="no year and appeals"):
        read_release_file(write_table(tmp_path / "appeals.csv", lines=lines))


def test_the_table_loads_as_the_2026_release_and_benchmarks_the_appeal_rate(tmp_path):
    path = write_table(tmp_path / "SEND appealable decisions rate 2024-2025.csv", *WILTSHIRE)
    con = store.connect(tmp_path / "warehouse.duckdb")
    f = loads.LandedFile("published", path, sha256_of(path))
    [outcome] = loads.load_batch(con, [f], b"k" * 32, "run-1", archive_at(tmp_path))
    assert (outcome.status, outcome.rows_quarantined) == ("loaded", 0)
    staged = con.execute("SELECT DISTINCT release, kind FROM stage.dfe_statistics").fetchall()
    assert staged == [(2026, "ehcp_appeal_rate")]
    staged = store.read(con, "SELECT * FROM stage.dfe_statistics")
    con.close()
    table = benchmarks(headline_figures(staged), "E06000047", "E12000001", ["E06000005"],
                       "test", dt.date(2026, 3, 1))
    rate = table.filter(pl.col("measure") == "appeal_rate_pct", pl.col("year") == 2025)
    # England's 2025 sum is withheld (Wiltshire's appeals are): a row with no value.
    assert rate.select("comparison", "value").rows() == [
        ("la", 11.5), ("region", 9.38), ("england", None), ("statistical_neighbours_mean", 0.9),
        ("statistical_neighbour", 0.9)]
