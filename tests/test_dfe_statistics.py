"""DfE EES files: recognised by headers, validated, and tidied into one long table.

The real 2025 release (../shared/external) pins figures the DfE published; small 2022-style
files written here pin the release drift (labels, column order, case, quoted blanks, symbols).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from transforms.dfe_statistics import ees_schema, is_ees, recognise, tidy
from transforms.readers import read_raw
from transforms.validate import validate

RELEASE_2025 = Path(__file__).parents[2] / "shared" / "external" / "dfe-ehcp-2025"
KINDS_2025 = {
    "caseload.csv": "ehcp_caseload",
    "requests.csv": "ehcp_requests",
    "assessments.csv": "ehcp_assessments",
    "timeliness_20_week.csv": "ehcp_timeliness",
    "sen_needs_all_plans.csv": "ehcp_needs_all_plans",
    "sen_need_newplans.csv": "ehcp_needs_new_plans",
    "newplans.csv": "ehcp_new_plans",
    "ceased_plans.csv": "ehcp_ceased",
}
WILTSHIRE = "E06000054"


@pytest.fixture(scope="module")
def release() -> dict[str, pl.DataFrame]:
    return {name: read_raw(RELEASE_2025 / name).frame for name in KINDS_2025}


def load(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    v = validate(frame, ees_schema(frame.columns), set())
    assert v.quarantine.height == 0
    return tidy(v.good, kind)


@pytest.fixture(scope="module")
def caseload(release) -> pl.DataFrame:
    return load(release["caseload.csv"], "ehcp_caseload")


@pytest.fixture(scope="module")
def timeliness(release) -> pl.DataFrame:
    return load(release["timeliness_20_week.csv"], "ehcp_timeliness")


def figure(long: pl.DataFrame, measure: str, year: int, breakdown: str,
           la: str | None = None) -> dict:
    where = pl.col("new_la_code") == la if la else pl.col("geographic_level") == "National"
    rows = long.filter(where, pl.col("measure") == measure, pl.col("year") == year,
                       pl.col("breakdown") == breakdown)
    assert rows.height == 1
    return rows.row(0, named=True)


@pytest.mark.parametrize("name", sorted(KINDS_2025))
def test_real_files_are_recognised_by_headers_and_validate_clean(release, name):
    frame = release[name]
    assert is_ees(frame.columns)
    assert recognise(frame.columns, set(frame["time_identifier"])) == KINDS_2025[name]
    v = validate(frame, ees_schema(frame.columns), set())
    assert (v.quarantine.height, v.good.height) == (0, frame.height)


def test_england_and_wiltshire_january_caseload(caseload):
    assert figure(caseload, "ehcplans", 2025, "All EHC plans")["value"] == 638_745
    assert figure(caseload, "ehcplans", 2019, "All EHC plans")["value"] == 353_995
    wilts = [figure(caseload, "ehcplans", y, "All EHC plans", WILTSHIRE)["value"]
             for y in range(2019, 2026)]
    assert wilts == [3349, 3784, 4067, 4287, 4760, 5536, 6383]
    row = figure(caseload, "mainstream_total_pc", 2025, "All EHC plans", WILTSHIRE)
    assert (row["value"], row["old_la_code"], row["la_name"]) == (51.2, "865", "Wiltshire")
    assert (row["time_period"], row["time_identifier"]) == ("202425", "Academic year")


def test_timeliness_upper_case_pc_prefix_is_one_lower_case_measure(release, timeliness):
    assert "PC_plans_issued_20_weeks_ex" in release["timeliness_20_week.csv"].columns
    row = figure(timeliness, "pc_plans_issued_20_weeks_ex", 2019, "All EHC plans issued")
    assert (row["value"], row["time_identifier"]) == (60.4, "Calendar year")
    assert figure(timeliness, "pc_plans_issued_20_weeks_ex", 2024,
                  "All EHC plans issued")["value"] == 46.4


def test_symbol_x_is_null_with_its_reason(caseload):
    row = figure(caseload, "ukrlp_provider", 2019, "All EHC plans")
    assert (row["value"], row["symbol"], row["reason"]) == (None, "x", "unavailable")
    counts = caseload.group_by("reason").len().sort("reason", nulls_last=True)
    assert counts["reason"].to_list() == ["unavailable", None]
    assert caseload.filter(pl.col("symbol").is_null())["value"].null_count() == 0


# 2022-style: January labelled "Calendar year", old_la_code before new_la_code, no breakdown
# columns, a `PC_` measure, quoted empty strings and the other symbols; two bad rows (5, 6).
CSV_2022 = """\
time_period,time_identifier,geographic_level,country_code,country_name,region_code,\
region_name,old_la_code,new_la_code,la_name,ehcplans,PC_mainstream_total,special_total
2022,Calendar year,National,E92000001,England,"","","","","",473255,40.5,148000
2022,Calendar year,Regional,E92000001,England,E12000009,South West,,,,"",z,c
2022,Calendar year,Local authority,E92000001,England,E12000009,South West,865,E06000054,\
Wiltshire,4287,LOW,1234
20x2,Calendar year,Local authority,E92000001,England,E12000009,South West,866,E06000030,\
Swindon,1500,45.1,300
2022,Calendar year,Local authority,E92000001,England,E12000009,South West,866,E06000030,\
Swindon,12a,45.1,300
"""


def write(tmp_path: Path, text: str, bom: bool = False, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
def validated_2022(tmp_path):
    frame = read_raw(write(tmp_path, CSV_2022)).frame
    return validate(frame, ees_schema(frame.columns), set())


def test_bad_rows_are_quarantined_with_their_rule_and_good_rows_stay(validated_2022):
    q = validated_2022.quarantine
    assert q.rows(named=False) == [
        (5, "time_period", "is a year (2025) or two consecutive years (202425)", "20x2"),
        (6, "ehcplans", "is a number, a symbol (x z c low : ~) or blank", "12a"),
    ]
    assert validated_2022.good["row_number"].to_list() == [2, 3, 4]


def test_2022_style_file_tidies_to_calendar_year_with_reasons(validated_2022):
    frame = validated_2022.good
    assert recognise(frame.columns, set(frame["time_identifier"])) == "ehcp_caseload"
    long = tidy(frame, "ehcp_caseload")
    assert set(long["year"]) == {2022}
    assert long["breakdown"].null_count() == long["breakdown_topic"].null_count() == long.height
    wilts = {r["measure"]: r for r in long.filter(pl.col("new_la_code") == WILTSHIRE).to_dicts()}
    assert wilts["ehcplans"]["value"] == 4287
    assert (wilts["ehcplans"]["old_la_code"], wilts["ehcplans"]["row_number"]) == ("865", 4)
    assert (wilts["pc_mainstream_total"]["value"], wilts["pc_mainstream_total"]["symbol"],
            wilts["pc_mainstream_total"]["reason"]) == (None, "LOW", "rounds to zero")
    region = {r["measure"]: (r["value"], r["symbol"], r["reason"])
              for r in long.filter(pl.col("geographic_level") == "Regional").to_dicts()}
    assert region == {"ehcplans": (None, None, "blank"),
                      "pc_mainstream_total": (None, "z", "not applicable"),
                      "special_total": (None, "c", "confidential")}
    england = long.filter(pl.col("geographic_level") == "National")
    assert england["la_name"].null_count() == england["region_code"].null_count() == 3
    assert england.filter(pl.col("measure") == "pc_mainstream_total")["value"].item() == 40.5


def test_a_byte_order_mark_changes_nothing(tmp_path):
    plain = read_raw(write(tmp_path, CSV_2022)).frame
    marked = read_raw(write(tmp_path, CSV_2022, bom=True, name="bom.csv")).frame
    assert marked.columns[0] == "time_period"
    assert is_ees(marked.columns)
    assert recognise(marked.columns, {"Calendar year"}) == "ehcp_caseload"
    good = [validate(f, ees_schema(f.columns), set()).good for f in (plain, marked)]
    assert tidy(good[1], "ehcp_caseload").equals(tidy(good[0], "ehcp_caseload"))


@pytest.mark.parametrize("period,identifier,year", [
    ("202425", "Academic year", 2025),
    ("2025", "Calendar year", 2025),
    ("202425", "Financial year", 2024),
    ("202425", "Spring term", 2025),
    ("199900", "academic year", 2000),
])
def test_year_is_the_calendar_year_the_figure_is_for(period, identifier, year):
    frame = pl.DataFrame({"time_period": [period], "time_identifier": [identifier],
                          "geographic_level": ["National"], "ehcplans": ["1"],
                          "row_number": [2]}, schema_overrides={"row_number": pl.Int64})
    assert validate(frame, ees_schema(frame.columns), set()).quarantine.height == 0
    assert tidy(frame, "ehcp_caseload")["year"].to_list() == [year]


@pytest.mark.parametrize("period,identifier,column,rule", [
    ("202426", "Academic year", "time_period", "is a year (2025) or two consecutive years"),
    ("2025", "Academic year", "time_period", "has 6 digits for academic, financial and tax"),
    ("2025", "Calender year", "time_identifier", "is an EES time identifier"),
])
def test_time_labels_that_do_not_fit_are_quarantined(period, identifier, column, rule):
    frame = pl.DataFrame({"time_period": [period], "time_identifier": [identifier],
                          "geographic_level": ["National"], "ehcplans": ["1"],
                          "row_number": [2]}, schema_overrides={"row_number": pl.Int64})
    q = validate(frame, ees_schema(frame.columns), set()).quarantine
    assert q.select("column_name", "rule").rows() == [(column, q["rule"][0])]
    assert q["rule"][0].startswith(rule)


def test_a_file_without_the_required_time_columns_is_rejected_whole():
    from transforms.readers import FileRejected

    frame = pl.DataFrame({"geographic_level": ["National"], "ehcplans": ["1"],
                          "row_number": [2]}, schema_overrides={"row_number": pl.Int64})
    assert not is_ees(frame.columns)
    with pytest.raises(FileRejected, match="does not fit the published schema"):
        validate(frame, ees_schema(frame.columns), set())


NEEDS = ["time_period", "time_identifier", "geographic_level", "breakdown_topic", "breakdown",
         "ehc_plans", "number_asd", "asd_pc"]


@pytest.mark.parametrize("columns,identifiers,topics,kind", [
    (NEEDS, {"Academic year"}, None, "ehcp_needs_all_plans"),
    (NEEDS, {"Calendar year"}, {"All EHC plans", "Sex"}, "ehcp_needs_new_plans"),
    # A 2022-style January snapshot labelled "Calendar year": only its tenure breakdown tells.
    (NEEDS, {"Calendar year"}, {"All EHC plans", "Years EHC plan in place"},
     "ehcp_needs_all_plans"),
    (NEEDS, {"Financial year"}, None, "other"),
    ([c.upper() for c in NEEDS], {"academic year"}, None, "ehcp_needs_all_plans"),
    (["time_period", "EHCPlans"], {"Calendar year"}, None, "ehcp_caseload"),
    (["time_period", "assess_in_year"], {"Calendar year"}, None, "ehcp_assessments"),
    (["time_period", "plans_issued_within_20_weeks"], {"Calendar year"}, None,
     "ehcp_timeliness"),
    (["time_period", "num_pupils"], {"Academic year"}, None, "other"),
])
def test_recognise_uses_headers_and_labels(columns, identifiers, topics, kind):
    assert recognise(columns, identifiers, topics) == kind
