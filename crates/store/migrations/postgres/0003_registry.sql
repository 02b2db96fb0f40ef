-- The enterprise registry: the current record of every enterprise, its status history and the
-- changes of its other fields (PostgreSQL dialect). Enterprises are never deleted (they are closed
-- or deregistered), and both histories are append-only, whatever the application does.
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
    revision       BIGINT NOT NULL   -- +1 per change; updates are conditional on it
);

CREATE TABLE enterprise_status (
    id           BIGSERIAL PRIMARY KEY,
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
    id           BIGSERIAL PRIMARY KEY,
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

CREATE FUNCTION npsc_enterprise_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'enterprises are never deleted: close or deregister them';
    END IF;
    IF NEW.uscc IS DISTINCT FROM OLD.uscc THEN
        RAISE EXCEPTION 'an enterprise''s USCC never changes';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER enterprise_guard BEFORE UPDATE OR DELETE ON enterprise
FOR EACH ROW EXECUTE FUNCTION npsc_enterprise_guard();

CREATE FUNCTION npsc_registry_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the % history is append-only',
        CASE TG_TABLE_NAME WHEN 'enterprise_status' THEN 'status' ELSE 'change' END;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER enterprise_status_append_only BEFORE UPDATE OR DELETE ON enterprise_status
FOR EACH ROW EXECUTE FUNCTION npsc_registry_history_append_only();

CREATE TRIGGER enterprise_change_append_only BEFORE UPDATE OR DELETE ON enterprise_change
FOR EACH ROW EXECUTE FUNCTION npsc_registry_history_append_only();
