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

Annual reviews and phase transfers (activeplans; the export reports on 2024): A, D and F
are due a review in 2024 (a year old by 31 December, still active); B and E were issued in
2024, C ceased before its first review. A met on 2024-02-28 and was decided on 2024-03-27,
exactly 28 days: within 4 weeks, maintained; D met on 2024-08-20, decided 41 days later
(late), amended; F's last meeting was in 2023 (not held in 2024); B's first was in 2025.
Due 3, held 2 (66.7%), within 4 weeks 1 (50.0%). Phase transfers: A due 15 Feb 2024,
final a day late; F due 31 Mar 2024, final on the day (in time); D due 31 Mar 2025, after
the export, already final: 2024 has 2 due, 1 by the deadline (50.0%); 2025 1 due, settled
and in time (100.0%), no deadline passed yet.

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


# SEN2 Blade versions (witan.sen2's reader): what each adds to or moves in the modules.
VERSIONS = ("1.1", "1.2", "1.3", "1.4")


# plan -> review meeting, decision date, outcome, phase transfer due, final (see above).
DUTIES = {"A": ("2024-02-28", "2024-03-27", "M", "2024-02-15", "2024-02-16"),
          "B": ("2025-01-10", "2025-01-20", "M", None, None),
          "D": ("2024-08-20", "2024-09-30", "A", "2025-03-31", "2025-02-20"),
          "F": ("2023-02-01", "2023-02-20", "M", "2024-03-31", "2024-03-31")}


def _versioned(module: str, row: dict, i: int, version: str) -> dict:
    """`row` as the Blade export of `version` writes it: the system's own columns first
    (table id, NativeId, order, source), then the module's columns of that version."""
    key = f"{module}tableid"
    out = {key: row.pop(key), "NativeId": f"N{module[:3].upper()}{i:04d}",
           f"{module}orderseqcolumn": i, "sourceid": "CMS01", **row}
    v = tuple(int(p) for p in version.split("."))
    if module == "sen2":
        out |= {"sourcelevel": "L", "softwarecode": "MOSAIC", "release": "2025.1",
                "serialno": 1, "datetime": blade("2025-02-28"), "dmo": "", "dco": ""}
        if v >= (1, 3):
            out["dsco"] = ""
    if module == "person" and v < (1, 2):
        out = {("gendercurrent" if k == "sex" else k): x for k, x in out.items()}
    if module == "requests" and v >= (1, 3):
        out["requestsource"] = "1"
        out["exported"] = ""
    if module == "assessment":
        out |= {"assessmentmediation": 0, "assessmenttribunal": int(i == 2),
                "othermediation": 0, "othertribunal": 0}
    if module == "namedplan":
        out |= {"oa": 0, "dp": ""}
    if module == "activeplans":
        if v < (1, 2):
            out = {k: x for k, x in out.items() if k not in ("reviewmeeting", "reviewoutcome")}
            out |= {"res": "", "wbp": ""}
        if v >= (1, 3):
            out.setdefault("reviewdraft", "")
        else:
            out = {k: x for k, x in out.items()
                   if k not in ("phasetransferduedate", "phasetransferfinaldate")}
    if module == "placementdetail":
        out |= {"attendancepattern": "F"} if v < (1, 2) else {"res": "", "wbp": ""}
    if module in ("plandetail", "placementdetail"):
        out["sensettingother"] = ""
    return out


def write_sen2(folder: Path, export: dt.date = EXPORT, version: str | None = None,
               ids=None) -> list[Path]:
    """The export of plans A-F. `version`: write the full header of that SEN2 Blade version
    (NativeId, order and source columns included); None writes only the contract's columns.
    `ids(module, i)`: the text of row i's table id in a module (and of the ids linking to
    it); by default the whole number i."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = export.strftime("%d-%m-%Y")
    modules: dict[str, list[dict]] = {m: [] for m in (
        "sen2", "person", "requests", "assessment", "namedplan", "plandetail", "activeplans",
        "placementdetail", "senneed")}
    modules["sen2"].append({"sen2tableid": 1, "collection": "SEN2", "year": 2025,
                            "referencedate": blade("2025-01-16"), "lea": "865"})
    for i, (plan, request, start, cease, reason, transfer, week20) in enumerate(PLANS, 1):
        meeting, decided, outcome, due, final = DUTIES.get(plan, (None,) * 5)
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
            "reviewmeeting": blade(meeting), "reviewoutcome": outcome or "",
            "lastreview": blade(decided), "phasetransferduedate": blade(due),
            "phasetransferfinaldate": blade(final)})
        modules["placementdetail"].append({
            "placementdetailtableid": i, "activeplanstableid": i, "urn": "100001", "ukprn": "",
            "sensetting": "", "placementrank": 1, "entrydate": blade(start),
            "leavingdate": blade(cease), "senunitindicator": 0,
            "resourcedprovisionindicator": 0})
        modules["senneed"].append({"senneedtableid": i, "activeplanstableid": i,
                                   "sentype": "ASD", "sentyperank": 1})
    if ids is not None:
        for rows in modules.values():
            for row in rows:
                for k, x in row.items():
                    if k.endswith("tableid"):
                        row[k] = ids(k.removesuffix("tableid"), x)
    if version is not None:
        modules = {m: [_versioned(m, dict(r), i, version) for i, r in enumerate(rows, 1)]
                   for m, rows in modules.items()}
    paths = []
    for module, rows in modules.items():
        path = folder / f"Blade-Export_{stamp}_{module}.csv"
        pl.DataFrame(rows, infer_schema_length=None).write_csv(path)
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


def _hex_id(kind: str, i: int) -> str:
    """An id as Blade writes them (`0002e817-8ca`), from a table and row."""
    import hashlib

    h = hashlib.sha1(f"{kind}/{i}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:11]}"


def write_census_blade(folder: Path, rows: list[str] | None = None, *, day: str = "2024-01-18",
                       urn: bool = True, sex_header: str = "sex",
                       tables: tuple[str, ...] = ("schoolcensus", "pupilonroll", "senneeds",
                                                  "fsmperiod"),
                       stamp: str | None = None) -> dict[str, Path]:
    """handmade's census (`census_rows()`, the flat layout's lines) as a COLLECT Blade export:
    a `schoolcensus` return per school, a `pupilonroll` row per line (in the same order, so
    file rows match the flat file's), `senneeds` (rank 1 and 2 written `1.0`, `2.0` as Blade
    does) and `fsmperiod` (an open period from September for FSM pupils). `urn=False` writes
    returns as before autumn 2017 (no URN column)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = stamp or dt.date.fromisoformat(day).strftime("%d-%m-%Y")
    lines = rows if rows is not None else census_rows()
    fields = [line.split(",") for line in lines]
    schools = sorted({(f[1], f[2]) for f in fields})
    header_id = {laestab: _hex_id("schoolcensus", i) for i, (laestab, _) in enumerate(schools)}
    when = blade(day)
    out: dict[str, list[dict]] = {t: [] for t in tables}
    for i, (laestab, u) in enumerate(schools):
        ret = {"schoolcensustableid": header_id[laestab], "NativeId": f"SCH{i}",
               "schoolcensusorderseqcolumn": i + 1, "sourceid": "src", "term": "SPR",
               "year": day[:4], "referencedate": when, "estab": laestab[3:],
               "softwarecode": "TEST", "lea": laestab[:3]}
        if urn:
            ret["urn"] = u
        out["schoolcensus"].append(ret)
    for i, f in enumerate(fields):
        (_, laestab, _, upn_, surname, forename, dob, sex, nc, enrol, prov, need, need2,
         fsm) = f
        pid = _hex_id("pupilonroll", i)
        dob_blade = blade(dt.datetime.strptime(dob, "%d/%m/%Y").date().isoformat())
        out["pupilonroll"].append({
            "pupilonrolltableid": pid, "NativeId": f"P{i}", "dob": dob_blade,
            "surname": surname, "forename": forename, "upn": upn_, sex_header: sex,
            "pupilonrollorderseqcolumn": 1, "sourceid": "src",
            "schoolcensustableid": header_id[laestab], "enrolstatus": enrol,
            "senprovision": prov, "ncyearactual": nc, "parttime": "False"})
        for rank, code in ((1, need), (2, need2)):
            if code and "senneeds" in out:
                out["senneeds"].append({
                    "pupilonrolltableid": pid, "NativeId": f"P{i}",
                    "senneedstableid": _hex_id(f"need{rank}", i), "senneedsorderseqcolumn":
                    rank, "sourceid": "src", "sentyperank": f"{rank}.0", "sentype": code})
        if fsm == "1" and "fsmperiod" in out:
            out["fsmperiod"].append({
                "pupilonrolltableid": pid, "NativeId": f"P{i}",
                "fsmperiodtableid": _hex_id("fsm", i), "fsmperiodorderseqcolumn": 1,
                "sourceid": "src", "fsmstartdate": blade("2023-09-04"), "fsmenddate": "",
                "ukcountry": "ENG"})
    paths = {}
    for table, records in out.items():
        path = folder / f"Blade-Export_{stamp}_{table}.csv"
        columns = list(records[0]) if records else {
            "senneeds": ["pupilonrolltableid", "NativeId", "senneedstableid",
                         "senneedsorderseqcolumn", "sourceid", "sentyperank", "sentype"],
            "fsmperiod": ["pupilonrolltableid", "NativeId", "fsmperiodtableid",
                          "fsmperiodorderseqcolumn", "sourceid", "fsmstartdate", "fsmenddate",
                          "ukcountry"]}[table]
        pl.DataFrame(records, schema=dict.fromkeys(columns, pl.Utf8) if not records else None,
                     infer_schema_length=None).write_csv(path)
        paths[table] = path
    return paths


# The statutory duties' fields of a v1.3 export of plans A-F, and two requests with no plan:
# G, refused on 1 Apr 2024 and taken to mediation and a tribunal; H, assessed and decided on
# 1 May 2024 not to issue a plan (90 days after the request: within 16 weeks), appealed.
DUTY_REQUESTS = {"G": ("2024-03-01", "2024-04-01", "N"), "H": ("2024-02-01", "2024-02-20", "A")}
# request source, by plan (D is a transfer in, so its request counts nowhere; F none recorded)
REQUEST_SOURCES = {"A": "1", "B": "2", "C": "2", "D": "3", "E": "4", "F": "", "G": "1",
                   "H": "5"}
# personal budget (pb, oa, dp) of the named plans that have one
BUDGETS = {"A": ("1", "1", ""), "B": ("1", "1", "1"), "E": ("1", "0", "1")}


def write_sen2_duties(folder: Path) -> list[Path]:
    """handmade's export as SEN2 v1.3 writes it, with the fields of the statutory duties'
    tables filled (their hand-worked values: tests/test_flow_handmade_duties.py): request
    sources, C's request mediation, B's (the v1.3 writer's) and H's assessment tribunal,
    E's tribunal on its plan, personal budgets, F placed in elective home education (no URN)
    from the start, and the requests G and H."""
    paths = {p.name.rsplit("_", 1)[1].removesuffix(".csv"): p
             for p in write_sen2(folder, version="1.3")}
    ids = {plan: i for i, (plan, *_) in enumerate(PLANS, 1)} | {"G": 7, "H": 8}

    def edit(module: str, changes: dict[str, dict[str, str]], extra: list[dict] = ()) -> None:
        frame = pl.read_csv(paths[module], infer_schema=False)
        key = f"{module}tableid"
        for plan, cells in changes.items():
            hit = pl.col(key) == str(ids[plan])
            frame = frame.with_columns(pl.when(hit).then(pl.lit(v)).otherwise(pl.col(c))
                                       .alias(c) for c, v in cells.items())
        template = frame.row(0, named=True)
        rows = [{**template, **row} for row in extra]
        pl.concat([frame, pl.DataFrame(rows, schema=frame.schema)]).write_csv(paths[module])

    new = {"G": 7, "H": 8}
    edit("person", {}, [{"persontableid": str(i), "NativeId": f"NPER{i:04d}",
                         "surname": f"Surname{i}", "upn": upn("865", "2001", 15, i)}
                        for i in new.values()])
    edit("requests", {p: {"requestsource": s} for p, s in REQUEST_SOURCES.items()
                      if p not in new} | {"C": {"requestsource": "2", "requestmediation": "1"}},
         [{"requeststableid": str(i), "persontableid": str(i), "NativeId": f"NREQ{i:04d}",
           "receiveddate": blade(DUTY_REQUESTS[p][0]),
           "requestoutcomedate": blade(DUTY_REQUESTS[p][1]),
           "requestoutcome": DUTY_REQUESTS[p][2], "requestsource": REQUEST_SOURCES[p],
           "requestmediation": "1" if p == "G" else "0",
           "requesttribunal": "1" if p == "G" else "0"} for p, i in new.items()])
    edit("assessment", {"E": {"othertribunal": "1"}},
         [{"assessmenttableid": "8", "requeststableid": "8", "NativeId": "NASS0008",
           "assessmentoutcome": "N", "assessmentoutcomedate": blade("2024-05-01"),
           "week20": "0", "assessmenttribunal": "1"}])
    edit("namedplan", {p: {"pb": pb, "oa": oa, "dp": dp} for p, (pb, oa, dp) in BUDGETS.items()})
    for module in ("plandetail", "placementdetail"):
        edit(module, {"F": {"urn": "", "sensetting": "EHE"}})
    return list(paths.values())
