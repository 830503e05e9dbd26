"""Where each plan's holder is placed over time: a segment per phase of education, with moves.

Probabilities are tuned so that the January 2025 caseload's placement mix lands close to
Wiltshire's published one (mainstream 51%, special 25%, FE 13%, elsewhere 7.5%, early years
1%, unknown 2.4%).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sendboard.sample.calendar import EPOCH, to_days
from sendboard.sample.establishments import Establishments

NEVER = 2**31 - 1

_SPECIAL_KIND_P = {"la_special": 0.40, "academy_special": 0.41, "iss": 0.175, "nmss": 0.015}


def _phase(acad_age: int) -> str:
    if acad_age < 2:
        return "infant"
    if acad_age < 4:
        return "early"
    if acad_age <= 10:
        return "primary"
    if acad_age <= 15:
        return "secondary"
    if acad_age <= 17:
        return "post16"
    return "post18"


def _academic_age(dob: int, day: int) -> int:
    b = EPOCH + dt.timedelta(days=dob)
    d = EPOCH + dt.timedelta(days=day)
    start_year = d.year - (1 if d.month < 9 else 0)
    return start_year - b.year - (1 if b.month >= 9 else 0)


def _phase_spans(dob: int, start: int, end: int) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    s = start
    while s < end:
        d = EPOCH + dt.timedelta(days=s)
        next_sept = to_days(dt.date(d.year + (1 if d.month >= 9 else 0), 9, 1))
        e = min(end, next_sept)
        ph = _phase(_academic_age(dob, s))
        if spans and spans[-1][2] == ph:
            spans[-1] = (spans[-1][0], e, ph)
        else:
            spans.append((s, e, ph))
        s = e
    return spans


def place_plans(rng: np.random.Generator, plans: list, ch, est: Establishments,
                export_day: int) -> None:
    """Fill each plan's `segments` with (entry, leaving, establishment row or -1, setting)."""
    frame = est.frame
    has_rp = (frame["rp_capacity"].fill_null(0) > 0).to_numpy()
    has_unit = (frame["unit_capacity"].fill_null(0) > 0).to_numpy()
    kinds = list(_SPECIAL_KIND_P)
    kind_p = np.array(list(_SPECIAL_KIND_P.values()))
    for plan in plans:
        end = min(plan.cease, export_day + 1)
        c = plan.child
        kind = kinds[int(rng.choice(len(kinds), p=kind_p))]
        special_school = int(rng.choice(est.special_by_kind[kind]))
        special = plan.special
        segs: list[tuple[int, int, int, str]] = []

        def add(s: int, e: int, row: int, setting: str, segs=segs) -> None:
            segs.append((s, e, row, setting))

        def mainstream(row: int, s: int, e: int, add=add) -> None:
            flag = ""
            u = rng.random()
            if has_unit[row] and u < 0.3:
                flag = "UNIT"
            elif has_rp[row] and u < 0.38:
                flag = "RP"
            add(s, e, row, flag)

        for s, e, ph in _phase_spans(int(ch.dob[c]), plan.start, end):
            u = rng.random()
            if ph == "infant":
                add(s, e, -1, "EYP")
            elif ph == "early":
                if special and u < 0.5:
                    add(s, e, int(rng.choice(est.special_by_kind["la_special"])), "")
                elif u < 0.3:
                    add(s, e, -1, "EYP")
                else:
                    mainstream(int(ch.primary[c]), s, e)
            elif ph in ("primary", "secondary"):
                school = int(ch.primary[c] if ph == "primary" else ch.secondary[c])
                if not special and ph == "secondary" and u < 0.07:
                    special = True  # moves to special school at transfer to secondary
                if special:
                    add(s, e, special_school, "")
                elif u < 0.1:
                    add(s, e, -1, str(rng.choice(["EHE", "OLA", "OLA", "OPA", "OTH"])))
                elif u < 0.117:
                    add(s, e, -1, "UNKNOWN")
                elif u < 0.125:
                    add(s, e, int(rng.choice(est.independent_mainstream)), "")
                elif ph == "secondary" and u < 0.13:
                    add(s, e, int(rng.choice(est.pru)), "")
                elif e - s > 400 and rng.random() < 0.06:
                    # a mid-phase move from mainstream to a special school
                    mid = int(rng.integers(s + 120, e - 120))
                    mainstream(school, s, mid)
                    add(mid, e, special_school, "")
                    special = True
                else:
                    mainstream(school, s, e)
            elif ph == "post16":
                if special:
                    if u < 0.62 and kind != "iss":
                        add(s, e, special_school, "")
                    elif u < 0.82:
                        add(s, e, int(rng.choice(est.specialist_post16)), "")
                    else:
                        add(s, e, int(rng.choice(est.fe_colleges)), "")
                elif u < 0.30:
                    mainstream(int(ch.secondary[c]), s, e)
                elif u < 0.82:
                    add(s, e, int(rng.choice(est.fe_colleges)), "")
                elif u < 0.90:
                    add(s, e, -1, "NEET")
                elif u < 0.95:
                    add(s, e, -1, str(rng.choice(["OLA", "EHE", "OTH"])))
                else:
                    add(s, e, -1, "UNKNOWN")
            else:  # post18
                if special and u < 0.35:
                    add(s, e, int(rng.choice(est.specialist_post16)), "")
                elif u < 0.72:
                    add(s, e, int(rng.choice(est.fe_colleges)), "")
                elif u < 0.86:
                    add(s, e, -1, "NEET")
                elif u < 0.93:
                    add(s, e, -1, str(rng.choice(["OLA", "OTH"])))
                else:
                    add(s, e, -1, "UNKNOWN")
        plan.segments = segs
