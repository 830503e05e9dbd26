"""What the command line prints: the headline KPIs after a run, and `sendboard status`."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.changes import since_previous
from warehouse.pack import millions
from warehouse.settings import Home


def _table(headers: list[str], rows: list[tuple], left: tuple[int, ...] = ()) -> str:
    plain = [h in ("year", "census") for h in headers]  # no thousands separator in years
    cells = [[_cell(v, p) for v, p in zip(r, plain, strict=True)] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    def fmt(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if i in left else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    out = [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in cells]
    return "\n".join(out)


def _cell(v: object, plain: bool) -> str:
    if v is None:
        return ""
    if isinstance(v, int) and not plain:
        return f"{v:,}"
    return str(v)


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def headline(home: Home, summary, elapsed: float) -> str:
    lines: list[str] = []
    loaded = [f for f in summary.files if f.status == "loaded"]
    rejected = [f for f in summary.files if f.status == "rejected"]
    waiting = [f for f in summary.files if f.status == "waiting"]
    if summary.status == "no_new_files":
        lines.append("No new files in the landing folder: nothing loaded, nothing changed.")
    else:
        quarantined = sum(f.rows_quarantined for f in loaded)
        lines.append(f"Run {summary.run_id}: {summary.status}. {len(loaded)} file(s) loaded, "
                     f"{len(rejected)} rejected, {len(waiting)} waiting, {quarantined:,} row(s) "
                     f"quarantined ({elapsed:.0f} s).")
        lines.append("")
        lines.append(_table(
            ["source", "file", "rows read", "loaded", "quarantined", "notes"],
            [(f.source, f.name[:48], f.rows_read, f.rows_loaded, f.rows_quarantined,
              (f.message if f.status in ("rejected", "waiting") else
               "; ".join(x for x in [*f.top_reasons, f.message or ""] if x))[:110])
             for f in summary.files], left=(0, 1, 5)))
    for w in summary.warnings:
        lines.append(f"  warning: {w}")
    for p in getattr(summary, "problems", []):
        lines.append(f"  not clean: {p}")
    lines += sen2_readiness_lines(home, summary)
    if home.published.exists() and _has(home.published, "kpi.ehcp_caseload"):
        caseload = _query(home.published, """
            SELECT year, caseload, growth_pct, rate_per_10k_0_25 FROM kpi.ehcp_caseload
            ORDER BY year""")
        new = {r[0]: r[1:] for r in _query(home.published, """
            SELECT year, new_plans, pct_within_20_weeks, pct_within_20_weeks_ex
            FROM kpi.ehcp_new_plans""")}
        as_of = _query(home.published, "SELECT max(as_of) FROM kpi.ehcp_caseload")[0][0]
        lines += ["", f"EHC plans (as of {as_of}): January caseload; new plans and 20-week "
                  "timeliness in the calendar year before",
                  _table(["year", "caseload", "growth %", "per 10k 0-25", "new plans (yr-1)",
                          "% in 20 wks", "% in 20 wks ex"],
                         [(y, c, g, r, *_prev(new, y)) for y, c, g, r in caseload])]
    if home.published.exists() and _has(home.published, "kpi.benchmarks"):
        bench = _query(home.published, """
            SELECT measure, year, max(value) FILTER (comparison = 'la'),
                   max(value) FILTER (comparison = 'region'),
                   max(value) FILTER (comparison = 'england')
            FROM kpi.benchmarks b WHERE measure IN ('pct_within_20_weeks_ex', 'pct_mainstream',
                                                    'pct_special', 'pct_fe')
              AND year = (SELECT max(year) FROM kpi.benchmarks e WHERE e.measure = b.measure
                          AND e.comparison = 'england' AND e.value IS NOT NULL)
            GROUP BY 1, 2 ORDER BY 1""")
        if bench:
            lines += ["", "Benchmarks: the DfE's published figures for this LA, its region and "
                      "England (kpi.benchmarks)",
                      _table(["measure", "year", "this LA %", "region %", "England %"],
                             [(_MEASURES.get(m, m), y, *v) for m, y, *v in bench], left=(0,))]
    if home.published.exists():
        prevalence = _query(home.published, """
            SELECT census_date, pupils, ehcp, ehcp_pct, sen_support, sen_support_pct
            FROM kpi.sen_prevalence WHERE scope = 'la' AND month(census_date) = 1
            ORDER BY census_date DESC LIMIT 3""") if _has(home.published,
                                                            "kpi.sen_prevalence") else []
        if prevalence:
            lines += ["", "SEN in the LA's schools (spring census)",
                      _table(["census", "pupils", "EHCP", "EHCP %", "SEN support", "SEN sup. %"],
                             prevalence)]
        if _has(home.published, "kpi.forecast"):
            ahead = _query(home.published, """
                SELECT scenario, year, max(p50) FILTER (measure = 'caseload'),
                       max(p10) FILTER (measure = 'caseload'),
                       max(p90) FILTER (measure = 'caseload'),
                       max(p50) FILTER (measure = 'dsg_cumulative_balance_gbp')
                FROM kpi.forecast WHERE breakdown = 'all'
                  AND year = (SELECT max(year) FROM kpi.forecast)
                GROUP BY scenario, year ORDER BY scenario""")
            lines += ["", "Forecast (docs/forecast.md): January caseload and cumulative DSG "
                      "balance, median and 80% range",
                      _table(["scenario", "year", "caseload", "p10", "p90", "DSG balance"],
                             [(n, y, *(None if v is None else round(v) for v in (c, lo, hi)),
                               None if b is None else millions(b))
                              for n, y, c, lo, hi, b in ahead], left=(0,))]
    lines += ["", f"published database: {home.published}",
              f"working warehouse:  {home.warehouse}", f"archive:            {home.archive}",
              f"reports:            {home.reports}"]
    return "\n".join(lines)


def sen2_readiness_lines(home: Home, summary) -> list[str]:
    """What the run's SEN2 readiness checks found (their counts as audit.sen2_issue_counts
    recorded them for this run) and where the caseworkers' workbook is, or why the run did
    not write it; nothing when the run checked no export."""
    from warehouse import sen2_readiness as readiness

    if not home.published.exists() or not _has(home.published, "audit.sen2_issue_counts"):
        return []
    rows = _query(home.published, f"""
        SELECT export_date, severity, sum(issues)::BIGINT FROM audit.sen2_issue_counts
        WHERE run_id = '{summary.run_id.replace("'", "''")}' GROUP BY ALL""")
    if not rows:
        return []
    export = max(r[0] for r in rows)
    counts = {severity: n for d, severity, n in rows if d == export}
    found = [counts.get(s, 0) for s in readiness.SEVERITY_ORDER]
    book = home.reports / readiness.workbook_name(export)
    if any(p.startswith("SEN2 readiness checks failed") for p in summary.problems):
        where = "workbook not written: the checks failed (see 'not clean' above)"
    elif sum(found) > readiness.RUN_WORKBOOK_MAX_ISSUES:
        where = (f"workbook not written: {sum(found):,} issues, more than a run writes "
                 f"({readiness.RUN_WORKBOOK_MAX_ISSUES:,}); `sendboard sen2-check` writes it")
    else:
        where = f"workbook for caseworkers: {book}"
    return ["", f"SEN2 return readiness of the export of {export} (docs/sen2-readiness.md): "
                f"{found[0]:,} error(s), {found[1]:,} query(ies), {found[2]:,} quality "
                "issue(s)", f"  {where}"]


_MEASURES = {"pct_within_20_weeks_ex": "new plans in 20 weeks (ex. exceptions)",
             "pct_mainstream": "plans in mainstream settings", "pct_special":
             "plans in special schools", "pct_fe": "plans in FE and post-16"}


def _prev(new: dict, year: int) -> tuple:
    return new.get(year - 1) or (None, None, None)


def _has(path: Path, table: str) -> bool:
    schema, name = table.split(".")
    return bool(_query(path, f"SELECT count(*) FROM information_schema.tables WHERE "
                             f"table_schema = '{schema}' AND table_name = '{name}'")[0][0])


def status(home: Home, nothing_yet: str | None = None) -> dict:
    """The last runs, the files by source and what changed; `nothing_yet`: what to say
    instead when nothing is published (the command line's one message for that)."""
    info: dict = {"home": str(home.root), "published": str(home.published),
                  "warehouse": str(home.warehouse), "archive": str(home.archive)}
    if not home.published.exists():
        info["runs"] = []
        info["message"] = nothing_yet or f"no run has published to {home.root} yet"
        return info
    runs = _query(home.published, """SELECT run_id, flow, started_at, finished_at, status,
        error, files_new, as_of FROM audit.runs ORDER BY started_at DESC LIMIT 5""")
    info["runs"] = [dict(zip(["run_id", "flow", "started_at", "finished_at", "status", "error",
                              "files_new", "as_of"], r, strict=True)) for r in runs]
    files = _query(home.published, """SELECT source, count(*), sum(rows_loaded),
        sum(rows_quarantined), count(*) FILTER (status = 'rejected') FROM audit.files
        GROUP BY source ORDER BY source""")
    info["sources"] = [dict(zip(["source", "files", "rows_loaded", "rows_quarantined",
                                 "files_rejected"], r, strict=True)) for r in files]
    con = duckdb.connect(str(home.published), read_only=True)
    try:
        changed = since_previous(con)
    finally:
        con.close()
    info["changes"] = changed.lines() if changed else []
    return info


def status_text(info: dict) -> str:
    lines = [f"home: {info['home']}"]
    if info.get("message"):
        return "\n".join([*lines, info["message"]])
    lines += ["", "last runs (published copy)", _table(
        ["started", "status", "new files", "as of", "error"],
        [(str(r["started_at"])[:19], r["status"], r["files_new"], r["as_of"],
          (r["error"] or "")[:60]) for r in info["runs"]])]
    if info.get("changes"):
        lines += ["", *info["changes"]]
    lines += ["", "files by source", _table(
        ["source", "files", "rows loaded", "quarantined", "rejected files"],
        [tuple(r.values()) for r in info["sources"]])]
    lines += ["", f"published: {info['published']}", f"warehouse: {info['warehouse']}",
              f"archive:   {info['archive']}"]
    return "\n".join(lines)
