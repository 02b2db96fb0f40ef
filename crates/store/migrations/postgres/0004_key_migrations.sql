-- Key changes an edition declares against earlier ones (PostgreSQL dialect).
CREATE TABLE key_migration (
    set_id              TEXT NOT NULL,
    edition             BIGINT NOT NULL,
    ordinal             BIGINT NOT NULL,
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

-- The same guard as coefficient rows: published editions are immutable.
CREATE TRIGGER key_migration_immutable BEFORE INSERT OR UPDATE OR DELETE ON key_migration
FOR EACH ROW EXECUTE FUNCTION npsc_row_immutable();
