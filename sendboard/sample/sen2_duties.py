"""The sample's values for SEN2's statutory-duty fields: who requested the assessment,
mediations and tribunals, how a personal budget is held, the annual review, the phase
transfer review, and the settings attended with no school.

Every function draws from the generator it is given, which `write_sen2` keeps apart from the
one the rest of the export comes from, so that adding these fields changed no other value.
Codes and deadlines: SEN2 items 5.4 and 5.5 (review meeting and decision, codes A/C/M), the
SEND Regulations 2014 (reg. 18 phase transfer deadlines, reg. 20 the 4-week decision) and the
DfE's 2026 EHC plans data guidance. Days are day numbers since 1970-01-01, as elsewhere here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sendboard.sample.calendar import EPOCH, academic_age, to_days

# Who made the request, in SEN2's `requestsource` codes (transforms.duty_kpis.REQUEST_SOURCES,
# the five a supplier's 2026 guide lists): young people and parents make about half of
# requests and schools most of the rest (the DfE does not publish the split; these shares are
# the sample's assumption, so the pack has every label to show).
REQUEST_SOURCE_MIX = {"1": 0.53, "2": 0.33, "3": 0.07, "4": 0.04, "5": 0.03}

# Annual review decision codes (item 5.5 ReviewOutcome): amend, cease, maintain.
REVIEW_OUTCOMES = ("A", "C", "M")
# The review meeting: due within 12 months of the plan's start, then of the previous
# meeting (Code of Practice 9.166). Shares of meetings held late (1 to 4 months after that)
# and not held at all.
REVIEW_LATE, REVIEW_NOT_HELD = 0.20, 0.03
# The LA's decision must follow within 4 weeks of the meeting (SEND Regulations 2014 reg.
# 20); the share decided later.
DECISION_LATE = 0.25
DECISION_DAYS = 28
# Outcomes of a decided review of a plan that carries on: maintain, amend, cease; and the
# share of held reviews whose outcome is never recorded.
OUTCOME_MIX = {"M": 0.61, "A": 0.355, "C": 0.035}
NO_OUTCOME = 0.04
# Cease reasons after which the last review has usually decided to cease the plan (needs
# met, higher education, employment, no longer engaging), within this many days before.
_CEASED_BY_REVIEW = {2, 3, 4, 6}
_CEASE_AFTER_REVIEW_DAYS = 180

# Phase transfers: the academic age (on 31 August) a child starts the new phase at, and the
# day and month the amended plan must be final by in the year of transfer (SEND Regulations
# 2014 reg. 18): reception and secondary 15 February, post-16 31 March.
PHASE_DEADLINE = {4: (2, 15), 11: (2, 15), 16: (3, 31)}
FINAL_BY_DEADLINE, FINAL_NEVER = 0.72, 0.03


def request_source(rng: np.random.Generator) -> str:
    keys = list(REQUEST_SOURCE_MIX)
    return keys[int(rng.choice(len(keys), p=list(REQUEST_SOURCE_MIX.values())))]


def disputes(rng: np.random.Generator, outcome: str) -> dict[str, int]:
    """An assessment's mediation and tribunal flags: about the decision on whether to issue
    (`assessment*`, mostly after a decision not to) and for other reasons, the plan's content
    or placement (`other*`, only where a plan was issued). Tribunals are rarer than
    mediations; an open assessment has had neither."""
    u = rng.random(4)
    mediation, tribunal = {"N": (0.10, 0.04), "Y": (0.01, 0.003)}.get(outcome, (0.0, 0.0))
    other = (0.05, 0.025) if outcome == "Y" else (0.0, 0.0)
    return {"assessmentmediation": int(u[0] < mediation),
            "assessmenttribunal": int(u[1] < tribunal),
            "othermediation": int(u[2] < other[0]), "othertribunal": int(u[3] < other[1])}


def budget_arrangements(rng: np.random.Generator, pb: int) -> dict[str, int]:
    """How a personal budget is held: direct payments, organised arrangements (the LA or
    setting holds it), both, or neither (a notional budget); none without a budget."""
    if not pb:
        return {"oa": 0, "dp": 0}
    u = rng.random()
    oa, dp = (0, 1) if u < 0.58 else (1, 0) if u < 0.83 else (1, 1) if u < 0.93 else (0, 0)
    return {"oa": oa, "dp": dp}


@dataclass(frozen=True)
class Review:
    """The latest annual review a plan's record holds on the export day."""

    meeting: int | None = None
    outcome: str = ""
    decided: int | None = None
    draft: int | None = None


def annual_review(rng: np.random.Generator, start: int, cease: int, reason: int,
                  export: int) -> Review:
    """The plan's reviews from its start, each due 12 months after the plan or the previous
    meeting: most held a few weeks early, some late, a few not held (the next is then due a
    year on). The record holds the latest meeting before the plan ceased and the export, and
    its decision: blank while undecided on the export day or when never recorded."""
    end = min(cease, export)
    due, meeting = start + 365, None
    while due <= end:
        u = rng.random()
        if u < REVIEW_NOT_HELD:
            due += 365
            continue
        held = due + int(rng.integers(31, 123)) if u < REVIEW_NOT_HELD + REVIEW_LATE \
            else due - int(rng.integers(0, 57))
        if held > end:
            break
        meeting, due = held, held + 365
    if meeting is None:
        return Review()
    late = rng.random() < DECISION_LATE
    decided = meeting + int(rng.integers(DECISION_DAYS + 1, 101) if late
                            else rng.integers(2, DECISION_DAYS + 1))
    ended_by_review = (cease <= export and reason in _CEASED_BY_REVIEW
                       and 2 <= cease - meeting <= _CEASE_AFTER_REVIEW_DAYS)
    if ended_by_review and rng.random() < 0.6:
        # The plan ceased because of this review: its decision came first.
        return Review(meeting, "C", min(decided, cease - 1))
    if rng.random() < NO_OUTCOME or decided > end:
        return Review(meeting)
    outcome = str(rng.choice(list(OUTCOME_MIX), p=list(OUTCOME_MIX.values())))
    draft = None
    if outcome == "A" and rng.random() < 0.92:
        draft = decided + int(rng.integers(0, 15))
        draft = draft if draft <= end else None
    return Review(meeting, outcome, decided, draft)


def phase_transfer(rng: np.random.Generator, dob: int, start: int, cease: int,
                   export: int) -> tuple[int | None, int | None]:
    """The phase transfer review's due date and final plan date, for a child who starts
    reception, secondary school or post-16 in September of the export's year or the year
    before (the two years the DfE's 2026 collection reports), if the plan was held through
    the autumn before the deadline. Most finals come by the deadline, some after, a few never;
    one later than the export or the plan's cease is not yet there."""
    year = (EPOCH + dt.timedelta(days=export)).year
    for y in (year, year - 1):
        age = int(academic_age(np.array([dob]), to_days(dt.date(y, 9, 1)))[0])
        if age not in PHASE_DEADLINE:
            continue
        due = to_days(dt.date(y, *PHASE_DEADLINE[age]))
        if not (start <= due - 120 and cease > due):
            return None, None
        u = rng.random()
        if u < FINAL_BY_DEADLINE:
            final = due - int(rng.integers(0, 76))
        elif u < 1 - FINAL_NEVER:
            final = due + int(rng.integers(1, 121))
        else:
            return due, None
        return due, final if final <= min(export, cease - 1) else None
    return None, None


def attended_setting(rng: np.random.Generator, setting: str, last_of_ceased: bool,
                     reason: int) -> str:
    """The setting code of a placement attended with no school. The world's OTH (type
    named, no setting) is in part NIEO, out of education for other reasons such as awaiting a
    placement; a young person's last NEET spell before the plan ceased for not engaging was
    NIEC, after the notice to cease. Both stay in the same DfE placement group."""
    if setting == "OTH":
        return "NIEO" if rng.random() < 0.4 else setting
    if setting == "NEET" and last_of_ceased and reason == 6:
        return "NIEC" if rng.random() < 0.5 else setting
    return setting
