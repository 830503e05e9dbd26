-- The working warehouse (warehouse.duckdb). Staging tables hold validated, pseudonymised rows
-- of each loaded file, keyed by the file's SHA-256 and its period; core and kpi tables are
-- rebuilt from staging on every run that loads something new.

CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS stage;
CREATE SCHEMA IF NOT EXISTS raw;
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

CREATE TABLE IF NOT EXISTS audit.files (
    sha256 VARCHAR PRIMARY KEY,
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
    loaded_at TIMESTAMPTZ
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

CREATE TABLE IF NOT EXISTS stage.census (
    sha256 VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,
    census_date DATE NOT NULL,
    la_number VARCHAR NOT NULL,
    laestab VARCHAR NOT NULL,
    urn INTEGER NOT NULL,
    pupil_id VARCHAR NOT NULL,        -- keyed pseudonym of the UPN
    birth_year SMALLINT,
    birth_month TINYINT,
    sex VARCHAR,
    nc_year VARCHAR,
    enrol_status VARCHAR,
    sen_provision VARCHAR,            -- E, K or N (legacy S as E; A and P as K)
    sen_provision_code VARCHAR,       -- as the file had it
    primary_need VARCHAR,             -- legacy BESD as SEMH
    secondary_need VARCHAR,
    fsm_eligible BOOLEAN
);

CREATE TABLE IF NOT EXISTS stage.establishments (
    sha256 VARCHAR NOT NULL,
    urn INTEGER NOT NULL,
    la_code VARCHAR,
    la_name VARCHAR,
    establishment_number VARCHAR,
    establishment_name VARCHAR,
    type_of_establishment VARCHAR,
    establishment_type_group VARCHAR,
    establishment_status VARCHAR,
    phase_of_education VARCHAR,
    statutory_low_age INTEGER,
    statutory_high_age INTEGER,
    ukprn VARCHAR,
    resourced_provision_on_roll INTEGER,
    resourced_provision_capacity INTEGER,
    sen_unit_on_roll INTEGER,
    sen_unit_capacity INTEGER,
    type_of_resourced_provision VARCHAR,
    open_date DATE,
    close_date DATE
);
