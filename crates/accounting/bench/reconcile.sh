#!/usr/bin/env bash
# Reconciles N enterprise blocks (default 100,000) with npsc's solver and, in the same run, with
# the NumPy/SciPy peer; whole-process wall time, CPU time and peak memory by /usr/bin/time -v.
# Needs: python3 with numpy and scipy (pip install numpy scipy), GNU time.
#   bash crates/accounting/bench/reconcile.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=${1:-100000}
python3 -c 'import numpy, scipy' 2>/dev/null || {
  echo "the peer needs NumPy and SciPy: pip install numpy scipy" >&2
  exit 2
}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cargo build -q --release -p accounting --example reconcile_blocks
BIN=target/release/examples/reconcile_blocks
"$BIN" generate "$N" "$DIR/blocks.txt"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "input: $N blocks, $(wc -c <"$DIR/blocks.txt") bytes"
run() { # NAME COMMAND...
  local name=$1; shift
  /usr/bin/time -v "$@" >"$DIR/$name.out" 2>"$DIR/$name.time"
  local wall user sys rss
  wall=$(grep 'Elapsed (wall clock)' "$DIR/$name.time" | awk '{print $NF}')
  user=$(grep 'User time' "$DIR/$name.time" | awk '{print $NF}')
  sys=$(grep 'System time' "$DIR/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$DIR/$name.time" | awk '{print $NF}')
  printf '| %-12s | %8s | %6s | %6s | %8s | %s |\n' "$name" "$wall" "$user" "$sys" "$((rss / 1024)) MB" "$(cat "$DIR/$name.out")"
}
echo "| solver       | wall     | user s | sys s  | peak RSS | result |"
echo "|---|---|---|---|---|---|"
run npsc "$BIN" solve "$DIR/blocks.txt"
run numpy-scipy python3 crates/accounting/bench/reconcile_blocks.py "$DIR/blocks.txt"
