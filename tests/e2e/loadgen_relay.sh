#!/usr/bin/env bash
# loadgen against the real thing: mongosim (3 members) + relay + fakeapp --ws-mode relay.
# Every acknowledged product must reach every client: delivery_ratio == 1, nothing lost,
# duplicated, reordered or unexpected.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

need_built loadgen_relay_prerequisites relay mongosim fakeapp loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

base=$(e2e_port_base 10)
mongo=$((base + 10)) ws=$((base + 20)) intake=$((base + 21)) app=$((base + 22)) appws=$((base + 23))
clients=${LOADGEN_RELAY_CLIENTS:-50}

start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --bind 127.0.0.1
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$ws" --http-port "$intake"
wait_http "http://127.0.0.1:$intake/readyz" 10 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }

# fakeapp is configured through its environment twins (the same ones the Kubernetes
# manifests use), plus --ws-mode on the command line.
POD_NAME=app-0 FAKEAPP_PORT=$app FAKEAPP_WS_PORT=$appws FAKEAPP_BIND=127.0.0.1 FAKEAPP_DB=relaylab \
  MONGO_URI="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0" \
  RELAY_URL="http://127.0.0.1:$intake/emit" FAKEAPP_STORE_CHANNELS=1 \
  start_bg fakeapp "$RELAYLAB_BIN/fakeapp" --ws-mode relay
wait_http "http://127.0.0.1:$app/healthz" 15 || { fail fakeapp_start "see $E2E_TMP/fakeapp.log"; exit 1; }

rc=0
timeout -k 5 60 "$RELAYLAB_BIN/loadgen" run --target "http://127.0.0.1:$app" \
  --ws-target "http://127.0.0.1:$ws" --ws-path /websocket-service \
  --clients "$clients" --source-ips 127.0.0.10-127.0.0.40 --rate 50 --duration 4s --settle 2s \
  --json "$E2E_TMP/relay.json" --junit "$E2E_TMP/relay.xml" --history "$E2E_TMP/relay.jsonl" \
  --expect 'delivery_ratio==1' --expect 'lost==0' --expect 'duplicated==0' \
  --expect 'out_of_order==0' --expect 'unexpected==0' --expect 'requests.ok>=190' \
  >"$E2E_TMP/loadgen.out" 2>"$E2E_TMP/loadgen.err" || rc=$?
expect loadgen_relay_delivery_1 "$rc" "$(tail -12 "$E2E_TMP/loadgen.out" | tr '\n' ';')"
jrc=0
jq -e --argjson n "$clients" '.clients == $n and .connections.opened >= $n and .events.expected > 0' \
  "$E2E_TMP/relay.json" >/dev/null || jrc=$?
expect loadgen_relay_every_client_counted "$jrc" "$(jq -c '{clients,connections,events}' "$E2E_TMP/relay.json" 2>/dev/null)"

# Channels: products of store i % 4 go to channel store-<i % 4> (fakeapp --store-channels);
# client c joins store-<c % 4> with ?channels=. Each client is owed exactly its store's
# events, and must get nothing else.
rc=0
timeout -k 5 60 "$RELAYLAB_BIN/loadgen" run --target "http://127.0.0.1:$app" \
  --ws-target "http://127.0.0.1:$ws" --clients 20 --channels 4 --rate 40 --duration 2s --settle 1s \
  --json "$E2E_TMP/channels.json" --history "$E2E_TMP/channels.jsonl" \
  >"$E2E_TMP/channels.out" 2>"$E2E_TMP/channels.err" || rc=$?
jrc=0
jq -e '.delivery_ratio == 1 and .events.expected == 20 * 80 / 4 and .events.frames == .events.expected and .events.wrong_channel == 0' \
  "$E2E_TMP/channels.json" >/dev/null || jrc=$?
expect loadgen_relay_channels_exact "$jrc" "$(jq -c '{delivery_ratio,events}' "$E2E_TMP/channels.json" 2>/dev/null)"
exit "$E2E_FAILS"
