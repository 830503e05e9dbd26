"""Every layout of the DfE's EHC plans release, read by its headers: the pre-2023 wide files
(headers from the 2022 data guidance), the 2023-2024 sen2_* files, and the 2026 files (headers
and sample rows from ../shared/external/dfe-ehcp-2026-headers.txt). Filter columns are
breakdowns, never measures; each layout's measures reach the benchmark measure names.

The helpers here (guidance parsing, writers of small files with the real headers) are used by
the other tests/test_release_*.py files too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import polars as pl
import pytest

from transforms.benchmarks import headline_figures
from transforms.dfe_statistics import ees_schema, is_ees, recognise, release_of, tidy
from transforms.readers import read_raw
from transforms.validate import validate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "external"
GUIDANCE_2022 = SHARED / "dfe-ehcp-2022-guidance.txt"
HEADERS_2026 = SHARED / "dfe-ehcp-2026-headers.txt"
# The standard columns of the 2022 release, in its order (old_la_code before new_la_code).
STANDARD_2022 = ["time_period", "time_identifier", "geographic_level", "country_code",
                 "country_name", "region_code", "region_name", "old_la_code", "new_la_code",
                 "la_name"]
ENGLAND = {"geographic_level": "National", "country_code": "E92000001",
           "country_name": "England"}
SOUTH_WEST = {**ENGLAND, "geographic_level": "Regional", "region_code": "E12000009",
              "region_name": "South West"}
WILTSHIRE = {**SOUTH_WEST, "geographic_level": "Local authority", "old_la_code": "865",
             "new_la_code": "E06000054", "la_name": "Wiltshire"}


def guidance_2022() -> dict[str, list[str]]:
    """File name -> its variables (filters, then measures) as the 2022 data guidance lists
    them."""
    out: dict[str, list[str]] = {}
    name = None
    in_table = False
    for line in GUIDANCE_2022.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"Filename: (\S+)", line):
            name, in_table = m.group(1), False
        elif name and line.startswith("---"):
            in_table, out[name] = True, []
        elif in_table and "|" in line:
            out[name].append(line.split("|")[0].strip())
        elif in_table and not line.strip():
            in_table, name = False, None
    return out


def headers_2026() -> dict[str, tuple[list[str], list[list[str]]]]:
    """File path in the 2026 release zip -> (its header, its sample rows)."""
    out = {}
    lines = HEADERS_2026.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## ") and line.endswith(".csv"):
            header, *rows = list(csv.reader(lines[i + 2:i + 5]))
            out[line[3:]] = (header, [r for r in rows if r])
    return out


def header_2022(name: str) -> list[str]:
    return STANDARD_2022 + guidance_2022()[name]


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]],
               default: str = "z") -> Path:
    """A CSV with `header` and a row per dict: standard columns blank when not given,
    measures `default` (the 2022 release's `z`) when not given."""
    standard = set(STANDARD_2022) | {"breakdown_topic", "breakdown"}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "" if c in standard else default) for c in header])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def year(period: str) -> dict[str, str]:
    return {"time_period": period, "time_identifier": "Calendar year"}


def write_release_2022(folder: Path) -> list[Path]:
    """A small 2022 release: England, the South West and Wiltshire, with the DfE's own
    figures for 2010, 2018 and 2019 (statements only in 2010, both in 2018, plans only in
    2019) and England's January 2022 (calendar 2021 for flows), which make it the 2022
    release. File names are neutral: files are recognised by their headers."""
    age = header_2022("sen2_age_caseload.csv")
    caseload = [
        {**year("2010"), **ENGLAND, "characteristic_age": "Total", "Total_st": "228221",
         "Total_all": "228221", "Total_all_pc": "100"},
        {**year("2010"), **ENGLAND, "characteristic_age": "Under 5", "Total_st": "9433",
         "Total_all": "9433", "Total_all_pc": "4.13327"},
        {**year("2010"), **SOUTH_WEST, "characteristic_age": "Total", "Total_all": "20635"},
        {**year("2010"), **WILTSHIRE, "characteristic_age": "Total", "Total_st": "1838",
         "Total_all": "1838", "Total_all_pc": "100"},
        {**year("2018"), **ENGLAND, "characteristic_age": "Total", "Total_st": "34097",
         "Total_ehc": "285722", "Total_all": "319819", "Total_all_pc": "100"},
        {**year("2018"), **WILTSHIRE, "characteristic_age": "Total", "Total_st": "308",
         "Total_ehc": "2674", "Total_all": "2982", "Total_all_pc": "100"},
        {**year("2019"), **WILTSHIRE, "characteristic_age": "Total", "Total_ehc": "3349",
         "Total_all": "3349", "Total_all_pc": "100"},
        {**year("2022"), **ENGLAND, "characteristic_age": "Total", "Total_ehc": "473255",
         "Total_all": "473255", "Total_all_pc": "100"},
    ]
    estab = header_2022("sen2_estab_caseload.csv")

    def group(geo, t, g, n, pc, period="2018"):
        return {**year(period), **geo, "establishment_type": t, "establishment_group": g,
                "Total_ehc": n, "Total_all": n, "Total_all_pc": pc}

    placements = [
        group(ENGLAND, "Total", "Total", "473255", "100", "2022"),
        group(ENGLAND, "Total", "Total", "312626", "100"),
        group(ENGLAND, "Total", "Mainstream school", "128114", "40.97996"),
        group(ENGLAND, "Total", "Special school", "126960", "40.61083"),
        group(ENGLAND, "Total", "Further education", "46854", "14.98724"),
        group(ENGLAND, "Total", "Alternative provision/Pupil referral unit", "2330", "0.7453"),
        group(ENGLAND, "Total", "Educated elsewhere", "6892", "2.20455"),
        group(ENGLAND, "Awaiting provision - total", "Educated elsewhere", "2060", "0.65893"),
        group(ENGLAND, "Other arrangements by local authority", "Educated elsewhere", "2364",
              "0.75618"),
        group(ENGLAND, "Other arrangements by parents", "Educated elsewhere", "2397",
              "0.76673"),
        # NEET is a group of its own from 2019.
        group(ENGLAND, "Other arrangements by local authority", "Educated elsewhere", "2969",
              "0.83871", "2019"),
        group(ENGLAND, "Other arrangements by parents", "Educated elsewhere", "2809",
              "0.79351", "2019"),
        group(ENGLAND, "Total", "NEET", "5876", "1.65991", "2019"),
        group(ENGLAND, "NEET", "NEET", "5876", "1.65991", "2019"),
        group(WILTSHIRE, "Total", "Mainstream school", "1533", "51.40845"),
        group(WILTSHIRE, "Total", "Mainstream school", "1716", "51.23918", "2019"),
    ]
    new = header_2022("sen2_age_new_plans.csv")
    new_plans = [
        {**year("2010"), **WILTSHIRE, "characteristic_age": "Total", "Total_new_st": "164",
         "Total_new_all": "164", "Total_new_all_pc": "100"},
        {**year("2018"), **WILTSHIRE, "characteristic_age": "Total", "Total_new_ehc": "553",
         "Total_new_all": "553", "Total_new_all_pc": "100"},
        {**year("2021"), **ENGLAND, "characteristic_age": "Total", "Total_new_ehc": "62180",
         "Total_new_all": "62180", "Total_new_all_pc": "100"},
    ]
    mi = header_2022("sen2_mi.csv")
    activity = [
        {**year("2018"), **ENGLAND, "InreqEHC": "72423", "TotIncExcEHC": "48543",
         "IncExc20weekRate": "58.000000000000", "NoExc20weekRate": "60.100000000000"},
        {**year("2018"), **WILTSHIRE, "InreqEHC": "690", "TotIncExcEHC": "544",
         "IncExc20weekRate": "80.900000000000", "NoExc20weekRate": "91.100000000000"},
        {**year("2021"), **ENGLAND, "InreqEHC": "93302", "TotIncExcEHC": "61269",
         "IncExc20weekRate": "57.900000000000", "NoExc20weekRate": "59.900000000000"},
    ]
    return [write_rows(folder / "a.csv", age, caseload),
            write_rows(folder / "b.csv", estab, placements),
            write_rows(folder / "c.csv", new, new_plans),
            write_rows(folder / "d.csv", mi, activity)]


def tidy_file(path: Path) -> pl.DataFrame:
    """A file as the loader reads it (validated clean) in tidy rows with its release."""
    frame = read_raw(path).frame
    cols = [c for c in frame.columns if c != "row_number"]
    v = validate(frame, ees_schema(cols), set())
    assert v.quarantine.height == 0, v.quarantine.head(3)
    topics = set(v.good["breakdown_topic"]) if "breakdown_topic" in v.good.columns else None
    rows = tidy(v.good, recognise(cols, set(v.good["time_identifier"]), topics))
    return rows.with_columns(pl.lit(release_of(rows), pl.Int32).alias("release"))


def figure(figures: pl.DataFrame, measure: str, year: int, geography: dict) -> float | None:
    level = geography["geographic_level"]
    code = (pl.lit(True) if level == "National" else
            pl.col("region_code") == geography["region_code"] if level == "Regional" else
            pl.col("new_la_code") == geography["new_la_code"])
    level = pl.col("geographic_level") == level
    rows = figures.filter(level & code & (pl.col("measure_name") == measure)
                          & (pl.col("year") == year))
    assert rows.height <= 1
    return rows["value"][0] if rows.height else None


KINDS_2022 = {
    "sen2_age_caseload.csv": "ehcp_caseload_by_age",
    "sen2_estab_caseload.csv": "ehcp_caseload_by_establishment",
    "sen2_age_new_plans.csv": "ehcp_new_plans_by_age",
    "sen2_estab_new_plans.csv": "ehcp_new_plans_by_establishment",
    "sen2_mi.csv": "ehcp_sen2_mi",
    "sen2_wbp_residential_dmo.csv": "ehcp_workbased_residential_dmo",
}


def test_the_2022_guidance_lists_six_files():
    assert sorted(guidance_2022()) == sorted(KINDS_2022)
    assert guidance_2022()["sen2_estab_caseload.csv"][:3] == [
        "establishment_group", "establishment_type", "Total_all"]


@pytest.mark.parametrize("name", sorted(KINDS_2022))
def test_every_2022_file_is_recognised_by_its_headers(name):
    header = header_2022(name)
    assert is_ees(header)
    assert recognise(header, {"Calendar year"}) == KINDS_2022[name]


def test_2022_filters_are_breakdowns_and_the_caseload_counts_statements_with_plans(tmp_path):
    [age, estab, new, mi] = write_release_2022(tmp_path)
    rows = tidy_file(age)
    # characteristic_age is a breakdown: no measure of that name, and "Total" is the headline.
    assert "characteristic_age" not in set(rows["measure"])
    assert set(rows["breakdown_topic"]) == {"Total", "characteristic_age"}
    assert set(rows["breakdown"]) == {"Total", "Under 5"}
    assert set(rows["release"]) == {2022}
    figures = headline_figures(pl.concat([tidy_file(p) for p in (age, estab, new, mi)]))
    # 2010: statements only; 2018: 34,097 statements + 285,722 plans.
    assert figure(figures, "ehcp_caseload", 2010, ENGLAND) == 228221
    assert figure(figures, "ehcp_caseload", 2018, ENGLAND) == 319819
    assert figure(figures, "ehcp_caseload", 2010, SOUTH_WEST) == 20635
    assert [figure(figures, "ehcp_caseload", y, WILTSHIRE) for y in (2010, 2018, 2019)] == [
        1838, 2982, 3349]
    assert [figure(figures, "new_plans", y, WILTSHIRE) for y in (2010, 2018)] == [164, 553]
    assert figure(figures, "requests_received", 2018, ENGLAND) == 72423
    assert figure(figures, "plans_issued", 2018, WILTSHIRE) == 544
    assert figure(figures, "pct_within_20_weeks", 2018, ENGLAND) == 58.0
    assert figure(figures, "pct_within_20_weeks_ex", 2018, WILTSHIRE) == 91.1


def test_2022_placement_groups_reach_the_benchmark_shares(tmp_path):
    [_, estab, _, _] = write_release_2022(tmp_path)
    rows = tidy_file(estab)
    assert {"establishment_type", "establishment_group"}.isdisjoint(set(rows["measure"]))
    # A type inside a group is both filters; a group total is the group alone.
    assert ("establishment_type / establishment_group",
            "Other arrangements by parents / Educated elsewhere") in set(
        rows.select("breakdown_topic", "breakdown").rows())
    figures = headline_figures(rows)
    assert figure(figures, "pct_mainstream", 2018, ENGLAND) == 40.97996
    assert figure(figures, "pct_special", 2018, ENGLAND) == 40.61083
    assert figure(figures, "pct_fe", 2018, ENGLAND) == 14.98724
    assert figure(figures, "pct_ap_pru", 2018, ENGLAND) == 0.7453
    assert figure(figures, "pct_mainstream", 2018, WILTSHIRE) == 51.40845
    # Educated elsewhere as the later releases count it: home education, other arrangements
    # by the LA and by parents, and NEET; not awaiting provision nor permanently excluded.
    # 2018: 0.75618 + 0.76673. 2019: 0.83871 + 0.79351 + 1.65991 = 3.29213, which the 2025
    # release publishes for January 2019 as 3.3.
    assert figure(figures, "pct_educated_elsewhere", 2018, ENGLAND) == pytest.approx(1.52291)
    assert figure(figures, "pct_educated_elsewhere", 2019, ENGLAND) == pytest.approx(3.29213)
    # The caseload comes from the age file (319,819), not the placement file's 312,626.
    assert figure(figures, "ehcp_caseload", 2018, ENGLAND) is None


def test_officer_answers_are_text_not_failed_numbers(tmp_path):
    header = header_2022("sen2_wbp_residential_dmo.csv")
    path = write_rows(tmp_path / "x.csv", header, [
        {**year("2022"), **WILTSHIRE, "WorkbasedEHC": "40", "DMO": "Y", "DCO": "R",
         "DMODCOFunction": "N"},
        {**year("2021"), **WILTSHIRE, "WorkbasedEHC": "38", "DMO": "maybe"}])
    frame = read_raw(path).frame
    v = validate(frame, ees_schema(frame.columns), set())
    assert v.quarantine.select("row_number", "column_name", "value_masked").rows() == [
        (3, "DMO", "maybe")]
    assert v.quarantine["rule"][0] == "is Yes, No or Recruiting (Y/N/R), a symbol or blank"
    rows = tidy(v.good, "ehcp_workbased_residential_dmo")
    answers = {r["measure"]: (r["value"], r["text"], r["reason"])
               for r in rows.filter(pl.col("measure").is_in(["dmo", "dco", "workbasedehc"]))
               .iter_rows(named=True)}
    assert answers == {"dmo": (None, "Y", "text answer"), "dco": (None, "R", "text answer"),
                       "workbasedehc": (40.0, None, None)}
    assert release_of(rows) == 2022  # a January snapshot labelled "Calendar year"


KINDS_2026 = {
    "data/annual_reviews.csv": "ehcp_annual_reviews",
    "data/assessments.csv": "ehcp_assessments",
    "data/caseload.csv": "ehcp_caseload",
    "data/ceased_plans.csv": "ehcp_ceased",
    "data/newplans.csv": "ehcp_new_plans",
    "data/personal_budgets.csv": "ehcp_personal_budgets",
    "data/phase_transfers.csv": "ehcp_phase_transfers",
    "data/requests.csv": "ehcp_requests",
    "data/residential_settings.csv": "ehcp_residential",
    "data/sen_need_newplans.csv": "ehcp_needs_new_plans",
    "data/timeliness_20_week.csv": "ehcp_timeliness",
    "data/work_based_placements.csv": "ehcp_work_based_placements",
    "supporting-files/sen2_dmo_dco.csv": "ehcp_dmo_dco",
}


@pytest.mark.parametrize("name", sorted(KINDS_2026))
def test_every_2026_file_is_recognised_and_its_sample_rows_validate_clean(tmp_path, name):
    header, rows = headers_2026()[name]
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    path = tmp_path / "file.csv"
    path.write_text(text)
    frame = read_raw(path).frame
    v = validate(frame, ees_schema(frame.columns), set())
    assert (v.quarantine.height, v.good.height) == (0, len(rows))
    assert recognise(header, set(frame["time_identifier"])) == KINDS_2026[name]


def test_the_2026_appeals_table_is_not_an_ees_file():
    header, _ = headers_2026()["supporting-files/SEND appealable decisions rate 2024-2025.csv"]
    assert not is_ees(header)


def test_2026_caseload_new_placement_columns_are_measures_inside_the_same_totals(tmp_path):
    header, [gateshead, _] = headers_2026()["data/caseload.csv"]
    row = dict(zip(header, gateshead, strict=True))
    january_2026 = {**row, "time_period": "202526", "ehcplans": "1300",
                    "special_academy": "170", "special_free_school": "12", "online_provider": "3",
                    "neet_ntci": "4", "special_total": "670", "special_total_pc": "51.5"}
    path = write_rows(tmp_path / "c.csv", header, [row, january_2026], default="x")
    rows = tidy_file(path)
    assert {"special_academy", "special_free_school", "online_provider", "neet_ntci"} <= set(
        rows["measure"])
    assert "special_academy_free" not in set(rows["measure"])
    assert set(rows["release"]) == {2026}
    figures = headline_figures(rows)
    gates = {**SOUTH_WEST, "geographic_level": "Local authority", "new_la_code": "E08000037"}
    # Gateshead, January 2019: 430 maintained + 160 academies + 26 independent + 32
    # non-maintained = 648 special, 52.6% (free schools were not told apart: x).
    assert figure(figures, "pct_special", 2019, gates) == 52.6
    assert figure(figures, "pct_special", 2026, gates) == 51.5
    assert figure(figures, "ehcp_caseload", 2026, gates) == 1300
    assert figure(figures, "pct_educated_elsewhere", 2019, gates) == 1.9
    academies = rows.filter((pl.col("measure") == "special_free_school") & (pl.col("year") == 2019))
    assert academies.select("value", "symbol").rows() == [(None, "x")]


@pytest.mark.parametrize("name,release", [
    ("data/annual_reviews.csv", 2026),  # calendar 2025: the 2026 release
    ("data/phase_transfers.csv", 2026),
    ("data/personal_budgets.csv", 2020),  # sample rows are 2019/20 only
    ("supporting-files/sen2_dmo_dco.csv", 2019),  # January 2019 answers
])
def test_the_release_of_a_file_is_read_from_its_figures(tmp_path, name, release):
    header, rows = headers_2026()[name]
    path = tmp_path / "f.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    assert tidy_file(path)["release"][0] == release


# The 2023-2024 layout (the 2024 release's data guidance): sen2_* files with `age`,
# `ehcp_or_statement`, `establishment_type` and `weeks` filters and snake-case measures.
HEADER_2024 = ("time_period,time_identifier,geographic_level,country_code,country_name,"
               "region_code,region_name,new_la_code,old_la_code,la_name,age,ehcp_or_statement,"
               "num_caseload,pc_caseload")


def test_2024_layout_caseload_with_trailing_blank_header_columns(tmp_path):
    from warehouse.dfe_statistics import read_release_file

    national = "2024,Calendar year,National,E92000001,England,,,,,"
    path = tmp_path / "a.csv"
    path.write_text("\n".join([
        HEADER_2024 + ",,,",
        f"{national},Total,EHCP,576474,100,,,",
        f"{national},Total,Statement,z,z,,,",
        f"{national},Total,Total,576474,100,,,",
        f"{national},Under 5,Total,26689,4.6297,,,   ",
    ]) + "\n")
    _, dropped, kind, v = read_release_file(path)
    assert dropped == ["(unnamed column 15)", "(unnamed column 16)", "(unnamed column 17)"]
    assert (kind, v.quarantine.height) == ("ehcp_caseload_by_age", 0)
    rows = tidy(v.good, kind)
    assert set(rows["measure"]) == {"num_caseload", "pc_caseload"}
    assert sorted(set(rows["breakdown"])) == ["EHCP", "Statement", "Total", "Under 5"]
    assert figure(headline_figures(rows), "ehcp_caseload", 2024, ENGLAND) == 576474
    assert release_of(rows) == 2024


def test_2024_residential_weeks_is_a_filter_even_when_it_reads_52(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\n".join([
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
        "region_name,old_la_code,new_la_code,la_name,ehcp_or_statement,age,weeks,"
        "num_children_yp",
        "2024,Calendar year,National,E92000001,England,,,,,,EHCP,Total,38 to 51,1351",
        "2024,Calendar year,National,E92000001,England,,,,,,EHCP,Total,52,774"]) + "\n")
    rows = tidy_file(path)
    assert rows.select("breakdown", "measure", "value").rows() == [
        ("EHCP / 38 to 51", "num_children_yp", 1351.0), ("EHCP / 52", "num_children_yp", 774.0)]


def test_2026_annual_reviews_and_phase_transfers_named_for_their_year_are_benchmarks(tmp_path):
    """The 2026 layout names some columns for the year (`review_expected_2025`, `due_25`,
    and `due_26` in the same 2025 row): the row's own year's column is the figure."""
    header, _ = headers_2026()["data/annual_reviews.csv"]
    all_plans = {"breakdown_topic": "All EHC plans", "breakdown": "All EHC plans"}
    reviews = write_rows(tmp_path / "r.csv", header, [
        {**year("2025"), **WILTSHIRE, **all_plans, "total_ehc_plans": "7230",
         "review_expected_2025": "5900", "review_completed_2025": "5100",
         "decision_4_weeks": "3300", "outcome_amended": "1400", "outcome_ceased": "350",
         "outcome_maintained": "3200", "no_outcome_recorded": "150"}], default="x")
    header, _ = headers_2026()["data/phase_transfers.csv"]
    transfers = write_rows(tmp_path / "p.csv", header, [
        {**year("2025"), **WILTSHIRE, "number_plans": "7230", "due_25": "980", "due_26": "1010",
         "final_25": "900", "final_26": "0"}], default="x")
    figures = headline_figures(pl.concat([tidy_file(reviews), tidy_file(transfers)],
                                         how="diagonal_relaxed"))
    assert figure(figures, "reviews_due", 2025, WILTSHIRE) == 5900
    assert figure(figures, "reviews_held", 2025, WILTSHIRE) == 5100
    assert figure(figures, "reviews_decided_within_4_weeks", 2025, WILTSHIRE) == 3300
    # The decisions of the reviews completed: 1,400 + 350 + 3,200 + 150 = the 5,100 held.
    assert [figure(figures, f"reviews_{o}", 2025, WILTSHIRE) for o in (
        "amended", "ceased", "maintained", "no_outcome")] == [1400, 350, 3200, 150]
    assert figure(figures, "transfers_due", 2025, WILTSHIRE) == 980
    assert figure(figures, "transfers_due", 2026, WILTSHIRE) is None


def test_2026_caseload_settings_are_benchmarked_as_shares_of_the_same_release(tmp_path):
    """A hand-made 2026-layout caseload.csv: each setting column becomes its share of the
    release's caseload (`pct_setting_<column>`), for the LA and England; the 2025 layout's
    same columns do not (its special academies and free schools are together)."""
    from transforms.benchmarks import benchmarks

    header, _ = headers_2026()["data/caseload.csv"]
    all_plans = {"time_period": "202526", "time_identifier": "Academic year",
                 "breakdown_topic": "All EHC plans", "breakdown": "All EHC plans"}
    path = write_rows(tmp_path / "caseload.csv", header, [
        {**all_plans, **WILTSHIRE, "ehcplans": "7200", "special_academy": "650",
         "special_free_school": "72", "online_provider": "0", "neet_other_csa": "9",
         "mainstream_academy_senunit": "400"},
        {**all_plans, **ENGLAND, "ehcplans": "700000", "special_academy": "70000",
         "special_free_school": "14000", "online_provider": "140"},
        # An age breakdown row: not the headline, never a benchmark.
        {**all_plans, **WILTSHIRE, "breakdown_topic": "Age", "breakdown": "Aged 10",
         "ehcplans": "600", "special_academy": "60"}], default="x")
    rows = tidy_file(path)
    assert set(rows["release"]) == {2026}
    figures = headline_figures(rows)
    # Wiltshire: 650 / 7,200 = 9.03%, 72 / 7,200 = 1.0%, 9 / 7,200 = 0.125%, 400 / 7,200.
    assert figure(figures, "pct_setting_special_academy", 2026, WILTSHIRE) == 9.0
    assert figure(figures, "pct_setting_special_free_school", 2026, WILTSHIRE) == 1.0
    assert figure(figures, "pct_setting_neet_other_csa", 2026, WILTSHIRE) == 0.1
    assert figure(figures, "pct_setting_mainstream_academy_senunit", 2026, WILTSHIRE) == 5.6
    assert figure(figures, "pct_setting_online_provider", 2026, WILTSHIRE) == 0.0
    assert figure(figures, "pct_setting_special_academy", 2026, ENGLAND) == 10.0
    # A symbol (x) is no share; no count is a benchmark of its own.
    assert figure(figures, "pct_setting_w_settings", 2026, WILTSHIRE) is None
    assert not figures.filter(pl.col("measure_name").str.starts_with("plans_setting_")).height
    table = benchmarks(figures, "E06000054", "E12000009", [], "test", dt.date(2026, 3, 1))
    own = table.filter(pl.col("measure") == "pct_setting_special_academy")
    assert own.select("comparison", "value").rows() == [("la", 9.0), ("england", 10.0)]
    # The 2025 layout (the shipped release) has `mainstream_academy_senunit` too: not read.
    shipped = rows.with_columns(pl.lit(2025, pl.Int32).alias("release"))
    assert not headline_figures(shipped).filter(
        pl.col("measure_name").str.starts_with("pct_setting_")).height


def write_personal_budgets_2026(folder: Path) -> tuple[Path, Path]:
    """A hand-made 2026-layout personal_budgets.csv and caseload.csv (the headers of
    ../shared/external/dfe-ehcp-2026-headers.txt): England, the South West and Wiltshire in
    January 2025 (202425) and Wiltshire in January 2026; Wiltshire's personal budgets of
    January 2020 too, a January this caseload.csv does not have."""
    header, _ = headers_2026()["data/personal_budgets.csv"]
    every = {"breakdown_topic": "All personal budgets", "breakdown": "All personal budgets"}

    def january(period: str) -> dict[str, str]:
        return {"time_period": period, "time_identifier": "Academic year"}

    budgets = write_rows(folder / "personal_budgets.csv", header, [
        {**january("202425"), **ENGLAND, **every, "personal_budget": "41000",
         "org_arrangments": "9000", "pb_health": "1200", "pb_education": "15000",
         "pb_social": "20000", "pb_integrated": "4800"},
        {**january("202425"), **SOUTH_WEST, **every, "personal_budget": "5270",
         "org_arrangments": "1100"},
        {**january("202425"), **WILTSHIRE, **every, "personal_budget": "517",
         "org_arrangments": "120", "pb_health": "9"},
        {**january("202526"), **WILTSHIRE, **every, "personal_budget": "600",
         "org_arrangments": "130"},
        {**january("201920"), **WILTSHIRE, **every, "personal_budget": "210",
         "org_arrangments": "40"},
        # A breakdown row: not the headline, never a benchmark.
        {**january("202425"), **WILTSHIRE, "breakdown_topic": "Age", "breakdown": "Aged 10",
         "personal_budget": "50", "org_arrangments": "10"}], default="x")
    header, _ = headers_2026()["data/caseload.csv"]
    plans = {"breakdown_topic": "All EHC plans", "breakdown": "All EHC plans"}
    caseload = write_rows(folder / "caseload.csv", header, [
        {**january("202425"), **ENGLAND, **plans, "ehcplans": "640000"},
        {**january("202425"), **SOUTH_WEST, **plans, "ehcplans": "62000"},
        {**january("202425"), **WILTSHIRE, **plans, "ehcplans": "6383"},
        {**january("202526"), **ENGLAND, **plans, "ehcplans": "700000"},
        {**january("202526"), **WILTSHIRE, **plans, "ehcplans": "7100"}], default="x")
    return budgets, caseload


def test_2026_personal_budgets_are_benchmarked_as_shares_of_the_same_release_caseload(
        tmp_path):
    """personal_budgets.csv's `personal_budget` over the same release's `ehcplans`, one
    decimal, for England, the region and the LA (`pct_caseload_with_pb`); its counts stay
    (`plans_with_pb`, `plans_with_oa`: reconciliation compares the LA's); the budget covers
    are not direct payments, so none is read as such."""
    from transforms.benchmarks import benchmarks

    budgets, caseload = write_personal_budgets_2026(tmp_path)
    rows = pl.concat([tidy_file(budgets), tidy_file(caseload)], how="diagonal_relaxed")
    assert set(rows.filter(pl.col("kind") == "ehcp_personal_budgets")["measure"]) == {
        "personal_budget", "org_arrangments", "pb_health", "pb_education", "pb_social",
        "pb_integrated"}
    assert set(rows["release"]) == {2026}
    figures = headline_figures(rows)
    # England 41,000 / 640,000 = 6.41%; the South West 5,270 / 62,000 = 8.50%; Wiltshire
    # 517 / 6,383 = 8.10% in January 2025 and 600 / 7,100 = 8.45% in January 2026.
    assert figure(figures, "pct_caseload_with_pb", 2025, ENGLAND) == 6.4
    assert figure(figures, "pct_caseload_with_pb", 2025, SOUTH_WEST) == 8.5
    assert figure(figures, "pct_caseload_with_pb", 2025, WILTSHIRE) == 8.1
    assert figure(figures, "pct_caseload_with_pb", 2026, WILTSHIRE) == 8.5
    # No caseload of this release for January 2020: no share.
    assert figure(figures, "pct_caseload_with_pb", 2020, WILTSHIRE) is None
    assert figure(figures, "plans_with_pb", 2020, WILTSHIRE) == 210
    assert [figure(figures, m, 2025, WILTSHIRE) for m in ("plans_with_pb", "plans_with_oa")] \
        == [517, 120]
    assert figure(figures, "plans_with_oa", 2025, ENGLAND) == 9000
    assert not figures.filter(pl.col("measure").is_in(
        ["pb_health", "pb_education", "pb_social", "pb_integrated"])).height
    table = benchmarks(figures, "E06000054", "E12000009", [], "test", dt.date(2026, 3, 1))
    share = table.filter(pl.col("measure") == "pct_caseload_with_pb", pl.col("year") == 2025)
    assert share.select("comparison", "value").rows() == [
        ("la", 8.1), ("region", 8.5), ("england", 6.4)]
