-- Versioned reference tables other than coefficients (tax equivalents, tax rates, item counts,
-- key-unit lists): each edition holds the table's canonical UTF-8 CSV and its SHA-256
-- (SQLite dialect). Published and retired editions are immutable, as coefficient editions are.
CREATE TABLE reference_edition (
    name           TEXT NOT NULL,
    edition        INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    content_hash   TEXT NOT NULL,
    content        TEXT NOT NULL,
    row_count      INTEGER NOT NULL,
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

CREATE TRIGGER reference_edition_content_immutable BEFORE UPDATE ON reference_edition
WHEN OLD.status <> 'draft' AND (
    NEW.content IS NOT OLD.content OR NEW.content_hash IS NOT OLD.content_hash
    OR NEW.kind IS NOT OLD.kind OR NEW.row_count IS NOT OLD.row_count
    OR NEW.published_at IS NOT OLD.published_at OR NEW.revision_note IS NOT OLD.revision_note
    OR NEW.status = 'draft')
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TRIGGER reference_edition_delete_immutable BEFORE DELETE ON reference_edition
WHEN OLD.status <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;
