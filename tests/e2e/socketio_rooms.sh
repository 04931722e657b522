#!/usr/bin/env bash
# Channels as Socket.IO rooms with the unmodified socket.io-client (issue 17): joins by the
# auth payload and by acknowledged subscribe/unsubscribe events, refusals told, and each
# socket receiving exactly its rooms' events and the broadcast ones. Needs node (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node sio_prerequisites "$node_dir" socket.io-client
base=$(e2e_port_base 2)
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --max-channels 8 --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail rooms_relay_ready "see $E2E_TMP/relay.log"; exit 1; }
(cd "$node_dir" && timeout 60 node sio_rooms.js "$base" $((base + 1)) 8) ||
  fail rooms_driver_exit "node sio_rooms.js exited $? (a crash or timeout leaves checks unrun)"
refused=$(curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk '/^ws_channel_refused_total /{print $2}')
expect rooms_refusals_counted "$([ "${refused:-0}" -ge 5 ] && echo 0 || echo 1)" "ws_channel_refused_total=${refused:-none}"
exit "$E2E_FAILS"
