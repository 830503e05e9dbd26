"""The input contracts (../shared/contracts.md) as data: columns, aliases, what is personal.

Header names match case-insensitively, ignoring spaces and underscores (`normalise_header`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def normalise_header(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lstrip("\ufeff")).lower()


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True
    personal: bool = False  # never stored; masked in quarantine
    date: bool = False  # parsed with transforms.parse.parse_date
    # False: the header is recognised but the column is never read: nothing uses it, and at
    # national scale a column of names is most of a gigabyte held for nothing.
    read: bool = True


@dataclass(frozen=True)
class Contract:
    source: str
    table: str  # staging table the rows go to
    columns: tuple[Column, ...]
    file_pattern: str = r".*"  # which files of the source folder this contract reads
    extra: dict = field(default_factory=dict)

    def alias_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in self.columns:
            for a in (c.name, *c.aliases):
                out[normalise_header(a)] = c.name
        return out

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def personal(self) -> set[str]:
        return {c.name for c in self.columns if c.personal}

    @property
    def kept(self) -> list[str]:
        """The columns read, in contract order."""
        return [c.name for c in self.columns if c.read]

    @property
    def unread_headers(self) -> set[str]:
        """Normalised headers (names and aliases) of the columns never read."""
        return {normalise_header(a) for c in self.columns if not c.read
                for a in (c.name, *c.aliases)}

    @property
    def dates(self) -> list[str]:
        return [c.name for c in self.columns if c.date]


C = Column

CENSUS = Contract("census", "stage.census", (
    C("census_date", ("CensusDate",), date=True),
    C("laestab", ("LAEstab",)),
    C("urn", ("URN",)),
    C("upn", ("UPN",), personal=True),
    C("surname", ("Surname",), required=False, personal=True, read=False),
    C("forename", ("Forename",), required=False, personal=True, read=False),
    C("date_of_birth", ("DOB",), personal=True, date=True),
    C("sex", ("Gender", "Sex")),
    C("nc_year_actual", ("NCyearActual",)),
    C("enrol_status", ("EnrolStatus",)),
    C("sen_provision", ("SENprovision",)),
    C("primary_sen_need", ("SENtype", "PrimarySENeedsType"), required=False),
    C("secondary_sen_need", ("SecondarySENType",), required=False),
    C("fsm_eligible", ("FSMeligible",)),
))


def pupil_link(roll: str) -> str:
    """The column a pupil's child row links by: `pupilonrolltableid`, or a leaver's
    (`roll` `offroll`) `pupilnolongeronrolltableid`."""
    return "pupilnolongeronrolltableid" if roll else "pupilonrolltableid"


def _sessions_or_exclusions(table: str, roll: str) -> Contract:
    """A sessions-details or exclusions table of pupils on roll (`roll` "") or of leavers
    (`offroll`): its own id (`<table>onrolltableid` on roll), the pupil's, then the columns
    termlysessiondetails / termlyexclusions have."""
    ids = (C(f"{table}{roll}tableid", () if roll else (f"{table}onrolltableid",)),
           C(pupil_link(roll)))
    if table == "termlyexclusions":
        return Contract("census", "stage.census_exclusions", (
            *ids, C("startdate", date=True), C("category"), C("sessions", required=False),
            C("senprovision", required=False)))
    return Contract("census", "stage.census_attendance", (
        *ids, C("sessions", ("absencesessions",)), C("attendancereason")))


# The school census as COLLECT's Blade export: a CSV a table, linked by `*tableid`
# (docs/census-blade.md, from liia-tools-pipeline's schemas 2015-2026). Only the columns
# sendboard uses are read: a Blade table has dozens (names, addresses, funding hours) and
# they change every year. "Required" here means the header must have the column; whether a
# value may be blank is the flat census schema's rule, checked once the tables are joined.
CENSUS_BLADE: dict[str, Contract] = {
    "schoolcensus": Contract("census", "stage.census", (
        C("schoolcensustableid"), C("referencedate", date=True), C("lea"), C("estab"),
        C("urn", required=False))),  # URN from autumn 2017; before, from GIAS by LAEstab
    "pupilonroll": Contract("census", "stage.census", (
        C("pupilonrolltableid"), C("schoolcensustableid"), C("upn", personal=True),
        C("dob", personal=True, date=True), C("sex", ("gender",)), C("ncyearactual"),
        C("enrolstatus"), C("senprovision"),
        # The term before the census's possible sessions; its sessions missed are in
        # termlysessiondetails (the totals beside it here are gone from 2025: never read).
        C("termlysessionspossible", required=False),  # `gender` until summer 2023
        # Autumn: the summer term's second half, apart (summerhalfterm2sessiondetails).
        C("summerhalfterm2sessionspossible", required=False))),
    # Pupils who left during the term before the census (on roll for a session of it, gone
    # by census day): the same session columns, no SEN provision or enrolment status.
    "pupilnolongeronroll": Contract("census", "stage.census_attendance", (
        C("pupilnolongeronrolltableid"), C("schoolcensustableid"), C("upn", personal=True),
        C("dob", personal=True, date=True), C("termlysessionspossible", required=False),
        C("summerhalfterm2sessionspossible", required=False))),
    "senneeds": Contract("census", "stage.census", (  # spring censuses only
        C("senneedstableid"), C("pupilonrolltableid"), C("sentype"), C("sentyperank"))),
    # `fsmperiodsonroll` in autumn, `fsmperiod` in spring and summer: the same columns.
    "fsmperiod": Contract("census", "stage.census", (
        C("fsmperiodtableid", ("fsmperiodsonrolltableid",)), C("pupilonrolltableid"),
        C("fsmstartdate", date=True, required=False), C("fsmenddate", date=True,
                                                         required=False))),
    # Pupils on roll's sessions missed in the term before the census, a row a reason
    # (`absencesessions` until the 2020-21 schemas); docs/census-blade.md.
    "termlysessiondetails": Contract("census", "stage.census_attendance", (
        C("termlysessiondetailstableid", ("termlysessiondetailsonrolltableid",)),
        C("pupilonrolltableid"), C("sessions", ("absencesessions",)),
        C("attendancereason"))),
    # Their suspensions and permanent exclusions, a row each (FIXD became SUSP in 2020-21).
    "termlyexclusions": Contract("census", "stage.census_exclusions", (
        C("termlyexclusionstableid", ("termlyexclusionsonrolltableid",)),
        C("pupilonrolltableid"), C("startdate", date=True), C("category"),
        C("sessions", required=False), C("senprovision", required=False))),
    # The same of leavers (`*offroll`, linked to pupilnolongeronroll) and, in autumn, of the
    # summer term's second half (`summerhalfterm2sessiondetails*`).
    **{f"{table}{roll}": _sessions_or_exclusions(table, roll)
       for table in ("termlysessiondetails", "summerhalfterm2sessiondetails",
                     "termlyexclusions") for roll in ("", "offroll")
       if (table, roll) not in (("termlysessiondetails", ""), ("termlyexclusions", ""))},
}
# The Blade table names a header's own id may carry, for each table read.
BLADE_TABLE_NAMES = {"schoolcensus": "schoolcensus", "pupilonroll": "pupilonroll",
                     "senneeds": "senneeds", "fsmperiod": "fsmperiod",
                     "fsmperiodsonroll": "fsmperiod",
                     "termlysessiondetailsonroll": "termlysessiondetails",
                     "termlyexclusionsonroll": "termlyexclusions",
                     "pupilnolongeronroll": "pupilnolongeronroll",
                     "termlysessiondetailsoffroll": "termlysessiondetailsoffroll",
                     "termlyexclusionsoffroll": "termlyexclusionsoffroll",
                     "summerhalfterm2sessiondetailsonroll": "summerhalfterm2sessiondetails",
                     "summerhalfterm2sessiondetailsoffroll":
                         "summerhalfterm2sessiondetailsoffroll"}
# Attendance codes (the 2024-25 schema's list, with the older H and J it still accepts):
# which count as sessions missed. The rest are present, approved educational activity or
# not counted as possible sessions (X, Y, Z, #, Q, D ...), and are kept out of both sides.
AUTHORISED_ABSENCE = ("C", "C1", "C2", "E", "H", "I", "M", "R", "S", "T", "J1")
UNAUTHORISED_ABSENCE = ("G", "N", "O", "U")
ATTENDANCE_CODES = (
    "/", "\\", "B", "C", "C1", "C2", "D", "E", "G", "H", "I", "J", "J1", "K", "L", "M", "N",
    "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6",
    "Y7", "Z", "#")
# Exclusion categories: permanent, suspension (fixed period until 2020-21), lunchtime.
EXCLUSION_CATEGORIES = {"PERM": "permanent", "SUSP": "suspension", "FIXD": "suspension",
                        "LNCH": "lunchtime"}


def _blade(module: str, *columns: Column, unread: tuple[str, ...] = ()) -> Contract:
    """A SEN2 module: its own columns, then the three every Blade module carries: the case
    management system's own record id (`NativeId`, which caseworkers look records up by),
    the row's order within its parent and the system it came from (both recognised, never
    read). `unread`: columns of some versions that nothing uses."""
    blade = (C("nativeid", ("NativeId",), required=False),
             C(f"{module}orderseqcolumn", required=False, read=False),
             C("sourceid", required=False, read=False))
    return Contract("sen2", f"stage.sen2_{module}", (
        *columns, *blade, *(C(u, required=False, read=False) for u in unread)))


# Versions (witan.sen2's Blade reader and the DfE's SEN2 guides): v1.1 `gendercurrent`, `res`
# and `wbp` on active plans, `attendancepattern` on placements; v1.2 `sex`, annual review
# fields, `res`/`wbp` on placements; v1.3 request source (`rquestsource` in some workbooks),
# review draft, phase transfer dates, `dsco`; v1.4 need code DS. Every column a version adds
# is optional, so every version's export reads.
SEN2_MODULES: dict[str, Contract] = {
    "sen2": _blade("sen2",
        C("sen2tableid"), C("collection", required=False), C("year", required=False),
        C("referencedate", required=False, date=True), C("lea", required=False),
        unread=("sourcelevel", "softwarecode", "release", "serialno", "datetime", "dmo", "dco",
                "dsco")),
    "person": _blade("person",
        C("persontableid"), C("sen2tableid", required=False),
        C("surname", required=False, personal=True), C("forename", required=False,
                                                        personal=True),
        C("personbirthdate", personal=True, date=True), C("sex", ("gendercurrent",)),
        C("ethnicity", required=False),
        C("postcode", required=False, personal=True), C("upn", required=False, personal=True),
        C("uniquelearnernumber", required=False, personal=True),
        C("upnunknown", required=False)),
    "requests": _blade("requests",
        C("requeststableid"), C("persontableid"), C("receiveddate", date=True),
        C("requestsource", ("rquestsource",), required=False),
        C("rya", required=False), C("requestoutcomedate", required=False, date=True),
        C("requestoutcome", required=False), C("requestmediation", required=False),
        C("requesttribunal", required=False), C("exported", required=False)),
    "assessment": _blade("assessment",
        C("assessmenttableid"), C("requeststableid"), C("assessmentoutcome", required=False),
        C("assessmentoutcomedate", required=False, date=True), C("week20", required=False),
        C("assessmentmediation", required=False), C("assessmenttribunal", required=False),
        C("othermediation", required=False), C("othertribunal", required=False)),
    "namedplan": _blade("namedplan",
        C("namedplantableid"), C("assessmenttableid"), C("startdate", date=True),
        C("planres", required=False), C("planwbp", required=False), C("pb", required=False),
        C("oa", required=False), C("dp", required=False),
        C("ceasedate", required=False, date=True), C("ceasereason", required=False)),
    "plandetail": _blade("plandetail",
        C("plandetailtableid"), C("namedplantableid"), C("urn", required=False),
        C("ukprn", required=False), C("sensetting", required=False),
        C("placementrank", required=False), C("senunitindicator", required=False),
        C("resourcedprovisionindicator", required=False), unread=("sensettingother",)),
    "activeplans": _blade("activeplans",
        C("activeplanstableid"), C("requeststableid"), C("transferla", required=False),
        C("res", required=False), C("wbp", required=False),
        C("reviewmeeting", required=False, date=True), C("reviewoutcome", required=False),
        C("reviewdraft", required=False, date=True),
        C("phasetransferduedate", required=False, date=True),
        C("phasetransferfinaldate", required=False, date=True),
        C("lastreview", required=False, date=True)),
    "placementdetail": _blade("placementdetail",
        C("placementdetailtableid"), C("activeplanstableid"), C("urn", required=False),
        C("ukprn", required=False), C("sensetting", required=False),
        C("placementrank", required=False), C("entrydate", required=False, date=True),
        C("leavingdate", required=False, date=True),
        C("attendancepattern", required=False), C("senunitindicator", required=False),
        C("resourcedprovisionindicator", required=False), C("res", required=False),
        C("wbp", required=False), unread=("sensettingother",)),
    "senneed": _blade("senneed",
        C("senneedtableid"), C("activeplanstableid"), C("sentype"), C("sentyperank")),
}

ESTABLISHMENTS = Contract("establishments", "stage.establishments", (
    C("urn", ("URN",)), C("la_code", ("LA (code)",)), C("la_name", ("LA (name)",)),
    C("establishment_number", ("EstablishmentNumber",)),
    C("establishment_name", ("EstablishmentName",)),
    C("type_of_establishment", ("TypeOfEstablishment (name)",)),
    C("establishment_type_group", ("EstablishmentTypeGroup (name)",)),
    C("establishment_status", ("EstablishmentStatus (name)",)),
    C("phase_of_education", ("PhaseOfEducation (name)",)),
    C("statutory_low_age", ("StatutoryLowAge",)),
    C("statutory_high_age", ("StatutoryHighAge",)),
    C("ukprn", ("UKPRN",), required=False),
    C("resourced_provision_on_roll", ("ResourcedProvisionOnRoll",), required=False),
    C("resourced_provision_capacity", ("ResourcedProvisionCapacity",), required=False),
    C("sen_unit_on_roll", ("SenUnitOnRoll",), required=False),
    C("sen_unit_capacity", ("SenUnitCapacity",), required=False),
    C("type_of_resourced_provision", ("TypeOfResourcedProvision (name)",), required=False),
    C("open_date", ("OpenDate",), required=False, date=True),
    C("close_date", ("CloseDate",), required=False, date=True),
))

HNB_LEDGER = Contract("finance", "stage.finance_ledger", (
    C("financial_year"), C("period"), C("s251_line"), C("cost_centre", required=False),
    C("description", required=False), C("provider_urn", required=False), C("entry_type"),
    C("amount_gbp"),
), file_pattern=r"^hnb[ _-]?ledger")

DSG = Contract("finance", "stage.finance_dsg", (
    C("financial_year"), C("high_needs_block_gbp"), C("block_transfer_gbp", required=False),
    C("opening_cumulative_balance_gbp", required=False),
), file_pattern=r"^dsg")

RECOVERY_PLAN = Contract("recovery_plan", "stage.recovery_plan", (
    C("project_id"), C("project_name"), C("theme", required=False), C("financial_year"),
    C("planned_saving_gbp"), C("actual_saving_gbp", required=False),
    C("metric_name", required=False), C("metric_baseline", required=False),
    C("metric_target", required=False),
))

PLACES = Contract("places", "stage.places", (
    C("financial_year"), C("urn"), C("provision"), C("funded_places"),
))

POPULATION = Contract("population", "stage.population", (
    C("new_la_code"), C("year"), C("age"), C("sex", required=False), C("population"),
))

# The DfE's S251 high-needs lines (domain.md).
S251_HIGH_NEEDS_LINES = ("1.0.2", "1.2.1", "1.2.2", "1.2.3", "1.2.4", "1.2.5", "1.2.6", "1.2.7",
                         "1.2.8", "1.2.9", "1.2.10", "1.2.11", "1.2.12", "1.2.13")
# The DfE's placement groups of the caseload file, which sum to the total (domain.md).
PLACEMENT_GROUPS = ("mainstream", "special", "ap_pru", "fe", "educated_elsewhere",
                    "early_years", "unknown")
# The DfE 2026 release's caseload.csv placement columns (dfe-ehcp-2026-headers.txt), in the
# file's order, each in today's group whose `*_total` it adds up to (checked on the 2025
# release, which has all but the special academy / free school split: England, January 2025,
# the educated-elsewhere columns add up to `ed_elsewhere` 49,750 and the groups to 638,745).
SETTINGS_2026: dict[str, str] = {
    **dict.fromkeys([
        "mainstream_la_maintained", "mainstream_la_maintained_resourced_provision",
        "mainstream_la_maintained_senunit", "mainstream_academy",
        "mainstream_academy_resourced_provision", "mainstream_academy_senunit",
        "mainstream_free_school", "mainstream_free_school_resourced_provision",
        "mainstream_free_school_senunit", "mainstream_independent"], "mainstream"),
    **dict.fromkeys(["special_la_maintained", "special_academy", "special_free_school",
                     "special_independent", "special_non_maintained"], "special"),
    **dict.fromkeys(["ap_pru_academy", "ap_pru_free_school", "ap_pru_la_maintained"],
                    "ap_pru"),
    **dict.fromkeys(["general_fe_tertiary_colleges", "specialist_post_16_institutions",
                     "ukrlp_provider"], "fe"),
    **dict.fromkeys([
        "elective_home_education", "other_arrangements_la", "other_arrangements_parents",
        "online_provider", "w_settings", "other_schools", "other_placement_settings", "neet",
        "neet_ntci", "neet_other", "neet_other_csa"], "educated_elsewhere"),
    "nm_early_years": "early_years",
    "placement_unknown": "unknown",
}
PLACE_PROVISIONS = ("special", "resourced_provision", "sen_unit", "ap")

NEED_CODES = ("ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH", "SLCN", "SLD", "SPLD",
              "VI", "NSA", "DS")
LEGACY_NEED_CODES = {"BESD": "SEMH"}
NC_YEARS = ("E1", "E2", "N1", "N2", "R", *[str(i) for i in range(1, 15)], "X")
ENROL_STATUSES = ("C", "M", "S", "F", "G")
SEN_PROVISION = {"E": "E", "K": "K", "N": "N", "S": "E", "A": "K", "P": "K"}
LEGACY_PROVISION = ("S", "A", "P")
SEN_SETTINGS = ("OLA", "OPA", "EHE", "EYP", "OTH", "NEET", "NIEC", "NIEO")
