#!/usr/bin/env bash
# Replay from MongoDB in pages (issue 10): a page of 500 stored documents holding one that no
# relay can send (written by something else: the official Node.js driver here) is still a full
# page; the replay must go on past it, not stop there and skip the rest of the range.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node-mongo
need_node pages_prerequisites "$node_dir" mongodb
base=$(e2e_port_base 3)
mport=$((base + 2))
URI="mongodb://127.0.0.1:$mport/?replicaSet=rs0"
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 1 --log-level warn
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --mongo-uri "$URI" --history 5 --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/readyz" 20 || { fail pages_relay_ready "see $E2E_TMP/relay.log"; exit 1; }
emit_many() { # PREFIX COUNT
  seq 1 "$2" | sed "s/^/$1/" | xargs -P 8 -I{} curl -s -o /dev/null --max-time 10 \
    -H 'Content-Type: application/json' -d '{"event":"ev","payload":{"id":"{}"},"id":"{}"}' \
    "http://127.0.0.1:$((base + 1))/emit"
}
wait_offset() { # N: the relay's tail delivered N
  local _
  for _ in $(seq 200); do
    [ "$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .offset)" = "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
emit_many p 100
wait_offset 100 || fail pages_first_emits "the relay did not reach offset 100"
foreign=$(cd "$node_dir" && timeout 30 node foreign.js "$URI" relay) || true
expect pages_foreign_inserted "$([ "$foreign" = 101 ] && echo 0 || echo 1)" "foreign document at ${foreign:-none}"
emit_many q 500
wait_offset 601 || fail pages_more_emits "the relay did not reach offset 601"

epoch=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
timeout -k 5 30 "$RELAYLAB_BIN/wsprint" --timeout 3 \
  "ws://127.0.0.1:$base/websocket-service?since=0&epoch=$epoch" >"$E2E_TMP/replay.txt" 2>/dev/null || true
got=$(grep -c '"event":"ev"' "$E2E_TMP/replay.txt" || true)
last=$(grep '"event":"ev"' "$E2E_TMP/replay.txt" | tail -1 | jq -r .offset)
expect pages_replay_complete "$([ "$got" = 600 ] && [ "$last" = 601 ] && echo 0 || echo 1)" \
  "replayed $got of 600 events, last offset ${last:-none}"
exit "$E2E_FAILS"
