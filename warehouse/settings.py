"""What a run is told: where things live and every setting, as one object that the entry
points (the command line, the flows) make from the environment once (flows/settings.py) and
pass down. Nothing here reads the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_SUPPRESSION_THRESHOLD = 5
DEFAULT_MAX_DATA_AGE_DAYS = 400


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
    def sample_key_file(self) -> Path:
        return self.root / ".sample-pseudonym-key"

    def ensure(self) -> None:
        for d in (self.root, self.archive, self.reports):
            d.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Settings:
    """Every setting of a run (README, "Settings"). `max_data_age_days=None` skips the
    freshness rule (sample data carries fixed dates); `statistical_neighbours=None` uses the
    list shipped in warehouse/reference/; `scenarios` is the forecast's scenarios file;
    `kpi_doc` the KPI definitions the board pack's appendix prints."""

    home: Home
    scenarios: Path
    kpi_doc: Path
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    max_data_age_days: int | None = DEFAULT_MAX_DATA_AGE_DAYS
    reconciliation_blocks: bool = False
    statistical_neighbours: tuple[str, ...] | None = None
    task_runner: str = "threads"
