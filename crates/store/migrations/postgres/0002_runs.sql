-- Accounting runs with their provenance, totals and per-row results (PostgreSQL dialect).
CREATE TABLE run (
    id                BIGSERIAL PRIMARY KEY,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    elapsed_ms        BIGINT NOT NULL,
    actor             TEXT NOT NULL,
    set_id            TEXT NOT NULL,
    edition           BIGINT,
    content_hash      TEXT NOT NULL,
    selector          TEXT NOT NULL,
    rule              TEXT,
    accounting_date   TEXT,
    coefficients_path TEXT,
    registry_path     TEXT NOT NULL,
    registry_hash     TEXT NOT NULL,
    activity_path     TEXT NOT NULL,
    activity_hash     TEXT NOT NULL,
    options           TEXT NOT NULL,
    rows_read         BIGINT NOT NULL,
    rows_accounted    BIGINT NOT NULL,
    rows_excluded     BIGINT NOT NULL,
    rows_unaccounted  BIGINT NOT NULL
);

CREATE TABLE run_total (
    run_id          BIGINT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    year            BIGINT NOT NULL,
    region_code     TEXT,
    industry_code   TEXT,
    pollutant       TEXT NOT NULL,
    unit            TEXT NOT NULL,
    generated       DOUBLE PRECISION NOT NULL,
    emitted         DOUBLE PRECISION NOT NULL,
    rows            BIGINT NOT NULL,
    flagged_rows    BIGINT NOT NULL
);
CREATE INDEX run_total_run ON run_total (run_id);

CREATE TABLE run_result (
    run_id           BIGINT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    activity_row     BIGINT NOT NULL,
    year             BIGINT NOT NULL,
    uscc             TEXT NOT NULL,
    region_code      TEXT NOT NULL,
    industry_code    TEXT NOT NULL,
    unit_id          TEXT,
    outlet_id        TEXT,
    pollutant        TEXT NOT NULL,
    generated        DOUBLE PRECISION NOT NULL,
    emitted          DOUBLE PRECISION NOT NULL,
    coefficient_row  BIGINT NOT NULL,
    flags            TEXT NOT NULL
);
CREATE INDEX run_result_run ON run_result (run_id);
