"""Synthetic sample extracts for a mid-sized county LA, in exactly the contract formats.

Nothing here is a real person's data: children, names, postcodes and UPNs are drawn at random
(UPNs with valid check letters); the yearly totals are calibrated to public statistics.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sendboard.sample.calendar import census_day
from warehouse.sources import FOLDERS

log = logging.getLogger(__name__)

# The landing folder's sources the sample writes: all but the DfE's releases, which it copies.
SOURCES = tuple(f for f in FOLDERS if f != "published")


def write_sample(out: Path, seed: int = 42, cohort_size: int | None = None,
                 last_year: int = 2026,
                 published_from: Path | None = None,
                 census_format: str = "flat") -> dict[str, list[Path]]:
    """Write a full landing folder (one subfolder per source) under `out`.

    `cohort_size` children per birth year (default: the county, ~70,000 pupils a census);
    tests pass a small number for a small LA with the same shape. `published_from`: a folder
    of DfE statistics CSVs to copy into published/ (the sample does not invent those).
    `census_format`: "flat" (one file a census) or "blade" (the COLLECT Blade export, one
    CSV a table a census: same pupils and codes, docs/census-blade.md).
    """
    if census_format not in ("flat", "blade"):
        raise ValueError(f"census_format {census_format!r}: expected 'flat' or 'blade'")
    from sendboard.sample.census import census_terms, write_census
    from sendboard.sample.census_blade import write_census_blade
    from sendboard.sample.finance import write_finance
    from sendboard.sample.gias import write_gias
    from sendboard.sample.places import write_places
    from sendboard.sample.population import write_population
    from sendboard.sample.recovery_plan import write_recovery_plan
    from sendboard.sample.sen2 import write_sen2
    from sendboard.sample.world import COUNTY_COHORT, build_world

    cohort = cohort_size or COUNTY_COHORT
    export = census_day(last_year, "spring") + dt.timedelta(days=70)
    world = build_world(seed=seed, cohort_size=cohort, export_date=export)
    dirs = {s: out / s for s in SOURCES}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {s: [] for s in SOURCES}
    terms = census_terms(last_year=last_year)
    for k, (year, term) in enumerate(terms, 1):
        if census_format == "blade":
            written["census"] += write_census_blade(world, dirs["census"], year, term)
        else:
            written["census"].append(write_census(world, dirs["census"], year, term))
        log.info("sample: census %s %s written (%d of %d)", term, year, k, len(terms))
    written["sen2"] = write_sen2(world, dirs["sen2"])
    gias = dirs["establishments"] / f"edubasealldata{export:%Y%m%d}.csv"
    write_gias(world.establishments.frame, gias)
    written["establishments"] = [gias]
    est = world.establishments
    urns = est.frame["urn"].to_numpy()
    write_finance(dirs["finance"], seed, provider_urns={
        "maintained_special": [int(urns[i]) for k in ("la_special", "academy_special")
                               for i in est.special_by_kind[k]],
        "inmss": [int(urns[i]) for k in ("iss", "nmss") for i in est.special_by_kind[k]]})
    write_recovery_plan(dirs["recovery_plan"], seed)
    write_places(world.establishments.frame, dirs["places"], seed)
    write_population(dirs["population"], births_per_year=cohort, seed=seed)
    for s in ("finance", "recovery_plan", "places", "population"):
        written[s] = sorted(dirs[s].iterdir())
    if published_from is not None:
        import shutil

        target = out / "published"
        target.mkdir(exist_ok=True)
        written["published"] = [Path(shutil.copy2(p, target / p.name))
                                for p in sorted(published_from.glob("*.csv"))]
    return written
