#!/usr/bin/env bash
# The service under a mixed load: many readers and, at the same time, writers.
#
# `npsc serve` (release build, embedded SQLite seeded with the bundled coefficient set
# coefficients/npsc1-excerpt, published) is read by wrk with CONNECTIONS connections for
# DURATION seconds, each connection cycling through three reads: an edition's metadata, a page of
# its coefficients and the edition in force at a date (`resolve`). Meanwhile a second process
# writes in a loop, one after the other: a new coefficient set's draft upload (admin), its
# publication (admin), and an accounting run of the bundled synthetic sample (officer, 67
# activity rows, stored with its results). Every answer is checked: the report counts wrk's
# socket errors and statuses >= 400, and the writer's unexpected statuses; the server's resident
# memory is sampled every 5 s.
#
# Usage (loopback only; nothing outside a temporary directory is written; the server and the
# writer are stopped on exit; the whole run takes DURATION + ~20 s after the build):
#
#   service/bench/mixed.sh                     # 256 connections, 60 s
#   DURATION=10 CONNECTIONS=64 service/bench/mixed.sh
#
# Environment: DURATION (s, default 60), WARMUP (s, default 5), CONNECTIONS (256), THREADS (2),
# NPSC_BIN (a built npsc binary instead of building target/release/npsc), NPSC_LOG (the
# service's log filter, default `warn`). Exits 1 when any request failed.
#
# Needs: wrk, curl, cargo (apt-get install -y wrk curl). Not run in CI.
set -euo pipefail

DURATION=${DURATION:-60}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-256}
THREADS=${THREADS:-2}
export NPSC_LOG=${NPSC_LOG:-warn}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_dir="$root/service/bench"
set_id=npsc1-excerpt
sample="$root/datasets/sample-synthetic"

for tool in wrk curl cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: \`$tool\` is not installed (hint: apt-get install -y wrk curl)" >&2
        exit 1
    fi
done

if [ -n "${NPSC_BIN:-}" ]; then
    npsc=$NPSC_BIN
else
    echo "building npsc (release)…" >&2
    (cd "$root" && cargo build --release --quiet --bin npsc)
    npsc="$root/target/release/npsc"
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "error: no free loopback port found" >&2
    return 1
}

# 1. The database: the bundled set, published; an administrator's and an officer's token.
db="sqlite://$tmp/npsc.db"
"$npsc" coeff import "$root/coefficients/$set_id" --database "$db" --actor load-test >/dev/null
"$npsc" coeff publish "$set_id" --note "load test" --database "$db" --actor load-test >/dev/null
admin=$("$npsc" token create --role admin --name load-admin --database "$db" | head -1)
officer=$("$npsc" token create --role officer --name load-officer --database "$db" | head -1)
industry=$(sed -n 2p "$root/coefficients/$set_id/coefficients.csv" | cut -d, -f1)

# 2. The service, with its default limits (1024 connections, 20 s header timeout).
port=$(free_port)
base="http://127.0.0.1:$port"
"$npsc" serve --listen "127.0.0.1:$port" --database "$db" 2>"$tmp/npsc.log" &
server=$!
pids+=("$server")
for _ in $(seq 100); do
    curl -sf -o /dev/null "$base/healthz" && break
    sleep 0.1
done
curl -sf -o /dev/null "$base/healthz" || { echo "error: the service did not start" >&2; cat "$tmp/npsc.log" >&2; exit 1; }

reads="/api/v1/sets/$set_id/editions/1|/api/v1/sets/$set_id/editions/1/coefficients?industry=$industry&page=1&per_page=20|/api/v1/sets/$set_id/resolve?at=2024-03-20"
IFS='|' read -r -a read_paths <<<"$reads"
for path in "${read_paths[@]}"; do
    curl -sf -o /dev/null "$base$path" || { echo "error: GET $path fails before the load" >&2; exit 1; }
done

rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
rss_start=$(rss)

# 3. The writer: draft, publish, run, in a loop until told to stop; one line per request.
writer() {
    local i=0 code
    local table="$root/coefficients/$set_id/coefficients.csv"
    while [ ! -e "$tmp/stop" ]; do
        i=$((i + 1))
        code=$(curl -s -o "$tmp/w.body" -w '%{http_code}' -H "Authorization: Bearer $admin" \
            -H 'Content-Type: text/csv' --data-binary "@$table" \
            "$base/api/v1/sets/load-$i/drafts?provenance=load-test")
        echo "draft $code"
        code=$(curl -s -o "$tmp/w.body" -w '%{http_code}' -H "Authorization: Bearer $admin" \
            -H 'Content-Type: application/json' -d '{"note": "load test"}' \
            "$base/api/v1/sets/load-$i/editions/1/publish")
        echo "publish $code"
        code=$(curl -s -o "$tmp/w.body" -w '%{http_code}' -H "Authorization: Bearer $officer" \
            -F "registry=@$sample/registry.csv" -F "activity=@$sample/activity.csv" \
            "$base/api/v1/runs?set=$set_id&edition=1")
        echo "run $code"
    done
}

# 4. Warm-up, then the measured run with the writer alongside; memory sampled every 5 s.
echo "warming up ${WARMUP}s…" >&2
WRK_PATHS=$reads wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$bench_dir/mixed.lua" "$base" >/dev/null
rss_warm=$(rss)
echo "measuring: ${DURATION}s, $THREADS threads, $CONNECTIONS connections, writer alongside…" >&2
writer >"$tmp/writes.log" 2>&1 &
writer_pid=$!
pids+=("$writer_pid")
(
    while kill -0 "$server" 2>/dev/null && [ ! -e "$tmp/stop" ]; do
        echo "$(date +%s) $(rss)"
        sleep 5
    done
) >"$tmp/rss.log" &
pids+=("$!")
started=$(date +%s.%N)
result=$(WRK_PATHS=$reads wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$bench_dir/mixed.lua" "$base" | grep '^RESULT ')
touch "$tmp/stop"
wait "$writer_pid" || true
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
rss_end=$(rss)
rss_series=$(awk '{printf "%s%d", (NR > 1 ? " " : ""), $2 / 1024}' "$tmp/rss.log")
alive=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")

read -r rps p50 p99 max requests e_connect e_read e_write e_timeout e_status bytes <<<"${result#RESULT }"
socket_errors=$((e_connect + e_read + e_write + e_timeout))
count() { grep -c "^$1 $2\$" "$tmp/writes.log" || true; }
writes_total=$(wc -l <"$tmp/writes.log")
writes_ok=$(( $(count draft 201) + $(count publish 200) + $(count run 201) ))
writes_bad=$((writes_total - writes_ok))
runs_ok=$(count run 201)
write_rate=$(echo "scale=1; $writes_total / $elapsed" | bc)

cat <<EOF

### npsc serve under a mixed load, $(date -u +%Y-%m-%d)

- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r); server, wrk and writer share the cores
- $("$npsc" --version 2>/dev/null || echo npsc) (\`${npsc#"$root/"}\`), SQLite, NPSC_LOG=$NPSC_LOG, default limits
- reads: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s\` cycling through ${#read_paths[@]} GETs: edition metadata, a coefficients page (industry $industry, 20 rows), resolve at a date
- writes alongside (one client, back to back): draft upload + publish of a new set, accounting run of the synthetic sample (67 activity rows) with its results stored

| what | figure |
|---|---|
| reads | $requests in ${DURATION} s = **$(printf '%.0f' "$rps") requests/s** |
| read latency | p50 $(awk -v v="$p50" 'BEGIN {printf "%.2f", v / 1000}') ms, **p99 $(awk -v v="$p99" 'BEGIN {printf "%.2f", v / 1000}') ms**, max $(awk -v v="$max" 'BEGIN {printf "%.1f", v / 1000}') ms |
| read errors | socket $socket_errors (connect $e_connect, read $e_read, write $e_write, timeout $e_timeout), HTTP ≥ 400: $e_status |
| writes | $writes_total requests ($write_rate/s): $runs_ok runs stored, as many sets drafted and published; unexpected statuses: $writes_bad |
| server RSS | $((rss_start / 1024)) MB at start, $((rss_warm / 1024)) MB after the warm-up, $((rss_end / 1024)) MB at the end (every 5 s: $rss_series MB) |
| after the run | /healthz $alive |
EOF

if [ "$socket_errors" != 0 ] || [ "$e_status" != 0 ] || [ "$writes_bad" != 0 ] || [ "$alive" != 200 ]; then
    echo "FAILED: some requests failed" >&2
    grep -v ' 20[01]$' "$tmp/writes.log" | sort | uniq -c >&2 || true
    exit 1
fi
