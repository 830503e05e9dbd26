"""The quality gate: Great Expectations over the KPI tables before anything is published.

Validates pandas copies of the marts (GX Core has no polars support and its SQL path on DuckDB
returns nothing), writes Data Docs under reports/data-docs, and records every expectation's
result in audit.quality_checks. A failed expectation stops the publish.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from schemas.quality import Checking, Suite
from warehouse import store
from warehouse.registry import REGISTRY
from warehouse.settings import DEFAULT_MAX_DATA_AGE_DAYS

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Import Great Expectations in a background thread. The import is about 3 s of
    Python; a run starts it while its files load (work that mostly runs outside the
    interpreter lock), so the gate does not wait for it at the end."""
    threading.Thread(target=importlib.import_module, args=("great_expectations",),
                     name="import great_expectations", daemon=True).start()


@dataclass(frozen=True)
class GateResult:
    checks: pl.DataFrame  # suite, expectation, column, success, why, observed
    docs: Path | None

    def _described(self, bad: pl.DataFrame) -> list[str]:
        return [f"{r['suite']}: {r['why']} ({r['expectation']}"
                f"{' on ' + r['column'] if r['column'] else ''}; found {r['observed']})"
                for r in bad.iter_rows(named=True)]

    @property
    def failures(self) -> list[str]:
        """Failed blocking expectations: these stop the publish."""
        return self._described(self.checks.filter(~pl.col("success") & pl.col("blocking")))

    @property
    def warnings(self) -> list[str]:
        return self._described(self.checks.filter(~pl.col("success") & ~pl.col("blocking")))

    @property
    def passed(self) -> bool:
        return self.checks.height > 0 and not self.failures


def _pandas(frame: pl.DataFrame):
    # Exact decimals become floats for GX's numeric comparisons.
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64)).to_pandas()


def run_gate(tables: dict[str, pl.DataFrame], reports: Path, run_id: str,
             today: dt.date | None = None,
             max_age_days: int | None = DEFAULT_MAX_DATA_AGE_DAYS,
             reconciliation_blocks: bool = False) -> GateResult:
    """Every KPI table's suites (its registry entry names them, schemas/quality.py has
    them) on the tables; see schemas.quality.Checking for the two settings."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir = reports / "data-docs"
    context.add_data_docs_site(site_name="sendboard", site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(docs_dir)}})
    # One asset and batch definition for every suite (each table arrives as the batch's
    # dataframe when its suite runs): adding an asset re-serialises the context's whole
    # configuration, which, once a suite, was a third of the gate's time.
    batch = context.data_sources.add_pandas("kpis").add_dataframe_asset(
        name="kpi_tables").add_batch_definition_whole_dataframe("whole table")
    rows: list[dict] = []
    validated = False
    for suite in suites(tables, Checking(today or dt.date.today(), max_age_days,
                                         reconciliation_blocks)):
        rows += _validate(gx, context, batch, suite, run_id)
        validated = True
    if validated:
        # One build renders every stored suite and result plus the index; an
        # UpdateDataDocsAction per checkpoint rebuilt the index and recompiled the
        # templates for each suite, which was most of the gate's run time.
        context.build_data_docs(site_names=["sendboard"])
    checks = pl.DataFrame(rows, schema={"suite": pl.Utf8, "expectation": pl.Utf8,
                                        "column": pl.Utf8, "success": pl.Boolean,
                                        "blocking": pl.Boolean, "why": pl.Utf8,
                                        "observed": pl.Utf8})
    index = docs_dir / "index.html"
    return GateResult(checks, index if index.exists() else None)


def suites(tables: dict[str, pl.DataFrame], checking: Checking) -> list[Suite]:
    """The suites of whichever KPI tables were built (keys like `kpi.ehcp_caseload`), in
    the registry's order."""
    by_name = {k.split(".", 1)[1]: v for k, v in tables.items()}
    return [suite for kpi in REGISTRY if kpi.name in by_name
            for suite in kpi.quality(by_name[kpi.name], by_name, checking)]


def _validate(gx, context, batch, suite: Suite, run_id: str) -> list[dict]:
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name))
    for rule in suite.rules:
        gx_suite.add_expectation(getattr(gx.expectations, rule.kind)(**rule.kwargs))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=suite.name, validation_definitions=[definition], actions=[],
        result_format={"result_format": "SUMMARY"}))
    result = checkpoint.run(batch_parameters={"dataframe": _pandas(suite.frame)},
                            run_id=gx.RunIdentifier(run_name=run_id))
    out = []
    for validation in result.run_results.values():
        for r, rule in zip(validation.results, suite.rules, strict=True):
            out.append({"suite": suite.name, "expectation": r.expectation_config.type,
                        "column": rule.kwargs.get("column"), "success": bool(r.success),
                        "blocking": rule.blocking, "why": rule.why,
                        "observed": _observed(r.result)})
    return out


def _observed(result: dict) -> str:
    if "partial_unexpected_list" in result and result.get("unexpected_count"):
        values = [float(v) if isinstance(v, Decimal) else v
                  for v in result["partial_unexpected_list"][:5]]
        return f"{result['unexpected_count']} unexpected, e.g. {values}"
    if "observed_value" in result:
        return f"observed {result['observed_value']}"
    return "ok" if not result.get("unexpected_count") else f"{result['unexpected_count']} bad"


def kpi_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    names = con.execute("SELECT table_name FROM information_schema.tables WHERE "
                        "table_schema = 'kpi' AND table_catalog = current_database()"
                        ).fetchall()
    return {f"kpi.{n}": store.read(con, f"SELECT * FROM kpi.{n}") for (n,) in names}


def record(con: duckdb.DuckDBPyConnection, run_id: str, result: GateResult) -> None:
    con.execute("""CREATE TABLE IF NOT EXISTS audit.quality_checks (run_id VARCHAR,
        suite VARCHAR, expectation VARCHAR, column_name VARCHAR, success BOOLEAN,
        blocking BOOLEAN, why VARCHAR, observed VARCHAR)""")
    frame = result.checks.select(pl.lit(run_id).alias("run_id"), "suite", "expectation",
                                 pl.col("column").alias("column_name"), "success", "blocking",
                                 "why", "observed")
    with store.registered(con, "_checks", frame), store.transaction(con):
        con.execute("DELETE FROM audit.quality_checks WHERE run_id = ?", [run_id])
        con.execute("INSERT INTO audit.quality_checks SELECT * FROM _checks")
