"""A BI reader for the soak test (tests/test_soak.py), run as its own process:
`python -m tests.soak_reader PUBLISHED OUT STOP PAUSE`. Over and over, PAUSE seconds apart, it
opens the published sendboard.duckdb read-only, reads its version (VERSION_QUERY) and closes
it; it touches OUT.ready after its first read. It stops once the file STOP exists and it has
read the version of the run named in it (the writer's last), then writes what it saw to OUT
as JSON: every version in the order read (ABSENT where there was no file yet) and every
error.

It imports only DuckDB, so that eight of them start quickly on two cores beside a run.
"""

from __future__ import annotations

import json
import os
import sys
import time

import duckdb

# A version: the latest run recorded in audit.runs (copied first: publish copies audit,
# then kpi, then public) and checksums of a kpi and a public table (copied after it), so
# a file holding parts of two publishes would pair one run with another run's figures.
# A checksum is the sum of the rows' hashes: the same rows give the same sum in any file,
# in any order.
VERSION_QUERY = """
SELECT
  (SELECT run_id FROM audit.runs ORDER BY started_at DESC LIMIT 1),
  (SELECT status FROM audit.runs ORDER BY started_at DESC LIMIT 1),
  (SELECT count(*) FROM audit.runs),
  (SELECT count(*) FROM audit.files),
  (SELECT sum(hash(t))::VARCHAR FROM kpi.sen_prevalence t),
  (SELECT count(*) FROM kpi.sen_prevalence),
  (SELECT sum(hash(t))::VARCHAR FROM kpi.ehcp_caseload t),
  (SELECT sum(hash(t))::VARCHAR FROM public.sen_prevalence t)
"""

ABSENT = "absent"


def version(con: duckdb.DuckDBPyConnection) -> list:
    """The version of the database `con` is open on, as a JSON-able list."""
    return list(con.execute(VERSION_QUERY).fetchone())


def _stopped(stop: str, seen: list) -> bool:
    """Whether the last version read is that of the run named in `stop` (when it exists)."""
    if not os.path.exists(stop):
        return False
    with open(stop) as handle:
        last = handle.read().strip()
    return bool(seen) and seen[-1] != ABSENT and seen[-1][0] == last


def main(published: str, out: str, stop: str, pause: float) -> None:
    seen: list = []
    errors: list[str] = []
    # Guards: a reader that never reads the last version still reports, for the test to say so.
    end = time.monotonic() + 600
    told: float | None = None
    while time.monotonic() < end and not _stopped(stop, seen):
        if told is None and os.path.exists(stop):
            told = time.monotonic()
        elif told is not None and time.monotonic() - told > 30:
            break
        # Looked for first: DuckDB would say only that it cannot open a missing file
        # read-only, and any other failure to open must count as an error.
        if not os.path.exists(published):
            seen.append(ABSENT)
        else:
            try:
                con = duckdb.connect(published, read_only=True)
                try:
                    seen.append(version(con))
                finally:
                    con.close()
            except Exception as e:  # any failure at all is what the soak counts
                errors.append(repr(e))
        if len(seen) + len(errors) == 1:
            open(out + ".ready", "w").close()
        time.sleep(pause)
    with open(out, "w") as handle:
        json.dump({"seen": seen, "errors": errors}, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
