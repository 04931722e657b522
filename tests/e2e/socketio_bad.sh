#!/usr/bin/env bash
# Malformed Engine.IO long-polling and upgrade requests against the relay's /socket.io/, each
# with its documented answer (docs/protocol.md): unknown sid, bad EIO, bad transport, bad
# handshake method, oversized and lying POSTs, bad packets and separators, invalid UTF-8,
# concurrent polls and posts, requests after close, expiry, CORS. Needs node (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
command -v node >/dev/null || { fail sio_prerequisites "node is needed (make deps)"; exit 1; }
base=$(e2e_port_base 4)
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --ping-interval 1s --max-message 4k
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }
timeout 120 node "$node_dir/sio_bad.js" "$base" 4096 1000 ||
  fail sio_bad_driver_exit "node sio_bad.js exited $? (a crash or timeout leaves checks unrun)"
# The relay still answers its intake and counts the refusals.
errors=$(curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk '/^sio_polling_errors_total /{print $2}')
expect sio_errors_counted "$([ "${errors:-0}" -ge 20 ] && echo 0 || echo 1)" "sio_polling_errors_total=${errors:-none}"
# The sessions it left ended and were counted: one never polled (poll expiry), one polled
# but never answering the ping (ping timeout, each logged sio_ping_timeout).
m=$(curl -fsS "http://127.0.0.1:$((base + 1))/metrics")
expired=$(awk '/^sio_polling_expired_total /{print $2}' <<<"$m")
pingto=$(awk '/^sio_ping_timeouts_total /{print $2}' <<<"$m")
logged=$(grep -c 'sio_ping_timeout ' "$E2E_TMP/relay.log" || true)
expect sio_session_ends_counted "$([ -n "$pingto" ] && [ "$pingto" = "$logged" ] &&
  [ "$pingto" -ge 1 ] && [ "${expired:-0}" -ge 1 ] && echo 0 || echo 1)" \
  "sio_polling_expired_total=${expired:-none} sio_ping_timeouts_total=${pingto:-none}, $logged logged"
# ... and in ws_client_closes_total, beside the sessions closed for bad packets.
closes_check sio_bad $((base + 1)) ping_timeout 2 protocol 1

# A sub-second --ping-interval is kept as given (it was rounded up to whole seconds).
start_bg relay-fastping "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) --http-port $((base + 3)) \
  --ping-interval 300ms --log-level warn
wait_http "http://127.0.0.1:$((base + 3))/readyz" 10 || fail fastping_relay_start "see $E2E_TMP/relay-fastping.log"
hs=$(curl -sS --max-time 5 "http://127.0.0.1:$((base + 2))/socket.io/?EIO=4&transport=polling" || true)
expect sio_ping_interval_sub_second "$(grep -q '"pingInterval":300,' <<<"$hs" && echo 0 || echo 1)" "handshake: $hs"
exit "$E2E_FAILS"
