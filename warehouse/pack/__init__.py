"""The SEND Board pack: one self-contained HTML file built from the published tables.

Every number in it is read from sendboard.duckdb (kpi.*, or public.* for papers that are
published), every chart is inline SVG with its data table behind a toggle, and the commentary
is written from the same numbers. Nothing is fetched when the file is opened.
"""

from __future__ import annotations

import datetime as dt
import logging
from html import escape
from pathlib import Path

import duckdb

from warehouse.changes import since_previous
from warehouse.pack.appendix import definitions_appendix
from warehouse.pack.inclusion import inclusion_section
from warehouse.pack.pdf import print_pdf
from warehouse.pack.readiness import readiness_section
from warehouse.pack.requests import requests_section
from warehouse.pack.sections import (
    PackData,
    Section,
    caseload_section,
    duties_section,
    finance_section,
    forecast_section,
    headline_tiles,
    millions,
    need_section,
    placement_section,
    places_section,
    prevalence_section,
    quality_section,
    recovery_section,
    sources_section,
    timeliness_section,
)
from warehouse.pack.style import CSS
from warehouse.registry import REGISTRY
from warehouse.settings import Settings
from warehouse.takeaway import describe, write_takeaway

log = logging.getLogger(__name__)


def pack_name(published: Path, public: bool = False) -> str:
    """board-pack-<as of>[-public].html"""
    con = duckdb.connect(str(published), read_only=True)
    try:
        as_of = _published_as_of(con)
    finally:
        con.close()
    return f"board-pack-{as_of}{'-public' if public else ''}.html"


def _published_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The as-of date of the run whose tables these are (the published copy carries its own
    run's record): every KPI table has it, whichever tables the run could build."""
    rows = con.execute("SELECT as_of FROM audit.runs WHERE status = 'published' "
                       "ORDER BY finished_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


# The sections by the name the KPI registry gives them (warehouse/registry.py: KPI.pack), in
# the order the pack shows them (the registry's is the order tables are built in).
SECTIONS = {"caseload": caseload_section, "timeliness": timeliness_section,
            "duties": duties_section, "requests": requests_section,
            "placement": placement_section, "need": need_section,
            "prevalence": prevalence_section, "inclusion": inclusion_section,
            "finance": finance_section,
            "recovery": recovery_section, "places": places_section,
            "forecast": forecast_section}


def _sections(db: PackData) -> list:
    """Each section once, when a table it shows was published (a run without a whole SEN2
    export, or without a census, builds fewer)."""
    shown = {k.pack for k in REGISTRY if k.pack and db.has(k.name)}
    return [_built(name, section, db) for name, section in SECTIONS.items() if name in shown]


def _built(name: str, section, db: PackData):
    """The section, or, when a table it shows was not published (the disclosure audit held
    it back: audit.disclosure_checks), a section saying so rather than a pack that fails."""
    try:
        return section(db)
    except duckdb.CatalogException as e:
        missing = str(e).split("Table with name ", 1)[-1].split(" does not exist", 1)[0]
        return Section(name.replace("_", " ").capitalize(),
                       f"Not shown: {db.schema}.{missing} was not published by the last run "
                       "(the disclosure audit held it back; audit.disclosure_checks says why).")


def build_pack(published: Path, out: Path, kpi_doc: Path, public: bool = False,
               as_of: dt.date | None = None) -> Path:
    """Write the board pack for the published database to `out` (an .html file);
    `kpi_doc` is docs/kpis.md (Settings.kpi_doc), printed as the appendix."""
    db = PackData(published, "public" if public else "kpi")
    try:
        data_as_of = _published_as_of(db.con)
        freshness = db.con.execute(
            "SELECT source, max(period) FROM audit.files WHERE status = 'loaded' AND source IN "
            "('census', 'sen2') GROUP BY 1 ORDER BY 1").fetchall()
        sections = _sections(db)
        tiles = headline_tiles(db)
        if not public and (changed := since_previous(db.con)) is not None:
            # Internal only: the kpi figures unsuppressed.
            sections.insert(0, Section("Since the last pack", "; ".join(changed.lines())))
        if not public and (readiness := readiness_section(db)) is not None:
            # Internal only: it is about the LA's own records, for its data team.
            sections.append(readiness)
        body = "".join(s.html() for s in sections if s is not None)
        quality = quality_section(db) + sources_section(db) + definitions_appendix(kpi_doc)
    finally:
        db.con.close()
    shown = as_of or data_as_of
    fresh = "; ".join(f"latest {s}: {escape(str(p))}" for s, p in freshness)
    label = "Public version: small numbers suppressed" if public else "Internal version"
    html = (f"<!doctype html><html lang='en-GB'><head><meta charset='utf-8'><title>SEND Board "
            f"pack, {shown}</title><style>{CSS}</style></head><body><header><h1>SEND Board "
            f"pack</h1><p class='meta'>Data as of {shown}. {fresh}. {label}.</p></header>"
            f"<main><section><h2>Headlines</h2><div class='tiles'>{tiles}</div></section>"
            f"{body}{quality}</main></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def write_packs(settings: Settings) -> list[Path]:
    """The run's board packs, internal and public, into the home's reports folder."""
    published, reports = settings.home.published, settings.home.reports
    return [build_pack(published, reports / pack_name(published, public), settings.kpi_doc,
                       public) for public in (False, True)]


def write_reports(settings: Settings,
                  logger: logging.Logger | logging.LoggerAdapter = log) -> list[Path]:
    """Everything a run writes for people after a publish: the board packs and the tables
    to take away (warehouse/takeaway.py, CSV and Parquet); one log line names them."""
    from transforms import timing

    # One stage: the benchmark's stages are fixed (bench/national.py).
    with timing.stage("board pack"):
        written = write_packs(settings) + write_takeaway(
            settings.home.published, settings.home.reports, settings.kpi_doc, workbooks=False)
    logger.info("reports: %s", describe(written, settings.home.reports))
    return written


__all__ = ["build_pack", "millions", "pack_name", "print_pdf", "write_packs", "write_reports"]
