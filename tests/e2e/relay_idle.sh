#!/usr/bin/env bash
# An idle relay does not walk its clients 20 times a second: with nothing published the
# sweep runs for timers alone, once a second at the default ping interval (every tenth of
# a shorter one), and each batch of publishes still gets its own (ws_sweeps_total).
# The bounds are per 3 s of the window actually measured (the sleep plus the scrapes, which
# a loaded machine stretches), and the publishes come 300 ms apart: two that reach the relay
# in one turn of its loop share a sweep.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

need_built relay_idle_prerequisites relay
base=$(e2e_port_base 4)
# sweeps PORT: sets n to the relay's ws_sweeps_total (the test ends when it has none).
sweeps() {
  n=$(curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" | awk '$1 == "ws_sweeps_total" {print $2}')
  [ -n "$n" ] || { fail relay_idle_metric "no ws_sweeps_total at :$1"; exit 1; }
}

start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1))
start_bg relay-fast "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) \
  --http-port $((base + 3)) --ping-interval 1s
for p in $((base + 1)) $((base + 3)); do
  wait_http "http://127.0.0.1:$p/healthz" 10 || { fail relay_start "see $E2E_TMP/relay*.log"; exit 1; }
done
t0=$(date +%s%3N)
sweeps $((base + 1)) && a0=$n
sweeps $((base + 3)) && b0=$n
sleep 3
sweeps $((base + 1)) && a1=$n
sweeps $((base + 3)) && b1=$n
ms=$(($(date +%s%3N) - t0))
expect relay_idle_sweeps_once_a_second "$([ $(((a1 - a0) * 3000)) -le $((5 * ms)) ] && echo 0 || echo 1)" \
  "$((a1 - a0)) sweeps in $ms ms with nothing published, want at most 5 per 3 s (one a second)"
expect relay_idle_sweeps_follow_ping_interval "$([ $((b1 - b0)) -ge 10 ] && [ $(((b1 - b0) * 3000)) -le $((40 * ms)) ] && echo 0 || echo 1)" \
  "$((b1 - b0)) sweeps in $ms ms at --ping-interval 1s, want 10-40 per 3 s (one per 100 ms)"
for i in $(seq 10); do
  curl -fsS --max-time 2 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"event\":\"e\",\"payload\":{\"i\":$i}}" "http://127.0.0.1:$((base + 1))/emit"
  sleep 0.3
done
sweeps $((base + 1)) && a2=$n
expect relay_idle_publishes_sweep "$([ $((a2 - a1)) -ge 8 ] && echo 0 || echo 1)" \
  "$((a2 - a1)) sweeps for 10 publishes 300 ms apart, want one each (at least 8)"
exit "$E2E_FAILS"
