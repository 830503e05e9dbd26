"""Tests for the synthetic GIAS extract (sendboard.sample.gias)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from sendboard.sample import gias
from tests.sample_establishments import (
    CURLY_NAME,
    establishments_frame,
    minimal_establishments,
    same_files,
)

SHARED_GIAS_ROW = (
    Path(__file__).resolve().parents[2] / "shared/external/dfe-reference/gias_sample_row.csv"
)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    estabs = establishments_frame()
    gias.write_gias(estabs, root / "establishments" / "edubasealldata20251103.csv")
    return root


def _gias_rows(out: Path) -> tuple[bytes, list[list[str]]]:
    raw = (out / "establishments" / "edubasealldata20251103.csv").read_bytes()
    return raw, list(csv.reader(io.StringIO(raw.decode("cp1252"), newline="")))


def test_gias_header_is_the_real_133_columns_in_order(out: Path) -> None:
    _raw, rows = _gias_rows(out)
    header = rows[0]
    assert len(header) == 133
    assert header == list(gias.GIAS_HEADER)
    assert header[:5] == ["URN", "LA (code)", "LA (name)", "EstablishmentNumber",
                          "EstablishmentName"]
    assert header[-2:] == ["MSOA (code)", "LSOA (code)"]
    assert all(len(r) == 133 for r in rows)
    if SHARED_GIAS_ROW.exists():
        with SHARED_GIAS_ROW.open(newline="") as fh:
            assert header == next(csv.reader(fh))


def test_gias_is_windows_1252_not_utf8(out: Path) -> None:
    raw, rows = _gias_rows(out)
    assert b"St Mary\x92s CofE Primary School" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    names = {r[0]: r[4] for r in rows[1:]}
    assert names["126001"] == CURLY_NAME


def test_gias_quoting_and_dates_like_the_real_file(out: Path) -> None:
    raw, rows = _gias_rows(out)
    lines = raw.decode("cp1252").splitlines()
    assert lines[0].startswith('"URN","LA (code)","LA (name)",')
    # URN and ages bare, strings quoted, an empty string quoted.
    assert lines[1].startswith(
        '126001,"865","Wiltshire","2001","St Mary’s CofE Primary School","02"')
    by_urn = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    academy = by_urn["137003"]
    assert academy["OpenDate"] == "01-04-2012"
    assert academy["TypeOfEstablishment (code)"] == "34"
    assert academy["ResourcedProvisionCapacity"] == "40"
    assert academy["SenUnitCapacity"] == "10"
    assert academy["UKPRN"] == "10011111"
    assert by_urn["126008"]["CloseDate"] == "31-08-2021"
    assert by_urn["126008"]["EstablishmentStatus (name)"] == "Closed"
    assert by_urn["126004"]["SchoolCapacity"] == "250"
    assert by_urn["140010"]["TypeOfEstablishment (code)"] == "10"
    assert by_urn["126001"]["County (name)"] == "Wiltshire"
    assert by_urn["126001"]["GOR (name)"] == "South West"
    assert ',"","' in lines[1]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    estabs = establishments_frame()
    for run in ("a", "b"):
        gias.write_gias(estabs, tmp_path / run / "gias.csv")
    assert len(same_files(tmp_path / "a", tmp_path / "b")) == 1


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    minimal = minimal_establishments()
    gias.write_gias(minimal, tmp_path / "edubasealldata20251103.csv")
    raw = (tmp_path / "edubasealldata20251103.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("cp1252"), newline="")))
    # The left-out columns come out blank, not as a crash or an invented value.
    assert len(rows) == 11
    assert {r["Postcode"] for r in rows} == {""}
    assert {r["OpenDate"] for r in rows} == {""}
    assert {r["CloseDate"] for r in rows} == {""}
    assert {r["NumberOfPupils"] for r in rows} == {""}
    assert {r["SchoolCapacity"] for r in rows} == {""}
