"""Shared fixtures: one Prefect test server for the session, a pseudonymisation key, and a
small sample LA written once in the contract formats."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's temporary server gets 20 s to start by default; on 2 busy cores (the suite's own
# runs beside it) it has needed more.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Test extracts carry fixed dates (2025-2026): the freshness rule has its own test.
os.environ["SENDBOARD_MAX_DATA_AGE_DAYS"] = "100000"
TEST_KEY = "test-key-not-a-secret-0123456789abcdef"
# Session and module fixtures run flows before per-test fixtures: the key is set for all.
os.environ.setdefault("SENDBOARD_PSEUDONYM_KEY", TEST_KEY)
TEST_ARCHIVE_KEY = "a5" * 32  # the archive's AES-256 key: 32 bytes as 64 hex characters
os.environ.setdefault("SENDBOARD_ARCHIVE_KEY", TEST_ARCHIVE_KEY)


from flows import settings as env  # noqa: E402  (after the environment above)

env.library_defaults()


def settings_for(home: Path):
    """The settings of a run in `home`, as a run with this test environment would have
    them (for steps called without a flow, e.g. build.rebuild)."""
    return env.run_settings(home)


def archive_at(home: Path):
    """The archive of a home folder, sealed with the test archive key, for loads called
    without a run."""
    from warehouse.archive import Archive

    return Archive(home / "archive", bytes.fromhex(TEST_ARCHIVE_KEY), home / ".replay")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch):
    monkeypatch.setenv("SENDBOARD_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("SENDBOARD_ARCHIVE_KEY", TEST_ARCHIVE_KEY)
    return TEST_KEY.encode()


SMALL_COHORT = 150


RELEASE = Path(__file__).resolve().parents[2] / "shared" / "external" / "dfe-ehcp-2025"


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A small LA (150 children a birth year) with the county's shape, all sources, and three
    files of the DfE's real 2025 release (caseload, timeliness, needs) as published/."""
    import shutil

    from sendboard.sample import write_sample

    root = tmp_path_factory.mktemp("sample")
    release = root / "release"
    release.mkdir()
    for name in ("caseload.csv", "timeliness_20_week.csv", "sen_needs_all_plans.csv"):
        shutil.copy(RELEASE / name, release / name)
    out = root / "landing"
    write_sample(out, seed=7, cohort_size=SMALL_COHORT, published_from=release)
    return out
