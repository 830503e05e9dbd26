"""The sample census's attendance and exclusions (the Blade layout's `termlysessionspossible`,
`termlysessiondetailsonroll` and `termlyexclusionsonroll`): the term before each census.

Drawn from a random stream of their own (seeded by the sample's seed and the census), so the
pupils, plans and every other table of a seed are exactly as they were without them.
Realistic rather than real: absence about 5.5% of sessions for pupils with no SEN, 9% on SEN
support and 10.5% with an EHC plan (about 6% overall; England's was 6-7% in the years after
2021), persistent absence about 18%, 30% and 35%; suspensions mostly of secondary pupils on
SEN support or with a plan, and a few permanent exclusions.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from transforms.attendance_kpis import easter_sunday

# Mean share of sessions missed by SEN provision (legacy S, A, P as E, K, K), and how spread
# pupils are around it (a beta distribution: a few pupils miss a great deal).
ABSENCE_MEAN = {"N": 0.055, "K": 0.09, "E": 0.105}
LEGACY = {"S": "E", "A": "K", "P": "K"}
SPREAD = 4.0
AUTHORISED_SHARE = 0.72
# Possible sessions in the term a census reports: autumn census, the summer term's first
# half; spring census, the autumn term; summer census, the spring term.
POSSIBLE = {"autumn": 58, "spring": 142, "summer": 118}
SUBSIDIARY_SESSIONS = 20  # a dual-registered pupil's sessions at the PRU
# The chance a pupil is suspended at least once in a term, by phase and provision.
SUSPENDED = {"secondary": {"N": 0.025, "K": 0.10, "E": 0.07},
             "primary": {"N": 0.002, "K": 0.015, "E": 0.025}}
PERMANENT = {"secondary": {"N": 0.0003, "K": 0.0015, "E": 0.001},
             "primary": {"N": 0.0, "K": 0.0001, "E": 0.0001}}
SECONDARY = {str(y) for y in range(7, 12)}
PRIMARY = {"R", *(str(y) for y in range(1, 7))}


def _codes(year: int, term: str) -> tuple[list[str], list[float]]:
    """Authorised absence reasons and their shares: H (holiday) until the 2024-25 codes,
    which replaced it; C2 (part-time timetable) from them."""
    new = (year, term) >= (2024, "autumn") if term == "autumn" else year >= 2025
    return ["I", "M", "C", "R", "T", "C2" if new else "H"], [0.55, 0.12, 0.14, 0.03, 0.02,
                                                             0.14]


UNAUTHORISED = (["O", "G", "N", "U"], [0.40, 0.25, 0.25, 0.10])


def _term_dates(year: int, term: str) -> tuple[dt.date, dt.date]:
    """The first and last school day of the term a census reports exclusions for."""
    if term == "spring":
        return dt.date(year - 1, 9, 4), dt.date(year - 1, 12, 19)
    easter = easter_sunday(year)
    if term == "summer":
        return dt.date(year, 1, 6), easter - dt.timedelta(days=3)
    return easter + dt.timedelta(days=8), dt.date(year, 7, 18)


def susp_code(year: int, term: str) -> str:
    """Suspensions were `FIXD` (fixed period) until the 2020-21 schemas named them `SUSP`."""
    return "SUSP" if (year, term) >= (2020, "autumn") or year >= 2021 else "FIXD"


def census_attendance(pupils: pl.DataFrame, seed: int, census: int, year: int, term: str
                      ) -> tuple[np.ndarray, pl.DataFrame, pl.DataFrame]:
    """For the census's pupil rows (`provision`, `nc`, `enrol`, in file order): each row's
    possible sessions; the sessions-missed rows (`row`, `attendancereason`, `sessions`); the
    exclusion rows (`row`, `startdate` as a date, `sessions`, `category`, `senprovision`)."""
    rng = np.random.default_rng([seed, 17, census])
    n = pupils.height
    provision = pupils["provision"].replace(LEGACY).to_numpy().astype(str)
    enrol = pupils["enrol"].to_numpy().astype(str)
    base = POSSIBLE[term]
    possible = np.full(n, base, dtype=np.int64)
    joined = rng.random(n) < 0.05  # joined part-way through the term
    possible[joined] = rng.integers(base // 4, base, joined.sum())
    possible[enrol == "M"] = np.maximum(possible[enrol == "M"] - SUBSIDIARY_SESSIONS, 10)
    possible[enrol == "S"] = SUBSIDIARY_SESSIONS
    mean = np.vectorize(ABSENCE_MEAN.get)(provision)
    rate = rng.beta(mean * SPREAD, (1 - mean) * SPREAD)
    missed = rng.binomial(possible, rate)
    authorised = rng.binomial(missed, AUTHORISED_SHARE)
    codes, shares = _codes(year, term)
    parts = [(codes, rng.multinomial(authorised, shares)),
             (UNAUTHORISED[0], rng.multinomial(missed - authorised, UNAUTHORISED[1]))]
    rows = [pl.DataFrame({"row": np.arange(n), "attendancereason": code,
                          "sessions": counts[:, k]}).filter(pl.col("sessions") > 0)
            for names, counts in parts for k, code in enumerate(names)]
    details = pl.concat(rows).sort("row", "attendancereason")
    return possible, details, _exclusions(rng, pupils, provision, year, term)


def _exclusions(rng: np.random.Generator, pupils: pl.DataFrame, provision: np.ndarray,
                year: int, term: str) -> pl.DataFrame:
    nc = pupils["nc"].to_numpy().astype(str)
    main = pupils["enrol"].to_numpy().astype(str) != "S"
    phase = np.where(np.isin(nc, list(SECONDARY)), "secondary",
                     np.where(np.isin(nc, list(PRIMARY)), "primary", ""))
    chance = np.zeros(len(nc))
    permanent = np.zeros(len(nc))
    for p in ("secondary", "primary"):
        for code in ("N", "K", "E"):
            at = (phase == p) & (provision == code) & main
            chance[at], permanent[at] = SUSPENDED[p][code], PERMANENT[p][code]
    suspended = np.flatnonzero(rng.random(len(nc)) < chance)
    times = 1 + rng.poisson(0.6, len(suspended))
    rows = np.concatenate([np.repeat(suspended, times),
                           np.flatnonzero(rng.random(len(nc)) < permanent)])
    kinds = np.concatenate([np.where(rng.random(times.sum()) < 0.05, "LNCH",
                                     susp_code(year, term)),
                            np.full(len(rows) - times.sum(), "PERM")])
    first, last = _term_dates(year, term)
    days = rng.integers(0, (last - first).days + 1, len(rows))
    written = pupils["provision"].to_numpy().astype(str)[rows]
    return pl.DataFrame({
        "row": rows, "startdate": [first + dt.timedelta(days=int(d)) for d in days],
        "sessions": np.where(kinds == "LNCH", 1, rng.integers(1, 11, len(rows))),
        "category": kinds,
        # Most records give the pupil's provision; some leave it blank.
        "senprovision": np.where(rng.random(len(rows)) < 0.8, written, "")},
        schema_overrides={"startdate": pl.Date}).sort("row", "startdate")
