"""The pack's sections: each reads its tables from the published database (kpi.*, or
public.* for the public pack) and writes its commentary from the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import duckdb

from warehouse.pack.charts import Series, bars, lines


@dataclass
class Section:
    heading: str
    commentary: str
    chart: str = ""
    table: tuple[list[str], list[tuple]] | None = None
    extra: list[str] = field(default_factory=list)

    def html(self) -> str:
        parts = [f"<section><h2>{escape(self.heading)}</h2>", f"<p>{escape(self.commentary)}</p>",
                 self.chart, *self.extra]
        if self.table:
            parts.append(data_table(*self.table))
        return "".join(parts) + "</section>"


def data_table(head: list[str], rows: list[tuple]) -> str:
    """The data behind a chart, behind a toggle (always shown in print)."""
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return ("<details><summary>Data behind this chart</summary><table><thead><tr>"
            + "".join(f"<th>{escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table></details>")


def _cell(v) -> str:
    if v is None:
        return "\u2013"  # an en dash: safe as text and inside HTML alike
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int) and not 1900 <= v <= 2100:
        return f"{v:,}"
    return escape(str(v))


def millions(v) -> str:
    """Millions of pounds as text, sign first: -£120.9m."""
    if v is None:
        return "-"
    return f"{'-' if v < 0 else ''}£{abs(float(v)) / 1e6:,.1f}m"


class PackData:
    def __init__(self, path: Path, schema: str):
        self.con = duckdb.connect(str(path), read_only=True)
        self.schema = schema

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql.replace("S.", f"{self.schema}."), params or []).fetchall()

    def has(self, table: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND "
            "table_name = ?", [self.schema, table]).fetchall()[0][0])


def _published_for_la(db: PackData, measure: str) -> dict[int, float]:
    """The DfE's published figure for this LA per year (kpi.benchmarks), empty without."""
    if not db.has("benchmarks"):
        return {}
    return {y: v for y, v in db.rows(
        "SELECT year, value FROM S.benchmarks WHERE comparison = 'la' AND measure = ? AND "
        "value IS NOT NULL", [measure])}


def caseload_section(db: PackData) -> Section:
    """The January caseload and the new plans of the year before, from SEN2; before the
    first January SEN2 holds, the DfE's published figures for the LA where a release loaded
    has them (the pre-2023 releases go back to 2010 and count statements of SEN, which EHC
    plans replaced from September 2014 to April 2018), drawn hatched."""
    rows = db.rows("SELECT c.year, c.caseload, c.growth_pct, n.new_plans FROM S.ehcp_caseload c "
                   "LEFT JOIN S.ehcp_new_plans n ON n.year = c.year - 1 ORDER BY c.year")
    last, first = rows[-1], rows[0]
    own_new = [y for (y,) in db.rows("SELECT year FROM S.ehcp_new_plans WHERE new_plans IS NOT "
                                     "NULL")]
    # Only the years before SEN2's: where both have a year, the LA's own figure is shown.
    dfe = {y: v for y, v in _published_for_la(db, "ehcp_caseload").items() if y < first[0]}
    dfe_new = {y + 1: v for y, v in _published_for_la(db, "new_plans").items()
               if y < min(own_new, default=first[0])}
    span = list(range(min([first[0], *dfe, *dfe_new]), last[0] + 1))
    own = {r[0]: r for r in rows}
    text = (f"The number of EHC plans in January {last[0]} was {_cell(last[1])}"
            + (f", {abs(last[2]):.1f}% {'more' if last[2] >= 0 else 'fewer'} than a year before"
               if last[2] is not None else "")
            + (f" and {_cell(last[1] - first[1])} more than in January {first[0]}"
               if last[1] is not None and first[1] is not None else "")
            + f". {_cell(rows[-1][3])} new plans were issued in {int(last[0]) - 1}.")
    series = [Series("EHC plans (January)", [own[y][1] if y in own else None for y in span]),
              Series("New plans (year before)", [own[y][3] if y in own else None for y in span])]
    if dfe or dfe_new:
        earliest, latest = min([*dfe, *dfe_new]), max([*dfe, *dfe_new])
        text += (" Before the years the SEN2 export holds, the chart shows the DfE's published "
                 "figures for the LA (hatched), which count statements of SEN with EHC plans"
                 + (f": {_count(dfe[min(dfe)])} in January {min(dfe)}." if dfe else "."))
        # The same colour as the LA's own series, hatched: the same measure, another source.
        series += [Series("EHC plans and statements, DfE published (January)",
                          [dfe.get(y) for y in span], colour=0, pattern=4, slot=0),
                   Series("New plans and statements, DfE published (year before)",
                          [dfe_new.get(y) for y in span], colour=1, pattern=4, slot=1)]
        desc = (f"Bars: EHC plans each January {span[0]}-{span[-1]} and new plans in the "
                f"calendar year before; hatched bars, January {earliest} to {latest}, are "
                "the DfE's published figures (statements and EHC plans).")
    else:
        desc = (f"Bars: EHC plans each January {span[0]}-{span[-1]}; new plans in the "
                "calendar year before.")
    chart = bars("EHC plans in January and new plans in the year before", desc,
                 [str(y) for y in span], series)
    head = ["January", "EHC plans", "growth %", "new plans in the year before"]
    table = [tuple(own[y]) if y in own else (y, None, None, None) for y in span]
    if dfe or dfe_new:
        head += ["DfE published: plans and statements", "DfE published: new plans and "
                 "statements in the year before"]
        table = [(*r, _count(dfe.get(r[0])), _count(dfe_new.get(r[0]))) for r in table]
    return Section("EHC plans: caseload and new plans", text, chart, (head, table))


def _count(v: float | str | None) -> str | None:
    """A published count as text: as a number, 1992 would read as a year in the tables (a
    total already in words, "at least 34", as it is)."""
    return v if v is None or isinstance(v, str) else f"{v:,.0f}"


def timeliness_section(db: PackData) -> Section:
    local = {r[0]: r[1] for r in db.rows("SELECT year, pct_within_20_weeks_ex FROM "
                                         "S.ehcp_new_plans ORDER BY year")}
    bench = _comparators(db, "pct_within_20_weeks_ex", ("region", "england"))
    years = sorted(set(local) | {y for y, _ in bench})
    rows = [(y, local.get(y), bench.get((y, "region")), bench.get((y, "england")))
            for y in years]
    last = next((r for r in reversed(rows) if r[1] is not None), rows[-1])
    text = (f"In {last[0]}, {_cell(last[1])}% of new EHC plans (excluding exception cases) were "
            f"issued within the statutory 20 weeks"
            + (f", against {_cell(last[3])}% in England" if last[3] is not None else "")
            + (f" and {_cell(last[2])}% in the region" if last[2] is not None else "") + ".")
    chart = lines("20-week timeliness, excluding exceptions",
                  "Lines: percentage of new plans issued within 20 weeks, the LA against its "
                  "region and England.", [str(y) for y in years],
                  [Series("This LA", [r[1] for r in rows]), Series("Region", [r[2] for r in rows]),
                   Series("England", [r[3] for r in rows])], unit="%")
    return Section("Issued within 20 weeks", text, chart,
                   (["year", "this LA %", "region %", "England %"], rows))


def duties_section(db: PackData) -> Section:
    """Statutory duties: how long new plans took (the DfE's bands), decisions not to issue
    within 16 weeks, assessments still open at the year's end, and tribunal appeals."""
    bands = {(y, b): p for y, b, p in db.rows(
        "SELECT year, band, pct FROM S.ehcp_timeliness_bands WHERE with_exceptions")}
    decisions = {r[0]: r[1:] for r in db.rows(
        "SELECT year, decided_not_to_issue, pct, assessments_open, open_over_20_weeks "
        "FROM S.ehcp_assessment_decisions")} if db.has("ehcp_assessment_decisions") else {}
    appeals = {r[0]: r[1:] for r in db.rows(
        "SELECT year, tribunals, appeal_rate_pct FROM S.ehcp_disputes WHERE stage = 'all'")
    } if db.has("ehcp_disputes") else {}
    years = sorted({y for y, _ in bands})
    rows = [(y, bands.get((y, "under_20")), bands.get((y, "20_to_52")),
             bands.get((y, "over_52")), *decisions.get(y, (None,) * 4),
             *appeals.get(y, (None, None))) for y in years]
    england = _england(db, ["pct_within_20_weeks", "pct_20_to_52_weeks", "pct_over_52_weeks"])
    last = rows[-1]
    text = (f"Of the new EHC plans issued in {last[0]}, {_cell(last[1])}% took at most 20 weeks "
            f"from the request, {_cell(last[2])}% more than 20 weeks but at most a year and "
            f"{_cell(last[3])}% over a year")
    if (last[0], "pct_over_52_weeks") in england:
        text += (f" (England: {_cell(england.get((last[0], 'pct_within_20_weeks')))}%, "
                 f"{_cell(england[(last[0], 'pct_20_to_52_weeks')])}% and "
                 f"{_cell(england[(last[0], 'pct_over_52_weeks')])}%)."
                 + _timeliness_compared(db, {last[0]: last[1]}, region_only=True))
    else:
        text += "." + _timeliness_compared(db, {r[0]: r[1] for r in rows})
    if last[4] is not None:
        text += (f" {_cell(last[4])} assessments ended in a decision not to issue a plan"
                 + (f", {_cell(last[5])}% of them within 16 weeks of the request"
                    if last[5] is not None else "")
                 + f"; {_cell(last[6])} assessments were still open at the end of the year, "
                 f"{_cell(last[7])} of them more than 20 weeks after the request.")
    if last[8] is not None:
        text += (f" {_cell(last[8])} requests went to the SEND tribunal, an appeal rate of "
                 f"{last[9]:.2f}% of appealable decisions." if last[9] is not None else
                 f" {_cell(last[8])} requests went to the SEND tribunal.")
    text += _appeal_rate_compared(db)
    text += _reviews_and_transfers(db) + _personal_budgets(db)
    chart = bars("Time from request to plan issued",
                 "Stacked bars: the share of each year's new plans issued within 20 weeks, "
                 "within a year and after more than a year (exception cases included).",
                 [str(y) for y in years],
                 [Series("Within 20 weeks", [r[1] for r in rows]),
                  Series("20 to 52 weeks", [r[2] for r in rows]),
                  Series("Over 52 weeks", [r[3] for r in rows])], stacked=True, unit="%")
    return Section("Statutory duties: timeliness, decisions and appeals", text, chart,
                   (["year", "within 20 weeks %", "20-52 weeks %", "over 52 weeks %",
                     "not to issue", "of which within 16 weeks %", "open at year end",
                     "open over 20 weeks", "tribunal appeals", "appeal rate %"], rows))


def _comparators(db: PackData, measure: str, comparisons: tuple[str, ...]
                 ) -> dict[tuple[int, str], float | None]:
    """kpi.benchmarks' figure of `measure` per (year, comparison) for the comparisons asked
    (`la`, `england`, `region`...), withheld ones as None; empty without benchmarks."""
    if not db.has("benchmarks"):
        return {}
    marks = ", ".join("?" for _ in comparisons)
    return {(y, c): v for y, c, v in db.rows(
        "SELECT year, comparison, value FROM S.benchmarks WHERE measure = ? AND comparison "
        f"IN ({marks})", [measure, *comparisons])}


def _in_england_and_region(england: float | None, region: float | None) -> str:
    """`6.9% in England and 7.4% in the region`, a part left out where it is not published."""
    return " and ".join(f"{_cell(v)}% in {where}" for v, where in
                        ((england, "England"), (region, "the region")) if v is not None)


def _timeliness_compared(db: PackData, within: dict[int, float | None],
                         region_only: bool = False) -> str:
    """The latest year the DfE has published 20-week timeliness for: this LA's share of new
    plans within 20 weeks (exceptions included, as the DfE's headline) against England's and
    the region's (`region_only`: England's is said already)."""
    published = _comparators(db, "pct_within_20_weeks", ("england", "region"))
    years = sorted(y for y, c in published if c == "england" and y in within)
    if not years:
        return ""
    y = years[-1]
    england, region = published[(y, "england")], published.get((y, "region"))
    if region_only:
        return (f" The region's share within 20 weeks that year was {_cell(region)}%."
                if region is not None else "")
    elsewhere = f"{_cell(england)}% in England" + (
        f" and {_cell(region)}% in the region" if region is not None else "")
    if within[y] is None:
        return (f" In {y}, the latest year the DfE has published, the share of new plans "
                f"issued within 20 weeks was {elsewhere} (the share here is not shown).")
    return (f" In {y}, the latest year the DfE has published, {_cell(within[y])}% of new "
            f"plans here were issued within 20 weeks, against {elsewhere}.")


def _appeal_rate_compared(db: PackData) -> str:
    """The latest year of the published SEND Tribunal appeal rate (HMCTS appeals registered
    over the DfE's appealable decisions, kpi.benchmarks `appeal_rate_pct`): this LA's
    against England's and the region's, where a release's appeal rate table is loaded."""
    published = {k: v for k, v in _comparators(db, "appeal_rate_pct", (
        "la", "england", "region")).items() if v is not None}
    if not published:
        return ""
    y = max(year for year, _ in published)
    here, england, region = (published.get((y, c)) for c in ("la", "england", "region"))
    elsewhere = _in_england_and_region(england, region)
    what = (f" The published SEND Tribunal appeal rate for {y} (appeals registered with the "
            "tribunal over the DfE's count of appealable decisions)")
    if here is None:
        return f"{what} was {elsewhere}." if elsewhere else ""
    return f"{what} was {here:.1f}% here" + (f", against {elsewhere}." if elsewhere else ".")


def _reviews_and_transfers(db: PackData) -> str:
    """The duties' sentences on annual reviews, phase transfers and plans not in school."""
    text = ""
    if db.has("ehcp_annual_reviews"):
        for year, due, held, pct_held, pct_4 in db.rows(
                "SELECT year, reviews_due, reviews_held, pct_held, pct_decided_within_4_weeks "
                "FROM S.ehcp_annual_reviews"):
            text += (f" Of {_cell(due)} plans due an annual review in {year}, {_cell(held)} "
                     f"({_cell(pct_held)}%) had a review meeting in the year, and "
                     f"{_cell(pct_4)}% of those reviews were decided within 4 weeks.")
    if db.has("ehcp_phase_transfers"):
        rows = db.rows("SELECT year, settled, final_by_deadline, pct_final_by_deadline "
                       "FROM S.ehcp_phase_transfers WHERE settled > 0 "
                       "ORDER BY year DESC LIMIT 1")
        for year, settled, met, pct in rows:
            text += (f" Of {_cell(settled)} phase transfers due in {year} whose deadline has "
                     f"passed or whose plan is final, {_cell(met)} ({_cell(pct)}%) had their "
                     "final plan by the statutory deadline.")
    if db.has("ehcp_not_in_school"):
        # A total only when every part is shown: withheld parts would make it wrong.
        rows = db.rows("SELECT year, sum(plans), sum(pct), count(*) - count(plans) FROM "
                       "S.ehcp_not_in_school WHERE setting <> 'unknown' AND year = (SELECT "
                       "max(year) FROM S.ehcp_not_in_school) GROUP BY year")
        for year, plans, pct, withheld in rows:
            if plans is not None and not withheld:
                text += (f" In January {year}, {_cell(int(plans))} children and young people "
                         f"with a plan ({_cell(pct)}%) were not in a school or college "
                         "(EOTAS, home education, NEET or awaiting provision).")
    return text


def _personal_budgets(db: PackData) -> str:
    """The duties' sentences on the January caseload's personal budgets, and the share
    against England's and the region's (kpi.benchmarks' pct_caseload_with_pb: a landed 2026
    release or later) for the latest January the DfE has published; a count withheld in the
    public pack is not printed."""
    if not db.has("ehcp_personal_budgets_caseload"):
        return ""
    rows = {r[0]: r[1:] for r in db.rows(
        "SELECT year, caseload, plans_with_pb, organised_arrangements, direct_payments, "
        "pct_of_caseload FROM S.ehcp_personal_budgets_caseload WHERE caseload > 0 OR "
        "caseload IS NULL")}  # (withheld in public.*)
    if not rows:
        return ""
    year = max(rows)
    caseload, with_pb, oa, dp, pct = rows[year]
    if with_pb is None:
        text = (f" In January {year}, the number of plans with a personal budget is not "
                "shown (withheld to protect small numbers).")
    else:
        text = (f" In January {year}, {_cell(with_pb)}"
                + (f" of the {_cell(caseload)}" if caseload is not None else "") + " plans "
                + (f"({_cell(pct)}%) " if pct is not None else "") + "had a personal budget"
                + (f": {_cell(oa)} held as organised arrangements and {_cell(dp)} paid as "
                   "direct payments (a budget can be both)" if oa is not None and dp is not None
                   else "") + ".")
    published = {k: v for k, v in _comparators(db, "pct_caseload_with_pb", (
        "england", "region")).items() if v is not None}
    years = sorted(y for y, c in published if c == "england" and y in rows)
    if not years:
        return text
    y = years[-1]
    elsewhere = _in_england_and_region(published[(y, "england")], published.get((y, "region")))
    here = rows[y][4]
    if y == year:
        return text + (f" The DfE's share that January was {elsewhere}." if here is None
                       else f" That is against {elsewhere}.")
    return text + (f" In January {y}, the latest the DfE has published, "
                   + (f"{_cell(here)}% of plans here had a personal budget, against "
                      if here is not None else "the share with a personal budget was ")
                   + f"{elsewhere}.")


def _england(db: PackData, measures: list[str]) -> dict[tuple[int, str], float]:
    """England's published figure per (year, measure), empty without benchmarks."""
    if not db.has("benchmarks"):
        return {}
    marks = ", ".join("?" for _ in measures)
    return {(y, m): v for y, m, v in db.rows(
        "SELECT year, measure, value FROM S.benchmarks WHERE comparison = 'england' AND "
        f"measure IN ({marks})", measures)}


# The placement chart's series, in the order that gives each its style.
PLACEMENT_GROUPS = ("mainstream", "special", "fe", "educated_elsewhere", "ap_pru",
                    "early_years", "unknown")


def placement_section(db: PackData) -> Section:
    rows = db.rows("SELECT year, placement_group, pct FROM S.ehcp_placement_mix ORDER BY year")
    groups = PLACEMENT_GROUPS
    years = sorted({r[0] for r in rows})
    pct = {(y, g): p for y, g, p in rows}
    england = _england(db, ["pct_mainstream", "pct_special"])
    y = years[-1]
    latest = max((yr for yr, _ in england), default=None)
    text = (f"In January {y}, {_cell(pct.get((y, 'mainstream')))}% of plans were for children "
            f"and young people in mainstream settings and {_cell(pct.get((y, 'special')))}% in "
            "special schools"
            + (f" (England, January {latest}: "
               f"{_cell(england.get((latest, 'pct_mainstream')))}% and "
               f"{_cell(england.get((latest, 'pct_special')))}%)" if latest else "") + ".")
    chart = bars("Where children with EHC plans are placed", "Stacked bars: share of the "
                 "January caseload by DfE placement group.", [str(v) for v in years],
                 [Series(g.replace("_", " "), [pct.get((v, g)) for v in years]) for g in groups],
                 stacked=True, unit="%")
    span = sorted(set(years) | {yr for yr, _ in england})
    extra = []
    if england:
        extra.append(lines(
            "Mainstream and special school shares against England", "Lines: percentage of "
            "the January caseload in mainstream settings and in special schools, this LA "
            "against England.", [str(v) for v in span],
            [Series("Mainstream, this LA", [pct.get((v, "mainstream")) for v in span]),
             Series("Mainstream, England", [england.get((v, "pct_mainstream")) for v in span]),
             Series("Special, this LA", [pct.get((v, "special")) for v in span]),
             Series("Special, England", [england.get((v, "pct_special")) for v in span])],
            unit="%"))
    table = [(v, *[pct.get((v, g)) for g in groups], england.get((v, "pct_mainstream")),
              england.get((v, "pct_special"))) for v in span]
    if db.has("ehcp_placement_detail"):
        detail_text, detail = _placement_detail(db)
        text += detail_text
        extra += detail
    return Section("Placements", text, chart,
                   (["January", *groups, "England mainstream", "England special"], table), extra)


# The 2026 release's names of its caseload.csv settings (dfe-ehcp-2026-headers.txt).
SETTING_LABELS = {
    "mainstream_la_maintained": "Mainstream LA maintained",
    "mainstream_la_maintained_resourced_provision": "Mainstream LA maintained, resourced "
                                                    "provision",
    "mainstream_la_maintained_senunit": "Mainstream LA maintained, SEN unit",
    "mainstream_academy": "Mainstream academy",
    "mainstream_academy_resourced_provision": "Mainstream academy, resourced provision",
    "mainstream_academy_senunit": "Mainstream academy, SEN unit",
    "mainstream_free_school": "Mainstream free school",
    "mainstream_free_school_resourced_provision": "Mainstream free school, resourced provision",
    "mainstream_free_school_senunit": "Mainstream free school, SEN unit",
    "mainstream_independent": "Mainstream independent",
    "special_la_maintained": "LA maintained special", "special_academy": "Special academy",
    "special_free_school": "Special free school", "special_independent": "Independent special",
    "special_non_maintained": "Non-maintained special",
    "ap_pru_academy": "AP academy", "ap_pru_free_school": "AP free school",
    "ap_pru_la_maintained": "Pupil referral unit",
    "general_fe_tertiary_colleges": "FE college or sixth form",
    "specialist_post_16_institutions": "Specialist post-16 institution",
    "ukrlp_provider": "UKRLP provider", "elective_home_education": "Elective home education",
    "other_arrangements_la": "Other arrangements by the LA (EOTAS)",
    "other_arrangements_parents": "Other arrangements by parents",
    "online_provider": "Online provider", "w_settings": "Welsh setting",
    "other_schools": "Other school type", "other_placement_settings": "Other placement",
    "neet": "NEET (16-25)", "neet_ntci": "Not in education, notice to cease",
    "neet_other": "Not in education, other ages",
    "neet_other_csa": "Not in education, compulsory school age",
    "nm_early_years": "Non-maintained early years", "placement_unknown": "Not recorded",
}


def _placement_detail(db: PackData) -> tuple[str, list[str]]:
    """The latest January in the 2026 release's settings: a sentence on special schools by
    who runs them, a chart of every setting with plans (against England when the 2026
    release is loaded) and its data."""
    year = db.rows("SELECT max(year) FROM S.ehcp_placement_detail")[0][0]
    rows = db.rows("SELECT setting_2026, sum(plans), sum(pct), count(*) - count(plans) FROM "
                   "S.ehcp_placement_detail WHERE year = ? GROUP BY setting_2026", [year])
    # A withheld part makes a setting's sum wrong: shown withheld (None) instead.
    by_setting = {s: (n if not w else None, p if not w else None) for s, n, p, w in rows}
    england = {m.removeprefix("pct_setting_"): v for (y, m), v in _england(
        db, [f"pct_setting_{s}" for s in SETTING_LABELS]).items() if y == year}
    shown = [s for s in SETTING_LABELS if by_setting.get(s, (0, 0))[0] != 0
             or england.get(s)]
    special = {s: p for s, p in db.rows(
        "SELECT setting_2026, pct_of_group FROM S.ehcp_placement_detail WHERE year = ? AND "
        "placement_group = 'special'", [year])} if shown else {}
    text = ""
    if special.get("special_academy") is not None:
        text = (f" Of the plans in special schools, {_cell(special.get('special_la_maintained'))}"
                f"% were in LA maintained schools, {_cell(special['special_academy'])}% in "
                f"academies, {_cell(special.get('special_free_school'))}% in free schools and "
                f"{_cell(special.get('special_independent'))}% in independent and "
                f"{_cell(special.get('special_non_maintained'))}% in non-maintained special "
                "schools (the DfE's 2026 settings).")
    if not shown:
        return text, []
    series = [Series(f"This LA, January {year}", [by_setting.get(s, (None, None))[1]
                                                  for s in shown])]
    if england:
        series.append(Series(f"England, January {year}", [england.get(s) for s in shown]))
    chart = bars(f"The January {year} caseload in the DfE's 2026 settings",
                 "Bars: percentage of the January caseload in each placement setting of the "
                 "DfE's 2026 release (settings with no plans left out)"
                 + (", this LA against England." if england else "."),
                 [SETTING_LABELS[s] for s in shown], series, unit="%")
    table = data_table(["setting", "plans", "% of caseload", "England %"],
                       [(SETTING_LABELS[s], *by_setting.get(s, (None, None)), england.get(s))
                        for s in shown])
    return text, [chart, table]


def need_section(db: PackData) -> Section:
    y = db.rows("SELECT max(year) FROM S.ehcp_need_mix")[0][0]
    rows = db.rows("SELECT need, plans, pct FROM S.ehcp_need_mix WHERE year = ? "
                   "ORDER BY plans DESC NULLS LAST", [y])
    england = _england(db, [f"pct_need_{r[0].lower()}" for r in rows])
    latest = max((yr for yr, _ in england), default=None)
    eng = {m.removeprefix("pct_need_").upper(): v for (yr, m), v in england.items()
           if yr == latest}
    top = [r for r in rows if r[2] is not None][:3]
    text = (f"In January {y} the most common primary needs were "
            + ", ".join(f"{n} ({_cell(p)}%)" for n, _, p in top) + ".")
    compared = [(n, p, eng[n]) for n, _, p in rows if p is not None and eng.get(n) is not None]
    if compared:
        n, p, e = max(compared, key=lambda c: abs(c[1] - c[2]))
        text += (f" Against England (January {latest}), the largest difference is in {n}: "
                 f"{_cell(p)}% of plans here against {_cell(e)}%.")
    series = [Series("Share of plans, this LA (%)", [r[2] for r in rows])]
    if eng:
        series.append(Series(f"Share of plans, England {latest} (%)",
                             [eng.get(r[0]) for r in rows]))
    chart = bars(f"Primary need, January {y}", "Bars: share of EHC plans by primary need, "
                 "this LA" + (" against England." if eng else "."), [r[0] for r in rows],
                 series, unit="%")
    return Section("Primary needs", text, chart,
                   (["need", "plans", "%", "England %"], [(*r, eng.get(r[0])) for r in rows]))


def prevalence_section(db: PackData) -> Section:
    rows = db.rows("SELECT census_date, ehcp_pct, sen_support_pct FROM S.sen_prevalence "
                   "WHERE scope = 'la' AND month(census_date) = 1 ORDER BY census_date")
    phases = db.rows("SELECT scope_id, pupils, ehcp_pct, sen_support_pct FROM S.sen_prevalence "
                     "WHERE scope = 'phase' AND census_date = (SELECT max(census_date) FROM "
                     "S.sen_prevalence WHERE month(census_date) = 1) ORDER BY scope_id")
    last = rows[-1]
    text = (f"At the spring census of {last[0]:%B %Y}, {_cell(last[1])}% of pupils in the LA's "
            f"schools had an EHC plan and {_cell(last[2])}% were on SEN support.")
    chart = lines("SEN in the LA's schools (spring census)", "Lines: percentage of pupils with "
                  "an EHC plan and on SEN support, each January.",
                  [f"{r[0]:%Y}" for r in rows], [Series("EHC plan", [r[1] for r in rows]),
                                                  Series("SEN support", [r[2] for r in rows])],
                  unit="%")
    extra = ["<h3>By phase, latest spring census</h3><table><thead><tr><th>phase</th>"
             "<th>pupils</th><th>EHC plan %</th><th>SEN support %</th></tr></thead><tbody>"
             + "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>"
                       for r in phases) + "</tbody></table>"]
    return Section("SEN prevalence", text, chart,
                   (["census", "EHC plan %", "SEN support %"], rows), extra)


def finance_section(db: PackData) -> Section | None:
    if not db.has("dsg_balance"):
        return None
    rows = db.rows("SELECT financial_year, hnb_income_gbp, hnb_spend_gbp, in_year_gbp, "
                   "cumulative_balance_gbp, pct_of_dsg_income, spend_basis FROM S.dsg_balance "
                   "ORDER BY financial_year")
    last = rows[-1]
    spend = "is forecast at" if last[6] == "forecast" else "was"
    text = (f"In {last[0]} High Needs spend {spend} {millions(last[2])} against income of "
            f"{millions(last[1])}: an in-year {'deficit' if last[3] < 0 else 'surplus'} of "
            f"{millions(abs(last[3]))}. The cumulative balance is {millions(last[4])}, "
            f"{_cell(last[5])}% of the year's High Needs income.")
    chart = bars("High Needs income and spend", "Bars: High Needs Block income and spend per "
                 "financial year; the last year's spend is a forecast outturn.",
                 [r[0] for r in rows], [Series("income", [float(r[1]) for r in rows]),
                                        Series("spend", [float(r[2]) for r in rows])])
    deficit = lines("Cumulative DSG High Needs balance", "Line: cumulative balance carried "
                    "forward, negative is a deficit.", [r[0] for r in rows],
                    [Series("cumulative balance", [float(r[4]) for r in rows])], zero=True)
    table = [(r[0], _plain_money(r[1]), _plain_money(r[2]), _plain_money(r[3]),
              _plain_money(r[4]), r[5], r[6]) for r in rows]
    return Section("High Needs Budget", text, chart + deficit,
                   (["year", "income", "spend", "in-year", "cumulative", "% of income",
                     "spend basis"], table))


def _plain_money(v) -> str:
    return "-" if v is None else f"{'-' if v < 0 else ''}£{abs(float(v)):,.0f}"


def recovery_section(db: PackData) -> Section | None:
    if not db.has("recovery_plan"):
        return None
    rows = db.rows("SELECT project_name, sum(planned_saving_gbp), sum(actual_saving_gbp), "
                   "arg_max(cumulative_rag, financial_year) FILTER (actual_saving_gbp IS NOT "
                   "NULL) FROM S.recovery_plan GROUP BY 1 ORDER BY 2 DESC")
    reds = [r[0] for r in rows if r[3] == "red"]
    text = (f"{len(rows)} recovery projects plan savings of "
            f"£{sum(float(r[1] or 0) for r in rows) / 1e6:,.2f}m over the plan; "
            + (f"{len(reds)} rated red to date ({', '.join(reds)})." if reds
               else "none is rated red to date."))
    chart = bars("Recovery plan: planned and actual savings to date", "Bars: planned and "
                 "actual savings per project over the plan's years.", [r[0] for r in rows],
                 [Series("planned", [float(r[1] or 0) for r in rows]),
                  Series("actual (to date)", [float(r[2] or 0) for r in rows])])
    table = [(r[0], _plain_money(r[1]), _plain_money(r[2]), r[3]) for r in rows]
    return Section("Recovery plan", text, chart, (["project", "planned", "actual", "RAG"], table))


# Resourced provision and SEN units are places inside mainstream schools: the seed paper's
# place plan counts them together as "mainstream", beside special school places.
MAINSTREAM_PROVISION = ("resourced_provision", "sen_unit")


def places_section(db: PackData) -> Section | None:
    if not db.has("place_sufficiency"):
        return None
    # A total over schools with a school's count withheld (public.*) is no plain sum: it
    # reads "at least N" (_place_totals), and is not drawn as if it were N.
    rows = _place_totals(db)
    years = sorted({r[0] for r in rows})
    places = {(r[0], r[1]): r[2] for r in rows}
    pupils = {(r[0], r[1]): r[3] for r in rows}
    counted = [y for y in years if pupils.get((y, "special")) is not None]
    if counted:
        y = counted[-1]
        text = (f" In {y}, {_count(pupils[(y, 'special')])} of the LA's EHC plan holders "
                f"attended its special schools in January, which had "
                f"{_count(places.get((y, 'special')))} funded places.")
    elif db.schema == "public" and any(p == "special" for _, p in places):
        text = " How many EHC plan holders attend the special schools is withheld (small numbers)."
    else:
        text = ""
    planned, plan_text, plan_table = _planned_places(places, years)
    chart = bars("Special school places and pupils placed", "Bars: funded special school "
                 "places and EHC plan holders placed in them, per financial year.", years,
                 [Series("funded places", [places.get((y, "special")) for y in years]),
                  Series("EHCP pupils", [None if isinstance(pupils.get((y, "special")), str)
                                         else pupils.get((y, "special")) for y in years])])
    planned += data_table(["year", "special", "added", "resourced provision", "SEN units",
                           "mainstream", "added", "total"], plan_table)
    return Section("Place planning and sufficiency", (plan_text + text).strip(), planned,
                   (["year", "provision", "funded places", "EHCP pupils"], rows), [chart])


def _planned_places(places: dict[tuple[str, str], int], years: list[str]
                    ) -> tuple[str, str, list[tuple]]:
    """The seed paper's place plan (its slide 5): places commissioned per financial year in
    special schools and in mainstream schools' resourced provision, and those added on the
    year before. The chart, a sentence and the table's rows."""
    def part(y: str, provision: str) -> int | None:
        return places.get((y, provision))

    def mainstream(y: str) -> int | None:
        got = [part(y, p) for p in MAINSTREAM_PROVISION if part(y, p) is not None]
        return sum(got) if got else None

    def added(now: int | None, before: int | None) -> str | None:
        return None if now is None or before is None else f"{now - before:+,}"

    table = []
    for i, y in enumerate(years):
        before = years[i - 1] if i else None
        special, main = part(y, "special"), mainstream(y)
        total = None if special is None and main is None else (special or 0) + (main or 0)
        table.append((y, special, added(special, part(before, "special")) if before else None,
                      part(y, "resourced_provision"), part(y, "sen_unit"), main,
                      added(main, mainstream(before)) if before else None, total))
    text = ""
    if len(table) > 1:
        last = table[-1]
        text = (f" Places commissioned for {last[0]}: {_count(last[1])} in special schools"
                + (f" ({last[2]} on {table[-2][0]})" if last[2] else "")
                + f" and {_count(last[5])} in resourced provision and SEN units in mainstream "
                "schools" + (f" ({last[6]})." if last[6] else "."))
    shown = [(y, _count(sp), a, _count(rp), _count(u), _count(m), b, _count(t))
             for y, sp, a, rp, u, m, b, t in table]
    chart = bars("Planned places by financial year: special schools and mainstream resourced "
                 "provision", "Stacked bars: places commissioned each financial year in special "
                 "schools and in resourced provision and SEN units in mainstream schools, from "
                 "the places extract; the table gives the places added on the year before.",
                 years, [Series("Special schools", [r[1] for r in table]),
                         Series("Mainstream: resourced provision and SEN units",
                                [r[5] for r in table])], stacked=True)
    return chart, text, shown


def _place_totals(db: PackData) -> list[tuple]:
    """(year, provision, funded places, EHCP pupils) per year and provision. A total with a
    school's count withheld is no plain sum: it reads "at least N" (the schools shown), as
    transforms.disclosure_model.pack_totals defines it and the disclosure audit checks."""
    import polars as pl

    from transforms.disclosure_model import pack_totals
    from warehouse import store

    frame = store.read(db.con, f"SELECT * FROM {db.schema}.place_sufficiency")
    if "suppressed" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("suppressed"))
    return [(r["financial_year"], r["provision"], r["funded_places"],
             f"at least {r['at_least']:,}" if r["suppressed"] else r["ehcp_pupils"])
            for r in pack_totals(frame).iter_rows(named=True)]


def forecast_section(db: PackData) -> Section | None:
    if not db.has("forecast"):
        return None
    rows = db.rows("SELECT scenario, year, measure, p10, p50, p90 FROM S.forecast WHERE "
                   "breakdown = 'all' ORDER BY scenario, year")
    scenarios = list(dict.fromkeys(r[0] for r in rows))
    value = {(r[0], r[1], r[2]): tuple(None if v is None else round(v) for v in r[3:])
             for r in rows}
    years = sorted({r[1] for r in rows})
    last = years[-1]
    history = db.rows("SELECT year, caseload FROM S.ehcp_caseload ORDER BY year")[-5:]
    now = history[-1]
    parts = []
    for name in scenarios:
        lo, mid, hi = value.get((name, last, "caseload"), (None, None, None))
        parts.append(f"{_cell(mid)} under {name.replace('_', ' ')} (80% range "
                     f"{_cell(lo)} to {_cell(hi)})")
    text = (f"From {_cell(now[1])} EHC plans in January {now[0]}, the model projects the "
            f"caseload in January {last} at " + "; ".join(parts) + ".")
    balances = [(n, value[(n, last, "dsg_cumulative_balance_gbp")][1]) for n in scenarios
                if (n, last, "dsg_cumulative_balance_gbp") in value]
    if balances:
        text += (f" The cumulative DSG balance at the end of {last - 1}-{str(last)[2:]} would be "
                 + "; ".join(f"{millions(b)} under {n.replace('_', ' ')}" for n, b in balances)
                 + ".")
    span = [y for y, _ in history] + years
    actual = dict(history)
    series = [Series("Actual", [actual.get(y) for y in span])]
    series += [Series(f"{n.replace('_', ' ')} (median)",
                      [actual.get(y) if y == now[0] else value.get((n, y, "caseload"),
                                                                  (None,) * 3)[1]
                       for y in span]) for n in scenarios]
    chart = lines("EHC plans: actual and projected by scenario", "Lines: January caseload, "
                  "the last five years actual and the model's median projection under each "
                  "scenario; the table gives the 10th-90th percentile range.",
                  [str(y) for y in span], series)
    extra = []
    if balances and db.has("dsg_balance"):
        # The same colour per scenario as the caseload chart: "Actual" first, then each.
        past = {int(fy[:4]) + 1: float(b) / 1e6 for fy, b in db.rows(
            "SELECT financial_year, cumulative_balance_gbp FROM S.dsg_balance "
            "ORDER BY financial_year")[-5:] if b is not None}
        span = sorted(past) + [y for y in years if y not in past]
        joined = max(past, default=None)

        def path(n: str) -> list[float | None]:
            return [past[y] if y == joined else None
                    if value.get((n, y, "dsg_cumulative_balance_gbp")) is None
                    else value[(n, y, "dsg_cumulative_balance_gbp")][1] / 1e6 for y in span]

        extra.append(lines(
            "Cumulative DSG balance: actual and projected by scenario", "Lines: the cumulative "
            "Dedicated Schools Grant balance at the end of each financial year (labelled by "
            "the January inside it), in millions of pounds, from the DSG extract and then the "
            "model's median under each scenario; below zero is a deficit.",
            [str(y) for y in span],
            [Series("DSG extract (outturn, then forecast)", [past.get(y) for y in span]),
             *(Series(f"{n.replace('_', ' ')} (median)", path(n)) for n in scenarios)],
            unit="m", zero=False))
    levers = _versus_baseline(value, scenarios, years)
    if levers:
        extra.insert(0, levers[1])
        text += " " + levers[0]
    if record := _track_record(db):
        text += " " + record
    table = [(n, y, *value.get((n, y, "caseload"), (None,) * 3),
              millions(value.get((n, y, "hnb_spend_gbp"), (None,) * 3)[1]),
              millions(value.get((n, y, "dsg_cumulative_balance_gbp"), (None,) * 3)[1]))
             for n in scenarios for y in years]
    return Section("Forecast: caseload and cost by scenario", text, chart,
                   (["scenario", "January", "caseload p10", "p50", "p90", "HNB spend p50",
                     "DSG balance p50"], table),
                   [*extra, '<p class="note">Markov model of plans by age, need and '
                    "placement (docs/forecast.md); scenarios and their levers in the scenarios "
                    "file.</p>"])


def _track_record(db: PackData) -> str | None:
    """How the model did the last time the DfE published a January for the LA: its one-year
    forecast from the January before, scored, beside every LA's scores for that January
    (kpi.forecast_track_record)."""
    if not db.has("forecast_track_record"):
        return None
    rows = db.rows("SELECT fit_until, year, actual, model, model_p10, model_p90, ape_model, "
                   "las_scored, las_mdape_model, las_mdape_naive, las_pct_in_p10_p90 FROM "
                   "S.forecast_track_record WHERE horizon = 1 ORDER BY fit_until DESC LIMIT 1")
    if not rows:
        return None
    fit, year, actual, model, lo, hi, ape, las, mdape, naive, inside = rows[0]
    side = "above" if model > actual else "below"
    return (f"How the model has done: fitted on the DfE's published figures up to January "
            f"{fit}, it forecast {round(model):,} plans for January {year} (80% range "
            f"{round(lo):,} to {round(hi):,}); the DfE counted {round(actual):,}, "
            f"so the forecast was {ape:.1f}% {side} it. Across the {las} LAs tested on that "
            f"January, its median error was {mdape:.1f}%, against {naive:.1f}% for \u201clast "
            f"year's growth continues\u201d, and its range held the actual for {inside:.0f}% "
            "of them (kpi.forecast_track_record; docs/forecast.md).")


def _signed(v, pounds: bool = False) -> str:
    """A difference with its sign: +1,234 children, -£3.2m."""
    if v is None:
        return "\u2013"
    if pounds:
        return ("+" if v > 0 else "") + millions(v)
    return f"{'+' if v > 0 else '-' if v < 0 else ''}{abs(round(v)):,}"


def _versus_baseline(value: dict, scenarios: list[str], years: list[int]
                     ) -> tuple[str, str] | None:
    """Each scenario's difference from the baseline, simulation by simulation, in children
    and in High Needs spend, with its 80% range: a sentence for the last January and a
    table for every January (kpi.forecast *_vs_baseline)."""
    others = [n for n in scenarios if (n, years[-1], "caseload_vs_baseline") in value]
    if not others:
        return None
    last = years[-1]

    def band(n: str, y: int, measure: str, pounds: bool = False) -> str:
        lo, mid, hi = value.get((n, y, measure), (None,) * 3)
        if mid is None:
            return "\u2013"
        return (f"{_signed(mid, pounds)} ({_signed(lo, pounds)} to {_signed(hi, pounds)})")

    parts = []
    for n in others:
        spend = value.get((n, last, "hnb_spend_gbp_vs_baseline"))
        parts.append(f"{n.replace('_', ' ')} {band(n, last, 'caseload_vs_baseline')} plans"
                     + (f" and {band(n, last, 'hnb_spend_gbp_vs_baseline', True)} of High "
                        f"Needs spend in {last - 1}-{str(last)[2:]}" if spend else ""))
    sentence = (f"Against the baseline, simulation by simulation (80% range in brackets), "
                f"January {last} would have: " + "; ".join(parts) + ".")
    head = ("<tr><th>scenario</th><th>January</th><th>plans against baseline (80% range)</th>"
            "<th>HNB spend against baseline (80% range)</th></tr>")
    body = "".join(
        f"<tr><td>{escape(n)}</td><td>{y}</td><td>{escape(band(n, y, 'caseload_vs_baseline'))}"
        f"</td><td>{escape(band(n, y, 'hnb_spend_gbp_vs_baseline', True))}</td></tr>"
        for n in others for y in years)
    table = ("<h3>What each scenario's levers do</h3><p class=\"note\">Each scenario against the "
             "baseline on the same simulations: the difference is the levers', and its range "
             "is what the rest of the model leaves uncertain (a recovery target has its own "
             f"chance of being missed).</p><table><thead>{head}</thead><tbody>{body}</tbody>"
             "</table>")
    return sentence, table


def quality_section(db: PackData) -> str:
    files = db.con.execute("SELECT source, count(*), sum(rows_loaded), sum(rows_quarantined), "
                           "count(*) FILTER (status = 'rejected') FROM audit.files GROUP BY 1 "
                           "ORDER BY 1").fetchall()
    checks = db.con.execute(
        "SELECT count(*), count(*) FILTER (success) FROM audit.quality_checks WHERE run_id = "
        "(SELECT run_id FROM audit.runs WHERE status = 'published' ORDER BY finished_at DESC "
        "LIMIT 1)").fetchall()[0] if _has_audit(db, "quality_checks") else (0, 0)
    head = "<tr><th>source</th><th>files</th><th>rows loaded</th><th>rows quarantined</th>" \
           "<th>files rejected</th></tr>"
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in files)
    return (f"<section><h2>Data quality</h2><p>The quality gate checked {checks[0]} "
            f"expectations on the KPI tables before they were published; {checks[1]} were met. "
            "Rows that failed a rule are held in audit.quarantine with every reason.</p>"
            f"<table><thead>{head}</thead><tbody>{body}</tbody></table></section>")


def _has_audit(db: PackData, table: str) -> bool:
    return bool(db.con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                               "table_schema = 'audit' AND table_name = ?", [table]
                               ).fetchall()[0][0])


def sources_section(db: PackData) -> str:
    tables = [t for (t,) in db.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
        [db.schema]).fetchall()]
    items = []
    for t in tables:
        got = db.rows(f"SELECT any_value(definition), any_value(source) FROM S.{t}")
        if got and got[0][0]:
            items.append(f"<li><b>{escape(t)}</b>: definition {escape(got[0][0])}; "
                         f"source {escape(str(got[0][1]))}</li>")
    return ("<section><h2>Where the numbers come from</h2><p class='note'>Every figure is read "
            f"from the published tables ({escape(db.schema)}.*); definitions are in "
            "docs/kpis.md (DfE definitions); sources name the extracts by file name and "
            f"SHA-256 prefix.</p><ul>{''.join(items)}</ul></section>")


def headline_tiles(db: PackData) -> str:
    tiles = []
    if db.has("ehcp_caseload"):
        c = db.rows("SELECT year, caseload, growth_pct FROM S.ehcp_caseload ORDER BY year "
                    "DESC LIMIT 1")[0]
        n = db.rows("SELECT year, new_plans, pct_within_20_weeks_ex FROM S.ehcp_new_plans "
                    "ORDER BY year DESC LIMIT 1")[0]
        mix = db.rows("SELECT pct FROM S.ehcp_placement_mix WHERE placement_group = "
                      "'mainstream' ORDER BY year DESC LIMIT 1")
        tiles += [(f"EHC plans, January {c[0]}", _cell(c[1]),
                   f"{'+' if (c[2] or 0) >= 0 else ''}{_cell(c[2])}% on a year before"),
                  (f"New plans in {n[0]}", _cell(n[1]), f"{_cell(n[2])}% within 20 weeks (ex. "
                                                         "exceptions)"),
                  ("In mainstream settings", f"{_cell(mix[0][0]) if mix else '-'}%",
                   "of the January caseload")]
    if db.has("dsg_balance"):
        d = db.rows("SELECT financial_year, in_year_gbp, cumulative_balance_gbp FROM "
                    "S.dsg_balance ORDER BY financial_year DESC LIMIT 1")[0]
        tiles += [(f"High Needs in-year, {d[0]}", millions(d[1]), "income less spend"),
                  ("Cumulative balance", millions(d[2]), "negative is a deficit")]
    return "".join(f"<div class='tile'>{escape(t)}<b>{escape(v)}</b>{escape(s)}</div>"
                   for t, v, s in tiles)
