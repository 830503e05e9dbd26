"""A synthetic county LA's children and EHC plans, 2014 to 2026.

One coherent world that both the school census and the SEN2 export are written from, so that
an EHCP pupil in the census is a plan in SEN2 placed at that school. The yearly EHC plan flows
(new plans, transfers in, ceasings) are drawn so that the January caseload follows
Wiltshire's published series; who gets a plan, with what need and where they are placed is
random, with rates close to the published mixes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sendboard.sample.calendar import age_on, january_census_day, to_days
from sendboard.sample.establishments import (
    LA_CODE,
    N_AREAS,
    NEIGHBOURS,
    Establishments,
    build_establishments,
)

NEVER = 2**31 - 1
# Children per birth year in the county sample: ~70,000 pupils in its schools.
COUNTY_COHORT = 6800

# January caseload: the seed's local counts to 2018, Wiltshire's published SEN2 series for
# 2019-2025 (EHCP 2025 release), 2026 extrapolated.
CASELOAD_TARGET = {2014: 1875, 2015: 1992, 2016: 2342, 2017: 2733, 2018: 2982, 2019: 3349,
                   2020: 3784, 2021: 4067, 2022: 4287, 2023: 4760, 2024: 5536, 2025: 6383,
                   2026: 7230}
# New plans issued per census year (published Wiltshire 2019-2024; the seed before).
NEW_PLANS_TARGET = {2014: 292, 2015: 382, 2016: 392, 2017: 415, 2018: 553, 2019: 599,
                    2020: 452, 2021: 428, 2022: 574, 2023: 909, 2024: 993, 2025: 1060}
# Share of new plans issued within 20 weeks (published Wiltshire 2019-2024).
WITHIN_20_WEEKS = {2014: 0.64, 2015: 0.60, 2016: 0.57, 2017: 0.61, 2018: 0.66, 2019: 0.71,
                   2020: 0.50, 2021: 0.25, 2022: 0.14, 2023: 0.28, 2024: 0.33, 2025: 0.37,
                   2026: 0.41}
# Primary need mix of Wiltshire's caseload, January 2025.
NEED_MIX = {"ASD": 29.2, "SEMH": 23.3, "SLCN": 22.9, "MLD": 10.2, "SLD": 4.5, "SPLD": 3.9,
            "PD": 3.2, "HI": 1.4, "PMLD": 0.7, "VI": 0.5, "OTH": 0.2, "MSI": 0.1}
# Chance a plan's holder is on the special school track, by primary need.
SPECIAL_TRACK = {"ASD": 0.27, "SEMH": 0.24, "SLCN": 0.06, "MLD": 0.26, "SLD": 0.85,
                 "SPLD": 0.05, "PD": 0.28, "HI": 0.15, "PMLD": 0.95, "VI": 0.15, "OTH": 0.14,
                 "MSI": 0.45}
# Needs of SEN support pupils (school census), with NSA.
SEN_SUPPORT_NEEDS = {"SLCN": 24, "SEMH": 20, "MLD": 18, "SPLD": 13, "ASD": 9, "NSA": 5,
                     "OTH": 4, "PD": 3, "HI": 1.6, "VI": 0.8, "MSI": 0.2}
# Relative chance of a new plan by age at issue (peaks at school entry and transfer).
_ISSUE_AGE_WEIGHT = np.array([0.3, 1.2, 3.5, 5.5, 6.5, 5.5, 4.5, 4.0, 3.6, 3.5, 3.6, 3.2,
                              2.9, 2.6, 2.3, 2.0, 1.4, 0.9, 0.5, 0.35, 0.15, 0.1, 0.08, 0.05,
                              0.03])
# Relative chance of a plan ceasing by age (most end as young people leave education).
_CEASE_AGE_WEIGHT = np.array([0.1] * 16 + [0.9, 1.2, 2.4, 4.5, 3.6, 3.0, 2.6, 2.4, 2.4, 2.4])

_FORENAMES = np.array([
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy",
    "Leo", "Lily", "Arthur", "Freya", "Oscar", "Florence", "Charlie", "Evie", "Jacob",
    "Grace", "Thomas", "Sophia", "Alfie", "Poppy", "Henry", "Ella", "Theo", "Willow",
    "Archie", "Rosie", "Joshua", "Daisy", "Finley", "Phoebe", "Max", "Sienna", "Ethan",
    "Millie", "Mohammed", "Aisha", "Zain", "Maya", "Kai", "Zara", "Reuben", "Niamh",
    "Dylan", "Erin"
])
_SURNAMES = np.array([
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
    "Hall", "Wood", "Jackson", "Clarke", "Patel", "Khan", "Lewis", "James", "Phillips",
    "Mason", "Mitchell", "Rose", "Davis", "Rodriguez", "Cox", "Alexander", "Garden",
    "Campbell", "Johnston", "Moore", "Smyth", "O’Neill", "Doherty", "Stewart", "Quinn",
    "Murphy", "Graham", "Mclaughlin", "Hamilton", "Murray", "Hughes", "Robertson",
    "Thomson", "Scott", "Macdonald", "Reid", "Clark", "Ross", "Young", "Watson", "Paterson",
    "Morrison"
])
_ETHNICITY = (np.array(["WBRI", "WOTH", "MWBC", "MOTH", "AIND", "APKN", "BAFR", "CHNE",
                        "OOTH", "REFU"]),
              np.array([0.84, 0.05, 0.02, 0.02, 0.01, 0.01, 0.015, 0.005, 0.01, 0.02]))


@dataclass
class Children:
    """Every child who lives in the LA at some time, as parallel arrays (one row a child)."""

    dob: np.ndarray
    sex: np.ndarray  # "M"/"F"
    area: np.ndarray
    arrive: np.ndarray  # day number the child is first in the LA
    depart: np.ndarray  # day number the child leaves (NEVER if not)
    primary: np.ndarray  # row index into establishments
    secondary: np.ndarray
    u_school: np.ndarray  # latent draws that keep a child's states stable across censuses
    u_sixth: np.ndarray
    u_nursery: np.ndarray
    u_sen: np.ndarray
    u_fsm: np.ndarray
    u_dual: np.ndarray
    sen_need: np.ndarray  # need if on SEN support
    forename: np.ndarray
    surname: np.ndarray
    postcode: np.ndarray
    ethnicity: np.ndarray
    upn: np.ndarray
    uln: np.ndarray

    def __len__(self) -> int:
        return len(self.dob)


@dataclass
class Plan:
    child: int
    start: int
    cease: int = NEVER
    reason: int = 0
    transfer_la: str = ""
    converted: bool = False  # a statement converted to an EHC plan (stock at 2014)
    need: str = ""
    need2: str = ""
    special: bool = False
    segments: list[tuple[int, int, int, str]] = field(default_factory=list)
    # (entry, leaving, establishment row or -1, sensetting/flags)


@dataclass
class World:
    establishments: Establishments
    children: Children
    plans: list[Plan]
    export_day: int
    scale: float
    seed: int


def _upn_check_letter(body: str) -> str:
    alphabet = "ABCDEFGHJKLMNPQRTUVWXYZ0123456789"
    return alphabet[sum(i * alphabet.index(c) for i, c in enumerate(body, 2)) % 23]


def _make_upns(rng: np.random.Generator, la: np.ndarray, estab: np.ndarray,
               year: np.ndarray) -> np.ndarray:
    """Valid UPNs (check letter + LA + establishment + year + serial), unique."""
    seen: dict[str, int] = {}
    out = np.empty(len(la), dtype=object)
    for i, (a, e, y) in enumerate(zip(la, estab, year, strict=True)):
        key = f"{a}{e}{y:02d}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n > 999:  # an over-full establishment-year: spill into the next year's serials
            key = f"{a}{e}{(y + 1 + n // 1000) % 100:02d}"
            n %= 1000
        body = f"{key}{n:03d}"
        out[i] = _upn_check_letter(body) + body
    return out


def _choice(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(mix))
    p = np.array(list(mix.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def build_children(rng: np.random.Generator, est: Establishments, cohort_size: int,
                   spare: int) -> Children:
    """Birth cohorts Sept 1988 to Aug 2025 plus a pool of `spare` children for transfers in."""
    first, last = to_days(dt.date(1988, 9, 1)), to_days(dt.date(2025, 8, 31))
    n_cohorts = 37
    n = n_cohorts * cohort_size + spare
    dob = rng.integers(first, last + 1, size=n)
    eighteen = 18 * 365
    moved_in = rng.random(n) < 0.15
    arrive = np.where(moved_in, dob + rng.integers(0, eighteen, size=n), dob)
    leaves = rng.random(n) < 0.15
    depart = np.where(leaves, dob + rng.integers(180, eighteen, size=n), NEVER)
    depart = np.where(depart <= arrive, NEVER, depart)
    arrive[n - spare:] = NEVER  # the spare pool is placed when a plan transfers in
    area = rng.choice(N_AREAS, size=n, p=_area_weights())
    primary = np.empty(n, dtype=np.int64)
    secondary = np.empty(n, dtype=np.int64)
    for a in range(N_AREAS):
        idx = np.flatnonzero(area == a)
        primary[idx] = rng.choice(est.primaries_by_area[a], size=len(idx))
        secondary[idx] = rng.choice(est.secondaries_by_area[a], size=len(idx))
    frame = est.frame
    estab = frame["estab_number"].to_numpy()
    origin = np.array(list(NEIGHBOURS))[rng.integers(0, len(NEIGHBOURS), size=n)]
    la = np.where(moved_in, origin, LA_CODE)
    upn_estab = np.where(moved_in, rng.integers(2000, 5000, size=n).astype(str),
                         estab[primary])
    birth_year = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
    upn = _make_upns(rng, la, upn_estab, (birth_year + 4) % 100)
    uln = np.char.add("5", rng.integers(100_000_000, 999_999_999, size=n).astype(str))
    eth, p = _ETHNICITY
    return Children(
        dob=dob, sex=np.where(rng.random(n) < 0.512, "M", "F"), area=area, arrive=arrive,
        depart=depart, primary=primary, secondary=secondary, u_school=rng.random(n),
        u_sixth=rng.random(n), u_nursery=rng.random(n), u_sen=rng.random(n),
        u_fsm=rng.random(n), u_dual=rng.random(n),
        sen_need=_choice(rng, SEN_SUPPORT_NEEDS, n),
        forename=_FORENAMES[rng.integers(0, len(_FORENAMES), size=n)],
        surname=_SURNAMES[rng.integers(0, len(_SURNAMES), size=n)],
        postcode=_postcodes(rng, area), ethnicity=eth[rng.choice(len(eth), size=n, p=p)],
        upn=upn, uln=uln,
    )


def _area_weights() -> np.ndarray:
    w = np.array([1.6, 1.4, 1.4, 1.1, 0.8, 1.0, 0.9, 0.8, 0.8, 0.7, 0.9, 0.6, 0.6, 1.0, 0.6,
                  0.5, 0.4, 0.4])
    return w / w.sum()


def _postcodes(rng: np.random.Generator, area: np.ndarray) -> np.ndarray:
    from sendboard.sample.establishments import postcode_for

    return postcode_for(rng, area)


def simulate_plans(rng: np.random.Generator, ch: Children, scale: float,
                   export_day: int, first_spare: int) -> list[Plan]:
    """Draw the EHC plans: the 2014 stock, then each census year's new plans, transfers in
    and ceasings, so that each January's caseload meets its target."""
    plans: list[Plan] = []
    active: list[int] = []
    holder = np.zeros(len(ch), dtype=bool)  # child holds an active plan
    next_spare = first_spare
    years = sorted(y for y in CASELOAD_TARGET if to_days(january_census_day(y)) <= export_day)
    c0 = to_days(january_census_day(years[0]))

    # The 2014 stock: statements, converted to EHC plans from September 2014.
    ages = age_on(ch.dob, c0)
    present = (ch.arrive <= c0) & (c0 < ch.depart) & (ch.depart == NEVER)
    w = np.where(present & (ages >= 2) & (ages <= 19), np.interp(ages, [2, 5, 10, 15, 19],
                                                                 [0.2, 1, 1.3, 1.2, 0.4]), 0)
    stock = rng.choice(len(ch), size=round(CASELOAD_TARGET[years[0]] * scale), replace=False,
                       p=w / w.sum())
    for c in stock:
        earliest = max(int(ch.dob[c]) + 2 * 365, to_days(dt.date(2004, 1, 1)), int(ch.arrive[c]))
        start = int(rng.integers(earliest, c0)) if earliest < c0 else c0
        plans.append(Plan(child=int(c), start=start, converted=True))
        active.append(len(plans) - 1)
        holder[c] = True

    for y in years[:-1]:
        lo = to_days(january_census_day(y))
        hi = to_days(january_census_day(y + 1))
        target_next = round(CASELOAD_TARGET[y + 1] * scale)
        n_new = round(NEW_PLANS_TARGET[y] * scale)
        n_transfer = round(0.035 * CASELOAD_TARGET[y] * scale)
        # Forced ceasings: the 25th birthday.
        still: list[int] = []
        for p in active:
            b25 = _birthday(int(ch.dob[plans[p].child]), 25)
            if b25 <= hi:
                plans[p].cease, plans[p].reason = max(b25, lo + 1), 1
                holder[plans[p].child] = False
            else:
                still.append(p)
        active = still
        n_cease = max(0, len(active) + n_new + n_transfer - target_next)
        if n_cease:
            ages = age_on(ch.dob[[plans[p].child for p in active]], (lo + hi) // 2)
            w = _CEASE_AGE_WEIGHT[np.clip(ages, 0, len(_CEASE_AGE_WEIGHT) - 1)]
            pick = set(rng.choice(len(active), size=min(n_cease, len(active)), replace=False,
                                  p=w / w.sum()).tolist())
            still = []
            for k, p in enumerate(active):
                if k not in pick:
                    still.append(p)
                    continue
                plan = plans[p]
                age = int(ages[k])
                plan.cease = int(rng.integers(lo + 1, hi + 1))
                plan.reason = int(_cease_reason(rng, age))
                if plan.cease <= plan.start:
                    plan.cease = plan.start + 1
                holder[plan.child] = False
                if plan.reason in (5, 7, 8):  # the child leaves the LA (or has died)
                    ch.depart[plan.child] = plan.cease
            active = still
        # New plans, drawn from children living here without one.
        when = rng.integers(lo + 1, hi + 1, size=len(ch))
        ages = age_on(ch.dob, when)
        ok = ((ch.arrive <= when) & (when < ch.depart) & (ch.depart == NEVER) & ~holder
              & (ages >= 0) & (ages < len(_ISSUE_AGE_WEIGHT)))
        w = np.where(ok, _ISSUE_AGE_WEIGHT[np.clip(ages, 0, len(_ISSUE_AGE_WEIGHT) - 1)], 0.0)
        for c in rng.choice(len(ch), size=n_new, replace=False, p=w / w.sum()):
            plans.append(Plan(child=int(c), start=int(when[c])))
            active.append(len(plans) - 1)
            holder[c] = True
        # Transfers in: a child with a plan moves into the LA.
        for _ in range(n_transfer):
            c = next_spare
            next_spare += 1
            day = int(rng.integers(lo + 1, hi + 1))
            age = int(rng.choice(np.arange(3, 21), p=_TRANSFER_AGE / _TRANSFER_AGE.sum()))
            ch.dob[c] = day - age * 365 - int(rng.integers(0, 365))
            ch.arrive[c], ch.depart[c] = day, NEVER
            la = list(NEIGHBOURS)[int(rng.integers(0, len(NEIGHBOURS)))]
            plans.append(Plan(child=c, start=day, transfer_la=la))
            active.append(len(plans) - 1)
            holder[c] = True

    # The months of the last year up to the export: new plans at the latest rate.
    lo = to_days(january_census_day(years[-1]))
    fraction = max(0, export_day - lo) / 365
    when = rng.integers(lo + 1, max(lo + 2, export_day), size=len(ch))
    ages = age_on(ch.dob, when)
    ok = ((ch.arrive <= when) & (when < ch.depart) & (ch.depart == NEVER) & ~holder
          & (ages >= 0) & (ages < len(_ISSUE_AGE_WEIGHT)))
    w = np.where(ok, _ISSUE_AGE_WEIGHT[np.clip(ages, 0, len(_ISSUE_AGE_WEIGHT) - 1)], 0.0)
    n_new = round(NEW_PLANS_TARGET[years[-1] - 1] * 1.08 * scale * fraction)
    for c in rng.choice(len(ch), size=n_new, replace=False, p=w / w.sum()):
        plans.append(Plan(child=int(c), start=int(when[c])))
        holder[c] = True
    for p in active:
        b25 = _birthday(int(ch.dob[plans[p].child]), 25)
        if b25 <= export_day:
            plans[p].cease, plans[p].reason = max(b25, lo + 1), 1
    return plans


_TRANSFER_AGE = np.interp(np.arange(3, 21), [3, 6, 10, 14, 17, 20], [0.5, 1, 1.1, 1, 0.6, 0.2])


def _birthday(dob: int, years: int) -> int:
    d = dt.date(1970, 1, 1) + dt.timedelta(days=dob)
    try:
        b = d.replace(year=d.year + years)
    except ValueError:  # 29 February
        b = dt.date(d.year + years, 3, 1)
    return to_days(b)


def _cease_reason(rng: np.random.Generator, age: int) -> int:
    if age >= 16:
        reasons, p = [2, 3, 4, 5, 6, 7, 9], [0.12, 0.14, 0.14, 0.24, 0.28, 0.02, 0.06]
    else:
        reasons, p = [2, 5, 7, 8, 9], [0.34, 0.52, 0.06, 0.03, 0.05]
    return int(rng.choice(reasons, p=p))


def assign_needs(rng: np.random.Generator, plans: list[Plan]) -> None:
    needs = _choice(rng, NEED_MIX, len(plans))
    second = _choice(rng, NEED_MIX, len(plans))
    has_second = rng.random(len(plans)) < 0.3
    u = rng.random(len(plans))
    for k, plan in enumerate(plans):
        plan.need = str(needs[k])
        plan.need2 = str(second[k]) if has_second[k] and second[k] != needs[k] else ""
        plan.special = bool(u[k] < SPECIAL_TRACK[plan.need])


def build_world(seed: int = 42, cohort_size: int = COUNTY_COHORT,
                export_date: dt.date = dt.date(2026, 3, 27)) -> World:
    """The whole sample LA. `cohort_size` children per birth year; targets scale with it."""
    rng = np.random.default_rng(seed)
    scale = cohort_size / COUNTY_COHORT
    est = build_establishments(rng)
    spare = int(sum(round(0.035 * v * scale) for v in CASELOAD_TARGET.values())) + 10
    ch = build_children(rng, est, cohort_size, spare)
    export_day = to_days(export_date)
    plans = simulate_plans(rng, ch, scale, export_day, first_spare=len(ch) - spare)
    assign_needs(rng, plans)
    from sendboard.sample.placements import place_plans

    place_plans(rng, plans, ch, est, export_day)
    return World(establishments=est, children=ch, plans=plans, export_day=export_day,
                 scale=scale, seed=seed)
