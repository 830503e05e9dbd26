"""What changed since the previous publish: which extracts were new, and which headline
figures moved by how much (`sendboard status`, the internal board pack).

Each run that publishes records its headline figures in audit.headlines (published with the
rest of the audit), so the published database alone says how this version differs from the
one before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from warehouse import store

# measure -> (what it is called, the query giving (period, value) of the latest period)
HEADLINES: dict[str, tuple[str, str, str]] = {
    "caseload": ("EHC plans in January", "kpi.ehcp_caseload",
                 "SELECT year::VARCHAR, caseload FROM kpi.ehcp_caseload ORDER BY year DESC "
                 "LIMIT 1"),
    "new_plans": ("new EHC plans in the year", "kpi.ehcp_new_plans",
                  "SELECT year::VARCHAR, new_plans FROM kpi.ehcp_new_plans ORDER BY year DESC "
                  "LIMIT 1"),
    "pct_within_20_weeks_ex": ("% of new plans within 20 weeks (exceptions aside)",
                               "kpi.ehcp_new_plans",
                               "SELECT year::VARCHAR, pct_within_20_weeks_ex FROM "
                               "kpi.ehcp_new_plans ORDER BY year DESC LIMIT 1"),
    "requests": ("requests for assessment in the year", "kpi.ehcp_requests",
                 "SELECT year::VARCHAR, requests_received FROM kpi.ehcp_requests ORDER BY "
                 "year DESC LIMIT 1"),
    "cumulative_dsg_balance_gbp": ("cumulative DSG balance, £", "kpi.dsg_balance",
                                   "SELECT financial_year, cumulative_balance_gbp FROM "
                                   "kpi.dsg_balance ORDER BY financial_year DESC LIMIT 1"),
}


def record_headlines(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """This run's headline figures, in audit.headlines (before the publish, which copies it)."""
    con.execute("CREATE TABLE IF NOT EXISTS audit.headlines (run_id VARCHAR NOT NULL, "
                "measure VARCHAR NOT NULL, period VARCHAR, value DOUBLE)")
    rows = []
    for measure, (_, table, sql) in HEADLINES.items():
        if store.table_exists(con, table):
            got = con.execute(sql).fetchall()
            if got and got[0][1] is not None:
                rows.append((run_id, measure, got[0][0], float(got[0][1])))
    with store.transaction(con):
        # Only published versions are compared: a run that recorded its figures and then
        # failed (or was killed) before publishing leaves none behind.
        con.execute("DELETE FROM audit.headlines WHERE run_id = ? OR run_id NOT IN (SELECT "
                    "run_id FROM audit.runs WHERE status = 'published')", [run_id])
        if rows:
            con.executemany("INSERT INTO audit.headlines VALUES (?, ?, ?, ?)", rows)


@dataclass(frozen=True)
class Changes:
    run_id: str
    previous_run_id: str | None  # None: this is the first publish
    previous_finished: object | None
    new_files: list[tuple[str, int]]  # (source, files first loaded by this run)
    moves: list[tuple[str, str, float | None, str, float]]  # measure, then/now period, value

    def lines(self) -> list[str]:
        if self.previous_run_id is None:
            return ["first publish: nothing to compare with"]
        out = [f"since the previous publish ({str(self.previous_finished)[:16]}):"]
        out.append("  new extracts: " + (", ".join(f"{s} {n} file(s)" for s, n in
                                                self.new_files) or "none (a rebuild)"))
        for measure, before_period, before, period, now in self.moves:
            name = HEADLINES[measure][0]
            if before is None:
                out.append(f"  {name}: {_value(measure, now)} ({period}), not published before")
            elif before_period != period:
                out.append(f"  {name}: {_value(measure, now)} ({period}), was "
                           f"{_value(measure, before)} ({before_period})")
            elif before != now:
                out.append(f"  {name} ({period}): {_value(measure, before)} -> "
                           f"{_value(measure, now)} ({_change(before, now)})")
        if len(out) == 2:
            out.append("  no headline figure moved")
        return out


def _value(measure: str, v: float) -> str:
    if measure.endswith("_gbp"):
        return f"{'-' if v < 0 else ''}£{abs(v) / 1e6:,.1f}m"
    return f"{v:,.1f}" if measure.startswith("pct") else f"{v:,.0f}"


def _change(before: float, now: float) -> str:
    if before == 0:
        return f"{now - before:+,.1f}"
    return f"{now - before:+,.1f}, {100 * (now - before) / abs(before):+.1f}%"


def since_previous(con: duckdb.DuckDBPyConnection) -> Changes | None:
    """The latest publish against the one before it, from the published (or working)
    database; None when nothing was published with headlines yet."""
    if not store.table_exists(con, "audit.headlines"):
        return None
    runs = con.execute("SELECT r.run_id, r.finished_at FROM audit.runs r WHERE r.status = "
                       "'published' AND EXISTS (SELECT 1 FROM audit.headlines h WHERE "
                       "h.run_id = r.run_id) ORDER BY r.finished_at DESC LIMIT 2").fetchall()
    if not runs:
        return None
    latest = runs[0][0]
    previous, finished = (runs[1][0], runs[1][1]) if len(runs) > 1 else (None, None)
    new_files = [(s, n) for s, n in con.execute(
        "SELECT source, count(*) FROM audit.files WHERE first_run_id = ? AND status <> "
        "'rejected' GROUP BY 1 ORDER BY 1", [latest]).fetchall()]
    moves = con.execute(
        "SELECT n.measure, b.period, b.value, n.period, n.value FROM audit.headlines n "
        "LEFT JOIN audit.headlines b ON b.measure = n.measure AND b.run_id = ? "
        "WHERE n.run_id = ?", [previous, latest]).fetchall()
    order = list(HEADLINES)
    moves.sort(key=lambda m: order.index(m[0]) if m[0] in order else len(order))
    return Changes(latest, previous, finished, new_files, moves)
