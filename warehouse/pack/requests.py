"""The pack's "Requests and plans ceased" page: who asks for EHC needs assessments
(kpi.ehcp_requests, kpi.ehcp_requests_by_source) and how plans end, after how long
(kpi.ehcp_ceased, kpi.ehcp_ceased_by_duration). Every figure is read from the published
tables (public.* in the public pack), so a withheld figure is a dash and no total is made from
parts of which one is withheld."""

from __future__ import annotations

from transforms.duty_kpis import DURATION_BANDS
from warehouse.pack.charts import Series, bars
from warehouse.pack.sections import PackData, Section, _cell

HEADING = "Requests for assessment and plans ceased"
# kpi.ehcp_requests_by_source's codes in the order shown, with the words the text uses.
SOURCES = (("1", "young people and parents"), ("2", "schools and other settings"),
           ("3", "health care professionals"), ("4", "social care professionals"),
           ("5", "others"), ("unknown", "not recorded"))
BAND_NAMES = {"under_1": "under a year", "1_to_2": "1 to 2 years", "2_to_5": "2 to 5 years",
              "5_to_10": "5 to 10 years", "10_plus": "10 years or more"}


def _share_text(pcts: list[tuple[str, float | None]]) -> str:
    shown = [f"{words} {_cell(p)}%" for words, p in pcts if p is not None]
    if not shown:
        return ""
    return ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]


def requests_section(db: PackData) -> Section:
    requests = {r[0]: r[1:] for r in db.rows(
        "SELECT year, requests_received, pct_decided_to_assess FROM S.ehcp_requests")
    } if db.has("ehcp_requests") else {}
    by_source = {(y, s): p for y, s, p in db.rows(
        "SELECT year, request_source, pct FROM S.ehcp_requests_by_source")
    } if db.has("ehcp_requests_by_source") else {}
    ceased = _ceased(db)
    bands = _bands(db)
    years = sorted({*requests, *(y for y, _ in by_source), *ceased, *(y for y, _ in bands)})
    if not years:
        return Section(HEADING, "No requests or ceased plans are published yet.")
    text = _requests_text(requests, by_source, years) + _ceased_text(ceased, bands, years)
    sources = [(code, words) for code, words in SOURCES
               if any((y, code) in by_source for y in years)]
    charts = []
    if by_source:
        charts.append(bars(
            "Who made the requests for assessment", "Stacked bars: the share of each year's "
            "requests for an EHC needs assessment by who made them.", [str(y) for y in years],
            [Series(words.capitalize(), [by_source.get((y, code)) for y in years])
             for code, words in sources], stacked=True, unit="%"))
    if bands:
        charts.append(bars(
            "Plans ceased by how long they had been held", "Stacked bars: plans ceased each "
            "year by the years from the plan's start to its cease (a year with a withheld "
            "count in a band shows no bar for that band).", [str(y) for y in years],
            [Series(BAND_NAMES[b].capitalize(), [bands.get((y, b)) for y in years])
             for b in DURATION_BANDS], stacked=True))
    head = ["year", "requests received", "decided to assess %",
            *(f"from {words} %" for _, words in sources), "plans ceased",
            *(f"ceased after {BAND_NAMES[b]}" for b in DURATION_BANDS)]
    rows = [(y, *requests.get(y, (None, None)), *(by_source.get((y, c)) for c, _ in sources),
             ceased.get(y, (None, None))[0], *(bands.get((y, b)) for b in DURATION_BANDS))
            for y in years]
    return Section(HEADING, text, charts[0] if charts else "", (head, rows), charts[1:])


def _requests_text(requests: dict, by_source: dict, years: list[int]) -> str:
    y = max((y for y in years if y in requests or any(k[0] == y for k in by_source)),
            default=None)
    if y is None:
        return ""
    received, agreed = requests.get(y, (None, None))
    text = (f"In {y}, {_cell(received)} requests for an EHC needs assessment were received"
            if received is not None else f"In {y}, requests for an EHC needs assessment were "
            "received") + (f" and {_cell(agreed)}% were agreed" if agreed is not None else "")
    text += "."
    shares = _share_text([(words, by_source.get((y, code))) for code, words in SOURCES])
    if shares:
        text += f" By who made them: {shares}."
    return text


def _ceased(db: PackData) -> dict[int, tuple[int | None, tuple[str, int] | None]]:
    """Per year: plans ceased (None when a reason's count is withheld) and the commonest
    shown reason with its count."""
    if not db.has("ehcp_ceased"):
        return {}
    top = {y: (reason, n) for y, reason, n in db.rows(
        "SELECT year, cease_reason_name, plans FROM S.ehcp_ceased WHERE plans > 0 QUALIFY "
        "row_number() OVER (PARTITION BY year ORDER BY plans DESC, cease_reason) = 1")}
    return {year: (None if withheld else int(total), top.get(year)) for year, total, withheld
            in db.rows("SELECT year, sum(plans), count(*) - count(plans) FROM S.ehcp_ceased "
                       "GROUP BY year")}


def _bands(db: PackData) -> dict[tuple[int, str], int]:
    """Plans ceased per (year, band of years held), for the bands none of whose reasons'
    counts is withheld."""
    if not db.has("ehcp_ceased_by_duration"):
        return {}
    return {(y, b): int(n) for y, b, n, withheld in db.rows(
        "SELECT year, years_held_band, sum(plans), count(*) - count(plans) FROM "
        "S.ehcp_ceased_by_duration GROUP BY year, years_held_band") if not withheld}


def _ceased_text(ceased: dict, bands: dict, years: list[int]) -> str:
    y = max((y for y in years if y in ceased), default=None)
    if y is None:
        return ""
    total, top = ceased[y]
    reason = f"{top[0]} ({_cell(top[1])})" if top is not None else None
    if total is None:
        return f" The commonest reason plans ceased in {y} was {reason}." if reason else ""
    text = f" {_cell(total)} plans ceased in {y}" + (
        f"; the commonest reason was {reason}." if reason else ".")
    held = [(BAND_NAMES[b], bands.get((y, b))) for b in DURATION_BANDS]
    if total and all(n is not None for _, n in held):
        short = sum(n for (name, n) in held[:2])
        text += (f" {_cell(short)} of them ({100 * short / total:.1f}%) had been held for "
                 "under 2 years.")
    return text
