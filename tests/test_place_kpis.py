"""transforms/place_kpis.py: commissioned places against the EHC plans attending."""

from __future__ import annotations

import polars as pl

from tests.test_kpis import AS_OF, EXPORT, PLACEMENTS, PLANS
from transforms.place_kpis import place_sufficiency


def test_place_sufficiency_counts_plans_attending_in_january():
    places = pl.DataFrame({"financial_year": ["2023-24", "2024-25", "2023-24"],
                           "urn": [100002, 100002, 100003],
                           "provision": ["special", "special", "resourced_provision"],
                           "funded_places": [4, 4, 2]})
    out = place_sufficiency(places, PLANS, PLACEMENTS, EXPORT, "test", AS_OF)
    rows = out.select("financial_year", "urn", "provision", "ehcp_pupils",
                      "occupancy_pct").rows()
    # Jan 2024 and Jan 2025: plan 1 at special 100002 (1 of 4 = 25%); plan 3 at 100003 is not
    # flagged as resourced provision, so it does not fill an RP place.
    assert rows == [("2023-24", 100003, "resourced_provision", 0, 0.0),
                    ("2023-24", 100002, "special", 1, 25.0),
                    ("2024-25", 100002, "special", 1, 25.0)]


