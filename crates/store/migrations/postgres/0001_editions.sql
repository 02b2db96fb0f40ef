-- Coefficient sets, their editions and rows, and the audit log (PostgreSQL dialect).
CREATE TABLE coefficient_set (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE edition (
    set_id          TEXT NOT NULL REFERENCES coefficient_set (id),
    edition         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    title           TEXT NOT NULL,
    effective_from  TEXT,
    provenance      TEXT NOT NULL,
    synthetic       BIGINT NOT NULL,
    content_hash    TEXT NOT NULL,
    row_count       BIGINT NOT NULL,
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
    edition                 BIGINT NOT NULL,
    ordinal                 BIGINT NOT NULL,
    source_table            TEXT NOT NULL,
    source_row              BIGINT NOT NULL,
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
    removal_efficiency      DOUBLE PRECISION,
    emission_coefficient    TEXT,
    note                    TEXT,
    PRIMARY KEY (set_id, edition, ordinal),
    FOREIGN KEY (set_id, edition) REFERENCES edition (set_id, edition) ON DELETE CASCADE
);

-- Published and retired editions are immutable, whatever the application does.
CREATE FUNCTION npsc_row_immutable() RETURNS trigger AS $$
DECLARE
    s TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT status INTO s FROM edition WHERE set_id = NEW.set_id AND edition = NEW.edition;
    ELSE
        SELECT status INTO s FROM edition WHERE set_id = OLD.set_id AND edition = OLD.edition;
    END IF;
    IF s IS DISTINCT FROM 'draft' AND s IS NOT NULL THEN
        RAISE EXCEPTION 'published editions are immutable';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER coefficient_row_immutable BEFORE INSERT OR UPDATE OR DELETE ON coefficient_row
FOR EACH ROW EXECUTE FUNCTION npsc_row_immutable();

CREATE FUNCTION npsc_edition_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN RAISE EXCEPTION 'published editions are immutable'; END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
        NEW.content_hash IS DISTINCT FROM OLD.content_hash OR NEW.row_count IS DISTINCT FROM OLD.row_count
        OR NEW.effective_from IS DISTINCT FROM OLD.effective_from
        OR NEW.published_at IS DISTINCT FROM OLD.published_at
        OR NEW.revision_note IS DISTINCT FROM OLD.revision_note OR NEW.status = 'draft') THEN
        RAISE EXCEPTION 'published editions are immutable';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER edition_immutable BEFORE UPDATE OR DELETE ON edition
FOR EACH ROW EXECUTE FUNCTION npsc_edition_immutable();

CREATE TABLE audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    object       TEXT NOT NULL,
    before_hash  TEXT,
    after_hash   TEXT,
    detail       TEXT NOT NULL
);

CREATE FUNCTION npsc_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION npsc_audit_append_only();
