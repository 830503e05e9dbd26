"""Synthetic ONS mid-year population estimates for the sample LA, by single year of age."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from sendboard.sample.establishments import NEW_LA_CODE

POPULATION_COLUMNS: tuple[str, ...] = ("new_la_code", "year", "age", "sex", "population")
POPULATION_YEARS: tuple[int, ...] = tuple(range(2013, 2026))

# Cohort size relative to recent births: the 1947 and 1964 baby booms, the 1970s trough.
_COHORT_KNOTS = (
    (1890, 0.85), (1920, 1.0), (1933, 0.82), (1947, 1.12), (1952, 0.95), (1964, 1.22),
    (1977, 0.86), (1990, 1.0), (2030, 1.0),
)
# Survival and net migration by age, relative to the cohort at birth: families move in with
# young children, 18-22s leave for university and work, retirees move in, then mortality.
_AGE_KNOTS = (
    (0, 1.0), (10, 1.06), (17, 1.10), (20, 0.93), (23, 0.97), (30, 1.06), (40, 1.16),
    (55, 1.22), (65, 1.22), (72, 1.15), (80, 0.88), (85, 0.62), (89, 0.38),
)
# Share of 90+ (one row) relative to one year of births.
_AGE_90_PLUS = 0.95


def write_population(out_dir: Path, births_per_year: int, seed: int) -> None:
    """Write ``ons_mid_year_estimates.csv`` (E06000054, mid-2013 to mid-2025, ages 0-90+).

    Each single year of age 0-25 is about ``births_per_year`` (both sexes, +-3% by birth
    cohort); the total is about 96 x ``births_per_year`` (about 510k at 5,300 births).
    """
    rng = np.random.default_rng([seed, 865_005])
    ages = np.arange(91)
    years = np.array(POPULATION_YEARS)
    cohorts = np.arange(years.min() - 90, years.max() + 1)
    cohort_noise = dict(zip(cohorts.tolist(), rng.uniform(-0.03, 0.03, size=len(cohorts)),
                            strict=True))
    age_factor = np.interp(ages, *zip(*_AGE_KNOTS, strict=True))
    rows = []
    for year in years:
        # Mild growth in adult in-migration keeps the county growing about 0.5% a year.
        adult_trend = 1 + 0.005 * (year - 2019)
        for age in ages:
            cohort = int(year - age)
            if age == 90:
                total = births_per_year * _AGE_90_PLUS * (1 + 0.02 * (year - 2019))
            else:
                size = np.interp(cohort, *zip(*_COHORT_KNOTS, strict=True))
                total = births_per_year * size * age_factor[age] * (1 + cohort_noise[cohort])
                if age > 25:
                    total *= adult_trend
            total *= rng.uniform(0.995, 1.005)
            # Boys outnumber girls at birth; women outlive men.
            male_share = 0.512 if age < 50 else float(np.interp(age, (50, 75, 90),
                                                                 (0.495, 0.47, 0.33)))
            males = int(round(total * male_share))
            rows.append((NEW_LA_CODE, int(year), int(age), "M", males))
            rows.append((NEW_LA_CODE, int(year), int(age), "F", int(round(total)) - males))
    frame = pl.DataFrame(
        rows, orient="row",
        schema={"new_la_code": pl.Utf8, "year": pl.Int64, "age": pl.Int64, "sex": pl.Utf8,
                "population": pl.Int64},
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out_dir / "ons_mid_year_estimates.csv")
