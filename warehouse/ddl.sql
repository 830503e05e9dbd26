-- The working warehouse (warehouse.duckdb). Staging tables hold validated, pseudonymised rows
-- of each loaded file, keyed by the file's SHA-256 and its period; core and kpi tables are
-- rebuilt from staging on every run that loads something new.

CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS stage;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS kpi;

CREATE TABLE IF NOT EXISTS audit.runs (
    run_id VARCHAR PRIMARY KEY,
    flow VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,          -- running, published, no_new_files, failed
    error VARCHAR,
    files_new INTEGER,
    as_of DATE
);

-- A file is its bytes (sha256) under a name: a SEN2 module can be byte-identical in two
-- exports whose dates only its name carries.
CREATE TABLE IF NOT EXISTS audit.files (
    sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    original_name VARCHAR NOT NULL,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    first_run_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- loaded, rejected, superseded
    message VARCHAR,                  -- why a file was rejected, or what it replaced
    period VARCHAR,                   -- census date, SEN2 export date, ...
    encoding VARCHAR,
    unknown_columns VARCHAR,
    archived_as VARCHAR,
    loaded_at TIMESTAMPTZ,
    table_name VARCHAR,               -- the staging table its rows went to
    PRIMARY KEY (sha256, original_name)
);

-- Each period a loaded file holds (a census date, a SEN2 export date, a financial year, an
-- area-year): what a backfill selects files by.
CREATE TABLE IF NOT EXISTS audit.file_periods (
    sha256 VARCHAR NOT NULL,
    original_name VARCHAR NOT NULL,
    period VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.quarantine (
    run_id VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    row_number BIGINT,                -- line in the file; the header is line 1
    column_name VARCHAR,
    rule VARCHAR,
    value_masked VARCHAR              -- never a raw identifier: personal values are withheld
);

-- SEN2 return readiness (warehouse/sen2_readiness.py, docs/sen2-readiness.md). The records
-- (sen2_rejected, sen2_issues) name the case management system's own ids and the child's
-- pseudonym: they stay in this warehouse and are never published; the counts are.
CREATE TABLE IF NOT EXISTS audit.sen2_rejected (  -- quarantined rows of an export, with ids
    export_date DATE NOT NULL,
    module VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    row_number BIGINT,
    table_id VARCHAR,                 -- the row's own <module>tableid
    native_id VARCHAR,                -- its NativeId
    column_name VARCHAR,
    rule VARCHAR,
    value_masked VARCHAR
);
CREATE TABLE IF NOT EXISTS audit.sen2_issues (   -- the latest check of each export
    run_id VARCHAR NOT NULL,
    export_date DATE NOT NULL,
    check_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    module VARCHAR NOT NULL,
    table_id VARCHAR,
    native_id VARCHAR,
    person_id VARCHAR,
    fields VARCHAR,
    values_masked VARCHAR
);
CREATE TABLE IF NOT EXISTS audit.sen2_issue_counts (  -- every check's count, every time
    run_id VARCHAR NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    export_date DATE NOT NULL,
    check_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    issues BIGINT NOT NULL
);

-- Archived files removed by `sendboard archive purge` (its retention, or --older-than): the
-- rows they loaded and their audit rows stay; a backfill names them as no longer archived.
CREATE TABLE IF NOT EXISTS audit.archive_purges (
    sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    original_name VARCHAR,            -- NULL for a file archived but never recorded (waiting)
    archived_as VARCHAR NOT NULL,
    first_loaded_at TIMESTAMPTZ,      -- the first run's start (its archive time if never loaded)
    purged_at TIMESTAMPTZ NOT NULL,
    reason VARCHAR NOT NULL
);

-- Staging tables (stage.*) are created from the typed frames of warehouse/sources.py on the
-- first load; each row keeps the file's sha256 and its row_number, so any staged row can be
-- traced back to the archived file and the row a spreadsheet shows for it.
-- stage.census_attendance (a row a pupil with possible sessions: the term before the census's
-- sessions possible, authorised and unauthorised absence) and stage.census_exclusions (a row a
-- suspension or permanent exclusion) come from a Blade census's attendance tables, keyed like
-- stage.census (census_date, laestab, pupil_id) and replaced with it per (census date, school):
-- warehouse/census_export.py. An attendance row's sha256 is its sessions details file's, but
-- its row_number is its pupil's pupilonroll row, in the file pupilonroll_sha256 (NULL for
-- rows staged before sendboard kept it); an exclusion's sha256 and row_number are its own.

-- The pseudonymisation key the warehouse's pseudonyms were made with, as its fingerprint:
-- HMAC-SHA256 of a fixed label under the key (warehouse/pseudonym_key.py), which tells two
-- keys apart and gives nothing of either. The key in use has no retired_at. Kept out of
-- the published copy (warehouse/publish.py).
CREATE TABLE IF NOT EXISTS audit.key_fingerprint (
    fingerprint VARCHAR NOT NULL,
    first_used_at TIMESTAMPTZ NOT NULL,
    first_run_id VARCHAR NOT NULL,
    retired_at TIMESTAMPTZ            -- when `sendboard rotate-key` replaced it
);

-- Each `sendboard rotate-key`: the warehouse re-pseudonymised from the archive.
CREATE TABLE IF NOT EXISTS audit.key_rotations (
    run_id VARCHAR NOT NULL,
    rotated_at TIMESTAMPTZ NOT NULL,
    old_fingerprint VARCHAR NOT NULL,
    new_fingerprint VARCHAR NOT NULL,
    files_replayed INTEGER NOT NULL,
    rows_loaded BIGINT NOT NULL
);
