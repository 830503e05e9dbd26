"""The warehouse knows its pseudonymisation key by a fingerprint: a run (nightly or backfill)
with another key stops before loading and changes nothing; a warehouse built before
fingerprints were kept adopts the key of its next run, and says so once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil

import duckdb
import pytest

from sendboard.cli import main
from tests import handmade
from tests.conftest import TEST_KEY
from tests.plain_run import plain_run
from warehouse.pseudonym_key import LABEL, KeyMismatch, fingerprint

OTHER_KEY = "another-key-not-the-warehouses-0123456789"


def test_the_fingerprint_is_an_hmac_of_a_fixed_label_never_the_key():
    key = TEST_KEY.encode()
    assert fingerprint(key) == hmac.new(key, b"sendboard pseudonym key fingerprint v1",
                                        hashlib.sha256).hexdigest()
    assert LABEL == b"sendboard pseudonym key fingerprint v1"
    assert len(fingerprint(key)) == 64 and TEST_KEY not in fingerprint(key)
    assert fingerprint(key) != fingerprint(OTHER_KEY.encode())
    assert fingerprint(key) == fingerprint(key)  # the same key, the same fingerprint


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A home built from the hand-made extracts with the test key, and a new file to load."""
    root = tmp_path_factory.mktemp("built")
    landing = handmade.write_landing(root / "landing")
    summary = plain_run(root / "home", landing, run_id="first-run")
    assert summary.status == "published"
    new = root / "new-landing"
    handmade.write_census(new / "census", handmade.census_rows("16/01/2025"),
                          name="spring 2025.csv")
    return root / "home", landing, new


@pytest.fixture
def home(built, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(built[0], copy)
    return copy


def counts(path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {f"{s}.{t}": con.execute(f"SELECT count(*) FROM {s}.{t}").fetchone()[0]
                for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                        "ORDER BY 1, 2").fetchall()}
    finally:
        con.close()


def message(given: str, have: str) -> str:
    return (f"sendboard: SENDBOARD_PSEUDONYM_KEY is not the key this warehouse was built with "
            f"(its fingerprint is {fingerprint(given.encode())[:12]}, the warehouse's "
            f"{fingerprint(have.encode())[:12]}): pupils pseudonymised with it would link to "
            "none loaded before, so nothing was loaded. Set SENDBOARD_PSEUDONYM_KEY to the "
            "warehouse's key and run again; to change the key, run `sendboard rotate-key` "
            "with the current key in SENDBOARD_PSEUDONYM_KEY and the new one in "
            "SENDBOARD_NEW_PSEUDONYM_KEY (docs/privacy.md).")


def test_the_first_run_records_the_key_and_keeps_it_out_of_the_published_copy(built):
    home = built[0]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT fingerprint, first_run_id, retired_at FROM "
                           "audit.key_fingerprint").fetchall() == [
            (fingerprint(TEST_KEY.encode()), "first-run", None)]
    finally:
        con.close()
    published = counts(home / "sendboard.duckdb")
    assert "audit.runs" in published and "audit.files" in published
    assert "audit.key_fingerprint" not in published and "audit.key_rotations" not in published
    assert fingerprint(TEST_KEY.encode()).encode() not in \
        (home / "sendboard.duckdb").read_bytes()


def test_a_run_with_another_key_stops_before_loading_and_changes_nothing(built, home,
                                                                       monkeypatch, capsys):
    warehouse, published = home / "warehouse.duckdb", home / "sendboard.duckdb"
    before = warehouse.read_bytes(), published.read_bytes()
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", OTHER_KEY)
    code = main(["run", "--home", str(home), "--landing", str(built[2])])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.splitlines() == [message(OTHER_KEY, TEST_KEY)]
    assert (warehouse.read_bytes(), published.read_bytes()) == before
    assert not (home / "logs").exists()  # stopped before any run began
    # The backfill too.
    code = main(["backfill", "--all", "--home", str(home)])
    assert code == 2 and capsys.readouterr().err.splitlines() == [message(OTHER_KEY, TEST_KEY)]
    assert (warehouse.read_bytes(), published.read_bytes()) == before


def test_the_run_itself_refuses_another_key_before_recording_anything(built, home):
    """Started some other way (a deployment, a script), the run checks under its lock."""
    warehouse = home / "warehouse.duckdb"
    before, tables = warehouse.read_bytes(), counts(warehouse)
    with pytest.raises(KeyMismatch) as refused:
        plain_run(home, built[2], key=OTHER_KEY.encode())
    assert f"sendboard: {refused.value}" == message(OTHER_KEY, TEST_KEY)
    assert warehouse.read_bytes() == before
    assert counts(warehouse) == tables and tables["audit.runs"] == 1
    # With the right key the new file loads.
    summary = plain_run(home, built[2])
    assert (summary.status, [f.name for f in summary.files]) == ("published",
                                                                 ["spring 2025.csv"])


def test_a_warehouse_from_before_fingerprints_adopts_the_key_and_says_so_once(built, home,
                                                                            caplog):
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("DROP TABLE audit.key_fingerprint")  # as this version's warehouses were
    con.close()
    caplog.set_level(logging.INFO)
    assert plain_run(home, built[1], run_id="adopting").status == "no_new_files"
    said = [r.getMessage() for r in caplog.records if "adopts" in r.getMessage()]
    assert said == [
        "this warehouse was built before sendboard recorded its pseudonymisation key: it "
        f"adopts this run's key (fingerprint {fingerprint(TEST_KEY.encode())[:12]}), and "
        "from now on a run with another key stops before loading. If its pupils were "
        "pseudonymised with another key, they will not link to this run's: `sendboard "
        "rotate-key` re-pseudonymises them from the archive (docs/privacy.md)."]
    caplog.clear()
    assert plain_run(home, built[1]).status == "no_new_files"
    assert [r for r in caplog.records if "adopts" in r.getMessage()] == []
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT fingerprint, first_run_id FROM audit.key_fingerprint"
                       ).fetchall() == [(fingerprint(TEST_KEY.encode()), "adopting")]
    con.close()
    with pytest.raises(KeyMismatch):
        plain_run(home, built[2], key=OTHER_KEY.encode())


def test_a_key_that_made_no_pseudonym_yet_is_replaced(tmp_path):
    """A first run that loaded nothing (an empty landing folder) fixed no key."""
    empty = tmp_path / "empty"
    empty.mkdir()
    home = tmp_path / "home"
    assert plain_run(home, empty, key=OTHER_KEY.encode()).status == "no_new_files"
    landing = handmade.write_landing(tmp_path / "landing")
    assert plain_run(home, landing, run_id="loads").status == "published"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT fingerprint, first_run_id FROM audit.key_fingerprint"
                       ).fetchall() == [(fingerprint(TEST_KEY.encode()), "loads")]
    con.close()
