#!/usr/bin/env bash
# The relay's /socket.io/ endpoint against the real socket.io-client (npm): fan-out, order,
# resume through auth and query, heartbeats, namespaces. Needs node and
# socket.io-client (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node sio_prerequisites "$node_dir" socket.io-client
base=$(e2e_port_base 4)
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --ping-interval 1s
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail relay_start "relay did not come up"; exit 1; }
timeout 120 node "$node_dir/sio_check.js" "$base" $((base + 1)) "${SIO_CLIENTS:-50}" 30 ||
  fail sio_driver_exit "node sio_check.js exited $? (a crash or timeout leaves checks unrun)"
exit "$E2E_FAILS"
