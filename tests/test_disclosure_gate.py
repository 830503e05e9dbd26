"""The disclosure gate of every build (warehouse/disclosure_gate.py): the public tables the
rules made, protected where the audit demands; a table the audit cannot clear is held back
and said so; its record in audit.disclosure_checks."""

from __future__ import annotations

import duckdb
import polars as pl

from warehouse import disclosure_gate


def _mix(mainstream: int, caseload: int) -> dict[str, pl.DataFrame]:
    """One January: the caseload, and its placement groups, special's withheld."""
    caseload_frame = pl.DataFrame({"year": [2025], "caseload": [caseload],
                                   "suppressed": pl.Series([None], dtype=pl.Utf8)})
    mix = pl.DataFrame({
        "year": [2025, 2025], "placement_group": ["mainstream", "special"],
        "plans": pl.Series([mainstream, None], dtype=pl.Int64),
        "caseload": [caseload, caseload],
        "suppressed": pl.Series([None, "plans"], dtype=pl.Utf8)})
    return {"public.ehcp_caseload": caseload_frame, "public.ehcp_placement_mix": mix,
            "public.dsg_balance": pl.DataFrame({"year": [2025], "balance_gbp": [1.5e6]})}


def test_a_withheld_group_the_caseload_gives_back_is_protected_and_published():
    # The rules withheld special's 3 of 120; 120 - 117 gives it back: protect withholds
    # mainstream's 117 too, and the table is published.
    out = disclosure_gate.protect(_mix(117, 120))
    mix = out.tables["public.ehcp_placement_mix"].sort("placement_group")
    assert mix["plans"].to_list() == [None, None]
    assert mix["suppressed"].to_list() == ["plans", "plans"]
    row = out.checks.filter(pl.col("table_name") == "public.ehcp_placement_mix").row(
        0, named=True)
    assert (row["cells"], row["withheld_by_rules"], row["withheld_by_audit"],
            row["findings"], row["published"]) == (4, 1, 1, 0, True)
    assert out.tables["public.ehcp_caseload"]["caseload"].to_list() == [120]
    # Tables the model does not audit (money) pass through as they are.
    assert out.tables["public.dsg_balance"].equals(_mix(117, 120)["public.dsg_balance"])
    assert disclosure_gate.problem(out.checks) is None


def test_a_table_the_audit_cannot_clear_is_held_back_and_the_run_told():
    # Groups that cannot add up to the caseload (a withheld count is at least 1, the
    # caseload shown 0, nothing else to withhold): no suppression proves it safe.
    out = disclosure_gate.protect(_mix(0, 0))
    assert "public.ehcp_placement_mix" not in out.tables
    assert "public.ehcp_caseload" in out.tables
    held = out.checks.filter(~pl.col("published"))
    assert held["table_name"].to_list() == ["public.ehcp_placement_mix"]
    assert "no value fits the published cells" in held["why"][0]
    problem = disclosure_gate.problem(out.checks)
    assert problem.startswith("not published, the disclosure audit found what it could not "
                              "protect (docs/disclosure.md): public.ehcp_placement_mix (")


def test_the_checks_are_recorded_per_run(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA audit")
    out = disclosure_gate.protect(_mix(117, 120))
    disclosure_gate.record(con, "run-1", out.checks)
    disclosure_gate.record(con, "run-1", out.checks)  # again: replaced, not doubled
    disclosure_gate.record(con, "run-2", out.checks)
    rows = con.execute("SELECT run_id, table_name, withheld_by_audit, published FROM "
                       "audit.disclosure_checks ORDER BY 1, 2").fetchall()
    assert rows == [("run-1", "public.ehcp_caseload", 0, True),
                    ("run-1", "public.ehcp_placement_mix", 1, True),
                    ("run-2", "public.ehcp_caseload", 0, True),
                    ("run-2", "public.ehcp_placement_mix", 1, True)]


def test_a_zero_a_rule_withheld_is_shown_again_for_the_audit():
    """A year with no ceased plans: the rule that hides a year's reconciliation total when
    every ceased count is withheld took a total of nothing for one; the public copies show
    it (zeros are always shown, which the audit takes the public to know)."""
    from warehouse.build import public_tables

    ceased = pl.DataFrame({"year": [2020, 2020, 2021, 2021],
                           "cease_reason": ["needs met", "moved", "needs met", "moved"],
                           "plans": [0, 0, 2, 9]})
    reconciliation = pl.DataFrame({
        "year": [2020, 2021], "measure": ["ceased_plans", "ceased_plans"],
        "local_value": [0.0, 11.0], "published_value": [None, 11.0],
        "difference": [None, 0.0]}, schema_overrides={"published_value": pl.Float64})
    public = public_tables({"kpi.ehcp_ceased": ceased, "kpi.reconciliation": reconciliation},
                           5)
    shown = public["public.reconciliation"].sort("year")
    # 2020's total of nothing shown; 2021's 11 (= 2 withheld + 9 withheld) stays withheld.
    assert shown["local_value"].to_list() == [0.0, None]
    assert shown["suppressed"].to_list() == [None, "local_value"]
    assert public["public.ehcp_ceased"].sort("year", "cease_reason")["plans"].to_list() == [
        0, 0, None, None]


def test_growth_on_a_withheld_years_caseload_is_withheld_too():
    # 2021's caseload of 44 withheld: 2021's growth (10.0% on 40) would give it back, and so
    # would 2022's (25.0% on it, with 2022's 55 shown). Both are withheld; 2020's growth
    # (on 2019, not in the table) and 2023's (on 2022's shown 55) stay.
    caseload = pl.DataFrame({
        "year": [2020, 2021, 2022, 2023],
        "caseload": pl.Series([40, None, 55, 60], dtype=pl.Int64),
        "growth_pct": [5.3, 10.0, 25.0, 9.1],
        "suppressed": pl.Series([None, "caseload", None, None], dtype=pl.Utf8)})
    out = disclosure_gate.protect({"public.ehcp_caseload": caseload})
    table = out.tables["public.ehcp_caseload"].sort("year")
    assert table["growth_pct"].to_list() == [5.3, None, None, 9.1]
    assert table["suppressed"].to_list() == [None, "caseload,growth_pct", "growth_pct", None]
    assert disclosure_gate.problem(out.checks) is None
