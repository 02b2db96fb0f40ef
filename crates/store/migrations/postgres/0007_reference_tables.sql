-- Versioned reference tables other than coefficients (tax equivalents, tax rates, item counts,
-- key-unit lists): each edition holds the table's canonical UTF-8 CSV and its SHA-256
-- (PostgreSQL dialect). Published and retired editions are immutable, as coefficient editions are.
CREATE TABLE reference_edition (
    name           TEXT NOT NULL,
    edition        BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    content_hash   TEXT NOT NULL,
    content        TEXT NOT NULL,
    row_count      BIGINT NOT NULL,
    imported_from  TEXT NOT NULL,
    source_sha256  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    published_at   TEXT,
    published_by   TEXT,
    revision_note  TEXT,
    retired_at     TEXT,
    retired_by     TEXT,
    retire_note    TEXT,
    PRIMARY KEY (name, edition)
);

CREATE FUNCTION npsc_reference_edition_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN RAISE EXCEPTION 'published editions are immutable'; END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
        NEW.content IS DISTINCT FROM OLD.content OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
        OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.row_count IS DISTINCT FROM OLD.row_count
        OR NEW.published_at IS DISTINCT FROM OLD.published_at
        OR NEW.revision_note IS DISTINCT FROM OLD.revision_note OR NEW.status = 'draft') THEN
        RAISE EXCEPTION 'published editions are immutable';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reference_edition_immutable BEFORE UPDATE OR DELETE ON reference_edition
FOR EACH ROW EXECUTE FUNCTION npsc_reference_edition_immutable();
