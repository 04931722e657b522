#!/usr/bin/env bash
# The seed's own architecture (examples/seed-app: Express + Socket.IO + the official MongoDB
# driver) on mongosim, three replicas behind nginx, driven by loadgen through the app API
# flags, with the rows the lab shows for fakeapp:
#   embedded-rr          each client hears its own replica: ~1/3 delivered; with the
#                        browser's default transports the sessions break ("Session ID unknown")
#   embedded-sticky-ws   /socket.io/ hashed by client address: sessions hold, still ~1/3
#   relay                apps POST /emit to the relay: everything delivered (plain websocket
#                        and Socket.IO), and with per-store channels exactly each store's events
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

app_dir=$RELAYLAB_ROOT/examples/seed-app
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_built seed_prerequisites relay mongosim loadgen
if [ ! -x "$NGINX" ]; then
  fail seed_prerequisites "nginx is needed (make deps installs it)"
  exit 1
fi
need_node seed_prerequisites "$app_dir" mongodb
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

base=$(e2e_port_base 20)
rr=$base sticky=$((base + 1)) relayfront=$((base + 2)) ws=$((base + 7)) intake=$((base + 8))
mongo=$((base + 10))
app_port() { echo $((base + 2 + $1)); } # apps 1..3 on base+3..base+5
uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --bind 127.0.0.1 --log-level warn

# start_apps MODE [ENV...]: three replicas with the app contract's environment only: the
# relay topology gives RELAY_URL and RELAY_TOKEN, the embedded ones do not (the app picks
# its mode from that, as a team's app would).
app_pids=()
start_apps() {
  local mode=$1 i relay_env=()
  shift
  app_pids=()
  [ "$mode" = relay ] && relay_env=(RELAY_URL="http://127.0.0.1:$intake/emit" RELAY_TOKEN="$token")
  for i in 1 2 3; do
    env PORT="$(app_port $i)" BIND=127.0.0.1 POD_NAME="app-$i" MONGO_URI="$uri" \
      ${relay_env[@]+"${relay_env[@]}"} "$@" \
      node "$app_dir/server.js" >"$E2E_TMP/app-$i-$mode.log" 2>&1 &
    app_pids+=($!)
    E2E_PIDS+=($!)
  done
  for i in 1 2 3; do
    wait_http "http://127.0.0.1:$(app_port $i)/healthz" 30 ||
      { fail "seed_${mode}_start" "app-$i not ready; see $E2E_TMP/app-$i-$mode.log"; return 1; }
  done
}
stop_apps() {
  local p
  for p in "${app_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${app_pids[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
}

mkdir -p "$E2E_TMP/nginx/tmp"
{
  nginx_conf_head "$E2E_TMP/nginx" 4096
  cat <<CONF
  upstream apps { server 127.0.0.1:$(app_port 1); server 127.0.0.1:$(app_port 2); server 127.0.0.1:$(app_port 3); }
  upstream apps_by_addr { hash \$remote_addr; server 127.0.0.1:$(app_port 1); server 127.0.0.1:$(app_port 2); server 127.0.0.1:$(app_port 3); }
  upstream relay_ws { server 127.0.0.1:$ws; }
CONF
  for front in "rr $rr apps" "sticky $sticky apps_by_addr" "relay $relayfront relay_ws"; do
    read -r name port ws_up <<<"$front"
    cat <<CONF
  server {  # $name
    listen 127.0.0.1:$port;
    location / { proxy_pass http://apps; proxy_http_version 1.1; proxy_set_header Connection ""; }
CONF
    for loc in /socket.io/ /websocket-service; do
      cat <<CONF
    location $loc {
      proxy_pass http://$ws_up;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_read_timeout 60s;
    }
CONF
    done
    echo "  }"
  done
  echo "}"
} >"$E2E_TMP/nginx/nginx.conf"
start_bg nginx "$NGINX" -p "$E2E_TMP/nginx" -c "$E2E_TMP/nginx/nginx.conf"

# run NAME FRONT_PORT ARGS...: loadgen through a front; the report in $E2E_TMP/NAME.json.
run() {
  local name=$1 port=$2 rc=0
  shift 2
  LOADGEN_PROGRESS=false timeout -k 5 60 "$RELAYLAB_BIN/loadgen" run --target "http://127.0.0.1:$port" \
    --clients 30 --source-ips 127.0.0.10-127.0.0.250 --rate 30 --duration 2s --settle 0.5s \
    --warmup 5s --history "$E2E_TMP/$name.jsonl" --json "$E2E_TMP/$name.json" "$@" \
    >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.log" || rc=$?
  [ -s "$E2E_TMP/$name.json" ] || { fail "${name}_report" "loadgen exited $rc without a report"; return; }
  jq -r --arg n "$name" '"info: \($n): delivered \(.delivery_ratio // "n/a"), client mean \(.client_delivery.mean // "n/a"), lost \(.events.lost), pods \(.requests_per_pod | to_entries | map("\(.key)=\(.value)") | join(" ")), unknown sid \(.socketio.unknown_sid), upgraded \(.socketio.upgraded)"' "$E2E_TMP/$name.json"
}
check() {
  if jq -e "$2" "$3" >/dev/null 2>&1; then pass "$1"; else
    fail "$1" "$2 on $(jq -c '{delivery_ratio, client_delivery, events, connections, socketio, requests_per_pod}' "$3" 2>/dev/null)"
  fi
}

start_apps embedded || exit 1
# embedded-rr: the seed's original architecture. Each client hears its own replica.
run seed-embedded-rr "$rr" --protocol socketio --transport websocket
check seed_embedded_rr_one_third '.client_delivery.mean >= 0.253 and .client_delivery.mean <= 0.413 and .client_delivery.max <= 0.45 and .pod_share_max <= 0.45 and .requests.failed == 0' "$E2E_TMP/seed-embedded-rr.json"
# ... and with the browser's default transports, polls land on replicas that never saw the
# session: the seed's first symptom.
run seed-embedded-rr-polling "$rr" --protocol socketio --warmup 1s --duration 1s
check seed_embedded_rr_session_unknown '.socketio.unknown_sid >= 1' "$E2E_TMP/seed-embedded-rr-polling.json"
# embedded-sticky-ws: sessions hold (hash by address), events still reach a third.
run seed-embedded-sticky-ws "$sticky" --protocol socketio
check seed_embedded_sticky_ws_one_third '.socketio.unknown_sid == 0 and .socketio.upgraded >= 30 and .client_delivery.mean >= 0.253 and .client_delivery.mean <= 0.413' "$E2E_TMP/seed-embedded-sticky-ws.json"
stop_apps

# relay: the fix. The apps POST to the relay; clients hold one connection to it.
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$ws" --http-port "$intake" \
  --token "$token" --log-level warn
wait_http "http://127.0.0.1:$intake/readyz" 10 || { fail seed_relay_start "see $E2E_TMP/relay.log"; exit 1; }
start_apps relay STORE_CHANNELS=1 || exit 1
run seed-relay "$relayfront"
check seed_relay_all_delivered '.delivery_ratio == 1 and .events.lost == 0 and .events.duplicated == 0 and .pod_share_max <= 0.45' "$E2E_TMP/seed-relay.json"
# Socket.IO clients of the relay, each in its store's channel (a room, joined through auth).
run seed-relay-socketio-channels "$relayfront" --protocol socketio --transport websocket --channels 3
check seed_relay_socketio_channels_exact '.delivery_ratio == 1 and .events.lost == 0 and .events.expected == 30 * 60 / 3 and .events.wrong_channel == 0' "$E2E_TMP/seed-relay-socketio-channels.json"
stop_apps
exit "$E2E_FAILS"
