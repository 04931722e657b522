#!/usr/bin/env bash
# The relay with sender threads (--send-threads 2): every client still gets every event
# once and in order (plain websocket clients, and the real socket.io-client), a client that
# stops reading is closed as slow while the others keep up (its sends come back partial,
# from a sender thread, and lws keeps the tail), and the threads did take part
# (ws_fanout_helper_sends_total).
# e2e-serial: its slow-client run bounds how long 79 readers take, which a test beside it
# would stretch (the readers' client is CPU-bound).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

E2E=$RELAYLAB_BUILD/tests/e2e/relay_e2e
need_built send_threads_prerequisites relay "$E2E"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
base=$(e2e_port_base 6)
helped() { # PORT: sets n to ws_fanout_helper_sends_total
  n=$(curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" | awk '$1 == "ws_fanout_helper_sends_total" {print $2}')
  n=${n:-none}
}

start_bg threads "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" \
  --http-port $((base + 1)) --send-threads 2
start_bg threads-slow "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) \
  --http-port $((base + 3)) --send-threads 2 --queue-limit 500
for p in $((base + 1)) $((base + 3)); do
  wait_http "http://127.0.0.1:$p/readyz" 10 || { fail relay_start "see $E2E_TMP/threads*.log"; exit 1; }
done

"$E2E" fanout "$base" $((base + 1)) 500 200 || true
helped $((base + 1))
expect send_threads_took_part "$([ "$n" != none ] && [ "$n" -gt 0 ] && echo 0 || echo 1)" \
  "ws_fanout_helper_sends_total=$n after 500 clients x 200 events"

# 80 clients: more than the 64 below which the event loop sends alone.
"$E2E" slow $((base + 2)) $((base + 3)) 80 || true
slow=$(curl -fsS "http://127.0.0.1:$((base + 3))/metrics" | awk '$1 == "ws_slow_client_closes_total" {print $2}')
expect send_threads_slow_counted "$([ "${slow:-0}" -ge 1 ] && echo 0 || echo 1)" \
  "ws_slow_client_closes_total=${slow:-none}"
helped $((base + 3))
expect send_threads_took_part_slow "$([ "$n" != none ] && [ "$n" -gt 0 ] && echo 0 || echo 1)" \
  "ws_fanout_helper_sends_total=$n"
# Socket.IO framing (and rooms) through the same path: socketio.sh's checks with 100
# clients, more than the 64 below which the loop sends alone.
node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node send_threads_prerequisites "$node_dir" socket.io-client
start_bg threads-sio "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 4)) \
  --http-port $((base + 5)) --send-threads 2 --ping-interval 1s
wait_http "http://127.0.0.1:$((base + 5))/readyz" 10 || { fail relay_start "see $E2E_TMP/threads-sio.log"; exit 1; }
timeout 120 node "$node_dir/sio_check.js" $((base + 4)) $((base + 5)) 100 30 ||
  fail sio_driver_exit "node sio_check.js exited $? (a crash or timeout leaves checks unrun)"
helped $((base + 5))
expect send_threads_took_part_sio "$([ "$n" != none ] && [ "$n" -gt 0 ] && echo 0 || echo 1)" \
  "ws_fanout_helper_sends_total=$n"
exit "$E2E_FAILS"
