"""The DfE caseload placement groups (domain.md), from GIAS types and SEN2 settings.

The groups sum to the caseload, as in the DfE's caseload file: mainstream (every kind of
mainstream school, with its resourced provision and SEN units), special, ap_pru, fe,
educated_elsewhere, early_years, unknown (no current placement recorded).
"""

from __future__ import annotations

import polars as pl

from schemas.contracts import SETTINGS_2026

# GIAS TypeOfEstablishment (name) -> group. Names as GIAS spells them.
TYPE_GROUP = {
    **dict.fromkeys([
        "Community school", "Voluntary aided school", "Voluntary controlled school",
        "Foundation school", "Academy converter", "Academy sponsor led", "Free schools",
        "Free schools 16 to 19", "Academy 16-19 converter", "Academy 16-19 sponsor led",
        "Academy 16 to 19 converter", "Academy 16 to 19 sponsor led", "Studio schools",
        "University technical college", "City technology college", "Other independent school",
        "Local authority nursery school", "Sixth form centres", "Service children's education",
    ], "mainstream"),
    **dict.fromkeys([
        "Community special school", "Foundation special school", "Academy special converter",
        "Academy special sponsor led", "Free schools special", "Other independent special school",
        "Non-maintained special school", "Hospital special school",
    ], "special"),
    **dict.fromkeys([
        "Pupil referral unit", "Academy alternative provision converter",
        "Academy alternative provision sponsor led", "Free schools alternative provision",
    ], "ap_pru"),
    **dict.fromkeys([
        "Further education", "Special post 16 institution", "Institution funded by other "
        "government department",
    ], "fe"),
    **dict.fromkeys(["Welsh establishment", "Online provider", "Secure units",
                     "Offshore schools", "Miscellaneous"], "educated_elsewhere"),
}

SETTING_GROUP = {"EYP": "early_years", **dict.fromkeys(
    ["OLA", "OPA", "EHE", "OTH", "NEET", "NIEC", "NIEO"], "educated_elsewhere")}


def establishment_groups(establishments: pl.DataFrame) -> pl.DataFrame:
    """URN -> type, placement group and the 2026 setting of a place there with no unit
    (`school_setting`, a SETTING_CODE), for every establishment in the GIAS extract: the
    names are mapped here, once a school, rather than once a placement."""
    return establishments.select(
        "urn", "type_of_establishment",
        pl.col("type_of_establishment").replace_strict(TYPE_GROUP, default="unknown")
        .alias("placement_group"),
        pl.col("type_of_establishment").replace_strict(
            {t: SETTING_CODE[s] for t, s in TYPE_SETTING_2026.items()}, default=None,
            return_dtype=pl.Int8).alias("school_setting"))


def group_placements(placements: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Add `type_of_establishment` and `placement_group` to placement rows.

    A URN takes its group from GIAS; no URN but a UKPRN is an FE or other post-16 provider;
    otherwise the SEN setting decides. A URN that GIAS does not know stays `unknown`, so the
    gap is visible rather than guessed.
    """
    joined = placements.join(groups, on="urn", how="left")
    return joined.with_columns(
        pl.when(pl.col("urn").is_not_null()).then(pl.col("placement_group").fill_null("unknown"))
        .when(pl.col("ukprn").is_not_null()).then(pl.lit("fe"))
        .when(pl.col("sensetting").is_not_null())
        .then(pl.col("sensetting").replace_strict(SETTING_GROUP, default="unknown"))
        .otherwise(pl.lit("unknown")).alias("placement_group"))


# GIAS TypeOfEstablishment (name) -> the 2026 setting, for every type TYPE_GROUP groups (a
# type it does not know is `unknown` today, so `placement_unknown` here). Mainstream schools
# are split by who runs them; the resourced provision and SEN unit flags add their suffix.
# Where the DfE's placement of a type is not stated, the nearest setting inside today's group
# is taken (docs/kpis.md#ehcp-placement-detail lists them).
TYPE_SETTING_2026: dict[str, str] = {
    **dict.fromkeys([
        "Community school", "Voluntary aided school", "Voluntary controlled school",
        "Foundation school", "Local authority nursery school", "Sixth form centres"],
        "mainstream_la_maintained"),
    **dict.fromkeys([
        "Academy converter", "Academy sponsor led", "Academy 16-19 converter",
        "Academy 16-19 sponsor led", "Academy 16 to 19 converter",
        "Academy 16 to 19 sponsor led", "City technology college"], "mainstream_academy"),
    # GIAS puts university technical colleges and studio schools in its Free Schools group.
    **dict.fromkeys(["Free schools", "Free schools 16 to 19", "University technical college",
                     "Studio schools"], "mainstream_free_school"),
    "Other independent school": "mainstream_independent",
    # The release's footnote: other school types include service children's education,
    # offshore schools, secure units and GIAS's Miscellaneous (today's group says mainstream
    # for the first: kept, so the groups do not change; its setting is the DfE's).
    **dict.fromkeys(["Service children's education", "Secure units", "Offshore schools",
                     "Miscellaneous"], "other_schools"),
    **dict.fromkeys(["Community special school", "Foundation special school",
                     "Hospital special school"], "special_la_maintained"),
    **dict.fromkeys(["Academy special converter", "Academy special sponsor led"],
                    "special_academy"),
    "Free schools special": "special_free_school",
    "Other independent special school": "special_independent",
    "Non-maintained special school": "special_non_maintained",
    "Pupil referral unit": "ap_pru_la_maintained",
    **dict.fromkeys(["Academy alternative provision converter",
                     "Academy alternative provision sponsor led"], "ap_pru_academy"),
    "Free schools alternative provision": "ap_pru_free_school",
    **dict.fromkeys(["Further education", "Institution funded by other government department"],
                    "general_fe_tertiary_colleges"),
    "Special post 16 institution": "specialist_post_16_institutions",
    "Welsh establishment": "w_settings",
    "Online provider": "online_provider",
}
# A setting as a small integer through the January frame (its place in SETTINGS_2026): a
# row per plan and January nationally, grouped in a fraction of the time text would take.
SETTING_CODE = {s: i for i, s in enumerate(SETTINGS_2026)}
SETTING_NAME = dict(enumerate(SETTINGS_2026))
# Mainstream settings with resourced provision and SEN unit columns of their own: in
# SETTINGS_2026 each is followed by its `_resourced_provision` (+1) and `_senunit` (+2).
_WITH_UNITS = [SETTING_CODE[s] for s in ("mainstream_la_maintained", "mainstream_academy",
                                         "mainstream_free_school")]

# SEN2 `sensetting` (no URN, no UKPRN) -> the 2026 setting. NIEO (not in education or
# training, other) is `neet_other` here; the placement detail splits off compulsory school
# age (compulsory_school_age).
SENSETTING_2026 = {"EHE": "elective_home_education", "OLA": "other_arrangements_la",
                   "OPA": "other_arrangements_parents", "OTH": "other_placement_settings",
                   "NEET": "neet", "NIEC": "neet_ntci", "NIEO": "neet_other",
                   "EYP": "nm_early_years"}


def setting_2026() -> pl.Expr:
    """The 2026 setting (a SETTING_CODE) of a placement row grouped by group_placements (its
    `placement_group`, `school_setting`, `urn`, `ukprn`, `sensetting`, `sen_unit`,
    `resourced_provision`). A placement today's groups call `unknown` is
    `placement_unknown`; a SEN unit wins over resourced provision when both are flagged."""
    school = pl.col("school_setting")
    units = school.is_in(_WITH_UNITS)
    step = (pl.when(units & pl.col("sen_unit")).then(2)
            .when(units & pl.col("resourced_provision")).then(1).otherwise(0))
    unknown = SETTING_CODE["placement_unknown"]
    return (pl.when(pl.col("placement_group") == "unknown").then(unknown)
            .when(pl.col("urn").is_not_null()).then((school + step).fill_null(unknown))
            .when(pl.col("ukprn").is_not_null()).then(SETTING_CODE["ukrlp_provider"])
            .otherwise(pl.col("sensetting").replace_strict(
                {c: SETTING_CODE[s] for c, s in SENSETTING_2026.items()}, default=unknown,
                return_dtype=pl.Int8))).cast(pl.Int8)


def compulsory_school_age(year: pl.Expr, birth_year: pl.Expr, birth_month: pl.Expr) -> pl.Expr:
    """Of compulsory school age on the January census day of `year`: from the 31 December
    on or after the fifth birthday (born by December of year - 6) to the end of the school
    year of the sixteenth (born after August of year - 17). Month and year of birth are
    enough: both limits fall at a month's end. Null when the birth month is not known."""
    born = birth_year * 12 + birth_month - 1
    return (born <= (year - 6) * 12 + 11) & (born > (year - 17) * 12 + 7)
