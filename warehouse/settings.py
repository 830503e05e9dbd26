"""What a run is told: where things live and every setting, as one object that the entry
points (the command line, the flows) make from the environment once (flows/settings.py) and
pass down. Nothing here reads the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse import permissions

if TYPE_CHECKING:
    from warehouse.archive import Archive

DEFAULT_SUPPRESSION_THRESHOLD = 5
DEFAULT_MAX_DATA_AGE_DAYS = 400
# Seven years from when a file was loaded (docs/privacy.md, "The archive"): the six of the
# Limitation Act on which councils' retention schedules build, and the year it arrived.
DEFAULT_ARCHIVE_RETENTION_DAYS = 2557


class ConfigError(RuntimeError):
    """A setting the user must fix; the message says how."""


@dataclass(frozen=True)
class Home:
    """The working folder: the warehouse, the published database, the archive, reports."""

    root: Path

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
    def logs(self) -> Path:
        """A file a command-line run, `<run id>.log`: every line, the libraries' too."""
        return self.root / "logs"

    @property
    def replay(self) -> Path:
        """Plaintext copies of archived files while a run reads them (warehouse/archive.py)."""
        return self.root / ".replay"

    @property
    def sample_key_file(self) -> Path:
        return self.root / ".sample-pseudonym-key"

    @property
    def sample_archive_key_file(self) -> Path:
        return self.root / ".sample-archive-key"

    def ensure(self) -> None:
        """The home's folders: the home and the archive private (0700) to the user running
        the pipeline, as the archive's files and the databases are (0600)."""
        permissions.private_dir(self.root)
        permissions.private_dir(self.archive)
        self.reports.mkdir(parents=True, exist_ok=True)

    def tighten(self) -> list[Path]:
        """The home's private files and folders put right where they have become looser;
        what was open to others."""
        databases = [self.warehouse, self.published]
        return permissions.tighten(
            self.root, [self.archive, self.replay],
            [*databases, self.sample_key_file, self.sample_archive_key_file],
            [d.with_name(d.name + ".wal") for d in databases])


@dataclass(frozen=True)
class Settings:
    """Every setting of a run (README, "Settings"). `max_data_age_days=None` skips the
    freshness rule (sample data carries fixed dates); `statistical_neighbours=None` uses the
    list shipped in warehouse/reference/; `scenarios` is the forecast's scenarios file;
    `kpi_doc` the KPI definitions the board pack's appendix prints; `archive_key` the
    archive's key (None where nothing reads or writes the archive: a report, a rebuild);
    `archive_retention_days` how long an archived file is kept from its first load (0: for
    ever)."""

    home: Home
    scenarios: Path
    kpi_doc: Path
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    max_data_age_days: int | None = DEFAULT_MAX_DATA_AGE_DAYS
    reconciliation_blocks: bool = False
    statistical_neighbours: tuple[str, ...] | None = None
    task_runner: str = "threads"
    archive_key: bytes | None = field(default=None, repr=False)
    archive_retention_days: int = DEFAULT_ARCHIVE_RETENTION_DAYS

    @property
    def archive(self) -> Archive:
        # (Imported here: the command line reads settings without loading the cipher.)
        from warehouse.archive import Archive

        if self.archive_key is None:
            raise ConfigError("no archive key was read for this run (flows/settings.py "
                              "run_settings reads SENDBOARD_ARCHIVE_KEY)")
        return Archive(self.home.archive, self.archive_key, self.home.replay)
