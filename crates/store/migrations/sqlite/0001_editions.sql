-- Coefficient sets, their editions and rows, and the audit log (SQLite dialect).
CREATE TABLE coefficient_set (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE edition (
    set_id          TEXT NOT NULL REFERENCES coefficient_set (id),
    edition         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    title           TEXT NOT NULL,
    effective_from  TEXT,
    provenance      TEXT NOT NULL,
    synthetic       INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    row_count       INTEGER NOT NULL,
    imported_from   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    published_at    TEXT,
    published_by    TEXT,
    revision_note   TEXT,
    retired_at      TEXT,
    retired_by      TEXT,
    retire_note     TEXT,
    PRIMARY KEY (set_id, edition)
);

CREATE TABLE coefficient_row (
    set_id                  TEXT NOT NULL,
    edition                 INTEGER NOT NULL,
    ordinal                 INTEGER NOT NULL,
    source_table            TEXT NOT NULL,
    source_row              INTEGER NOT NULL,
    industry_code           TEXT NOT NULL,
    section                 TEXT,
    product                 TEXT NOT NULL,
    raw_material            TEXT NOT NULL,
    process                 TEXT NOT NULL,
    scale                   TEXT NOT NULL,
    pollutant               TEXT NOT NULL,
    unit                    TEXT NOT NULL,
    generation_coefficient  TEXT NOT NULL,
    treatment               TEXT NOT NULL,
    removal_kind            TEXT NOT NULL CHECK (removal_kind IN ('efficiency', 'emission', 'none')),
    removal_efficiency      REAL,
    emission_coefficient    TEXT,
    note                    TEXT,
    PRIMARY KEY (set_id, edition, ordinal),
    FOREIGN KEY (set_id, edition) REFERENCES edition (set_id, edition) ON DELETE CASCADE
);

-- Published and retired editions are immutable: their rows cannot be inserted, changed or
-- deleted, whatever the application does.
CREATE TRIGGER coefficient_row_insert_immutable BEFORE INSERT ON coefficient_row
WHEN (SELECT status FROM edition WHERE set_id = NEW.set_id AND edition = NEW.edition) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TRIGGER coefficient_row_update_immutable BEFORE UPDATE ON coefficient_row
WHEN (SELECT status FROM edition WHERE set_id = OLD.set_id AND edition = OLD.edition) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TRIGGER coefficient_row_delete_immutable BEFORE DELETE ON coefficient_row
WHEN (SELECT status FROM edition WHERE set_id = OLD.set_id AND edition = OLD.edition) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

-- Content of a published edition cannot change either; only retirement fields may be set.
CREATE TRIGGER edition_content_immutable BEFORE UPDATE ON edition
WHEN OLD.status <> 'draft' AND (
    NEW.content_hash IS NOT OLD.content_hash OR NEW.row_count IS NOT OLD.row_count
    OR NEW.effective_from IS NOT OLD.effective_from OR NEW.published_at IS NOT OLD.published_at
    OR NEW.revision_note IS NOT OLD.revision_note OR NEW.status = 'draft')
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TRIGGER edition_delete_immutable BEFORE DELETE ON edition
WHEN OLD.status <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    object       TEXT NOT NULL,
    before_hash  TEXT,
    after_hash   TEXT,
    detail       TEXT NOT NULL
);

CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
