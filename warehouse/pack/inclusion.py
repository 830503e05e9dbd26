"""The pack's "Inclusion" page: attendance and suspensions of pupils with an EHC plan and on
SEN support against pupils with no SEN (kpi.sen_attendance), the latest terms, and against
England and the region where the DfE's absence and exclusions figures by SEN status are loaded
(kpi.benchmarks: transforms/inclusion_benchmarks.py)."""

from __future__ import annotations

from transforms.inclusion_benchmarks import benchmark_year, measure_name
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
    published = _published(db)
    compared = [t for t in shown if any(_at(published, c, m, s, t)[0] is not None for c in (
        "england", "region") for m in COMPARED for s, _ in STATUSES)]
    if compared:
        text = text.replace(ENGLAND, _comparison_text(by, published, compared[-1]))
    elif published:
        text = text.replace(ENGLAND, NOT_THESE_TERMS)
    columns = ["term", "SEN status", "pupils", "absence %", "persistent absence %",
               "suspensions", "per 100 pupils", "pupils suspended", "permanent exclusions"]
    table = [(_label(*t), name, *by[(*t, s)]) for t in shown
             for s, name in (*STATUSES, ("all", "All pupils"))]
    if published:
        # England's and the region's published figure beside each row, where there is one.
        columns += [f"{where} {what}" for what in ("absence %", "suspensions per 100")
                    for where in ("England", "region")]
        table = [(*row, *(_at(published, c, m, s, t)[0]
                          for m in COMPARED for c in ("england", "region")))
                 for row, (t, s) in zip(table, [(t, s) for t in shown for s, _ in (
                     *STATUSES, ("all", ""))], strict=True)]
    return Section(HEADING, text, charts[0] if charts else "", (columns, table), charts[1:])


# The measures compared with England and the region (transforms/inclusion_benchmarks.py).
COMPARED = ("absence_rate_pct", "suspension_rate")
NOT_THESE_TERMS = ("The DfE's published absence and exclusions figures that are loaded do not "
                   "cover these terms, so they are not compared with England.")
# Said wherever suspensions are compared: the two rates do not share a denominator.
DENOMINATORS = ("The DfE's suspension rates are per 100 pupils on roll at the January census; "
                "this LA's are per 100 of the pupils its census rows count (of compulsory "
                "school age, and any pupil suspended), so they are indicative, not like for "
                "like.")
PRUS = "The DfE's figures leave out pupil referral units, which the LA's include."


def _measure(metric: str, status: str, term: tuple[str, str]) -> str:
    return measure_name(metric, status, term[1])


def _published(db: PackData) -> dict[tuple[str, str], tuple[float | None, str]]:
    """England's and the region's published absence and suspension figures with the place's
    name, keyed (comparison, `<measure>@<year>`): empty without kpi.benchmarks or without
    the DfE's absence and exclusions files loaded."""
    if not db.has("benchmarks"):
        return {}
    rows = db.rows(
        "SELECT comparison, measure, year, value, geography_name FROM S.benchmarks WHERE "
        "comparison IN ('england', 'region') AND (" + " OR ".join(
            "starts_with(measure, ?)" for _ in COMPARED) + ")", [f"{m}_" for m in COMPARED])
    return {(c, f"{m}@{y}"): (v, name) for c, m, y, v, name in rows}


def _at(published: dict, comparison: str, metric: str, status: str, term: tuple[str, str]
        ) -> tuple[float | None, str]:
    year = benchmark_year(int(term[0][:4]), term[1])
    return published.get((comparison, f"{_measure(metric, status, term)}@{year}"), (None, ""))


def _comparison_text(by: dict, published: dict, t: tuple[str, str]) -> str:
    """The LA's figure for term `t` against England's and the region's, per SEN status."""
    region = next((name for (c, _), (_, name) in published.items() if c == "region"), "")
    where = f"the {region} region" if region else "the region"
    parts = []
    for metric, index, said_here, unit in (
            ("absence_rate_pct", 1, "missed {}% of their possible sessions", "%"),
            ("suspension_rate", 4, "had {} suspensions per 100 pupils", "")):
        said = []
        for s, _ in STATUSES:
            england, _ = _at(published, "england", metric, s, t)
            regional, _ = _at(published, "region", metric, s, t)
            if england is None and regional is None:
                continue
            said.append(f"{_WHO[s]} {said_here.format(_cell(by[(*t, s)][index]))} here "
                        f"against {_with(england, unit)} in England and "
                        f"{_with(regional, unit)} in {where}")
        if said:
            opening = (f"Against the DfE's published figures for the {t[1]} term of {t[0]}, "
                       if not parts else "In the same term, ")
            parts.append(opening + "; ".join(said) + ".")
            if metric == "suspension_rate":
                parts.append(DENOMINATORS)
    return " ".join([*parts, PRUS])


def _with(value: float | None, unit: str) -> str:
    return _cell(value) + (unit if value is not None else "")


_WHO = {"ehcp": "pupils with an EHC plan", "sen_support": "pupils on SEN support",
        "no_sen": "pupils with no SEN"}


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
