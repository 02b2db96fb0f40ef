-- Accounting runs with their provenance, totals and per-row results (SQLite dialect).
CREATE TABLE run (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    elapsed_ms        INTEGER NOT NULL,
    actor             TEXT NOT NULL,
    set_id            TEXT NOT NULL,
    edition           INTEGER,
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
    rows_read         INTEGER NOT NULL,
    rows_accounted    INTEGER NOT NULL,
    rows_excluded     INTEGER NOT NULL,
    rows_unaccounted  INTEGER NOT NULL
);

CREATE TABLE run_total (
    run_id          INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    year            INTEGER NOT NULL,
    region_code     TEXT,
    industry_code   TEXT,
    pollutant       TEXT NOT NULL,
    unit            TEXT NOT NULL,
    generated       REAL NOT NULL,
    emitted         REAL NOT NULL,
    rows            INTEGER NOT NULL,
    flagged_rows    INTEGER NOT NULL
);
CREATE INDEX run_total_run ON run_total (run_id);

CREATE TABLE run_result (
    run_id           INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    activity_row     INTEGER NOT NULL,
    year             INTEGER NOT NULL,
    uscc             TEXT NOT NULL,
    region_code      TEXT NOT NULL,
    industry_code    TEXT NOT NULL,
    unit_id          TEXT,
    outlet_id        TEXT,
    pollutant        TEXT NOT NULL,
    generated        REAL NOT NULL,
    emitted          REAL NOT NULL,
    coefficient_row  INTEGER NOT NULL,
    flags            TEXT NOT NULL
);
CREATE INDEX run_result_run ON run_result (run_id);
