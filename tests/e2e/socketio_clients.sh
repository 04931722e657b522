#!/usr/bin/env bash
# The unmodified socket.io-client doing what real pages do beyond listening (emits the relay
# does not handle, with and without acks, volatile and binary emits, subscribe acks with
# timeout(), every transport option, io("/admin") alone and multiplexed, disconnect() then
# connect()), binary attachments on the wire, and the limits: each answered as
# docs/protocol.md says and counted in /metrics; a client connected throughout loses
# nothing. Needs node (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node sio_prerequisites "$node_dir" socket.io-client
base=$(e2e_port_base 2)
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --ping-interval 1s --max-message 4k
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail clients_relay_ready "see $E2E_TMP/relay.log"; exit 1; }
(cd "$node_dir" && timeout 180 node sio_clients.js "$base" $((base + 1)) 4096) ||
  fail clients_driver_exit "node sio_clients.js exited $? (a crash or timeout leaves checks unrun)"

metrics=$(curl -fsS "http://127.0.0.1:$((base + 1))/metrics")
metric() { awk -v k="sio_client_packets_total{result=\"$1\"}" '$1 == k {print $2}' <<<"$metrics"; }
ignored=$(metric ignored) refused=$(metric refused) nsp=$(metric namespace_refused)
# 8 client modes x 6 events the relay does not act on (the volatile one may be dropped by
# the client), 2 raw binary events; 6 websocket refusals, 2 second websockets, 1 polling,
# 2 over maxPayload from socket.io-client; 1 + 2 namespace refusals.
expect clients_ignored_counted "$([ "${ignored:-0}" -ge 42 ] && echo 0 || echo 1)" "ignored=${ignored:-none}"
expect clients_refused_counted "$([ "${refused:-0}" -ge 11 ] && echo 0 || echo 1)" "refused=${refused:-none}"
expect clients_namespace_refused_counted "$([ "${nsp:-0}" -ge 3 ] && echo 0 || echo 1)" "namespace_refused=${nsp:-none}"
# Nothing left behind: every session of the driver is gone once it exited.
left=""
for ((i = 0; i < 60; i++)); do
  left=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | sed -n 's/.*"clients":\([0-9]*\).*/\1/p')
  [ "$left" = 0 ] && break
  sleep 0.1
done
expect clients_no_session_left "$([ "$left" = 0 ] && echo 0 || echo 1)" "clients=$left"
exit "$E2E_FAILS"
