#!/usr/bin/env bash
# The unmodified socket.io-client (npm) on every transport — default options (polling, then
# the upgrade), polling only, websocket only — against the relay and against fakeapp's
# embedded Socket.IO server, and connection state recovery after forced disconnects
# (io.engine.close(), a cut network, a server-side heartbeat timeout): recovered:true and no
# gap; a restarted in-memory relay: recovered:false with the reason. Needs node (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node sio_prerequisites "$node_dir" socket.io-client
base=$(e2e_port_base 10)
relay_ws=$base relay_http=$((base + 1)) own_ws=$((base + 2)) own_http=$((base + 3))
mongo=$((base + 4)) app_http=$((base + 7)) app_ws=$((base + 8))

start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$relay_ws" --http-port "$relay_http" \
  --ping-interval 1s
start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --log-level warn
wait_http "http://127.0.0.1:$relay_http/readyz" 10 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }

# The relay, plus a relay of the driver's own that it restarts (log in E2E_TMP, so the
# sanitizer scan covers it).
own=$(printf '{"cmd":"%s","args":["--bind","127.0.0.1","--ws-port","%s","--http-port","%s","--ping-interval","1s"],"log":"%s","port":%s,"emit":"http://127.0.0.1:%s/emit"}' \
  "$RELAYLAB_BIN/relay" "$own_ws" "$own_http" "$E2E_TMP/own-relay.log" "$own_ws" "$own_http")
(cd "$node_dir" && timeout 240 node sio_transports.js relay "$relay_ws" "http://127.0.0.1:$relay_http/emit" "$own") ||
  fail relay_driver_exit "node sio_transports.js relay exited $? (a crash or timeout leaves checks unrun)"
# Every session the driver opened and ended (polling, upgraded, websocket) counted once, by
# reason: its clients close (disconnect()) and one is timed out by the heartbeat.
closes_check sio "$relay_http" client 1 ping_timeout 1

start_bg app "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$app_http" --ws-port "$app_ws" --pod app-1 \
  --mongo-uri "mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0" \
  --db sio_transports --ws-mode embedded
wait_http "http://127.0.0.1:$app_http/readyz" 20 || { fail app_start "see $E2E_TMP/app.log"; exit 1; }
(cd "$node_dir" && timeout 240 node sio_transports.js fakeapp "$app_ws" "http://127.0.0.1:$app_http/products") ||
  fail fakeapp_driver_exit "node sio_transports.js fakeapp exited $? (a crash or timeout leaves checks unrun)"
exit "$E2E_FAILS"
