"""The internal pack's SEN2 readiness section: the issues of the latest export by severity
and check, the trend since the previous export, and what they do to the headline KPIs.

Reads audit.sen2_issue_summary (counts only) from the published database; the records
behind the counts stay in the working warehouse (warehouse/sen2_readiness.py).
"""

from __future__ import annotations

from html import escape

from transforms.sen2_checks import QUARANTINE_CHECKS
from warehouse.pack.sections import PackData, Section, _cell
from warehouse.sen2_readiness import CATALOGUE, SEVERITY_ORDER

# What a check's records do to the KPIs the board reads, as the KPI code counts them.
EFFECTS = {
    "active-no-placement": "{n} active plans with no placement on census day are counted as "
                           "placement unknown in the placement mix",
    "active-no-placement-transfer-in": "{n} active plans transferred in from another LA have "
                                       "no placement on census day and are counted as "
                                       "placement unknown",
    "primary-need-missing": "{n} plans with no primary need are counted as need unknown in "
                            "the need mix",
    "rank1-needs-multiple": "{n} plans with more than one primary need are counted under one "
                            "of them only",
    "rank1-placements-multiple": "{n} placements share rank 1 with another: the placement "
                                 "mix counts the latest entry only",
    "plan-start-before-request": "{n} plans start before their request: timeliness counts "
                                 "them as issued within 20 weeks",
    "week20-exception-not-late": "{n} plans issued within 20 weeks have an exception "
                                 "recorded: timeliness excluding exceptions leaves them out",
    "urn-unknown": "{n} placements are at a URN GIAS does not know: their setting type is "
                   "unknown in the placement mix",
    "plan-vanished": "{n} plans open at the previous export are missing with no cease "
                     "record: the caseload has lost them",
}
QUARANTINED = {c.id for c in QUARANTINE_CHECKS}


def readiness_section(db: PackData) -> Section | None:
    """None when no SEN2 export has been checked (or the published database predates the
    checks)."""
    if not db.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema "
                          "= 'audit' AND table_name = 'sen2_issue_summary'").fetchall()[0][0]:
        return None
    latest = db.con.execute("SELECT max(export_date) FROM audit.sen2_issue_summary"
                            ).fetchall()[0][0]
    if latest is None:
        return None
    rows = db.con.execute(
        "SELECT check_id, severity, issues, issues_previous_export, previous_export, "
        "issues_check_before FROM audit.sen2_issue_summary WHERE export_date = ? AND "
        "(issues > 0 OR coalesce(issues_previous_export, 0) > 0)", [latest]).fetchall()
    order = {c: i for i, c in enumerate(CATALOGUE)}
    rows.sort(key=lambda r: (SEVERITY_ORDER.index(r[1]), order.get(r[0], len(order))))
    previous = next((r[4] for r in rows if r[4] is not None), None)
    by_severity = {s: sum(r[2] for r in rows if r[1] == s) for s in SEVERITY_ORDER}
    text = (f"The SEN2 export of {latest}, checked for the January return: "
            f"{by_severity['error']:,} records the DfE's validation would reject, "
            f"{by_severity['query']:,} it would query and {by_severity['quality']:,} that "
            "distort a headline KPI")
    if previous is not None:
        before = {s: sum(r[3] or 0 for r in rows if r[1] == s) for s in SEVERITY_ORDER}
        text += (f" (at the export of {previous}: {before['error']:,}, {before['query']:,} and "
                 f"{before['quality']:,})")
    text += (". The data team fixes them in the case management system from "
             f"reports/sen2-issues-{latest}.xlsx, which names each record by its own ids.")
    effects = [EFFECTS[r[0]].format(n=f"{r[2]:,}") for r in rows
               if r[0] in EFFECTS and r[2]]
    quarantined = sum(r[2] for r in rows if r[0] in QUARANTINED)
    if quarantined:
        effects.append(f"{quarantined:,} records were quarantined and are in no KPI (nor "
                       "are the records that hang from them)")
    extra = ([("<p><b>Effect on the headline KPIs.</b> " + escape("; ".join(effects)) + ".</p>")]
             if effects else [])
    table = (["severity", "check", "issues", f"at {previous}" if previous else
              "previous export", "change"],
             [(r[1], f"{r[0]}: {CATALOGUE[r[0]].message}" if r[0] in CATALOGUE else r[0],
               r[2], r[3], None if r[3] is None else r[2] - r[3]) for r in rows])
    heading = "SEN2 return readiness"
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>"
                   for r in table[1])
    extra.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in table[0])
                 + f"</tr></thead><tbody>{body}</tbody></table>")
    return Section(heading, text, extra=extra)
