"""School census files (pupil level) from the sample world, one per census, in contract form.

Pre-2018 files use the older COLLECT header names and UK dates, as an LA's archive would.
Autumn 2014 uses the legacy SEN provision codes (S, A, P) and BESD, as before the 2014 reforms.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from sendboard.sample.calendar import EPOCH, academic_age, census_day, to_days
from sendboard.sample.establishments import LA_CODE
from sendboard.sample.world import World

CENSUS_KINDS = {"primary", "secondary", "la_special", "academy_special", "pru"}


def census_terms(first_year: int = 2014, last_year: int = 2026) -> list[tuple[int, str]]:
    """Every (year, term) from autumn of `first_year` to spring of `last_year`, in date order."""
    out = [(first_year, "autumn")]
    for year in range(first_year + 1, last_year + 1):
        out.append((year, "spring"))
        if year < last_year:
            out += [(year, "summer"), (year, "autumn")]
    return out


def _nc_year(acad_age: np.ndarray) -> np.ndarray:
    labels = np.array(["N1", "N2", "R"] + [str(i) for i in range(1, 15)])
    return labels[np.clip(acad_age - 2, 0, len(labels) - 1)]


def pupils_on_census(world: World, day: int) -> pl.DataFrame:
    """The census rows for one census day, before formatting."""
    ch, est = world.children, world.establishments
    frame = est.frame
    kinds = frame["kind"].to_numpy()
    year = (EPOCH + dt.timedelta(days=day)).year
    acad = academic_age(ch.dob, day)
    present = (ch.arrive <= day) & (day < ch.depart)

    # Where plan holders are placed on the day decides whether (and where) they are counted.
    plan_row = np.full(len(ch), -3, dtype=np.int64)  # -3: no active plan
    plan_need = np.full(len(ch), "", dtype=object)
    plan_need2 = np.full(len(ch), "", dtype=object)
    for p in world.plans:
        if p.start <= day < p.cease:
            row = -2  # active plan but not placed in a school that makes a census return
            for s, e, r, _ in p.segments:
                if s <= day < e and r >= 0 and kinds[r] in CENSUS_KINDS:
                    row = r
            plan_row[p.child] = row
            plan_need[p.child] = p.need
            plan_need2[p.child] = p.need2

    school = np.where(acad <= 10, ch.primary, ch.secondary)
    on_roll = present & (
        ((acad >= 4) & (acad <= 15) & (ch.u_school < 0.96))
        | ((acad == 3) & (ch.u_nursery < 0.32)) | ((acad == 2) & (ch.u_nursery < 0.03))
        | ((acad >= 16) & (acad <= 17) & (ch.u_sixth < 0.36) & (ch.u_school < 0.96))
    )
    on_roll &= plan_row == -3
    has_plan_here = plan_row >= 0
    school = np.where(has_plan_here, plan_row, school)
    idx = np.flatnonzero(on_roll | has_plan_here)
    ehcp = has_plan_here[idx]

    trend = 0.118 + 0.0022 * (year - 2015)
    k_rate = np.select([acad[idx] <= 3, acad[idx] <= 10, acad[idx] <= 15], [0.06, trend + 0.02,
                                                                             trend - 0.01], 0.05)
    sen_support = ~ehcp & (ch.u_sen[idx] < k_rate)
    provision = np.where(ehcp, "E", np.where(sen_support, "K", "N"))
    need = np.where(ehcp, plan_need[idx], np.where(sen_support, ch.sen_need[idx], ""))
    need2 = np.where(ehcp, plan_need2[idx], "")
    fsm_rate = 0.10 + 0.009 * (year - 2014)
    fsm = ch.u_fsm[idx] < np.where(provision != "N", fsm_rate * 1.9, fsm_rate)
    acad_i = acad[idx]
    df = pl.DataFrame({
        "child": idx, "school": school[idx], "nc": _nc_year(acad_i), "provision": provision,
        "need": need.astype(str), "need2": need2.astype(str), "fsm": fsm,
        "enrol": np.full(len(idx), "C"),
    })
    # Dual registration: a few secondary pupils are also on a PRU's roll (subsidiary there).
    dual = (ch.u_dual[idx] < 0.004) & (acad_i >= 11) & (acad_i <= 15) & (kinds[school[idx]] ==
                                                                         "secondary")
    if dual.any():
        pru_rows = est.pru[np.arange(int(dual.sum())) % len(est.pru)]
        subsidiary = df.filter(pl.Series(dual)).with_columns(
            pl.Series("school", pru_rows), pl.lit("S").alias("enrol"))
        df = pl.concat([df.with_columns(pl.when(pl.Series(dual)).then(pl.lit("M"))
                                        .otherwise(pl.col("enrol")).alias("enrol")), subsidiary])
    return df


def write_census(world: World, out_dir: Path, year: int, term: str) -> Path:
    """Write one census file in the contract's format; returns its path."""
    day = to_days(census_day(year, term))
    df = pupils_on_census(world, day)
    ch, frame = world.children, world.establishments.frame
    urn = frame["urn"].to_numpy()
    estab = frame["estab_number"].to_numpy()
    child = df["child"].to_numpy()
    school = df["school"].to_numpy()
    legacy = (year, term) == (2014, "autumn")
    old_headers = year < 2018
    date_fmt = "%d/%m/%Y" if old_headers else "%Y-%m-%d"
    dob = pl.Series(ch.dob[child]).cast(pl.Date)
    provision = df["provision"]
    need = df["need"]
    if legacy:
        # Before the reforms: statements (S), School Action (A), School Action Plus (P).
        u = ch.u_sen[child]
        provision = pl.Series(np.where(provision == "E", "S", np.where(
            provision == "K", np.where(u < 0.07, "A", "P"), "N")))
        need = need.replace("SEMH", "BESD")
    fsm = df["fsm"].to_numpy()
    out = pl.DataFrame({
        "census_date": [census_day(year, term).strftime(date_fmt)] * len(df),
        "laestab": np.char.add(LA_CODE, estab[school].astype(str)),
        "urn": urn[school].astype(str),
        "upn": ch.upn[child].astype(str),
        "surname": ch.surname[child], "forename": ch.forename[child],
        "date_of_birth": dob.dt.strftime(date_fmt),
        "sex": ch.sex[child], "nc_year_actual": df["nc"], "enrol_status": df["enrol"],
        "sen_provision": provision, "primary_sen_need": need,
        "secondary_sen_need": df["need2"],
        "fsm_eligible": np.where(fsm, "true", "false") if old_headers else fsm.astype(int),
    }).sort(["laestab", "upn", "enrol_status"])
    if old_headers:
        out.columns = ["CensusDate", "LAEstab", "URN", "UPN", "Surname", "Forename", "DOB",
                       "Gender", "NCyearActual", "EnrolStatus", "SENprovision", "SENtype",
                       "SecondarySENType", "FSMeligible"]
    path = out_dir / f"School Census {term.title()} {year}.csv"
    out.write_csv(path)
    return path
