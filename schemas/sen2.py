"""The SEN2 person-level modules, as pandera checks on their text columns.

Links between modules (a row whose parent id does not exist) are checked across the whole
export in `transforms.sen2.orphans`, since no single file can see them.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from schemas.checks import id_rules, is_boolean, is_date, is_upn, matches, one_of, row_rule
from schemas.contracts import LEGACY_NEED_CODES, NEED_CODES, SEN2_MODULES, SEN_SETTINGS
from values.parse import parsed_date

_SEN2_NEEDS = tuple(c for c in (*NEED_CODES, *LEGACY_NEED_CODES) if c != "NSA")


def _not_in_future(column: str) -> pa.Check:
    return row_rule(column, "is not in the future", parsed_date(column) <= dt.date.today())


def _after(later: str, earlier: str, what: str) -> pa.Check:
    return row_rule(later, f"is not before {what}", parsed_date(later) >= parsed_date(earlier))


_RULES: dict[str, dict[str, list[pa.Check]]] = {
    "sen2": {},
    "person": {"personbirthdate": [is_date()], "sex": [one_of(["M", "F", "U"], "sex code")],
               "upn": [is_upn()], "uniquelearnernumber": [matches(r"^\d{10}$", "10 digits")]},
    "requests": {"receiveddate": [is_date()], "requestoutcomedate": [is_date()],
                 "requestoutcome": [one_of(["A", "N", "W"], "request outcome")],
                 "rya": [is_boolean()], "requestmediation": [is_boolean()],
                 "requesttribunal": [is_boolean()]},
    "assessment": {"assessmentoutcome": [one_of(["Y", "N", "W"], "assessment outcome")],
                   "assessmentoutcomedate": [is_date()], "week20": [is_boolean()],
                   **{c: [is_boolean()] for c in ("assessmentmediation", "assessmenttribunal",
                                                  "othermediation", "othertribunal")}},
    "namedplan": {"startdate": [is_date()], "ceasedate": [is_date()],
                  "ceasereason": [one_of([str(i) for i in range(1, 10)], "cease reason", "1 to 9")],
                  "planres": [is_boolean()], "planwbp": [is_boolean()], "pb": [is_boolean()],
                  "oa": [is_boolean()]},
    "plandetail": {},
    "activeplans": {"reviewmeeting": [is_date()], "lastreview": [is_date()],
                    "reviewdraft": [is_date()], "phasetransferduedate": [is_date()],
                    "phasetransferfinaldate": [is_date()],
                    "transferla": [matches(r"^\d{3}$", "a 3-digit LA number")]},
    "placementdetail": {"entrydate": [is_date()], "leavingdate": [is_date()]},
    "senneed": {"sentype": [one_of(_SEN2_NEEDS, "need code")],
                "sentyperank": [matches(r"^[1-9]\d*$", "a rank from 1")]},
}
for _m in ("plandetail", "placementdetail"):
    _RULES[_m].update({
        "urn": [matches(r"^\d{6}$", "6 digits")], "ukprn": [matches(r"^\d{8}$", "8 digits")],
        "sensetting": [one_of(SEN_SETTINGS, "SEN setting")],
        "placementrank": [matches(r"^[1-9]\d*$", "a rank from 1")],
        "senunitindicator": [is_boolean()], "resourcedprovisionindicator": [is_boolean()]})

_ROW_RULES: dict[str, list[pa.Check]] = {
    "requests": [_not_in_future("receiveddate"),
                 _after("requestoutcomedate", "receiveddate", "the request")],
    "namedplan": [_not_in_future("startdate"),
                  _after("ceasedate", "startdate", "the plan's start"),
                  row_rule("ceasereason", "is given when the plan has ceased",
                           pl.col("ceasedate").is_null() | pl.col("ceasereason").is_not_null())],
    "placementdetail": [_after("leavingdate", "entrydate", "entry"),
                        row_rule("urn", "urn, ukprn or sensetting says where the placement is",
                                 pl.any_horizontal(pl.col("urn", "ukprn", "sensetting")
                                                   .is_not_null()))],
}


def sen2_schema(module: str) -> pa.DataFrameSchema:
    contract = SEN2_MODULES[module]
    columns = {}
    # Table ids are opaque text (integers, GUIDs, Blade's hashes): they are only required.
    for col in (c for c in contract.columns if c.read):
        checks = list(_RULES[module].get(col.name, []))
        columns[col.name] = pa.Column(pl.Utf8, nullable=not col.required, checks=checks)
    return pa.DataFrameSchema(
        columns, checks=[*id_rules(f"{module}tableid"), *_ROW_RULES.get(module, [])],
        name=f"sen2 {module}", strict=True)
