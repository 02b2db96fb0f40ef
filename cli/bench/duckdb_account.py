#!/usr/bin/env python3
"""Runs cli/bench/national.sql in DuckDB: the peer of `npsc account` in the national benchmark.

    python3 duckdb_account.py DATA REFERENCE OUT [--results]
    python3 duckdb_account.py --compare NPSC_TOTALS DUCKDB_TOTALS
    python3 duckdb_account.py --compare-results NPSC_RESULTS DUCKDB_RESULTS

DATA is a folder written by `npsc synth`, REFERENCE is datasets/reference, OUT receives
duckdb-totals.csv (and duckdb-results.csv with --results). Prints one line with the DuckDB
version, the threads used and the query time (without interpreter start-up and import).

--compare matches npsc's totals CSV (`npsc account --region-level county --industry-level
division --format csv`) with DuckDB's line by line (year, county, division, pollutant) and exits
with status 1 unless both have the same lines, the same `rows` everywhere, and generated and
emitted within a relative tolerance of 1e-9.

--compare-results matches the per-row results (`npsc account --results`) with DuckDB's by year,
enterprise, production unit and pollutant and exits with status 1 unless every line is in both,
with the same treatment row and bit-identical generated and emitted quantities.
"""

import os
import re
import sys
import time

import duckdb


def sections(path):
    text = open(path, encoding="utf-8").read()
    parts = re.split(r"^-- @section (\w+)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


TOLERANCE = 1e-9

COMPARE = """
WITH n AS (
    SELECT year, region_code, regexp_replace(industry_code, '^[A-Z]', '') AS division,
           pollutant_code, generated, emitted, rows
    FROM read_csv('{npsc}', header = true,
                  types = {{'region_code': 'VARCHAR', 'industry_code': 'VARCHAR',
                           'generated': 'DOUBLE', 'emitted': 'DOUBLE', 'rows': 'BIGINT'}})
), d AS (
    SELECT * FROM read_csv('{duck}', header = true,
                           types = {{'region_code': 'VARCHAR', 'division': 'VARCHAR',
                                    'generated': 'DOUBLE', 'emitted': 'DOUBLE', 'rows': 'BIGINT'}})
), j AS (
    SELECT n.year IS NOT NULL AS in_npsc, d.year IS NOT NULL AS in_duckdb,
           coalesce(n.year, d.year) AS year, coalesce(n.region_code, d.region_code) AS region_code,
           coalesce(n.division, d.division) AS division,
           coalesce(n.pollutant_code, d.pollutant_code) AS pollutant_code,
           n.rows AS npsc_rows, d.rows AS duckdb_rows,
           n.generated AS npsc_generated, d.generated AS duckdb_generated,
           n.emitted AS npsc_emitted, d.emitted AS duckdb_emitted,
           abs(n.generated - d.generated) / nullif(greatest(abs(n.generated), abs(d.generated)), 0) AS rel_generated,
           abs(n.emitted - d.emitted) / nullif(greatest(abs(n.emitted), abs(d.emitted)), 0) AS rel_emitted
    FROM n FULL OUTER JOIN d
      ON n.year = d.year AND n.region_code = d.region_code AND n.division = d.division
     AND n.pollutant_code = d.pollutant_code
)
"""


def compare(npsc, duck):
    con = duckdb.connect()
    base = COMPARE.format(npsc=npsc, duck=duck)
    bad = f"""NOT in_npsc OR NOT in_duckdb OR npsc_rows <> duckdb_rows
              OR coalesce(rel_generated, 0) > {TOLERANCE} OR coalesce(rel_emitted, 0) > {TOLERANCE}"""
    (lines, only_npsc, only_duckdb, rows_differ, differ, identical, max_g, max_e, sum_n, sum_d,
     results) = con.execute(base + f"""
        SELECT count(*), count(*) FILTER (WHERE NOT in_duckdb), count(*) FILTER (WHERE NOT in_npsc),
               count(*) FILTER (WHERE npsc_rows <> duckdb_rows),
               count(*) FILTER (WHERE {bad}),
               count(*) FILTER (WHERE npsc_generated = duckdb_generated AND npsc_emitted = duckdb_emitted),
               coalesce(max(rel_generated), 0), coalesce(max(rel_emitted), 0),
               fsum(npsc_emitted), fsum(duckdb_emitted), sum(npsc_rows)
        FROM j""").fetchone()
    print(f"compared {lines} total lines ({results} results): {identical} bit-identical, "
          f"largest relative difference generated {max_g:.3g}, emitted {max_e:.3g}; "
          f"tolerance {TOLERANCE:g}")
    if differ:
        print(f"DISAGREEMENT: {differ} lines differ ({only_npsc} only in npsc, {only_duckdb} only in DuckDB, "
              f"{rows_differ} with different row counts); the first ones:")
        cursor = con.execute(base + f"SELECT * FROM j WHERE {bad} ORDER BY ALL LIMIT 10")
        print("  ", tuple(d[0] for d in cursor.description))
        for line in cursor.fetchall():
            print("  ", line)
        sys.exit(1)
    print(f"AGREE: every line within {TOLERANCE:g} (Σ emitted npsc {sum_n!r}, DuckDB {sum_d!r})")


def compare_results(npsc, duck):
    con = duckdb.connect()
    columns = "year, uscc, unit_id, pollutant_code, generated, emitted, treatment"
    types = "types = {'generated': 'DOUBLE', 'emitted': 'DOUBLE', 'unit_id': 'VARCHAR', 'uscc': 'VARCHAR'}"
    lines, identical, same_treatment, unmatched = con.execute(f"""
        WITH n AS (SELECT {columns} FROM read_csv('{npsc}', header = true, {types})),
             d AS (SELECT {columns} FROM read_csv('{duck}', header = true, {types}))
        SELECT count(*),
               count(*) FILTER (WHERE n.generated = d.generated AND n.emitted = d.emitted),
               count(*) FILTER (WHERE n.treatment = d.treatment),
               count(*) FILTER (WHERE n.year IS NULL OR d.year IS NULL)
        FROM n FULL OUTER JOIN d USING (year, uscc, unit_id, pollutant_code)""").fetchone()
    print(f"compared {lines} per-row results: {identical} bit-identical, {same_treatment} with the "
          f"same treatment row, {unmatched} in one file only")
    if identical != lines or same_treatment != lines:
        print("DISAGREEMENT in the per-row results")
        sys.exit(1)


def main():
    if sys.argv[1:2] == ["--compare-results"] and len(sys.argv) == 4:
        return compare_results(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    if sys.argv[1:2] == ["--compare"] and len(sys.argv) == 4:
        return compare(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 3:
        sys.exit(__doc__)
    data, reference, out = (os.path.abspath(a) for a in args)
    sql = sections(os.path.join(os.path.dirname(os.path.abspath(__file__)), "national.sql"))
    wanted = ["setup"] + (["results"] if "--results" in sys.argv else []) + ["totals"]
    start = time.perf_counter()
    con = duckdb.connect()
    for name in wanted:
        text = sql[name].replace("{data}", data).replace("{reference}", reference).replace("{out}", out)
        con.execute(text)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    rows = con.execute(f"SELECT count(*), sum(rows) FROM read_csv('{out}/duckdb-totals.csv')").fetchone()
    elapsed = time.perf_counter() - start
    print(f"duckdb {duckdb.__version__}, {threads} threads: {rows[0]} total lines covering {rows[1]} results in {elapsed:.2f} s of queries")


if __name__ == "__main__":
    main()
