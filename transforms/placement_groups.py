"""The DfE caseload placement groups (domain.md), from GIAS types and SEN2 settings.

The groups sum to the caseload, as in the DfE's caseload file: mainstream (every kind of
mainstream school, with its resourced provision and SEN units), special, ap_pru, fe,
educated_elsewhere, early_years, unknown (no current placement recorded).
"""

from __future__ import annotations

import polars as pl

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
    """URN -> type and placement group, for every establishment in the GIAS extract."""
    return establishments.select(
        "urn", "type_of_establishment",
        pl.col("type_of_establishment").replace_strict(TYPE_GROUP, default="unknown")
        .alias("placement_group"))


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
