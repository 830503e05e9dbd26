"""Tests for the synthetic GIAS, finance, recovery plan, places and population extracts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest

from sendboard.sample import other_sources as osrc

CURLY_NAME = "St Mary’s CofE Primary School"
SHARED_GIAS_ROW = (
    Path(__file__).resolve().parents[2] / "shared/external/dfe-reference/gias_sample_row.csv"
)


def _establishments() -> pl.DataFrame:
    cols = ("urn", "la_code", "la_name", "estab_number", "name", "type_name", "type_group",
            "status", "phase", "low_age", "high_age", "open_date", "close_date", "postcode",
            "ukprn", "rp_type", "rp_capacity", "rp_on_roll", "unit_capacity", "unit_on_roll",
            "fe_type", "pupils", "capacity")
    la = ("865", "Wiltshire")
    rows = [
        (126001, *la, "2001", CURLY_NAME, "Voluntary aided school",
         "Local authority maintained schools", "Open", "Primary", 3, 11, None, None,
         "BA14 8AB", None, "Resourced provision", 30, 27, None, None, None, 210, None),
        (126002, *la, "2002", "Kennet Down Primary School", "Community school",
         "Local authority maintained schools", "Open", "Primary", 4, 11, None, None,
         "SN10 2QQ", None, "SEN unit", None, None, 8, 7, None, 180, None),
        (137003, *la, "4001", "Avonbridge Academy", "Academy converter", "Academies", "Open",
         "Secondary", 11, 18, dt.date(2012, 4, 1), None, "SN15 3XX", "10011111",
         "Resourced provision and SEN unit", 40, 36, 10, 9, None, 1350, None),
        (126004, *la, "7001", "Larkhill Brook School", "Community special school",
         "Special schools", "Open", "Not applicable", 2, 19, None, None, "SP4 7AA", None,
         None, None, None, None, None, None, 240, 250),
        (126005, *la, "7002", "Chalkhill Vale School", "Foundation special school",
         "Special schools", "Open", "Not applicable", 4, 19, None, None, "SN12 6BB", None,
         None, None, None, None, None, None, 180, 200),
        (145006, *la, "7003", "Silbury Academy", "Academy special converter", "Academies",
         "Open", "Not applicable", 5, 19, dt.date(2017, 9, 1), None, "SP1 3CC", None,
         None, None, None, None, None, None, 150, 160),
        (126007, *la, "1100", "Wiltshire Learning Centre", "Pupil referral unit",
         "Local authority maintained schools", "Open", "Not applicable", 11, 16, None, None,
         "BA13 4DD", None, None, None, None, None, None, None, 60, 70),
        (126008, *la, "3003", "Pewsey Lane CofE Primary School", "Voluntary controlled school",
         "Local authority maintained schools", "Closed", "Primary", 4, 11, None,
         dt.date(2021, 8, 31), "SN9 5EE", None, None, None, None, None, None, None, None,
         None),
        (130009, *la, "8001", "Wessex College", "Further education", "Colleges", "Open",
         "16 plus", 16, 99, None, None, "SN15 1FF", "10022222", None, None, None, None, None,
         "General Further Education College", 4200, None),
        (140010, "866", "Swindon", "6001", "Thornbrook House School",
         "Other independent special school", "Independent schools", "Open", "Not applicable",
         7, 19, dt.date(2015, 1, 5), None, "SN2 9GG", None, None, None, None, None, None,
         None, 45, None),
        (148011, *la, "7004", "Downland Vale Free School", "Free schools special",
         "Free Schools", "Open", "Not applicable", 5, 19, dt.date(2021, 9, 1), None,
         "SP2 8HH", None, None, None, None, None, None, None, 120, 150),
    ]
    schema = {c: pl.Utf8 for c in cols}
    for c in ("urn", "low_age", "high_age", "rp_capacity", "rp_on_roll", "unit_capacity",
              "unit_on_roll", "pupils", "capacity"):
        schema[c] = pl.Int64
    schema["open_date"] = schema["close_date"] = pl.Date
    return pl.DataFrame(rows, schema=schema, orient="row")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    estabs = _establishments()
    osrc.write_gias(estabs, root / "establishments" / "edubasealldata20251103.csv")
    osrc.write_finance(root / "finance", seed=7)
    osrc.write_recovery_plan(root / "recovery_plan", seed=7)
    osrc.write_places(estabs, root / "places", seed=7)
    osrc.write_population(root / "population", births_per_year=5300, seed=7)
    return root


def _gias_rows(out: Path) -> tuple[bytes, list[list[str]]]:
    raw = (out / "establishments" / "edubasealldata20251103.csv").read_bytes()
    return raw, list(csv.reader(io.StringIO(raw.decode("cp1252"), newline="")))


def test_gias_header_is_the_real_133_columns_in_order(out: Path) -> None:
    _raw, rows = _gias_rows(out)
    header = rows[0]
    assert len(header) == 133
    assert header == list(osrc.GIAS_HEADER)
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


def test_ledger_columns_and_growing_deficit(out: Path) -> None:
    ledger = pl.read_csv(out / "finance" / "hnb_ledger_2018-19_to_2025-26.csv",
                         schema_overrides={"provider_urn": pl.Utf8, "s251_line": pl.Utf8})
    assert tuple(ledger.columns) == osrc.LEDGER_COLUMNS
    assert 3_000 <= ledger.height <= 50_000
    assert set(ledger["entry_type"]) == {"budget", "actual"}
    assert set(ledger["financial_year"]) == set(osrc.FINANCIAL_YEARS)
    assert set(ledger["s251_line"]) == {
        "1.0.2", "1.2.1", "1.2.2", "1.2.3", "1.2.4", "1.2.5", "1.2.6", "1.2.7", "1.2.8",
        "1.2.9", "1.2.10", "1.2.11", "1.2.13"}
    assert (ledger["amount_gbp"] < 0).sum() > 0
    assert ledger.filter(pl.col("period") == 13).height > 0
    current = ledger.filter((pl.col("financial_year") == "2025-26")
                            & (pl.col("entry_type") == "actual"))
    assert current["period"].max() == osrc.CURRENT_YEAR_ACTUAL_PERIODS == 11
    assert ledger.filter(pl.col("provider_urn").is_not_null())["provider_urn"].str.contains(
        r"^1\d{5}$").all()

    dsg = pl.read_excel(out / "finance" / "dsg_2018-19_to_2025-26.xlsx", engine="calamine")
    actual = (ledger.filter(pl.col("entry_type") == "actual")
              .group_by("financial_year").agg(pl.col("amount_gbp").sum().alias("spend")))
    joined = dsg.join(actual, on="financial_year").sort("financial_year")
    balance = joined["opening_cumulative_balance_gbp"][0]
    end_of: dict[str, float] = {}
    for fy, grant, transfer, spend in joined.select(
            "financial_year", "high_needs_block_gbp", "block_transfer_gbp", "spend").rows():
        balance += grant + transfer - spend
        end_of[fy] = balance
    assert end_of["2025-26"] < 0
    assert abs(end_of["2025-26"]) > abs(end_of["2019-20"])
    # Every complete year adds to the deficit, reaching tens of millions.
    completed = [end_of[fy] for fy in osrc.FINANCIAL_YEARS[:-1]]
    assert completed == sorted(completed, reverse=True)
    assert end_of["2024-25"] < -30_000_000


def test_dsg_workbook_reads_back_with_four_columns(out: Path) -> None:
    dsg = pl.read_excel(out / "finance" / "dsg_2018-19_to_2025-26.xlsx", engine="calamine")
    assert tuple(dsg.columns) == osrc.DSG_COLUMNS
    assert dsg["financial_year"].to_list() == list(osrc.FINANCIAL_YEARS)
    opening = dsg["opening_cumulative_balance_gbp"]
    assert opening[0] == -3_000_000
    assert opening[1:].null_count() == len(osrc.FINANCIAL_YEARS) - 1
    grant = dsg["high_needs_block_gbp"]
    assert 49_000_000 < grant[0] < 51_000_000
    assert 85_000_000 < grant[-1] < 100_000_000
    assert (dsg["block_transfer_gbp"] > 0).sum() >= 1


def test_recovery_plan_uses_the_seed_projects(out: Path) -> None:
    plan = pl.read_csv(out / "recovery_plan" / "recovery_plan_register.csv")
    assert tuple(plan.columns) == osrc.RECOVERY_PLAN_COLUMNS
    dyslexia = plan.filter(pl.col("project_name") == "Dyslexia friendly schools")
    planned = dict(dyslexia.select("financial_year", "planned_saving_gbp").rows())
    assert planned["2020-21"] == 7_000
    assert planned["2021-22"] == 51_000
    assert planned["2022-23"] == 88_000
    assert planned["2023-24"] == 126_000
    assert dyslexia["metric_name"][0] == "placements at dyslexia special schools"
    assert (dyslexia["metric_baseline"][0], dyslexia["metric_target"][0]) == (40, 30)
    assert plan.filter(pl.col("financial_year") == "2025-26")["actual_saving_gbp"].null_count() \
        == plan.filter(pl.col("financial_year") == "2025-26").height
    assert plan.filter(pl.col("financial_year") < "2025-26")["actual_saving_gbp"].null_count() == 0
    assert plan["project_id"].n_unique() == 9
    assert set(plan["theme"]) == {"Inclusive practice in schools", "Place planning",
                                  "Project planning"}


def test_places_cover_every_year_and_follow_the_seed_plan(out: Path) -> None:
    places = pl.read_csv(out / "places" / "commissioned_places.csv")
    assert tuple(places.columns) == osrc.PLACES_COLUMNS
    assert set(places["financial_year"]) == set(osrc.FINANCIAL_YEARS)
    assert set(places["provision"]) == {"special", "resourced_provision", "sen_unit", "ap"}
    now = places.filter(pl.col("financial_year") == "2025-26")
    special_now = dict(now.filter(pl.col("provision") == "special")
                       .select("urn", "funded_places").rows())
    # Independent schools elsewhere and FE have no commissioned places.
    assert special_now == {126004: 250, 126005: 200, 145006: 160, 148011: 150}
    assert dict(now.filter(pl.col("provision") == "resourced_provision")
                .select("urn", "funded_places").rows()) == {126001: 30, 137003: 40}
    assert dict(now.filter(pl.col("provision") == "sen_unit")
                .select("urn", "funded_places").rows()) == {126002: 8, 137003: 10}
    assert now.filter(pl.col("provision") == "ap")["urn"].to_list() == [126007]
    # The free school opened in September 2021: no places before 2021-22.
    assert places.filter(pl.col("urn") == 148011)["financial_year"].min() == "2021-22"
    totals = dict(places.filter(pl.col("provision") == "special").group_by("financial_year")
                  .agg(pl.col("funded_places").sum()).rows())
    assert totals["2019-20"] - totals["2018-19"] == 87
    assert totals["2020-21"] - totals["2019-20"] == 56
    rp = dict(places.filter(pl.col("provision") == "resourced_provision")
              .group_by("financial_year").agg(pl.col("funded_places").sum()).rows())
    assert rp["2019-20"] - rp["2018-19"] == 10
    assert rp["2020-21"] - rp["2019-20"] == 10


def test_population_totals_and_shape(out: Path) -> None:
    pop = pl.read_csv(out / "population" / "ons_mid_year_estimates.csv")
    assert tuple(pop.columns) == osrc.POPULATION_COLUMNS
    assert set(pop["new_la_code"]) == {"E06000054"}
    assert pop["year"].min() == 2013 and pop["year"].max() == 2025
    assert pop["age"].min() == 0 and pop["age"].max() == 90
    assert pop.height == 13 * 91 * 2
    totals = pop.group_by("year").agg(pl.col("population").sum())["population"]
    assert totals.min() >= 450_000 and totals.max() <= 560_000
    by_age = (pop.filter(pl.col("year") == 2025, pl.col("age") <= 25)
              .group_by("age").agg(pl.col("population").sum())["population"])
    assert by_age.min() >= 5300 * 0.85 and by_age.max() <= 5300 * 1.2


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    estabs = _establishments()
    for run in ("a", "b"):
        osrc.write_gias(estabs, tmp_path / run / "gias.csv")
        osrc.write_finance(tmp_path / run, seed=3)
        osrc.write_recovery_plan(tmp_path / run, seed=3)
        osrc.write_places(estabs, tmp_path / run, seed=3)
        osrc.write_population(tmp_path / run, births_per_year=5000, seed=3)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 6
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    minimal = _establishments().select(
        "urn", "la_code", "la_name", "estab_number", "name", "type_name", "type_group",
        "status", "phase", "low_age", "high_age")
    osrc.write_gias(minimal, tmp_path / "edubasealldata20251103.csv")
    osrc.write_places(minimal, tmp_path, seed=1)
    places = pl.read_csv(tmp_path / "commissioned_places.csv")
    # Without capacities only the PRU gets places (a typical 30-90), in every year.
    assert set(places["provision"]) == {"ap"}
    assert places.height == len(osrc.FINANCIAL_YEARS)
    assert places["funded_places"].is_between(20, 90).all()
