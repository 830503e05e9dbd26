"""The board pack: built from the published tables, and its numbers are theirs."""

from __future__ import annotations

import html as html_text
import re
import shutil

import duckdb
import polars as pl
import pytest

from flows.nightly import nightly
from flows.settings import KPI_DOC
from warehouse.pack import build_pack
from warehouse.pack.sections import PLACEMENT_GROUPS


@pytest.fixture(scope="module")
def home(tmp_path_factory, small_sample, prefect_harness):
    home = tmp_path_factory.mktemp("pack")
    assert nightly(home=str(home), landing=str(small_sample)).status == "published"
    return home


# The LA's figures in the DfE's pre-2023 files, statements of SEN before EHC plans (as read
# off the seed paper's slide 2): January caseload and new plans per calendar year.
SEED_CASELOAD = {2010: 1838, 2011: 1828, 2012: 1774, 2013: 1866, 2014: 1875}
SEED_NEW_PLANS = {2010: 164, 2011: 204, 2012: 249, 2013: 258, 2014: 292}


@pytest.fixture(scope="module")
def older_release(home, tmp_path_factory, prefect_harness):
    """The sample's home after the LA lands the DfE's 2022 release (the wide files: its
    statements and plans from 2010, and England's latest figure, which dates the release) and
    the next run publishes: a copy of `home`, so that the other tests keep theirs."""
    from tests.test_release_layouts import ENGLAND, WILTSHIRE, header_2022, write_rows, year

    root = tmp_path_factory.mktemp("older")
    older = root / "home"
    shutil.copytree(home, older)
    release = root / "landing" / "published" / "2022"

    def total(geography: dict, period: int, **figures: str) -> dict[str, str]:
        return {**year(str(period)), **geography, "characteristic_age": "Total", **figures}

    write_rows(release / "caseload.csv", header_2022("sen2_age_caseload.csv"), [
        *(total(WILTSHIRE, y, Total_st=str(n), Total_all=str(n), Total_all_pc="100")
          for y, n in SEED_CASELOAD.items()),
        total(ENGLAND, 2022, Total_ehc="473255", Total_all="473255", Total_all_pc="100")])
    write_rows(release / "new_plans.csv", header_2022("sen2_age_new_plans.csv"), [
        *(total(WILTSHIRE, y, Total_new_st=str(n), Total_new_all=str(n),
                Total_new_all_pc="100") for y, n in SEED_NEW_PLANS.items()),
        total(ENGLAND, 2021, Total_new_ehc="62180", Total_new_all="62180",
              Total_new_all_pc="100")])
    assert nightly(home=str(older), landing=str(root / "landing")).status == "published"
    return older


def _section(html: str, heading: str) -> str:
    return html.split(f"<h2>{heading}</h2>")[1].split("</section>")[0]


def _legend(svg: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(
        r'<g data-legend="\d+">.*?<text[^>]*>(.*?)</text></g>', svg)]


def _bars(svg: str, series: int) -> list[str]:
    """The tooltips of a series' bars: "<series> <category>: <value>"."""
    return re.findall(rf'data-series="{series}"><title>([^<]*)</title>', svg)


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


def test_no_chart_of_either_pack_has_colliding_text_an_empty_legend_entry_or_greys_alike(
        home, older_release):
    """Both packs the run wrote (and both again with the older DfE release loaded), opened in
    headless Chromium: no two text boxes of a chart overlap by more than 1 px (before the fix
    the recovery plan's names overlapped in 8 pairs); every legend entry has marks drawn,
    styled as its swatch; and no two series of a chart with the same pattern (hatch or dash)
    are closer in lightness than MIN_LIGHTNESS_GAP, as the computed colours give it."""
    from tests import pack_checks
    from tests.browser import Page
    from warehouse.pack.charts import MIN_LIGHTNESS_GAP

    found = {}
    for pack in sorted([*(home / "reports").glob("board-pack-*.html"),
                        *(older_release / "reports").glob("board-pack-*.html")]):
        page = Page()
        try:
            page.open(pack.as_uri())
            found[f"{pack.parent.parent.name}/{pack.name}"] = pack_checks.measure(page)
        finally:
            page.close()
    assert len(found) == 4
    for pack_name, charts in found.items():
        assert len(charts) == 17  # two on the requests and ceased plans page
        assert {c.title: (pack_checks.overlapping_text(c), pack_checks.legend_without_series(c),
                          pack_checks.legend_mismatches(c),
                          pack_checks.greyscale_pairs(c, MIN_LIGHTNESS_GAP)) for c in charts} == {
            c.title: ([], [], [], []) for c in charts}
        by_title = {c.title: c for c in charts}
        # The checks had something to judge: the recovery plan's nine names, all shown whole.
        recovery = by_title["Recovery plan: planned and actual savings to date"]
        assert "Digital solutions" in [t[0] for t in recovery.texts]
        assert "Review of INMSS includingcommissioning challenge" in [t[0] for t in
                                                                      recovery.texts]
        # Seven placement groups: four plain colours, then hatches; by lightness alone some
        # would pass for one another (7 pairs closer than the gap), by lightness and pattern
        # none does.
        placed = by_title["Where children with EHC plans are placed"]
        styles = pack_checks.series_styles(placed)
        if pack_name.endswith("-public.html"):
            continue
        assert len(styles) == 7 and len({p for _, p in styles.values()}) == 4
        assert len(pack_checks.greyscale_pairs(placed, MIN_LIGHTNESS_GAP, False)) == 7
    # The public pack draws a placement group only where public.ehcp_placement_mix shows a
    # share in some year (the disclosure audit withholds the rest), each in the style the
    # internal pack gives it.
    placed_title = "Where children with EHC plans are placed"
    for folder in (home, older_release):
        con = duckdb.connect(str(folder / "sendboard.duckdb"), read_only=True)
        shown = {g for (g,) in con.execute("SELECT DISTINCT placement_group FROM "
                                           "public.ehcp_placement_mix WHERE pct IS NOT NULL")
                 .fetchall()}
        con.close()
        drawn = [k for k, g in enumerate(PLACEMENT_GROUPS) if g in shown]
        charts = {p: {c.title: c for c in found[f"{folder.name}/{p}"]}[placed_title]
                  for p in ("board-pack-2026-03-26.html", "board-pack-2026-03-26-public.html")}
        internal_styles, public_styles = (pack_checks.series_styles(c)
                                          for c in charts.values())
        assert public_styles == {k: internal_styles[k] for k in drawn}
        # (In the small sample the group of a handful of plans, educated elsewhere, is
        # withheld every year.)
        assert [PLACEMENT_GROUPS[k] for k in drawn] == ["mainstream", "special", "fe",
                                                        "ap_pru", "early_years", "unknown"], \
            [PLACEMENT_GROUPS[k] for k in drawn]
    # In the public pack each year has a special school whose count of EHCP pupils is
    # withheld, so no year's total is shown (the rest would read as the total): no bar is
    # drawn, and the legend does not list the series either.
    public = {c.title: c for c in found[f"{home.name}/board-pack-2026-03-26-public.html"]}
    internal = {c.title: c for c in found[f"{home.name}/board-pack-2026-03-26.html"]}
    title = "Special school places and pupils placed"
    assert [e[1] for e in internal[title].legend] == ["funded places", "EHCP pupils"]
    assert [e[1] for e in public[title].legend] == ["funded places"]


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


def test_the_forecast_section_says_how_the_model_did_for_the_las_last_published_january(
        home, tmp_path):
    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    text = _section(html, "Forecast: caseload and cost by scenario")
    # The sample LA's code is Wiltshire's: the shipped 2025 release publishes 6,383 plans in
    # January 2025, and the backtest fitted to January 2024 scored 147 LAs on it
    # (docs/forecast.md: 2.58% against naive's 3.4%, 86.4% inside the band).
    assert ("How the model has done: fitted on the DfE&#x27;s published figures up to January "
            "2024, it forecast 6,255 plans for January 2025 (80% range 5,963 to 6,502); the "
            "DfE counted 6,383, so the forecast was 2.0% below it. Across the 147 LAs tested "
            "on that January, its median error was 2.6%, against 3.4% for \u201clast "
            "year&#x27;s growth continues\u201d, and its range held the actual for 86% of "
            "them (kpi.forecast_track_record; docs/forecast.md).") in text


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


def test_the_caseload_chart_runs_from_2010_on_the_dfes_figures_when_an_older_release_is_loaded(
        home, older_release):
    """The seed paper's slide 2: plans and statements from 2010. The DfE's published figures
    for the LA fill the years before SEN2's, hatched in the colour of the LA's own series, and
    only when a release has such years."""
    con = duckdb.connect(str(older_release / "sendboard.duckdb"), read_only=True)
    first, caseload = con.execute("SELECT year, caseload FROM kpi.ehcp_caseload ORDER BY year "
                                  "LIMIT 1").fetchall()[0]
    con.close()
    assert first == 2015  # the sample's SEN2 history: the published years come before it
    for name in ("board-pack-2026-03-26.html", "board-pack-2026-03-26-public.html"):
        section = _section((older_release / "reports" / name).read_text(),
                           "EHC plans: caseload and new plans")
        chart = re.search(r"<svg.*?</svg>", section, re.S)[0]
        assert _legend(chart) == ["EHC plans (January)", "New plans (year before)",
                                  "EHC plans and statements, DfE published (January)",
                                  "New plans and statements, DfE published (year before)"]
        assert _bars(chart, 2) == [f"EHC plans and statements, DfE published (January) {y}: "
                                   f"{n:,}" for y, n in SEED_CASELOAD.items()]
        # New plans in a calendar year stand beside the January after it: 2014's in 2015's.
        assert _bars(chart, 3) == [f"New plans and statements, DfE published (year before) "
                                   f"{y + 1}: {n}" for y, n in SEED_NEW_PLANS.items()]
        assert _bars(chart, 0)[0] == f"EHC plans (January) {first}: {caseload}"
        # Hatched in the LA's own series' blue: a diagonal white hatch over #0072B2.
        fills = re.findall(r'fill="url\(#([^)]+)\)" data-series="2"', chart)
        assert len(fills) == 5 and len(set(fills)) == 1
        assert (f'<pattern id="{fills[0]}" patternUnits="userSpaceOnUse" width="6" height="6">'
                '<rect width="6" height="6" fill="#0072B2"/><path d="M0,6 L6,0"') in chart
        assert "<tr><td>2010</td><td>\u2013</td><td>\u2013</td><td>\u2013</td><td>1,838</td>" \
               "<td>\u2013</td></tr>" in section
        assert ("the chart shows the DfE's published figures for the LA (hatched), which "
                "count statements of SEN with EHC plans: 1,838 in January 2010.") in \
            section.replace("&#x27;", "'")
    # The sample alone has no published year before SEN2's: the chart starts in 2015.
    plain = re.search(r"<svg.*?</svg>", _section(
        (home / "reports" / "board-pack-2026-03-26.html").read_text(),
        "EHC plans: caseload and new plans"), re.S)[0]
    assert _legend(plain) == ["EHC plans (January)", "New plans (year before)"]
    assert _bars(plain, 0)[0] == f"EHC plans (January) 2015: {caseload}"


def test_the_place_plan_splits_special_schools_and_mainstream_resourced_provision(home):
    """The seed paper's slide 5: places by financial year, special and mainstream (resourced
    provision and SEN units), and those added on the year before; the sample's plan is the
    paper's, 87 special and 10 resource base places added in 2019-20."""
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    places = {(fy, p): n for fy, p, n in con.execute(
        "SELECT financial_year, provision, sum(funded_places) FROM kpi.place_sufficiency "
        "GROUP BY 1, 2").fetchall()}
    con.close()
    assert places[("2019-20", "special")] - places[("2018-19", "special")] == 87
    assert (places[("2019-20", "resourced_provision")]
            - places[("2018-19", "resourced_provision")]) == 10
    years = sorted({fy for fy, _ in places})

    def mainstream(fy: str) -> int:
        return places[(fy, "resourced_provision")] + places[(fy, "sen_unit")]

    for name in ("board-pack-2026-03-26.html", "board-pack-2026-03-26-public.html"):
        section = _section((home / "reports" / name).read_text(),
                           "Place planning and sufficiency")
        chart = re.search(r"<svg.*?</svg>", section, re.S)[0]
        assert "Planned places by financial year: special schools and mainstream" in chart
        assert _legend(chart) == ["Special schools",
                                  "Mainstream: resourced provision and SEN units"]
        assert _bars(chart, 0) == [f"Special schools {fy}: {places[(fy, 'special')]:,}"
                                   for fy in years]
        assert _bars(chart, 1) == [f"Mainstream: resourced provision and SEN units {fy}: "
                                   f"{mainstream(fy):,}" for fy in years]
        special, rp, unit = (places[("2019-20", p)] for p in ("special", "resourced_provision",
                                                                "sen_unit"))
        added = mainstream("2019-20") - mainstream("2018-19")
        assert (f"<tr><td>2019-20</td><td>{special:,}</td><td>+87</td><td>{rp:,}</td>"
                f"<td>{unit:,}</td><td>{rp + unit:,}</td><td>+{added}</td>"
                f"<td>{special + rp + unit:,}</td></tr>") in section
        assert (special, rp, unit) == (990, 368, 94)


@pytest.fixture(scope="module")
def attendance_home(home, tmp_path_factory):
    """The sample's published database with kpi.sen_attendance and its public copy as the
    Blade layout of the same sample fills them (its 2024 and 2025 censuses, loaded as a run
    loads them), both packs built from it."""
    import datetime as dt

    from sendboard.sample import write_sample
    from tests.conftest import SMALL_COHORT, archive_at
    from transforms.attendance_kpis import sen_attendance
    from warehouse import loads, store
    from warehouse.build import public_tables
    from warehouse.core import optional

    root = tmp_path_factory.mktemp("attendance")
    write_sample(root / "sample", seed=7, cohort_size=SMALL_COHORT, census_format="blade")
    landing = root / "landing" / "census"
    landing.mkdir(parents=True)
    for p in (root / "sample" / "census").iterdir():
        if "-2024_" in p.name or "-2025_" in p.name:
            shutil.copy(p, landing / p.name)
    con = store.connect(root / "warehouse.duckdb")
    for batch in loads.batches(loads.discover(root / "landing", {}).new):
        loads.load_batch(con, batch, b"k" * 32, "run-1", archive_at(root))
    kpi = sen_attendance(optional(con, "stage.census_attendance"),
                         optional(con, "stage.census_exclusions"), "sample", dt.date(2026, 3, 26))
    con.close()
    published = root / "home" / "sendboard.duckdb"
    published.parent.mkdir()
    shutil.copy(home / "sendboard.duckdb", published)
    tables = {"kpi.sen_attendance": kpi, **public_tables({"kpi.sen_attendance": kpi}, 5)}
    db = duckdb.connect(str(published))
    for table, frame in tables.items():
        db.register("_frame", frame.to_arrow())
        db.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")
        db.unregister("_frame")
    db.close()
    for public in (False, True):
        build_pack(published, root / "home" / f"pack{'-public' if public else ''}.html",
                   KPI_DOC, public=public)
    return root / "home", kpi


def test_the_inclusion_page_says_when_no_blade_attendance_is_loaded(home):
    html = next((home / "reports").glob("board-pack-2026-03-26.html")).read_text()
    text = _section(html, "Inclusion: attendance and suspensions")
    assert "No Blade census with attendance is loaded" in text and "<svg" not in text


def test_the_inclusion_page_compares_sen_with_no_sen_and_its_charts_pass_the_checks(
        attendance_home):
    from tests import pack_checks
    from tests.browser import Page
    from warehouse.pack.charts import MIN_LIGHTNESS_GAP

    folder, kpi = attendance_home
    latest = kpi.filter((pl.col("academic_year") == "2024/25") & (pl.col("term") == "summer"))
    rate = dict(zip(latest["sen_status"], latest["absence_rate_pct"], strict=True))
    text = _section((folder / "pack.html").read_text(), "Inclusion: attendance and suspensions")
    assert (f"In the summer term of 2024/25, pupils with an EHC plan missed {rate['ehcp']:.1f}% "
            "of their possible sessions") in text
    assert f"against {rate['no_sen']:.1f}%" in text
    assert "No published England figure for absence or exclusions is loaded" in text
    assert text.count("<svg") == 2
    public = _section((folder / "pack-public.html").read_text(),
                      "Inclusion: attendance and suspensions")
    assert "<svg" in public
    for pack in ("pack.html", "pack-public.html"):
        page = Page()
        try:
            page.open((folder / pack).as_uri())
            charts = {c.title: c for c in pack_checks.measure(page)}
        finally:
            page.close()
        for title in ("Absence rate by SEN status", "Suspensions per 100 pupils by SEN status"):
            c = charts[title]
            assert (pack_checks.overlapping_text(c), pack_checks.legend_without_series(c),
                    pack_checks.legend_mismatches(c),
                    pack_checks.greyscale_pairs(c, MIN_LIGHTNESS_GAP)) == ([], [], [], []), (
                pack, title)
            assert [e[1] for e in c.legend] == ["EHC plan", "SEN support", "No SEN"]


def test_the_placement_section_shows_the_latest_january_in_the_2026_settings(home, tmp_path):
    """The finer split of the latest January (kpi.ehcp_placement_detail): a bar per setting
    with plans, at its share of the caseload, the data behind it, and special schools by who
    runs them in the commentary."""
    from warehouse.pack.charts import _fmt
    from warehouse.pack.sections import SETTING_LABELS

    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    section = _section(html, "Placements")
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    year = con.execute("SELECT max(year) FROM kpi.ehcp_placement_detail").fetchall()[0][0]
    rows = con.execute("SELECT setting_2026, sum(plans), sum(pct) FROM kpi.ehcp_placement_detail "
                       "WHERE year = ? GROUP BY 1 HAVING sum(plans) > 0", [year]).fetchall()
    special = dict(con.execute(
        "SELECT setting_2026, pct_of_group FROM kpi.ehcp_placement_detail WHERE year = ? AND "
        "placement_group = 'special'", [year]).fetchall())
    con.close()
    title = f"The January {year} caseload in the DfE's 2026 settings"
    svg = section.split("<title id=")[-1]
    assert title.replace("'", "&#x27;") in svg and len(rows) >= 10
    tooltips = set(_bars(svg, 0))
    for setting, plans, pct in rows:
        label = SETTING_LABELS[setting].replace("'", "&#x27;")
        assert f"This LA, January {year} {label}: {_fmt(pct)}%" in tooltips
        assert f"<tr><td>{label}</td><td>{plans:,}</td>" in section
    assert len(tooltips) == len(rows)  # no bar for a setting with no plans
    assert (f"Of the plans in special schools, {special['special_la_maintained']:.1f}% were in "
            f"LA maintained schools, {special['special_academy']:.1f}% in academies") in section


def test_a_public_table_the_disclosure_audit_held_back_leaves_its_section_saying_so(home,
                                                                                    tmp_path):
    """A run publishes without a public table the audit could not clear
    (warehouse/disclosure_gate.py): the public pack is still written, the section that
    showed it says why it is not there, and the other sections are as before."""
    published = tmp_path / "sendboard.duckdb"
    shutil.copy(home / "sendboard.duckdb", published)
    con = duckdb.connect(str(published))
    con.execute("DROP TABLE public.ehcp_timeliness_bands")
    con.close()
    html = build_pack(published, tmp_path / "pack.html", KPI_DOC, public=True).read_text()
    assert ("Not shown: public.ehcp_timeliness_bands was not published by the last run "
            "(the disclosure audit held it back; audit.disclosure_checks says why).") in html
    assert "EHC plans: caseload" in html


def test_the_inclusion_page_compares_the_latest_published_term_with_england_and_the_region(
        attendance_home, tmp_path):
    """With the DfE's autumn term 2024/25 absence and exclusions by SEN status landed (the
    hand-made files of tests/test_inclusion_benchmarks.py), the page compares the LA's autumn
    term with England's and the South West's figures (the sample's latest term, summer, has
    none: the DfE publishes no summer-term absence by characteristic), says the suspension
    rates' denominators differ, and its table carries the published figures."""
    from tests.test_inclusion_benchmarks import write_absence_termly, write_exclusions

    folder, kpi = attendance_home
    text = _inclusion_with_published(folder, tmp_path, write_absence_termly, write_exclusions)
    autumn = kpi.filter((pl.col("academic_year") == "2024/25") & (pl.col("term") == "autumn"))
    la = {r["sen_status"]: r for r in autumn.iter_rows(named=True)}
    said = html_text.unescape(text)
    assert ("Against the DfE's published figures for the autumn term of 2024/25, pupils with "
            f"an EHC plan missed {la['ehcp']['absence_rate_pct']:.1f}% of their possible "
            "sessions here against 11.2% in England and 11.0% in the South West region; "
            f"pupils on SEN support missed {la['sen_support']['absence_rate_pct']:.1f}% of "
            "their possible sessions here against 8.1% in England and 7.8% in the South West "
            f"region; pupils with no SEN missed {la['no_sen']['absence_rate_pct']:.1f}% of "
            "their possible sessions here against 5.0% in England and 4.9% in the South West "
            "region.") in said
    assert (f"In the same term, pupils with an EHC plan had {la['ehcp']['suspension_rate']:.1f} "
            "suspensions per 100 pupils here against 5.4 in England and 5.0 in the South West "
            "region") in said
    assert ("The DfE's suspension rates are per 100 pupils on roll at the January census; "
            "this LA's are per 100 of the pupils its census rows count") in said
    assert "The DfE's figures leave out pupil referral units, which the LA's include." in said
    assert "No published England figure" not in said
    assert ("<th>England absence %</th><th>region absence %</th>"
            "<th>England suspensions per 100</th><th>region suspensions per 100</th>") in text
    # The autumn row of pupils with an EHC plan ends with the four published figures.
    assert re.search(r"<tr><td>Autumn 2024/25</td><td>EHC plan</td>(<td>[^<]*</td>){7}"
                     r"<td>11\.2</td><td>11\.0</td><td>5\.4</td><td>5\.0</td></tr>", text)


def _inclusion_with_published(folder, tmp_path, *writers) -> str:
    """The internal pack's Inclusion page after the DfE files `writers` write are in
    kpi.benchmarks (and its public copy) of a copy of the published database at `folder`."""
    from tests.test_inclusion_benchmarks import AS_OF, tidy_file
    from transforms.benchmarks import benchmarks, headline_figures

    figures = headline_figures(pl.concat([tidy_file(write(tmp_path / f"{i}.csv"))
                                          for i, write in enumerate(writers)]))
    rows = benchmarks(figures, "E06000054", "E12000009", [], "DfE", AS_OF)
    published = tmp_path / "sendboard.duckdb"
    shutil.copy(folder / "sendboard.duckdb", published)
    db = duckdb.connect(str(published))
    db.register("_frame", rows.to_arrow())
    for schema in ("kpi", "public"):
        db.execute(f"INSERT INTO {schema}.benchmarks BY NAME SELECT * FROM _frame")
    db.close()
    html = build_pack(published, tmp_path / "pack.html", KPI_DOC).read_text()
    return _section(html, "Inclusion: attendance and suspensions")


def test_the_inclusion_page_says_when_the_published_figures_miss_its_terms(
        attendance_home, tmp_path):
    """Only England's 2022/23 autumn and spring terms landed: no term of the LA's to compare,
    and the page says so rather than that nothing is loaded; the table's published columns
    are dashes."""
    from tests.test_inclusion_benchmarks import write_absence_two_terms

    folder, _ = attendance_home
    said = html_text.unescape(_inclusion_with_published(folder, tmp_path,
                                                        write_absence_two_terms))
    assert ("The DfE's published absence and exclusions figures that are loaded do not cover "
            "these terms, so they are not compared with England.") in said
    assert "No published England figure" not in said and "Against the DfE" not in said
    assert re.search(r"<tr><td>Autumn 2024/25</td><td>EHC plan</td>(<td>[^<]*</td>){7}"
                     "(<td>\u2013</td>){4}</tr>", said)


def test_the_duties_section_compares_timeliness_with_england_and_the_region(home, tmp_path):
    html = build_pack(home / "sendboard.duckdb", tmp_path / "pack.html", KPI_DOC).read_text()
    con = duckdb.connect(str(home / "sendboard.duckdb"), read_only=True)
    year, england, region = con.execute(
        "SELECT year, max(value) FILTER (comparison = 'england'), "
        "max(value) FILTER (comparison = 'region') FROM kpi.benchmarks WHERE measure = "
        "'pct_within_20_weeks' GROUP BY year ORDER BY year DESC LIMIT 1").fetchone()
    local = con.execute("SELECT pct FROM kpi.ehcp_timeliness_bands WHERE with_exceptions AND "
                        "band = 'under_20' AND year = ?", [year]).fetchone()[0]
    con.close()
    assert year == 2024  # the shipped 2025 release's latest calendar year
    assert (f"In 2024, the latest year the DfE has published, {local:.1f}% of new plans here "
            f"were issued within 20 weeks, against {england:.1f}% in England and "
            f"{region:.1f}% in the region.") in html
    # The public pack, where the small sample's share is withheld, still gives England's.
    public = (home / "reports" / "board-pack-2026-03-26-public.html").read_text()
    assert ("In 2024, the latest year the DfE has published, the share of new plans issued "
            f"within 20 weeks was {england:.1f}% in England and {region:.1f}% in the region (the "
            "share here is not shown).") in public


def test_the_duties_section_adds_the_region_when_englands_year_is_the_las_latest(
        home, tmp_path):
    # The DfE's timeliness figures moved a year on, so that their latest year is the LA's
    # latest complete year: England's bands go in the first sentence, the region's after.
    db = tmp_path / "sendboard.duckdb"
    shutil.copy(home / "sendboard.duckdb", db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE kpi.benchmarks SET year = year + 1 WHERE measure IN "
                "('pct_within_20_weeks', 'pct_20_to_52_weeks', 'pct_over_52_weeks')")
    region = con.execute("SELECT value FROM kpi.benchmarks WHERE measure = "
                         "'pct_within_20_weeks' AND comparison = 'region' AND year = 2025"
                         ).fetchone()[0]
    con.close()
    html = build_pack(db, tmp_path / "pack.html", KPI_DOC).read_text()
    assert f"%). The region&#x27;s share within 20 weeks that year was {region:.1f}%." in html
    assert "the latest year the DfE has published" not in html


def test_the_duties_section_compares_the_published_appeal_rate(home, tmp_path):
    # As if a release's appeal rate table had loaded (tests/test_appeal_rates.py loads one):
    # kpi.benchmarks gains appeal_rate_pct rows for the LA, the region and England.
    db = tmp_path / "sendboard.duckdb"
    shutil.copy(home / "sendboard.duckdb", db)
    con = duckdb.connect(str(db))
    for schema in ("kpi", "public"):
        con.execute(f"INSERT INTO {schema}.benchmarks BY NAME SELECT * REPLACE "
                    "('appeal_rate_pct' AS measure, 2025 AS year, CASE comparison WHEN 'la' "
                    "THEN 2.5 WHEN 'england' THEN 3.33 ELSE 4.06 END AS value) FROM "
                    "kpi.benchmarks WHERE measure = 'pct_within_20_weeks' AND year = 2024 AND "
                    "comparison IN ('la', 'england', 'region')")
    con.close()
    said = html_text.unescape(build_pack(db, tmp_path / "pack.html", KPI_DOC).read_text())
    assert (" The published SEND Tribunal appeal rate for 2025 (appeals registered with the "
            "tribunal over the DfE's count of appealable decisions) was 2.5% here, against 3.3% "
            "in England and 4.1% in the region.") in said


def _with_budget_shares(home, tmp_path, year: int, england: float, region: float):
    """A copy of the sample's published database as if a 2026 release had been landed:
    kpi.benchmarks and public.benchmarks with England's and the region's share of the
    January caseload with a personal budget for `year`."""
    db = tmp_path / "sendboard.duckdb"
    shutil.copy(home / "sendboard.duckdb", db)
    con = duckdb.connect(str(db))
    for schema in ("kpi", "public"):
        con.execute(
            f"INSERT INTO {schema}.benchmarks SELECT * REPLACE (? AS year, "
            "'pct_caseload_with_pb' AS measure, CASE comparison WHEN 'england' THEN ? ELSE ? "
            f"END AS value) FROM {schema}.benchmarks WHERE measure = 'ehcp_caseload' AND "
            "year = 2025 AND comparison IN ('england', 'region')", [year, england, region])
    con.close()
    return db


def test_the_duties_section_gives_the_caseloads_personal_budgets_against_england_and_the_region(
        home, tmp_path):
    db = _with_budget_shares(home, tmp_path, 2026, 6.9, 7.4)
    con = duckdb.connect(str(db), read_only=True)
    columns = ("SELECT caseload, plans_with_pb, organised_arrangements, direct_payments, "
               "pct_of_caseload FROM {}.ehcp_personal_budgets_caseload WHERE year = 2026")
    true, shown = (con.execute(columns.format(s)).fetchone() for s in ("kpi", "public"))
    con.close()
    # The small sample's January 2026: 6 of 159 plans have a budget (3.8%), 1 held as
    # organised arrangements, 6 paid directly. In public.* 1 is a small number and is
    # withheld; the rest is shown (1 to 6 organised arrangements is more than 4 wide).
    assert true == (159, 6, 1, 6, 3.8)
    assert shown == (159, 6, None, 6, 3.8)
    html = build_pack(db, tmp_path / "pack.html", KPI_DOC).read_text()
    duties = _section(html, "Statutory duties: timeliness, decisions and appeals")
    assert ("In January 2026, 6 of the 159 plans (3.8%) had a personal budget: 1 held as "
            "organised arrangements and 6 paid as direct payments (a budget can be both). "
            "That is against 6.9% in England and 7.4% in the region.") in duties
    public = build_pack(db, tmp_path / "public.html", KPI_DOC, public=True).read_text()
    duties = _section(public, "Statutory duties: timeliness, decisions and appeals")
    # The share and its comparison, without the split whose one part is withheld.
    assert ("In January 2026, 6 of the 159 plans (3.8%) had a personal budget. That is "
            "against 6.9% in England and 7.4% in the region.</p>") in duties
    assert "organised arrangements" not in duties


def test_the_personal_budgets_compare_the_latest_january_the_dfe_has_published(home,
                                                                                tmp_path):
    db = _with_budget_shares(home, tmp_path, 2025, 6.5, 7.0)
    con = duckdb.connect(str(db), read_only=True)
    pct = con.execute("SELECT pct_of_caseload FROM kpi.ehcp_personal_budgets_caseload WHERE "
                      "year = 2025").fetchone()[0]
    con.close()
    html = build_pack(db, tmp_path / "pack.html", KPI_DOC).read_text()
    assert (f"In January 2025, the latest the DfE has published, {pct:.1f}% of plans here had "
            "a personal budget, against 6.5% in England and 7.0% in the region.") in html
    # With no share published (the shipped 2025 release has no personal budgets file), the
    # pack gives the LA's own figures alone.
    plain = build_pack(home / "sendboard.duckdb", tmp_path / "plain.html", KPI_DOC).read_text()
    assert "had a personal budget" in plain and "% in England and" not in plain.split(
        "had a personal budget")[1].split("</p>")[0]
