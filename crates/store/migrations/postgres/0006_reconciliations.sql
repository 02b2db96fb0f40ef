-- Stored reconciliations of permit-reported emissions with their provenance and every view's
-- rendered cells (PostgreSQL dialect).
CREATE TABLE reconciliation (
    id                    BIGSERIAL PRIMARY KEY,
    started_at            TEXT NOT NULL,
    elapsed_ms            BIGINT NOT NULL,
    actor                 TEXT NOT NULL,
    set_id                TEXT NOT NULL,
    edition               BIGINT,
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
    rows_accounted        BIGINT NOT NULL,
    report_lines          BIGINT NOT NULL,
    comparisons           BIGINT NOT NULL,
    with_errors           BIGINT NOT NULL,
    with_warnings         BIGINT NOT NULL,
    reconciled            BIGINT NOT NULL,
    gross_errors          BIGINT NOT NULL,
    not_reconcilable      BIGINT NOT NULL
);

CREATE TABLE reconciliation_view (
    reconciliation_id  BIGINT NOT NULL REFERENCES reconciliation (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    position           BIGINT NOT NULL,
    title              TEXT NOT NULL,
    header             TEXT NOT NULL,
    rows               BIGINT NOT NULL,
    PRIMARY KEY (reconciliation_id, name)
);

CREATE TABLE reconciliation_row (
    reconciliation_id  BIGINT NOT NULL REFERENCES reconciliation (id) ON DELETE CASCADE,
    view_name          TEXT NOT NULL,
    row_number         BIGINT NOT NULL,
    cells              TEXT NOT NULL,
    PRIMARY KEY (reconciliation_id, view_name, row_number),
    FOREIGN KEY (reconciliation_id, view_name)
        REFERENCES reconciliation_view (reconciliation_id, name) ON DELETE CASCADE
);
