"""Synthetic commissioned places for the sample LA's special schools, RP/units and PRUs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from sendboard.sample.calendar import FINANCIAL_YEARS
from sendboard.sample.establishments import LA_CODE, urn_rng, with_optional_columns

PLACES_COLUMNS: tuple[str, ...] = ("financial_year", "urn", "provision", "funded_places")

# The seed's place plan: places added in a year over the year before (special, resource base).
_SEED_SPECIAL_ADDED = {"2019-20": 87, "2020-21": 56}
_SEED_RESOURCE_ADDED = {"2019-20": 10, "2020-21": 10}
_FY_START = {fy: dt.date(int(fy[:4]), 4, 1) for fy in FINANCIAL_YEARS}


def _backcast(current: np.ndarray, active: np.ndarray, fixed: dict[str, int],
              rate: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Places per (year, school) from this year's places, walking back through expansions.

    ``active`` (year x school) marks the years a school is open. A year's change in total
    places is openings minus closures plus growth at continuing schools; the growth is the
    seed's fixed figure where one is given (met exactly when schools have room), else a
    random rate. Growth goes to one to three schools (expansions are school by school) and
    never takes a school below 40% of today's places.
    """
    n_years, n = active.shape
    out = np.zeros((n_years, n), dtype=np.int64)
    out[-1] = current
    floor = np.ceil(current * 0.4).astype(np.int64)
    for y in range(n_years - 1, 0, -1):
        cur = out[y].copy()
        both = active[y] & active[y - 1]
        opening = int(cur[active[y] & ~active[y - 1]].sum())
        closing = int(cur[active[y - 1] & ~active[y]].sum())
        fixed_inc = fixed.get(FINANCIAL_YEARS[y])
        if fixed_inc is None:
            growth = int(round(cur[both].sum() * rng.uniform(*rate)))
        else:
            growth = fixed_inc - opening + closing
        order = [int(i) for i in rng.permutation(n) if both[i]]
        if growth < 0:
            # Places moved into a new school: continuing schools were larger the year before.
            for k, i in enumerate(order):
                add = -growth // len(order) + (1 if k < -growth % len(order) else 0)
                cur[i] += add
        else:
            chosen = [i for i in order if cur[i] > floor[i]][: int(rng.integers(1, 4))]
            remaining = growth
            for i in chosen + [i for i in order if i not in chosen]:
                take = min(remaining, int(cur[i] - floor[i]))
                if i in chosen and len(chosen) > 1:
                    take = min(take, -(-growth // len(chosen)))
                cur[i] -= max(take, 0)
                remaining -= max(take, 0)
                if remaining == 0:
                    break
            for i in order:  # chosen schools were capped at their share: use any room left
                take = max(min(remaining, int(cur[i] - floor[i])), 0)
                cur[i] -= take
                remaining -= take
        out[y - 1] = cur
    return out


def _open_in(fy: str, open_date: dt.date | None, close_date: dt.date | None,
             status: str | None) -> bool:
    start = _FY_START[fy]
    end = dt.date(start.year + 1, 3, 31)
    if status == "Closed" and close_date is None:
        return False
    return (open_date is None or open_date <= end) and (close_date is None or close_date >= start)


def write_places(establishments: pl.DataFrame, out_dir: Path, seed: int) -> None:
    """Write ``commissioned_places.csv`` for LA 865's special schools, RP/units and PRUs.

    2025-26 places are the frame's ``capacity`` (special schools and PRUs; else ``pupils``;
    a PRU with neither gets 30-90), ``rp_capacity`` and ``unit_capacity``; earlier years walk
    back through the seed's place plan. A school has rows only for years it was open; a
    special school with no capacity or pupils has none.
    """
    rng = np.random.default_rng([seed, 865_004])
    frame = with_optional_columns(establishments)
    frame = frame.filter(pl.col("la_code") == LA_CODE).sort("urn")
    type_l = pl.col("type_name").str.to_lowercase()
    # Specialist post-16 institutions are "special" in name only: DfE counts them as FE.
    special = (type_l.str.contains("special") & ~type_l.str.contains("independent")
               & ~type_l.str.contains("non-maintained") & ~type_l.str.contains("post 16"))
    ap = (type_l == "pupil referral unit") | type_l.str.contains("alternative provision")
    places_now = pl.coalesce("capacity", "pupils")
    pools = {
        "special": (frame.filter(special), places_now, _SEED_SPECIAL_ADDED, (0.02, 0.05)),
        "resourced_provision": (frame.filter(~special & ~ap), pl.col("rp_capacity"),
                                _SEED_RESOURCE_ADDED, (0.02, 0.06)),
        "sen_unit": (frame.filter(~special & ~ap), pl.col("unit_capacity"), {}, (0.0, 0.04)),
        "ap": (frame.filter(ap), places_now, {}, (0.0, 0.03)),
    }
    rows = []
    for provision, (sub, expr, fixed, rate) in pools.items():
        sub = sub.with_columns(expr.alias("_now"))
        if provision == "ap":
            # PRUs often come without a capacity: give them a typical 30-90 places so the
            # sample always has AP rows (stable per URN, like the GIAS decoration).
            sub = sub.with_columns(pl.col("_now").fill_null(pl.col("urn").map_elements(
                lambda urn: int(urn_rng(urn, 865_006).integers(30, 91)),
                return_dtype=pl.Int64)))
        sub = sub.filter(pl.col("_now").fill_null(0) > 0)
        recs = sub.select("urn", "_now", "open_date", "close_date", "status").rows()
        current = np.array([r[1] for r in recs], dtype=np.int64)
        active = np.array([[_open_in(fy, *r[2:]) for r in recs] for fy in FINANCIAL_YEARS],
                          dtype=bool).reshape(len(FINANCIAL_YEARS), len(recs))
        table = _backcast(current, active, fixed, rate, rng)
        for yi, fy in enumerate(FINANCIAL_YEARS):
            for si, urn in enumerate(r[0] for r in recs):
                if active[yi, si]:
                    rows.append((fy, urn, provision, int(table[yi, si])))
    order = {p: i for i, p in enumerate(pools)}
    out = pl.DataFrame(
        rows, orient="row",
        schema={"financial_year": pl.Utf8, "urn": pl.Int64, "provision": pl.Utf8,
                "funded_places": pl.Int64},
    ).sort(pl.col("financial_year"), pl.col("provision").replace_strict(order), pl.col("urn"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out.write_csv(out_dir / "commissioned_places.csv")
