-- A stored run's results and totals are exported in pages read by key (the page after the last
-- key read), in the order of these indexes, so that a run of millions of results is never held
-- whole. Each replaces the index on run_id alone, which its first column still serves
-- (PostgreSQL dialect; NULL, national and all industries, first as on SQLite).
DROP INDEX run_result_run;
CREATE INDEX run_result_order ON run_result (run_id, activity_row, pollutant);
DROP INDEX run_total_run;
CREATE INDEX run_total_order ON run_total
    (run_id, year, region_code NULLS FIRST, industry_code NULLS FIRST, pollutant);
