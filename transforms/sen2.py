"""SEN2 modules: typed staging rows, links between modules, and the core plan tables."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schemas.contracts import LEGACY_NEED_CODES, SEN2_MODULES
from transforms.privacy import birth_year_month, pseudonymise
from transforms.validate import quarantine_rows
from values.parse import date_of, parse_bool, parse_int

# module -> (link column, parent module); in the order parents come before children.
LINKS: dict[str, tuple[str, str] | None] = {
    "sen2": None,
    "person": None,  # sen2tableid is optional in real exports: not enforced
    "requests": ("persontableid", "person"),
    "assessment": ("requeststableid", "requests"),
    "namedplan": ("assessmenttableid", "assessment"),
    "plandetail": ("namedplantableid", "namedplan"),
    "activeplans": ("requeststableid", "requests"),
    "placementdetail": ("activeplanstableid", "activeplans"),
    "senneed": ("activeplanstableid", "activeplans"),
}
_BOOLS = {"rya", "requestmediation", "requesttribunal", "week20", "planres", "planwbp", "pb",
          "oa", "senunitindicator", "resourcedprovisionindicator", "assessmentmediation",
          "assessmenttribunal", "othermediation", "othertribunal"}
_INTS = {"placementrank", "sentyperank", "ceasereason", "year", "urn"}


def sort_by_id(frame: pl.DataFrame, column: str, *then: str) -> pl.DataFrame:
    """`frame` in the order of a table id, then `then`: text ids shorter first, then as
    text, so that whole numbers keep their numeric order (9 before 10) and any other ids a
    fixed one; ids typed as integers (whole_number_ids) as they are, the same order."""
    if frame.schema[column] != pl.Utf8:
        return frame.sort(column, *then)
    return frame.sort(pl.col(column).str.len_bytes(), column, *then)


# A whole number as a system writes one as a key: no sign, no leading zero, fits an Int64.
_WHOLE_NUMBER = r"^(0|[1-9][0-9]{0,17})$"


def stored_id(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A table id column as staged: integers when every value is a plainly written whole
    number (which maps one to one to its text), else the text. Ids are opaque text (systems
    use GUIDs and Blade's hashes too); for the many that number their records, integers
    write, read and join in a fraction of the time, nationally seconds of a run."""
    if frame.height and frame.select(
            (pl.col(column).str.contains(_WHOLE_NUMBER) | pl.col(column).is_null()).all()
    ).item():
        return pl.col(column).cast(pl.Int64)
    return pl.col(column)


def whole_number_ids(stage: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The export's modules with all their table ids of one type, for the joins: integers
    when every id of every module is a whole number written plainly (stored_id staged most
    so already), else text (a module whose ids are hashes makes them all text, so that its
    links to the others still compare). The core tables are written back as text
    (ids_as_text)."""
    # (A module staged before ids were text holds them as integers already.)
    columns = {m: [c for c in f.columns if c.endswith("tableid") and f.schema[c] == pl.Utf8]
               for m, f in stage.items()}
    whole = all(f.select(pl.all_horizontal([
        (pl.col(c).str.contains(_WHOLE_NUMBER) | pl.col(c).is_null()).all()
        for c in columns[m]])).item() for m, f in stage.items() if columns[m])
    if not whole:
        return {m: f.with_columns(pl.col(c).cast(pl.Utf8) for c in f.columns
                                  if c.endswith("tableid")) for m, f in stage.items()}
    return {m: f.with_columns(pl.col(columns[m]).cast(pl.Int64)) if columns[m] else f
            for m, f in stage.items()}


def ids_as_text(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """A core table's ids as the text the export wrote (whole_number_ids typed them)."""
    return frame.with_columns(pl.col(c).cast(pl.Utf8) for c in columns
                              if frame.schema[c] != pl.Utf8)


def module_of(file_name: str) -> str | None:
    """`Blade-Export_28-09-2022_person.csv` -> `person`."""
    stem = file_name.rsplit(".", 1)[0].lower()
    for module in sorted(SEN2_MODULES, key=len, reverse=True):
        if stem.endswith("_" + module):
            return module
    return None


def export_date_of(file_name: str) -> dt.date | None:
    """The export date in a Blade file name (`Blade-Export_<DD-MM-YYYY>_<module>.csv`)."""
    import re

    m = re.search(r"(\d{2})-(\d{2})-(\d{4})", file_name)
    if not m:
        return None
    try:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


def orphans(modules: dict[str, pl.DataFrame], personal: dict[str, set[str]],
            staged_ids: dict[str, pl.Series] | None = None,
            ) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Quarantine rows whose parent id is not among the parent module's loaded rows.

    A parent row quarantined for its own reasons orphans its children too, so a plan never
    loads without the request it came from. `staged_ids`: ids (as text) of modules of the
    same export already loaded, for a module re-issued on its own.
    """
    staged_ids = staged_ids or {}
    kept: dict[str, pl.DataFrame] = {}
    quarantined: dict[str, pl.DataFrame] = {}
    for module, link in LINKS.items():
        if module not in modules:
            continue
        frame = modules[module]
        if link is None:
            kept[module] = frame
            continue
        column, parent = link
        parent_ids = (kept[parent][f"{parent}tableid"] if parent in kept
                      else staged_ids.get(parent, pl.Series([], dtype=pl.Utf8)))
        kept[module], quarantined[module] = quarantine_rows(
            frame, _missing_from(frame, column, parent_ids), column,
            f"links to {_article(parent)} {parent} row that is missing or "
            "quarantined", personal.get(module, set()))
        if module == "assessment" and "requests" in kept:
            kept[module], late = _outcome_before_request(kept[module], kept["requests"],
                                                         personal.get(module, set()))
            quarantined[module] = pl.concat([quarantined[module], late])
    return kept, quarantined


def _missing_from(frame: pl.DataFrame, column: str, ids: pl.Series) -> pl.Series:
    """True for rows whose `column` is not among `ids` (an anti-join: half the time of
    is_in's hash set, for a million ids)."""
    missing = frame.select(column).with_row_index("_row").join(
        ids.rename(column).to_frame(), on=column, how="anti")["_row"]
    return pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).scatter(missing, True)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _outcome_before_request(assessment: pl.DataFrame, requests: pl.DataFrame,
                            personal: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """An assessment cannot be decided before the request for it was received."""
    received = requests.select("requeststableid",
                               date_of(requests, "receiveddate").alias("_received"))
    joined = assessment.join(received, on="requeststableid", how="left")
    bad = (date_of(joined, "assessmentoutcomedate") < pl.col("_received")).fill_null(False)
    good, records = quarantine_rows(joined, bad, "assessmentoutcomedate",
                                    "is before its request was received", personal)
    return good.drop("_received"), records


def stage_module(module: str, good: pl.DataFrame, key: bytes,
                 export_date: dt.date) -> pl.DataFrame:
    """Typed rows of one module; persons lose names, postcode, full birth date, UPN and ULN."""
    exprs: list[pl.Expr] = [pl.lit(export_date).alias("export_date"), pl.col("row_number")]
    for col in SEN2_MODULES[module].columns:
        name = col.name
        if name in ("surname", "forename", "postcode") or not col.read:
            continue
        if name.endswith("tableid"):
            exprs.append(stored_id(good, name))
        elif name == "nativeid":
            exprs.append(pl.col(name))
        elif name == "personbirthdate":
            exprs.extend(birth_year_month(date_of(good, name)))
        elif col.date:
            exprs.append(date_of(good, name).alias(name))
        elif name in _BOOLS:
            exprs.append(parse_bool(name).alias(name))
        elif name in _INTS:
            exprs.append(parse_int(name).alias(name))
        elif name == "sentype":
            exprs.append(pl.col(name).str.to_uppercase().replace(LEGACY_NEED_CODES).alias(name))
        elif name in ("upn", "uniquelearnernumber"):
            exprs.append(pl.col(name))
        else:
            exprs.append(pl.col(name).str.to_uppercase().alias(name)
                         if name in ("sex", "requestoutcome", "assessmentoutcome",
                                     "sensetting") else pl.col(name))
    if module == "person":
        exprs.append(_name_and_birth(good).alias("identity"))
    typed = good.select(exprs)
    if module == "person":
        typed = pseudonymise(typed, {"upn": "upn_id", "uniquelearnernumber": "uln_id",
                                     "identity": "identity_id"}, key,
                             prefix={"uniquelearnernumber": "ULN:", "identity": "NAMEDOB:"})
    return typed


def _name_and_birth(good: pl.DataFrame) -> pl.Expr:
    """Surname, forename and birth date as one text (`SMITH|ANN|2015-06-15`), null when any
    is missing: its pseudonym finds one child recorded twice under different UPNs without a
    name or a full birth date being stored (sen2_checks' duplicate-name-dob)."""
    def part(column: str) -> pl.Expr:
        text = pl.col(column).str.strip_chars().str.to_uppercase()
        return pl.when(text.str.len_bytes() > 0).then(text)

    if "surname" not in good.columns or "forename" not in good.columns:
        return pl.lit(None, pl.Utf8)
    return pl.concat_str([part("surname"), part("forename"),
                          date_of(good, "personbirthdate").dt.strftime("%Y-%m-%d")],
                         separator="|")


# The staged columns the core tables are built from, per module: the build reads these and
# no others (a module also holds every version's fields, which nationally would be a
# gigabyte of mostly empty columns held through the build).
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sen2": ("sen2tableid", "lea"),
    "person": ("persontableid", "upn_id", "uln_id", "birth_year", "birth_month", "sex"),
    "requests": ("requeststableid", "persontableid", "receiveddate", "requestoutcomedate",
                 "requestoutcome", "requestsource", "requestmediation", "requesttribunal",
                 "export_date"),
    "assessment": ("assessmenttableid", "requeststableid", "assessmentoutcome",
                   "assessmentoutcomedate", "week20", "assessmentmediation",
                   "assessmenttribunal", "othermediation", "othertribunal"),
    "namedplan": ("namedplantableid", "assessmenttableid", "startdate", "ceasedate",
                  "ceasereason", "pb", "oa", "dp", "export_date"),
    "plandetail": ("plandetailtableid", "namedplantableid"),
    "activeplans": ("activeplanstableid", "requeststableid", "transferla", "reviewmeeting",
                    "reviewoutcome", "reviewdraft", "lastreview", "phasetransferduedate",
                    "phasetransferfinaldate"),
    "placementdetail": ("placementdetailtableid", "activeplanstableid", "urn", "ukprn",
                        "sensetting", "placementrank", "entrydate", "leavingdate",
                        "senunitindicator", "resourcedprovisionindicator"),
    "senneed": ("senneedtableid", "activeplanstableid", "sentype", "sentyperank"),
}


# Plan fields the statutory-duty KPIs read (transforms/duty_kpis.py): the annual review and
# phase transfer of the plan's active record, and its personal budget.
_REVIEW = {"reviewmeeting": "review_meeting", "reviewoutcome": "review_outcome",
           "reviewdraft": "review_draft", "lastreview": "review_decided",
           "phasetransferduedate": "transfer_due", "phasetransferfinaldate": "transfer_final"}
_BUDGET = {"pb": "personal_budget", "oa": "organised_arrangements", "dp": "direct_payments"}
_DISPUTES = {"requestmediation": "request_mediation", "requesttribunal": "request_tribunal",
             "assessmentmediation": "assessment_mediation",
             "assessmenttribunal": "assessment_tribunal", "othermediation": "other_mediation",
             "othertribunal": "other_tribunal"}


def _flag(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A yes/no field as a boolean: staged as one, or (dp, which the contract leaves
    unchecked, or a column a warehouse staged before it was typed) as its text, read with the
    contract's yes/no spellings; blank is no."""
    if frame.schema[column] == pl.Boolean:
        return pl.col(column).fill_null(False)
    return parse_bool(pl.col(column).cast(pl.Utf8)).fill_null(False)


def core_plans(stage: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per EHC plan (named plan) of an export, with its request and assessment."""
    person = stage["person"].select(
        "persontableid",
        pl.coalesce("upn_id", "uln_id", pl.format("sen2:{}", "persontableid")).alias("person_id"),
        "birth_year", "birth_month", "sex")
    requests = stage["requests"].select(
        "requeststableid", "persontableid", pl.col("receiveddate").alias("request_received"),
        pl.col("requestoutcomedate").alias("request_decided"))
    assessment = stage["assessment"].select(
        "assessmenttableid", "requeststableid",
        pl.col("assessmentoutcomedate").alias("assessment_decided"),
        pl.col("week20").fill_null(False).alias("exception_applies"))
    active = (sort_by_id(stage["activeplans"], "activeplanstableid")
              .group_by("requeststableid", maintain_order=True)
              .agg(pl.col("activeplanstableid", "transferla", *_REVIEW).first()))
    plans = (stage["namedplan"]
             .join(assessment, on="assessmenttableid", how="inner")
             .join(requests, on="requeststableid", how="inner")
             .join(person, on="persontableid", how="inner")
             .join(active, on="requeststableid", how="left"))
    return sort_by_id(plans.select(
        pl.col("namedplantableid").alias("plan_id"), "person_id", "birth_year", "birth_month",
        "sex", "request_received", "request_decided", "assessment_decided",
        "exception_applies", pl.col("startdate").alias("start_date"),
        pl.col("ceasedate").alias("cease_date"), pl.col("ceasereason").alias("cease_reason"),
        pl.col("transferla").alias("transfer_la"), "activeplanstableid",
        *(pl.col(c).alias(a) for c, a in _REVIEW.items()),
        *(_flag(plans, c).alias(a) for c, a in _BUDGET.items()), "export_date",
    ), "plan_id")


def core_placements(stage: dict[str, pl.DataFrame], plans: pl.DataFrame,
                    groups: pl.DataFrame) -> pl.DataFrame:
    """Placements attended (placement detail) per plan, with their DfE placement group.

    `groups` maps URN to placement_group (from GIAS): see transforms.placement_groups.
    """
    from transforms.placement_groups import group_placements

    placements = stage["placementdetail"].join(
        plans.select("plan_id", "activeplanstableid"), on="activeplanstableid", how="inner")
    return sort_by_id(group_placements(placements, groups).select(
        "plan_id", pl.col("entrydate").alias("entry_date"),
        pl.col("leavingdate").alias("leaving_date"), "urn", "ukprn", "sensetting",
        pl.col("placementrank").fill_null(1).alias("placement_rank"),
        pl.col("senunitindicator").fill_null(False).alias("sen_unit"),
        pl.col("resourcedprovisionindicator").fill_null(False).alias("resourced_provision"),
        "type_of_establishment", "placement_group", "school_setting",
    ), "plan_id", "entry_date")


def core_needs(stage: dict[str, pl.DataFrame], plans: pl.DataFrame) -> pl.DataFrame:
    return sort_by_id(stage["senneed"].join(
        plans.select("plan_id", "activeplanstableid"), on="activeplanstableid", how="inner"
    ).select("plan_id", pl.col("sentype").alias("need"), pl.col("sentyperank").alias("rank")),
        "plan_id", "rank")


def core_requests(stage: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Requests for assessment with their outcomes and whether they came with a transfer."""
    person = stage["person"].select(
        "persontableid",
        pl.coalesce("upn_id", "uln_id", pl.format("sen2:{}", "persontableid")).alias("person_id"))
    transfer = stage["activeplans"].filter(pl.col("transferla").is_not_null()).select(
        "requeststableid").unique().with_columns(pl.lit(True).alias("transfer_in"))
    assessed = sort_by_id(stage["assessment"], "assessmenttableid").group_by(
        "requeststableid", maintain_order=True).agg(
        pl.col("assessmentoutcome").first().alias("assessment_outcome"),
        pl.col("assessmentoutcomedate").first().alias("assessment_decided"),
        *(_flag(stage["assessment"], c).any().alias(c)
          for c in ("assessmentmediation", "assessmenttribunal", "othermediation",
                    "othertribunal")))
    return sort_by_id(stage["requests"].join(person, on="persontableid", how="inner")
            .join(transfer, on="requeststableid", how="left")
            .join(assessed, on="requeststableid", how="left")
            .select(pl.col("requeststableid").alias("request_id"), "person_id",
                    pl.col("receiveddate").alias("received"),
                    pl.col("requestoutcome").alias("outcome"),
                    pl.col("requestoutcomedate").alias("decided"), "assessment_outcome",
                    "assessment_decided",
                    pl.col("transfer_in").fill_null(False),
                    pl.col("requestsource").cast(pl.Utf8).str.strip_chars()
                    .alias("request_source"),
                    *(pl.col(c).fill_null(False).alias(a) for c, a in _DISPUTES.items()),
                    "export_date"),
        "request_id")
