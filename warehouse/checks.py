"""Invariants the KPI tables must meet before anything is published.

A first gate; the Great Expectations suites of the KPI issue replace it. Each problem is a
sentence naming the table and what is wrong.
"""

from __future__ import annotations

import duckdb

from warehouse import store

COUNTS = {
    "kpi.ehcp_caseload": ["caseload"],
    "kpi.ehcp_new_plans": ["new_plans", "within_20_weeks", "new_plans_ex", "within_20_weeks_ex"],
    "kpi.sen_prevalence": ["pupils", "ehcp", "sen_support"],
}
PERCENTS = {
    "kpi.ehcp_new_plans": ["pct_within_20_weeks", "pct_within_20_weeks_ex"],
    "kpi.sen_prevalence": ["ehcp_pct", "sen_support_pct"],
}


def check_kpis(con: duckdb.DuckDBPyConnection) -> list[str]:
    problems: list[str] = []
    for table, columns in COUNTS.items():
        if not store.table_exists(con, table):
            if table != "kpi.sen_prevalence":
                problems.append(f"{table} was not built")
            continue
        if con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == 0:
            problems.append(f"{table} has no rows")
        for c in columns:
            n = con.execute(f"SELECT count(*) FROM {table} WHERE {c} < 0").fetchall()[0][0]
            if n:
                problems.append(f"{table}.{c} is negative in {n} row(s)")
        for c in PERCENTS.get(table, []):
            n = con.execute(f"SELECT count(*) FROM {table} WHERE {c} NOT BETWEEN 0 AND 100"
                            ).fetchall()[0][0]
            if n:
                problems.append(f"{table}.{c} is outside 0-100 in {n} row(s)")
    if store.table_exists(con, "kpi.ehcp_new_plans"):
        n = con.execute("SELECT count(*) FROM kpi.ehcp_new_plans WHERE within_20_weeks > "
                        "new_plans OR within_20_weeks_ex > new_plans_ex").fetchall()[0][0]
        if n:
            problems.append(f"kpi.ehcp_new_plans has more plans within 20 weeks than plans in "
                            f"{n} year(s)")
    return problems
