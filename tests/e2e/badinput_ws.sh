#!/usr/bin/env bash
# Malformed websocket handshakes and frames against the relay (tests/e2e/badinput_ws.c): each
# gets its documented answer (refused upgrade, close code, or ignored), a good client is
# served after every refusal, and the relay ends the run alive with every client gone.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 2)
WS=$base HTTP=$((base + 1))
EPOCH=badinputepoch001
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$WS" --http-port "$HTTP" \
  --max-message 4k --epoch "$EPOCH" --ping-interval 0
wait_http "http://127.0.0.1:$HTTP/healthz" 15 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }
for i in 1 2 3; do
  curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"event\":\"seed\",\"payload\":{\"i\":$i}}" "http://127.0.0.1:$HTTP/emit"
done

rc=0
"$RELAYLAB_BUILD/tests/e2e/badinput_ws" 127.0.0.1 "$WS" 4096 "$EPOCH" || rc=$?
expect ws_driver_completed "$([ "$rc" -le 1 ] && echo 0 || echo 1)" "exit $rc"

kill -0 "$(cat "$E2E_TMP/relay.pid")" 2>/dev/null
expect ws_relay_alive $?
ok=1
for _ in $(seq 1 50); do
  clients=$(curl -fsS "http://127.0.0.1:$HTTP/metrics" | awk '/^ws_clients /{print $2}')
  [ "${clients:-1}" = 0 ] && { ok=0; break; }
  sleep 0.1
done
expect ws_no_client_left_behind "$ok" "ws_clients=${clients:-?}"
exit "$E2E_FAILS"
