"""`sendboard explain` (warehouse/explain.py) on the small sample LA, published once: the
records it lists for a row are as many as the KPI says (or, for money, add up to it), for
every count table and count column; each points to its row of the landed file; and the
command refuses public tables, names what a --where lacks, and prints no name, UPN or date
of birth."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import random
import re
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl
import pytest

from schemas.contracts import AUTHORISED_ABSENCE, UNAUTHORISED_ABSENCE
from sendboard.cli import main
from tests import handmade
from tests.conftest import TEST_KEY, settings_for
from tests.plain_run import plain_run
from warehouse import explain as ex
from warehouse import run
from warehouse.backfill import archived_files, replay_batches
from warehouse.registry import ATTENDANCE_UNTRACED, BY_NAME, REGISTRY, Explanation

REPO = Path(__file__).resolve().parents[1]
EXPLAINED = [k for k in REGISTRY if isinstance(k.explained, Explanation)]
ROWS_BEYOND_THE_LATEST = 12  # a deterministic sample of the other rows, per table


@pytest.fixture(scope="module")
def home(tmp_path_factory, small_sample) -> Path:
    home = tmp_path_factory.mktemp("explain")
    assert plain_run(home, small_sample).status == "published"
    return home


def published(home: Path, table: str) -> pl.DataFrame:
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        return con.sql(f"SELECT * FROM {table}").pl()
    finally:
        con.close()


def sendboard(*args: str) -> subprocess.CompletedProcess:
    """The command line in a process of its own."""
    return subprocess.run([sys.executable, "-m", "sendboard.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli(capsys):
    """The command line in this process (its start-up costs seconds a process): what
    `sendboard ARGS` returns and prints."""
    def run(*args: str) -> subprocess.CompletedProcess:
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return run


def rows_to_check(kpi, table: pl.DataFrame) -> list[dict]:
    """Every row of the latest year (census day, financial year ...) and a fixed sample of
    the others."""
    first = kpi.grain[0]
    latest = table.filter(pl.col(first) == pl.col(first).max())
    others = table.filter(pl.col(first) != pl.col(first).max()).to_dicts()
    picked = random.Random(kpi.name).sample(others, min(ROWS_BEYOND_THE_LATEST, len(others)))
    return latest.to_dicts() + picked


def test_every_count_table_of_the_registry_is_explained():
    """Every table that counts children (its public copy is suppressed) lists its records,
    but the forecast (a projection), its track record and the benchmarks (the DfE's
    figures) and reconciliation (other tables' figures beside the DfE's); money tables too,
    but the DSG balance (its spend is hnb_outturn's)."""
    assert {k.name for k in REGISTRY if not isinstance(k.explained, Explanation)} == {
        "dsg_balance", "forecast", "benchmarks", "forecast_track_record", "reconciliation"}
    for kpi in REGISTRY:
        if kpi.public is not None and kpi.name not in ("forecast", "reconciliation"):
            assert isinstance(kpi.explained, Explanation), kpi.name


def check_every_count(home: Path, kpi, rows: list[dict]) -> int:
    """Asserts that, for each of `rows` of the published table and each count explain
    traces, the records picked are as many as its value (or add up to it); returns how many
    of the values checked were neither empty nor 0."""
    how = kpi.explained
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        frame, _ = ex.records_of(con, settings_for(home), kpi)
    finally:
        con.close()
    checked = 0
    for row in rows:
        grain = {c: row[c] for c in kpi.grain}
        for column, count in how.counts.items():
            records = ex.pick(frame, how, grain, column)
            if count.sums is None:
                assert records.height == (row[column] or 0), (grain, column)
            elif row[column] is None:
                assert records[count.sums].null_count() == records.height, (grain, column)
            else:
                assert records[count.sums].sum() == row[column], (grain, column)
            checked += row[column] is not None and row[column] != 0
    return checked


# The flat sample has no attendance (kpi.sen_attendance is empty): the Blade home's below.
@pytest.mark.parametrize("kpi", [k for k in EXPLAINED if k.name != "sen_attendance"],
                         ids=lambda k: k.name)
def test_the_records_of_a_row_are_its_value_for_every_count(home, kpi):
    table = published(home, kpi.table)
    how = kpi.explained
    assert set(how.counts) <= set(table.columns) and how.count in how.counts
    rows = rows_to_check(kpi, table)
    assert len(rows) >= min(table.height, 2)
    assert check_every_count(home, kpi, rows) > 0  # not only empty rows


def test_explain_agrees_with_a_caseload_and_a_funnel_row(home):
    settings = settings_for(home)
    caseload = ex.explain(settings, "kpi.ehcp_caseload", {"year": "2025"})
    value = published(home, "kpi.ehcp_caseload").filter(pl.col("year") == 2025)["caseload"][0]
    assert caseload.agrees and caseload.records.height == value > 100
    assert caseload.records.columns == ["person_id", "plan_id", "census_date", "start_date",
                                        "cease_date", "file", "sha256", "row"]
    assert caseload.records["census_date"].unique().to_list() == [
        published(home, "kpi.ehcp_caseload").filter(pl.col("year") == 2025)["census_date"][0]]
    funnel = ex.explain(settings, "ehcp_requests", {"year": "2024"}, "decided_to_assess")
    assert funnel.agrees and funnel.records["outcome"].unique().to_list() == ["A"]
    assert funnel.records.height == published(home, "kpi.ehcp_requests").filter(
        pl.col("year") == 2024)["decided_to_assess"][0]


def test_the_ledger_lines_add_up_to_the_published_amount(home):
    outturn = published(home, "kpi.hnb_outturn").filter(
        (pl.col("financial_year") == "2024-25") & (pl.col("s251_line") == "1.2.3"))
    settings = settings_for(home)
    for column, entry_type in (("actual_gbp", "actual"), ("budget_gbp", "budget")):
        e = ex.explain(settings, "kpi.hnb_outturn",
                       {"financial_year": "2024-25", "s251_line": "1.2.3"}, column)
        assert e.sums == "amount_gbp" and e.agrees
        assert e.records["entry_type"].unique().to_list() == [entry_type]
        assert e.records["amount_gbp"].sum() == outturn[column][0] != 0
        assert e.records.height > 12  # a line a month at least
        assert f"their amount_gbp adds up to {outturn[column][0]}" in e.summary()


def test_a_plans_file_and_row_are_its_row_in_the_landed_file(home, small_sample):
    e = ex.explain(settings_for(home), "kpi.ehcp_new_plans", {"year": "2024"})
    plan = e.records.row(e.records.height // 2, named=True)
    folder, name = plan["file"].split("/")
    path = small_sample / folder / name
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] == plan["sha256"]
    with path.open(newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    header, line = lines[0], lines[plan["row"] - 1]  # the header is row 1
    held = dict(zip([h.lower() for h in header], line, strict=True))
    assert held["namedplantableid"] == plan["plan_id"]
    assert held["startdate"].startswith(("2024-", plan["start_date"].strftime("%Y-%b-%d")))


def test_a_pupil_rows_file_and_row_are_its_census_row(home, small_sample):
    e = ex.explain(settings_for(home), "kpi.sen_prevalence",
                   {"census_date": "2025-01-16", "scope": "phase", "scope_id": "Special"},
                   "ehcp")
    assert e.agrees and e.records.height > 0
    assert e.records["sen_provision"].unique().to_list() == ["E"]
    pupil = e.records.row(0, named=True)
    folder, name = pupil["file"].split("/")
    with (small_sample / folder / name).open(newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    held = dict(zip([h.lower().replace("_", "") for h in lines[0]], lines[pupil["row"] - 1],
                    strict=True))
    assert held["urn"] == str(pupil["urn"]) and held["laestab"] == pupil["laestab"]
    assert held["senprovision"] == "E"


# ------------------------------------------------------------------------------------------
# kpi.sen_attendance, on a hand-made Blade census with attendance (the flat sample has none)
# ------------------------------------------------------------------------------------------

ATTENDANCE = BY_NAME["sen_attendance"]
AUTUMN = {"academic_year": "2023/24", "term": "autumn"}


@pytest.fixture(scope="module")
def blade_home(tmp_path_factory) -> tuple[Path, dict]:
    """tests/test_attendance_kpis.py's hand-made Blade export of the spring 2024 census (six
    enrolments of five pupils, five exclusion records: its docstring works out the table)
    with handmade's SEN2 export, published once; and the export's files."""
    from tests.test_attendance_kpis import write_export

    root = tmp_path_factory.mktemp("explain-blade")
    landing = root / "landing"
    handmade.write_sen2(landing / "sen2")
    paths = write_export(landing / "census")
    home = root / "home"
    assert plain_run(home, landing).status == "published"
    return home, paths


def landed(path: Path) -> list[dict]:
    """A landed CSV's rows, by the row a spreadsheet shows (the header is row 1)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        return [{}, {}, *csv.DictReader(f)]


def test_the_records_of_every_attendance_row_are_its_value_for_every_count(blade_home):
    home, _ = blade_home
    table = published(home, "kpi.sen_attendance")
    # Autumn 2023/24's attendance and exclusions; spring and summer 2022/23's exclusions.
    assert sorted(set(zip(table["academic_year"], table["term"], strict=True))) == [
        ("2022/23", "spring"), ("2022/23", "summer"), ("2023/24", "autumn")]
    assert table.height == 12
    assert list(ATTENDANCE.explained.counts) == [
        "pupils", "enrolments", "sessions_possible", "sessions_missed",
        "persistent_absentees", "suspensions", "pupils_suspended", "permanent_exclusions"]
    # Autumn: 26 of its 32 values are not 0 (test_attendance_kpis.py's table); spring: Ann's
    # suspension, as SEN support and all (pupils, suspensions, pupils_suspended); summer:
    # Bob's permanent exclusion, as EHCP and all (pupils, permanent_exclusions).
    assert check_every_count(home, ATTENDANCE, table.to_dicts()) == 26 + 6 + 4


def test_an_enrolments_file_and_row_are_its_pupils_row_holding_the_sessions(blade_home):
    home, paths = blade_home
    e = ex.explain(settings_for(home), "kpi.sen_attendance",
                   {**AUTUMN, "sen_status": "sen_support"})
    assert e.column == "enrolments" and e.value == 3 and e.agrees
    assert e.records.columns == ["pupil_id", "academic_year", "term", "sen_status", "kind",
                                 "census_date", "laestab", "start_date", "possible", "missed",
                                 "persistent", "file", "sha256", "row"]
    pupils = paths["pupilonroll"]
    assert set(e.records["file"]) == {f"census/{pupils.name}"}
    assert set(e.records["sha256"]) == {hashlib.sha256(pupils.read_bytes()).hexdigest()[:12]}
    # Bob, Dan at the PRU (subsidiary), Eve.
    assert e.records.select("row", "laestab", "possible", "missed", "persistent").rows() == [
        (3, "8652001", 140, 10, False), (6, "8651100", 40, 2, False),
        (7, "8651100", 140, 23, True)]
    rows, details = landed(pupils), landed(paths["termlysessiondetails"])[2:]
    missed = {*AUTHORISED_ABSENCE, *UNAUTHORISED_ABSENCE}
    for record in e.records.iter_rows(named=True):
        held = rows[record["row"]]
        assert float(held["termlysessionspossible"]) == record["possible"]
        assert held["senprovision"] == "K"
        # Its sessions missed are its details rows', linked by its pupilonrolltableid.
        assert sum(float(d["sessions"]) for d in details
                   if d["pupilonrolltableid"] == held["pupilonrolltableid"]
                   and d["attendancereason"] in missed) == record["missed"]


def test_an_exclusions_file_and_row_are_its_own_and_pupils_are_listed_once(blade_home):
    home, paths = blade_home
    settings, row = settings_for(home), {**AUTUMN, "sen_status": "all"}
    e = ex.explain(settings, "kpi.sen_attendance", row, "suspensions")
    exclusions = paths["termlyexclusions"]
    assert e.value == 3 and e.agrees and set(e.records["file"]) == {f"census/{exclusions.name}"}
    # Eve's suspension and fixed-period exclusion, Dan's lunchtime one.
    assert e.records.select("row", "kind", "start_date").rows() == [
        (2, "suspension", dt.date(2023, 10, 10)), (3, "suspension", dt.date(2023, 11, 20)),
        (4, "lunchtime", dt.date(2023, 12, 1))]
    held = landed(exclusions)
    assert [(held[r]["category"], held[r]["startdate"][:11]) for r in e.records["row"]] == [
        ("SUSP", "2023-Oct-10"), ("FIXD", "2023-Nov-20"), ("LNCH", "2023-Dec-01")]
    suspended = ex.explain(settings, "kpi.sen_attendance", row, "pupils_suspended")
    assert suspended.value == 2 and suspended.agrees
    # Eve once (either of her records), Dan.
    assert suspended.records.height == 2 and suspended.records["row"][1] == 4
    pupils = ex.explain(settings, "kpi.sen_attendance", row, "pupils")
    assert pupils.value == 5 and pupils.agrees and pupils.records["pupil_id"].is_unique().all()
    # Each pupil's first record: Ann, Bob, Cat, Dan (at either school), Eve.
    assert set(pupils.records["row"]) - {5, 6} == {2, 3, 4, 7}
    assert set(pupils.records["file"]) == {f"census/{paths['pupilonroll'].name}"}
    missed = ex.explain(settings, "kpi.sen_attendance", row, "sessions_missed")
    assert missed.sums == "missed" and missed.found == missed.value == 61 and missed.agrees


def test_attendance_records_print_no_name_upn_or_date_of_birth(cli, blade_home):
    home, paths = blade_home
    pupils = landed(paths["pupilonroll"])[2:]
    assert len(pupils) == 6
    for count in ATTENDANCE.explained.counts:
        done = cli("explain", "kpi.sen_attendance", "--where", "academic_year=2023/24",
                   "--where", "term=autumn", "--where", "sen_status=all", "--count", count,
                   "--home", str(home))
        assert done.returncode == 0, done.stderr
        output = done.stdout + done.stderr
        assert f"{count} " in done.stdout.splitlines()[-1]
        assert UPN.findall(output) == []
        tokens = {t.lower() for t in re.split(r"[^A-Za-z'-]+", output) if t}
        for pupil in pupils:
            assert pupil["upn"] not in output
            assert {pupil["surname"].lower(), pupil["forename"].lower()} & tokens == set()
            born = dt.datetime.strptime(pupil["dob"][:11], "%Y-%b-%d").date()
            assert pupil["dob"][:11] not in output and born.isoformat() not in output
        header = done.stdout.splitlines()[3].split()
        assert not [c for c in header if "birth" in c or "dob" in c]


def test_attendance_rows_staged_before_their_pupil_file_was_kept_say_so(blade_home, tmp_path):
    """A warehouse staged before stage.census_attendance kept its pupilonroll file: the
    enrolments still agree with the table, with their rows and no file."""
    home, paths = blade_home
    for name in ("warehouse.duckdb", "sendboard.duckdb"):
        shutil.copy(home / name, tmp_path / name)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("ALTER TABLE stage.census_attendance DROP COLUMN pupilonroll_sha256")
    con.close()
    settings, row = settings_for(tmp_path), {**AUTUMN, "sen_status": "sen_support"}
    e = ex.explain(settings, "kpi.sen_attendance", row)
    assert e.agrees and e.records["row"].to_list() == [3, 6, 7]
    assert set(e.records["file"]) == {ATTENDANCE_UNTRACED}
    assert ATTENDANCE_UNTRACED.startswith("source not kept for rows staged before ")
    assert e.records["sha256"].null_count() == 3
    # Exclusions kept their own file and row all along.
    e = ex.explain(settings, "kpi.sen_attendance", row, "suspensions")
    assert set(e.records["file"]) == {f"census/{paths['termlyexclusions'].name}"}
    # A census backfill (`sendboard backfill --source census`) stages them again with it.
    assert backfill_census(tmp_path).status == "published"
    e = ex.explain(settings, "kpi.sen_attendance", row)
    assert e.agrees and e.records["row"].to_list() == [3, 6, 7]
    assert set(e.records["file"]) == {f"census/{paths['pupilonroll'].name}"}


@pytest.fixture(scope="module")
def leavers_home(tmp_path_factory) -> tuple[Path, dict]:
    """tests/test_attendance_kpis.py's leavers: its autumn 2023 census and its spring 2024
    export with pupilnolongeronroll and the *offroll tables, with handmade's SEN2 export,
    published once; and the spring export's files."""
    from tests.test_attendance_kpis import write_autumn_2023, write_export_with_leavers

    root = tmp_path_factory.mktemp("explain-leavers")
    landing = root / "landing"
    handmade.write_sen2(landing / "sen2")
    write_autumn_2023(landing / "census" / "autumn")
    paths = write_export_with_leavers(landing / "census" / "spring")
    home = root / "home"
    assert plain_run(home, landing).status == "published"
    return home, paths


def test_a_leavers_enrolment_and_exclusion_are_traced_to_their_leaver_rows(leavers_home):
    """EHCP in autumn 2023/24: Ann on roll and Gus, who left the PRU (his SEN status his
    autumn 2023 census row's), permanently excluded; every count agrees with its records."""
    home, paths = leavers_home
    settings, row = settings_for(home), {**AUTUMN, "sen_status": "ehcp"}
    e = ex.explain(settings, "kpi.sen_attendance", row)
    assert e.value == 2 and e.agrees
    assert sorted(e.records.select("file", "row", "laestab", "possible", "missed").rows()) == [
        (f"census/{paths['pupilnolongeronroll'].name}", 4, "8651100", 60, 10),
        (f"census/{paths['pupilonroll'].name}", 2, "8652001", 140, 16)]
    e = ex.explain(settings, "kpi.sen_attendance", row, "permanent_exclusions")
    assert e.value == 1 and e.agrees
    assert e.records.select("file", "row", "kind", "start_date").rows() == [
        (f"census/{paths['termlyexclusionsoffroll'].name}", 3, "permanent",
         dt.date(2023, 11, 6))]
    table = published(home, "kpi.sen_attendance")
    # Of its values not 0: autumn 31 (EHCP 6, SEN support 7, no SEN 7, unknown 3, all 8:
    # test_attendance_kpis.py's table), spring 2022/23 6 (Ann's suspension, as before),
    # summer 2022/23 8 (Bob's exclusion and Gus's suspension, counted once, as EHCP and all).
    assert check_every_count(home, ATTENDANCE, table.to_dicts()) == 31 + 6 + 8
    unknown = ex.explain(settings, "kpi.sen_attendance", {**AUTUMN, "sen_status": "unknown"})
    assert unknown.value == 1 and unknown.agrees
    assert unknown.records["row"].to_list() == [5]  # Hal: no census row before


def backfill_census(home: Path) -> run.RunSummary:
    """`sendboard backfill --source census` as flows/backfill.py gathers it, on plain
    threads."""
    settings = settings_for(home)
    with ThreadPoolExecutor(max_workers=2) as pool:
        def gather(con):
            return replay_batches(archived_files(con, ["census"], None, None),
                                  settings.archive), []

        return run.run_pipeline("plain-backfill", settings, TEST_KEY.encode(),
                                str(uuid.uuid4()), gather,
                                run.plain_steps(lambda s: [], pool), None, "nothing to replay")


# ------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------

def test_csv_output_is_the_records_with_a_header(home):
    done = sendboard("explain", "kpi.ehcp_placement_mix", "--where", "year=2025", "--where",
                     "placement_group=special", "--format", "csv", "--home", str(home))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["person_id", "plan_id", "census_date", "start_date", "cease_date",
                             "placement_group", "urn", "ukprn", "sensetting", "entry_date",
                             "file", "sha256", "row"]
    value = published(home, "kpi.ehcp_placement_mix").filter(
        (pl.col("year") == 2025) & (pl.col("placement_group") == "special"))["plans"][0]
    assert len(rows) == value > 0
    assert {r["placement_group"] for r in rows} == {"special"}
    assert {r["census_date"] for r in rows} == {"2025-01-16"}
    assert f"plans {value}: the records agree with the table" in done.stderr


def test_a_table_format_run_prints_the_value_the_records_and_the_verdict(cli, home):
    done = cli("explain", "ehcp_ceased", "--where", "year=2023", "--where",
                     "cease_reason=1", "--home", str(home))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    value = published(home, "kpi.ehcp_ceased").filter(
        (pl.col("year") == 2023) & (pl.col("cease_reason") == 1))["plans"][0]
    assert lines[0] == (f"kpi.ehcp_ceased year=2023 cease_reason=1: plans = {value} "
                        "(docs/kpis.md#ehcp-ceased)")
    assert lines[3].split() == ["person_id", "plan_id", "start_date", "cease_date",
                                "cease_reason", "file", "sha256", "row"]
    assert len(lines) == 4 + value + 2
    assert lines[-1] == f"plans {value}: the records agree with the table"


def test_public_tables_are_refused(cli, home):
    done = cli("explain", "public.ehcp_caseload", "--where", "year=2025", "--home",
                     str(home))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        "sendboard: public.ehcp_caseload is a public table (small numbers suppressed): "
        "explain lists children's records, for use inside the LA only, behind the kpi.* "
        "tables; give kpi.ehcp_caseload")


def test_a_missing_grain_column_or_a_row_that_is_not_there_lists_the_values(cli, home):
    done = cli("explain", "kpi.ehcp_need_mix", "--where", "year=2025", "--home",
                     str(home))
    assert done.returncode == 2 and done.stdout == ""
    message = done.stderr.strip()
    assert message.startswith("sendboard: kpi.ehcp_need_mix: missing need. Give every grain "
                              "column, --where year=VALUE --where need=VALUE: year takes 2015, "
                              "2016, ")
    assert "need takes ASD, " in message and "SEMH" in message
    done = cli("explain", "kpi.ehcp_need_mix", "--where", "year=2031", "--where",
                     "need=ASD", "--home", str(home))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "sendboard: no row of kpi.ehcp_need_mix has year=2031, need=ASD: year takes 2015, "
        "2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025, 2026")
    done = cli("explain", "kpi.ehcp_caseload", "--where", "year=2025", "--count",
                     "growth_pct", "--home", str(home))
    assert done.returncode == 2
    assert done.stderr.strip() == ("sendboard: kpi.ehcp_caseload: --count growth_pct is not a "
                                   "column explain can trace; it traces caseload (default "
                                   "caseload)")


def test_a_table_with_no_records_says_why(cli, home):
    done = cli("explain", "kpi.forecast", "--home", str(home))
    assert done.returncode == 2
    assert done.stderr.strip() == ("sendboard: kpi.forecast has no records to list: a "
                                   "projection of the scenarios' model, not a count of records")


def test_records_that_disagree_with_the_published_value_fail_loudly(cli, home, tmp_path):
    """A published table the working warehouse no longer agrees with (a run rebuilt the
    warehouse, then its quality gate stopped the publish)."""
    copy = tmp_path / "home"
    copy.mkdir()
    for name in ("warehouse.duckdb", "sendboard.duckdb"):
        shutil.copy(home / name, copy / name)
    con = duckdb.connect(str(copy / "sendboard.duckdb"))
    con.execute("UPDATE kpi.ehcp_caseload SET caseload = caseload + 1 WHERE year = 2025")
    con.close()
    done = cli("explain", "kpi.ehcp_caseload", "--where", "year=2025", "--home",
                     str(copy))
    assert done.returncode == 1
    assert done.stderr.startswith("sendboard: MISMATCH: kpi.ehcp_caseload says caseload = ")
    assert "the published table and the working warehouse disagree" in done.stderr


def test_explain_reads_while_a_bi_reader_holds_the_published_database(home):
    reader = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        done = sendboard("explain", "kpi.ehcp_new_plans", "--where", "year=2024",
                         "--format", "csv", "--home", str(home))
    finally:
        reader.close()
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) - 1 == published(home, "kpi.ehcp_new_plans").filter(
        pl.col("year") == 2024)["new_plans"][0]


UPN = re.compile(r"\b[A-Z][0-9]{12}\b")


def landed_people(landing: Path) -> tuple[set[str], set[str]]:
    """Every forename and surname (lower case) and UPN in the sample's SEN2 person module
    and census files."""
    names, upns = set(), set()
    for path in [*landing.glob("sen2/*_person.csv"), *landing.glob("census/*.csv")]:
        frame = pl.read_csv(path, infer_schema=False)
        columns = {c.lower().replace("_", ""): c for c in frame.columns}
        for column in ("forename", "surname"):
            names |= {v.lower() for v in frame[columns[column]].drop_nulls().to_list()}
        upns |= {u for u in frame[columns["upn"]].drop_nulls().to_list() if u.strip()}
    return names, upns


@pytest.mark.parametrize("args", [
    ("kpi.ehcp_caseload", "--where", "year=2025"),
    ("kpi.ehcp_requests", "--where", "year=2024"),
    ("kpi.ehcp_annual_reviews", "--where", "year=2025"),
    ("kpi.sen_prevalence", "--where", "census_date=2025-01-16", "--where", "scope=la",
     "--where", "scope_id=865"),
], ids=lambda a: a[0])
def test_no_name_upn_or_date_of_birth_is_printed(cli, home, small_sample, args):
    names, upns = landed_people(small_sample)
    assert len(names) > 100 and len(upns) > 1000
    done = cli("explain", *args, "--home", str(home))
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert UPN.findall(output) == []
    assert [u for u in upns if u in output] == []
    tokens = {t.lower() for t in re.split(r"[^A-Za-z'-]+", output) if t}
    assert tokens & names == set()
    header = done.stdout.splitlines()[3].split()
    assert not [c for c in header if "birth" in c or "dob" in c]


def _iso(text: str) -> str:
    """A landed date (Blade's `2012-Apr-16 00:00:00`, ISO, or the UK `16/04/2012`) as ISO."""
    text = text.split(" ")[0]
    for form in ("%Y-%b-%d", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, form).date().isoformat()
        except ValueError:
            continue
    raise ValueError(text)


def test_no_record_carries_its_childs_date_of_birth(cli, home, small_sample):
    """Each plan's child's birth date, found through the landed SEN2 modules from the plan's
    table id, and each pupil row's, from its census file row, is not on its line."""
    def module(name: str) -> pl.DataFrame:
        (path,) = small_sample.glob(f"sen2/*_{name}.csv")
        return pl.read_csv(path, infer_schema=False)

    birth = (module("namedplan").select("namedplantableid", "assessmenttableid")
             .join(module("assessment").select("assessmenttableid", "requeststableid"),
                   on="assessmenttableid")
             .join(module("requests").select("requeststableid", "persontableid"),
                   on="requeststableid")
             .join(module("person").select("persontableid", "personbirthdate"),
                   on="persontableid"))
    births = dict(zip(birth["namedplantableid"], birth["personbirthdate"], strict=True))
    done = cli("explain", "kpi.ehcp_caseload", "--where", "year=2025", "--format",
                     "csv", "--home", str(home))
    plans = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(plans) > 100
    for line, plan in zip(done.stdout.splitlines()[1:], plans, strict=True):
        born = births[plan["plan_id"]]
        assert born.split(" ")[0] not in line and _iso(born) not in line
    done = cli("explain", "kpi.sen_prevalence", "--where", "census_date=2025-01-16",
                     "--where", "scope=la", "--where", "scope_id=865", "--format", "csv",
                     "--home", str(home))
    pupils = list(csv.DictReader(io.StringIO(done.stdout)))
    (name,) = {p["file"] for p in pupils}
    census = pl.read_csv(small_sample / name, infer_schema=False)
    dob = next(c for c in census.columns if c.lower().replace("_", "") in ("dob",
                                                                           "dateofbirth"))
    assert len(pupils) > 1000
    for line, pupil in zip(done.stdout.splitlines()[1:], pupils, strict=True):
        born = census[dob][int(pupil["row"]) - 2]  # the header is row 1
        assert born not in line and _iso(born) not in line
