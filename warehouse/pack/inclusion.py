"""The pack's "Inclusion" page: attendance and suspensions of pupils with an EHC plan and on
SEN support against pupils with no SEN (kpi.sen_attendance), the latest terms."""

from __future__ import annotations

from warehouse.pack.charts import Series, bars
from warehouse.pack.sections import PackData, Section, _cell

HEADING = "Inclusion: attendance and suspensions"
STATUSES = (("ehcp", "EHC plan"), ("sen_support", "SEN support"), ("no_sen", "No SEN"))
SHOWN_TERMS = 6  # two academic years
ENGLAND = ("No published England figure for absence or exclusions is loaded, so these are "
           "not compared with England.")


def _label(year: str, term: str) -> str:
    return f"{term.title()} {year}"


def inclusion_section(db: PackData) -> Section:
    rows = db.rows(
        "SELECT academic_year, term, sen_status, pupils, absence_rate_pct, "
        "persistent_absence_pct, suspensions, suspension_rate, pupils_suspended, "
        "permanent_exclusions FROM S.sen_attendance ORDER BY academic_year, "
        "CASE term WHEN 'autumn' THEN 0 WHEN 'spring' THEN 1 ELSE 2 END")
    if not rows:
        return Section(HEADING, "No Blade census with attendance is loaded: the flat census "
                       "layout carries no attendance or exclusions, so there is nothing to "
                       "show here yet. It fills once a COLLECT Blade export of the census "
                       "lands with its termlysessiondetailsonroll and termlyexclusionsonroll "
                       "tables.")
    by = {(r[0], r[1], r[2]): r[3:] for r in rows}
    terms = list(dict.fromkeys((r[0], r[1]) for r in rows))
    absence_terms = [t for t in terms if by[(*t, "all")][1] is not None
                     or by[(*t, "no_sen")][1] is not None][-SHOWN_TERMS:]
    exclusion_terms = [t for t in terms if by[(*t, "all")][3] is not None][-SHOWN_TERMS:]
    text = _absence_text(by, absence_terms) + _exclusion_text(by, exclusion_terms) + ENGLAND
    charts = []
    if absence_terms:
        charts.append(bars(
            "Absence rate by SEN status", "Bars: the percentage of possible sessions "
            "missed, each term, by pupils with an EHC plan, on SEN support and with no SEN.",
            [_label(*t) for t in absence_terms],
            [Series(name, [by[(*t, s)][1] for t in absence_terms]) for s, name in STATUSES],
            unit="%"))
    if exclusion_terms:
        charts.append(bars(
            "Suspensions per 100 pupils by SEN status", "Bars: suspensions each term per 100 "
            "pupils with an EHC plan, on SEN support and with no SEN.",
            [_label(*t) for t in exclusion_terms],
            [Series(name, [by[(*t, s)][4] for t in exclusion_terms]) for s, name in STATUSES]))
    shown = sorted(set(absence_terms) | set(exclusion_terms), key=terms.index)
    table = [(_label(*t), name, *by[(*t, s)]) for t in shown
             for s, name in (*STATUSES, ("all", "All pupils"))]
    return Section(HEADING, text, charts[0] if charts else "",
                   (["term", "SEN status", "pupils", "absence %", "persistent absence %",
                     "suspensions", "per 100 pupils", "pupils suspended",
                     "permanent exclusions"], table), charts[1:])


def _absence_text(by: dict, terms: list[tuple[str, str]]) -> str:
    if not terms:
        return "No term's attendance is loaded yet. "
    t = terms[-1]
    (_, e_rate, e_pa, *_), (_, k_rate, k_pa, *_), (_, n_rate, n_pa, *_) = (
        by[(*t, s)] for s, _ in STATUSES)
    return (f"In the {t[1]} term of {t[0]}, pupils with an EHC plan missed {_cell(e_rate)}% "
            f"of their possible sessions and {_cell(e_pa)}% of them were persistently absent "
            f"(missing 10% or more); pupils on SEN support missed {_cell(k_rate)}% "
            f"({_cell(k_pa)}% persistently absent), against {_cell(n_rate)}% "
            f"({_cell(n_pa)}%) of pupils with no SEN. ")


def _exclusion_text(by: dict, terms: list[tuple[str, str]]) -> str:
    if not terms:
        return "No suspensions or exclusions are reported for these terms yet. "
    t = terms[-1]
    e, k, n, a = (by[(*t, s)] for s in ("ehcp", "sen_support", "no_sen", "all"))
    return (f"In the {t[1]} term of {t[0]}, schools reported {_cell(a[3])} suspensions: "
            f"{_cell(e[4])} per 100 pupils with an EHC plan and {_cell(k[4])} per 100 on SEN "
            f"support, against {_cell(n[4])} per 100 pupils with no SEN; there were "
            f"{_cell(a[6])} permanent exclusions. ")
