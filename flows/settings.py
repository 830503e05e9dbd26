"""The one place the environment is read: each setting (README, "Settings") once, at the entry
of a run (the command line, a flow), into warehouse.settings.Settings, which is passed down.
Nothing below flows/ and the command line reads os.environ."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import replace
from pathlib import Path

from warehouse.settings import (
    DEFAULT_ARCHIVE_RETENTION_DAYS,
    DEFAULT_MAX_DATA_AGE_DAYS,
    DEFAULT_SUPPRESSION_THRESHOLD,
    ConfigError,
    Home,
    Settings,
)

log = logging.getLogger(__name__)

HOME_ENV = "SENDBOARD_HOME"
KEY_ENV = "SENDBOARD_PSEUDONYM_KEY"
# `sendboard rotate-key`'s new key (the current one stays in KEY_ENV).
NEW_KEY_ENV = "SENDBOARD_NEW_PSEUDONYM_KEY"
THRESHOLD_ENV = "SENDBOARD_SUPPRESSION_THRESHOLD"
MAX_AGE_ENV = "SENDBOARD_MAX_DATA_AGE_DAYS"
RECONCILIATION_ENV = "SENDBOARD_RECONCILIATION_BLOCKS"
NEIGHBOURS_ENV = "SENDBOARD_STATISTICAL_NEIGHBOURS"
SCENARIOS_ENV = "SENDBOARD_SCENARIOS"
RUNNER_ENV = "SENDBOARD_TASK_RUNNER"
ARCHIVE_KEY_ENV = "SENDBOARD_ARCHIVE_KEY"
RETENTION_ENV = "SENDBOARD_ARCHIVE_RETENTION_DAYS"
MIN_KEY_LENGTH = 16
ARCHIVE_KEY_BYTES = 32

# Files of the repository a run needs (the forecast's scenarios, the KPI definitions the
# board pack prints), found here and nowhere else.
REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIOS = REPOSITORY / "sendboard" / "scenarios.toml"
KPI_DOC = REPOSITORY / "docs" / "kpis.md"


def home(path: str | Path | None = None) -> Home:
    """`--home`, else `$SENDBOARD_HOME`, else ./var."""
    return Home(Path(path or os.environ.get(HOME_ENV) or "var").resolve())


def _int(name: str, default: int, low: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} is {text!r}: it must be a whole number") from None
    if value < low:
        raise ConfigError(f"{name} is {value}: it must be at least {low}")
    return value


def settings(home_path: str | Path | None = None, sample: bool = False) -> Settings:
    """Every setting from the environment. `sample`: the sample LA's fixed dates, which no
    freshness rule applies to."""
    neighbours = [c.strip() for c in os.environ.get(NEIGHBOURS_ENV, "").split(",")
                  if c.strip()]
    return Settings(
        home=home(home_path),
        scenarios=Path(os.environ.get(SCENARIOS_ENV) or DEFAULT_SCENARIOS),
        kpi_doc=KPI_DOC,
        suppression_threshold=_int(THRESHOLD_ENV, DEFAULT_SUPPRESSION_THRESHOLD, 1),
        max_data_age_days=None if sample else _int(MAX_AGE_ENV, DEFAULT_MAX_DATA_AGE_DAYS, 0),
        reconciliation_blocks=os.environ.get(RECONCILIATION_ENV, "").strip() == "1",
        statistical_neighbours=tuple(neighbours) or None,
        task_runner=task_runner_kind(),
        archive_retention_days=_int(RETENTION_ENV, DEFAULT_ARCHIVE_RETENTION_DAYS, 0))


def run_settings(home_path: str | Path | None = None, sample: bool = False,
                 warn: bool = True) -> Settings:
    """settings() with the archive key, for what reads or writes the archive (a run, a
    backfill, `sendboard archive encrypt`)."""
    s = settings(home_path, sample=sample)
    return replace(s, archive_key=archive_key(s.home, allow_sample_key=sample, warn=warn))


def task_runner_kind() -> str:
    """`$SENDBOARD_TASK_RUNNER`: how files prepare, `threads` (default) or `dask`. Read when
    the flows are defined (a deployment's worker imports them)."""
    runner = os.environ.get(RUNNER_ENV, "threads").strip() or "threads"
    if runner not in ("threads", "dask"):
        raise ConfigError(f"{RUNNER_ENV} is {runner!r}: use threads or dask")
    return runner


def workers() -> int:
    """Threads for preparing files: one a core, at least two."""
    return max(2, os.cpu_count() or 2)


def pseudonym_key(h: Home, allow_sample_key: bool = False, warn: bool = True) -> bytes:
    """The HMAC key for pseudonyms, `$SENDBOARD_PSEUDONYM_KEY`. A real run without one
    stops: pseudonyms made with a throwaway key could never be linked to the next run's.
    Sample runs fall back to a key generated once in the home folder, with a warning
    (`warn=False`: the command line's check before a run, whose flow warns)."""
    key = os.environ.get(KEY_ENV, "")
    if key:
        return _long_enough(KEY_ENV, key)
    if not allow_sample_key:
        raise ConfigError(
            f"{KEY_ENV} is not set. Set it to the LA's pseudonymisation secret (keep it out of "
            "the repository, e.g. in the scheduler's secret store) and run again. Sample runs "
            "(`sendboard run --sample`) generate a local key instead.")
    h.ensure()
    path = h.sample_key_file
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    if warn:
        log.warning("%s is not set: using the local sample key in %s. Fine for the sample "
                    "data; never for real extracts.", KEY_ENV, path)
    return path.read_text().strip().encode()


def new_pseudonym_key() -> bytes:
    """The key `sendboard rotate-key` re-pseudonymises the warehouse with,
    `$SENDBOARD_NEW_PSEUDONYM_KEY`."""
    key = os.environ.get(NEW_KEY_ENV, "")
    if not key:
        raise ConfigError(f"{NEW_KEY_ENV} is not set: put the new pseudonymisation key there "
                          f"(and the current one in {KEY_ENV}), then run `sendboard "
                          "rotate-key` again.")
    return _long_enough(NEW_KEY_ENV, key)


def _long_enough(name: str, key: str) -> bytes:
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"{name} is shorter than {MIN_KEY_LENGTH} characters; "
                          "use a long random secret (e.g. `openssl rand -hex 32`).")
    return key.encode()


def archive_key(h: Home, allow_sample_key: bool = False, warn: bool = True) -> bytes:
    """The archive's AES-256 key, `$SENDBOARD_ARCHIVE_KEY`: 32 random bytes written as 64
    hexadecimal characters (`openssl rand -hex 32`) or in base64 (`openssl rand -base64
    32`), not the pseudonymisation key. A real run without one stops: files sealed with a
    throwaway key could never be read again. Sample runs fall back to a key generated once
    in the home folder, with a warning, as pseudonym_key does."""
    text = os.environ.get(ARCHIVE_KEY_ENV, "").strip()
    if text:
        key = _archive_key_bytes(text)
        if key == _decoded(os.environ.get(KEY_ENV, "").strip()):
            raise ConfigError(f"{ARCHIVE_KEY_ENV} is the same as {KEY_ENV}: give the archive "
                              "its own key, so that neither secret opens what the other "
                              "guards.")
        return key
    if not allow_sample_key:
        raise ConfigError(
            f"{ARCHIVE_KEY_ENV} is not set. Set it to the key the archive of landed files is "
            "encrypted with, 32 random bytes as 64 hexadecimal characters (e.g. `openssl rand "
            "-hex 32`), kept apart from the pseudonymisation secret (e.g. in the scheduler's "
            "secret store), and run again. Sample runs (`--sample`) generate a local key "
            "instead.")
    h.ensure()
    path = h.sample_archive_key_file
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(ARCHIVE_KEY_BYTES))
    if warn:
        log.warning("%s is not set: using the local sample archive key in %s. Fine for the "
                    "sample data; never for real extracts.", ARCHIVE_KEY_ENV, path)
    return bytes.fromhex(path.read_text().strip())


def _archive_key_bytes(text: str) -> bytes:
    """The key's 32 bytes from its hexadecimal or base64 text; a plain message, which never
    repeats the text, for anything else."""
    key = _decoded(text)
    if key is None or len(key) != ARCHIVE_KEY_BYTES:
        got = f"{len(key)} bytes" if key is not None else f"{len(text)} characters that are "\
            "neither hexadecimal nor base64"
        raise ConfigError(f"{ARCHIVE_KEY_ENV} must be {ARCHIVE_KEY_BYTES} random bytes, "
                          "written as 64 hexadecimal characters (`openssl rand -hex 32`) or "
                          f"in base64 (`openssl rand -base64 32`); it is {got}.")
    return key


def _decoded(text: str) -> bytes | None:
    if not text:
        return None
    if len(text) == 2 * ARCHIVE_KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        return base64.b64decode(text, altchars=b"-_" if ("-" in text or "_" in text)
                                else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def library_defaults() -> None:
    """The libraries' own settings for an offline machine, unless already set: no
    telemetry (Prefect, Great Expectations), the pipeline's loggers in Prefect's run log."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "warehouse,transforms")
    # (Steps called outside a flow, as tests and scripts do, log as any library does.)
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
