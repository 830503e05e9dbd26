"""The pack's SVG charts (warehouse/pack/charts.py, text_metrics.py): labels wrapped or
turned horizontal, legends only for series drawn, styles that survive greyscale; and, in
headless Chromium, charts made to be hard (long names, many years, long legend names) with
no text colliding."""

from __future__ import annotations

import re

from tests import pack_checks
from warehouse.pack.charts import Series, bars, greyscale_clashes, lines
from warehouse.pack.text_metrics import text_width, wrap

PROJECTS = ["Review of INMSS including commissioning challenge", "ELP/resource bases",
            "Inclusion and school effectiveness", "Early intervention and support",
            "SEND assessment and EHCP", "Post 16 transition", "SEND AP project",
            "Dyslexia friendly schools", "Digital solutions"]


def _legend(svg: str) -> list[str]:
    return re.findall(r'<g data-legend="\d+">.*?<text[^>]*>(.*?)</text></g>', svg)


def test_wrap_breaks_at_spaces_and_after_slashes_within_the_width():
    assert wrap("Review of INMSS including commissioning challenge", 170, 11) == [
        "Review of INMSS including", "commissioning challenge"]
    assert wrap("ELP/resource bases", 60, 11) == ["ELP/", "resource", "bases"]
    assert wrap("a - b", 300, 11) == ["a - b"]  # a spaced dash keeps its spaces
    assert wrap("Supercalifragilistic", 30, 11) is None
    assert wrap("Supercalifragilistic", 60, 11, hard=True) == ["Supercalifr", "agilistic"]
    # Arial's widths (thousandths of the font size) with 12% slack: "2019" is 4 x 556.
    assert round(text_width("2019", 11), 2) == round(4 * 556 / 1000 * 11 * 1.12, 2) == 27.4


def test_a_bar_chart_whose_names_do_not_fit_under_the_bars_turns_horizontal():
    values = [float(v) for v in range(9, 0, -1)]
    svg = bars("Savings", "d", PROJECTS, [Series("planned", values), Series("actual", values)])
    # Names on the left, right-aligned, the long one on two lines; no name is cut short.
    assert re.search(r'text-anchor="end"><tspan x="([\d.]+)" dy="0.00">Review of INMSS including'
                     r'</tspan><tspan x="\1" dy="13.75">commissioning challenge</tspan></text>',
                     svg)
    for name in PROJECTS[1:]:
        assert f'text-anchor="end">{name}</text>' in svg
    # Bars run along the width, two slots a band: a band fits its name (two lines: 2 x 13.75
    # + 8) or two 10 px slots and 10 px of air, less 8 px of margin.
    heights = {float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" '
                                            r'height="([\d.]+)"[^>]*data-series', svg)}
    assert heights == {13.8, 11.0}
    short = bars("Years", "d", ["2019", "2020"], [Series("a", [1.0, 2.0])])
    assert 'text-anchor="middle">2019</text>' in short  # short names stay under the bars


def test_names_that_fit_on_two_lines_wrap_under_the_bars():
    needs = ["Social, emotional and mental health", "Autism", "Moderate learning difficulty",
             "Other"]
    svg = bars("Needs", "d", needs, [Series("share", [40.0, 30, 10, 5])], unit="%")
    # Four groups of (640 - 40 - 16) / 4 = 146 px, less 6 px between labels.
    assert re.search(r'text-anchor="middle"><tspan [^>]*>Social, emotional and</tspan>'
                     r'<tspan [^>]*>mental health</tspan></text>', svg)
    assert re.search(r'text-anchor="middle"><tspan [^>]*>Moderate learning</tspan>'
                     r'<tspan [^>]*>difficulty</tspan></text>', svg)
    assert 'text-anchor="middle">Autism</text>' in svg


def test_the_legend_lists_only_series_with_something_drawn():
    """The 20-week chart listed Region and England with no line drawn for them."""
    svg = lines("20 weeks", "d", ["2023", "2024"],
                [Series("This LA", [50.0, 40.0]), Series("Region", [None, None]),
                 Series("England", [None, None])], unit="%")
    assert _legend(svg) == ["This LA"]
    assert set(re.findall(r'data-series="(\d+)"', svg)) == {"0"}
    withheld = bars("Places", "d", ["2024-25"], [Series("funded places", [120]),
                                                 Series("EHCP pupils", [None])])
    assert _legend(withheld) == ["funded places"]
    # With nothing to draw at all, the chart says so rather than look like zeros.
    empty = bars("Withheld", "d", ["2024", "2025"], [Series("plans", [None, None])])
    assert _legend(empty) == [] and "data-series" not in empty
    assert ">No value to draw: withheld or not available (see the table)</text>" in empty
    assert "No value to draw" not in withheld
    # A zero is drawn (a sliver), so it keeps its entry.
    assert _legend(bars("z", "d", ["a"], [Series("x", [0.0]), Series("y", [1.0])])) == ["x", "y"]


def test_series_from_another_source_share_a_slot_and_are_hatched():
    svg = bars("Caseload", "d", ["2013", "2014", "2015"],
               [Series("SEN2", [None, None, 50.0]),
                Series("DfE published", [1800.0, 1900.0, None], colour=0, pattern=4, slot=0)])
    xs = {k: sorted(float(x) for x in re.findall(rf'<rect x="([\d.]+)"[^>]*data-series="{k}"',
                                                 svg)) for k in "01"}
    # One slot a group, so the bars are a category's step apart: 2015's is two steps on.
    assert len(xs["0"]) == 1 and len(xs["1"]) == 2
    step = xs["1"][1] - xs["1"][0]
    assert round(xs["0"][0] - xs["1"][0], 1) == round(2 * step, 1)
    assert step > 150  # the whole group's width, not half of it
    assert '<pattern id="ccaseload-h0-4"' in svg and 'fill="url(#ccaseload-h0-4)"' in svg
    assert _legend(svg) == ["SEN2", "DfE published"]


def test_the_greyscale_rule_bites():
    # Orange and sky blue are one grey when both are plain fills; a hatch tells them apart.
    assert greyscale_clashes([("#E69F00", ""), ("#56B4E9", ""), ("#000000", "")]) == [(0, 1)]
    assert greyscale_clashes([("#E69F00", ""), ("#56B4E9", "M0,6 L6,0")]) == []


def test_hard_charts_have_no_colliding_text_in_chromium(tmp_path):
    from tests.browser import Page

    years = [str(y) for y in range(2000, 2031)]
    charts = [
        bars("Long names", "d", PROJECTS, [Series("planned", [5e6] * 9),
                                           Series("actual (to date)", [1e6] * 9)]),
        bars("Twelve needs", "d", ["ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH",
                                   "SLCN", "SLD", "SPLD", "VI", "DS"],
             [Series("Share of plans, this LA (%)", [10.0] * 13),
              Series("Share of plans, England 2025 (%)", [9.0] * 13)], unit="%"),
        lines("Thirty-one years", "d", years, [Series(f"a rather long series name {k}",
                                                     [float(k + i) for i in range(31)])
                                              for k in range(7)]),
        bars("Money", "d", ["2018-19", "2019-20", "2020-21"],
             [Series("income", [-1.2e8, 3e7, 9.9e7]), Series("spend", [1e8, 1.5e8, 2e8])]),
        bars("Seven groups stacked", "d", years[-12:],
             [Series(f"group {k}", [100 / 7] * 12) for k in range(7)], stacked=True, unit="%"),
    ]
    page_file = tmp_path / "charts.html"
    page_file.write_text("<!doctype html><html><body style='width:900px'>"
                         + "".join(f"<div style='width:{w}px'>{c}</div>" for c in charts
                                   for w in (640, 900)) + "</body></html>")
    page = Page()
    try:
        page.open(page_file.as_uri())
        measured = pack_checks.measure(page)
    finally:
        page.close()
    assert len(measured) == 10
    assert {c.title: pack_checks.overlapping_text(c) for c in measured} == {
        c.title: [] for c in measured}
    # Thirty-one years do not fit one label each: every other one is shown, on one line.
    thirty_one = next(c for c in measured if c.title == "Thirty-one years")
    assert [t[0] for t in thirty_one.texts if t[0].isdigit() and len(t[0]) == 4][:3] == [
        "2000", "2002", "2004"]
    assert all(pack_checks.greyscale_pairs(c, 10.0) == [] for c in measured)
    assert all(pack_checks.legend_without_series(c) == [] for c in measured)
