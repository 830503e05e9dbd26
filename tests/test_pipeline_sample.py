"""The nightly flow end to end on a small generated LA: counts, idempotence, privacy."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.nightly import nightly
from sendboard.sample.world import build_world
from tests.conftest import SMALL_COHORT, TEST_KEY
from transforms.calendar import january_census_day


@pytest.fixture(scope="module")
def run_home(tmp_path_factory, small_sample, prefect_harness):
    os.environ["SENDBOARD_PSEUDONYM_KEY"] = TEST_KEY
    home = tmp_path_factory.mktemp("home")
    summary = nightly(home=str(home), landing=str(small_sample))
    assert summary.status == "published"
    FIRST_PUBLISH.update(snapshot(home / "sendboard.duckdb"))  # before tests re-run it
    FIRST_PUBLISH["fingerprint"] = fingerprint(home / "sendboard.duckdb")
    return home


FIRST_PUBLISH: dict[str, tuple] = {}
GOLDEN = Path(__file__).parent / "golden" / "sample_published_tables.json"


def fingerprint(path) -> dict[str, list]:
    """Row count and an order-free fingerprint of every kpi.* and public.* table, floats
    rounded to 6 decimals (so that a summation order that moves the last bit does not
    count as a change)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE "
                "table_schema IN ('kpi', 'public') ORDER BY 1, 2").fetchall():
            columns = [f"round({c}, 6)" if t in ("DOUBLE", "FLOAT") else c for c, t in
                       con.execute(f"SELECT column_name, data_type FROM "
                                   f"information_schema.columns WHERE table_schema = "
                                   f"'{schema}' AND table_name = '{name}' ORDER BY "
                                   "ordinal_position").fetchall()]
            out[f"{schema}.{name}"] = [int(v) for v in con.execute(
                f"SELECT count(*), coalesce(sum(hash(row({', '.join(columns)}))::HUGEINT), 0) "
                f"FROM {schema}.{name}").fetchall()[0]]
        return out
    finally:
        con.close()


def snapshot(path) -> dict[str, tuple]:
    """Every table's row count and an order-free fingerprint of all its rows (the sum of
    DuckDB's hash of each whole row), so two databases compare exactly and fast."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute("SELECT table_schema || '.' || table_name FROM "
                             "information_schema.tables WHERE table_type = 'BASE TABLE' "
                             "ORDER BY 1").fetchall()
        return {t: con.execute(f"SELECT count(*), sum(hash(r)::HUGEINT) FROM {t} r"
                               ).fetchall()[0] for (t,) in tables}
    finally:
        con.close()


def test_caseload_equals_the_plans_the_generator_made(run_home):
    world = build_world(seed=7, cohort_size=SMALL_COHORT,
                        export_date=january_census_day(2026) + dt.timedelta(days=70))
    expected = {}
    for year in range(2015, 2027):
        day = (january_census_day(year) - dt.date(1970, 1, 1)).days
        expected[year] = sum(1 for p in world.plans if p.start <= day < p.cease)
    con = duckdb.connect(str(run_home / "sendboard.duckdb"), read_only=True)
    got = dict(con.execute("SELECT year, caseload FROM kpi.ehcp_caseload").fetchall())
    con.close()
    assert got == expected
    assert got[2025] == round(6383 * SMALL_COHORT / 6800)


def test_every_kpi_table_is_filled_for_every_year_its_sources_cover(run_home):
    con = duckdb.connect(str(run_home / "sendboard.duckdb"), read_only=True)

    def years(table, column="year"):
        return sorted({r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM {table}")
                       .fetchall()})

    calendar = list(range(2015, 2026))
    assert years("kpi.ehcp_caseload") == list(range(2015, 2027))
    for table in ("kpi.ehcp_new_plans", "kpi.ehcp_requests", "kpi.ehcp_ceased"):
        assert years(table) == calendar, table
    assert con.execute("SELECT min(new_plans), min(requests_received) FROM kpi.ehcp_new_plans "
                       "JOIN kpi.ehcp_requests USING (year)").fetchall()[0] >= (1, 1)
    assert years("kpi.ehcp_placement_mix") == years("kpi.ehcp_need_mix") == list(
        range(2015, 2027))
    assert con.execute("SELECT count(*) FROM kpi.ehcp_placement_mix").fetchall() == [(12 * 7,)]
    assert len(years("kpi.sen_prevalence", "census_date")) == 35
    fys = [f"{y}-{(y + 1) % 100:02d}" for y in range(2018, 2026)]
    for table in ("kpi.hnb_outturn", "kpi.dsg_balance", "kpi.place_sufficiency"):
        assert years(table, "financial_year") == fys, table
    assert years("kpi.recovery_plan", "financial_year") == fys[2:]
    assert years("kpi.benchmarks") == list(range(2019, 2026))
    assert con.execute("SELECT count(*) FROM kpi.reconciliation WHERE measure = "
                       "'ehcp_caseload' AND published_value IS NOT NULL").fetchall() == [(7,)]
    con.close()


def test_the_published_database_meets_the_pinned_interface(run_home):
    import subprocess
    import sys

    from tests.conftest import RELEASE

    tool = RELEASE.parents[1] / "tools" / "check_interface.py"
    done = subprocess.run([sys.executable, str(tool), str(run_home / "sendboard.duckdb")],
                          capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "16 of 16 pinned tables complete"
    assert done.returncode == 0


def test_a_second_run_with_no_new_files_changes_nothing(run_home, small_sample):
    before_pub = snapshot(run_home / "sendboard.duckdb")
    before_wh = snapshot(run_home / "warehouse.duckdb")
    summary = nightly(home=str(run_home), landing=str(small_sample))
    assert summary.status == "no_new_files"
    assert snapshot(run_home / "sendboard.duckdb") == before_pub
    after_wh = snapshot(run_home / "warehouse.duckdb")
    runs_before = before_wh.pop("audit.runs")
    runs_after = after_wh.pop("audit.runs")
    assert after_wh == before_wh
    # The only change anywhere: the working warehouse records that the run happened.
    assert runs_after[0] == runs_before[0] + 1
    con = duckdb.connect(str(run_home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM audit.runs WHERE status = 'no_new_files'"
                       ).fetchall() == [(1,)]
    con.close()


def _raw_identifiers(landing) -> dict[str, set[str]]:
    census = pl.concat([pl.read_csv(p, infer_schema=False).select(
        pl.all().name.map(str.lower)).select("upn", "surname")
        for p in sorted((landing / "census").glob("*.csv"))], how="vertical_relaxed")
    person = pl.read_csv(next((landing / "sen2").glob("*_person.csv")), infer_schema=False)
    def values(*series: pl.Series) -> set[str]:
        return {v for s in series for v in s.drop_nulls().to_list() if v}

    return {
        "upn": values(census["upn"], person["upn"]),
        "surname": values(census["surname"], person["surname"]),
        "postcode": values(person["postcode"]),
        "uln": values(person["uniquelearnernumber"]),
    }


def test_no_raw_identifier_reaches_any_table(run_home, small_sample):
    ids = _raw_identifiers(small_sample)
    assert len(ids["upn"]) > 1000 and len(ids["postcode"]) > 50
    for db in ("warehouse.duckdb", "sendboard.duckdb"):
        con = duckdb.connect(str(run_home / db), read_only=True)
        columns = con.execute("""SELECT table_schema || '.' || table_name, column_name
            FROM information_schema.columns WHERE data_type = 'VARCHAR'""").fetchall()
        names = {c for _, c in columns}
        assert not names & {"upn", "surname", "forename", "postcode", "date_of_birth",
                            "personbirthdate", "uniquelearnernumber"}
        for table, column in columns:
            values = set(con.sql(f'SELECT DISTINCT "{column}" FROM {table}').pl()
                         .to_series().drop_nulls().to_list())
            for kind in ("upn", "surname", "postcode", "uln"):
                leaked = values & ids[kind]
                assert not leaked, f"{db} {table}.{column} holds raw {kind}s: {list(leaked)[:3]}"
            upn_like = [v for v in values if any(u in v for u in list(ids["upn"])[:200])]
            assert not upn_like, f"{db} {table}.{column} embeds a UPN"
        con.close()


def test_every_landed_file_is_archived_by_its_sha256(run_home, small_sample):
    from warehouse.archive import sha256_of

    landed = [p for p in small_sample.rglob("*") if p.is_file()]
    files = [p for p in (run_home / "archive").rglob("*") if p.is_file()]
    archived = {p.name.split(".")[0] for p in files}  # <sha256>.csv.enc, sealed
    assert {sha256_of(p) for p in landed} == archived
    assert len(archived) == 53 and {p.suffix for p in files} == {".enc"}


def test_loading_the_same_landing_into_a_fresh_home_gives_identical_tables(
        run_home, small_sample, tmp_path):
    """Same files, same key -> the same rows in every data table, whoever loads them."""
    other = tmp_path / "home"
    summary = nightly(home=str(other), landing=str(small_sample))
    assert summary.status == "published"

    def data_tables(path):
        snap = snapshot(path)
        return {t: rows for t, rows in snap.items() if not t.startswith("audit.")}

    a = data_tables(run_home / "warehouse.duckdb")
    b = data_tables(other / "warehouse.duckdb")
    assert set(a) == set(b) and len(a) > 20
    assert a == b


def test_the_dask_task_runner_gives_the_same_tables_as_threads(run_home, small_sample,
                                                               tmp_path):
    """Files prepared on a local Dask cluster (two worker processes) load to exactly the
    tables the default thread runner gave."""
    from prefect_dask import DaskTaskRunner

    other = tmp_path / "home"
    on_dask = nightly.with_options(task_runner=DaskTaskRunner(
        cluster_kwargs={"n_workers": 2, "threads_per_worker": 1}))
    assert on_dask(home=str(other), landing=str(small_sample)).status == "published"

    def data_tables(home):
        return {t: v for t, v in snapshot(home / "warehouse.duckdb").items()
                if not t.startswith("audit.")}

    assert data_tables(other) == data_tables(run_home)


def test_a_reissued_census_replaces_exactly_its_own_rows(run_home, small_sample, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_sample, landing)
    spring = landing / "census" / "School Census Spring 2025.csv"
    frame = pl.read_csv(spring, infer_schema=False)
    # Ten fewer pupils at the largest school: every school is still in the file, so the
    # re-issue replaces all of the old file's (census date, school) pairs.
    largest = frame["laestab"].mode().sort()[0]
    at = frame.with_row_index().filter(pl.col("laestab") == largest)["index"].tail(10)
    frame.filter(~pl.int_range(pl.len()).is_in(at.implode())).write_csv(
        landing / "census" / "Spring 2025 reissued.csv")
    wh = run_home / "warehouse.duckdb"
    con = duckdb.connect(str(wh), read_only=True)
    before = dict(con.execute("SELECT census_date::VARCHAR, count(*) FROM stage.census "
                              "GROUP BY 1").fetchall())
    con.close()
    summary = nightly(home=str(run_home), landing=str(landing))
    assert summary.status == "published"
    assert [f.name for f in summary.files] == ["Spring 2025 reissued.csv"]
    con = duckdb.connect(str(wh), read_only=True)
    after = dict(con.execute("SELECT census_date::VARCHAR, count(*) FROM stage.census "
                             "GROUP BY 1").fetchall())
    statuses = dict(con.execute("SELECT original_name, status FROM audit.files WHERE "
                                "period = '2025-01-16'").fetchall())
    con.close()
    assert after["2025-01-16"] == before["2025-01-16"] - 10
    assert {k: v for k, v in after.items() if k != "2025-01-16"} == {
        k: v for k, v in before.items() if k != "2025-01-16"}
    assert statuses == {"School Census Spring 2025.csv": "superseded",
                        "Spring 2025 reissued.csv": "loaded"}



def test_a_backfill_replays_archived_files_and_gives_the_same_tables(run_home):
    """Replaying 2019-2020's censuses from the archive gives exactly the tables loading them
    the first time gave; --all does too."""
    from flows.backfill import backfill

    def data_tables():
        snap = snapshot(run_home / "warehouse.duckdb")
        return {t: v for t, v in snap.items() if not t.startswith("audit.")}

    before = data_tables()
    summary = backfill(sources=["census"], period_from="2019-01-01", period_to="2020-12-31",
                       home=str(run_home))
    assert summary.status == "published"
    assert sorted(f.name for f in summary.files) == sorted(
        f"School Census {t} {y}.csv" for y, t in [(2019, "Spring"), (2019, "Summer"),
                                                   (2019, "Autumn"), (2020, "Spring"),
                                                   (2020, "Summer"), (2020, "Autumn")])
    assert data_tables() == before
    summary = backfill(all_files=True, home=str(run_home))
    assert len(summary.files) == 53 and data_tables() == before


def test_a_corrupt_kpi_stops_the_publish_and_readers_keep_the_previous_version(
        run_home, small_sample, tmp_path):
    """A population extract of a few dozen people makes the EHCP rate per 10,000 absurd: the
    quality gate refuses to publish, says which expectation failed, and a BI reader (holding
    a connection through the run, or opening one after) sees the previous tables."""
    from flows.nightly import QualityGateFailed

    published = run_home / "sendboard.duckdb"
    before = snapshot(published)
    reader = duckdb.connect(str(published), read_only=True)
    seen_before = reader.execute("SELECT year, rate_per_10k_0_25 FROM kpi.ehcp_caseload "
                                 "ORDER BY year").fetchall()
    landing = tmp_path / "landing"
    (landing / "population").mkdir(parents=True)
    rows = ["new_la_code,year,age,sex,population"] + [
        f"E06000054,{year},{age},F,1" for year in range(2013, 2026) for age in range(0, 26)]
    (landing / "population" / "ons_corrected.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(QualityGateFailed, match="EHC plans per 10,000 aged 0-25 is plausible"):
        nightly(home=str(run_home), landing=str(landing))
    assert reader.execute("SELECT year, rate_per_10k_0_25 FROM kpi.ehcp_caseload ORDER BY year"
                          ).fetchall() == seen_before
    reader.close()
    assert snapshot(published) == before
    con = duckdb.connect(str(run_home / "warehouse.duckdb"), read_only=True)
    status, error = con.execute("SELECT status, error FROM audit.runs ORDER BY started_at DESC "
                                "LIMIT 1").fetchall()[0]
    failed = con.execute("SELECT suite, column_name FROM audit.quality_checks WHERE NOT success "
                         "AND blocking"
                         ).fetchall()
    con.close()
    assert status == "failed" and error.startswith("QualityGateFailed: quality gate failed")
    assert failed == [("ehcp_caseload", "rate_per_10k_0_25")]
    assert (run_home / "reports" / "data-docs" / "index.html").exists()




def test_the_blade_census_layout_gives_the_same_published_tables(run_home, small_sample,
                                                                 tmp_path):
    """The same sample LA written with its census as COLLECT Blade exports (312 files, one
    a table a census, with leavers' and summer half-term 2 tables) publishes exactly the
    KPI and public tables of the flat layout, and kpi.sen_attendance too, which only the
    Blade layout can fill (it has attendance)."""
    from sendboard.sample import write_sample

    landing = tmp_path / "landing"
    write_sample(landing, seed=7, cohort_size=SMALL_COHORT, census_format="blade",
                 published_from=small_sample.parent / "release")
    assert len(list((landing / "census").iterdir())) == 312
    home = tmp_path / "home"
    assert nightly(home=str(home), landing=str(landing)).status == "published"

    def published(tables):
        return {t: v for t, v in tables.items() if t.startswith(("kpi.", "public."))}

    flat, blade = published(FIRST_PUBLISH), published(snapshot(home / "sendboard.duckdb"))
    assert {"kpi.sen_prevalence", "public.sen_prevalence", "kpi.reconciliation"} <= set(flat)
    attendance = ("kpi.sen_attendance", "public.sen_attendance")
    assert [flat[t][0] for t in attendance] == [0, 0]
    # 35 censuses report 35 terms' attendance (autumn 2013-14 to autumn 2025-26), four rows
    # a term (three SEN statuses and all), and an `unknown` row for summer 2013-14: the
    # first census's leavers, whose census before is not in the sample.
    assert [blade[t][0] for t in attendance] == [141, 141]
    assert {t: v for t, v in blade.items() if t not in attendance} == {
        t: v for t, v in flat.items() if t not in attendance}
    # The disclosure model's attendance relations hold on the true table, and what was
    # published of it leaves nothing to work out.
    from transforms import disclosure
    from transforms.disclosure_model import MODEL
    from warehouse import store

    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        true, shown = (store.read(con, f"SELECT * FROM {s}.sen_attendance")
                       for s in ("kpi", "public"))
    finally:
        con.close()
    assert disclosure.residuals({"sen_attendance": true}, MODEL) == []
    assert disclosure.audit({"sen_attendance": shown}, MODEL).passed


def test_published_tables_are_those_recorded_for_the_sample(run_home):
    """Every kpi.* and public.* table of the small sample LA, row for row, as recorded in
    tests/golden/ (before the architecture work of issue 16): a refactor that changes a
    published number fails here. A deliberate change of a KPI re-records the file with
    SENDBOARD_RECORD_GOLDEN=1 and says so in its commit."""
    import json

    got = FIRST_PUBLISH["fingerprint"]
    if os.environ.get("SENDBOARD_RECORD_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(GOLDEN.read_text())
    assert sorted(got) == sorted(recorded)
    assert {t: v for t, v in got.items() if v != recorded[t]} == {}


def test_every_published_kpi_is_a_registry_entry_with_a_unique_grain_and_its_suites(run_home):
    """Each kpi.* table of the sample is an entry of the registry; its grain columns are
    unique together; its quality suites have rules on it; the sample builds every entry."""
    import datetime as dt

    from schemas.quality import Checking
    from warehouse.registry import BY_NAME

    con = duckdb.connect(str(run_home / "sendboard.duckdb"), read_only=True)
    try:
        names = [n for (n,) in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'kpi' ORDER BY 1").fetchall()]
        tables = {n: con.sql(f"SELECT * FROM kpi.{n}").pl() for n in names}
    finally:
        con.close()
    assert sorted(names) == sorted(BY_NAME)
    for name, frame in tables.items():
        kpi = BY_NAME[name]
        assert frame.select(kpi.grain).is_duplicated().sum() == 0, name
        suites = kpi.quality(frame, tables, Checking(dt.date(2026, 3, 26), None))
        assert suites and all(s.rules for s in suites), name
