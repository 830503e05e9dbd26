"""The sample census's attendance and exclusions (the Blade layout's `termlysessionspossible`,
`termlysessiondetailsonroll` and `termlyexclusionsonroll`, the leavers' `*offroll` twins and
autumn's summer half-term 2 tables): the term before each census.

Drawn from a random stream of their own (seeded by the sample's seed and the census), so the
pupils, plans and every other table of a seed are exactly as they were without them.
Realistic rather than real: absence about 5.5% of sessions for pupils with no SEN, 9% on SEN
support and 10.5% with an EHC plan (about 6% overall; England's was 6-7% in the years after
2021), persistent absence about 18%, 30% and 35%; suspensions mostly of secondary pupils on
SEN support or with a plan, and a few permanent exclusions, most of them of leavers.
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
                      ) -> tuple[np.ndarray, pl.DataFrame, pl.DataFrame, np.ndarray]:
    """For the census's pupil rows (`provision`, `nc`, `enrol`, in file order): each row's
    possible sessions; the sessions-missed rows (`row`, `attendancereason`, `sessions`); the
    exclusion rows (`row`, `startdate` as a date, `sessions`, `category`, `senprovision`);
    and which rows joined part-way through the term."""
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
    details = _reasons(rng, rng.binomial(possible, rate), year, term)
    return possible, details, _exclusions(rng, pupils, provision, year, term), joined


def _reasons(rng: np.random.Generator, missed: np.ndarray, year: int, term: str
             ) -> pl.DataFrame:
    """Each row's sessions missed split into authorised and unauthorised reasons: a
    sessions-details row (`row`, `attendancereason`, `sessions`) a reason with any."""
    authorised = rng.binomial(missed, AUTHORISED_SHARE)
    codes, shares = _codes(year, term)
    parts = [(codes, rng.multinomial(authorised, shares)),
             (UNAUTHORISED[0], rng.multinomial(missed - authorised, UNAUTHORISED[1]))]
    rows = [pl.DataFrame({"row": np.arange(len(missed)), "attendancereason": code,
                          "sessions": counts[:, k]}).filter(pl.col("sessions") > 0)
            for names, counts in parts for k, code in enumerate(names)]
    return pl.concat(rows).sort("row", "attendancereason")


# Leavers (pupilnolongeronroll): pupils on roll at the census before who are not on that
# school's roll at this one, and pupils who moved school during the term (a leaver of the
# school before, on the roll of the new one: MOVED of those who joined part-way). They miss
# more than those who stay (a move, an exclusion, a family in difficulty), are suspended
# more often, and most permanent exclusions are theirs: a permanently excluded pupil is off
# the school's roll by the next census.
MOVED = 0.6
LEAVER_ABSENCE = 1.4
LEAVER_SUSPENDED = 1.5
LEAVER_PERMANENT = {"secondary": {"N": 0.008, "K": 0.04, "E": 0.03},
                    "primary": {"N": 0.0005, "K": 0.004, "E": 0.004}}
# Autumn: the summer term's second half (spring bank holiday to 31 July), apart.
SUMMER_HALF_TERM_2 = 66
# Year 11 (aged 15) after their exams: much of the second half is study leave (code S).
STUDY_LEAVE = 0.4


def leavers_attendance(leavers: pl.DataFrame, seed: int, census: int, year: int, term: str
                       ) -> tuple[np.ndarray, np.ndarray, pl.DataFrame, pl.DataFrame]:
    """For the leavers (`provision`, `nc`, `enrol` at the census before, and `given`: a
    mover's sessions before the move, else null): their possible sessions in the term
    before the census, up to the day they left; in autumn whether
    they stayed to the end of the summer term (the second half is theirs then); their
    sessions-missed rows and exclusion rows (as census_attendance's). A random stream of
    its own."""
    rng = np.random.default_rng([seed, 18, census])
    n = leavers.height
    provision = leavers["provision"].replace(LEGACY).to_numpy().astype(str)
    base = POSSIBLE[term]
    # Most of an autumn census's leavers left at the end of the summer term (a new
    # school, the end of year 11); the rest, and every other term's, part-way.
    whole = rng.random(n) < (0.8 if term == "autumn" else 0.0)
    possible = np.where(whole, base, rng.integers(max(base // 5, 1), base + 1, n))
    given = leavers["given"].to_numpy()
    possible = np.where(np.isnan(given), possible, given).astype(np.int64)
    possible = np.where(leavers["enrol"].to_numpy().astype(str) == "S",
                        np.minimum(possible, SUBSIDIARY_SESSIONS), possible)
    mean = np.minimum(np.vectorize(ABSENCE_MEAN.get)(provision) * LEAVER_ABSENCE, 0.9)
    rate = rng.beta(mean * SPREAD, (1 - mean) * SPREAD)
    details = _reasons(rng, rng.binomial(possible, rate), year, term)
    suspended = {p: {c: v * LEAVER_SUSPENDED for c, v in by.items()}
                 for p, by in SUSPENDED.items()}
    exclusions = _exclusions(rng, leavers, provision, year, term, suspended,
                             LEAVER_PERMANENT)
    return possible, whole, details, exclusions


def summer_half_term_2(pupils: pl.DataFrame, stayed: np.ndarray, aged_15: np.ndarray,
                       seed: int, census: int, year: int, stream: int
                       ) -> tuple[np.ndarray, pl.DataFrame]:
    """An autumn census's summer half-term 2 for its rows (`provision`, `enrol`): possible
    sessions for those at the school to the end of the summer term (`stayed`; 0 for the
    others), and their sessions-missed rows, year 11's (`aged_15`) mostly study leave.
    `stream` keeps the pupils' and the leavers' draws apart."""
    rng = np.random.default_rng([seed, stream, census])
    provision = pupils["provision"].replace(LEGACY).to_numpy().astype(str)
    enrol = pupils["enrol"].to_numpy().astype(str)
    possible = np.where(stayed, np.where(enrol == "S", SUBSIDIARY_SESSIONS // 2,
                                         SUMMER_HALF_TERM_2), 0)
    mean = np.vectorize(ABSENCE_MEAN.get)(provision)
    missed = rng.binomial(possible, rng.beta(mean * SPREAD, (1 - mean) * SPREAD))
    details = _reasons(rng, missed, year, "autumn")
    leave = np.where(aged_15, rng.binomial(possible - missed, STUDY_LEAVE), 0)
    study = pl.DataFrame({"row": np.arange(len(leave)), "attendancereason": "S",
                          "sessions": leave}).filter(pl.col("sessions") > 0)
    # (A pupil with S among their reasons already has it added to, not a second S row.)
    details = pl.concat([details, study]).group_by("row", "attendancereason").agg(
        pl.col("sessions").sum()).sort("row", "attendancereason")
    return possible, details


def _exclusions(rng: np.random.Generator, pupils: pl.DataFrame, provision: np.ndarray,
                year: int, term: str, suspended_chance: dict = SUSPENDED,
                permanent_chance: dict = PERMANENT) -> pl.DataFrame:
    nc = pupils["nc"].to_numpy().astype(str)
    main = pupils["enrol"].to_numpy().astype(str) != "S"
    phase = np.where(np.isin(nc, list(SECONDARY)), "secondary",
                     np.where(np.isin(nc, list(PRIMARY)), "primary", ""))
    chance = np.zeros(len(nc))
    permanent = np.zeros(len(nc))
    for p in ("secondary", "primary"):
        for code in ("N", "K", "E"):
            at = (phase == p) & (provision == code) & main
            chance[at] = suspended_chance[p][code]
            permanent[at] = permanent_chance[p][code]
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
