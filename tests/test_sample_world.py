"""The sample LA is realistic: its totals follow the published figures it is calibrated to."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

import pytest

from sendboard.sample.census import pupils_on_census
from sendboard.sample.world import NEVER, build_world
from transforms.calendar import january_census_day

WILTSHIRE_CASELOAD = {2019: 3349, 2020: 3784, 2021: 4067, 2022: 4287, 2023: 4760, 2024: 5536,
                      2025: 6383}
# Wiltshire, January 2025 (DfE EHC plans 2025 caseload and sen_needs_all_plans files), %.
WILTSHIRE_PLACEMENT_2025 = {"mainstream": 51.2, "special": 24.9, "fe": 13.2,
                            "educated_elsewhere": 7.5, "early_years": 0.8, "unknown": 2.4}
WILTSHIRE_NEED_2025 = {"ASD": 29.2, "SEMH": 23.3, "SLCN": 22.9, "MLD": 10.2, "SLD": 4.5,
                       "SPLD": 3.9, "PD": 3.2}
EXPORT = dt.date(2026, 3, 26)


def day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


@pytest.fixture(scope="module")
def world():
    return build_world(seed=42, export_date=EXPORT)


def active(world, d: dt.date):
    n = day(d)
    return [p for p in world.plans if p.start <= n < p.cease]


def test_january_caseload_within_3pct_of_wiltshire(world):
    for year, published in WILTSHIRE_CASELOAD.items():
        got = len(active(world, january_census_day(year)))
        assert abs(got - published) / published <= 0.03, (year, got, published)


def test_placement_and_need_mix_close_to_wiltshire_2025(world):
    kinds = world.establishments.frame["kind"].to_list()
    group = {"primary": "mainstream", "secondary": "mainstream", "indep": "mainstream",
             "la_special": "special", "academy_special": "special", "iss": "special",
             "nmss": "special", "pru": "ap_pru", "fe": "fe", "post16": "fe"}
    n = day(january_census_day(2025))
    plans = active(world, january_census_day(2025))
    placed: Counter = Counter()
    for p in plans:
        g = "unknown"
        for s, e, row, setting in p.segments:
            if s <= n < e:
                g = (group[kinds[row]] if row >= 0 else
                     {"EYP": "early_years", "UNKNOWN": "unknown"}.get(setting,
                                                                     "educated_elsewhere"))
        placed[g] += 1
    for g, published in WILTSHIRE_PLACEMENT_2025.items():
        assert abs(100 * placed[g] / len(plans) - published) <= 2.5, (g, placed[g])
    needs = Counter(p.need for p in plans)
    for need, published in WILTSHIRE_NEED_2025.items():
        assert abs(100 * needs[need] / len(plans) - published) <= 2.5, (need, needs[need])


def test_a_census_has_about_70000_pupils_with_realistic_sen(world):
    census = pupils_on_census(world, day(january_census_day(2025)))
    on_roll = census.filter(census["enrol"] != "S")
    assert 68_000 <= on_roll.height <= 78_000
    share = on_roll["provision"].value_counts(normalize=True)
    pct = {r[0]: 100 * r[1] for r in share.iter_rows()}
    assert 11 <= pct["K"] <= 15
    assert 3 <= pct["E"] <= 7
    assert set(census["enrol"]) == {"C", "M", "S"}


def test_plans_have_histories_with_moves_and_ceasings(world):
    assert sum(len(p.segments) > 1 for p in world.plans) > 3000
    ceased = [p for p in world.plans if p.cease < NEVER]
    assert len(ceased) > 2000
    assert {p.reason for p in ceased} >= set(range(1, 9))
    assert sum(1 for p in world.plans if p.transfer_la) > 1000


def test_sample_is_deterministic_for_a_seed(tmp_path):
    from sendboard.sample import write_sample

    def digest(folder):
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    write_sample(tmp_path / "a", seed=3, cohort_size=40, last_year=2016)
    write_sample(tmp_path / "b", seed=3, cohort_size=40, last_year=2016)
    write_sample(tmp_path / "c", seed=4, cohort_size=40, last_year=2016)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert a != c
    assert sorted(k.split("/")[0] for k in a) == sorted(
        ["census"] * 5 + ["sen2"] * 9 + ["establishments"] + ["finance"] * 2
        + ["recovery_plan", "places", "population"])
