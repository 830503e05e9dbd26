"""Tiny extracts written by hand in the contract formats, whose KPIs are worked out by hand.

The plans (export of 1 March 2025; January census days 19 Jan 2023, 18 Jan 2024,
16 Jan 2025):

| plan | request    | start      | cease      | notes                                    |
|------|------------|------------|------------|------------------------------------------|
| A    | 2022-11-01 | 2023-03-01 |            | 120 days: within 20 weeks                |
| B    | 2023-08-01 | 2024-01-18 |            | starts ON census day; 170 days; exception |
| C    | 2023-01-12 | 2023-06-01 | 2024-01-18 | exactly 140 days: within; ceases ON census day |
| D    | 2023-01-01 | 2023-09-01 |            | transfer in from LA 803: not a new plan  |
| E    | 2024-01-01 | 2024-05-01 | 2024-12-31 | 121 days: within; exception              |
| F    | 2021-06-01 | 2022-02-01 |            | 245 days: late                           |

Caseload: Jan 2023 = 1 (F); Jan 2024 = 4 (A, B, D, F: B counts, C does not);
Jan 2025 = 4 (A, B, D, F). New plans: 2022 = 1 (0 within); 2023 = 2 (A, C: both within);
2024 = 2 (B late, E within) -> 50.0%; excluding exceptions 2024 has none -> no percentage.

Census, spring 2024 (18 Jan 2024): school 100001 (LAEstab 8652001) has pupils 1 (E),
2 (K), 3 (N), 4 (M: main registration, N); PRU 100002 (8651100) has pupil 4 again (S:
subsidiary, K: never counted) and pupil 5 (K). LA: 5 pupils, 1 EHCP (20.0%), 2 SEN support
(40.0%). School 100001: 4 pupils, 1 EHCP (25.0%), 1 K (25.0%). PRU: 1 pupil, 0 EHCP, 1 K.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from sendboard.sample.world import _upn_check_letter

EXPORT = dt.date(2025, 3, 1)


def upn(la: str, estab: str, year: int, serial: int) -> str:
    body = f"{la}{estab}{year:02d}{serial:03d}"
    return _upn_check_letter(body) + body


PUPIL_UPNS = [upn("865", "2001", 15, i) for i in range(1, 7)]


def blade(d: str | None) -> str:
    return "" if not d else dt.date.fromisoformat(d).strftime("%Y-%b-%d 00:00:00")


PLANS = [
    # id, request, start, cease, reason, transfer_la, week20
    ("A", "2022-11-01", "2023-03-01", None, "", "", 0),
    ("B", "2023-08-01", "2024-01-18", None, "", "", 1),
    ("C", "2023-01-12", "2023-06-01", "2024-01-18", "2", "", 0),
    ("D", "2023-01-01", "2023-09-01", None, "", "803", 0),
    ("E", "2024-01-01", "2024-05-01", "2024-12-31", "2", "", 1),
    ("F", "2021-06-01", "2022-02-01", None, "", "", 0),
]


def write_sen2(folder: Path, export: dt.date = EXPORT) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = export.strftime("%d-%m-%Y")
    modules: dict[str, list[dict]] = {m: [] for m in (
        "sen2", "person", "requests", "assessment", "namedplan", "plandetail", "activeplans",
        "placementdetail", "senneed")}
    modules["sen2"].append({"sen2tableid": 1, "collection": "SEN2", "year": 2025,
                            "referencedate": blade("2025-01-16"), "lea": "865"})
    for i, (_, request, start, cease, reason, transfer, week20) in enumerate(PLANS, 1):
        modules["person"].append({
            "persontableid": i, "sen2tableid": 1, "surname": f"Surname{i}", "forename": "Kit",
            "personbirthdate": blade("2015-06-15"), "sex": "F", "ethnicity": "WBRI",
            "postcode": "SN1 1AA", "upn": PUPIL_UPNS[i - 1], "uniquelearnernumber": "",
            "upnunknown": ""})
        modules["requests"].append({
            "requeststableid": i, "persontableid": i, "receiveddate": blade(request), "rya": 0,
            "requestoutcomedate": blade(request), "requestoutcome": "A",
            "requestmediation": 0, "requesttribunal": 0})
        modules["assessment"].append({
            "assessmenttableid": i, "requeststableid": i, "assessmentoutcome": "Y",
            "assessmentoutcomedate": blade(start), "week20": week20})
        modules["namedplan"].append({
            "namedplantableid": i, "assessmenttableid": i, "startdate": blade(start),
            "planres": 0, "planwbp": 0, "pb": 0, "ceasedate": blade(cease),
            "ceasereason": reason})
        modules["plandetail"].append({
            "plandetailtableid": i, "namedplantableid": i, "urn": "100001", "ukprn": "",
            "sensetting": "", "placementrank": 1, "senunitindicator": 0,
            "resourcedprovisionindicator": 0})
        modules["activeplans"].append({
            "activeplanstableid": i, "requeststableid": i, "transferla": transfer,
            "reviewmeeting": "", "reviewoutcome": "", "lastreview": ""})
        modules["placementdetail"].append({
            "placementdetailtableid": i, "activeplanstableid": i, "urn": "100001", "ukprn": "",
            "sensetting": "", "placementrank": 1, "entrydate": blade(start),
            "leavingdate": blade(cease), "senunitindicator": 0,
            "resourcedprovisionindicator": 0})
        modules["senneed"].append({"senneedtableid": i, "activeplanstableid": i,
                                   "sentype": "ASD", "sentyperank": 1})
    paths = []
    for module, rows in modules.items():
        path = folder / f"Blade-Export_{stamp}_{module}.csv"
        pl.DataFrame(rows).write_csv(path)
        paths.append(path)
    return paths


CENSUS_HEADER = ("CensusDate,LAEstab,URN,UPN,Surname,Forename,DOB,Gender,NCyearActual,"
                 "EnrolStatus,SENprovision,SENtype,SecondarySENType,FSMeligible")


def census_rows(day: str = "18/01/2024") -> list[str]:
    u = PUPIL_UPNS
    return [
        f"{day},8652001,100001,{u[0]},Smith,Ann,01/05/2015,F,3,C,E,ASD,,0",
        f"{day},8652001,100001,{u[1]},Jones,Bob,01/06/2015,M,3,C,K,SLCN,,1",
        f"{day},8652001,100001,{u[2]},Brown,Cat,01/07/2015,F,3,C,N,,,0",
        f"{day},8652001,100001,{u[3]},White,Dan,01/08/2014,M,4,M,N,,,0",
        f"{day},8651100,100002,{u[3]},White,Dan,01/08/2014,M,4,S,K,SEMH,,0",
        f"{day},8651100,100002,{u[4]},Green,Eve,01/09/2013,F,5,C,K,SEMH,,1",
    ]


def write_census(folder: Path, rows: list[str] | None = None,
                 name: str = "spring 2024.csv", header: str = CENSUS_HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *(rows if rows is not None else census_rows())]) + "\n")
    return path


def write_landing(landing: Path) -> Path:
    write_sen2(landing / "sen2")
    write_census(landing / "census")
    return landing
