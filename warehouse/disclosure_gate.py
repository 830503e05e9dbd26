"""The disclosure gate of every build: the public tables after the suppression rules are
audited together, with the public pack's printed totals, and protected where the audit
finds a withheld cell that can be worked out or a group whose every member has a plan
(transforms/disclosure.py, docs/disclosure.md). A public table the audit still finds a
disclosure in after protection is not published, and the run is not clean.

Each build's outcome per table goes to audit.disclosure_checks (published: which tables
were held back, and how many cells the audit withheld beyond the rules).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from transforms import disclosure, timing
from transforms.disclosure_model import MODEL, pack_totals
from warehouse import store

log = logging.getLogger(__name__)

PACK = "pack.place_sufficiency"  # the public pack's place totals, as the audit names them


@dataclass
class Protected:
    tables: dict[str, pl.DataFrame]  # public.<name> -> its frame; a failing table left out
    checks: pl.DataFrame  # a row per audited table (audit.disclosure_checks without run_id)
    audit: disclosure.Audit



def problem(checks: pl.DataFrame) -> str | None:
    """The line a not-clean run shows when a public table was held back, or None."""
    held = checks.filter(~pl.col("published"))
    if held.is_empty():
        return None
    return ("not published, the disclosure audit found what it could not protect "
            "(docs/disclosure.md): " + "; ".join(
                f"{t} ({w})" for t, w in held.select("table_name", "why").iter_rows()))


def protect(public: dict[str, pl.DataFrame]) -> Protected:
    """`public` (public.<name> -> frame, as the suppression rules left it) protected as the
    audit demands: the model's tables with more cells withheld, the others as they are."""
    # In one order whatever order the build gave the rows in: protect's choices follow the
    # rows' order, and the same tables must come out the same.
    audited = {name: _canonical(public[f"public.{name}"]) for name in MODEL.counts
               if f"public.{name}" in public}
    if "place_sufficiency" in audited:
        audited[PACK] = pack_totals(audited["place_sufficiency"])
    with timing.stage("disclosure audit"):
        protected, result = disclosure.protect(audited, MODEL)
    if "place_sufficiency" in protected and not _same_nulls(
            pack_totals(protected["place_sufficiency"]), protected[PACK]):
        # The pack prints its totals from the protected table: audit what it will print.
        protected[PACK] = pack_totals(protected["place_sufficiency"])
        result = disclosure.audit(protected, MODEL)
    failing = result.failing_tables()
    if PACK in failing:  # the pack's totals come from the place table
        failing.add("place_sufficiency")
    rows = []
    for name, before in audited.items():
        if name == PACK:
            continue
        after = protected[name]
        cells = [c for c in MODEL.counts[name] if c in before.columns]
        by_rules = sum(before[c].null_count() for c in cells)
        by_audit = sum(after[c].null_count() for c in cells) - by_rules
        found = [f for f in result.findings if f.table == name]
        rows.append({"table_name": f"public.{name}", "cells": before.height * len(cells),
                     "withheld_by_rules": by_rules, "withheld_by_audit": by_audit,
                     "findings": len(found), "published": name not in failing,
                     "why": _why(found) if name in failing else None})
    checks = pl.DataFrame(rows, schema={
        "table_name": pl.Utf8, "cells": pl.Int64, "withheld_by_rules": pl.Int64,
        "withheld_by_audit": pl.Int64, "findings": pl.Int64, "published": pl.Boolean,
        "why": pl.Utf8})
    tables = dict(public)
    for name in audited:
        if name == PACK:
            continue
        if name in failing:
            del tables[f"public.{name}"]
            log.warning("public.%s is not published: %s", name,
                        _why([f for f in result.findings if f.table == name]))
        else:
            tables[f"public.{name}"] = protected[name]
    log.info("disclosure audit: %d public tables, %d cells withheld beyond the rules, "
             "%d held back; %d LPs in %.1f s", checks.height,
             int(checks["withheld_by_audit"].sum()), len(failing), result.lps, result.seconds)
    return Protected(tables, checks, result)


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True, maintain_order=True)


def _same_nulls(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    return a.height == b.height and np.array_equal(
        a["ehcp_pupils"].cast(pl.Float64).fill_null(math.nan).to_numpy(),
        b["ehcp_pupils"].cast(pl.Float64).fill_null(math.nan).to_numpy(), equal_nan=True)


def _why(findings: list[disclosure.Finding]) -> str:
    first = findings[0]
    return (f"{len(findings)} finding(s), e.g. {first.column} of row {first.row}: "
            f"{first.why}")


def record(con: duckdb.DuckDBPyConnection, run_id: str, checks: pl.DataFrame) -> None:
    """This run's audit of each public table, replacing any earlier rows of the run."""
    con.execute("""CREATE TABLE IF NOT EXISTS audit.disclosure_checks (run_id VARCHAR,
        table_name VARCHAR, cells BIGINT, withheld_by_rules BIGINT, withheld_by_audit BIGINT,
        findings BIGINT, published BOOLEAN, why VARCHAR)""")
    frame = checks.select(pl.lit(run_id).alias("run_id"), pl.all())
    with store.registered(con, "_disclosure", frame), store.transaction(con):
        con.execute("DELETE FROM audit.disclosure_checks WHERE run_id = ?", [run_id])
        con.execute("INSERT INTO audit.disclosure_checks SELECT * FROM _disclosure")
