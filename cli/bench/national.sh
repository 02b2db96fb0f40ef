#!/usr/bin/env bash
# National scale: `npsc account` against DuckDB on the same SYNTHETIC files, in the same run.
#
#   bash cli/bench/national.sh [ENTERPRISES] [SEED]      # default 2 500 000 enterprises, seed 42
#
# 1. builds npsc (release) and generates the data with `npsc synth` (cached in
#    $NPSC_BENCH_DIR, default target/bench-national, by size, years, seed and generator source);
# 2. times, each whole process under /usr/bin/time -v, the county × 2-digit-industry × pollutant
#    totals by `npsc account` and by DuckDB running cli/bench/national.sql (the same joins, unit
#    factors, formulas and efficiency × k arithmetic); then both again also writing every
#    per-row result (skip with RESULTS=0; needs about 0.5 KB of disk per result line);
# 3. compares the totals line by line (relative tolerance 1e-9, same row counts) and, when
#    ROW_CHECK=1 (the default up to 250 000 enterprises), every per-row result (same treatment
#    row, bit-identical quantities), and exits 1, loudly, when they disagree.
#
# Needs GNU time (apt-get install -y time) and DuckDB's Python package:
#   python3 -m venv target/bench-venv && target/bench-venv/bin/pip install duckdb
#   PYTHON=target/bench-venv/bin/python bash cli/bench/national.sh 250000
# Other settings: YEARS (default 1), RESULTS (default 1), ROW_CHECK (keeps both result files
# until they are compared: twice the disk).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-2500000}
SEED=${2:-42}
YEARS=${YEARS:-1}
RESULTS=${RESULTS:-1}
ROW_CHECK=${ROW_CHECK:-$([ "$N" -le 250000 ] && echo 1 || echo 0)}
PYTHON=${PYTHON:-python3}
[ -x /usr/bin/time ] || {
  echo "the benchmark measures with GNU time: apt-get install -y time" >&2
  exit 2
}
"$PYTHON" -c 'import duckdb' 2>/dev/null || {
  echo "the peer needs DuckDB's Python package ($PYTHON cannot import duckdb):" >&2
  echo "  python3 -m venv target/bench-venv && target/bench-venv/bin/pip install duckdb" >&2
  echo "  PYTHON=target/bench-venv/bin/python bash cli/bench/national.sh $N" >&2
  echo "(or: pip install --user duckdb)" >&2
  exit 2
}
cargo build -q --release --bin npsc
BIN=target/release/npsc
CACHE=${NPSC_BENCH_DIR:-target/bench-national}
STAMP=$(cat crates/app/src/synth.rs | sha256sum | cut -c1-12)
DATA=$CACHE/n$N-y$YEARS-s$SEED-$STAMP
mkdir -p "$CACHE"
if [ ! -f "$DATA/manifest.toml" ]; then
  echo "generating $N enterprises (seed $SEED) into $DATA"
  /usr/bin/time -f "%e s wall, %M KB peak RSS" -o "$CACHE/synth.time" \
    "$BIN" synth --enterprises "$N" --years "$YEARS" --seed "$SEED" --out "$DATA" | sed 's/^/  /'
  echo "  npsc synth: $(cat "$CACHE/synth.time")"
fi
OUT=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
ROWS=$(grep '^activity_rows' "$DATA/manifest.toml" | awk '{print $3}')
ACCOUNTED=$(grep '^accounted_rows' "$DATA/manifest.toml" | awk '{print $3}')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "npsc: $("$BIN" --version); duckdb: $("$PYTHON" -c 'import duckdb; print(duckdb.__version__)') (its default: one thread per core); npsc account: totals in 2 parts on 2 threads (files of 32 MiB or more), one pass when writing per-row results"
echo "input: $N enterprises, $ROWS activity rows ($ACCOUNTED to account), $(du -sh "$DATA" | cut -f1) in $DATA"
cat "$DATA"/registry.csv "$DATA"/activity.csv "$DATA"/coefficients/coefficients.csv >/dev/null

seconds() { # `h:mm:ss` or `m:ss.ss` → seconds
  echo "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'
}
declare -A WALL
run() { # JOB TOOL COMMAND...
  local job=$1 tool=$2
  shift 2
  /usr/bin/time -v "$@" >"$OUT/$job-$tool.out" 2>"$OUT/$job-$tool.time" || {
    echo "$tool failed on the $job job:" >&2
    tail -20 "$OUT/$job-$tool.out" "$OUT/$job-$tool.time" >&2
    exit 1
  }
  local wall user sys rss
  wall=$(seconds "$(grep 'Elapsed (wall clock)' "$OUT/$job-$tool.time" | awk '{print $NF}')")
  user=$(grep 'User time' "$OUT/$job-$tool.time" | awk '{print $NF}')
  sys=$(grep 'System time' "$OUT/$job-$tool.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$OUT/$job-$tool.time" | awk '{print $NF}')
  WALL[$job-$tool]=$wall
  printf '| %-8s | %-6s | %8.2f s | %8.2f s | %6d MB | %9.0f |\n' "$job" "$tool" "$wall" \
    "$(awk "BEGIN {print $user + $sys}")" "$((rss / 1024))" "$(awk "BEGIN {print $ROWS / $wall}")"
}
compare() { # JOB
  if ! "$PYTHON" cli/bench/duckdb_account.py --compare "$OUT/npsc-totals.csv" "$OUT/duckdb-totals.csv" \
    >"$OUT/$1-compare.txt"; then
    cat "$OUT/$1-compare.txt" >&2
    echo "FAILED: npsc and DuckDB disagree on the $1 job (files kept in $OUT)" >&2
    trap - EXIT
    exit 1
  fi
  sed "s/^/  $1: /" "$OUT/$1-compare.txt" >"$OUT/$1-compare.shown"
}
NPSC_ARGS=(account --coefficients "$DATA/coefficients" --registry "$DATA/registry.csv"
  --activity "$DATA/activity.csv" --region-level county --industry-level division
  --format csv --out "$OUT/npsc-totals.csv")
DUCK=("$PYTHON" cli/bench/duckdb_account.py "$DATA" datasets/reference "$OUT")

echo
echo "| job      | tool   | wall       | CPU        | peak RSS | rows/s    |"
echo "|---|---|---|---|---|---|"
run totals npsc "$BIN" "${NPSC_ARGS[@]}"
run totals duckdb "${DUCK[@]}"
compare totals
if [ "$RESULTS" = 1 ]; then
  RESULT_LINES=$(grep -o '[0-9]* total lines covering [0-9]* results' "$OUT/totals-duckdb.out" | awk '{print $5}')
  NEED=$((RESULT_LINES * (ROW_CHECK + 1) * 520 / 1024 / 1024))
  FREE=$(df -Pm "$OUT" | awk 'NR==2 {print $4}')
  if [ "$FREE" -lt "$NEED" ]; then
    echo "| results  | skipped: $RESULT_LINES result lines need about $NEED MB, $FREE MB free |"
  else
    run results npsc "$BIN" "${NPSC_ARGS[@]}" --results "$OUT/npsc-results.csv"
    NPSC_LINES=$(($(wc -l <"$OUT/npsc-results.csv") - 1))
    NPSC_BYTES=$(stat -c %s "$OUT/npsc-results.csv")
    [ "$ROW_CHECK" = 1 ] || rm -f "$OUT/npsc-results.csv"
    run results duckdb "${DUCK[@]}" --results
    DUCK_LINES=$(($(wc -l <"$OUT/duckdb-results.csv") - 1))
    DUCK_BYTES=$(stat -c %s "$OUT/duckdb-results.csv")
    compare results
    if [ "$ROW_CHECK" = 1 ]; then
      if ! "$PYTHON" cli/bench/duckdb_account.py --compare-results "$OUT/npsc-results.csv" \
        "$OUT/duckdb-results.csv" >"$OUT/rows-compare.txt"; then
        cat "$OUT/rows-compare.txt" >&2
        echo "FAILED: npsc and DuckDB disagree on the per-row results (files kept in $OUT)" >&2
        trap - EXIT
        exit 1
      fi
      sed "s/^/  rows: /" "$OUT/rows-compare.txt" >"$OUT/rows-compare.shown"
    fi
    rm -f "$OUT/npsc-results.csv" "$OUT/duckdb-results.csv"
    if [ "$NPSC_LINES" != "$DUCK_LINES" ] || [ "$NPSC_LINES" != "$RESULT_LINES" ]; then
      echo "FAILED: result lines differ: npsc $NPSC_LINES, DuckDB $DUCK_LINES, totals $RESULT_LINES" >&2
      exit 1
    fi
  fi
fi
echo
for job in totals results; do
  [ -n "${WALL[$job-npsc]:-}" ] || continue
  printf 'npsc/DuckDB wall time, %s: %.2f\n' "$job" "$(awk "BEGIN {print ${WALL[$job-npsc]} / ${WALL[$job-duckdb]}}")"
done
[ -n "${NPSC_LINES:-}" ] && echo "result files: npsc $NPSC_LINES lines ($((NPSC_BYTES / 1048576)) MB), DuckDB $DUCK_LINES lines ($((DUCK_BYTES / 1048576)) MB)"
cat "$OUT"/*-compare.shown
head -1 "$OUT/totals-duckdb.out"
