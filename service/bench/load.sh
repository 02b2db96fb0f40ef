#!/usr/bin/env bash
# Load test of the HTTP service against nginx, side by side in the same run.
#
# One edition's coefficients of one industry (JSON, GET
# /api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=…) are served by `npsc serve` and,
# as the very same bytes from a static file, by nginx; wrk measures both on loopback with the
# same threads, connections and duration, first the 200 path and then the 304 path
# (`If-None-Match` with each server's own ETag). Prints the machine, a Markdown table
# (requests/s, p50, p99, server CPU time per request) and the ratio npsc/nginx, plus the
# service's peak RSS before and after the load.
#
# Usage (from anywhere; nothing is installed, nothing outside a temporary directory is written,
# both servers listen on 127.0.0.1 only and are stopped on exit):
#
#   service/bench/load.sh                      # 30 s per measurement, 64 connections
#   DURATION=10 service/bench/load.sh          # shorter
#   PIN=1 service/bench/load.sh                # servers on CPU 1, wrk on CPU 0 (taskset)
#
# Environment: DURATION (s, default 30), WARMUP (s, default 5), CONNECTIONS (64), THREADS (2),
# INDUSTRY (default: the first industry code of coefficients/npsc1-excerpt), PIN (0|1),
# NPSC_BIN (a built npsc binary to measure instead of building target/release/npsc),
# NPSC_LOG (the service's log filter, default `warn`: nginx runs with its access log off, so
# the per-request info log of the service is off too; NPSC_LOG=info measures it with its log,
# written to a file in the temporary directory).
#
# Fairness: the tokio runtime of `npsc serve` has one worker thread per core, so nginx gets
# `worker_processes` = the number of cores the servers may use (nproc, or 1 with PIN=1). Without
# PIN the servers and wrk share both cores, as they would on a small host; PIN=1 keeps wrk off
# the server's core. nginx keeps connections alive for as many requests as hyper does (no limit
# within a run).
#
# Needs: wrk, nginx, curl, cargo (apt-get install -y wrk nginx-light curl). Not run in CI.
set -euo pipefail

DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PIN=${PIN:-0}
export NPSC_LOG=${NPSC_LOG:-warn}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_dir="$root/service/bench"
set_id=npsc1-excerpt

missing=0
for tool in wrk nginx curl cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: \`$tool\` is not installed" >&2
        missing=1
    fi
done
if [ "$missing" = 1 ]; then
    echo "hint: apt-get install -y wrk nginx-light curl   (or the package \`nginx\`; cargo from rustup)" >&2
    exit 1
fi
if [ "$PIN" = 1 ] && { [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; }; then
    echo "error: PIN=1 needs two cores and taskset (util-linux)" >&2
    exit 1
fi

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

# A loopback port nobody answers on.
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

wait_for() {
    local url=$1
    for _ in $(seq 100); do
        if curl -sf -o /dev/null "$url"; then
            return 0
        fi
        sleep 0.1
    done
    echo "error: nothing answers at $url" >&2
    return 1
}

if [ "$PIN" = 1 ]; then
    server_cpu=(taskset -c 1)
    client_cpu=(taskset -c 0)
    workers=1
else
    server_cpu=()
    client_cpu=()
    workers=$(nproc)
fi

# 1. A database with the excerpt, published.
db="sqlite://$tmp/npsc.db"
"$npsc" coeff import "$root/coefficients/$set_id" --database "$db" --actor load-test >/dev/null
"$npsc" coeff publish "$set_id" --note "load test" --database "$db" --actor load-test >/dev/null
edition=$("$npsc" coeff resolve "$set_id@latest" --database "$db" | grep -o "$set_id@[0-9]*" | head -1)
edition=${edition#*@}
industry=${INDUSTRY:-$(sed -n 2p "$root/coefficients/$set_id/coefficients.csv" | cut -d, -f1)}
path="/api/v1/sets/$set_id/editions/$edition/coefficients"
query="?industry=$industry"

# 2. The service.
npsc_port=$(free_port)
NPSC_ANONYMOUS_READ=true "${server_cpu[@]}" "$npsc" serve --listen "127.0.0.1:$npsc_port" \
    --database "$db" 2>"$tmp/npsc.log" &
npsc_pid=$!
pids+=("$npsc_pid")
wait_for "http://127.0.0.1:$npsc_port/healthz"

# 3. The same bytes as a static file for nginx, at the same path (nginx ignores the query).
html="$tmp/nginx/html"
mkdir -p "$html$(dirname "$path")" "$tmp/nginx/temp"
curl -sf -o "$html$path" "http://127.0.0.1:$npsc_port$path$query"
if grep -q '"total":0,' "$html$path"; then
    echo "error: industry \`$industry\` has no coefficient rows in $set_id@$edition" >&2
    exit 1
fi
body_bytes=$(wc -c <"$html$path")
rows=$(grep -o '"total":[0-9]*' "$html$path" | head -1 | cut -d: -f2)
chmod -R a+rX "$tmp" # nginx workers may run as another user when started as root

nginx_port=$(free_port)
cat >"$tmp/nginx/nginx.conf" <<EOF
# worker_processes = the cores the servers may use, as tokio's worker threads of npsc serve.
worker_processes $workers;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$nginx_port;
        root $html;
    }
}
EOF
"${server_cpu[@]}" nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_for "http://127.0.0.1:$nginx_port$path"

npsc_url="http://127.0.0.1:$npsc_port$path$query"
nginx_url="http://127.0.0.1:$nginx_port$path$query"
if ! cmp -s <(curl -sf "$npsc_url") <(curl -sf "$nginx_url"); then
    echo "error: npsc and nginx do not answer the same bytes" >&2
    exit 1
fi
etag_of() { curl -sfI "$1" | tr -d '\r' | grep -i '^etag:' | cut -d' ' -f2-; }
status_with() { curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $2" "$1"; }
npsc_etag=$(etag_of "$npsc_url")
nginx_etag=$(etag_of "$nginx_url")
for pair in "$npsc_url|$npsc_etag" "$nginx_url|$nginx_etag"; do
    if [ "$(status_with "${pair%%|*}" "${pair#*|}")" != 304 ]; then
        echo "error: ${pair%%|*} does not answer 304 to If-None-Match ${pair#*|}" >&2
        exit 1
    fi
done

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# CPU time (clock ticks) of processes and their children threads.
ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
nginx_procs() { echo "$nginx_pid" $(pgrep -P "$nginx_pid" || true); }
hz=$(getconf CLK_TCK)
rss_before=$(hwm "$npsc_pid")

# One measurement: warm-up, then wrk; prints "rps p50_us p99_us requests errors bad_status
# cpu_us_per_request".
measure() {
    local url=$1 etag=$2 procs=$3 before after line
    WRK_IF_NONE_MATCH=$etag "${client_cpu[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" \
        -s "$bench_dir/report.lua" "$url" >/dev/null
    before=$(ticks $procs)
    line=$(WRK_IF_NONE_MATCH=$etag "${client_cpu[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" \
        -d"${DURATION}s" --latency -s "$bench_dir/report.lua" "$url" | grep '^RESULT ')
    after=$(ticks $procs)
    echo "$line" | awk -v cpu=$((after - before)) -v hz="$hz" \
        '{printf "%s %s %s %s %s %s %.1f\n", $2, $3, $4, $5, $6, $7, cpu / hz * 1e6 / ($5 > 0 ? $5 : 1)}'
}

echo "measuring: ${DURATION}s per run after ${WARMUP}s warm-up, $THREADS threads, $CONNECTIONS connections…" >&2
r_npsc=$(measure "$npsc_url" "" "$npsc_pid")
r_nginx=$(measure "$nginx_url" "" "$(nginx_procs)")
r_npsc304=$(measure "$npsc_url" "$npsc_etag" "$npsc_pid")
r_nginx304=$(measure "$nginx_url" "$nginx_etag" "$(nginx_procs)")
rss_after=$(hwm "$npsc_pid")
nginx_rss=0
for pid in $(nginx_procs); do
    nginx_rss=$((nginx_rss + $(hwm "$pid")))
done

row() {
    echo "$2" | awk -v server="$1" -v what="$3" '{
        printf "| %s | %s | %.0f | %.2f ms | %.2f ms | %.1f µs | %d | %d |\n",
            server, what, $1, $2 / 1000, $3 / 1000, $7, $4, $5 + $6 }'
}
ratio() { awk -v a="$(echo "$1" | cut -d' ' -f1)" -v b="$(echo "$2" | cut -d' ' -f1)" 'BEGIN {printf "%.2f", a / b}'; }
p99_ms() { echo "$1" | awk '{printf "%.2f", $3 / 1000}'; }

cat <<EOF

### npsc serve vs nginx, $(date -u +%Y-%m-%d)

- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)
- $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3), $("$npsc" --version 2>/dev/null || echo npsc) (release), NPSC_LOG=$NPSC_LOG
- request: \`GET $path$query\`, $body_bytes bytes of JSON ($rows rows), identical bytes from both
- wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (after a ${WARMUP}s warm-up); nginx worker_processes $workers; $(if [ "$PIN" = 1 ]; then echo "servers pinned to CPU 1, wrk to CPU 0"; else echo "no pinning: servers and wrk share the cores"; fi)

| server | response | requests/s | p50 | p99 | server CPU / request | requests | errors |
|---|---|---|---|---|---|---|---|
$(row "npsc serve" "$r_npsc" "200, JSON")
$(row "nginx (static file)" "$r_nginx" "200, JSON")
$(row "npsc serve" "$r_npsc304" "304 (If-None-Match)")
$(row "nginx (static file)" "$r_nginx304" "304 (If-None-Match)")

- npsc/nginx requests/s: **$(ratio "$r_npsc" "$r_nginx")** (200), **$(ratio "$r_npsc304" "$r_nginx304")** (304); target ≥ 0.5 and p99 < 10 ms: $(awk -v r="$(ratio "$r_npsc" "$r_nginx")" -v p="$(p99_ms "$r_npsc")" 'BEGIN {print (r >= 0.5 && p < 10) ? "met" : "NOT met"}')
- npsc peak RSS (VmHWM): $((rss_before / 1024)) MB before the load, $((rss_after / 1024)) MB after; nginx master + workers: $((nginx_rss / 1024)) MB
EOF
