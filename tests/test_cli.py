"""The command line: clear failures before any work starts, and status output."""

from __future__ import annotations

import json

from sendboard.cli import main


def test_a_real_run_without_a_key_stops_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SENDBOARD_PSEUDONYM_KEY", raising=False)
    (tmp_path / "landing").mkdir()
    code = main(["run", "--home", str(tmp_path), "--landing", str(tmp_path / "landing")])
    err = capsys.readouterr().err
    assert code == 2
    assert "SENDBOARD_PSEUDONYM_KEY is not set" in err
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_short_key_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", "short")
    assert main(["run", "--home", str(tmp_path)]) == 2
    assert "shorter than 16 characters" in capsys.readouterr().err


def test_status_before_any_run(tmp_path, capsys):
    assert main(["status", "--home", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["runs"] == [] and info["message"] == "nothing published yet: run `sendboard run`"
