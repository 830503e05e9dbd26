"""The SEN2 person-level export ("Blade" CSVs, one per module) from the sample world.

Each plan comes with its request and assessment; requests that did not lead to a plan
(not assessed, withdrawn, assessed but no plan, still pending at the export) are added at the
published rates, so that requests and timeliness KPIs look like the LA's.

The fields of the statutory-duty measures (who requested, disputes, personal budget
arrangements, annual reviews, phase transfers, settings with no school) come from
`sendboard.sample.sen2_duties`, drawn from a generator of their own; so do the record-keeping
defects a real export has (`sendboard.sample.sen2_defects`: missing UPNs, duplicate persons,
overlapping placements ...), planted in the rows once they are made.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from schemas.contracts import SEN2_MODULES
from sendboard.sample.calendar import EPOCH, age_on, january_census_day, to_days
from sendboard.sample.establishments import LA_CODE
from sendboard.sample.sen2_duties import (
    annual_review,
    attended_setting,
    budget_arrangements,
    disputes,
    phase_transfer,
    request_source,
)
from sendboard.sample.world import NEVER, NEW_PLANS_TARGET, WITHIN_20_WEEKS, World

MODULES = ("sen2", "person", "requests", "assessment", "namedplan", "plandetail", "activeplans",
           "placementdetail", "senneed")


def blade_date(day: int | None) -> str:
    """The Blade export's date format, e.g. `2022-Sep-28 00:00:00`; blank for none."""
    if day is None or day >= NEVER:
        return ""
    return (EPOCH + dt.timedelta(days=int(day))).strftime("%Y-%b-%d 00:00:00")


def write_sen2(world: World, out_dir: Path) -> list[Path]:
    rng = np.random.default_rng(world.seed + 2)
    # The duty fields draw only from here: `rng`'s sequence, and every value and KPI the
    # sample had before they were added, stays exactly as it was.
    duty = np.random.default_rng(world.seed + 20)
    ch, frame = world.children, world.establishments.frame
    urns = frame["urn"].to_numpy()
    ukprns = frame["ukprn"].to_list()
    export = world.export_day
    t: dict[str, list[dict]] = {m: [] for m in MODULES}
    ids = dict.fromkeys(MODULES, 0)

    def new(module: str, **row) -> int:
        ids[module] += 1
        row = {f"{module}tableid": ids[module], **row}
        t[module].append(row)
        return ids[module]

    sen2_id = new("sen2", collection="SEN2", year=2026,
                  referencedate=blade_date(to_days(january_census_day(2026))), lea=LA_CODE)
    person_of: dict[int, int] = {}

    def person(c: int) -> int:
        if c not in person_of:
            dob = int(ch.dob[c])
            unknown = rng.random() < 0.03
            person_of[c] = new(
                "person", sen2tableid=sen2_id, surname=str(ch.surname[c]),
                forename=str(ch.forename[c]), personbirthdate=blade_date(dob),
                sex=str(ch.sex[c]), ethnicity=str(ch.ethnicity[c]),
                postcode=str(ch.postcode[c]), upn="" if unknown else str(ch.upn[c]),
                uniquelearnernumber=str(ch.uln[c]) if age_on(ch.dob[c:c + 1], export)[0] >= 14
                else "", upnunknown="UN2" if unknown else "")
        return person_of[c]

    def request(c: int, received: int, outcome: str, outcome_day: int | None) -> int:
        return new("requests", persontableid=person(c), receiveddate=blade_date(received),
                   rya=int(rng.random() < 0.01), requestoutcomedate=blade_date(outcome_day),
                   requestoutcome=outcome, requestmediation=int(rng.random() < 0.04),
                   requesttribunal=int(rng.random() < 0.01), requestsource=request_source(duty))

    def assessment(req: int, outcome: str, outcome_day: int | None, week20: int) -> int:
        return new("assessment", requeststableid=req, assessmentoutcome=outcome,
                   assessmentoutcomedate=blade_date(outcome_day), week20=week20,
                   **disputes(duty, outcome))

    for plan in world.plans:
        start = plan.start
        year = (EPOCH + dt.timedelta(days=start)).year
        exception = rng.random() < 0.07
        if plan.converted or plan.transfer_la:
            received = start - int(rng.integers(100, 400))
            within = True
        else:
            within = rng.random() < WITHIN_20_WEEKS.get(year, 0.4) * (0.4 if exception else 1)
        if not (plan.converted or plan.transfer_la):
            weeks = rng.integers(84, 141) if within else 141 + min(int(rng.exponential(80)), 460)
            received = start - int(weeks)
        decided = received + int(rng.integers(18, 43) if rng.random() < 0.96
                                 else rng.integers(43, 75))
        assessed = max(decided + 1, start - int(rng.integers(0, 22)))
        req = request(plan.child, received, "A", decided)
        # An exception to the 20-week limit is recorded only on a plan issued late (a few
        # planted defects aside): one issued in time needed none.
        ass = assessment(req, "Y", min(assessed, start), int(exception and not within))
        # Drawn in the order the call's arguments were before `pb` was needed twice.
        planres, planwbp = int(rng.random() < 0.02), int(rng.random() < 0.01)
        pb = int(rng.random() < 0.06)
        named = new("namedplan", assessmenttableid=ass, startdate=blade_date(start),
                    planres=planres, planwbp=planwbp, pb=pb, **budget_arrangements(duty, pb),
                    ceasedate=blade_date(plan.cease),
                    ceasereason=str(plan.reason) if plan.cease < NEVER else "")
        last = plan.segments[-1] if plan.segments else (start, start, -1, "UNKNOWN")
        _placement_row(new, "plandetail", last, urns, ukprns, namedplantableid=named)
        review = annual_review(duty, start, plan.cease, plan.reason, export)
        transfer = phase_transfer(duty, int(ch.dob[plan.child]), start, plan.cease, export)
        active = new("activeplans", requeststableid=req, transferla=plan.transfer_la,
                     reviewmeeting=blade_date(review.meeting),
                     reviewoutcome=review.outcome, reviewdraft=blade_date(review.draft),
                     lastreview=blade_date(review.decided),
                     phasetransferduedate=blade_date(transfer[0]),
                     phasetransferfinaldate=blade_date(transfer[1]))
        for k, seg in enumerate(plan.segments):
            if seg[3] == "UNKNOWN":
                continue
            leaving = seg[1] if seg[1] <= export else None
            last_of_ceased = k == len(plan.segments) - 1 and plan.cease <= export
            seg = (*seg[:3], attended_setting(duty, seg[3], last_of_ceased, plan.reason))
            _placement_row(new, "placementdetail", seg, urns, ukprns,
                           activeplanstableid=active, entrydate=blade_date(seg[0]),
                           leavingdate=blade_date(leaving))
        new("senneed", activeplanstableid=active, sentype=plan.need, sentyperank=1)
        if plan.need2:
            new("senneed", activeplanstableid=active, sentype=plan.need2, sentyperank=2)

    _other_requests(world, rng, request, assessment)
    _requests_for_later_plans(world, rng, request, assessment)
    # (Imported here: sen2_defects imports blade_date from this module.)
    from sendboard.sample.sen2_defects import plant_defects

    plant_defects(t, world)
    paths = []
    stamp = (EPOCH + dt.timedelta(days=export)).strftime("%d-%m-%Y")
    for module in MODULES:
        path = out_dir / f"Blade-Export_{stamp}_{module}.csv"
        _full_header(module, pl.DataFrame(t[module], infer_schema_length=None)).write_csv(path)
        paths.append(path)
    return paths


def _full_header(module: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The module as the current SEN2 version's Blade export writes it: every column the
    contract knows, in its order (the system's NativeId, order and source columns, the
    version fields), blank where the sample has nothing to say."""
    key = f"{module}tableid"
    filled = {
        "nativeid": pl.format("SMP{}", pl.col(key)).alias("NativeId"),
        f"{module}orderseqcolumn": pl.int_range(1, pl.len() + 1).alias(
            f"{module}orderseqcolumn"),
        "sourceid": pl.lit("SENDBOARD-SAMPLE").alias("sourceid"),
        "softwarecode": pl.lit("SENDBOARD-SAMPLE").alias("softwarecode"),
        "release": pl.lit("1.4").alias("release"),
    }
    return frame.select([
        pl.col(c.name) if c.name in frame.columns else filled.get(
            c.name, pl.lit(None, pl.Utf8).alias(c.name))
        for c in SEN2_MODULES[module].columns if (module, c.name) not in _BEFORE_V1_2])


# Fields of SEN2 v1.1 that v1.2 moved or dropped: not in the current version's header.
_BEFORE_V1_2 = {("activeplans", "res"), ("activeplans", "wbp"),
                ("placementdetail", "attendancepattern")}


def _placement_row(new, module: str, seg, urns, ukprns, **keys) -> None:
    _, _, row, setting = seg
    has_urn = row >= 0
    new(module, **keys, urn=str(urns[row]) if has_urn else "",
        ukprn=(ukprns[row] or "") if has_urn else "",
        sensetting="" if has_urn or setting == "UNKNOWN" else setting, placementrank=1,
        senunitindicator=int(setting == "UNIT"), resourcedprovisionindicator=int(setting == "RP"))


def _other_requests(world: World, rng: np.random.Generator, request, assessment) -> None:
    """Requests that led to no plan: refused, withdrawn, assessed without a plan, pending."""
    ch = world.children
    years = sorted(NEW_PLANS_TARGET)
    export = world.export_day
    for y in [*years, years[-1] + 1]:
        lo = to_days(dt.date(y, 1, 1))
        hi = min(to_days(dt.date(y + 1, 1, 1)), export)
        if hi <= lo:
            continue
        base = NEW_PLANS_TARGET.get(y, NEW_PLANS_TARGET[years[-1]] * 1.08) * world.scale
        n = round(base * 0.24 * (hi - lo) / 365)
        when = rng.integers(lo, hi, size=n)
        ages = age_on(ch.dob, int((lo + hi) // 2))
        ok = np.flatnonzero((ch.arrive <= lo) & (ch.depart == NEVER) & (ages >= 1) & (ages < 24))
        for received, c in zip(when, rng.choice(ok, size=n, replace=False), strict=True):
            received = int(received)
            if received > export - 120 and rng.random() < 0.7:  # still pending at the export
                if rng.random() < 0.5:
                    request(int(c), received, "", None)
                else:
                    req = request(int(c), received, "A", received + 35)
                    assessment(req, "", None, 0)
                continue
            decided = received + int(rng.integers(20, 43) if rng.random() < 0.95
                                     else rng.integers(43, 80))
            u = rng.random()
            if u < 0.62:
                request(int(c), received, "N", decided)
            elif u < 0.68:
                request(int(c), received, "W", decided)
            else:
                req = request(int(c), received, "A", decided)
                outcome = "N" if u < 0.95 else "W"
                assessment(req, outcome, decided + int(rng.integers(40, 100)), 0)


def _requests_for_later_plans(world: World, rng: np.random.Generator, request,
                              assessment) -> None:
    """Requests, in assessment at the export, for the plans that will start after it: a plan
    starts 100 to 400 days after its request, so without these the last year's requests
    would look like a fall (and the forecast would believe it)."""
    ch = world.children
    export = world.export_day
    per_day = NEW_PLANS_TARGET[max(NEW_PLANS_TARGET)] * 1.08 * world.scale / 365
    days = np.arange(export - 400, export)
    wait = export - days  # a request this many days old has its plan later if the delay is
    later = np.clip((400 - wait) / 300, 0, 1)  # longer: P(uniform 100-400 > wait)
    when = np.repeat(days, rng.poisson(per_day * later))
    ages = age_on(ch.dob, int(export))
    ok = np.flatnonzero((ch.depart == NEVER) & (ages >= 1) & (ages < 24))
    for received, c in zip(when, rng.choice(ok, size=len(when), replace=False), strict=True):
        received = int(received)
        decided = received + int(rng.integers(20, 43))
        if decided >= export:
            request(int(c), received, "", None)
            continue
        req = request(int(c), received, "A", decided)
        assessment(req, "", None, 0)
