"""The record-keeping defects of a real case management system's SEN2 export, planted in the
sample's (issue 18): a realistic handful of the records transforms/sen2_checks.py must find.

`plant_defects` changes the export's rows after `write_sen2` has made them, drawing only
from a generator of its own (the world's seed + 30), so that every other value of the sample
stays as it was. Each defect goes to records of the January return (a plan not ceased before
1 January of the year before census day, its person, request and placements): a share of
the records it could apply to (RATES: 2-3% for the common ones, a fraction of 1% for the
rest), and at least one wherever one could be planted, so that the small test sample holds
one of each. No person takes two of the person defects, and no plan two of the others.

All but one still load: that is the point of the readiness checks. A person's UPN with a bad
check letter (`upn-check-letter`) is quarantined by the schema with the requests that link
to it, so it goes only to a very few persons with no plan. No defect moves a plan's start
or (before the export) its cease, so every January's caseload is the world's; the placement
and need mixes, timeliness and requests move by a few plans, as a real export's would.

Not planted, because the sample's GIAS has no closed schools and no unexpected types (that
is GIAS's generator's to add): `urn-closed`, `urn-type-unexpected`. Beside the planted ones,
the generator's own draws make more of a few checks: plans with no placement on census day
(the world's `UNKNOWN` spells, Wiltshire's 2.4%), phase transfers with no final plan by the
deadline, same name and birth date pairs (the sample's lists of names are short), and, for
a few pending requests, request and assessment outcome dates after the export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import numpy as np
from stdnum.gb import upn as stdnum_upn

from sendboard.sample.calendar import EPOCH, january_census_day, to_days
from sendboard.sample.sen2 import blade_date
from sendboard.sample.world import World
from values.upn import ALPHABET

# Share of the records a defect could apply to that have it. Planted in this order.
RATES: dict[str, float] = {
    "upn-check-letter": 0.0008,  # of persons with no plan: quarantined, so very few
    "upn-missing": 0.02,  # of the return's plan holders with a UPN and no unknown reason
    "duplicate-upn": 0.05,  # of persons with two requests in the return (few have)
    "duplicate-name-dob": 0.05,  # the same persons
    "age-outside-range": 0.001,  # of holders of a plan active on census day aged 17-24
    "open-requests-multiple": 0.03,  # of pending requests: keyed a second time
    "week20-exception-not-late": 0.004,  # of plans issued in time
    "plan-not-assessed-y": 0.002,  # of the return's plans
    "plan-start-before-request": 0.02,  # of plans transferred in
    "active-no-placement-transfer-in": 0.01,  # of plans transferred in with one placement
    "plan-no-detail": 0.004,
    "cease-date-future": 0.003,  # of plans of young people 18 and over open at the export
    "phase-transfer-overdue": 0.01,  # of plans whose phase transfer was due before it
    "review-date-future": 0.005,  # of plans issued in the 300 days before the export
    "primary-need-missing": 0.003,  # of plans active on census day with one need
    "rank1-needs-multiple": 0.004,  # of plans active on census day with two needs
    "placements-overlap": 0.004,  # of placements that follow another
    "rank1-placements-multiple": 0.003,  # of plans whose placement changed in the year
    "placement-date-future": 0.01,  # of plans with a phase transfer this year
    "ceased-plan-open-placement": 0.02,  # of the return's ceased plans
    "urn-unknown": 0.002,  # of placements at a URN
    "sen-unit-not-at-school": 0.03,  # of placements at a mainstream school with no unit
    "resourced-provision-not-at-school": 0.006,  # ... with no resourced provision
}

_BLADE = "%Y-%b-%d 00:00:00"
_MAINSTREAM = ("primary", "secondary")  # the establishments frame's kinds


@cache
def _day(text: str) -> int | None:
    """A Blade date's day number (blank: None). Cached: an export has a few thousand dates
    and strptime is slow."""
    return to_days(dt.datetime.strptime(text, _BLADE).date()) if text else None


@dataclass
class _Plan:
    """A plan's rows (the row dicts of the export: changing one changes the export)."""

    person: dict
    request: dict
    assessment: dict
    named: dict
    detail: dict | None
    active: dict
    placements: list[dict]  # in entry order
    needs: list[dict]

    @property
    def start(self) -> int:
        return _day(self.named["startdate"])

    @property
    def cease(self) -> int | None:
        return _day(self.named["ceasedate"])

    def active_on(self, day: int) -> bool:
        return self.start <= day and (self.cease is None or self.cease > day)


class _Rows:
    """The export's rows, their plans and the records of the return, with what was changed."""

    def __init__(self, t: dict[str, list[dict]], world: World, rng: np.random.Generator):
        self.t, self.rng = t, rng
        self.export = world.export_day
        self.census_day = to_days(january_census_day((EPOCH + dt.timedelta(
            days=world.export_day)).year))
        self.period_start = to_days(dt.date((EPOCH + dt.timedelta(
            days=self.census_day)).year - 1, 1, 1))
        frame = world.establishments.frame
        self.known_urns = {str(u) for u in frame["urn"]}
        self.gias = {str(r["urn"]): r for r in frame.iter_rows(named=True)}
        by_id = {m: {r[f"{m}tableid"]: r for r in t[m]} for m in ("person", "requests",
                                                                  "assessment")}
        self.person_of = {r["requeststableid"]: by_id["person"][r["persontableid"]]
                          for r in t["requests"]}
        detail = {r["namedplantableid"]: r for r in t["plandetail"]}
        active = {r["requeststableid"]: r for r in t["activeplans"]}
        below: dict[str, dict[int, list[dict]]] = {"placementdetail": {}, "senneed": {}}
        for m, rows in below.items():
            for r in t[m]:
                rows.setdefault(r["activeplanstableid"], []).append(r)
        self.plans = []
        for named in t["namedplan"]:
            ass = by_id["assessment"][named["assessmenttableid"]]
            req = by_id["requests"][ass["requeststableid"]]
            act = active[req["requeststableid"]]
            key = act["activeplanstableid"]
            self.plans.append(_Plan(
                self.person_of[req["requeststableid"]], req, ass, named,
                detail.get(named["namedplantableid"]), act,
                sorted(below["placementdetail"].get(key, []),
                       key=lambda r: _day(r["entrydate"])), below["senneed"].get(key, [])))
        self.in_return = [p for p in self.plans if p.cease is None or p.cease >= self.period_start]
        planned = {p.request["requeststableid"] for p in self.in_return}
        self.requests_in_return = [r for r in t["requests"] if self._in_return(r, planned)]
        self.touched: set[int] = set()  # id() of each person row and _Plan changed

    def _in_return(self, request: dict, planned: set[int]) -> bool:
        dates = (_day(request["receiveddate"]), _day(request["requestoutcomedate"]))
        return (request["requestoutcome"] == "" or request["requeststableid"] in planned
                or any(d is not None and d >= self.period_start for d in dates))

    def pick(self, defect: str, pool: list, key: Callable = lambda item: item) -> list:
        """The records of `pool` (untouched ones) that get `defect`: RATES of them, at least
        one if any; marked as touched."""
        free = [item for item in pool if id(key(item)) not in self.touched]
        if not free:
            return []
        n = min(len(free), max(1, round(RATES[defect] * len(free))))
        chosen = [free[i] for i in sorted(self.rng.choice(len(free), size=n, replace=False))]
        self.touched |= {id(key(item)) for item in chosen}
        return chosen

    def next_id(self, module: str) -> int:
        return max(r[f"{module}tableid"] for r in self.t[module]) + 1

    def age_on(self, person: dict, day: int) -> int:
        born = EPOCH + dt.timedelta(days=_day(person["personbirthdate"]))
        on = EPOCH + dt.timedelta(days=day)
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def plant_defects(t: dict[str, list[dict]], world: World) -> dict[str, int]:
    """Plant the defects in the export's rows `t` (module -> rows, as write_sen2 makes them)
    in place; returns how many records (persons, requests, plans or placements) got each."""
    x = _Rows(t, world, np.random.default_rng(world.seed + 30))
    return {defect: plant(x, defect) for defect, plant in _PLANTERS.items()}


# ---- the defects, each given the rows and its id; returns how many records it changed ----

def _upn_check_letter(x: _Rows, defect: str) -> int:
    """A UPN keyed with a wrong check letter, on a person whose requests led to no plan."""
    planned = {id(p.person) for p in x.plans}
    persons = [r for r in x.t["person"] if id(r) not in planned and r["upn"]]
    chosen = x.pick(defect, persons)
    for person in chosen:
        letters = ALPHABET[:23]
        person["upn"] = letters[(letters.index(person["upn"][0]) + 1) % 23] + person["upn"][1:]
    return len(chosen)


def _upn_missing(x: _Rows, defect: str) -> int:
    persons = list({id(p.person): p.person for p in x.in_return
                    if p.person["upn"] and not p.person["upnunknown"]}.values())
    chosen = x.pick(defect, persons)
    for person in chosen:
        person["upn"] = person["uniquelearnernumber"] = ""
    return len(chosen)


def _two_requests(x: _Rows) -> list[tuple[dict, dict]]:
    """(person, their latest request) for persons with two or more requests in the return."""
    mine: dict[int, list[dict]] = {}
    for r in x.requests_in_return:
        mine.setdefault(r["persontableid"], []).append(r)
    pairs = [(x.person_of[rs[-1]["requeststableid"]], rs[-1]) for rs in mine.values()
             if len(rs) >= 2]
    return [(person, request) for person, request in pairs if person["upn"]]


def _duplicate_person(x: _Rows, defect: str, new_upn: bool) -> int:
    """The child's latest request recorded under a second person record: a copy of the
    first (the same UPN), or (`new_upn`) keyed with another UPN and no ULN yet."""
    chosen = x.pick(defect, _two_requests(x), key=lambda pair: pair[0])
    used = {r["upn"] for r in x.t["person"]}
    for person, request in chosen:
        copy = {**person, "persontableid": x.next_id("person")}
        if new_upn:
            copy["upn"], copy["uniquelearnernumber"] = _another_upn(person["upn"], used), ""
            used.add(copy["upn"])
        x.t["person"].append(copy)
        x.touched.add(id(copy))
        request["persontableid"] = copy["persontableid"]
    return len(chosen)


def _another_upn(upn: str, used: set[str]) -> str:
    """A valid UPN of the same LA, school and year, with the next free serial."""
    body = upn[1:]
    for k in range(1, 1000):
        serial = f"{(int(body[-3:]) + k) % 1000:03d}"
        other = body[:-3] + serial
        other = stdnum_upn.calc_check_digit(other) + other
        if other not in used:
            return other
    raise ValueError(f"no free serial beside {upn[:5]}...")


def _age_outside_range(x: _Rows, defect: str) -> int:
    """A date of birth keyed ten years early: the young person reads as 27 or older."""
    persons = list({id(p.person): p.person for p in x.in_return
                    if p.active_on(x.census_day)
                    and 17 <= x.age_on(p.person, x.census_day) <= 24}.values())
    chosen = x.pick(defect, persons)
    for person in chosen:
        born = EPOCH + dt.timedelta(days=_day(person["personbirthdate"]))
        earlier = born.replace(year=born.year - 10, day=min(born.day, 28))
        person["personbirthdate"] = blade_date(to_days(earlier))
    return len(chosen)


def _open_requests_multiple(x: _Rows, defect: str) -> int:
    """A pending request keyed a second time a few weeks later."""
    pending = [r for r in x.requests_in_return if r["requestoutcome"] == ""]
    chosen = x.pick(defect, pending, key=lambda r: x.person_of[r["requeststableid"]])
    for request in chosen:
        received = min(_day(request["receiveddate"]) + int(x.rng.integers(7, 31)), x.export)
        x.t["requests"].append({**request, "requeststableid": x.next_id("requests"),
                                "receiveddate": blade_date(received)})
    return len(chosen)


def _week20_not_late(x: _Rows, defect: str) -> int:
    in_time = [p for p in x.in_return if not p.active["transferla"]
               and p.start >= x.period_start and p.assessment["week20"] == 0
               and p.start - _day(p.request["receiveddate"]) <= 140]
    chosen = x.pick(defect, in_time)
    for p in chosen:
        p.assessment["week20"] = 1
    return len(chosen)


def _plan_not_assessed_y(x: _Rows, defect: str) -> int:
    """The assessment's outcome (and its date) never recorded, though the plan was issued;
    not one disputed (a mediation or tribunal is about a recorded outcome)."""
    disputes = ("assessmentmediation", "assessmenttribunal", "othermediation", "othertribunal")
    chosen = x.pick(defect, [p for p in x.in_return if not p.active["transferla"]
                             and not any(p.assessment[c] for c in disputes)])
    for p in chosen:
        p.assessment["assessmentoutcome"] = p.assessment["assessmentoutcomedate"] = ""
    return len(chosen)


def _plan_start_before_request(x: _Rows, defect: str) -> int:
    """A plan transferred in recorded without its transfer LA, its request and decisions
    dated when the plan arrived here (after its start in the other LA). Only plans placed
    on census day, so that no plan moves between the two no-placement checks."""
    day = x.census_day
    transfers = [p for p in x.in_return if p.active["transferla"]
                 and p.start <= x.export - 70 and (not p.active_on(day) or _placed_on(p, day))]
    chosen = x.pick(defect, transfers)
    for p in chosen:
        received = p.start + int(x.rng.integers(7, 46))
        decided = received + int(x.rng.integers(3, 21))
        p.active["transferla"] = ""
        p.request["receiveddate"], p.request["requestoutcomedate"] = (blade_date(received),
                                                                      blade_date(decided))
        p.assessment["assessmentoutcomedate"] = blade_date(decided)
    return len(chosen)


def _placed_on(p: _Plan, day: int) -> bool:
    return any(_day(r["entrydate"]) <= day and (not r["leavingdate"]
                                                or _day(r["leavingdate"]) > day)
               for r in p.placements)


def _transfer_not_placed(x: _Rows, defect: str) -> int:
    """A plan transferred in whose setting was never recorded: its one placement is not in
    the export, so census day's placement mix counts it as unknown."""
    day = x.census_day
    chosen = x.pick(defect, [p for p in x.in_return if p.active["transferla"]
                             and p.active_on(day) and len(p.placements) == 1
                             and _placed_on(p, day)])
    gone = {id(p.placements[0]) for p in chosen}
    x.t["placementdetail"][:] = [r for r in x.t["placementdetail"] if id(r) not in gone]
    for p in chosen:
        p.placements = []
    return len(chosen)


def _plan_no_detail(x: _Rows, defect: str) -> int:
    chosen = x.pick(defect, [p for p in x.in_return if p.detail is not None])
    gone = {id(p.detail) for p in chosen}
    x.t["plandetail"][:] = [r for r in x.t["plandetail"] if id(r) not in gone]
    for p in chosen:
        p.detail = None
    return len(chosen)


def _open_at_export(x: _Rows, p: _Plan) -> bool:
    return p.active_on(x.export) and bool(p.placements) and not p.placements[-1]["leavingdate"]


def _cease_date_future(x: _Rows, defect: str) -> int:
    """The cease date recorded ahead, at the end of the academic year: the young person is
    going on to higher education or work (the placement is left open, so the plan's open
    placement is flagged too)."""
    year = (EPOCH + dt.timedelta(days=x.export)).year
    leavers = [p for p in x.in_return if _open_at_export(x, p)
               and x.age_on(p.person, x.export) >= 18]
    chosen = x.pick(defect, leavers)
    for p in chosen:
        p.named["ceasedate"] = blade_date(to_days(dt.date(year, 7, 31)))
        p.named["ceasereason"] = str(int(x.rng.choice([3, 4])))
    return len(chosen)


def _phase_transfer_final_missing(x: _Rows, defect: str) -> int:
    """The amended plan of a phase transfer was issued, but its date never recorded: the
    transfer reads as overdue."""
    done = [p for p in x.in_return if p.active["phasetransferfinaldate"]
            and _day(p.active["phasetransferduedate"]) < x.export]
    chosen = x.pick(defect, done)
    for p in chosen:
        p.active["phasetransferfinaldate"] = ""
    return len(chosen)


def _review_date_future(x: _Rows, defect: str) -> int:
    """The first annual review meeting recorded when it was booked, before it was held."""
    recent = [p for p in x.in_return if p.active_on(x.export) and not p.active["reviewmeeting"]
              and p.start > x.export - 300]
    chosen = x.pick(defect, recent)
    for p in chosen:
        p.active["reviewmeeting"] = blade_date(p.start + 365 - int(x.rng.integers(0, 29)))
    return len(chosen)


def _primary_need_missing(x: _Rows, defect: str) -> int:
    """The plan's only need recorded at rank 2."""
    chosen = x.pick(defect, [p for p in x.in_return if p.active_on(x.census_day)
                             and len(p.needs) == 1])
    for p in chosen:
        p.needs[0]["sentyperank"] = 2
    return len(chosen)


def _rank1_needs_multiple(x: _Rows, defect: str) -> int:
    """The secondary need recorded at rank 1 too."""
    chosen = x.pick(defect, [p for p in x.in_return if p.active_on(x.census_day)
                             and len(p.needs) == 2])
    for p in chosen:
        p.needs[1]["sentyperank"] = 1
    return len(chosen)


def _moves(x: _Rows) -> list[tuple[_Plan, dict, dict]]:
    """(plan, placement, the next) where the next began the day the placement ended."""
    return [(p, a, b) for p in x.in_return for a, b in pairwise(p.placements)
            if a["leavingdate"] == b["entrydate"]]


def _placements_overlap(x: _Rows, defect: str) -> int:
    """The old placement's leaving date recorded weeks after the next one began, the overlap
    clear of census day (census day's is the next defect)."""
    day = x.census_day

    def fits(b: dict) -> bool:
        entry, leaving = _day(b["entrydate"]), _day(b["leavingdate"])
        return ((entry + 61 <= day or entry > day) and entry + 61 <= x.export
                and (leaving is None or leaving > entry + 61))

    chosen = x.pick(defect, [m for m in _moves(x) if fits(m[2])], key=lambda m: m[0])
    for _, a, b in chosen:
        a["leavingdate"] = blade_date(_day(b["entrydate"]) + int(x.rng.integers(14, 61)))
    return len(chosen)


def _rank1_placements_multiple(x: _Rows, defect: str) -> int:
    """The placement left in the autumn still open on census day: two rank-1 placements
    that day (and so an overlap too)."""
    day = x.census_day
    changed = [m for m in _moves(x) if m[0].active_on(day)
               and day - 365 < _day(m[2]["entrydate"]) <= day
               and (not m[2]["leavingdate"] or _day(m[2]["leavingdate"]) > day + 50)]
    chosen = x.pick(defect, changed, key=lambda m: m[0])
    for _, a, _b in chosen:
        a["leavingdate"] = blade_date(day + int(x.rng.integers(7, 51)))
    return len(chosen)


def _placement_date_future(x: _Rows, defect: str) -> int:
    """The leaving date recorded ahead for a child moving phase at the end of the year."""
    year = (EPOCH + dt.timedelta(days=x.export)).year
    moving = [p for p in x.in_return if _open_at_export(x, p)
              and p.active["phasetransferduedate"][:4] == str(year)]
    chosen = x.pick(defect, moving)
    for p in chosen:
        p.placements[-1]["leavingdate"] = blade_date(to_days(dt.date(year, 7, 22)))
    return len(chosen)


def _ceased_plan_open_placement(x: _Rows, defect: str) -> int:
    """The plan ceased but its last placement was never given a leaving date."""
    # (Only a placement that ran to the cease: one left earlier, before a spell with no
    # placement, would read as open through that spell.)
    ceased = [p for p in x.in_return if p.cease is not None and p.cease <= x.export
              and p.placements and p.placements[-1]["leavingdate"] == p.named["ceasedate"]]
    chosen = x.pick(defect, ceased)
    for p in chosen:
        p.placements[-1]["leavingdate"] = ""
    return len(chosen)


def _at_urn(x: _Rows) -> list[tuple[_Plan, dict]]:
    return [(p, r) for p in x.in_return for r in p.placements if r["urn"]]


def _urn_unknown(x: _Rows, defect: str) -> int:
    """Two digits of the URN transposed: a number GIAS does not know."""
    def typo(urn: str) -> str | None:
        for i in range(5):
            other = urn[:i] + urn[i + 1] + urn[i] + urn[i + 2:]
            if other[0] != "0" and other not in x.known_urns:
                return other
        return None

    chosen = x.pick(defect, [m for m in _at_urn(x) if typo(m[1]["urn"])], key=lambda m: m[0])
    for _, r in chosen:
        r["urn"] = typo(r["urn"])
    return len(chosen)


def _flagged_wrongly(indicator: str, capacity: str, on_roll: str, kind: str
                     ) -> Callable[[_Rows, str], int]:
    """A SEN unit (resourced provision) flagged at a mainstream school GIAS says has none."""
    def plant(x: _Rows, defect: str) -> int:
        def none_here(urn: str) -> bool:
            school = x.gias[urn]
            return (school["kind"] in _MAINSTREAM and not school[capacity]
                    and not school[on_roll] and kind not in (school["rp_type"] or ""))

        pool = [m for m in _at_urn(x) if m[1]["urn"] in x.gias and none_here(m[1]["urn"])
                and not m[1]["senunitindicator"] and not m[1]["resourcedprovisionindicator"]]
        chosen = x.pick(defect, pool, key=lambda m: m[0])
        for _, r in chosen:
            r[indicator] = 1
        return len(chosen)
    return plant


_PLANTERS: dict[str, Callable[[_Rows, str], int]] = {
    "upn-check-letter": _upn_check_letter,
    "upn-missing": _upn_missing,
    "duplicate-upn": lambda x, d: _duplicate_person(x, d, new_upn=False),
    "duplicate-name-dob": lambda x, d: _duplicate_person(x, d, new_upn=True),
    "age-outside-range": _age_outside_range,
    "open-requests-multiple": _open_requests_multiple,
    "week20-exception-not-late": _week20_not_late,
    "plan-not-assessed-y": _plan_not_assessed_y,
    "plan-start-before-request": _plan_start_before_request,
    "active-no-placement-transfer-in": _transfer_not_placed,
    "plan-no-detail": _plan_no_detail,
    "cease-date-future": _cease_date_future,
    "phase-transfer-overdue": _phase_transfer_final_missing,
    "review-date-future": _review_date_future,
    "primary-need-missing": _primary_need_missing,
    "rank1-needs-multiple": _rank1_needs_multiple,
    "placements-overlap": _placements_overlap,
    "rank1-placements-multiple": _rank1_placements_multiple,
    "placement-date-future": _placement_date_future,
    "ceased-plan-open-placement": _ceased_plan_open_placement,
    "urn-unknown": _urn_unknown,
    "sen-unit-not-at-school": _flagged_wrongly(
        "senunitindicator", "unit_capacity", "unit_on_roll", "SEN unit"),
    "resourced-provision-not-at-school": _flagged_wrongly(
        "resourcedprovisionindicator", "rp_capacity", "rp_on_roll", "Resourced provision"),
}
