#!/usr/bin/env bash
# End-to-end tests of the relay with real libwebsockets clients (tests/e2e/relay_e2e.c).
# e2e-serial: its slow-client and write-failure runs race the relay's sweep against the
# kernel; another test's load shifts those odds.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

E2E=$RELAYLAB_BUILD/tests/e2e/relay_e2e
base=$(e2e_port_base 14)
clients=${RELAY_E2E_CLIENTS:-500}
[ -n "${RELAYLAB_SANITIZED:-}" ] && clients=${RELAY_E2E_CLIENTS:-500}

start_relay() { # NAME WS HTTP [FLAGS...]
  local name=$1 ws=$2 http=$3
  shift 3
  start_bg "$name" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$ws" --http-port "$http" "$@"
  wait_http "http://127.0.0.1:$http/readyz" 10 || { fail "$name-start" "relay did not come up"; cat "$E2E_TMP/$name.log"; exit 1; }
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The keepalive checks watch a ponging and a silent client for 14-18 s: they run beside the
# others.
start_relay pinger $((base + 8)) $((base + 9)) --ping-interval 1s
"$E2E" keepalive $((base + 8)) $((base + 9)) >"$E2E_TMP/keepalive.out" 2>&1 &
keepalive_pid=$!
E2E_PIDS+=("$keepalive_pid")
"$E2E" silent $((base + 8)) $((base + 9)) >"$E2E_TMP/silent.out" 2>&1 &
silent_pid=$!
E2E_PIDS+=("$silent_pid")

start_relay main $((base)) $((base + 1))
"$E2E" fanout $((base)) $((base + 1)) "$clients" 200 || true
"$E2E" resume $((base)) $((base + 1)) || true
"$E2E" badws $((base)) $((base + 1)) || true
"$E2E" onesegment $((base)) $((base + 1)) || true
closes_check main $((base + 1)) protocol 2 # badws: a binary frame, garbage

start_relay slowq $((base + 6)) $((base + 7)) --queue-limit 500
"$E2E" slow $((base + 6)) $((base + 7)) || true
slow=$(curl -fsS "http://127.0.0.1:$((base + 7))/metrics" | awk '/^ws_slow_client_closes_total /{print $2}')
expect slow_counted_in_metrics "$([ "${slow:-0}" -ge 1 ] && echo 0 || echo 1)" "ws_slow_client_closes_total=${slow:-none}"
closes_check slowq $((base + 7)) slow 1
# The memory gauges (docs/bad-input.md, the soak): resident set, heap in use, heap free.
m=$(curl -fsS "http://127.0.0.1:$((base + 7))/metrics")
rss=$(awk '$1 == "process_resident_memory_bytes" {print $2}' <<<"$m")
heap=$(awk '$1 == "relay_heap_bytes" {print $2}' <<<"$m")
heap_free=$(awk '$1 == "relay_heap_free_bytes" {print $2}' <<<"$m")
expect memory_gauges "$([ "${rss:-0}" -ge 1048576 ] && [ "${heap:-0}" -ge 65536 ] && [ -n "$heap_free" ] && echo 0 || echo 1)" \
  "process_resident_memory_bytes=${rss:-none} relay_heap_bytes=${heap:-none} relay_heap_free_bytes=${heap_free:-none}"

start_relay small $((base + 2)) $((base + 3)) --history 10
"$E2E" truncated $((base + 2)) $((base + 3)) || true

"$E2E" ping $((base + 8)) $((base + 9)) || true
start_relay backlog $((base + 10)) $((base + 11)) --ping-interval 4s
"$E2E" backlog $((base + 10)) $((base + 11)) || true
wait "$keepalive_pid" || true
cat "$E2E_TMP/keepalive.out"
wait "$silent_pid" || true
cat "$E2E_TMP/silent.out"
closes_check pinger $((base + 9)) ping_timeout 1 # the silent client

start_relay closes $((base + 12)) $((base + 13))
"$E2E" closes $((base + 12)) $((base + 13)) "$E2E_TMP/closes.pid" || true

start_relay term $((base + 4)) $((base + 5))
"$E2E" shutdown $((base + 4)) $((base + 5)) "$E2E_TMP/term.pid" || true
pid=$(cat "$E2E_TMP/term.pid")
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || rc=1
wait "$pid" 2>/dev/null && status=0 || status=$?
expect shutdown_exit_0 "$([ "$rc" -eq 0 ] && [ "$status" -eq 0 ] && echo 0 || echo 1)" "exited=$rc status=$status"

exit "$E2E_FAILS"
