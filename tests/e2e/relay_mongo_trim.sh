#!/usr/bin/env bash
# Relays over MongoDB with retention (issue 10): a relay that has not emitted for a while
# must not insert at an offset the retention removed. Relay B emits offset 1; relay A emits
# 150 more; relay T, started with --retention-events 100, trims 1..51. B's next emit must
# go after the stream's head (152), not into the hole at 2, where it would be acknowledged
# and then skipped by every relay's tail as already delivered.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 7)
mport=$((base + 6))
URI="mongodb://127.0.0.1:$mport/?replicaSet=rs0"
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 1 --log-level warn
relay() { # NAME WS_PORT EXTRA...
  local name=$1 ws=$2
  shift 2
  start_bg "$name" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$ws" --http-port $((ws + 1)) \
    --mongo-uri "$URI" --history 20 "$@"
  wait_http "http://127.0.0.1:$((ws + 1))/readyz" 20
}
emit() { # HTTP_PORT ID: prints the acknowledged offset (empty when not 202)
  curl -s --max-time 10 -H 'Content-Type: application/json' \
    -d "{\"event\":\"ev\",\"payload\":{\"id\":\"$2\"},\"id\":\"$2\"}" "http://127.0.0.1:$1/emit" |
    jq -r '.offset // empty'
}
offset_of() { curl -fsS "http://127.0.0.1:$1/readyz" | jq -r .offset; }

relay b "$base" || { fail trim_relay_ready "relay b: see $E2E_TMP/b.log"; exit 1; }
first=$(emit $((base + 1)) b1)
expect trim_first_emit "$([ "$first" = 1 ] && echo 0 || echo 1)" "offset ${first:-none}"
relay a $((base + 2)) || { fail trim_relay_ready "relay a: see $E2E_TMP/a.log"; exit 1; }
for i in $(seq 1 150); do echo "a$i"; done | xargs -P 8 -I{} curl -s -o /dev/null --max-time 10 \
  -H 'Content-Type: application/json' -d '{"event":"ev","payload":{"id":"{}"},"id":"{}"}' \
  "http://127.0.0.1:$((base + 3))/emit"
# The trimmer's first pass comes 5 s after its start.
relay t $((base + 4)) --retention-events 100 || { fail trim_relay_ready "relay t: see $E2E_TMP/t.log"; exit 1; }
for _ in $(seq 300); do grep -q store_trimmed "$E2E_TMP/t.log" && [ "$(offset_of $((base + 1)))" = 151 ] && break; sleep 0.1; done
expect trim_ran "$(grep -q store_trimmed "$E2E_TMP/t.log" && echo 0 || echo 1)" "relay t never trimmed"
expect trim_b_caught_up "$([ "$(offset_of $((base + 1)))" = 151 ] && echo 0 || echo 1)" \
  "relay b at $(offset_of $((base + 1)))"

epoch=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
off=$(emit $((base + 1)) b2)
expect trim_emit_after_head "$([ "${off:-0}" -gt 151 ] && echo 0 || echo 1)" "b2 acknowledged at ${off:-none}"
timeout -k 5 25 "$RELAYLAB_BIN/wsprint" --timeout 2 \
  "ws://127.0.0.1:$base/websocket-service?since=151&epoch=$epoch" >"$E2E_TMP/heard.txt" 2>/dev/null || true
expect trim_emit_delivered "$(grep -q '"id":"b2"' "$E2E_TMP/heard.txt" && echo 0 || echo 1)" \
  "a client of relay b (since=151) never got b2"
exit "$E2E_FAILS"
