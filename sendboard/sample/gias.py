"""Synthetic GIAS ``edubasealldata`` extract for the sample LA and the settings it uses.

Everything is invented: no row describes a real school or head teacher. The file has the real
133 headers, Windows-1252 encoding and GIAS quoting, so the ingest meets the quirks it will
meet in production; the decoration (addresses, heads, codes) is synthetic but plausible.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from pathlib import Path

import polars as pl

from sendboard.sample.establishments import (
    LA_CODE,
    LA_NAME,
    NEW_LA_CODE,
    urn_rng,
    with_optional_columns,
)

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


def _ddmmyyyy(value: dt.date | None) -> str:
    return "" if value is None else value.strftime("%d-%m-%Y")


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
    rng = urn_rng(rec["urn"], 865_001)
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
    if la_code == LA_CODE and district in _TOWNS:
        town, east, north, constituency = _TOWNS[district]
        east += int(rng.integers(-2500, 2500))
        north += int(rng.integers(-2500, 2500))
    else:
        town, east, north, constituency = rec["la_name"] or "", None, None, ""
    county = LA_NAME if la_code == LA_CODE else (rec["la_name"] or "")
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
    frame = with_optional_columns(establishments)
    rows = [_gias_row(rec) for rec in frame.iter_rows(named=True)]
    schema = {col: (pl.Int64 if col in _GIAS_NUMERIC else pl.Utf8) for col in GIAS_HEADER}
    out = pl.from_dicts(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    # non_numeric quoting gives the real file's shape: strings (even empty) quoted, numbers bare.
    text = out.select(GIAS_HEADER).write_csv(quote_style="non_numeric", line_terminator="\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("cp1252"))
