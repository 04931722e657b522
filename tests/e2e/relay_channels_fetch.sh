#!/usr/bin/env bash
# Channels over MongoDB (issues 10, 17): a replay the relay reads back from MongoDB in pages
# of 500, while the client leaves its channel. The first page holds only that channel's
# events; the broadcast events after it are still owed. MongoDB answers slowly (300 ms per
# reply, mongosim's latency fault) so that the unsubscribe lands while the replay is read.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node chan_fetch_prerequisites "$node_dir" ws
base=$(e2e_port_base 3)
mport=$((base + 2))
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 1 --log-level warn
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --mongo-uri "mongodb://127.0.0.1:$mport/?replicaSet=rs0" --history 20 --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/readyz" 20 || { fail chan_fetch_relay_ready "see $E2E_TMP/relay.log"; exit 1; }
(cd "$node_dir" && timeout 60 node chan_fetch.js "$base" $((base + 1)) emit) || true
# The ring (--history 20) must hold only the tail of the stream before the client comes.
for _ in $(seq 100); do
  [ "$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .offset)" = 635 ] && break
  sleep 0.1
done
epoch=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
"$RELAYLAB_ROOT/local-cluster/mongo-admin" --timeout 5 "$mport" mongosimLatency=1 member=0 ms=300 >/dev/null ||
  fail chan_fetch_latency_set "mongo-admin could not set the latency"
(cd "$node_dir" && timeout 60 node chan_fetch.js "$base" $((base + 1)) "$epoch") || true
exit "$E2E_FAILS"
