"""School census days (the DfE's census guide)."""

from __future__ import annotations

import datetime as dt


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday (Monday=0) of a month."""
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def census_day(year: int, term: str) -> dt.date:
    """Autumn: 1st Thursday of October; spring: 3rd Thursday of January (the January census
    day SEN2 counts plans on); summer: 3rd Thursday of May."""
    if term == "autumn":
        return nth_weekday(year, 10, 3, 1)
    if term == "spring":
        return nth_weekday(year, 1, 3, 3)
    if term == "summer":
        return nth_weekday(year, 5, 3, 3)
    raise ValueError(f"unknown census term {term!r}: expected autumn, spring or summer")


def january_census_day(year: int) -> dt.date:
    return census_day(year, "spring")
