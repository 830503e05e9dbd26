"""The DfE's absence and exclusions by SEN status as kpi.benchmarks rows for the LA, its region
and England (transforms/inclusion_benchmarks.py), from small hand-made files in the published
layouts (headers as the sources cited there give them; the figures are made up, test fixtures
only), through the same reader, loader and benchmarks as the EHC plans release."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.test_release_layouts import ENGLAND, SOUTH_WEST, WILTSHIRE, write_rows
from transforms.benchmarks import benchmarks, headline_figures
from transforms.dfe_statistics import ees_schema, recognise, tidy
from transforms.inclusion_benchmarks import benchmark_year, sen_status
from transforms.readers import read_raw
from transforms.validate import validate

AS_OF = dt.date(2026, 3, 26)
GLOUCESTERSHIRE = {**SOUTH_WEST, "geographic_level": "Local authority", "old_la_code": "916",
                   "new_la_code": "E10000013", "la_name": "Gloucestershire"}
PLACES = {"england": ENGLAND, "region": SOUTH_WEST, "la": WILTSHIRE}
# Absence rates by pupil characteristics, autumn term (EES data set 1d929939, 2024-25 layout).
ABSENCE_TERMLY = [
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
    "region_code", "region_name", "old_la_code", "new_la_code", "la_name", "education_phase",
    "characteristic", "characteristic_breakdown", "enrolments", "sess_possible", "sess_overall",
    "sess_authorised", "sess_unauthorised", "sess_overall_percent", "sess_authorised_percent",
    "sess_unauthorised_percent", "enrolments_pa_10_exact", "enrolments_pa_10_exact_percent",
    "enrolments_pa_50_exact", "enrolments_pa_50_exact_percent", "sess_possible_pa_10_exact",
    "sess_overall_pa_10_exact", "sess_authorised_pa_10_exact", "sess_unauthorised_pa_10_exact",
    "sess_overall_percent_pa_10_exact", "sess_authorised_percent_pa_10_exact",
    "sess_unauthorised_percent_pa_10_exact", "sess_auth_illness", "sess_auth_appointments",
    "sess_auth_religious", "sess_auth_study", "sess_auth_traveller", "sess_auth_holiday",
    "sess_auth_ext_holiday", "sess_auth_excluded", "sess_auth_interview",
    "sess_auth_reg_performance", "sess_auth_temp_reduced_timetable", "sess_auth_other",
    "sess_auth_totalreasons", "sess_unauth_holiday", "sess_unauth_late", "sess_unauth_other",
    "sess_unauth_noyet", "sess_unauth_totalreasons", "sess_overall_totalreasons",
    "sess_x_covid", "sess_y_exceptional", "sess_x_covid_rate", "sess_q_la_arrangements"]
# Suspensions and permanent exclusions by characteristic, termly (data sets 99baa7e8 and
# 0768784d).
EXCLUSIONS = [
    "time_identifier", "time_period", "geographic_level", "country_code", "country_name",
    "region_code", "region_name", "new_la_code", "old_la_code", "la_name", "education_phase",
    "characteristic_group", "characteristic", "headcount", "perm_excl", "perm_excl_rate",
    "suspension", "susp_rate", "one_plus_susp", "one_plus_susp_rate"]
# Absence by characteristic, autumn and spring terms (6_absence_2term_characteristics.csv, to
# 2022-23: filters school_type and characteristic, SEN values `SEN - ...`).
ABSENCE_TWO_TERMS = [
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
    "region_code", "region_name", "old_la_code", "new_la_code", "la_name", "school_type",
    "characteristic", "enrolments", "sess_possible", "sess_overall", "sess_overall_percent",
    "enrolments_pa_10_exact", "enrolments_pa_10_exact_percent"]

# (place, SEN value) -> overall absence %, persistent absence %: as published (unrounded),
# and as kpi.benchmarks has them (one decimal, as kpi.sen_attendance rounds its own).
ABSENCE = {("england", "EHC plan"): ("11.23456", 11.2, "32.44", 32.4),
           ("england", "SEN support"): ("8.0549", 8.1, "24.96", 25.0),
           ("england", "No identified SEN"): ("5.04", 5.0, "14.0499", 14.0),
           ("england", "Total"): ("5.6", 5.6, "15.6512", 15.7),
           ("region", "EHC plan"): ("10.96", 11.0, "31.2", 31.2),
           ("region", "SEN support"): ("7.8", 7.8, "23.16", 23.2),
           ("region", "No identified SEN"): ("4.9", 4.9, "13.3", 13.3),
           ("region", "Total"): ("5.4", 5.4, "14.9", 14.9),
           ("la", "EHC plan"): ("12.04", 12.0, "35.0", 35.0),
           ("la", "SEN support"): ("8.36", 8.4, "25.5", 25.5),
           ("la", "No identified SEN"): ("5.2", 5.2, "14.46", 14.5),
           ("la", "Total"): ("5.8", 5.8, "16.06", 16.1)}
# (place, SEN value) -> suspensions and permanent exclusions per 100 of the headcount, as
# published and in kpi.benchmarks (two decimals).
SUSPENSIONS = {("england", "EHC plan"): ("5.4321", 5.43, "0.0453", 0.05),
               ("england", "SEN support"): ("7.1049", 7.1, "0.1012", 0.1),
               ("england", "No SEN"): ("1.6666", 1.67, "0.0211", 0.02),
               ("england", "Total"): ("2.4448", 2.44, "0.0356", 0.04),
               ("region", "EHC plan"): ("4.998", 5.0, "0.03", 0.03),
               ("region", "SEN support"): ("6.2", 6.2, "0.0876", 0.09),
               ("region", "No SEN"): ("1.5", 1.5, "0.02", 0.02),
               ("region", "Total"): ("2.2", 2.2, "0.031", 0.03),
               ("la", "EHC plan"): ("6.1", 6.1, "0.051", 0.05),
               ("la", "SEN support"): ("7.9", 7.9, "0.112", 0.11),
               ("la", "No SEN"): ("1.8", 1.8, "0.0249", 0.02),
               ("la", "Total"): ("2.7", 2.7, "0.04", 0.04)}


def _characteristic(value: str) -> tuple[str, str]:
    return ("Total", "Total") if value == "Total" else ("SEN provision", value)


def write_absence_termly(path: Path) -> Path:
    rows = []
    for (place, value), (overall, _, persistent, _) in ABSENCE.items():
        group, breakdown = _characteristic(value)
        rows.append({"time_period": "202425", "time_identifier": "Autumn term",
                     **PLACES[place], "education_phase": "Total", "characteristic": group,
                     "characteristic_breakdown": breakdown, "enrolments": "1000",
                     "sess_possible": "150000", "sess_overall_percent": overall,
                     "enrolments_pa_10_exact_percent": persistent})
    # Not SEN provision at every phase: a phase's row, a primary need's and another LA's.
    autumn = {"time_period": "202425", "time_identifier": "Autumn term"}
    rows += [{**autumn, **ENGLAND, "education_phase": "State-funded primary",
              "characteristic": "SEN provision", "characteristic_breakdown": "EHC plan",
              "sess_overall_percent": "9.9", "enrolments_pa_10_exact_percent": "27.0"},
             {**autumn, **ENGLAND, "education_phase": "Total",
              "characteristic": "SEN primary need", "characteristic_breakdown": "Down Syndrome",
              "sess_overall_percent": "10.88889", "enrolments_pa_10_exact_percent": "30.1"},
             {**autumn, **GLOUCESTERSHIRE, "education_phase": "Total",
              "characteristic": "SEN provision", "characteristic_breakdown": "EHC plan",
              "sess_overall_percent": "13.1", "enrolments_pa_10_exact_percent": "36.0"}]
    return write_rows(path, ABSENCE_TERMLY, rows)


def write_exclusions(path: Path) -> Path:
    rows = []
    for (place, value), (suspension, _, permanent, _) in SUSPENSIONS.items():
        group, breakdown = _characteristic(value)
        rows.append({"time_identifier": "Autumn term", "time_period": "202425",
                     **PLACES[place], "education_phase": "Total",
                     "characteristic_group": group, "characteristic": breakdown,
                     "headcount": "50000", "susp_rate": suspension,
                     "perm_excl_rate": permanent})
    return write_rows(path, EXCLUSIONS, rows)


def write_absence_two_terms(path: Path) -> Path:
    rows = [{"time_period": "202223", "time_identifier": "Autumn and spring term", **ENGLAND,
             "school_type": "Total", "characteristic": value, "sess_overall_percent": overall,
             "enrolments_pa_10_exact_percent": persistent}
            for value, overall, persistent in (
                ("SEN - Statement or EHCP", "9.46", "29.1"),
                ("SEN - SEN support", "7.71", "23.04"), ("SEN - No SEN", "5.551", "14.2"),
                ("Total", "6.07", "16.01"), ("SEN - Unclassified", "30.2", "60.0"))]
    rows.append({"time_period": "202223", "time_identifier": "Autumn and spring term",
                 **ENGLAND, "school_type": "State-funded secondary",
                 "characteristic": "SEN - Statement or EHCP", "sess_overall_percent": "12.3",
                 "enrolments_pa_10_exact_percent": "38.0"})
    return write_rows(path, ABSENCE_TWO_TERMS, rows)


def tidy_file(path: Path) -> pl.DataFrame:
    raw = read_raw(path)
    cols = [c for c in raw.frame.columns if c != "row_number"]
    v = validate(raw.frame, ees_schema(cols), set())
    assert v.quarantine.height == 0, v.quarantine
    return tidy(v.good, recognise(cols, set(v.good["time_identifier"].unique())))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("inclusion")
    return [write_absence_termly(folder / "absence_characteristics_autumn.csv"),
            write_exclusions(folder / "exc_characteristics.csv"),
            write_absence_two_terms(folder / "6_absence_2term_characteristics.csv")]


def test_the_files_are_recognised_by_their_headers(files):
    kinds = [tidy_file(p)["kind"].unique().to_list() for p in files]
    assert kinds == [["pupil_absence_by_characteristic"], ["exclusions_by_characteristic"],
                     ["pupil_absence_by_characteristic"]]


def test_sen_status_reads_every_known_spelling_and_nothing_else():
    cases = [
        # (breakdown_topic as tidy() makes it, breakdown, status)
        ("SEN provision", "EHC plan", "ehcp"),
        ("SEN provision", "Education, health and care plan", "ehcp"),
        ("SEN provision", "SEN support / SEN without an EHC plan", "sen_support"),
        ("SEN provision", "No SEN provision", "no_sen"),
        ("SEN provision / absence_terms", "SEN support / Six half terms", "sen_support"),
        ("characteristic_group / characteristic", "SEN provision / No SEN", "no_sen"),
        ("characteristic_group / characteristic",
         "SEN_provision / SEN_provision_SEN_with_statement_EHC", "ehcp"),
        ("characteristic_group / characteristic",
         "SEN_provision / SEN_provision_SEN_without_statement", "sen_support"),
        ("characteristic_group / characteristic", "SEN_provision / SEN_Provision_No_SEN",
         "no_sen"),
        ("characteristic / characteristic_breakdown", "SEN provision / No identified SEN",
         "no_sen"),
        ("characteristic", "SEN - Statement or EHCP", "ehcp"),
        ("characteristic", "SEN - SEN support", "sen_support"),
        ("characteristic", "SEN - No SEN", "no_sen"),
        ("characteristic", "SEN_provision_Statement_or_EHCP", "ehcp"),
        ("characteristic", "SEN_provision_No_identified_SEN", "no_sen"),
        ("Total", "Total", "all"),
        ("Total / absence_terms", "Total / Six half terms", "all"),
        # Not a SEN status: another filter not at its total, a need, unclassified.
        ("SEN provision / education_phase", "EHC plan / State-funded primary", None),
        ("characteristic / school_type", "SEN - Statement or EHCP / State-funded secondary",
         None),
        ("Total / education_phase", "Total / Special", None),
        ("characteristic / characteristic_breakdown",
         "SEN primary need / SEN support but no specialist assessment of type of need", None),
        ("SEN primary need", "SEN support but no specialist assessment of type of need", None),
        ("characteristic", "SEN - Unclassified", None),
        ("characteristic", "FSM - Eligible", None),
    ]
    frame = pl.DataFrame([c[:2] for c in cases], schema=["t", "b"], orient="row")
    got = frame.select(sen_status(pl.col("t"), pl.col("b")).alias("s"))["s"].to_list()
    assert list(zip([c[:2] for c in cases], got, strict=True)) == [
        (c[:2], c[2]) for c in cases]


def test_each_period_has_its_year():
    # The calendar year the period ends in: the autumn term its first, the rest the second.
    assert [benchmark_year(2024, p) for p in ("autumn", "spring", "summer", "autumn_spring",
                                               "full_year")] == [2024, 2025, 2025, 2025, 2025]


def test_benchmarks_rows_for_the_la_its_region_and_england(files):
    figures = headline_figures(pl.concat([tidy_file(p) for p in files]))
    out = benchmarks(figures, "E06000054", "E12000009", [], "DfE", AS_OF)
    inclusion = out.filter(~pl.col("measure").str.starts_with("ehcp"))
    rows = {(r["measure"], r["year"], r["comparison"], r["geography_code"]): r["value"]
            for r in inclusion.iter_rows(named=True)}
    code = {"england": "E92000001", "region": "E12000009", "la": "E06000054"}
    status = {"EHC plan": "ehcp", "SEN support": "sen_support", "No identified SEN": "no_sen",
              "No SEN": "no_sen", "Total": "all"}
    expected = {}
    for (place, value), (_, overall, _, persistent) in ABSENCE.items():
        s = status[value]
        expected[(f"absence_rate_pct_{s}_autumn", 2024, place, code[place])] = overall
        expected[(f"persistent_absence_pct_{s}_autumn", 2024, place, code[place])] = persistent
    for (place, value), (_, suspension, _, permanent) in SUSPENSIONS.items():
        s = status[value]
        expected[(f"suspension_rate_{s}_autumn", 2024, place, code[place])] = suspension
        expected[(f"permanent_exclusion_rate_{s}_autumn", 2024, place, code[place])] = permanent
    # The 2022-23 autumn and spring file: England only, its 9.46 is 9.5 and 23.04 is 23.0.
    for s, overall, persistent in (("ehcp", 9.5, 29.1), ("sen_support", 7.7, 23.0),
                                   ("no_sen", 5.6, 14.2), ("all", 6.1, 16.0)):
        expected[(f"absence_rate_pct_{s}_autumn_spring", 2023, "england", "E92000001")] = overall
        expected[(f"persistent_absence_pct_{s}_autumn_spring", 2023, "england",
                  "E92000001")] = persistent
    assert rows == expected
    assert set(inclusion["geography_name"]) == {"England", "South West", "Wiltshire"}


def test_landed_files_load_whole_and_name_their_publication(files, tmp_path):
    """Through the loader, as `published/` lands them: every row staged (no filter column
    taken for a measure), the figures beside the shipped EHC plans release, and each row's
    source naming its publication, period and file."""
    from tests.conftest import archive_at
    from warehouse import loads, store
    from warehouse.archive import sha256_of
    from warehouse.dfe_statistics import dfe_figures

    con = store.connect(tmp_path / "warehouse.duckdb")
    outcomes = []
    for p in files:
        f = loads.LandedFile("published", p, sha256_of(p))
        outcomes += loads.load_batch(con, [f], b"k" * 32, "run-1", archive_at(tmp_path))
    assert [(o.status, o.rows_quarantined, o.period) for o in outcomes] == [
        ("loaded", 0, "pupil_absence_by_characteristic 2024"),
        ("loaded", 0, "exclusions_by_characteristic 2024"),
        ("loaded", 0, "pupil_absence_by_characteristic 2023")]
    figures, source = dfe_figures(con)
    con.close()
    la = figures.filter(pl.col("new_la_code") == "E06000054",
                        pl.col("measure_name") == "suspension_rate_ehcp_autumn")
    sha = sha256_of(files[1])[:12]
    assert la.select("year", "value", "source").rows() == [
        (2024, 6.1, "DfE Suspensions and permanent exclusions in England (autumn term 2024/25, "
                    f"exc_characteristics.csv {sha})")]
    assert source == (
        "DfE EHC plans statistics: 2025 release (shipped with sendboard); DfE Pupil absence in "
        "schools in England (6_absence_2term_characteristics.csv, "
        "absence_characteristics_autumn.csv); DfE Suspensions and permanent exclusions in "
        "England (exc_characteristics.csv)")
    # The shipped release's figures are still there beside them.
    assert figures.filter(pl.col("measure_name") == "ehcp_caseload", pl.col("year") == 2025,
                          pl.col("new_la_code") == "E06000054")["value"].to_list() == [6383.0]


def test_a_file_of_another_period_of_the_same_year_keeps_the_first_and_a_revision_replaces_its_own(
        files, tmp_path):
    """The full-year exclusions of 2023/24 and the autumn term of 2024/25 are both year 2024:
    loading one keeps the other's rows; a revised autumn file replaces the autumn rows only."""
    from tests.conftest import archive_at
    from warehouse import loads, store
    from warehouse.archive import sha256_of
    from warehouse.dfe_statistics import dfe_figures

    full_year = write_rows(tmp_path / "exc_characteristics_full_year.csv", EXCLUSIONS, [
        {"time_identifier": "Academic year", "time_period": "202324", **ENGLAND,
         "education_phase": "Total", "characteristic_group": group, "characteristic": value,
         "headcount": "8000000", "susp_rate": rate, "perm_excl_rate": "0.1"}
        for group, value, rate in (("SEN provision", "EHC plan", "21.5"),
                                   ("Total", "Total", "11.31"))])
    revised = tmp_path / "exc_characteristics_revised.csv"
    revised.write_bytes(files[1].read_bytes().replace(b",5.4321,", b",5.6,"))
    con = store.connect(tmp_path / "warehouse.duckdb")
    for p in (files[1], full_year, revised):
        loads.load_batch(con, [loads.LandedFile("published", p, sha256_of(p))], b"k" * 32,
                         "run-1", archive_at(tmp_path))
    figures, _ = dfe_figures(con, shipped=None)
    con.close()
    england = figures.filter(pl.col("geographic_level") == "National",
                             pl.col("measure_name").str.starts_with("suspension_rate_"))
    assert sorted(england.select("measure_name", "year", "value").rows()) == [
        ("suspension_rate_all_autumn", 2024, 2.44),
        ("suspension_rate_all_full_year", 2024, 11.31),
        ("suspension_rate_ehcp_autumn", 2024, 5.6),
        ("suspension_rate_ehcp_full_year", 2024, 21.5),
        ("suspension_rate_no_sen_autumn", 2024, 1.67),
        ("suspension_rate_sen_support_autumn", 2024, 7.1)]


# Absence by pupil characteristics, full year (data set e2eb493a, 2018-19 to 2024-25): the
# header as far as its catalogue preview shows it (the reason rates after it are measures
# alike). The absence_terms value and the SEN spellings are not confirmed: made up here.
ABSENCE_FULL_YEAR = [
    "time_period", "time_identifier", "absence_terms", "geographic_level", "country_code",
    "country_name", "region_code", "region_name", "old_la_code", "new_la_code", "la_name",
    "education_phase", "breakdown_topic", "breakdown", "enrolments", "sess_possible",
    "sess_overall", "sess_authorised", "sess_unauthorised", "sess_overall_percent",
    "sess_authorised_percent", "sess_unauthorised_percent", "enrolments_pa_10_exact",
    "enrolments_pa_10_exact_percent", "sess_possible_pa_10_exact", "sess_overall_pa_10_exact",
    "sess_authorised_pa_10_exact", "sess_unauthorised_pa_10_exact",
    "sess_overall_percent_pa_10_exact", "sess_authorised_percent_pa_10_exact",
    "sess_unauthorised_percent_pa_10_exact", "enrolments_pa_50_exact",
    "enrolments_pa_50_exact_percent", "sess_auth_illness", "sess_auth_appointments",
    "sess_auth_religious", "sess_auth_study", "sess_auth_traveller", "sess_auth_holiday",
    "sess_auth_ext_holiday", "sess_auth_excluded", "sess_auth_interview",
    "sess_auth_reg_performance", "sess_auth_temp_reduced_timetable", "sess_auth_other",
    "sess_auth_totalreasons", "sess_unauth_holiday", "sess_unauth_late", "sess_unauth_other",
    "sess_unauth_noyet", "sess_unauth_totalreasons", "sess_overall_totalreasons",
    "sess_x_covid", "sess_y_exceptional", "sess_q_la_arrangements", "sess_auth_illness_rate"]


def test_the_full_year_layout_with_absence_terms_and_breakdown_topic(tmp_path):
    full_year = {"time_period": "202324", "time_identifier": "Academic year",
                 "absence_terms": "Autumn, spring and summer"}
    rows = [{**full_year, **WILTSHIRE, "education_phase": phase, "breakdown_topic": topic,
             "breakdown": value, "sess_overall_percent": overall,
             "enrolments_pa_10_exact_percent": persistent}
            for phase, topic, value, overall, persistent in (
                ("Total", "SEN provision", "EHC plan", "11.87", "36.02"),
                ("Total", "SEN provision", "SEN support", "9.04", "28.9"),
                ("Total", "SEN provision", "No SEN", "6.33", "17.36"),
                ("Total", "Total", "Total", "6.9", "19.61"),
                ("Special", "SEN provision", "EHC plan", "13.0", "40.0"),
                ("Total", "SEN primary need", "Autistic spectrum disorder", "12.5", "38.0"))]
    rows_out = tidy_file(write_rows(tmp_path / "absence_by_pupil_characteristics.csv",
                                    ABSENCE_FULL_YEAR, rows))
    assert rows_out["kind"].unique().to_list() == ["pupil_absence_by_characteristic"]
    figures = headline_figures(rows_out)
    got = sorted(figures.select("measure_name", "year", "value").rows())
    # 2023/24 is year 2024; 11.87 is 11.9, 36.02 is 36.0; the special schools' and the
    # primary need's rows are not SEN statuses of all pupils.
    assert got == [("absence_rate_pct_all_full_year", 2024, 6.9),
                   ("absence_rate_pct_ehcp_full_year", 2024, 11.9),
                   ("absence_rate_pct_no_sen_full_year", 2024, 6.3),
                   ("absence_rate_pct_sen_support_full_year", 2024, 9.0),
                   ("persistent_absence_pct_all_full_year", 2024, 19.6),
                   ("persistent_absence_pct_ehcp_full_year", 2024, 36.0),
                   ("persistent_absence_pct_no_sen_full_year", 2024, 17.4),
                   ("persistent_absence_pct_sen_support_full_year", 2024, 28.9)]
