-- A stored run records how many per-row results and totals it wrote, in the transaction that
-- writes them, so `npsc db check` can tell a complete run from a partial one (PostgreSQL
-- dialect). NULL for runs stored before this migration.
ALTER TABLE run ADD COLUMN result_count BIGINT;
ALTER TABLE run ADD COLUMN total_count BIGINT;
