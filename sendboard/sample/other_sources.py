"""Synthetic sample extracts for GIAS, finance, recovery plan, places and population.

Everything here is invented: a mid-sized English county LA (LA number 865, E06000054) shaped
like Wiltshire. No row describes a real school, pupil, head teacher or ledger entry. Each
writer produces exactly the format in contracts.md so the ingest code meets the same quirks
(Windows-1252, GIAS quoting, period 13, blank actuals) it will meet in production.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

LA_NUMBER = "865"
NEW_LA_CODE = "E06000054"
LA_NAME = "Wiltshire"

FINANCIAL_YEARS: tuple[str, ...] = tuple(f"{y}-{(y + 1) % 100:02d}" for y in range(2018, 2026))
CURRENT_YEAR = "2025-26"
# The sample's as-of date is March 2026: the ledger holds actuals for April-February only.
CURRENT_YEAR_ACTUAL_PERIODS = 11

LEDGER_COLUMNS: tuple[str, ...] = (
    "financial_year", "period", "s251_line", "cost_centre", "description", "provider_urn",
    "entry_type", "amount_gbp",
)
DSG_COLUMNS: tuple[str, ...] = (
    "financial_year", "high_needs_block_gbp", "block_transfer_gbp",
    "opening_cumulative_balance_gbp",
)
RECOVERY_PLAN_COLUMNS: tuple[str, ...] = (
    "project_id", "project_name", "theme", "financial_year", "planned_saving_gbp",
    "actual_saving_gbp", "metric_name", "metric_baseline", "metric_target",
)
PLACES_COLUMNS: tuple[str, ...] = ("financial_year", "urn", "provision", "funded_places")
POPULATION_COLUMNS: tuple[str, ...] = ("new_la_code", "year", "age", "sex", "population")
POPULATION_YEARS: tuple[int, ...] = tuple(range(2013, 2026))

GIAS_HEADER: tuple[str, ...] = (
    "URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
    "TypeOfEstablishment (code)", "TypeOfEstablishment (name)", "EstablishmentTypeGroup (code)",
    "EstablishmentTypeGroup (name)", "EstablishmentStatus (code)", "EstablishmentStatus (name)",
    "ReasonEstablishmentOpened (code)", "ReasonEstablishmentOpened (name)", "OpenDate",
    "ReasonEstablishmentClosed (code)", "ReasonEstablishmentClosed (name)", "CloseDate",
    "PhaseOfEducation (code)", "PhaseOfEducation (name)", "StatutoryLowAge", "StatutoryHighAge",
    "Boarders (code)", "Boarders (name)", "NurseryProvision (name)", "OfficialSixthForm (code)",
    "OfficialSixthForm (name)", "Gender (code)", "Gender (name)", "ReligiousCharacter (code)",
    "ReligiousCharacter (name)", "ReligiousEthos (name)", "Diocese (code)", "Diocese (name)",
    "AdmissionsPolicy (code)", "AdmissionsPolicy (name)", "SchoolCapacity",
    "SpecialClasses (code)", "SpecialClasses (name)", "CensusDate", "NumberOfPupils",
    "NumberOfBoys", "NumberOfGirls", "PercentageFSM", "TrustSchoolFlag (code)",
    "TrustSchoolFlag (name)", "Trusts (code)", "Trusts (name)", "SchoolSponsorFlag (name)",
    "SchoolSponsors (name)", "FederationFlag (name)", "Federations (code)", "Federations (name)",
    "UKPRN", "FEHEIdentifier", "FurtherEducationType (name)", "OfstedLastInsp",
    "OfstedSpecialMeasures (code)", "OfstedSpecialMeasures (name)", "LastChangedDate", "Street",
    "Locality", "Address3", "Town", "County (name)", "Postcode", "SchoolWebsite", "TelephoneNum",
    "HeadTitle (name)", "HeadFirstName", "HeadLastName", "HeadPreferredJobTitle",
    "InspectorateName (name)", "InspectorateReport", "DateOfLastInspectionVisit",
    "NextInspectionVisit", "TeenMoth (name)", "TeenMothPlaces", "CCF (name)", "SENPRU (name)",
    "EBD (name)", "PlacesPRU", "FTProv (name)", "EdByOther (name)", "Section41Approved (name)",
    "SEN1 (name)", "SEN2 (name)", "SEN3 (name)", "SEN4 (name)", "SEN5 (name)", "SEN6 (name)",
    "SEN7 (name)", "SEN8 (name)", "SEN9 (name)", "SEN10 (name)", "SEN11 (name)", "SEN12 (name)",
    "SEN13 (name)", "TypeOfResourcedProvision (name)", "ResourcedProvisionOnRoll",
    "ResourcedProvisionCapacity", "SenUnitOnRoll", "SenUnitCapacity", "GOR (code)", "GOR (name)",
    "DistrictAdministrative (code)", "DistrictAdministrative (name)", "AdministrativeWard (code)",
    "AdministrativeWard (name)", "ParliamentaryConstituency (code)",
    "ParliamentaryConstituency (name)", "UrbanRural (code)", "UrbanRural (name)",
    "GSSLACode (name)", "Easting", "Northing", "CensusAreaStatisticWard (name)", "MSOA (name)",
    "LSOA (name)", "Inspectorate (name)", "SENStat", "SENNoStat", "BoardingEstablishment (name)",
    "PropsName", "PreviousLA (code)", "PreviousLA (name)", "PreviousEstablishmentNumber",
    "OfstedRating (name)", "RSCRegion (name)", "Country (name)", "UPRN", "SiteName", "MSOA (code)",
    "LSOA (code)",
)

# Columns the real file writes bare (numbers); every other field is quoted, even when empty.
_GIAS_NUMERIC = frozenset(
    {"URN", "StatutoryLowAge", "StatutoryHighAge", "SchoolCapacity", "UKPRN", "Easting",
     "Northing"}
)

# GIAS codes are decoration (the pipeline reads the "(name)" columns) but are kept real so a
# reviewer comparing with a downloaded edubasealldata file sees nothing odd.
_TYPE_CODES = {
    "Community school": "01", "Voluntary aided school": "02",
    "Voluntary controlled school": "03", "Foundation school": "05",
    "City technology college": "06", "Community special school": "07",
    "Non-maintained special school": "08", "Other independent special school": "10",
    "Other independent school": "11", "Foundation special school": "12",
    "Pupil referral unit": "14", "LA nursery school": "15", "Further education": "18",
    "Secure units": "24", "Academy sponsor led": "28", "Sixth form centres": "31",
    "Special post 16 institution": "32", "Academy special sponsor led": "33",
    "Academy converter": "34", "Free schools": "35", "Free schools special": "36",
    "Free schools alternative provision": "38", "Free schools 16 to 19": "39",
    "University technical college": "40", "Studio schools": "41",
    "Academy alternative provision converter": "42",
    "Academy alternative provision sponsor led": "43", "Academy special converter": "44",
    "Academy 16-19 converter": "45", "Academy 16 to 19 sponsor led": "46",
    "Online provider": "49",
}
_GROUP_CODES = {
    "Colleges": "1", "Universities": "2", "Independent schools": "3",
    "Local authority maintained schools": "4", "LA maintained schools": "4",
    "Special schools": "5", "Welsh schools": "6", "Other types": "9", "Academies": "10",
    "Free Schools": "11", "Online provider": "13",
}
_PHASE_CODES = {
    "Not applicable": "0", "Nursery": "1", "Primary": "2", "Middle deemed primary": "3",
    "Secondary": "4", "Middle deemed secondary": "5", "16 plus": "6", "All-through": "7",
}
_STATUS_CODES = {
    "Open": "1", "Closed": "2", "Open, but proposed to close": "3", "Proposed to open": "4",
}
_GOR = {"South West": "K", "South East": "J"}

# Neighbouring LAs, for out-of-county placements (independent special schools and the like).
_OTHER_LAS = {
    "865": (NEW_LA_CODE, "South West"), "866": ("E06000030", "South West"),
    "800": ("E06000022", "South West"), "801": ("E06000023", "South West"),
    "803": ("E06000025", "South West"), "838": ("E06000059", "South West"),
    "916": ("E10000013", "South West"), "933": ("E06000066", "South West"),
    "850": ("E10000014", "South East"), "869": ("E06000037", "South East"),
}

# Postcode district -> (town, easting, northing, 2024 constituency): a rough Wiltshire map.
_TOWNS = {
    "SN4": ("Royal Wootton Bassett", 406500, 182500, "South Cotswolds"),
    "SN5": ("Purton", 409500, 187500, "South Cotswolds"),
    "SN8": ("Marlborough", 419000, 169000, "East Wiltshire"),
    "SN9": ("Pewsey", 416500, 160000, "East Wiltshire"),
    "SN10": ("Devizes", 400500, 161500, "Melksham and Devizes"),
    "SN11": ("Calne", 399800, 171000, "Chippenham"),
    "SN12": ("Melksham", 390500, 164000, "Melksham and Devizes"),
    "SN13": ("Corsham", 387000, 170000, "Chippenham"),
    "SN14": ("Chippenham", 388500, 174500, "Chippenham"),
    "SN15": ("Chippenham", 391500, 173500, "Chippenham"),
    "SN16": ("Malmesbury", 393500, 187300, "South Cotswolds"),
    "BA12": ("Warminster", 387300, 145000, "South West Wiltshire"),
    "BA13": ("Westbury", 387200, 151000, "South West Wiltshire"),
    "BA14": ("Trowbridge", 385500, 158000, "South West Wiltshire"),
    "BA15": ("Bradford-on-Avon", 382600, 160800, "Chippenham"),
    "SP1": ("Salisbury", 414500, 130500, "Salisbury"),
    "SP2": ("Salisbury", 412500, 129500, "Salisbury"),
    "SP3": ("Tisbury", 394500, 129000, "South West Wiltshire"),
    "SP4": ("Amesbury", 415500, 141500, "East Wiltshire"),
    "SP5": ("Salisbury", 418000, 125000, "Salisbury"),
    "SP9": ("Tidworth", 423500, 148500, "East Wiltshire"),
}
_URBAN_RURAL = (
    ("C1", "Urban city and town"), ("D1", "Rural town and fringe"), ("E1", "Rural village"),
    ("F1", "Rural hamlet and isolated dwellings"),
)
_STREETS = (
    "Church Lane", "Station Road", "High Street", "School Lane", "Mill Road", "Bath Road",
    "London Road", "Castle Street", "Green Lane", "Victoria Road", "Newtown", "The Street",
    "Westbury Road", "Marsh Lane", "Downside Road", "Kingsway",
)
_LOCALITIES = ("", "", "", "Hilperton", "Bowerhill", "Larkhill", "Pewsham", "Bemerton Heath")
_FIRST_NAMES = (
    "Alex", "Sam", "Jo", "Chris", "Helen", "Mark", "Sarah", "David", "Claire", "Rachel",
    "Andrew", "Emma", "Paul", "Louise", "Gareth", "Nicola", "Simon", "Kate", "Tom", "Fiona",
)
_LAST_NAMES = (
    "Ashdown", "Brereton", "Colbourne", "Dunsford", "Everleigh", "Fenwick", "Gatcombe",
    "Hartwell", "Ivesley", "Kington", "Lydiard", "Marden", "Norbury", "Oakhurst", "Pinckney",
    "Quemerford", "Rowley", "Stanbridge", "Tollard", "Upavon",
)
_TRUSTS = (
    ("16001", "Kennet Valley Learning Trust"), ("16002", "Salisbury Plain Academies"),
    ("16003", "White Horse Federation of Schools Trust"),
    ("16004", "Avon Vale Learning Partnership"),
    ("16005", "Wessex Learning Alliance"),
)
_SEN_NAMES = (
    "ASD - Autistic Spectrum Disorder", "SEMH - Social, Emotional and Mental Health",
    "MLD - Moderate Learning Difficulty", "SLD - Severe Learning Difficulty",
    "PMLD - Profound and Multiple Learning Difficulty", "SpLD - Specific Learning Difficulty",
    "SLCN - Speech, language and Communication", "PD - Physical Disability",
    "HI - Hearing Impairment", "VI - Visual Impairment", "MSI - Multi-Sensory Impairment",
    "OTH - Other Difficulty/Disability",
)
_WARD_SUFFIX = ("North", "South", "East", "West", "Central")
_OFSTED = ("Outstanding", "Good", "Requires improvement", "Serious Weaknesses")
_GIAS_CENSUS_DATE = dt.date(2025, 1, 16)
_GIAS_LAST_CHANGED = dt.date(2025, 11, 3)


# Columns of the establishments frame a caller may leave out (they are written blank).
_OPTIONAL_ESTAB_COLUMNS = {
    "open_date": pl.Date, "close_date": pl.Date, "postcode": pl.Utf8, "ukprn": pl.Utf8,
    "rp_type": pl.Utf8, "rp_capacity": pl.Int64, "rp_on_roll": pl.Int64,
    "unit_capacity": pl.Int64, "unit_on_roll": pl.Int64, "fe_type": pl.Utf8,
    "pupils": pl.Int64, "capacity": pl.Int64,
}


def _with_optional_columns(establishments: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=dtype).alias(col)
               for col, dtype in _OPTIONAL_ESTAB_COLUMNS.items()
               if col not in establishments.columns]
    return establishments.with_columns(missing) if missing else establishments


def _ddmmyyyy(value: dt.date | None) -> str:
    return "" if value is None else value.strftime("%d-%m-%Y")


def _row_rng(urn: int, salt: int) -> np.random.Generator:
    # Per-URN streams keep a school's decoration stable when other schools are added.
    return np.random.default_rng([salt, int(urn)])


def _slug(name: str) -> str:
    keep = "".join(ch.lower() if ch.isalnum() else " " for ch in name)
    return "".join(keep.split()[:4])


def _religion(name: str, type_name: str) -> tuple[str, str, str, str]:
    lowered = name.lower()
    if "catholic" in lowered:
        return "03", "Roman Catholic", "RC21", "Diocese of Clifton"
    if "cofe" in lowered or "c of e" in lowered or "church of england" in lowered or (
        type_name in {"Voluntary aided school", "Voluntary controlled school"}
    ):
        return "02", "Church of England", "CE23", "Diocese of Salisbury"
    return "00", "Does not apply", "0000", "Not applicable"


def _gias_row(rec: dict) -> dict:
    """One establishment in the real GIAS layout; decoration is synthetic but plausible."""
    rng = _row_rng(rec["urn"], 865_001)
    type_name = rec["type_name"] or ""
    type_lower = type_name.lower()
    phase = rec["phase"] or "Not applicable"
    is_open = rec["status"] != "Closed"
    is_special = "special" in type_lower
    is_academy = type_lower.startswith("academy") or type_lower.startswith("free school")
    is_independent = "independent" in type_lower or "non-maintained" in type_lower
    low, high = rec["low_age"], rec["high_age"]
    pupils = rec["pupils"] if is_open else None
    capacity = rec["capacity"]
    if capacity is None and pupils is not None:
        capacity = int(math.ceil(pupils * rng.uniform(1.0, 1.2) / 5.0) * 5)

    postcode = rec["postcode"] or ""
    district = postcode.split(" ")[0].upper()
    la_code = rec["la_code"] or ""
    gss, region = _OTHER_LAS.get(la_code, ("", ""))
    if la_code == LA_NUMBER and district in _TOWNS:
        town, east, north, constituency = _TOWNS[district]
        east += int(rng.integers(-2500, 2500))
        north += int(rng.integers(-2500, 2500))
    else:
        town, east, north, constituency = rec["la_name"] or "", None, None, ""
    county = LA_NAME if la_code == LA_NUMBER else (rec["la_name"] or "")
    ur_code, ur_name = _URBAN_RURAL[int(rng.choice(4, p=[0.45, 0.25, 0.25, 0.05]))]

    rel_code, rel_name, dio_code, dio_name = _religion(rec["name"] or "", type_name)
    if phase in {"Secondary", "All-through", "16 plus"} or (high is not None and high >= 18):
        has_sixth = (high or 0) >= 18
        sixth = ("1", "Has a sixth form") if has_sixth else ("2", "Does not have a sixth form")
    elif phase in {"Primary", "Nursery", "Middle deemed primary"}:
        sixth = ("2", "Does not have a sixth form")
    else:
        sixth = ("9", "Not applicable")
    if phase == "Primary":
        nursery = "Has Nursery Classes" if (low or 5) <= 3 else "No Nursery Classes"
    else:
        nursery = "Not applicable"
    selective = phase in {"Secondary", "All-through", "Middle deemed secondary"}
    admissions = ("4", "Non-selective") if selective and not is_independent else (
        "0", "Not applicable")

    if is_academy:
        trust_code, trust_name = _TRUSTS[int(rng.integers(len(_TRUSTS)))]
        trust_flag = ("5", "Supported by a multi-academy trust")
    elif type_name == "Foundation school" and rng.random() < 0.5:
        trust_code, trust_name = _TRUSTS[int(rng.integers(len(_TRUSTS)))]
        trust_flag = ("1", "Supported by a trust")
    else:
        trust_code, trust_name, trust_flag = "", "", ("0", "Not applicable")
    sponsor_led = "sponsor led" in type_lower

    if rec["open_date"] is not None and rec["open_date"] >= dt.date(2010, 9, 1):
        opened = ("10", "Academy Converter") if "converter" in type_lower else (
            ("11", "Academy Sponsor Led") if sponsor_led else (
                ("12", "Academy Free School") if "free school" in type_lower
                else ("08", "New Provision")))
    else:
        opened = ("00", "Not applicable")
    if not is_open:
        closed = ("10", "Academy Converter") if rng.random() < 0.6 else ("03", "Closure")
    else:
        closed = ("00", "Not applicable")

    boys = girls = fsm = ""
    if pupils is not None:
        n_boys = int(round(pupils * (0.68 if is_special else 0.51)))
        boys, girls = str(n_boys), str(pupils - n_boys)
        fsm = f"{rng.uniform(6, 45 if is_special else 25):.1f}"

    rp_type = rec["rp_type"] or ""
    sen_names: list[str] = []
    if is_special or rp_type:
        k = int(rng.integers(1, 5 if is_special else 3))
        picks = rng.choice(len(_SEN_NAMES), size=k, replace=False)
        sen_names = [_SEN_NAMES[i] for i in sorted(picks)]
    sen_cols = {f"SEN{i} (name)": (sen_names[i - 1] if i <= len(sen_names) else "")
                for i in range(1, 14)}

    def _num(value: int | None) -> str:
        return "" if value is None else str(int(value))

    head_title = ("Mr", "Mrs", "Ms", "Dr", "Miss")[int(rng.integers(5))]
    msoa = int(rng.integers(1, 62))
    lsoa = "ABCDE"[int(rng.integers(5))]
    ukprn = rec["ukprn"]
    last_insp = dt.date(2016, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3400)))
    row = {
        "URN": rec["urn"], "LA (code)": la_code, "LA (name)": rec["la_name"] or "",
        "EstablishmentNumber": rec["estab_number"] or "", "EstablishmentName": rec["name"] or "",
        "TypeOfEstablishment (code)": _TYPE_CODES.get(type_name, "27"),
        "TypeOfEstablishment (name)": type_name,
        "EstablishmentTypeGroup (code)": _GROUP_CODES.get(rec["type_group"] or "", "9"),
        "EstablishmentTypeGroup (name)": rec["type_group"] or "",
        "EstablishmentStatus (code)": _STATUS_CODES.get(rec["status"] or "", "1"),
        "EstablishmentStatus (name)": rec["status"] or "",
        "ReasonEstablishmentOpened (code)": opened[0],
        "ReasonEstablishmentOpened (name)": opened[1],
        "OpenDate": _ddmmyyyy(rec["open_date"]),
        "ReasonEstablishmentClosed (code)": closed[0],
        "ReasonEstablishmentClosed (name)": closed[1],
        "CloseDate": _ddmmyyyy(rec["close_date"]),
        "PhaseOfEducation (code)": _PHASE_CODES.get(phase, "0"), "PhaseOfEducation (name)": phase,
        "StatutoryLowAge": low, "StatutoryHighAge": high,
        "Boarders (code)": "1", "Boarders (name)": "No boarders",
        "NurseryProvision (name)": nursery,
        "OfficialSixthForm (code)": sixth[0], "OfficialSixthForm (name)": sixth[1],
        "Gender (code)": "3", "Gender (name)": "Mixed",
        "ReligiousCharacter (code)": rel_code, "ReligiousCharacter (name)": rel_name,
        "ReligiousEthos (name)": rel_name, "Diocese (code)": dio_code, "Diocese (name)": dio_name,
        "AdmissionsPolicy (code)": admissions[0], "AdmissionsPolicy (name)": admissions[1],
        "SchoolCapacity": capacity,
        "SpecialClasses (code)": "1" if is_special or rp_type else "2",
        "SpecialClasses (name)": "Has Special Classes" if is_special or rp_type
        else "No Special Classes",
        "CensusDate": _ddmmyyyy(_GIAS_CENSUS_DATE) if pupils is not None else "",
        "NumberOfPupils": _num(pupils), "NumberOfBoys": boys, "NumberOfGirls": girls,
        "PercentageFSM": fsm,
        "TrustSchoolFlag (code)": trust_flag[0], "TrustSchoolFlag (name)": trust_flag[1],
        "Trusts (code)": trust_code, "Trusts (name)": trust_name,
        "SchoolSponsorFlag (name)": "Linked to a sponsor" if sponsor_led else "Not applicable",
        "SchoolSponsors (name)": trust_name if sponsor_led else "",
        "FederationFlag (name)": "Not under a federation", "Federations (code)": "",
        "Federations (name)": "",
        "UKPRN": int(ukprn) if ukprn not in (None, "") else None,
        "FEHEIdentifier": "",
        "FurtherEducationType (name)": rec["fe_type"] or "Not applicable",
        "OfstedLastInsp": _ddmmyyyy(last_insp) if is_open else "",
        "OfstedSpecialMeasures (code)": "0", "OfstedSpecialMeasures (name)": "Not applicable",
        "LastChangedDate": _ddmmyyyy(_GIAS_LAST_CHANGED),
        "Street": _STREETS[int(rng.integers(len(_STREETS)))],
        "Locality": _LOCALITIES[int(rng.integers(len(_LOCALITIES)))], "Address3": "",
        "Town": town, "County (name)": county, "Postcode": postcode,
        "SchoolWebsite": f"http://www.{_slug(rec['name'] or 'school')}.example.sch.uk/",
        # 01632 960xxx is Ofcom's range reserved for drama: never a real line.
        "TelephoneNum": f"01632960{int(rng.integers(0, 1000)):03d}",
        "HeadTitle (name)": head_title,
        "HeadFirstName": _FIRST_NAMES[int(rng.integers(len(_FIRST_NAMES)))],
        "HeadLastName": _LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))],
        "HeadPreferredJobTitle": "Principal" if is_academy else "Headteacher",
        "InspectorateName (name)": "Not applicable", "InspectorateReport": "",
        "DateOfLastInspectionVisit": "", "NextInspectionVisit": "",
        "TeenMoth (name)": "Not applicable", "TeenMothPlaces": "", "CCF (name)": "Not applicable",
        "SENPRU (name)": "Not applicable", "EBD (name)": "Not applicable",
        "PlacesPRU": _num(capacity) if type_name == "Pupil referral unit" else "",
        "FTProv (name)": "", "EdByOther (name)": "Not applicable",
        "Section41Approved (name)": "Approved" if type_name == "Other independent special school"
        else "Not applicable",
        **sen_cols,
        "TypeOfResourcedProvision (name)": rp_type or "Not applicable",
        "ResourcedProvisionOnRoll": _num(rec["rp_on_roll"]),
        "ResourcedProvisionCapacity": _num(rec["rp_capacity"]),
        "SenUnitOnRoll": _num(rec["unit_on_roll"]),
        "SenUnitCapacity": _num(rec["unit_capacity"]),
        "GOR (code)": _GOR.get(region, ""), "GOR (name)": region,
        "DistrictAdministrative (code)": gss,
        "DistrictAdministrative (name)": rec["la_name"] or "",
        "AdministrativeWard (code)": f"E0501{int(rng.integers(0, 10000)):04d}" if gss else "",
        "AdministrativeWard (name)": f"{town} {_WARD_SUFFIX[msoa % 5]}" if town else "",
        "ParliamentaryConstituency (code)": (
            f"E1400{zlib.crc32(constituency.encode()) % 10000:04d}" if constituency else ""),
        "ParliamentaryConstituency (name)": constituency,
        "UrbanRural (code)": ur_code, "UrbanRural (name)": ur_name,
        "GSSLACode (name)": gss, "Easting": east, "Northing": north,
        "CensusAreaStatisticWard (name)": "",
        "MSOA (name)": f"{county} {msoa:03d}" if county else "",
        "LSOA (name)": f"{county} {msoa:03d}{lsoa}" if county else "",
        "Inspectorate (name)": "", "SENStat": "", "SENNoStat": "",
        "BoardingEstablishment (name)": "",
        "PropsName": f"{trust_name or 'Wessex Care'} Ltd" if is_independent else "",
        "PreviousLA (code)": "999", "PreviousLA (name)": "", "PreviousEstablishmentNumber": "",
        "OfstedRating (name)": _OFSTED[int(rng.choice(4, p=[0.18, 0.66, 0.13, 0.03]))]
        if is_open else "",
        "RSCRegion (name)": region, "Country (name)": "England",
        "UPRN": f"1000{int(rng.integers(0, 10**8)):08d}", "SiteName": "",
        "MSOA (code)": f"E0200{int(rng.integers(0, 10000)):04d}" if gss else "",
        "LSOA (code)": f"E0103{int(rng.integers(0, 10000)):04d}" if gss else "",
    }
    return row


def write_gias(establishments: pl.DataFrame, path: Path) -> None:
    """Write a GIAS ``edubasealldata`` extract: 133 real headers, Windows-1252, GIAS quoting.

    Name the file ``edubasealldata<YYYYMMDD>.csv`` as GIAS does. An optional ``capacity``
    column fills SchoolCapacity (else it is derived from pupils). Raises UnicodeEncodeError
    if a value has no Windows-1252 form (the real file could not hold it either).
    """
    frame = _with_optional_columns(establishments)
    rows = [_gias_row(rec) for rec in frame.iter_rows(named=True)]
    schema = {col: (pl.Int64 if col in _GIAS_NUMERIC else pl.Utf8) for col in GIAS_HEADER}
    out = pl.from_dicts(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    # non_numeric quoting gives the real file's shape: strings (even empty) quoted, numbers bare.
    text = out.select(GIAS_HEADER).write_csv(quote_style="non_numeric", line_terminator="\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("cp1252"))


# --------------------------------------------------------------------------------------------
# Finance: HNB ledger and DSG
# --------------------------------------------------------------------------------------------

# (s251 line, share of 2018-19 spend, growth relative to total spend, items). An item is
# (cost centre, description, weight within line, provider pool or None). Shares follow a
# typical county S251 outturn: place funding about a fifth, INMSS top-ups growing fastest.
_HN_LINES: tuple[tuple[str, float, float, tuple[tuple[str, str, float, str | None], ...]], ...] = (
    ("1.0.2", 0.21, 0.00, (
        ("HN1002", "Place funding: maintained special schools", 0.45, None),
        ("HN1002B", "Place funding: resourced provision and SEN units", 0.15, None),
        ("HN1002C", "Place funding: pupil referral units", 0.12, None),
        ("HN1002D", "Place funding: post-16 FE and specialist providers", 0.28, None),
    )),
    ("1.2.1", 0.14, -0.01, (
        ("HN1201", "Top-up: maintained special schools", 0.60, "maintained_special"),
        ("HN1201B", "Top-up: maintained mainstream schools", 0.40, None),
    )),
    ("1.2.2", 0.18, 0.01, (
        ("HN1202", "Top-up: academy and free special schools", 0.50, None),
        ("HN1202B", "Top-up: academy mainstream schools", 0.25, None),
        ("HN1202C", "Top-up: FE colleges", 0.25, None),
    )),
    ("1.2.3", 0.16, 0.07, (
        ("HN1203", "Top-up: independent special school fees", 0.80, "inmss"),
        ("HN1203B", "Top-up: non-maintained special school fees", 0.20, None),
    )),
    ("1.2.4", 0.015, 0.02, (
        ("HN1204", "Additional targeted funding: mainstream schools", 1.0, None),
    )),
    ("1.2.5", 0.08, -0.03, (
        ("HN1205", "Specialist SEN service", 0.45, None),
        ("HN1205B", "Educational psychology service", 0.35, None),
        ("HN1205C", "Sensory impairment service", 0.20, None),
    )),
    ("1.2.6", 0.015, -0.04, (("HN1206", "Hospital education service", 1.0, None),)),
    ("1.2.7", 0.05, 0.01, (
        ("HN1207", "Alternative provision: commissioned places", 0.70, None),
        ("HN1207B", "Education for children unable to attend for medical reasons", 0.30, None),
    )),
    ("1.2.8", 0.04, 0.00, (
        ("HN1208", "Inclusion support: early years SEN inclusion fund", 0.50, None),
        ("HN1208B", "Inclusion support: SEN help desk and outreach", 0.50, None),
    )),
    ("1.2.9", 0.005, -0.05, (
        ("HN1209", "Special schools and PRUs in financial difficulty", 1.0, None),
    )),
    ("1.2.10", 0.01, -0.06, (("HN1210", "PFI contribution: special school", 1.0, None),)),
    ("1.2.11", 0.01, 0.02, (("HN1211", "Direct payments: SEN", 1.0, None),)),
    ("1.2.13", 0.03, 0.02, (
        ("HN1213", "Speech and language therapy", 0.60, None),
        ("HN1213B", "Occupational therapy and physiotherapy", 0.40, None),
    )),
)
# Provider URNs are synthetic (6 digits starting 1) and need not exist in the GIAS sample.
_PROVIDER_POOLS = {"maintained_special": (6, 126000), "inmss": (14, 140000)}
# Terms drive top-up payments: August is light, March carries the year-end catch-up.
_MONTH_PROFILE = np.array([1.0, 1.0, 1.0, 1.02, 0.70, 1.05, 1.05, 1.0, 0.95, 1.0, 1.0, 1.18])


def _financial_model(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Grant, transfers and spend per financial year (spend outgrows the grant)."""
    n = len(FINANCIAL_YEARS)
    grant = np.empty(n)
    spend = np.empty(n)
    grant[0] = 50_000_000 * rng.uniform(0.99, 1.01)
    spend[0] = 52_500_000 * rng.uniform(0.99, 1.01)
    for i in range(1, n):
        grant[i] = grant[i - 1] * (1 + rng.uniform(0.085, 0.105))
        spend[i] = spend[i - 1] * (1 + rng.uniform(0.12, 0.14))
    # 0.5% of a ~GBP 340m schools block moved into the HNB with Schools Forum's agreement.
    transfer = np.zeros(n)
    for i, fy in enumerate(FINANCIAL_YEARS):
        if fy in {"2019-20", "2020-21", "2021-22"}:
            transfer[i] = round(0.005 * 340_000_000 * (1.03 ** i))
    return {"grant": np.round(grant), "spend": spend, "transfer": transfer}


def _line_year_amounts(spend: np.ndarray) -> np.ndarray:
    """Spend by (year, line) summing to each year's total."""
    shares = np.array([line[1] for line in _HN_LINES])
    premium = np.array([line[2] for line in _HN_LINES])
    t = np.arange(len(spend))[:, None]
    raw = shares[None, :] * (1 + premium[None, :]) ** t
    return raw / raw.sum(axis=1, keepdims=True) * spend[:, None]


def _ledger(rng: np.random.Generator, urns: dict[str, list[int]] | None = None,
            ) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    model = _financial_model(rng)
    by_line = _line_year_amounts(model["spend"])
    budget_total = model["grant"] + model["transfer"]
    providers = {
        pool: np.sort(rng.choice(np.arange(base, base + 9000), size=k, replace=False))
        for pool, (k, base) in _PROVIDER_POOLS.items()
    }
    if urns:  # the sample LA's real special schools, so top-ups join to placements
        providers.update({pool: np.sort(np.array(v)) for pool, v in urns.items() if v})
    provider_weights = {pool: rng.dirichlet(np.full(len(urns), 2.0))
                        for pool, urns in providers.items()}
    rows: list[tuple] = []
    for yi, fy in enumerate(FINANCIAL_YEARS):
        actual_rows: list[list] = []
        # Budgets are set to balance (grant plus transfers), so the overspend shows as variance.
        budget_scale = budget_total[yi] / model["spend"][yi]
        for li, (line, _share, _prem, items) in enumerate(_HN_LINES):
            for cc, desc, weight, pool in items:
                item_actual = by_line[yi, li] * weight
                item_budget = round(item_actual * budget_scale * rng.uniform(0.96, 1.04), -2)
                monthly = round(item_budget / 12, 2)
                for period in range(1, 13):
                    amount = monthly if period < 12 else round(item_budget - 11 * monthly, 2)
                    rows.append((fy, period, line, cc, desc, None, "budget", amount))
                if pool is None:
                    splits = [(None, 1.0)]
                else:
                    drift = rng.uniform(0.85, 1.15, size=len(providers[pool]))
                    w = provider_weights[pool] * drift
                    splits = list(zip((str(u) for u in providers[pool]), w / w.sum(),
                                      strict=True))
                for urn, frac in splits:
                    prof = _MONTH_PROFILE * rng.uniform(0.92, 1.08, size=12)
                    prof = prof / prof.sum() * item_actual * frac
                    for period in range(1, 13):
                        actual_rows.append([fy, period, line, cc, desc, urn, prof[period - 1]])
        # Recoupment from other LAs and recovered overpayments: the ledger's credit lines.
        for period in (3, 6, 9, 12):
            amount = -by_line[yi, 1] * rng.uniform(0.004, 0.008)
            actual_rows.append([fy, period, "1.2.1", "HN1201R",
                                "Recoupment: income from other local authorities", None, amount])
        for _ in range(int(rng.integers(1, 4))):
            period = int(rng.integers(1, 13))
            amount = -by_line[yi, 3] * rng.uniform(0.001, 0.004)
            actual_rows.append([fy, period, "1.2.3", "HN1203", "Refund of top-up overpayment",
                                None, amount])
        if fy != CURRENT_YEAR and (rng.random() < 0.7 or fy in {"2019-20", "2023-24"}):
            for li, (line, _share, _prem, items) in enumerate(_HN_LINES):
                if rng.random() < 0.4:
                    cc, desc = items[0][0], items[0][1]
                    amount = by_line[yi, li] * rng.uniform(-0.03, 0.04)
                    actual_rows.append([fy, 13, line, cc, f"Year-end accrual: {desc}", None,
                                        amount])
        # Rescale so each year's net actuals equal the modelled spend exactly.
        total = sum(r[6] for r in actual_rows)
        factor = model["spend"][yi] / total
        last_period = CURRENT_YEAR_ACTUAL_PERIODS if fy == CURRENT_YEAR else 13
        for r in actual_rows:
            if r[1] <= last_period:
                rows.append((*r[:6], "actual", round(r[6] * factor, 2)))
    ledger = pl.DataFrame(
        rows, orient="row",
        schema={"financial_year": pl.Utf8, "period": pl.Int64, "s251_line": pl.Utf8,
                "cost_centre": pl.Utf8, "description": pl.Utf8, "provider_urn": pl.Utf8,
                "entry_type": pl.Utf8, "amount_gbp": pl.Float64},
    )
    line_order = {line[0]: i for i, line in enumerate(_HN_LINES)}
    ledger = ledger.with_columns(
        pl.col("s251_line").replace_strict(line_order, return_dtype=pl.Int64).alias("_order")
    ).sort(["financial_year", "entry_type", "period", "_order", "cost_centre", "provider_urn"],
           descending=[False, True, False, False, False, False], nulls_last=False,
           maintain_order=True).drop("_order")
    return ledger, model


def write_finance(out_dir: Path, seed: int,
                  provider_urns: dict[str, list[int]] | None = None) -> None:
    """Write ``hnb_ledger_2018-19_to_2025-26.csv`` and ``dsg_2018-19_to_2025-26.xlsx``.

    `provider_urns`: URNs to pay top-ups to, by pool (``maintained_special``, ``inmss``);
    made-up URNs when not given."""
    rng = np.random.default_rng([seed, 865_002])
    ledger, model = _ledger(rng, provider_urns)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    span = f"{FINANCIAL_YEARS[0]}_to_{FINANCIAL_YEARS[-1]}"
    ledger.write_csv(out_dir / f"hnb_ledger_{span}.csv", float_precision=2)

    workbook = xlsxwriter.Workbook(str(out_dir / f"dsg_{span}.xlsx"))
    # A fixed creation date keeps the bytes identical from run to run.
    workbook.set_properties({"created": dt.datetime(2025, 11, 3, 9, 0, 0),
                             "title": "Dedicated Schools Grant: High Needs Block"})
    sheet = workbook.add_worksheet("DSG")
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0"})
    sheet.write_row(0, 0, DSG_COLUMNS, bold)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 3, 30, money)
    for i, fy in enumerate(FINANCIAL_YEARS):
        sheet.write_string(i + 1, 0, fy)
        sheet.write_number(i + 1, 1, float(model["grant"][i]))
        sheet.write_number(i + 1, 2, float(model["transfer"][i]))
        if i == 0:
            sheet.write_number(i + 1, 3, -3_000_000.0)
    workbook.close()


# --------------------------------------------------------------------------------------------
# Recovery plan register
# --------------------------------------------------------------------------------------------

_THEME_INCLUSIVE = "Inclusive practice in schools"
_THEME_PLACES = "Place planning"
_THEME_PROJECTS = "Project planning"
# (id, name, theme, planned savings from 2020-21 on, delivery ratio, metric, baseline, target).
# Dyslexia's first four years are the seed paper's forecast; later years its "GBP 120,000
# thereafter". Delivery ratios below 1 are the projects that under-deliver (red/amber RAG).
_PROJECTS: tuple[tuple[str, str, str, tuple[int, ...], float, str, float | None,
                       float | None], ...] = (
    ("RP01", "Dyslexia friendly schools", _THEME_INCLUSIVE,
     (7_000, 51_000, 88_000, 126_000, 120_000, 120_000), 0.9,
     "placements at dyslexia special schools", 40, 30),
    ("RP02", "Inclusion and school effectiveness", _THEME_INCLUSIVE,
     (0, 150_000, 350_000, 500_000, 600_000, 650_000), 0.75,
     "permanent exclusions of pupils with EHC plans", 35, 20),
    ("RP03", "ELP/resource bases", _THEME_PLACES,
     (50_000, 200_000, 400_000, 550_000, 650_000, 700_000), 1.05,
     "resource base places", 120, 180),
    ("RP04", "SEND assessment and EHCP", _THEME_PROJECTS,
     (0, 100_000, 250_000, 300_000, 300_000, 300_000), 0.85,
     "% of EHC plans issued within 20 weeks", 35, 60),
    ("RP05", "Review of INMSS including commissioning challenge", _THEME_PLACES,
     (100_000, 400_000, 800_000, 1_200_000, 1_500_000, 1_800_000), 0.45,
     "placements in independent and non-maintained special schools", 320, 250),
    ("RP06", "Post 16 transition", _THEME_PROJECTS,
     (0, 75_000, 150_000, 250_000, 300_000, 350_000), 0.7,
     "post-16 specialist placements out of county", 90, 60),
    ("RP07", "SEND AP project", _THEME_PLACES,
     (0, 0, 120_000, 240_000, 300_000, 360_000), 0.95,
     "pupils with EHC plans in commissioned AP", 110, 80),
    ("RP08", "Digital solutions", _THEME_PROJECTS,
     (0, 25_000, 60_000, 80_000, 80_000, 80_000), 1.1, "", None, None),
    ("RP09", "Early intervention and support", _THEME_INCLUSIVE,
     (0, 50_000, 150_000, 300_000, 450_000, 550_000), 0.6,
     "new EHC plans issued per year", 700, 600),
)
_PLAN_YEARS: tuple[str, ...] = FINANCIAL_YEARS[2:]


def write_recovery_plan(out_dir: Path, seed: int) -> None:
    """Write ``recovery_plan_register.csv``: the seed's projects, planned vs actual savings."""
    rng = np.random.default_rng([seed, 865_003])
    rows = []
    for pid, name, theme, planned, delivery, metric, baseline, target in _PROJECTS:
        for fy, plan in zip(_PLAN_YEARS, planned, strict=True):
            if plan == 0:
                continue  # the project had not started: no register line that year
            actual = None
            if fy < CURRENT_YEAR:
                actual = int(round(plan * delivery * rng.uniform(0.8, 1.15), -2))
            rows.append((pid, name, theme, fy, plan, actual, metric or None, baseline, target))
    frame = pl.DataFrame(
        rows, orient="row",
        schema={"project_id": pl.Utf8, "project_name": pl.Utf8, "theme": pl.Utf8,
                "financial_year": pl.Utf8, "planned_saving_gbp": pl.Int64,
                "actual_saving_gbp": pl.Int64, "metric_name": pl.Utf8,
                "metric_baseline": pl.Int64, "metric_target": pl.Int64},
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out_dir / "recovery_plan_register.csv")


# --------------------------------------------------------------------------------------------
# Commissioned places
# --------------------------------------------------------------------------------------------

# The seed's place plan: places added in a year over the year before (special, resource base).
_SEED_SPECIAL_ADDED = {"2019-20": 87, "2020-21": 56}
_SEED_RESOURCE_ADDED = {"2019-20": 10, "2020-21": 10}
_FY_START = {fy: dt.date(int(fy[:4]), 4, 1) for fy in FINANCIAL_YEARS}


def _backcast(current: np.ndarray, active: np.ndarray, fixed: dict[str, int],
              rate: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Places per (year, school) from this year's places, walking back through expansions.

    ``active`` (year x school) marks the years a school is open. A year's change in total
    places is openings minus closures plus growth at continuing schools; the growth is the
    seed's fixed figure where one is given (met exactly when schools have room), else a
    random rate. Growth goes to one to three schools (expansions are school by school) and
    never takes a school below 40% of today's places.
    """
    n_years, n = active.shape
    out = np.zeros((n_years, n), dtype=np.int64)
    out[-1] = current
    floor = np.ceil(current * 0.4).astype(np.int64)
    for y in range(n_years - 1, 0, -1):
        cur = out[y].copy()
        both = active[y] & active[y - 1]
        opening = int(cur[active[y] & ~active[y - 1]].sum())
        closing = int(cur[active[y - 1] & ~active[y]].sum())
        fixed_inc = fixed.get(FINANCIAL_YEARS[y])
        if fixed_inc is None:
            growth = int(round(cur[both].sum() * rng.uniform(*rate)))
        else:
            growth = fixed_inc - opening + closing
        order = [int(i) for i in rng.permutation(n) if both[i]]
        if growth < 0:
            # Places moved into a new school: continuing schools were larger the year before.
            for k, i in enumerate(order):
                add = -growth // len(order) + (1 if k < -growth % len(order) else 0)
                cur[i] += add
        else:
            chosen = [i for i in order if cur[i] > floor[i]][: int(rng.integers(1, 4))]
            remaining = growth
            for i in chosen + [i for i in order if i not in chosen]:
                take = min(remaining, int(cur[i] - floor[i]))
                if i in chosen and len(chosen) > 1:
                    take = min(take, -(-growth // len(chosen)))
                cur[i] -= max(take, 0)
                remaining -= max(take, 0)
                if remaining == 0:
                    break
            for i in order:  # chosen schools were capped at their share: use any room left
                take = max(min(remaining, int(cur[i] - floor[i])), 0)
                cur[i] -= take
                remaining -= take
        out[y - 1] = cur
    return out


def _open_in(fy: str, open_date: dt.date | None, close_date: dt.date | None,
             status: str | None) -> bool:
    start = _FY_START[fy]
    end = dt.date(start.year + 1, 3, 31)
    if status == "Closed" and close_date is None:
        return False
    return (open_date is None or open_date <= end) and (close_date is None or close_date >= start)


def write_places(establishments: pl.DataFrame, out_dir: Path, seed: int) -> None:
    """Write ``commissioned_places.csv`` for LA 865's special schools, RP/units and PRUs.

    2025-26 places are the frame's ``capacity`` (special schools and PRUs; else ``pupils``;
    a PRU with neither gets 30-90), ``rp_capacity`` and ``unit_capacity``; earlier years walk
    back through the seed's place plan. A school has rows only for years it was open; a
    special school with no capacity or pupils has none.
    """
    rng = np.random.default_rng([seed, 865_004])
    frame = _with_optional_columns(establishments)
    frame = frame.filter(pl.col("la_code") == LA_NUMBER).sort("urn")
    type_l = pl.col("type_name").str.to_lowercase()
    # Specialist post-16 institutions are "special" in name only: DfE counts them as FE.
    special = (type_l.str.contains("special") & ~type_l.str.contains("independent")
               & ~type_l.str.contains("non-maintained") & ~type_l.str.contains("post 16"))
    ap = (type_l == "pupil referral unit") | type_l.str.contains("alternative provision")
    places_now = pl.coalesce("capacity", "pupils")
    pools = {
        "special": (frame.filter(special), places_now, _SEED_SPECIAL_ADDED, (0.02, 0.05)),
        "resourced_provision": (frame.filter(~special & ~ap), pl.col("rp_capacity"),
                                _SEED_RESOURCE_ADDED, (0.02, 0.06)),
        "sen_unit": (frame.filter(~special & ~ap), pl.col("unit_capacity"), {}, (0.0, 0.04)),
        "ap": (frame.filter(ap), places_now, {}, (0.0, 0.03)),
    }
    rows = []
    for provision, (sub, expr, fixed, rate) in pools.items():
        sub = sub.with_columns(expr.alias("_now"))
        if provision == "ap":
            # PRUs often come without a capacity: give them a typical 30-90 places so the
            # sample always has AP rows (stable per URN, like the GIAS decoration).
            sub = sub.with_columns(pl.col("_now").fill_null(pl.col("urn").map_elements(
                lambda urn: int(_row_rng(urn, 865_006).integers(30, 91)),
                return_dtype=pl.Int64)))
        sub = sub.filter(pl.col("_now").fill_null(0) > 0)
        recs = sub.select("urn", "_now", "open_date", "close_date", "status").rows()
        current = np.array([r[1] for r in recs], dtype=np.int64)
        active = np.array([[_open_in(fy, *r[2:]) for r in recs] for fy in FINANCIAL_YEARS],
                          dtype=bool).reshape(len(FINANCIAL_YEARS), len(recs))
        table = _backcast(current, active, fixed, rate, rng)
        for yi, fy in enumerate(FINANCIAL_YEARS):
            for si, urn in enumerate(r[0] for r in recs):
                if active[yi, si]:
                    rows.append((fy, urn, provision, int(table[yi, si])))
    order = {p: i for i, p in enumerate(pools)}
    out = pl.DataFrame(
        rows, orient="row",
        schema={"financial_year": pl.Utf8, "urn": pl.Int64, "provision": pl.Utf8,
                "funded_places": pl.Int64},
    ).sort(pl.col("financial_year"), pl.col("provision").replace_strict(order), pl.col("urn"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out.write_csv(out_dir / "commissioned_places.csv")


# --------------------------------------------------------------------------------------------
# ONS mid-year population estimates
# --------------------------------------------------------------------------------------------

# Cohort size relative to recent births: the 1947 and 1964 baby booms, the 1970s trough.
_COHORT_KNOTS = (
    (1890, 0.85), (1920, 1.0), (1933, 0.82), (1947, 1.12), (1952, 0.95), (1964, 1.22),
    (1977, 0.86), (1990, 1.0), (2030, 1.0),
)
# Survival and net migration by age, relative to the cohort at birth: families move in with
# young children, 18-22s leave for university and work, retirees move in, then mortality.
_AGE_KNOTS = (
    (0, 1.0), (10, 1.06), (17, 1.10), (20, 0.93), (23, 0.97), (30, 1.06), (40, 1.16),
    (55, 1.22), (65, 1.22), (72, 1.15), (80, 0.88), (85, 0.62), (89, 0.38),
)
# Share of 90+ (one row) relative to one year of births.
_AGE_90_PLUS = 0.95


def write_population(out_dir: Path, births_per_year: int, seed: int) -> None:
    """Write ``ons_mid_year_estimates.csv`` (E06000054, mid-2013 to mid-2025, ages 0-90+).

    Each single year of age 0-25 is about ``births_per_year`` (both sexes, +-3% by birth
    cohort); the total is about 96 x ``births_per_year`` (about 510k at 5,300 births).
    """
    rng = np.random.default_rng([seed, 865_005])
    ages = np.arange(91)
    years = np.array(POPULATION_YEARS)
    cohorts = np.arange(years.min() - 90, years.max() + 1)
    cohort_noise = dict(zip(cohorts.tolist(), rng.uniform(-0.03, 0.03, size=len(cohorts)),
                            strict=True))
    age_factor = np.interp(ages, *zip(*_AGE_KNOTS, strict=True))
    rows = []
    for year in years:
        # Mild growth in adult in-migration keeps the county growing about 0.5% a year.
        adult_trend = 1 + 0.005 * (year - 2019)
        for age in ages:
            cohort = int(year - age)
            if age == 90:
                total = births_per_year * _AGE_90_PLUS * (1 + 0.02 * (year - 2019))
            else:
                size = np.interp(cohort, *zip(*_COHORT_KNOTS, strict=True))
                total = births_per_year * size * age_factor[age] * (1 + cohort_noise[cohort])
                if age > 25:
                    total *= adult_trend
            total *= rng.uniform(0.995, 1.005)
            # Boys outnumber girls at birth; women outlive men.
            male_share = 0.512 if age < 50 else float(np.interp(age, (50, 75, 90),
                                                                 (0.495, 0.47, 0.33)))
            males = int(round(total * male_share))
            rows.append((NEW_LA_CODE, int(year), int(age), "M", males))
            rows.append((NEW_LA_CODE, int(year), int(age), "F", int(round(total)) - males))
    frame = pl.DataFrame(
        rows, orient="row",
        schema={"new_la_code": pl.Utf8, "year": pl.Int64, "age": pl.Int64, "sex": pl.Utf8,
                "population": pl.Int64},
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out_dir / "ons_mid_year_estimates.csv")
