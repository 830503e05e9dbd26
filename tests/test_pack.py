"""The board pack: built from the published tables, and its numbers are theirs."""

from __future__ import annotations

import re

import duckdb
import pytest

from flows.nightly import nightly
from flows.settings import KPI_DOC
from warehouse.pack import build_pack


@pytest.fixture(scope="module")
def home(tmp_path_factory, small_sample, prefect_harness):
    home = tmp_path_factory.mktemp("pack")
    assert nightly(home=str(home), landing=str(small_sample)).status == "published"
    return home


def test_every_run_writes_an_internal_and_a_public_pack(home):
    packs = sorted(p.name for p in (home / "reports").glob("board-pack-*.html"))
    assert packs == ["board-pack-2026-03-26-public.html", "board-pack-2026-03-26.html"]


def test_the_commentary_and_tables_equal_the_published_tables(home, tmp_path):
    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    year, caseload, growth = con.execute("SELECT year, caseload, growth_pct FROM "
                                         "kpi.ehcp_caseload ORDER BY year DESC LIMIT 1"
                                         ).fetchall()[0]
    new_plans = con.execute("SELECT new_plans FROM kpi.ehcp_new_plans WHERE year = ?",
                            [year - 1]).fetchall()[0][0]
    mainstream = con.execute("SELECT pct FROM kpi.ehcp_placement_mix WHERE year = ? AND "
                             "placement_group = 'mainstream'", [year]).fetchall()[0][0]
    cumulative = con.execute("SELECT cumulative_balance_gbp FROM kpi.dsg_balance ORDER BY "
                             "financial_year DESC LIMIT 1").fetchall()[0][0]
    con.close()
    assert (f"The number of EHC plans in January {year} was {caseload:,}, "
            f"{abs(growth):.1f}% more than a year before") in html
    assert f"{new_plans:,} new plans were issued in {year - 1}." in html
    assert f"{mainstream:.1f}% of plans were for children and young people in mainstream" in html
    sign = "-" if cumulative < 0 else ""
    assert f"The cumulative balance is {sign}£{abs(float(cumulative)) / 1e6:,.1f}m" in html
    # The data table behind the caseload chart holds the same caseload.
    assert re.search(rf"<td>{year}</td><td>{caseload:,}</td>", html)


def test_the_pack_is_self_contained_and_accessible(home, tmp_path):
    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    svgs = re.findall(r"<svg[^>]*>", html)
    assert len(svgs) >= 8 and all('role="img"' in s and "aria-labelledby" in s for s in svgs)
    assert html.count("<title id=") == len(svgs) and html.count("<desc id=") == len(svgs)
    levels = [int(h) for h in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    assert "@media print" in html and "size:A4" in html


def test_the_public_pack_shows_no_small_number(home, tmp_path):
    html = build_pack(home / "sendboard.duckdb", tmp_path / "public.html", KPI_DOC, public=True
                      ).read_text()
    assert "Public version: small numbers suppressed" in html
    # Everything before the data quality section (which counts files, not children).
    children = html.split("<h2>Data quality</h2>")[0]
    cells = re.findall(r"<td>([\d,]+)</td>", children)
    counts = [int(c.replace(",", "")) for c in cells if not re.fullmatch(r"(19|20)\d\d", c)]
    assert counts and not [c for c in counts if 0 < c < 5]


def test_the_pack_renders_in_headless_chromium_offline(home, tmp_path, request):
    """Chromium opens the pack from disk: no console error, no request beyond the file
    itself, every chart drawn; a screenshot per section goes to the test output."""
    from tests.browser import Page

    pack = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = Page()
    try:
        page.open(pack.as_uri())
        charts = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => "
                               "{const b = s.getBBox(); return [b.width, b.height, "
                               "s.querySelectorAll('rect,polyline').length]})")
        sections = page.evaluate("[...document.querySelectorAll('section')].map(s => {const r ="
                                 " s.getBoundingClientRect(); return [s.querySelector('h2')"
                                 ".textContent, r.x, r.y + window.scrollY, r.width, r.height]})")
        for i, (heading, x, y, width, height) in enumerate(sections):
            name = "".join(c if c.isalnum() else "-" for c in heading.lower())
            page.screenshot(shots / f"{i:02d}-{name}.png",
                            {"x": x, "y": y, "width": width, "height": height})
        errors, requests = page.console_errors(), page.requests()
    finally:
        page.close()
    assert errors == []
    assert requests == [pack.as_uri()]
    assert len(charts) >= 8 and all(w > 100 and h > 50 and n > 0 for w, h, n in charts)
    assert len(sections) >= 10
    assert len(list(shots.glob("*.png"))) == len(sections)
    assert all(p.stat().st_size > 2000 for p in shots.glob("*.png"))


def test_the_appendix_carries_the_kpi_definitions_and_the_pack_prints_to_pdf(home, tmp_path):
    from warehouse.pack import print_pdf

    html_path = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC)
    html = html_path.read_text()
    appendix = html.split("<h2>Appendix: KPI definitions</h2>")[1]
    assert "<h4>ehcp-caseload</h4>" in appendix and "140 days (20 weeks)" in appendix
    pdf = print_pdf(html_path, tmp_path / "pack.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert len(pages) >= 5  # several A4 pages


def test_every_chart_stays_readable_in_greyscale(home, tmp_path):
    """No two series of a chart share a pattern (hatch or dash) and a grey level closer than
    MIN_LIGHTNESS_GAP; the palette's first colours alone would not pass for seven series."""
    from warehouse.pack.charts import PALETTE, greyscale_clashes

    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    styles_per_chart = []
    for svg in charts:
        hatches = dict(re.findall(r'<pattern id="([^"]+)".*?<path d="([^"]*)"', svg))
        styles = []
        for mark in re.findall(r"<(?:rect|line) [^>]*data-series[^>]*>", svg):
            if "stroke-dasharray" in mark:
                colour = re.search(r'stroke="([^"]+)"', mark)[1]
                pattern = "dash:" + re.search(r'stroke-dasharray="([^"]*)"', mark)[1]
            else:
                fill = re.search(r'fill="([^"]+)"', mark)[1]
                ident = re.fullmatch(r"url\(#(.+)\)", fill)
                k = int(re.search(r'data-series="(\d+)"', mark)[1])
                colour = PALETTE[k] if ident else fill
                pattern = "hatch:" + hatches[ident[1]] if ident else "hatch:"
            styles.append((colour, pattern))
        styles_per_chart.append(styles)
    assert max(len(s) for s in styles_per_chart) == 7  # the placement groups
    assert [greyscale_clashes(s) for s in styles_per_chart] == [[]] * len(charts)
    # The rule bites: orange and sky blue are one grey when both are plain fills.
    assert greyscale_clashes([("#E69F00", ""), ("#56B4E9", ""), ("#000000", "")]) == [(0, 1)]


def test_need_and_placement_sections_compare_with_england(home, tmp_path):
    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    year = con.execute("SELECT max(year) FROM kpi.ehcp_need_mix").fetchall()[0][0]
    rows = con.execute(
        "SELECT n.need, n.pct, b.value, b.year FROM kpi.ehcp_need_mix n JOIN kpi.benchmarks b "
        "ON b.measure = 'pct_need_' || lower(n.need) AND b.comparison = 'england' AND b.year = "
        "(SELECT max(year) FROM kpi.benchmarks WHERE measure LIKE 'pct_need_%') "
        "WHERE n.year = ?", [year]).fetchall()
    special = con.execute("SELECT year, value FROM kpi.benchmarks WHERE comparison = 'england' "
                          "AND measure = 'pct_special' ORDER BY year").fetchall()
    con.close()
    assert len(rows) >= 10  # every need the LA has, England's share beside it
    need, pct, england, latest = max(rows, key=lambda r: abs(r[1] - r[2]))
    assert (f"Against England (January {latest}), the largest difference is in {need}: "
            f"{pct:.1f}% of plans here against {england:.1f}%.") in html
    assert "Mainstream and special school shares against England" in html
    # The placements table carries England's special share for every published year.
    placements = html.split("<h2>Placements</h2>")[1].split("</section>")[0]
    for y, value in special:
        assert re.search(rf"<tr><td>{y}</td>(<td>[^<]*</td>){{8}}<td>{value:.1f}</td></tr>",
                         placements)


def test_the_forecast_fills_three_scenarios_and_the_pack_compares_them(home, tmp_path):
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    years = con.execute("SELECT scenario, min(year), max(year) FROM kpi.forecast WHERE "
                        "measure = 'caseload' AND breakdown = 'all' GROUP BY 1 ORDER BY 1"
                        ).fetchall()
    last = years[0][2]
    p10, p50, p90 = con.execute("SELECT p10, p50, p90 FROM kpi.forecast WHERE scenario = "
                                "'baseline' AND measure = 'caseload' AND breakdown = 'all' "
                                "AND year = ?", [last]).fetchall()[0]
    groups = con.execute("SELECT sum(p50) FROM kpi.forecast WHERE scenario = 'baseline' AND "
                         "measure = 'caseload' AND breakdown LIKE 'group:%' AND year = ?",
                         [last]).fetchall()[0][0]
    stamped = con.execute("SELECT DISTINCT definition FROM kpi.forecast").fetchall()
    con.close()
    assert years == [("baseline", 2027, 2031), ("high_demand", 2027, 2031),
                     ("recovery_plan", 2027, 2031)]  # five Januaries after the export's
    assert p10 < p50 < p90 and abs(groups - p50) <= 6  # medians of parts need not add up
    assert stamped == [("docs/kpis.md#forecast",)]
    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    assert (f"{round(p50):,} under baseline (80% range {round(p10):,} to {round(p90):,})"
            in html)
    # What each lever does: the recovery plan against the baseline, draw by draw, with its band.
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    lo, mid, hi = con.execute("SELECT p10, p50, p90 FROM kpi.forecast WHERE scenario = "
                              "'recovery_plan' AND measure = 'caseload_vs_baseline' AND "
                              "year = ?", [last]).fetchall()[0]
    con.close()
    assert lo < mid < hi and "<h3>What each scenario's levers do</h3>" in html

    def signed(v: float) -> str:
        return f"{'+' if v > 0 else '-' if v < 0 else ''}{abs(round(v)):,}"

    assert (f"recovery plan {signed(mid)} ({signed(lo)} to {signed(hi)}) plans and " in html)


def test_the_run_summary_prints_each_scenarios_forecast(home):
    from types import SimpleNamespace

    from sendboard.report_text import headline
    from warehouse.settings import Home

    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    year, p50, p10, p90 = con.execute(
        "SELECT year, p50, p10, p90 FROM kpi.forecast WHERE scenario = 'high_demand' AND "
        "measure = 'caseload' AND breakdown = 'all' ORDER BY year DESC LIMIT 1").fetchall()[0]
    balance = con.execute(
        "SELECT p50 FROM kpi.forecast WHERE scenario = 'high_demand' AND breakdown = 'all' AND "
        "measure = 'dsg_cumulative_balance_gbp' AND year = ?", [year]).fetchall()[0][0]
    con.close()
    text = headline(Home(home), SimpleNamespace(
        status="no_new_files", files=[], warnings=[], run_id="r"), 1.0)
    row = next(line for line in text.splitlines() if line.startswith("high_demand"))
    assert row.split() == ["high_demand", str(year), f"{round(p50):,}", f"{round(p10):,}",
                           f"{round(p90):,}", f"-£{abs(balance) / 1e6:,.1f}m"]
