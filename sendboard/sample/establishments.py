"""The sample LA's establishments: its schools plus the settings its EHC plans use.

One frame, in the column layout `gias.write_gias` and `places.write_places` take, so that
census, SEN2 placements, places and GIAS all name the same URNs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

LA_CODE = "865"
LA_NAME = "Wiltshire"
NEW_LA_CODE = "E06000054"
# Neighbouring LAs whose schools and plans appear in the sample (real LA numbers, so that
# UPNs from them carry a valid LA part).
NEIGHBOURS = {"800": "Bath and North East Somerset", "803": "South Gloucestershire",
              "866": "Swindon", "850": "Hampshire", "835": "Dorset", "933": "Somerset"}

N_AREAS = 18

_TOWNS = ["Salisbury", "Chippenham", "Trowbridge", "Devizes", "Marlborough", "Melksham",
          "Warminster", "Corsham", "Calne", "Westbury", "Amesbury", "Malmesbury",
          "Bradford on Avon", "Royal Wootton Bassett", "Tidworth", "Pewsey", "Mere", "Tisbury"]
_POSTCODE_DISTRICTS = ["SP1", "SN15", "BA14", "SN10", "SN8", "SN12", "BA12", "SN13", "SN11",
                       "BA13", "SP4", "SN16", "BA15", "SN4", "SP9", "SN9", "BA12", "SP3"]
_PRIMARY_NAMES = ["North", "South", "East", "West", "Park", "Hill", "Meadow", "Brook", "Castle",
                  "Church", "Vale"]
_TREES = ["Oak", "Willow", "Heron", "Cedar", "Larch", "Hazel", "Elm", "Ash", "Rowan", "Holly",
          "Birch", "Alder"]
_SAINTS = ["St Mary’s", "St John’s", "St Peter’s", "St Michael’s", "Christ Church",
           "Holy Trinity", "St Andrew’s", "St Nicholas", "All Saints", "St Joseph’s"]


@dataclass(frozen=True)
class Establishments:
    """All establishments, and index arrays the world simulation draws from."""

    frame: pl.DataFrame
    primaries_by_area: list[np.ndarray]  # row indexes into frame
    secondaries_by_area: list[np.ndarray]
    special_by_kind: dict[str, np.ndarray]  # la_special, academy_special, iss, nmss
    pru: np.ndarray
    fe_colleges: np.ndarray
    specialist_post16: np.ndarray
    independent_mainstream: np.ndarray


def postcode_for(rng: np.random.Generator, area: np.ndarray) -> np.ndarray:
    """Synthetic postcodes in the area's real district, with invented inward codes."""
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    digit = rng.integers(1, 10, size=len(area)).astype(str)
    a = letters[rng.integers(0, len(letters), size=len(area))]
    b = letters[rng.integers(0, len(letters), size=len(area))]
    district = np.array(_POSTCODE_DISTRICTS)[area]
    return np.char.add(np.char.add(np.char.add(district, " "), digit), np.char.add(a, b))


# Columns of the establishments frame a caller may leave out (they are written blank).
_OPTIONAL_COLUMNS = {
    "open_date": pl.Date, "close_date": pl.Date, "postcode": pl.Utf8, "ukprn": pl.Utf8,
    "rp_type": pl.Utf8, "rp_capacity": pl.Int64, "rp_on_roll": pl.Int64,
    "unit_capacity": pl.Int64, "unit_on_roll": pl.Int64, "fe_type": pl.Utf8,
    "pupils": pl.Int64, "capacity": pl.Int64,
}


def with_optional_columns(establishments: pl.DataFrame) -> pl.DataFrame:
    """The frame with every optional column a caller left out added as nulls."""
    missing = [pl.lit(None, dtype=dtype).alias(col)
               for col, dtype in _OPTIONAL_COLUMNS.items()
               if col not in establishments.columns]
    return establishments.with_columns(missing) if missing else establishments


def urn_rng(urn: int, salt: int) -> np.random.Generator:
    """A random stream of one establishment's own, for decoration drawn per URN."""
    # Per-URN streams keep a school's decoration stable when other schools are added.
    return np.random.default_rng([salt, int(urn)])


def build_establishments(rng: np.random.Generator) -> Establishments:
    rows: list[dict] = []
    urn_next = iter(range(126001, 160000))
    estab_used: dict[str, set[int]] = {}

    def add(kind: str, *, la: str = LA_CODE, estab: int, name: str, type_name: str,
            type_group: str, phase: str, low: int, high: int, area: int | None = None,
            ukprn: str | None = None, fe_type: str | None = None, capacity: int | None = None,
            rp: tuple[int, int] = (0, 0), opened: str | None = None) -> int:
        while estab in estab_used.setdefault(la, set()):
            estab += 1
        estab_used[la].add(estab)
        a = area if area is not None else int(rng.integers(0, N_AREAS))
        rp_cap, unit_cap = rp
        rp_type = None
        if rp_cap and unit_cap:
            rp_type = "Resourced provision and SEN unit"
        elif rp_cap:
            rp_type = "Resourced provision"
        elif unit_cap:
            rp_type = "SEN unit"
        rows.append({
            "kind": kind, "area": a, "urn": next(urn_next), "la_code": la,
            "la_name": LA_NAME if la == LA_CODE else NEIGHBOURS[la],
            "estab_number": f"{estab:04d}", "name": name, "type_name": type_name,
            "type_group": type_group, "status": "Open", "phase": phase, "low_age": low,
            "high_age": high, "open_date": opened, "close_date": None,
            "postcode": str(postcode_for(rng, np.array([a]))[0]) if la == LA_CODE else "BS1 1AA",
            "ukprn": ukprn, "rp_type": rp_type, "rp_capacity": rp_cap or None,
            "rp_on_roll": int(rp_cap * 0.9) if rp_cap else None, "unit_capacity": unit_cap or None,
            "unit_on_roll": int(unit_cap * 0.9) if unit_cap else None, "fe_type": fe_type,
            "capacity": capacity,
        })
        return len(rows) - 1

    primary_types = [("Academy converter", "Academies", 0.38), ("Academy sponsor led", "Academies",
                     0.07), ("Community school", "Local authority maintained schools", 0.3),
                     ("Voluntary aided school", "Local authority maintained schools", 0.07),
                     ("Voluntary controlled school", "Local authority maintained schools", 0.1),
                     ("Foundation school", "Local authority maintained schools", 0.04),
                     ("Free schools", "Free Schools", 0.04)]
    p = np.array([t[2] for t in primary_types])
    primaries: list[list[int]] = [[] for _ in range(N_AREAS)]
    secondaries: list[list[int]] = [[] for _ in range(N_AREAS)]
    for area in range(N_AREAS):
        town = _TOWNS[area]
        for k in range(11):
            t = primary_types[int(rng.choice(len(primary_types), p=p))]
            if t[0].startswith("Voluntary"):
                name = f"{_SAINTS[int(rng.integers(0, len(_SAINTS)))]} CofE Primary School, {town}"
            else:
                name = f"{town} {_PRIMARY_NAMES[k]} Primary School"
            rp = (int(rng.choice([12, 16, 20])), 0) if rng.random() < 0.06 else (0, 0)
            primaries[area].append(add("primary", estab=2000 + area * 50 + k, name=name,
                                       type_name=t[0], type_group=t[1], phase="Primary",
                                       low=4, high=11, area=area, rp=rp))
        for k in range(1 + (area % 3 == 0) + (area < 4)):
            academy = rng.random() < 0.85
            rp = (0, 0)
            u = rng.random()
            if u < 0.25:
                rp = (int(rng.choice([20, 24, 30])), 0)
            elif u < 0.45:
                rp = (0, int(rng.choice([16, 24, 32])))
            secondaries[area].append(add(
                "secondary", estab=4000 + area * 10 + k,
                name=f"{town} {['Academy', 'School', 'Community College'][k]}",
                type_name="Academy converter" if academy else "Community school",
                type_group="Academies" if academy else "Local authority maintained schools",
                phase="Secondary", low=11, high=18, area=area, rp=rp))

    special: dict[str, list[int]] = {"la_special": [], "academy_special": [], "iss": [],
                                     "nmss": []}
    for k, (nm, tn) in enumerate([("Rowdeford School", "Community special school"),
                                  ("Exeter House School", "Community special school"),
                                  ("Downlands School", "Community special school"),
                                  ("Larkrise School", "Community special school"),
                                  ("St Nicholas School", "Community special school"),
                                  ("Springfields School", "Foundation special school")]):
        special["la_special"].append(add("la_special", estab=7000 + k, name=nm, type_name=tn,
                                         type_group="Special schools", phase="Not applicable",
                                         low=3, high=19, capacity=int(rng.integers(90, 180))))
    for k, (nm, tn) in enumerate([("Silverwood School", "Academy special converter"),
                                  ("Three Rivers Academy", "Academy special converter"),
                                  ("Fairfield Farm Academy", "Academy special converter"),
                                  ("Kingfisher Academy", "Academy special converter"),
                                  ("North Wiltshire Free School", "Free schools special")]):
        special["academy_special"].append(add(
            "academy_special", estab=7010 + k, name=nm, type_name=tn,
            type_group="Academies" if "Academy" in tn else "Free Schools", phase="Not applicable",
            low=4, high=19, capacity=int(rng.integers(100, 200)),
            opened="01-09-2021" if "Free" in tn else None))
    for k in range(12):
        la = LA_CODE if k < 8 else list(NEIGHBOURS)[k % len(NEIGHBOURS)]
        special["iss"].append(add("iss", la=la, estab=6000 + k,
                                  name=f"{_TREES[k]} House School",
                                  type_name="Other independent special school",
                                  type_group="Independent schools",
                                  phase="Not applicable", low=7, high=19))
    for k in range(3):
        la = list(NEIGHBOURS)[k]
        special["nmss"].append(add("nmss", la=la, estab=7100 + k,
                                   name=f"{['Fosse Way', 'Kingsdown', 'Ridgeway'][k]} School",
                                   type_name="Non-maintained special school",
                                   type_group="Special schools", phase="Not applicable",
                                   low=5, high=19))
    pru = [add("pru", estab=1100, name="Wiltshire Secondary Pupil Referral Unit",
               type_name="Pupil referral unit", type_group="Local authority maintained schools",
               phase="Not applicable", low=11, high=16),
           add("pru", estab=1101, name="Oak Tree Alternative Provision Academy",
               type_name="Academy alternative provision converter", type_group="Academies",
               phase="Not applicable", low=5, high=16)]
    fe = [add("fe", la=la, estab=8000 + k, name=nm, type_name="Further education",
              type_group="Colleges", phase="16 plus", low=16, high=99,
              ukprn=str(10007000 + k * 37), fe_type="General Further Education College")
          for k, (nm, la) in enumerate([("Wiltshire College and University Centre", LA_CODE),
                                        ("New College Swindon", "866"),
                                        ("Bath College", "800")])]
    post16 = [add("post16", la=la, estab=8100 + k, name=nm,
                  type_name="Special post 16 institution", type_group="Colleges",
                  phase="16 plus", low=16, high=25, ukprn=str(10031000 + k * 53))
              for k, (nm, la) in enumerate([("Fairfield Farm College", LA_CODE),
                                            ("Foxes Academy", "933"),
                                            ("National Star College", "800")])]
    indep = [add("indep", estab=6100 + k, name=f"{nm} School", type_name="Other independent "
                 "school", type_group="Independent schools", phase="All-through", low=4, high=18)
             for k, nm in enumerate(["Marlborough Hall", "Stonar", "Warminster Prep"])]

    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("urn").cast(pl.Int64), pl.col("low_age", "high_age").cast(pl.Int64),
        pl.col("open_date").str.to_date("%d-%m-%Y"), pl.col("close_date").cast(pl.Date),
        pl.col("rp_capacity", "rp_on_roll", "unit_capacity", "unit_on_roll", "capacity")
        .cast(pl.Int64),
    )
    return Establishments(
        frame=frame,
        primaries_by_area=[np.array(x) for x in primaries],
        secondaries_by_area=[np.array(x) for x in secondaries],
        special_by_kind={k: np.array(v) for k, v in special.items()},
        pru=np.array(pru), fe_colleges=np.array(fe), specialist_post16=np.array(post16),
        independent_mainstream=np.array(indep),
    )
