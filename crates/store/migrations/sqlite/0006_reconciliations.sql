-- Stored reconciliations of permit-reported emissions with their provenance and every view's
-- rendered cells (SQLite dialect).
CREATE TABLE reconciliation (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at            TEXT NOT NULL,
    elapsed_ms            INTEGER NOT NULL,
    actor                 TEXT NOT NULL,
    set_id                TEXT NOT NULL,
    edition               INTEGER,
    content_hash          TEXT NOT NULL,
    selector              TEXT NOT NULL,
    rule                  TEXT,
    accounting_date       TEXT,
    coefficients_path     TEXT,
    registry_path         TEXT NOT NULL,
    registry_hash         TEXT NOT NULL,
    activity_path         TEXT NOT NULL,
    activity_hash         TEXT NOT NULL,
    reports_path          TEXT NOT NULL,
    reports_hash          TEXT NOT NULL,
    options               TEXT NOT NULL,
    summary               TEXT NOT NULL,
    rows_accounted        INTEGER NOT NULL,
    report_lines          INTEGER NOT NULL,
    comparisons           INTEGER NOT NULL,
    with_errors           INTEGER NOT NULL,
    with_warnings         INTEGER NOT NULL,
    reconciled            INTEGER NOT NULL,
    gross_errors          INTEGER NOT NULL,
    not_reconcilable      INTEGER NOT NULL
);

CREATE TABLE reconciliation_view (
    reconciliation_id  INTEGER NOT NULL REFERENCES reconciliation (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    position           INTEGER NOT NULL,
    title              TEXT NOT NULL,
    header             TEXT NOT NULL,
    rows               INTEGER NOT NULL,
    PRIMARY KEY (reconciliation_id, name)
);

CREATE TABLE reconciliation_row (
    reconciliation_id  INTEGER NOT NULL REFERENCES reconciliation (id) ON DELETE CASCADE,
    view_name          TEXT NOT NULL,
    row_number         INTEGER NOT NULL,
    cells              TEXT NOT NULL,
    PRIMARY KEY (reconciliation_id, view_name, row_number),
    FOREIGN KEY (reconciliation_id, view_name)
        REFERENCES reconciliation_view (reconciliation_id, name) ON DELETE CASCADE
);
