-- The enterprise registry: the current record of every enterprise, its status history and the
-- changes of its other fields (SQLite dialect). Enterprises are never deleted (they are closed or
-- deregistered), and both histories are append-only, whatever the application does.
CREATE TABLE enterprise (
    uscc           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    region_code    TEXT NOT NULL,
    industry_code  TEXT NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('operating', 'suspended', 'closed', 'deregistered')),
    status_date    TEXT,
    permit_no      TEXT,
    first_seen     TEXT NOT NULL,          -- UTC time of the first import listing it
    updated_at     TEXT NOT NULL,
    revision       INTEGER NOT NULL   -- +1 per change; updates are conditional on it
);

CREATE TABLE enterprise_status (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uscc         TEXT NOT NULL REFERENCES enterprise (uscc),
    status       TEXT NOT NULL
                 CHECK (status IN ('operating', 'suspended', 'closed', 'deregistered')),
    status_date  TEXT,
    reason       TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    actor        TEXT NOT NULL
);

CREATE INDEX enterprise_status_by_uscc ON enterprise_status (uscc, id);

CREATE TABLE enterprise_change (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uscc         TEXT NOT NULL REFERENCES enterprise (uscc),
    field        TEXT NOT NULL
                 CHECK (field IN ('name', 'region_code', 'industry_code', 'permit_no')),
    old_value    TEXT,
    new_value    TEXT,
    reason       TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    actor        TEXT NOT NULL
);

CREATE INDEX enterprise_change_by_uscc ON enterprise_change (uscc, id);

CREATE TRIGGER enterprise_never_deleted BEFORE DELETE ON enterprise
BEGIN SELECT RAISE(ABORT, 'enterprises are never deleted: close or deregister them'); END;

CREATE TRIGGER enterprise_uscc_fixed BEFORE UPDATE ON enterprise
WHEN NEW.uscc IS NOT OLD.uscc
BEGIN SELECT RAISE(ABORT, 'an enterprise''s USCC never changes'); END;

CREATE TRIGGER enterprise_status_append_only_update BEFORE UPDATE ON enterprise_status
BEGIN SELECT RAISE(ABORT, 'the status history is append-only'); END;

CREATE TRIGGER enterprise_status_append_only_delete BEFORE DELETE ON enterprise_status
BEGIN SELECT RAISE(ABORT, 'the status history is append-only'); END;

CREATE TRIGGER enterprise_change_append_only_update BEFORE UPDATE ON enterprise_change
BEGIN SELECT RAISE(ABORT, 'the change history is append-only'); END;

CREATE TRIGGER enterprise_change_append_only_delete BEFORE DELETE ON enterprise_change
BEGIN SELECT RAISE(ABORT, 'the change history is append-only'); END;
