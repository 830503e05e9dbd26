"""A small establishments frame in the layout the sample writers take (tests/test_sample_*).

Eleven establishments covering every kind the GIAS and places writers treat differently: a
VA primary with a curly apostrophe in its name, resourced provision and SEN units, an
academy, special schools, a PRU, a closed school, an FE college, an independent special
school in another LA and a special free school opened in September 2021.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

CURLY_NAME = "St Mary’s CofE Primary School"


def establishments_frame() -> pl.DataFrame:
    """The eleven establishments, with every optional column filled where it applies."""
    cols = ("urn", "la_code", "la_name", "estab_number", "name", "type_name", "type_group",
            "status", "phase", "low_age", "high_age", "open_date", "close_date", "postcode",
            "ukprn", "rp_type", "rp_capacity", "rp_on_roll", "unit_capacity", "unit_on_roll",
            "fe_type", "pupils", "capacity")
    la = ("865", "Wiltshire")
    rows = [
        (126001, *la, "2001", CURLY_NAME, "Voluntary aided school",
         "Local authority maintained schools", "Open", "Primary", 3, 11, None, None,
         "BA14 8AB", None, "Resourced provision", 30, 27, None, None, None, 210, None),
        (126002, *la, "2002", "Kennet Down Primary School", "Community school",
         "Local authority maintained schools", "Open", "Primary", 4, 11, None, None,
         "SN10 2QQ", None, "SEN unit", None, None, 8, 7, None, 180, None),
        (137003, *la, "4001", "Avonbridge Academy", "Academy converter", "Academies", "Open",
         "Secondary", 11, 18, dt.date(2012, 4, 1), None, "SN15 3XX", "10011111",
         "Resourced provision and SEN unit", 40, 36, 10, 9, None, 1350, None),
        (126004, *la, "7001", "Larkhill Brook School", "Community special school",
         "Special schools", "Open", "Not applicable", 2, 19, None, None, "SP4 7AA", None,
         None, None, None, None, None, None, 240, 250),
        (126005, *la, "7002", "Chalkhill Vale School", "Foundation special school",
         "Special schools", "Open", "Not applicable", 4, 19, None, None, "SN12 6BB", None,
         None, None, None, None, None, None, 180, 200),
        (145006, *la, "7003", "Silbury Academy", "Academy special converter", "Academies",
         "Open", "Not applicable", 5, 19, dt.date(2017, 9, 1), None, "SP1 3CC", None,
         None, None, None, None, None, None, 150, 160),
        (126007, *la, "1100", "Wiltshire Learning Centre", "Pupil referral unit",
         "Local authority maintained schools", "Open", "Not applicable", 11, 16, None, None,
         "BA13 4DD", None, None, None, None, None, None, None, 60, 70),
        (126008, *la, "3003", "Pewsey Lane CofE Primary School", "Voluntary controlled school",
         "Local authority maintained schools", "Closed", "Primary", 4, 11, None,
         dt.date(2021, 8, 31), "SN9 5EE", None, None, None, None, None, None, None, None,
         None),
        (130009, *la, "8001", "Wessex College", "Further education", "Colleges", "Open",
         "16 plus", 16, 99, None, None, "SN15 1FF", "10022222", None, None, None, None, None,
         "General Further Education College", 4200, None),
        (140010, "866", "Swindon", "6001", "Thornbrook House School",
         "Other independent special school", "Independent schools", "Open", "Not applicable",
         7, 19, dt.date(2015, 1, 5), None, "SN2 9GG", None, None, None, None, None, None,
         None, 45, None),
        (148011, *la, "7004", "Downland Vale Free School", "Free schools special",
         "Free Schools", "Open", "Not applicable", 5, 19, dt.date(2021, 9, 1), None,
         "SP2 8HH", None, None, None, None, None, None, None, 120, 150),
    ]
    schema = {c: pl.Utf8 for c in cols}
    for c in ("urn", "low_age", "high_age", "rp_capacity", "rp_on_roll", "unit_capacity",
              "unit_on_roll", "pupils", "capacity"):
        schema[c] = pl.Int64
    schema["open_date"] = schema["close_date"] = pl.Date
    return pl.DataFrame(rows, schema=schema, orient="row")


def minimal_establishments() -> pl.DataFrame:
    """The same establishments with only the GIAS columns the contract requires."""
    return establishments_frame().select(
        "urn", "la_code", "la_name", "estab_number", "name", "type_name", "type_group",
        "status", "phase", "low_age", "high_age")


def same_files(a: Path, b: Path) -> list[str]:
    """The names of the files in a, after checking b holds the same names with the same bytes."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return names
