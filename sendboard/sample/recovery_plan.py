"""Synthetic recovery plan register: the seed paper's projects, planned vs actual savings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from sendboard.sample.calendar import CURRENT_FINANCIAL_YEAR, FINANCIAL_YEARS

RECOVERY_PLAN_COLUMNS: tuple[str, ...] = (
    "project_id", "project_name", "theme", "financial_year", "planned_saving_gbp",
    "actual_saving_gbp", "metric_name", "metric_baseline", "metric_target",
)

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
            if fy < CURRENT_FINANCIAL_YEAR:
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
