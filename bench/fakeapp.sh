#!/usr/bin/env bash
# POST /products throughput and p99 latency: wrk against one fakeapp on a 3-member mongosim
# replica set (w:majority, unique req_id index). Runs alone or from bench/run.
#   FAKEAPP_BENCH_DURATION (10s) FAKEAPP_BENCH_CONNECTIONS (32) FAKEAPP_BENCH_THREADS (2)
#   FAKEAPP_BENCH_MODE (none|embedded; the websocket side has no clients either way)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
duration=${FAKEAPP_BENCH_DURATION:-10s}
conns=${FAKEAPP_BENCH_CONNECTIONS:-32}
threads=${FAKEAPP_BENCH_THREADS:-2}
mode=${FAKEAPP_BENCH_MODE:-none}

for p in "$BIN/fakeapp" "$BIN/mongosim"; do
  [ -x "$p" ] || { echo "bench/fakeapp: $p is not built (run make)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench/fakeapp: wrk not installed (apt-get install wrk)" >&2; exit 1; }

# shellcheck source=tests/e2e/ports.sh
source tests/e2e/ports.sh
base=$(e2e_port_base 6)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/relaylab-bench.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN/mongosim" --port "$base" --members 3 --log-level warn >"$tmp/mongosim.log" 2>&1 &
pids+=($!)
"$BIN/fakeapp" --bind 127.0.0.1 --port $((base + 4)) --ws-port $((base + 5)) --ws-mode "$mode" \
  --pod bench-1 --db bench --log-level warn \
  --mongo-uri "mongodb://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/?replicaSet=rs0" \
  >"$tmp/fakeapp.log" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$((base + 4))/readyz" 2>/dev/null && { ready=1; break; }
  sleep 0.05
done
[ "$ready" -eq 1 ] || { echo "bench/fakeapp: fakeapp not ready" >&2; cat "$tmp/fakeapp.log" >&2; exit 1; }

echo "fakeapp POST /products: wrk -t$threads -c$conns -d$duration, ws-mode $mode, mongosim 3 members"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -s bench/fakeapp.lua \
  "http://127.0.0.1:$((base + 4))" -- "b$$" | tee "$tmp/wrk.out"
line=$(grep '^BENCH ' "$tmp/wrk.out")
rps=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$line")
p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
bad=$(sed -E 's/.* non_201=([0-9]+).*/\1/' <<<"$line")
echo "RESULT fakeapp_post_products rps=$rps p99_ms=$p99 non_201=$bad"
[ "$bad" -eq 0 ] || { echo "bench/fakeapp: $bad requests did not answer 201" >&2; exit 1; }
