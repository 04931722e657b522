#!/usr/bin/env bash
# Channels (issue 17): a thousand clients on a few channels, events spread over them; every
# client gets exactly its channels' events and the broadcast ones, in order — across a
# client-side disconnect and resume (in-memory relay), across a relay stopped mid-stream
# with its clients resuming on another relay (two relays over MongoDB), and with a
# mid-stream {"subscribe":[...]}.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 10)
CLIENTS=${CHANNELS_CLIENTS:-1000}
EVENTS=${CHANNELS_EVENTS:-300}

echo "== in memory"
start_bg relay-mem "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --max-clients 5000 --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail channels_relay_ready "in-memory relay"; exit 1; }
"$RELAYLAB_BUILD/tests/e2e/relay_channels" memory "$CLIENTS" "$EVENTS" 0 "$base" $((base + 1)) ||
  E2E_FAILS=$((E2E_FAILS + 1))

echo "== two relays over MongoDB"
mport=$((base + 6))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 --log-level warn
for i in 0 1; do
  start_bg "relay-m$i" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2 + 2 * i)) \
    --http-port $((base + 3 + 2 * i)) --mongo-uri "$URI" --max-clients 5000 --history 100 \
    --log-level warn
done
for i in 0 1; do
  wait_http "http://127.0.0.1:$((base + 3 + 2 * i))/readyz" 20 ||
    { fail channels_relay_ready "relay over MongoDB $i"; exit 1; }
done
"$RELAYLAB_BUILD/tests/e2e/relay_channels" mongo "$CLIENTS" "$EVENTS" "$(cat "$E2E_TMP/relay-m0.pid")" \
  $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)) || E2E_FAILS=$((E2E_FAILS + 1))
exit "$E2E_FAILS"
