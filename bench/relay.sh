#!/usr/bin/env bash
# Relay benchmarks (issue 2): fan-out deliveries/s at 1,000 clients with rising event rates,
# publish->receive latency at 1,000 clients x 200 events/s, RSS per idle connection at 5,000.
# Targets on a 2-core machine: >= 300,000 deliveries/s, p99 <= 10 ms, <= 8 KiB per connection.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

start_relay() { # WS HTTP
  "$BIN/relay" --bind 127.0.0.1 --ws-port "$1" --http-port "$2" --log-level warn \
    --queue-limit 20000 --history 100000 2>"$tmp/relay.log" &
  pids+=($!)
  RELAY_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "relay did not start"; cat "$tmp/relay.log"; exit 1
}

base=$(e2e_port_base 4)
B=$BUILD/bench/relay_bench
CLIENTS=${BENCH_CLIENTS:-1000}
RATES=${BENCH_RATES:-100,200,300,400,600}
SECS=${BENCH_SECONDS:-4}

echo "== relay fan-out: $CLIENTS clients, event rates $RATES per second, ${SECS}s each"
start_relay "$base" $((base + 1))
"$B" fanout "$base" $((base + 1)) "$CLIENTS" "$RATES" "$SECS" || echo "(some deliveries missing, see above)"
echo "== relay latency: $CLIENTS clients x 200 events/s, 10s"
"$B" fanout "$base" $((base + 1)) "$CLIENTS" 200 10 || true
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true

echo "== relay memory: 5000 idle connections"
start_relay $((base + 2)) $((base + 3))
"$B" idle $((base + 2)) $((base + 3)) "${BENCH_IDLE:-5000}" "$RELAY_PID"
