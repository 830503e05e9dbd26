"""Hand-made SEN2 Blade exports built child by child, for the readiness checks' tests.

tests/handmade.py writes one fixed export (plans A-F) whose KPIs are worked out by hand;
these tests need many small cases, each a clean child changed in one field. `Blade` holds
the rows, `Blade.write` writes the nine modules as Blade CSV files (NativeId, order and
source columns, Blade's `2023-Jan-10 00:00:00` dates) and `staged` reads them back through
the loader's own path: warehouse.sen2_export.read_module (reading and the schema),
transforms.sen2.orphans (links), transforms.sen2.stage_module (typed, pseudonymised rows).

A clean child (`Blade.case`), against census day 16 January 2025 and an export of 1 March
2025: born 15 June 2015, a request received 10 January 2023 and decided to assess on
1 February, an assessment outcome Y and a plan issued 1 May 2023 (111 days: in time), the
plan naming URN 100001, an active plan placed at 100001 since 1 May 2023, need ASD rank 1.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from tests.handmade import blade, upn
from transforms.sen2 import module_of, orphans, stage_module
from warehouse.archive import sha256_of
from warehouse.files import LandedFile
from warehouse.reading import read_validated
from warehouse.sen2_export import read_module
from warehouse.sources import SOURCES

CENSUS_DAY = dt.date(2025, 1, 16)
EXPORT = dt.date(2025, 3, 1)
KEY = b"k" * 32

# module -> (its parent link column, its columns after the table id, with a clean value)
COLUMNS: dict[str, tuple[str | None, dict[str, object]]] = {
    "sen2": (None, {"collection": "SEN2", "year": 2025, "referencedate": "2025-01-16",
                    "lea": "865"}),
    "person": ("sen2tableid", {"surname": "", "forename": "Kit",
                               "personbirthdate": "2015-06-15", "sex": "F",
                               "ethnicity": "WBRI", "postcode": "SN1 1AA", "upn": "",
                               "uniquelearnernumber": "", "upnunknown": ""}),
    "requests": ("persontableid", {"receiveddate": "2023-01-10", "requestsource": "1",
                                   "rya": 0, "requestoutcomedate": "2023-02-01",
                                   "requestoutcome": "A", "requestmediation": 0,
                                   "requesttribunal": 0}),
    "assessment": ("requeststableid", {"assessmentoutcome": "Y",
                                       "assessmentoutcomedate": "2023-05-01", "week20": 0}),
    "namedplan": ("assessmenttableid", {"startdate": "2023-05-01", "planres": 0,
                                        "planwbp": 0, "pb": 0, "ceasedate": "",
                                        "ceasereason": ""}),
    "plandetail": ("namedplantableid", {"urn": "100001", "ukprn": "", "sensetting": "",
                                        "placementrank": 1, "senunitindicator": 0,
                                        "resourcedprovisionindicator": 0}),
    "activeplans": ("requeststableid", {"transferla": "", "reviewmeeting": "",
                                        "reviewoutcome": "", "reviewdraft": "",
                                        "phasetransferduedate": "",
                                        "phasetransferfinaldate": "", "lastreview": ""}),
    "placementdetail": ("activeplanstableid", {"urn": "100001", "ukprn": "",
                                               "sensetting": "", "placementrank": 1,
                                               "entrydate": "2023-05-01", "leavingdate": "",
                                               "senunitindicator": 0,
                                               "resourcedprovisionindicator": 0}),
    "senneed": ("activeplanstableid", {"sentype": "ASD", "sentyperank": 1}),
}
MODULES = tuple(COLUMNS)
_BASE = {m: (i + 1) * 1_000_000 for i, m in enumerate(MODULES)}
DATES = {"referencedate", "personbirthdate", "receiveddate", "requestoutcomedate",
         "assessmentoutcomedate", "startdate", "ceasedate", "reviewmeeting", "reviewdraft",
         "phasetransferduedate", "phasetransferfinaldate", "lastreview", "entrydate",
         "leavingdate"}


class Blade:
    """An export's rows. A row's table id is its module's base + 100 x the child's number +
    the row's place among that child's rows of the module (person 12 is 2001200, its first
    request 3001200): the same child keeps its ids from one export to the next. `ids`
    writes an id as other text (e.g. Blade's hashes)."""

    def __init__(self, ids: Callable[[str, int], str] | None = None):
        self.rows: dict[str, list[dict]] = {m: [] for m in MODULES}
        self._owner: dict[int, int] = {}
        self._text = ids or (lambda module, i: str(i))
        self.sen2 = self._add("sen2", 0, None, {})

    def _add(self, module: str, child: int, parent: int | None, fields: dict) -> int:
        mine = [r for r in self.rows[module] if r["_child"] == child]
        i = _BASE[module] + 100 * child + len(mine)
        link, defaults = COLUMNS[module]
        row = {"_child": child, "_id": i, f"{module}tableid": i, **defaults, **fields}
        if link is not None:
            row[link] = parent
        self.rows[module].append(row)
        self._owner[i] = child
        return i

    def person(self, child: int, **fields) -> int:
        clean = {"surname": f"Surname{child}", "upn": upn("865", "2001", 15, child)}
        return self._add("person", child, self.sen2, clean | fields)

    def request(self, person: int, **fields) -> int:
        return self._add("requests", self._owner[person], person, fields)

    def assessment(self, request: int, **fields) -> int:
        return self._add("assessment", self._owner[request], request, fields)

    def plan(self, assessment: int, **fields) -> int:
        return self._add("namedplan", self._owner[assessment], assessment, fields)

    def plan_detail(self, plan: int, **fields) -> int:
        return self._add("plandetail", self._owner[plan], plan, fields)

    def active(self, request: int, **fields) -> int:
        return self._add("activeplans", self._owner[request], request, fields)

    def placement(self, active: int, **fields) -> int:
        return self._add("placementdetail", self._owner[active], active, fields)

    def need(self, active: int, **fields) -> int:
        return self._add("senneed", self._owner[active], active, fields)

    def case(self, child: int, person: dict | None = None, request: dict | None = None,
             assessment: dict | None = None, plan: dict | None = None,
             detail: dict | None = None, active: dict | None = None,
             placements: list[dict] | None = None, needs: list[dict] | None = None,
             omit: tuple[str, ...] = ()) -> dict[str, list[int]]:
        """A clean child with a plan, each module's fields changed as given; `omit` leaves
        out modules (and so their children). Returns each module's ids."""
        ids: dict[str, list[int]] = {m: [] for m in MODULES if m != "sen2"}
        p = self.person(child, **(person or {}))
        ids["person"].append(p)
        if "requests" in omit:
            return ids
        r = self.request(p, **(request or {}))
        ids["requests"].append(r)
        if "assessment" not in omit:
            a = self.assessment(r, **(assessment or {}))
            ids["assessment"].append(a)
            if "namedplan" not in omit:
                n = self.plan(a, **(plan or {}))
                ids["namedplan"].append(n)
                if "plandetail" not in omit:
                    ids["plandetail"].append(self.plan_detail(n, **(detail or {})))
        if "activeplans" not in omit:
            ap = self.active(r, **(active or {}))
            ids["activeplans"].append(ap)
            if "placementdetail" not in omit:
                ids["placementdetail"] += [self.placement(ap, **f) for f in placements or [{}]]
            if "senneed" not in omit:
                ids["senneed"] += [self.need(ap, **f) for f in needs or [{}]]
        return ids

    def text_id(self, module: str, i: int) -> str:
        return self._text(module, i)

    def write(self, folder: Path, export: dt.date = EXPORT) -> list[Path]:
        """The nine modules as Blade writes them, every value text."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for module in MODULES:
            link, defaults = COLUMNS[module]
            header = [f"{module}tableid", "NativeId", f"{module}orderseqcolumn", "sourceid",
                      *([link] if link else []), *defaults]
            records = []
            for k, row in enumerate(self.rows[module], 1):
                out = {f"{module}tableid": self._text(module, row["_id"]),
                       "NativeId": native_id(module, row["_id"]),
                       f"{module}orderseqcolumn": str(k), "sourceid": "CMS01"}
                if link:
                    parent = row[link]
                    out[link] = "" if parent is None else self._text(_parent(module), parent)
                for c in defaults:
                    out[c] = _text(c, row[c])
                records.append(out)
            path = folder / f"Blade-Export_{export:%d-%m-%Y}_{module}.csv"
            pl.DataFrame(records, schema=dict.fromkeys(header, pl.Utf8)).write_csv(path)
            paths.append(path)
        return paths


def native_id(module: str, i: int) -> str:
    """The case management system's own id for a row: what caseworkers look it up by."""
    return f"CMS-{module[:4].upper()}-{i}"


def _parent(module: str) -> str:
    return {"person": "sen2", "requests": "person", "assessment": "requests",
            "namedplan": "assessment", "plandetail": "namedplan", "activeplans": "requests",
            "placementdetail": "activeplans", "senneed": "activeplans"}[module]


def _text(column: str, value: object) -> str:
    if value is None:
        return ""
    if column in DATES and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
        return blade(str(value))
    return str(value)  # (any other text as it is: a bad date stays bad)


def staged(folder: Path, key: bytes = KEY, export: dt.date = EXPORT
           ) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """The export in `folder` staged as the loader stages it, and its quarantine as
    sen2_checks.quarantine_issues takes it (module, table_id, native_id, column_name, rule,
    value_masked; the ids looked up in the file by row number)."""
    paths = {module_of(p.name): p for p in sorted(folder.glob("Blade-Export_*.csv"))}
    reads = {m: read_module(LandedFile("sen2", p, sha256_of(p))) for m, p in paths.items()}
    for m, r in reads.items():
        assert not isinstance(r, str), f"{m}: {r}"
    kept, orphaned = orphans({m: r.validated.good for m, r in reads.items()},
                             {m: SEN2_PERSONAL.get(m, set()) for m in reads})
    stage = {m: stage_module(m, kept[m], key, export) for m in kept}
    records = []
    for m, r in reads.items():
        found = pl.concat([r.quarantine, orphaned.get(m, r.quarantine.clear())])
        if found.height == 0:
            continue
        ids = pl.read_csv(paths[m], infer_schema=False).with_row_index("row_number", offset=2)
        records.append(found.join(
            ids.select(pl.col("row_number").cast(pl.Int64), pl.col(f"{m}tableid")
                       .alias("table_id"), pl.col("NativeId").alias("native_id")),
            on="row_number", how="left").select(
            pl.lit(m).alias("module"), "table_id", "native_id", "column_name", "rule",
            "value_masked"))
    quarantine = pl.concat(records) if records else pl.DataFrame(schema={
        c: pl.Utf8 for c in ("module", "table_id", "native_id", "column_name", "rule",
                             "value_masked")})
    return stage, quarantine


def _personal() -> dict[str, set[str]]:
    from schemas.contracts import SEN2_MODULES

    return {m: c.personal for m, c in SEN2_MODULES.items()}


SEN2_PERSONAL = _personal()

GIAS_HEADER = ("URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
               "TypeOfEstablishment (name)", "EstablishmentTypeGroup (name)",
               "EstablishmentStatus (name)", "PhaseOfEducation (name)", "StatutoryLowAge",
               "StatutoryHighAge", "OpenDate", "CloseDate", "TypeOfResourcedProvision (name)",
               "ResourcedProvisionOnRoll", "ResourcedProvisionCapacity", "SenUnitOnRoll",
               "SenUnitCapacity")


def gias(folder: Path, rows: list[dict], optional: bool = True) -> pl.DataFrame:
    """A GIAS extract (edubasealldata, Windows-1252) of `rows` (GIAS header -> value), read
    and staged as the loader stages it. `optional=False` writes only the required columns."""
    header = [h for h in GIAS_HEADER if optional or h not in GIAS_HEADER[11:]]
    base = {"LA (code)": "865", "LA (name)": "Wiltshire", "EstablishmentNumber": "2001",
            "EstablishmentName": "School", "TypeOfEstablishment (name)": "Community school",
            "EstablishmentTypeGroup (name)": "Local authority maintained schools",
            "EstablishmentStatus (name)": "Open", "PhaseOfEducation (name)": "Primary",
            "StatutoryLowAge": "4", "StatutoryHighAge": "11",
            "TypeOfResourcedProvision (name)": "Not applicable"}
    lines = [",".join(f'"{h}"' for h in header)]
    for row in rows:
        full = base | row
        lines.append(",".join(f'"{full.get(h, "")}"' for h in header))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "edubasealldata20250301.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    source = SOURCES["establishments"][0]
    read = read_validated(path, source.contract, source.schema())
    assert read.quarantine.height == 0, read.quarantine
    return source.stage(read.validated.good, KEY)
