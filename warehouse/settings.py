"""Where things live, and the pseudonymisation key.

`--home` defaults to `$SENDBOARD_HOME`, else `./var`. The key comes from
`$SENDBOARD_PSEUDONYM_KEY`; only sample runs may fall back to a key generated locally.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KEY_ENV = "SENDBOARD_PSEUDONYM_KEY"
MIN_KEY_LENGTH = 16


class ConfigError(RuntimeError):
    """A setting the user must fix; the message says how."""


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | Path | None = None) -> Home:
        return cls(Path(home or os.environ.get("SENDBOARD_HOME") or "var").resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "sendboard.duckdb"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def sample_key_file(self) -> Path:
        return self.root / ".sample-pseudonym-key"

    def ensure(self) -> None:
        for d in (self.root, self.archive, self.reports):
            d.mkdir(parents=True, exist_ok=True)


def pseudonym_key(home: Home, allow_sample_key: bool = False) -> bytes:
    """The HMAC key for pseudonyms. A real run without one stops: pseudonyms made with a
    throwaway key could never be linked to the next run's."""
    key = os.environ.get(KEY_ENV, "")
    if key:
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigError(f"{KEY_ENV} is shorter than {MIN_KEY_LENGTH} characters; "
                              "use a long random secret (e.g. `openssl rand -hex 32`).")
        return key.encode()
    if not allow_sample_key:
        raise ConfigError(
            f"{KEY_ENV} is not set. Set it to the LA's pseudonymisation secret (keep it out of "
            "the repository, e.g. in the scheduler's secret store) and run again. Sample runs "
            "(`sendboard run --sample`) generate a local key instead.")
    home.ensure()
    path = home.sample_key_file
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    log.warning("%s is not set: using the local sample key in %s. Fine for the sample data; "
                "never for real extracts.", KEY_ENV, path)
    return path.read_text().strip().encode()
