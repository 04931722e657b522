#!/usr/bin/env bash
# Socket.IO connection state recovery across two relays that share one stream through
# MongoDB (mongosim): a socket.io-client socket moved from relay A to relay B (each
# transport) comes back with recovered:true and the same pid, and B replays what its ring no
# longer holds from MongoDB. Needs node (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node sio_prerequisites "$node_dir" socket.io-client
base=$(e2e_port_base 8)
mport=$((base + 4))
uri="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 --log-level warn
for i in 0 1; do
  start_bg "relay$i" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2 * i)) \
    --http-port $((base + 2 * i + 1)) --mongo-uri "$uri" --history 4 --ping-interval 1s
done
for i in 0 1; do
  wait_http "http://127.0.0.1:$((base + 2 * i + 1))/readyz" 20 || { fail "relay${i}_ready" "see $E2E_TMP/relay$i.log"; exit 1; }
done
(cd "$node_dir" && timeout 180 node sio_multi.js "$base" $((base + 1)) $((base + 2)) $((base + 3))) ||
  fail multi_driver_exit "node sio_multi.js exited $? (a crash or timeout leaves checks unrun)"
fetches=$(curl -fsS "http://127.0.0.1:$((base + 3))/metrics" | awk '/^ws_replay_fetches_total /{print $2}')
expect multi_replayed_from_mongodb "$([ "${fetches:-0}" -ge 1 ] && echo 0 || echo 1)" "ws_replay_fetches_total=${fetches:-none} on relay B"
exit "$E2E_FAILS"
