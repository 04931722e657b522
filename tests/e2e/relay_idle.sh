#!/usr/bin/env bash
# An idle relay does not walk its clients 20 times a second: with nothing published the
# sweep runs for timers alone, once a second at the default ping interval (every tenth of
# a shorter one), and each batch of publishes still gets its own (ws_sweeps_total).
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
sweeps $((base + 1)) && a0=$n
sweeps $((base + 3)) && b0=$n
sleep 3
sweeps $((base + 1)) && a1=$n
sweeps $((base + 3)) && b1=$n
expect relay_idle_sweeps_once_a_second "$([ $((a1 - a0)) -le 5 ] && echo 0 || echo 1)" \
  "$((a1 - a0)) sweeps in 3 s with nothing published, want at most 5 (one a second)"
expect relay_idle_sweeps_follow_ping_interval "$([ $((b1 - b0)) -ge 10 ] && [ $((b1 - b0)) -le 40 ] && echo 0 || echo 1)" \
  "$((b1 - b0)) sweeps in 3 s at --ping-interval 1s, want 10-40 (one per 100 ms)"
for i in $(seq 10); do
  curl -fsS --max-time 2 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"event\":\"e\",\"payload\":{\"i\":$i}}" "http://127.0.0.1:$((base + 1))/emit"
  sleep 0.1
done
sweeps $((base + 1)) && a2=$n
expect relay_idle_publishes_sweep "$([ $((a2 - a1)) -ge 8 ] && echo 0 || echo 1)" \
  "$((a2 - a1)) sweeps for 10 publishes 100 ms apart, want one each (at least 8)"
exit "$E2E_FAILS"
