"""One SEN2 export against the one before it (last year's return): plans that vanished and
totals that moved.

Both exports are a full snapshot of the case management system, so a plan that was open in
the previous export is in the current one, open or with its cease date. One that is not
there at all (or whose person is not) disappeared without a cease record: the DfE's
figures would show a plan lost between returns, and the ceased-plans count misses it.
Exports are matched by the table ids they share (the system's own keys, stable between
exports). witan.sen2's client validation deck compares the counts with the previous
return's; the match by table id and the 10% limit are sendboard's.
"""

from __future__ import annotations

import polars as pl

from transforms.sen2 import sort_by_id, whole_number_ids
from transforms.sen2_checks import ISSUE_SCHEMA, Check, empty_issues

CHANGE_FLAGGED_PCT = 10.0

PLAN_VANISHED = Check(
    "plan-vanished", "query", "namedplan",
    "The plan was open in the previous export but is not in this one (or its person is "
    "not), and no cease record says it ended.",
    "Find the plan in the case management system: record its cease date and reason if it "
    "ended, or restore the record if it was deleted or merged by mistake.",
    ("namedplantableid", "ceasedate"), "sendboard's own (issue 18 item 4)")
COMPARE_CHECKS = (PLAN_VANISHED,)

TOTALS_SCHEMA = {"measure": pl.Utf8, "previous": pl.Int64, "current": pl.Int64,
                 "change_pct": pl.Float64, "flagged": pl.Boolean}
MEASURES = ("persons", "requests", "assessments", "plans", "active plans", "placements",
            "needs", "open plans")
_COUNTED = {"persons": "person", "requests": "requests", "assessments": "assessment",
            "plans": "namedplan", "active plans": "activeplans",
            "placements": "placementdetail", "needs": "senneed"}


def compare_exports(current: dict[str, pl.DataFrame], previous: dict[str, pl.DataFrame]
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(issues: ISSUE_SCHEMA, a `plan-vanished` row per plan open in `previous` that
    `current` lost; totals: TOTALS_SCHEMA, a row per MEASURES). Both exports are
    transforms.sen2.stage_module frames by module."""
    cur, prev = _same_id_types(current, previous)
    return _vanished(cur, prev), _totals(cur, prev)


def _same_id_types(current: dict[str, pl.DataFrame], previous: dict[str, pl.DataFrame]
                   ) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Both exports' ids of one type: whole_number_ids over the two together, so that an
    export of integers and one of text still match id for id."""
    both = whole_number_ids({**{f"c:{m}": f for m, f in current.items()},
                             **{f"p:{m}": f for m, f in previous.items()}})
    return ({m[2:]: f for m, f in both.items() if m.startswith("c:")},
            {m[2:]: f for m, f in both.items() if m.startswith("p:")})


def _owners(stage: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """namedplantableid -> persontableid and the person's pseudonym."""
    person = stage["person"]
    return (stage["namedplan"].select("namedplantableid", "assessmenttableid")
            .join(stage["assessment"].select("assessmenttableid", "requeststableid"),
                  on="assessmenttableid")
            .join(stage["requests"].select("requeststableid", "persontableid"),
                  on="requeststableid")
            .join(person.select("persontableid", pl.coalesce(
                "upn_id", "uln_id", pl.format("sen2:{}", "persontableid")).alias("person_id")),
                on="persontableid", how="left")
            .select("namedplantableid", "persontableid", "person_id"))


def _vanished(cur: dict[str, pl.DataFrame], prev: dict[str, pl.DataFrame]) -> pl.DataFrame:
    plan = prev["namedplan"]
    native = (pl.col("nativeid") if "nativeid" in plan.columns
              else pl.lit(None, pl.Utf8).alias("nativeid"))
    open_before = plan.filter(pl.col("ceasedate").is_null()).select(
        "namedplantableid", "startdate", native).join(_owners(prev), on="namedplantableid",
                                                       how="left")
    still = cur["namedplan"].select("namedplantableid", pl.lit(True).alias("_plan"))
    persons = cur["person"].select("persontableid", pl.lit(True).alias("_person")).unique()
    gone = (open_before.join(still, on="namedplantableid", how="left")
            .join(persons, on="persontableid", how="left")
            .filter(pl.col("_plan").is_null() | pl.col("_person").is_null()))
    if gone.height == 0:
        return empty_issues()

    def yes_no(column: str) -> pl.Expr:
        return pl.when(pl.col(column).is_null()).then(pl.lit("no")).otherwise(pl.lit("yes"))

    c = PLAN_VANISHED
    return sort_by_id(gone, "namedplantableid").select(
        pl.lit(c.id).alias("check_id"), pl.lit(c.severity).alias("severity"),
        pl.lit(c.module).alias("module"), pl.col("namedplantableid").cast(pl.Utf8)
        .alias("table_id"), pl.col("nativeid").cast(pl.Utf8).alias("native_id"),
        "person_id", pl.lit(",".join(c.fields)).alias("fields"),
        pl.concat_str([pl.lit("startdate=") + pl.col("startdate").cast(pl.Utf8)
                       .fill_null("<blank>"), pl.lit("ceasedate=<blank>"),
                       pl.lit("plan in this export=") + yes_no("_plan"),
                       pl.lit("person in this export=") + yes_no("_person")],
                      separator="; ").alias("values_masked"),
    ).select(list(ISSUE_SCHEMA))


def _counts(stage: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Distinct table ids per measure; open plans have no cease date."""
    out = {m: stage[module][f"{module}tableid"].n_unique() if module in stage else 0
           for m, module in _COUNTED.items()}
    plans = stage.get("namedplan")
    out["open plans"] = 0 if plans is None else plans.filter(
        pl.col("ceasedate").is_null())["namedplantableid"].n_unique()
    return out


def _totals(cur: dict[str, pl.DataFrame], prev: dict[str, pl.DataFrame]) -> pl.DataFrame:
    now, before = _counts(cur), _counts(prev)
    rows = []
    for m in MEASURES:
        p, c = before[m], now[m]
        change = None if p == 0 else round(100 * (c - p) / p, 1)
        # From nothing to something is a move of any size.
        flagged = (c != 0) if p == 0 else abs(c - p) * 100 > CHANGE_FLAGGED_PCT * p
        rows.append({"measure": m, "previous": p, "current": c, "change_pct": change,
                     "flagged": flagged})
    return pl.DataFrame(rows, schema=TOTALS_SCHEMA)
