#!/usr/bin/env bash
# A real browser on the seed's page. Headless Chromium (Debian's chromium, driven by npm
# puppeteer-core) opens fakeapp's page through an nginx ingress, creates products with the
# form, and records the console and what the page shows (tests/e2e/browser/page.js):
#   embedded-rr  three apps with their own Socket.IO servers, round-robin: the seed's warning
#                (failed upgrade / "Session ID unknown" / a websocket closed before it opened)
#                appears and products are missing;
#   relay        the apps emit through the relay: no such warning, every product arrives;
#   relay-auth   the same with client authentication on: the page gets its token from the
#                app (GET /token) and the relay lets it in.
# Screenshots and results stay in $RELAYLAB_BUILD/test-logs/browser/. Prints SKIP (and counts
# nothing as passed) only when Chromium cannot start.
# e2e-serial: Chromium takes the machine's two cores while it starts and renders.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
page_js=$RELAYLAB_ROOT/tests/e2e/browser/page.js
out=$RELAYLAB_BUILD/test-logs/browser
NGINX=${CLUSTER_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
products=${BROWSER_PRODUCTS:-6}
for t in node jq "$NGINX"; do
  command -v "$t" >/dev/null || { fail browser_prerequisites "$t is not installed (make deps)"; exit 1; }
done
[ -d "$node_dir/node_modules/puppeteer-core" ] ||
  { fail browser_prerequisites "puppeteer-core is not installed (make deps)"; exit 1; }
[ -x "$RELAYLAB_BIN/web/socket.io-client/dist/socket.io.min.js" ] || [ -f "$RELAYLAB_BIN/web/socket.io-client/dist/socket.io.min.js" ] ||
  { fail browser_prerequisites "socket.io bundle not in $RELAYLAB_BIN/web (make deps, then make)"; exit 1; }

base=$(e2e_port_base 16)
ingress=$base mongo=$((base + 1)) relay_ws=$((base + 4)) relay_http=$((base + 5))
app_http() { echo $((base + 5 + $1)); }
app_ws() { echo $((base + 8 + $1)); }
uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --log-level warn

# nginx as the ingress: / (page and API) round-robin over the apps; /socket.io/ to the apps'
# own Socket.IO servers (embedded-rr) or to the relay, whose page script still comes from
# the apps (relay).
write_conf() { # TOPOLOGY
  local topo=$1 d=$E2E_TMP/nginx-$1 i
  mkdir -p "$d/tmp"
  {
    echo "daemon off; master_process off; worker_processes 1; pid $d/nginx.pid; error_log $d/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http {"
    echo "  access_log $d/access.log; client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;"
    echo "  fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;"
    echo "  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }"
    echo "  upstream apps_http {"
    for i in 1 2 3; do echo "    server 127.0.0.1:$(app_http "$i");"; done
    echo "  }"
    echo "  upstream sio {"
    if [[ $topo == relay* ]]; then
      echo "    server 127.0.0.1:$relay_ws;"
    else
      for i in 1 2 3; do echo "    server 127.0.0.1:$(app_ws "$i");"; done
    fi
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$ingress;"
    echo "    location / { proxy_pass http://apps_http; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
    [[ $topo == relay* ]] && echo "    location = /socket.io/socket.io.js { proxy_pass http://apps_http; }"
    echo "    location /socket.io/ { proxy_pass http://sio; proxy_http_version 1.1;"
    echo "      proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection \$connection_upgrade;"
    echo "      proxy_set_header Host \$host; proxy_read_timeout 3600s; proxy_buffering off; }"
    echo "  }"
    echo "}"
  } >"$d/nginx.conf"
  echo "$d"
}

stop() { # NAME...
  local n pid
  for n in "$@"; do
    pid=$(cat "$E2E_TMP/$n.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || true
    timeout 10 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
  done
}

run_topology() { # TOPOLOGY
  local topo=$1 d i mode=embedded rc=0 auth=()
  [ "$topo" = relay-auth ] && auth=(--client-jwt-secret relaylab-browser-secret-0123456789abcdef)
  if [[ $topo == relay* ]]; then
    mode=relay
    start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$relay_ws" --http-port "$relay_http" \
      "${auth[@]}"
    wait_http "http://127.0.0.1:$relay_http/readyz" 10 || { fail "${topo}_relay_start" "see $E2E_TMP/relay.log"; return; }
  fi
  for i in 1 2 3; do
    start_bg "$topo-app-$i" "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$(app_http "$i")" \
      --ws-port "$(app_ws "$i")" --pod "app-$i" --mongo-uri "$uri" --db "browser_${topo//-/_}" \
      --ws-mode "$mode" --relay-url "http://127.0.0.1:$relay_http/emit" "${auth[@]}"
  done
  for i in 1 2 3; do
    wait_http "http://127.0.0.1:$(app_http "$i")/readyz" 20 || { fail "${topo}_app_start" "see $E2E_TMP/$topo-app-$i.log"; return; }
  done
  d=$(write_conf "$topo")
  start_bg "nginx-$topo" "$NGINX" -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
  wait_http "http://127.0.0.1:$ingress/healthz" 10 || { fail "${topo}_nginx_start" "see $d/error.log"; return; }
  rm -rf "${out:?}/$topo"
  timeout 120 node "$page_js" "http://127.0.0.1:$ingress/" "$out/$topo" "$products" || rc=$?
  # People open an app's own port too (http://127.0.0.1:<app port>/), not the ingress.
  if [ "$rc" -eq 0 ] && [ "$topo" != relay-auth ]; then
    rm -rf "${out:?}/$topo-direct"
    timeout 120 node "$page_js" "http://127.0.0.1:$(app_http 1)/" "$out/$topo-direct" "$products" || rc=$?
  fi
  stop "nginx-$topo" "$topo-app-1" "$topo-app-2" "$topo-app-3" relay
  return "$rc"
}

rc=0
run_topology embedded-rr || rc=$?
if [ "$rc" -eq 3 ]; then
  echo "SKIP: browser: $(jq -r .skipped "$out/embedded-rr/result.json")"
  exit 0
fi
[ "$rc" -eq 0 ] || fail embedded_rr_page_driven "page.js exited $rc (see $out/embedded-rr)"
rc=0
run_topology relay || rc=$?
[ "$rc" -eq 0 ] || fail relay_page_driven "page.js exited $rc (see $out/relay)"
rc=0
run_topology relay-auth || rc=$?
[ "$rc" -eq 0 ] || fail relay_auth_page_driven "page.js exited $rc (see $out/relay-auth)"

r=$out/embedded-rr/result.json
if [ -f "$r" ]; then
  expect embedded_rr_page_served "$(jq -e '.status == 200' "$r" >/dev/null; echo $?)" "$(jq -c .status "$r")"
  expect embedded_rr_products_created "$(jq -e --argjson n "$products" '.state.created == $n' "$r" >/dev/null; echo $?)" \
    "$(jq -c .state "$r")"
  expect embedded_rr_seed_warning_in_console "$(jq -e '.seed_warning > 0' "$r" >/dev/null; echo $?)" \
    "console: $(jq -c '[.console[].text]' "$r" | head -c 600)"
  expect embedded_rr_products_missing "$(jq -e '.missing > 0' "$r" >/dev/null; echo $?)" "$(jq -c .state "$r")"
  echo "info: embedded-rr console: $(jq -c '[.console[] | .type + ": " + .text] | .[:8]' "$r")"
fi
r=$out/relay/result.json
if [ -f "$r" ]; then
  expect relay_page_served "$(jq -e '.status == 200' "$r" >/dev/null; echo $?)" "$(jq -c .status "$r")"
  expect relay_every_product_arrives "$(jq -e --argjson n "$products" '.state.created == $n and .state.live == $n' "$r" >/dev/null; echo $?)" \
    "$(jq -c .state "$r")"
  expect relay_no_seed_warning "$(jq -e '.seed_warning == 0' "$r" >/dev/null; echo $?)" \
    "console: $(jq -c '[.console[].text]' "$r" | head -c 600)"
  expect relay_upgraded_to_websocket "$(jq -e '.state.transport == "websocket"' "$r" >/dev/null; echo $?)" "$(jq -c .state "$r")"
  expect relay_screenshot "$([ -s "$out/relay/screenshot.png" ] && echo 0 || echo 1)" "no screenshot"
  echo "info: relay console: $(jq -c '[.console[] | .type + ": " + .text] | .[:8]' "$r")"
fi
# The page opened on app-1's own port: with its own Socket.IO server (embedded) it connects
# to that server's port and shows every product it creates (all of them go to app-1); with
# the relay, which only the ingress routes to, it says so instead of retrying for ever.
r=$out/embedded-rr-direct/result.json
if [ -f "$r" ]; then
  expect direct_embedded_page_live "$(jq -e --argjson n "$products" '.state.direct == true and .state.created == $n and .state.live == $n and .state.connects >= 1' "$r" >/dev/null; echo $?)" \
    "$(jq -c '{state, status_line}' "$r"); console: $(jq -c '[.console[].text]' "$r" | head -c 400)"
else
  fail direct_embedded_page_live "no $r"
fi
r=$out/relay-direct/result.json
if [ -f "$r" ]; then
  expect direct_relay_page_says_why "$(jq -e --argjson n "$products" '.state.direct == true and .state.created == $n and .state.connects == 0 and (.status_line | test("through the ingress")) and ([.console[] | select(.type == "error")] | length == 0)' "$r" >/dev/null; echo $?)" \
    "$(jq -c '{state, status_line}' "$r"); console: $(jq -c '[.console[] | .type + ": " + .text]' "$r" | head -c 400)"
else
  fail direct_relay_page_says_why "no $r"
fi
r=$out/relay-auth/result.json
if [ -f "$r" ]; then
  expect relay_auth_page_gets_token_and_every_product "$(jq -e --argjson n "$products" '.state.created == $n and .state.live == $n' "$r" >/dev/null; echo $?)" \
    "$(jq -c .state "$r"); console: $(jq -c '[.console[].text]' "$r" | head -c 400)"
fi
exit "$E2E_FAILS"
