"""A national-scale sample for the benchmark: England's spring census, SEN2, GIAS and ledger.

Simpler than the county sample (no simulated world: vectorised numpy draws per LA), but in
exactly the same contract formats. Everything is written one LA at a time and appended to
the open files, so memory stays at one LA's rows however many pupils there are.

LA codes: the census and GIAS carry every LA's real number (UPNs carry valid LA parts and
check letters), and validation accepts any valid LA, so prevalence comes out per LA. The
SEN2 export is one national return (one `sen2` row, no `lea`) and population is England's
(E92000001): the pipeline's LA-level KPIs then read as England's, with rate per 10,000
against England's 0-25 population. Nothing is real: pupils, names and schools are invented.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import polars as pl

from sendboard.sample.calendar import EPOCH, FINANCIAL_YEARS, census_day, to_days
from sendboard.sample.finance import HIGH_NEEDS_LINES
from sendboard.sample.gias import write_gias
from sendboard.sample.recovery_plan import write_recovery_plan
from values.upn import ALPHABET, valid_la_numbers

log = logging.getLogger(__name__)

NATIONAL_PUPILS = 9_300_000
ACTIVE_PLANS = 640_000
ESTABLISHMENTS = 50_000
ENGLAND = "E92000001"
# Pupils per census school, nationally (9.3 million pupils in ~21,600 schools).
PUPILS_PER_SCHOOL = 430
# Share of rows written with a realistic mistake (bad check letter, odd sex code, ...).
BAD_ROW_RATE = 0.0002
CENSUS_YEAR = 2026
MODULES = ("sen2", "person", "requests", "assessment", "namedplan", "plandetail",
           "activeplans", "placementdetail", "senneed")

_NEEDS_E = ("ASD", "SEMH", "SLCN", "MLD", "SLD", "SPLD", "PMLD", "PD", "HI", "VI", "MSI", "OTH")
_NEEDS_E_P = (0.33, 0.18, 0.16, 0.08, 0.06, 0.04, 0.02, 0.04, 0.02, 0.01, 0.01, 0.05)
_NEEDS_K = ("SLCN", "SEMH", "MLD", "ASD", "SPLD", "OTH", "PD", "HI", "VI", "NSA")
_NEEDS_K_P = (0.25, 0.20, 0.16, 0.12, 0.12, 0.06, 0.03, 0.02, 0.01, 0.03)
_SURNAMES = np.array(["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson",
                      "Davies", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker",
                      "White", "Roberts", "Green", "Hall", "Khan", "Wood"])
_FORENAMES = np.array(["Olivia", "Amelia", "Isla", "Ava", "Mia", "Noah", "Oliver", "George",
                       "Arthur", "Muhammad", "Leo", "Harry", "Freya", "Lily", "Oscar", "Jack",
                       "Sophia", "Grace", "Theo", "Ivy"])
_ETHNICITY = np.array(["WBRI", "WOTH", "MWBC", "AIND", "APKN", "BAFR", "CHNE", "OOTH"])
# NC years in a spring census and their share of pupils (nursery is small, sixth form smaller).
_NC = np.array(["N1", "N2", "R", *[str(i) for i in range(1, 14)]])
_NC_P = np.array([0.004, 0.035, *[0.075] * 7, *[0.074] * 5, 0.042, 0.038])
# Cease reasons 1-9 (SEN2): max age, needs met, HE, employed, transfer, ... other.
_CEASE_P = (0.25, 0.10, 0.08, 0.10, 0.17, 0.05, 0.05, 0.01, 0.19)
# Where the plans not in a census school are placed: (kind, share).
_ELSEWHERE = (("iss", 0.22), ("fe", 0.38), ("EYP", 0.06), ("OLA", 0.12), ("EHE", 0.05),
              ("NEET", 0.07), ("OTH", 0.10))


def _shares(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.lognormal(0.0, 0.55, size=n)
    return w / w.sum()


def _las(n: int) -> pl.DataFrame:
    """The first `n` English LAs (real numbers and names) whose numbers make valid UPNs."""
    from warehouse.reference import local_authorities

    valid = set(valid_la_numbers())
    las = (local_authorities().filter(pl.col("old_la_code").is_in(sorted(valid)))
           .unique("old_la_code", keep="first").sort("old_la_code"))
    return las.head(n).select("old_la_code", "la_name")


def _upns(la: str, serial: np.ndarray, entry_year: np.ndarray) -> np.ndarray:
    """Valid UPNs: check letter, LA number, a 4-digit block and a 3-digit serial, unique per
    LA for distinct `serial`s; the check letter as transforms.upn computes it."""
    block = 1000 + serial // 1000
    body = np.char.add(np.char.add(np.char.add(la, block.astype(str)),
                                   np.char.zfill((entry_year % 100).astype(str), 2)),
                       np.char.zfill((serial % 1000).astype(str), 3))
    digits = np.frombuffer(body.astype("S12").tobytes(), dtype=np.uint8).reshape(-1, 12) - 48
    total = ((digits.astype(np.int64) + 23) * np.arange(2, 14)).sum(axis=1)
    return np.char.add(np.array(list(ALPHABET[:23]))[total % 23], body)


def _blade(days: np.ndarray) -> pl.Series:
    """Day numbers to Blade dates (`2022-Sep-28 00:00:00`); negative means none (blank)."""
    s = pl.Series(np.where(days < 0, 0, days).astype("datetime64[D]"))
    return pl.select(pl.when(pl.Series(days) >= 0).then(
        s.dt.strftime("%Y-%b-%d 00:00:00")).otherwise(pl.lit(""))).to_series()


class _Files:
    """Append-only CSV writers: the header with the first chunk, then rows only."""

    def __init__(self) -> None:
        self.handles: dict[Path, object] = {}

    def append(self, path: Path, frame: pl.DataFrame) -> None:
        first = path not in self.handles
        if first:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handles[path] = path.open("wb")
        # Blank fields as bare commas, as case management exports write them (polars would
        # quote an empty string).
        frame.with_columns(pl.col(pl.Utf8).replace("", None)).write_csv(
            self.handles[path], include_header=first)

    def close(self) -> list[Path]:
        for h in self.handles.values():
            h.close()
        return list(self.handles)


def _schools(rng: np.random.Generator, la_index: int, la: str, name: str, pupils: int,
             first_urn: int) -> pl.DataFrame:
    """A LA's census schools: primaries, secondaries, special schools and a PRU."""
    n = max(4, round(pupils / PUPILS_PER_SCHOOL))
    n_sec = max(1, round(n * 0.155))
    n_spec = max(1, round(n * 0.05))
    n_pru = max(1, round(n * 0.015))
    n_pri = max(1, n - n_sec - n_spec - n_pru)
    kind = np.repeat(np.array(["primary", "secondary", "special", "pru"]),
                     [n_pri, n_sec, n_spec, n_pru])
    within = np.concatenate([np.arange(k) for k in (n_pri, n_sec, n_spec, n_pru)])
    base = np.select([kind == "primary", kind == "secondary", kind == "special"],
                     [2000, 4000, 7000], 1100)
    academy = rng.random(len(kind)) < 0.45
    type_name = np.select(
        [kind == "primary", kind == "secondary", kind == "special"],
        [np.where(academy, "Academy converter", "Community school"),
         np.where(academy, "Academy converter", "Foundation school"),
         np.where(academy, "Academy special converter", "Community special school")],
        "Pupil referral unit")
    group = np.where(academy, "Academies", "Local authority maintained schools")
    phase = np.select([kind == "primary", kind == "secondary"], ["Primary", "Secondary"],
                      "Not applicable")
    low = np.select([kind == "primary", kind == "secondary"], [3, 11], 5 - (kind == "special"))
    high = np.select([kind == "primary", kind == "secondary", kind == "special"], [11, 18, 19], 16)
    urn = first_urn + np.arange(len(kind))
    label = np.select([kind == "primary", kind == "secondary", kind == "special"],
                      [" Primary School", " Academy", " Special School"], " Learning Centre")
    return pl.DataFrame({
        "urn": urn, "la_code": la, "la_name": name,
        "estab_number": (base + within).astype(str), "kind": kind,
        "name": np.char.add(np.char.add(f"{name} ", (within + 1).astype(str)), label),
        "type_name": type_name, "type_group": np.where(kind == "special", "Special schools",
                                                       group),
        "status": "Open", "phase": phase, "low_age": low, "high_age": high,
        "ukprn": (10_000_000 + urn).astype(str),
        "open_date": dt.date(1990, 9, 1), "la_index": la_index,
    })


def _other_establishments(rng: np.random.Generator, n: int, las: pl.DataFrame,
                          first_urn: int) -> pl.DataFrame:
    """The rest of GIAS: independent and non-maintained special schools, FE colleges,
    independent schools, nurseries and (most of the file) closed schools."""
    kinds = (("Other independent special school", "Independent schools", "iss", 0.03),
             ("Non-maintained special school", "Special schools", "iss", 0.004),
             ("Further education", "Colleges", "fe", 0.01),
             ("Other independent school", "Independent schools", "ind", 0.05),
             ("Local authority nursery school", "Local authority maintained schools", "nur",
              0.01),
             ("Community school", "Local authority maintained schools", "closed", 0.896))
    pick = rng.choice(len(kinds), size=n, p=[k[3] for k in kinds])
    la_i = rng.integers(0, las.height, size=n)
    urn = first_urn + np.arange(n)
    closed = pick == len(kinds) - 1
    frame = pl.DataFrame({
        "urn": urn, "la_code": las["old_la_code"].to_numpy()[la_i],
        "la_name": las["la_name"].to_numpy()[la_i],
        "estab_number": (6000 + np.arange(n) % 3000).astype(str),
        "kind": np.array([k[2] for k in kinds])[pick],
        "name": np.char.add("Establishment ", urn.astype(str)),
        "type_name": np.array([k[0] for k in kinds])[pick],
        "type_group": np.array([k[1] for k in kinds])[pick],
        "status": np.where(closed, "Closed", "Open"),
        "phase": np.where(np.isin(pick, [2]), "16 plus", "Not applicable"),
        "low_age": np.where(pick == 2, 16, 3), "high_age": np.where(pick == 2, 99, 18),
        "ukprn": (10_000_000 + urn).astype(str), "la_index": la_i,
    }).with_columns(pl.lit(dt.date(1990, 9, 1)).alias("open_date"))
    close = pl.Series(rng.integers(to_days(dt.date(2000, 1, 1)), to_days(dt.date(2024, 8, 31)),
                                   size=n).astype("datetime64[D]")).cast(pl.Date)
    return frame.with_columns(pl.when(pl.Series(closed)).then(close).alias("close_date"))


def write_national(out: Path, seed: int = 42, pupils: int = NATIONAL_PUPILS,
                   ) -> dict[str, list[Path]]:
    """Write a national landing folder under `out`; `pupils` scales everything (the benchmark
    test runs a small one). Returns the files written per source."""
    rng = np.random.default_rng([seed, 9_300])
    scale = pupils / NATIONAL_PUPILS
    n_las = 152 if pupils >= 1_000_000 else max(3, min(152, pupils // 6000))
    las = _las(n_las)
    n_las = las.height
    la_pupils = rng.multinomial(pupils, _shares(rng, n_las))
    la_plans = rng.multinomial(round(ACTIVE_PLANS * scale), la_pupils / pupils)
    day = to_days(census_day(CENSUS_YEAR, "spring"))
    export = day + 70
    files = _Files()
    dirs = {s: out / s for s in ("census", "sen2", "establishments", "finance",
                                 "recovery_plan", "places", "population")}
    census_path = dirs["census"] / f"School Census Spring {CENSUS_YEAR} (England).csv"
    stamp = (EPOCH + dt.timedelta(days=export)).strftime("%d-%m-%Y")
    sen2_paths = {m: dirs["sen2"] / f"Blade-Export_{stamp}_{m}.csv" for m in MODULES}
    files.append(sen2_paths["sen2"], pl.DataFrame({
        "sen2tableid": [1], "collection": ["SEN2"], "year": [CENSUS_YEAR],
        "referencedate": _blade(np.array([day])), "lea": [""]}))
    ids = dict.fromkeys(MODULES, 1)
    schools: list[pl.DataFrame] = []
    next_urn = 100_000
    for i, (la, name) in enumerate(las.iter_rows()):
        s = _schools(rng, i, la, name, int(la_pupils[i]), next_urn)
        next_urn += s.height
        schools.append(s)
    schools_all = pl.concat(schools)
    others = _other_establishments(rng, max(200, round(ESTABLISHMENTS * scale)
                                            - schools_all.height), las, next_urn)
    elsewhere = {k: others.filter((pl.col("kind") == k) & (pl.col("status") == "Open"))
                 for k in ("iss", "fe")}
    for i, la in enumerate(las["old_la_code"]):
        census, in_school = _census_chunk(rng, la, schools[i], int(la_pupils[i]), day)
        files.append(census_path, census)
        _sen2_chunk(rng, files, sen2_paths, ids, la, in_school, int(la_plans[i]),
                    int(la_pupils[i]), elsewhere, day, export)
        if i % 20 == 0:
            log.info("national sample: LA %d of %d written", i + 1, n_las)
    written = {"census": [census_path], "sen2": [sen2_paths[m] for m in MODULES]}
    files.close()
    gias = dirs["establishments"] / f"edubasealldata{EPOCH + dt.timedelta(days=export):%Y%m%d}.csv"
    gias_frame = _gias_frame(schools_all, others, la_pupils)
    write_gias(gias_frame, gias)
    written["establishments"] = [gias]
    written["finance"] = _write_finance(rng, dirs["finance"], las, schools_all, scale)
    write_recovery_plan(dirs["recovery_plan"], seed)
    written["recovery_plan"] = sorted(dirs["recovery_plan"].iterdir())
    written["places"] = [_write_places(dirs["places"], schools_all, gias_frame)]
    written["population"] = [_write_population(dirs["population"], pupils)]
    return written


def _census_chunk(rng: np.random.Generator, la: str, schools: pl.DataFrame, n: int,
                  day: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One LA's census rows, and its pupils with an EHC plan (for SEN2)."""
    kind = schools["kind"].to_numpy()
    by_kind = {k: np.flatnonzero(kind == k) for k in ("primary", "secondary", "special", "pru")}
    nc_i = rng.choice(len(_NC), size=n, p=_NC_P / _NC_P.sum())
    u = rng.random(n)
    special = u < 0.016
    pru = ~special & (u < 0.018) & (nc_i >= 9) & (nc_i <= 13)
    secondary = nc_i >= 9
    school = np.where(secondary, rng.choice(by_kind["secondary"], size=n),
                      rng.choice(by_kind["primary"], size=n))
    school = np.where(special, rng.choice(by_kind["special"], size=n), school)
    school = np.where(pru, rng.choice(by_kind["pru"], size=n), school)
    # Born in the academic year that puts them in their NC year (R: Sept 2020-Aug 2021).
    start_year = CENSUS_YEAR - 1 - 5 - (nc_i - 2)
    dob = (np.array([to_days(dt.date(int(y), 9, 1)) for y in range(1990, 2030)])[
        start_year - 1990] + rng.integers(0, 365, size=n))
    v = rng.random(n)
    ehcp = special | (v < 0.034)
    support = ~ehcp & (v < 0.034 + 0.136)
    provision = np.where(ehcp, "E", np.where(support, "K", "N"))
    need_e = np.array(_NEEDS_E)[rng.choice(len(_NEEDS_E), size=n, p=_NEEDS_E_P)]
    need_k = np.array(_NEEDS_K)[rng.choice(len(_NEEDS_K), size=n, p=_NEEDS_K_P)]
    need = np.where(ehcp, need_e, np.where(support, need_k, ""))
    need2 = np.where(ehcp & (rng.random(n) < 0.3),
                     np.array(_NEEDS_E)[rng.choice(len(_NEEDS_E), size=n, p=_NEEDS_E_P)], "")
    need2 = np.where(need2 == need, "", need2)
    upn = _upns(la, np.arange(n), start_year + 5)
    estab = schools["estab_number"].to_numpy()
    sex = np.where(rng.random(n) < 0.512, "M", "F")
    frame = pl.DataFrame({
        "census_date": census_day(CENSUS_YEAR, "spring").isoformat(),
        "laestab": np.char.add(la, estab[school]),
        "urn": schools["urn"].to_numpy()[school].astype(str), "upn": upn,
        "surname": _SURNAMES[rng.integers(0, len(_SURNAMES), size=n)],
        "forename": _FORENAMES[rng.integers(0, len(_FORENAMES), size=n)],
        "date_of_birth": pl.Series(dob.astype("datetime64[D]")).dt.strftime("%Y-%m-%d"),
        "sex": sex, "nc_year_actual": _NC[nc_i], "enrol_status": "C",
        "sen_provision": provision, "primary_sen_need": need, "secondary_sen_need": need2,
        "fsm_eligible": (rng.random(n) < np.where(provision == "N", 0.22, 0.38)).astype(int),
    })
    frame = _bad_rows(rng, frame)
    in_school = pl.DataFrame({"upn": upn, "dob": dob, "sex": sex, "need": need,
                              "need2": need2, "urn": schools["urn"].to_numpy()[school],
                              "unit": ~special & (rng.random(n) < 0.08)}).filter(
        pl.Series(ehcp))
    return frame, in_school


def _bad_rows(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """A realistic trickle of mistakes: a mistyped check letter, a sex code of U, a date of
    birth typed as a US date. They are quarantined; the rest of the file loads."""
    bad = rng.random(frame.height) < BAD_ROW_RATE
    kind = rng.integers(0, 3, size=frame.height)
    flag = pl.Series(bad)
    return frame.with_columns(
        pl.when(flag & pl.Series(kind == 0)).then(pl.lit("Z") + pl.col("upn").str.slice(1))
        .otherwise(pl.col("upn")).alias("upn"),
        pl.when(flag & pl.Series(kind == 1)).then(pl.lit("U")).otherwise(pl.col("sex"))
        .alias("sex"),
        pl.when(flag & pl.Series(kind == 2)).then(pl.lit("12/31/2015"))
        .otherwise(pl.col("date_of_birth")).alias("date_of_birth"))


def _sen2_chunk(rng: np.random.Generator, files: _Files, paths: dict[str, Path],
                ids: dict[str, int], la: str, in_school: pl.DataFrame, active: int,
                la_pupils: int, elsewhere: dict[str, pl.DataFrame], day: int,
                export: int) -> None:
    """One LA's plans (active: its EHCP pupils plus plans placed elsewhere; and ceased ones),
    with their requests, assessments, placements and needs, appended to the modules."""
    n_school = in_school.height
    n_else = max(0, active - n_school)
    n_ceased = round(0.55 * active)
    n = n_school + n_else + n_ceased
    if n == 0:
        return
    # People not in the census: the serials after the LA's pupils keep UPNs unique.
    extra = n - n_school
    age_days = np.concatenate([
        day - in_school["dob"].to_numpy(),
        rng.integers(365 * 1, 365 * 24, size=n_else),
        rng.integers(365 * 5, 365 * 25, size=n_ceased)])
    dob = day - age_days
    birth_year = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)
    serial = np.concatenate([np.zeros(n_school, dtype=np.int64),
                             la_pupils + np.arange(extra)])
    upn = np.concatenate([in_school["upn"].to_numpy(),
                          _upns(la, serial[n_school:], birth_year[n_school:] + 5)])
    unknown = rng.random(n) < 0.03
    is_ceased = np.arange(n) >= n_school + n_else
    # Plans grow about 10% a year: recent starts are commoner; a plan starts after age 1.
    max_back = np.maximum(np.minimum(age_days - 365, 365 * 12), 8)
    back = rng.exponential(365 * 7, size=n).astype(np.int64)
    # Redrawn rather than capped, so no crowd of plans shares the earliest start.
    back = np.where(back >= max_back, rng.integers(0, max_back), back)
    start = np.where(is_ceased,
                     day - 365 * 14 + rng.integers(0, 365 * 13, size=n),
                     day - np.maximum(back, 7))
    cease = np.where(is_ceased, np.minimum(
        start + 30 + rng.exponential(365 * 4.0, size=n).astype(np.int64), export - 5), -1)
    received = start - rng.integers(12 * 7, 30 * 7, size=n)
    decided = received + rng.integers(20, 42, size=n)
    assessed = np.maximum(decided + 1, start - rng.integers(0, 21, size=n))
    assessed = np.minimum(assessed, start)

    def take(name: str, k: int) -> np.ndarray:
        first = ids[name]
        ids[name] += k
        return first + np.arange(k)

    person = take("person", n)
    req = take("requests", n)
    ass = take("assessment", n)
    named = take("namedplan", n)
    act = take("activeplans", n)
    sex = np.concatenate([in_school["sex"].to_numpy(),
                          np.where(rng.random(extra) < 0.7, "M", "F")])
    files.append(paths["person"], pl.DataFrame({
        "persontableid": person, "sen2tableid": 1,
        "surname": _SURNAMES[rng.integers(0, len(_SURNAMES), size=n)],
        "forename": _FORENAMES[rng.integers(0, len(_FORENAMES), size=n)],
        "personbirthdate": _blade(dob), "sex": sex,
        "ethnicity": _ETHNICITY[rng.integers(0, len(_ETHNICITY), size=n)],
        "postcode": "ZZ99 3CZ", "upn": np.where(unknown, "", upn),
        "uniquelearnernumber": "", "upnunknown": np.where(unknown, "UN2", "")}))
    files.append(paths["requests"], pl.DataFrame({
        "requeststableid": req, "persontableid": person, "receiveddate": _blade(received),
        "rya": 0, "requestoutcomedate": _blade(decided), "requestoutcome": "A",
        "requestmediation": (rng.random(n) < 0.04).astype(int),
        "requesttribunal": (rng.random(n) < 0.01).astype(int)}))
    files.append(paths["assessment"], pl.DataFrame({
        "assessmenttableid": ass, "requeststableid": req, "assessmentoutcome": "Y",
        "assessmentoutcomedate": _blade(assessed),
        # An exception to the 20-week limit only on a plan issued late: one in time needed none.
        "week20": ((rng.random(n) < 0.07) & (start - received > 140)).astype(int)}))
    files.append(paths["namedplan"], pl.DataFrame({
        "namedplantableid": named, "assessmenttableid": ass, "startdate": _blade(start),
        "planres": 0, "planwbp": 0, "pb": (rng.random(n) < 0.06).astype(int),
        "ceasedate": _blade(cease),
        "ceasereason": np.where(is_ceased, rng.choice(9, size=n, p=_CEASE_P) + 1, 0)
        .astype(str)}).with_columns(pl.col("ceasereason").replace("0", "")))
    # Where each plan is: its school, or (the rest) an independent special school, an FE
    # college, or a setting with no URN.
    kinds = np.array([k for k, _ in _ELSEWHERE])
    where = np.concatenate([np.full(n_school, "school"),
                            kinds[rng.choice(len(kinds), size=extra,
                                             p=[p for _, p in _ELSEWHERE])]])
    urn = np.full(n, -1, dtype=np.int64)
    urn[:n_school] = in_school["urn"].to_numpy()
    for k in ("iss", "fe"):
        pool = elsewhere[k]["urn"].to_numpy()
        hit = where == k
        if len(pool):
            urn[hit] = rng.choice(pool, size=int(hit.sum()))
        else:
            where[hit] = "OTH"
    setting = np.where(urn >= 0, "", where)
    unit = np.concatenate([in_school["unit"].to_numpy(), np.zeros(extra, dtype=bool)])
    urn_text = np.where(urn >= 0, urn.astype(str), "")
    ukprn = np.where(where == "fe", (10_000_000 + urn).astype(str), "")
    plan_setting = pl.DataFrame({
        "urn": urn_text, "ukprn": ukprn, "sensetting": setting, "placementrank": 1,
        "senunitindicator": unit.astype(int), "resourcedprovisionindicator": 0})
    files.append(paths["plandetail"], pl.DataFrame({
        "plandetailtableid": take("plandetail", n), "namedplantableid": named})
        .hstack(plan_setting))
    review = np.where(day - start > 365, start + 365 * ((day - start) // 365), -1)
    files.append(paths["activeplans"], pl.DataFrame({
        "activeplanstableid": act, "requeststableid": req,
        "transferla": np.where(rng.random(n) < 0.03, "800", ""), "reviewmeeting": _blade(review),
        "reviewoutcome": np.where(review >= 0, "M", ""), "lastreview": _blade(review)}))
    # A quarter of plans moved once: an earlier placement, left on the day the current began.
    moved = (rng.random(n) < 0.25) & (np.where(is_ceased, cease, day) - start > 60)
    move_day = start + (np.where(is_ceased, cease, day) - start) // 2
    earlier = np.flatnonzero(moved)
    current_entry = np.where(moved, move_day, start)
    leaving = np.where(is_ceased, cease, -1)
    previous = pl.DataFrame({
        "activeplanstableid": act[earlier], "urn": "", "ukprn": "",
        "sensetting": np.where(rng.random(len(earlier)) < 0.5, "OLA", "OTH"),
        "placementrank": 1, "entrydate": _blade(start[earlier]),
        "leavingdate": _blade(move_day[earlier]), "senunitindicator": 0,
        "resourcedprovisionindicator": 0})
    current = pl.DataFrame({
        "activeplanstableid": act, "urn": urn_text, "ukprn": ukprn, "sensetting": setting,
        "placementrank": 1, "entrydate": _blade(current_entry), "leavingdate": _blade(leaving),
        "senunitindicator": unit.astype(int), "resourcedprovisionindicator": 0})
    placements = pl.concat([previous, current], how="vertical_relaxed")
    files.append(paths["placementdetail"], placements.select(
        pl.Series("placementdetailtableid", take("placementdetail", placements.height)),
        pl.all()))
    need = np.concatenate([in_school["need"].to_numpy(), np.array(_NEEDS_E)[
        rng.choice(len(_NEEDS_E), size=extra, p=_NEEDS_E_P)]])
    need2 = np.concatenate([in_school["need2"].to_numpy(), np.where(
        rng.random(extra) < 0.3, "SLCN", "")])
    need2 = np.where(need2 == need, "", need2)
    second = np.flatnonzero(need2 != "")
    needs = pl.concat([
        pl.DataFrame({"activeplanstableid": act, "sentype": need, "sentyperank": 1}),
        pl.DataFrame({"activeplanstableid": act[second], "sentype": need2[second],
                      "sentyperank": 2})], how="vertical_relaxed")
    files.append(paths["senneed"], needs.select(
        pl.Series("senneedtableid", take("senneed", needs.height)), pl.all()))
    _refused_requests(rng, files, paths, take, la, la_pupils + extra, round(0.3 * n_else
                                                                             + 0.1 * n_school),
                      export)


def _refused_requests(rng: np.random.Generator, files: _Files, paths: dict[str, Path], take,
                      la: str, first_serial: int, n: int, export: int) -> None:
    """Requests that led to no plan (not assessed, withdrawn, assessed without a plan)."""
    if n == 0:
        return
    person = take("person", n)
    req = take("requests", n)
    dob = export - rng.integers(365 * 2, 365 * 18, size=n)
    birth_year = dob.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    received = export - rng.integers(60, 365 * 4, size=n)
    decided = received + rng.integers(20, 45, size=n)
    u = rng.random(n)
    outcome = np.where(u < 0.62, "N", np.where(u < 0.68, "W", "A"))
    files.append(paths["person"], pl.DataFrame({
        "persontableid": person, "sen2tableid": 1,
        "surname": _SURNAMES[rng.integers(0, len(_SURNAMES), size=n)],
        "forename": _FORENAMES[rng.integers(0, len(_FORENAMES), size=n)],
        "personbirthdate": _blade(dob), "sex": np.where(rng.random(n) < 0.65, "M", "F"),
        "ethnicity": _ETHNICITY[rng.integers(0, len(_ETHNICITY), size=n)],
        "postcode": "ZZ99 3CZ",
        "upn": _upns(la, first_serial + np.arange(n), birth_year + 5),
        "uniquelearnernumber": "", "upnunknown": ""}))
    files.append(paths["requests"], pl.DataFrame({
        "requeststableid": req, "persontableid": person, "receiveddate": _blade(received),
        "rya": 0, "requestoutcomedate": _blade(decided), "requestoutcome": outcome,
        "requestmediation": 0, "requesttribunal": 0}))
    assessed = np.flatnonzero(outcome == "A")
    files.append(paths["assessment"], pl.DataFrame({
        "assessmenttableid": take("assessment", len(assessed)),
        "requeststableid": req[assessed],
        "assessmentoutcome": np.where(rng.random(len(assessed)) < 0.85, "N", "W"),
        "assessmentoutcomedate": _blade(np.minimum(decided[assessed] + 70, export - 1)),
        "week20": 0}))


def _gias_frame(schools: pl.DataFrame, others: pl.DataFrame,
                la_pupils: np.ndarray) -> pl.DataFrame:
    """Both kinds of establishment in the column layout write_gias takes."""
    frame = pl.concat([schools.drop("kind"), others.drop("kind").select(schools.drop("kind")
                                                                         .columns)],
                      how="vertical_relaxed")
    return frame.with_columns(
        pl.when(pl.col("status") == "Open").then(pl.lit(PUPILS_PER_SCHOOL)).alias("pupils"),
        pl.lit(None, pl.Utf8).alias("postcode")).drop("la_index")


def _write_finance(rng: np.random.Generator, out: Path, las: pl.DataFrame,
                   schools: pl.DataFrame, scale: float) -> list[Path]:
    """An HNB ledger for every LA (budget and actual by S251 line, month and provider), about
    a million lines at full scale, and England's DSG high needs block."""
    items = [(line, cc, desc, share * weight) for line, share, _g, its in HIGH_NEEDS_LINES
             for cc, desc, weight, _pool in its]
    n_fy, n_items, n_las = len(FINANCIAL_YEARS), len(items), las.height
    # Each LA's spend: ~GBP 11bn nationally in 2025-26, growing 11% a year.
    la_spend = 11e9 * scale / 1.11 ** np.arange(n_fy)[::-1][:, None] * _shares(rng, n_las)
    fy, la, it, period = (a.ravel() for a in np.meshgrid(
        np.arange(n_fy), np.arange(n_las), np.arange(n_items), np.arange(1, 13),
        indexing="ij"))
    weight = np.array([i[3] for i in items])
    total_w = weight.sum()
    monthly = la_spend[fy, la] * weight[it] / total_w / 12
    la_codes = las["old_la_code"].to_numpy()
    special = schools.filter(pl.col("kind") == "special").group_by("la_index").agg(
        pl.col("urn").first()).sort("la_index")
    provider = dict(zip(special["la_index"].to_list(), special["urn"].to_list(), strict=True))
    base = pl.DataFrame({
        "financial_year": np.array(FINANCIAL_YEARS)[fy], "period": period,
        "s251_line": np.array([i[0] for i in items])[it],
        "cost_centre": np.char.add(np.char.add(la_codes[la], "-"),
                                   np.array([i[1] for i in items])[it]),
        "description": np.array([i[2] for i in items])[it]})
    budget = base.with_columns(pl.lit("").alias("provider_urn"), pl.lit("budget")
                               .alias("entry_type"),
                               pl.Series("amount_gbp", np.round(monthly * 0.97, 2)))
    # Actuals: each budget line paid in two parts, one to the LA's special school (a top-up
    # with a provider URN) and one without; the open year has actuals to February only.
    keep = pl.Series((fy < n_fy - 1) | (period <= 11))
    amount = monthly * rng.uniform(0.95, 1.1, size=len(fy))
    share = rng.uniform(0.3, 0.7, size=len(fy))
    urn = np.array([str(provider.get(i, "")) for i in range(n_las)])[la]
    parts = [budget] + [
        base.with_columns(pl.Series("provider_urn", urns), pl.lit("actual").alias("entry_type"),
                          pl.Series("amount_gbp", np.round(amount * part, 2))).filter(keep)
        for urns, part in ((urn, share), (np.full(len(fy), ""), 1 - share))]
    ledger = pl.concat(parts)
    out.mkdir(parents=True, exist_ok=True)
    span = f"{FINANCIAL_YEARS[0]}_to_{FINANCIAL_YEARS[-1]}"
    ledger_path = out / f"hnb_ledger_{span}.csv"
    ledger.write_csv(ledger_path, float_precision=2)
    grant = la_spend.sum(axis=1) * 0.96
    dsg_path = out / f"dsg_{span}.csv"
    pl.DataFrame({"financial_year": list(FINANCIAL_YEARS),
                  "high_needs_block_gbp": np.round(grant).astype(np.int64),
                  "block_transfer_gbp": 0,
                  "opening_cumulative_balance_gbp": [round(-0.02 * grant[0])] + [None] * (
                      n_fy - 1)}).write_csv(dsg_path)
    return [ledger_path, dsg_path]


def _write_places(out: Path, schools: pl.DataFrame, gias: pl.DataFrame) -> Path:
    """Funded places at every special school and PRU for the open financial year."""
    sub = schools.filter(pl.col("kind").is_in(["special", "pru"]))
    path = out / "commissioned_places.csv"
    out.mkdir(parents=True, exist_ok=True)
    sub.select(pl.lit(FINANCIAL_YEARS[-1]).alias("financial_year"), "urn",
               pl.when(pl.col("kind") == "special").then(pl.lit("special"))
               .otherwise(pl.lit("ap")).alias("provision"),
               pl.lit(PUPILS_PER_SCHOOL // 4).alias("funded_places")).write_csv(path)
    return path


def _write_population(out: Path, pupils: int) -> Path:
    """England's mid-year estimates by single year of age, 2013-2025 (about 650,000 a year of
    age at full scale)."""
    per_age = pupils / 14.3
    years, ages, sexes = (a.ravel() for a in np.meshgrid(
        np.arange(2013, 2026), np.arange(91), np.array(["M", "F"]), indexing="ij"))
    size = per_age * np.where(ages < 80, 1.0, 0.5) * (1 + 0.004 * (years - 2013)) / 2
    path = out / "ons_mid_year_estimates.csv"
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"new_la_code": ENGLAND, "year": years, "age": ages, "sex": sexes,
                  "population": np.round(size).astype(np.int64)}).write_csv(path)
    return path
