"""The sample's calendar: day-number helpers and its financial years.

Census days live in transforms.calendar (re-exported here).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from transforms.calendar import census_day, january_census_day  # noqa: F401 (re-export)

EPOCH = dt.date(1970, 1, 1)

# The financial years the finance, recovery plan and places extracts cover, April to March.
FINANCIAL_YEARS: tuple[str, ...] = tuple(f"{y}-{(y + 1) % 100:02d}" for y in range(2018, 2026))
# The open year: the sample's as-of date (March 2026) falls in it.
CURRENT_FINANCIAL_YEAR = FINANCIAL_YEARS[-1]


def to_days(d: dt.date) -> int:
    return (d - EPOCH).days


def ymd(days: np.ndarray) -> np.ndarray:
    """Day numbers to yyyymmdd integers: differences of these give whole years of age."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + day


def age_on(dob: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """Whole years of age on a day (day numbers in, ints out)."""
    return (ymd(np.asarray(days) + np.zeros_like(dob)) - ymd(dob)) // 10000


def academic_age(dob: np.ndarray, day: int) -> np.ndarray:
    """Age on 31 August before the academic year that contains `day`: R is 4, Y1 is 5."""
    when = ymd(np.array([day]))[0]
    start_year = when // 10000 - (1 if (when // 100) % 100 < 9 else 0)
    b = ymd(dob)
    return start_year - b // 10000 - ((b // 100) % 100 >= 9)
