"""The archive fit for special category data (issue 21, item 3): archived files sealed with
AES-256-GCM under SENDBOARD_ARCHIVE_KEY, read back only through private copies; a wrong key
or damaged bytes stop with a message naming the file; backfills replay the sealed archive
to the same tables; a retention purge removes old raw files and keeps what was derived from
them; the home, its databases and its archive are their owner's only. The file format
itself: tests/test_sealed.py."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from tests import handmade
from tests.conftest import archive_at
from warehouse import loads
from warehouse.archive import ArchiveError, sha256_of
from warehouse.sealed import CHUNK, HEADER_BYTES, TAG

KEY = b"k" * 32
OTHER_KEY = "5a" * 32


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sealed_census(tmp_path: Path, rows: list[str] | None = None):
    archive = archive_at(tmp_path)
    path = handmade.write_census(tmp_path / "landing" / "census", rows)
    f = loads.LandedFile("census", path, sha256_of(path))
    loads.prepare(f, KEY, archive)
    return archive, path, archive.root / "census" / f"{f.sha256}.csv.enc"


def test_an_archived_census_holds_none_of_its_plaintext_and_reads_back_exactly(tmp_path):
    archive, landed, sealed = sealed_census(tmp_path)
    plain, data = landed.read_bytes(), sealed.read_bytes()
    # What the landed file says of its children, and none of it in the archive's bytes.
    told = [handmade.PUPIL_UPNS[0], handmade.PUPIL_UPNS[4], "Smith", "Green", "01/05/2015",
            "CensusDate", "8652001"]
    assert all(t.encode() in plain for t in told)
    assert [t for t in told if t.encode() in data] == []
    assert len(data) == HEADER_BYTES + len(plain) + TAG  # one chunk, one tag
    assert (mode(sealed), mode(sealed.parent), mode(archive.root)) == (0o600, 0o700, 0o700)
    with archive.opened(sealed, landed.name, "census") as copy:
        assert copy.read_bytes() == plain
        assert (copy.parent, mode(copy), mode(copy.parent)) == (archive.replay, 0o600, 0o700)
        assert copy.suffix == ".csv"
    assert list(archive.replay.iterdir()) == []  # the copy goes with the block


def _flip(data: bytes) -> bytes:  # one byte in the second chunk
    i = HEADER_BYTES + CHUNK + TAG + 1000
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def _drop_last_chunk(data: bytes) -> bytes:  # cut at a chunk boundary
    return data[:HEADER_BYTES + 2 * (CHUNK + TAG)]


def _cut_mid_chunk(data: bytes) -> bytes:
    return data[:-5000]


def _swap_chunks(data: bytes) -> bytes:
    a = HEADER_BYTES
    b, c = a + CHUNK + TAG, a + 2 * (CHUNK + TAG)
    return data[:a] + data[b:c] + data[a:b] + data[c:]


@pytest.mark.parametrize(("damage", "says"), [
    (_flip, "is damaged or altered: chunk 1 fails authentication"),
    (_drop_last_chunk, "is damaged, altered or truncated: chunk 1, its last as it stands, "
                       "fails authentication"),
    (_cut_mid_chunk, "is damaged, altered or truncated: chunk 2, its last as it stands, "
                     "fails authentication"),
    (_swap_chunks, "is damaged or altered: chunk 0 fails authentication"),
])
def test_a_damaged_archived_file_is_refused_with_its_name_and_leaves_no_plaintext(
        tmp_path, damage, says):
    # 2.5 chunks of census rows: three chunks, the last short.
    row = handmade.census_rows()[0]
    rows = [row] * (int(2.5 * CHUNK) // (len(row) + 1))
    archive, landed, sealed = sealed_census(tmp_path, rows)
    sealed.write_bytes(damage(sealed.read_bytes()))
    with pytest.raises(ArchiveError) as e:
        archive.readable(sealed, landed.name, "census")
    assert str(e.value) == f"the archived file census/spring 2024.csv ({sealed}) {says}"
    assert list(archive.replay.iterdir()) == []


def test_the_wrong_archive_key_is_refused_with_the_files_name(tmp_path):
    from warehouse.archive import Archive

    archive, landed, sealed = sealed_census(tmp_path)
    wrong = Archive(archive.root, bytes.fromhex(OTHER_KEY), archive.replay)
    with pytest.raises(ArchiveError) as e:
        wrong.readable(sealed, landed.name, "census")
    assert str(e.value) == (
        f"the archived file census/spring 2024.csv ({sealed}) was sealed with another "
        "archive key: SENDBOARD_ARCHIVE_KEY is not the key the archive was written with")
    assert list(archive.replay.iterdir()) == []
    assert wrong.survey() == ([], [sealed])
    assert archive.survey() == ([], [])


# ------------------------------------------------------------------------------------------
# The key and the retention, from the environment
# ------------------------------------------------------------------------------------------

def test_the_archive_key_is_32_bytes_as_hex_or_base64(tmp_path, monkeypatch):
    import base64

    from flows import settings as env
    from warehouse.settings import ConfigError, Home

    h = Home(tmp_path)
    raw = bytes.fromhex(OTHER_KEY)
    for text in (OTHER_KEY, OTHER_KEY.upper(), base64.b64encode(raw).decode(),
                 base64.urlsafe_b64encode(raw).decode()):
        monkeypatch.setenv("SENDBOARD_ARCHIVE_KEY", text)
        assert env.archive_key(h) == raw
    for text, got in (("not-a-key", "9 characters that are neither hexadecimal nor base64"),
                      ("ab" * 16, "24 bytes"), (OTHER_KEY[:-1] + "g", "48 bytes")):
        monkeypatch.setenv("SENDBOARD_ARCHIVE_KEY", text)
        with pytest.raises(ConfigError) as e:
            env.archive_key(h)
        assert str(e.value) == (
            "SENDBOARD_ARCHIVE_KEY must be 32 random bytes, written as 64 hexadecimal "
            "characters (`openssl rand -hex 32`) or in base64 (`openssl rand -base64 32`); "
            f"it is {got}.")
        assert text not in str(e.value)
    monkeypatch.setenv("SENDBOARD_ARCHIVE_KEY", OTHER_KEY)
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", OTHER_KEY)
    with pytest.raises(ConfigError, match="is the same as SENDBOARD_PSEUDONYM_KEY"):
        env.archive_key(h)


def test_a_real_run_without_the_archive_key_stops_before_anything(tmp_path, monkeypatch,
                                                                   capsys):
    from sendboard.cli import main

    monkeypatch.delenv("SENDBOARD_ARCHIVE_KEY")
    (tmp_path / "landing").mkdir()
    code = main(["run", "--home", str(tmp_path), "--landing", str(tmp_path / "landing")])
    (line,) = capsys.readouterr().err.splitlines()
    assert code == 2
    assert line.startswith("sendboard: SENDBOARD_ARCHIVE_KEY is not set. Set it to the key "
                           "the archive of landed files is encrypted with, 32 random bytes")
    assert not (tmp_path / "warehouse.duckdb").exists()
    monkeypatch.setenv("SENDBOARD_ARCHIVE_KEY", "0123")
    assert main(["backfill", "--all", "--home", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("sendboard: SENDBOARD_ARCHIVE_KEY must be 32 ")


def test_sample_runs_fall_back_to_a_private_local_key(tmp_path, monkeypatch):
    from flows import settings as env
    from warehouse.settings import Home

    monkeypatch.delenv("SENDBOARD_ARCHIVE_KEY")
    h = Home(tmp_path / "home")
    first = env.archive_key(h, allow_sample_key=True)
    assert env.archive_key(h, allow_sample_key=True, warn=False) == first
    assert len(first) == 32 and mode(h.sample_archive_key_file) == 0o600
    assert first != env.pseudonym_key(h, allow_sample_key=True)
    assert mode(h.root) == 0o700


def test_the_retention_setting(tmp_path, monkeypatch):
    from flows import settings as env
    from warehouse.settings import ConfigError

    monkeypatch.delenv("SENDBOARD_ARCHIVE_RETENTION_DAYS", raising=False)
    assert env.settings(tmp_path).archive_retention_days == 2557
    monkeypatch.setenv("SENDBOARD_ARCHIVE_RETENTION_DAYS", "0")
    assert env.settings(tmp_path).archive_retention_days == 0
    monkeypatch.setenv("SENDBOARD_ARCHIVE_RETENTION_DAYS", "-1")
    with pytest.raises(ConfigError, match="SENDBOARD_ARCHIVE_RETENTION_DAYS is -1: it must be "
                                          "at least 0"):
        env.settings(tmp_path)


# ------------------------------------------------------------------------------------------
# Runs and backfills on the hand-made extracts
# ------------------------------------------------------------------------------------------

def published_tables(home: Path) -> dict[str, list]:
    """Row count and an order-free fingerprint of every kpi.* and public.* table."""
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    try:
        return {t: list(con.execute(f"SELECT count(*), sum(hash(r)::HUGEINT) FROM {t} r")
                        .fetchall()[0])
                for (t,) in con.execute(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_schema IN ('kpi', 'public') ORDER BY 1").fetchall()}
    finally:
        con.close()


def warehouse_rows(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def archive_notes(summary) -> list[str]:
    """A run's warnings about the archive (the forecast has its own on these extracts)."""
    return [w for w in summary.warnings if "archive" in w]


@pytest.fixture
def first_run(tmp_path, prefect_harness):
    from flows.nightly import nightly

    home, landing = tmp_path / "home", handmade.write_landing(tmp_path / "landing")
    summary = nightly(home=str(home), landing=str(landing))
    assert summary.status == "published"
    return home, landing, summary


def test_a_run_leaves_the_home_private_and_puts_right_what_became_looser(first_run):
    from flows.nightly import nightly

    home, landing, _ = first_run
    archived = sorted((home / "archive").rglob("*.enc"))
    assert len(archived) == 10 and not [p for p in (home / "archive").rglob("*")
                                        if p.is_file() and p.suffix != ".enc"]
    assert mode(home) == 0o700
    assert {p.name: mode(p) for p in (home / "warehouse.duckdb", home / "sendboard.duckdb")} \
        == {"warehouse.duckdb": 0o600, "sendboard.duckdb": 0o600}
    assert {mode(p) for p in archived} == {0o600}
    assert {mode(p) for p in (home / "archive").iterdir()} | {mode(home / "archive")} == {0o700}
    assert not (home / ".replay").exists()
    # Opened up by hand since, and a copy a killed run left behind.
    os.chmod(home, 0o755)
    os.chmod(home / "sendboard.duckdb", 0o644)
    os.chmod(archived[0], 0o644)
    (home / ".replay").mkdir()
    (home / ".replay" / "left.csv").write_text("UPN\n")
    assert nightly(home=str(home), landing=str(landing)).status == "no_new_files"
    assert (mode(home), mode(home / "sendboard.duckdb"), mode(archived[0])) == \
        (0o700, 0o600, 0o600)
    assert not (home / ".replay").exists()


def test_a_backfill_from_the_sealed_archive_gives_the_same_tables(first_run):
    from flows.backfill import backfill

    home, landing, _ = first_run
    before = published_tables(home)
    shutil.rmtree(landing)  # only the archive is left to replay
    summary = backfill(all_files=True, home=str(home))
    assert summary.status == "published" and len(summary.files) == 10
    assert {f.status for f in summary.files} == {"loaded"}
    assert published_tables(home) == before
    assert not (home / ".replay").exists()  # the plaintext copies went with the run
    assert archive_notes(summary) == []


def test_a_run_with_another_archive_key_stops_before_loading(first_run, monkeypatch, capsys):
    from flows.nightly import nightly
    from sendboard.cli import main

    home, landing, _ = first_run
    handmade.write_census(landing / "census", handmade.census_rows("05/10/2023"),
                          name="autumn 2023.csv")
    monkeypatch.setenv("SENDBOARD_ARCHIVE_KEY", OTHER_KEY)
    with pytest.raises(ArchiveError) as e:
        nightly(home=str(home), landing=str(landing))
    assert str(e.value).startswith("10 archived file(s) (e.g. ")
    assert str(e.value).endswith(".csv.enc) were sealed with another archive key: "
                                 "SENDBOARD_ARCHIVE_KEY is not the key this archive was "
                                 "written with. Set it to that key and run again; nothing "
                                 "was loaded.")
    assert warehouse_rows(home, "SELECT count(*) FROM audit.files WHERE original_name = "
                                "'autumn 2023.csv'") == [(0,)]
    code = main(["backfill", "--all", "--home", str(home)])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0].startswith("sendboard: 10 archived file(s) (e.g. ") and len(err) == 2
    assert err[1].startswith("the full log: ")


def test_an_archive_written_before_encryption_replays_and_is_sealed_once(first_run, capsys):
    from flows.backfill import backfill
    from sendboard.cli import main

    home, _, _ = first_run
    before = published_tables(home)
    archive = archive_at(home)
    # The archive as sendboard wrote it before: plain copies named by SHA-256.
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    for sealed in sorted(archive.root.rglob("*.enc")):
        plain = sealed.with_name(sealed.name.removesuffix(".enc"))
        shutil.move(archive.readable(sealed, sealed.name, sealed.parent.name), plain)
        sealed.unlink()
        con.execute("UPDATE audit.files SET archived_as = ? WHERE archived_as = ?",
                    [str(plain), str(sealed)])
    con.close()
    summary = backfill(all_files=True, home=str(home))
    assert summary.status == "published" and len(summary.files) == 10
    assert published_tables(home) == before
    assert archive_notes(summary) == [
        f"10 archived file(s) in {archive.root} were archived before sendboard encrypted its "
        "archive and are not encrypted: `sendboard archive encrypt` seals them "
        "(docs/privacy.md)"]

    assert main(["archive", "encrypt", "--home", str(home)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (f"10 archived file(s) sealed in {archive.root}; every archived file "
                       "is now encrypted")
    files = [p for p in archive.root.rglob("*") if p.is_file()]
    assert len(files) == 10 and {p.name.endswith(".csv.enc") for p in files} == {True}
    for p in files:
        with archive.opened(p, p.name, p.parent.name) as copy:
            assert sha256_of(copy) == p.name.split(".")[0]
    recorded = warehouse_rows(home, "SELECT DISTINCT archived_as FROM audit.files")
    assert sorted(Path(a) for (a,) in recorded) == sorted(files)
    again = backfill(all_files=True, home=str(home))
    assert archive_notes(again) == [] and published_tables(home) == before


def test_a_purge_removes_only_old_raw_files_and_keeps_what_came_of_them(first_run, capsys):
    from flows.backfill import backfill
    from flows.nightly import nightly
    from sendboard.cli import main
    from warehouse.backfill import BackfillError

    home, landing, first = first_run
    autumn = handmade.write_census(landing / "census", handmade.census_rows("05/10/2023"),
                                   name="autumn 2023.csv")
    second = nightly(home=str(home), landing=str(landing))
    assert [f.name for f in second.files] == ["autumn 2023.csv"]
    # The first run eight years ago, past the default retention of seven.
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("UPDATE audit.runs SET started_at = started_at - INTERVAL 8 YEAR "
                "WHERE run_id = ?", [first.run_id])
    con.close()
    tables = published_tables(home)
    audit_files = warehouse_rows(home, "SELECT * FROM audit.files ORDER BY ALL")
    landed = sorted(p for p in landing.rglob("*") if p.is_file())

    assert main(["archive", "purge", "--home", str(home), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    size = sum(p.stat().st_size + HEADER_BYTES + TAG for p in landed if p != autumn)
    assert out[-1] == ("10 archived file(s) would be purged: first loaded more than 2557 days "
                       f"ago ({size / 1e6:.1f} MB)")
    assert len(list((home / "archive").rglob("*.enc"))) == 11

    assert main(["archive", "purge", "--home", str(home)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("10 archived file(s) purged: first loaded more than 2557 days "
                              "ago; their rows")
    (kept,) = (home / "archive").rglob("*.enc")
    assert kept.name == f"{sha256_of(autumn)}.csv.enc"
    assert sorted(p for p in landing.rglob("*") if p.is_file()) == landed  # never touched
    assert warehouse_rows(home, "SELECT * FROM audit.files ORDER BY ALL") == audit_files
    purges = warehouse_rows(home, "SELECT source, original_name, purged_at::DATE, reason, "
                                  "first_loaded_at < now() - INTERVAL 7 YEAR "
                                  "FROM audit.archive_purges ORDER BY original_name")
    today = dt.datetime.now(dt.UTC).date()
    reason = ("first loaded more than 2557 days before, the retention "
              "(SENDBOARD_ARCHIVE_RETENTION_DAYS)")
    first_files = [("census", "spring 2024.csv")] + [("sen2", p.name)
                                                      for p in (landing / "sen2").iterdir()]
    assert [(s, n) for s, n, *_ in purges] == sorted(first_files, key=lambda r: r[1])
    assert {tuple(r[2:]) for r in purges} == {(today, reason, True)}

    # What was derived from them stays, and a backfill of everything replays what is left.
    summary = backfill(all_files=True, home=str(home))
    assert [f.name for f in summary.files] == ["autumn 2023.csv"]
    assert published_tables(home) == tables
    spring = sha256_of(landing / "census" / "spring 2024.csv")
    assert archive_notes(summary)[0] == (
        f"not replayed: census/spring 2024.csv ({spring[:12]}) was purged from the archive on "
        f"{today} ({reason})")
    assert len(archive_notes(summary)) == 10
    # A backfill of a period they held says they are gone.
    with pytest.raises(BackfillError) as e:
        backfill(sources=["census"], period_from="2024-01-01", period_to="2024-12-31",
                 home=str(home))
    assert str(e.value).startswith(
        "1 file(s) the backfill needs are no longer in the archive: census/spring 2024.csv (")
    assert f"was purged from the archive on {today} ({reason}). Their rows stay in the " \
           "warehouse as they were loaded" in str(e.value)


def test_purge_with_retention_0_keeps_everything(tmp_path, monkeypatch, capsys):
    from sendboard.cli import main

    monkeypatch.setenv("SENDBOARD_ARCHIVE_RETENTION_DAYS", "0")
    assert main(["archive", "purge", "--home", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(
        "sendboard: SENDBOARD_ARCHIVE_RETENTION_DAYS is 0 (keep archived files for ever)")


# ------------------------------------------------------------------------------------------
# The purge and the backfill's selection, without a run
# ------------------------------------------------------------------------------------------

@pytest.fixture
def loaded(tmp_path):
    """The hand-made census loaded into a warehouse (run "run-1"), sealed in the archive."""
    from warehouse import store

    con = store.connect(tmp_path / "warehouse.duckdb")
    store.start_run(con, "run-1", "test")
    path = handmade.write_census(tmp_path / "landing" / "census")
    f = loads.LandedFile("census", path, sha256_of(path))
    assert loads.load_batch(con, [f], KEY, "run-1", archive_at(tmp_path))[0].status == "loaded"
    yield con, f, archive_at(tmp_path).root / "census" / f"{f.sha256}.csv.enc"
    con.close()


def test_a_file_gone_from_the_archive_stops_a_backfill_unless_it_was_purged(loaded):
    from warehouse.archive_upkeep import due, purge
    from warehouse.backfill import BackfillError, archived_files, still_archived

    con, f, sealed = loaded
    assert [g.path for g in archived_files(con, ["census"], None, None)] == [sealed]
    sealed.rename(sealed.with_suffix(".moved"))  # gone, and nothing says why
    for select in (lambda: archived_files(con, None, None, None), lambda: still_archived(con)):
        with pytest.raises(BackfillError) as e:
            select()
        assert str(e.value) == (
            f"1 file(s) the backfill needs are no longer in the archive: census/spring "
            f"2024.csv ({f.sha256[:12]}) is missing from the archive at {sealed}. Their rows "
            "stay in the warehouse as they were loaded; backfill other periods only, or land "
            "the files again.")
    sealed.with_suffix(".moved").rename(sealed)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=3000)
    (old,) = due(con, sealed.parents[1], 2557, now)
    assert (old.names, old.sha256, old.path) == (["spring 2024.csv"], f.sha256, sealed)
    purge(con, [old], "a test", now)
    assert not sealed.exists()
    assert still_archived(con) == ([], [
        f"not replayed: census/spring 2024.csv ({f.sha256[:12]}) was purged from the archive "
        f"on {now:%Y-%m-%d} (a test)"])


def test_a_purge_killed_before_deleting_finishes_next_time_and_counts_unloaded_files(loaded):
    from warehouse.archive_upkeep import due, purge

    con, f, sealed = loaded
    root = sealed.parents[1]
    # Bytes archived by a run whose export never became whole: in no audit row.
    waiting = root / "sen2" / f"{'0' * 64}.csv.enc"
    waiting.parent.mkdir()
    waiting.write_bytes(b"sealed bytes")
    month_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).timestamp()
    os.utime(waiting, (month_ago, month_ago))
    now = dt.datetime.now(dt.UTC)
    assert due(con, root, 2557, now) == []
    assert [d.path for d in due(con, root, 7, now)] == [waiting]
    assert due(con, root, 7, now)[0].label.startswith(f"sen2/(never loaded) ({'0' * 12}, ")
    later = now + dt.timedelta(days=3000)
    files = due(con, root, 2557, later)
    assert sorted(d.path for d in files) == sorted([sealed, waiting])
    kept = sealed.read_bytes()
    purge(con, files, "a test", later)
    sealed.write_bytes(kept)  # as if killed between recording and deleting it
    purge(con, due(con, root, 2557, later), "a test", later)
    assert not sealed.exists() and not waiting.exists()
    assert con.execute("SELECT source, original_name, count(*) FROM audit.archive_purges "
                       "GROUP BY ALL ORDER BY 1").fetchall() == [
        ("census", "spring 2024.csv", 1), ("sen2", None, 1)]
