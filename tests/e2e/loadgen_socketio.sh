#!/usr/bin/env bash
# loadgen's Socket.IO client against the real Socket.IO server (npm socket.io, in
# tests/e2e/loadgen_sio/server.js): long-polling, the upgrade to websocket, websocket only
# (with channels joined through auth), answered heartbeats, connection state recovery after a forced drop, source addresses, the
# server's cookie sent back; then two servers behind nginx: round-robin breaks sessions
# ("Session ID unknown", counted), cookie affinity keeps them (only when loadgen keeps its
# cookies); and the relay's Socket.IO with channels (and long-polling once it serves it).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

peer=$RELAYLAB_ROOT/tests/e2e/loadgen_sio
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_node sio_prerequisites "$peer" socket.io
base=$(e2e_port_base 7)
A=$base B=$((base + 1)) RR=$((base + 2)) STICKY=$((base + 3)) RWS=$((base + 4)) RHTTP=$((base + 5)) BAD=$((base + 6))

# run NAME ARGS...: loadgen with a bounded time; report in $E2E_TMP/NAME.json.
run() {
  local name=$1 rc=0
  shift
  LOADGEN_PROGRESS=false timeout -k 5 60 "$RELAYLAB_BIN/loadgen" run --protocol socketio \
    --history "$E2E_TMP/$name.jsonl" --json "$E2E_TMP/$name.json" --settle 1s --warmup 5s \
    "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.log" || rc=$?
  [ -s "$E2E_TMP/$name.json" ] || fail "${name}_report" "loadgen exited $rc without a report"
}
# check NAME JQ-EXPR FILE
check() {
  if jq -e "$2" "$3" >/dev/null 2>&1; then pass "$1"; else
    fail "$1" "$2 on $(jq -c '{delivery_ratio, events, connections, socketio}' "$3" 2>/dev/null)"
  fi
}

# Pings every 300 ms, so that every run must answer many; a pong may take 1.5 s (a loaded
# machine, the sanitizers) before the server gives a client up.
start_bg peer-a node "$peer/server.js" --port "$A" --pod a --ping-interval 300 --ping-timeout 1500 \
  --recovery --set-cookie
start_bg peer-b node "$peer/server.js" --port "$B" --pod b --ping-interval 300 --ping-timeout 1500
if ! wait_http "http://127.0.0.1:$A/healthz" 20 || ! wait_http "http://127.0.0.1:$B/healthz" 20; then
  fail sio_peer_start "node server.js did not come up"
  exit 1
fi

# 1. The browser default (polling, then the upgrade), from four source addresses, with a drop
# of every transport in the middle: every client recovers its session and misses nothing.
(sleep 2.5 && curl -fsS -X POST "http://127.0.0.1:$A/kick" >"$E2E_TMP/kick.out") &
kick=$!
run default --target "http://127.0.0.1:$A" --clients 12 --rate 20 --duration 3s \
  --source-ips 127.0.0.30-127.0.0.33
wait "$kick" || true
curl -fsS "http://127.0.0.1:$A/stats" >"$E2E_TMP/stats-a.json"
r=$E2E_TMP/default.json
check sio_default_all_delivered '.delivery_ratio == 1 and .events.lost == 0 and .events.expected >= 12 * 40' "$r"
check sio_default_upgraded '.socketio.upgraded >= 24 and .socketio.upgrade_failed == 0 and .socketio.handshake_failed == 0' "$r"
check sio_default_kick_recovered '.connections.dropped == 12 and .connections.recovered == 12 and .connections.recovery_failed == 0' "$r"
check sio_server_saw_recovery '.recovered == 12' "$E2E_TMP/stats-a.json"
check sio_source_addresses '[.addrs[] | select(test("^127\\.0\\.0\\.3[0-3]$"))] | length == 4' "$E2E_TMP/stats-a.json"
check sio_server_cookie_sent_back '.cookieRequests > 0' "$E2E_TMP/stats-a.json"
expect sio_history_transports "$(jq -se '[.[] | select(.type == "connect")] | length == 24 and all(.transport == "polling")' "$E2E_TMP/default.jsonl" >/dev/null; echo $?)"

# 2. Long-polling only, with a 300 ms ping interval: pings answered, nobody dropped (a client
# that did not answer would be given up after 1.8 s of a 2.5 s session).
run polling --target "http://127.0.0.1:$A" --transport polling --clients 8 --rate 20 --duration 2s --settle 0.5s
r=$E2E_TMP/polling.json
check sio_polling_delivered '.delivery_ratio == 1 and .connections.dropped == 0 and .socketio.upgraded == 0' "$r"
expect sio_polling_pings_answered "$( [ "$(jq -s '[.[] | select(.type == "disconnect" and (.final | not))] | length' "$E2E_TMP/polling.jsonl")" -eq 0 ]; echo $?)"

# 3. Websocket only, with channels joined through auth: each client gets exactly its
# store's events.
run channels --target "http://127.0.0.1:$B" --transport websocket --clients 9 --channels 3 --rate 30 --duration 1.5s --settle 0.5s
r=$E2E_TMP/channels.json
check sio_websocket_channels_exact '.delivery_ratio == 1 and .events.expected == 3 * 45 and .events.frames == 3 * 45 and .events.wrong_channel == 0 and .connections.opened == 9 and .connections.dropped == 0' "$r"
expect sio_websocket_transport "$(jq -se '[.[] | select(.type == "connect")] | all(.transport == "websocket")' "$E2E_TMP/channels.jsonl" >/dev/null; echo $?)"
curl -fsS "http://127.0.0.1:$B/stats" >"$E2E_TMP/stats-b.json"
check sio_channels_joined '.rooms == {"store-0": 3, "store-1": 3, "store-2": 3}' "$E2E_TMP/stats-b.json"

# 4. The relay's own Socket.IO: events POSTed to its intake (the body template writes the
# emit), channels as rooms through auth; long-polling and the upgrade once the relay has them.
emit='{"event":"new_product","payload":{"req_id":"{{req_id}}"},"id":"{{req_id}}","channel":"store-{{store}}"}'
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$RWS" --http-port "$RHTTP" --ping-interval 1s
if wait_http "http://127.0.0.1:$RHTTP/readyz" 10; then
  run relay-channels --target "http://127.0.0.1:$RHTTP" --ws-target "http://127.0.0.1:$RWS" \
    --products-path /emit --body "$emit" --transport websocket --clients 9 --channels 3 --rate 30 --duration 1.5s --settle 0.5s
  check sio_relay_channels_exact '.delivery_ratio == 1 and .events.expected == 3 * 45 and .events.wrong_channel == 0 and .events.out_of_order == 0' "$E2E_TMP/relay-channels.json"
  if curl -fsS --max-time 2 "http://127.0.0.1:$RWS/socket.io/?EIO=4&transport=polling" 2>/dev/null | grep -q '^0{'; then
    run relay-polling --target "http://127.0.0.1:$RHTTP" --ws-target "http://127.0.0.1:$RWS" \
      --products-path /emit --body "$emit" --clients 9 --channels 3 --rate 30 --duration 1.5s --settle 0.5s
    check sio_relay_polling_upgrade '.delivery_ratio == 1 and .socketio.upgraded == 9 and .socketio.transport_errors == 0' "$E2E_TMP/relay-polling.json"
  else
    echo "info: this relay serves no long-polling yet; the polling case against it is skipped"
  fi
else
  fail sio_relay_start "see $E2E_TMP/relay.log"
fi

# 5. A server that answers with broken HTTP and broken packets: every failure is counted,
# nothing crashes (under the sanitizers too: lib.sh checks every log), a report comes out.
start_bg bad-server python3 "$peer/bad_server.py" "$BAD"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$BAD") 2>/dev/null && break; sleep 0.1; done
run bad --target "http://127.0.0.1:$BAD" --clients 30 --rate 5 --duration 1.5s --warmup 1s \
  --settle 0.5s --reconnect-min 10ms --reconnect-max 50ms
check sio_bad_server_counted '.socketio.handshake_failed >= 30 and .connections.failed >= .socketio.handshake_failed and .events.received == 0' "$E2E_TMP/bad.json"

# 6. Two servers behind nginx: round-robin, and cookie affinity as ingress-nginx does it.
if [ ! -x "$NGINX" ]; then
  fail sio_nginx "nginx not installed (make deps)"
  exit "$E2E_FAILS"
fi
mkdir -p "$E2E_TMP/nginx/tmp"
{
  nginx_conf_head "$E2E_TMP/nginx" 1024
  cat <<CONF
  upstream apps { server 127.0.0.1:$A; server 127.0.0.1:$B; }
  # Cookie affinity: the first answer names the server in a cookie; requests that carry
  # it go back there (ingress-nginx's affinity: cookie, in plain nginx).
  map \$cookie_lgroute \$sticky { "a" 127.0.0.1:$A; "b" 127.0.0.1:$B; default apps; }
  map \$upstream_addr \$route { "127.0.0.1:$A" a; "127.0.0.1:$B" b; default ""; }
  server {
    listen 127.0.0.1:$RR;
    location / {
      proxy_pass http://apps;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
    }
  }
  server {
    listen 127.0.0.1:$STICKY;
    location / {
      proxy_pass http://\$sticky;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      add_header Set-Cookie "lgroute=\$route; Path=/" always;
    }
  }
}
CONF
} >"$E2E_TMP/nginx/nginx.conf"
start_bg nginx "$NGINX" -p "$E2E_TMP/nginx" -c "$E2E_TMP/nginx/nginx.conf"
wait_http "http://127.0.0.1:$RR/healthz" 10 || { fail sio_nginx_start "see $E2E_TMP/nginx/error.log"; exit 1; }

run rr --target "http://127.0.0.1:$RR" --clients 10 --rate 10 --duration 1s --warmup 1s --settle 0.5s
check sio_rr_unknown_sid_counted '.socketio.unknown_sid >= 1 and .socketio.transport_errors >= .socketio.unknown_sid' "$E2E_TMP/rr.json"
expect sio_rr_history_names_it "$(grep -q '"type":"transport_error".*"code":1,"error":"Session ID unknown"' "$E2E_TMP/rr.jsonl"; echo $?)"

run sticky --target "http://127.0.0.1:$STICKY" --clients 10 --rate 20 --duration 1.5s --settle 0.5s
check sio_sticky_sessions_hold '.socketio.unknown_sid == 0 and .socketio.transport_errors == 0 and .socketio.upgraded == 10 and .socketio.upgrade_failed == 0 and .connections.opened == 10 and .connections.dropped == 0' "$E2E_TMP/sticky.json"
# Each client hears only its own server's events: about half of them (the seed's bug).
check sio_sticky_embedded_halves '.client_delivery.max < 0.8 and .client_delivery.min > 0.2' "$E2E_TMP/sticky.json"

run nocookies --target "http://127.0.0.1:$STICKY" --clients 10 --rate 10 --duration 1s --warmup 1s --settle 0.5s --no-cookies
check sio_sticky_needs_cookies '.socketio.unknown_sid >= 1' "$E2E_TMP/nocookies.json"
exit "$E2E_FAILS"
