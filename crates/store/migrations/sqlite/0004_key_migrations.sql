-- Key changes an edition declares against earlier ones (SQLite dialect).
CREATE TABLE key_migration (
    set_id              TEXT NOT NULL,
    edition             INTEGER NOT NULL,
    ordinal             INTEGER NOT NULL,
    from_industry_code  TEXT,
    from_product        TEXT,
    from_raw_material   TEXT,
    from_process        TEXT,
    from_scale          TEXT,
    to_industry_code    TEXT,
    to_product          TEXT,
    to_raw_material     TEXT,
    to_process          TEXT,
    to_scale            TEXT,
    note                TEXT NOT NULL,
    PRIMARY KEY (set_id, edition, ordinal),
    FOREIGN KEY (set_id, edition) REFERENCES edition (set_id, edition) ON DELETE CASCADE
);

CREATE TRIGGER key_migration_insert_immutable BEFORE INSERT ON key_migration
WHEN (SELECT status FROM edition WHERE set_id = NEW.set_id AND edition = NEW.edition) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TRIGGER key_migration_update_immutable BEFORE UPDATE ON key_migration
WHEN (SELECT status FROM edition WHERE set_id = OLD.set_id AND edition = OLD.edition) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;

CREATE TRIGGER key_migration_delete_immutable BEFORE DELETE ON key_migration
WHEN (SELECT status FROM edition WHERE set_id = OLD.set_id AND edition = OLD.edition) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'published editions are immutable'); END;
