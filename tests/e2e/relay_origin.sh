#!/usr/bin/env bash
# --cors-origin: browsers may connect only from the listed origins. A page from another
# site is refused on the websocket upgrade (cross-site websocket hijacking: websockets
# have no CORS) and on Engine.IO polling (403, no CORS grant); listed origins get their
# CORS headers; clients that send no Origin (servers, curl) are never refused for it. The
# default (no list) keeps echoing any Origin, as the Socket.IO server with cors origin:true.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node origin_prerequisites "$node_dir" socket.io-client
base=$(e2e_port_base 4)
GOOD=https://shop.example
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --cors-origin "$GOOD, http://localhost:3000" --log-level warn
start_bg relay-any "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) --http-port $((base + 3)) \
  --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail origin_relay_ready "see $E2E_TMP/relay.log"; exit 1; }
wait_http "http://127.0.0.1:$((base + 3))/readyz" 10 || { fail origin_relay_any_ready "see $E2E_TMP/relay-any.log"; exit 1; }

poll() { # PORT ORIGIN|"" -> "STATUS ACAO"
  local h=()
  [ -n "$2" ] && h=(-H "Origin: $2")
  curl -sS -D "$E2E_TMP/h" -o "$E2E_TMP/b" --max-time 5 "${h[@]}" \
    "http://127.0.0.1:$1/socket.io/?EIO=4&transport=polling" >/dev/null || true
  printf '%s %s' "$(awk 'NR==1{print $2}' "$E2E_TMP/h")" \
    "$(tr -d '\r' <"$E2E_TMP/h" | awk -F': ' 'tolower($1)=="access-control-allow-origin"{print $2}')"
}
expect origin_listed_polling_granted "$([ "$(poll "$base" "$GOOD")" = "200 $GOOD" ] && echo 0 || echo 1)" "$(poll "$base" "$GOOD")"
expect origin_second_listed_granted "$([ "$(poll "$base" http://localhost:3000)" = "200 http://localhost:3000" ] && echo 0 || echo 1)" \
  "$(poll "$base" http://localhost:3000)"
got=$(poll "$base" https://evil.example)
expect origin_other_polling_403_no_grant "$([ "$got" = "403 " ] && grep -q '"code":4' "$E2E_TMP/b" && echo 0 || echo 1)" "$got $(cat "$E2E_TMP/b")"
expect origin_absent_polling_served "$([ "$(poll "$base" "")" = "200 " ] && echo 0 || echo 1)" "$(poll "$base" "")"
expect origin_default_echoes_any "$([ "$(poll $((base + 2)) https://evil.example)" = "200 https://evil.example" ] && echo 0 || echo 1)" \
  "$(poll $((base + 2)) https://evil.example)"

# The websocket upgrade, with the ws package (it sends the Origin it is given, as a browser does).
cat >"$E2E_TMP/ws_origin.js" <<'JS'
const WS = require(process.argv[2] + '/node_modules/ws');
const [, , , port, origin] = process.argv;
const opts = origin ? { origin } : {};
const ws = new WS(`ws://127.0.0.1:${port}/websocket-service`, opts);
const done = (r) => { console.log(r); process.exit(0); };
ws.on('message', (d) => { if (String(d).includes('_connected')) done('connected'); });
ws.on('unexpected-response', (req, res) => done(`refused ${res.statusCode}`));
ws.on('error', (e) => done(`error ${e.message}`));
setTimeout(() => done('timeout'), 5000);
JS
wsr() {
  local rc=0
  (cd "$node_dir" && timeout 10 node "$E2E_TMP/ws_origin.js" "$node_dir" "$@") || rc=$?
  [ "$rc" = 0 ] || echo "node exited $rc"
}
expect origin_listed_ws_upgraded "$([ "$(wsr "$base" "$GOOD")" = connected ] && echo 0 || echo 1)" "$(wsr "$base" "$GOOD")"
got=$(wsr "$base" https://evil.example)
expect origin_other_ws_refused_403 "$([ "$got" = "refused 403" ] && echo 0 || echo 1)" "$got"
got=$(cd "$node_dir" || exit
  timeout 10 node -e "
const { io } = require('socket.io-client');
const s = io('http://127.0.0.1:$base', { transports: ['websocket'], reconnection: false, extraHeaders: { Origin: 'https://evil.example' } });
s.on('connect', () => { console.log('connected'); process.exit(0); });
s.on('connect_error', (e) => { console.log('refused ' + e.message); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);" || true)
expect origin_other_socketio_ws_refused "$([ "${got%% *}" = refused ] && echo 0 || echo 1)" "$got"
expect origin_absent_ws_upgraded "$([ "$(wsr "$base")" = connected ] && echo 0 || echo 1)" "$(wsr "$base")"
refused=$(curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk '/^ws_origin_refused_total /{print $2}')
expect origin_refusals_counted "$([ "${refused:-0}" -ge 2 ] && echo 0 || echo 1)" "ws_origin_refused_total=${refused:-absent}"
exit "$E2E_FAILS"
