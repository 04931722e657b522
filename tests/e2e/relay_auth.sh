#!/usr/bin/env bash
# Client authentication (issue 14): with --client-jwt-secret (HS256) or --client-jwt-key
# (RS256) a websocket or Socket.IO client must present a JWT; a missing, forged, expired or
# wrong-algorithm token is refused (plain websocket: close 4401; Socket.IO: connect_error
# with data.code; long-polling: 403) and counted; a token's "channels" claim bounds the
# channels the client may join; a session ends with 4401 when its token expires.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node
need_node auth_prerequisites "$node_dir" socket.io-client
jwt() { node "$node_dir/jwt.js" "$@"; }
base=$(e2e_port_base 6)
SECRET=relaylab-test-secret-0123456789abcdef
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --client-jwt-secret "$SECRET" --client-jwt-leeway 0 --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/readyz" 10 || { fail auth_relay_ready "see $E2E_TMP/relay.log"; exit 1; }

WS="ws://127.0.0.1:$base/websocket-service"
close_code() { # URL: the close code a plain client gets within 3 s ("open" when none)
  local out
  out=$("$RELAYLAB_BIN/wsprint" --timeout 3 "$1" 2>&1 >/dev/null || true)
  sed -nE 's/.*closed code=([0-9]+).*/\1/p' <<<"$out" | head -1 | grep . || echo open
}
good=$(jwt hs256 "$SECRET" '{"sub":"u1","exp":"+600","channels":["store-1"]}')
anych=$(jwt hs256 "$SECRET" '{"sub":"u2","exp":"+600","channels":["*"]}')
forged=$(jwt hs256 "not-the-secret-not-the-secret-000000" '{"sub":"u1","exp":"+600"}')
expired=$(jwt hs256 "$SECRET" '{"sub":"u1","exp":"-60"}')
future=$(jwt hs256 "$SECRET" '{"sub":"u1","nbf":"+600","exp":"+1200"}')

for c in "missing ''" "forged $forged" "expired $expired" "not_yet_valid $future" "garbage abc.def"; do
  name=${c%% *}
  tok=${c#* }
  [ "$tok" = "''" ] && tok=
  code=$(close_code "$WS${tok:+?token=$tok}")
  expect "auth_ws_${name}_closed_4401" "$([ "$code" = 4401 ] && echo 0 || echo 1)" "close code $code"
done
code=$(close_code "$WS?token=$good")
expect auth_ws_good_token_stays_open "$([ "$code" = open ] && echo 0 || echo 1)" "close code $code"

# The channels claim: store-1 granted, store-2 refused as forbidden; delivery follows.
timeout -k 2 4 "$RELAYLAB_BIN/wsprint" "$WS?token=$good&channels=store-1,store-2" >"$E2E_TMP/granted.out" 2>/dev/null &
p1=$!
timeout -k 2 4 "$RELAYLAB_BIN/wsprint" "$WS?token=$anych&channels=store-2" >"$E2E_TMP/any.out" 2>/dev/null &
p2=$!
sleep 0.7
for ch in store-1 store-2 ""; do
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$((base + 1))/emit" -H 'Content-Type: application/json' \
    -d "{\"event\":\"new_product\",\"payload\":{\"ch\":\"$ch\"}${ch:+,\"channel\":\"$ch\"}}"
done
wait "$p1" "$p2" || true
got=$(grep -o '"ch":"[^"]*"' "$E2E_TMP/granted.out" | tr '\n' ' ')
expect auth_channels_claim_bounds_delivery "$([ "$got" = '"ch":"store-1" "ch":"" ' ] && echo 0 || echo 1)" "got: $got"
expect auth_forbidden_join_told "$(grep -q '"channel":"store-2","reason":"forbidden"' "$E2E_TMP/granted.out" && echo 0 || echo 1)" \
  "$(grep _subscribed "$E2E_TMP/granted.out")"
got=$(grep -o '"ch":"[^"]*"' "$E2E_TMP/any.out" | tr '\n' ' ')
expect auth_star_claim_joins_any "$([ "$got" = '"ch":"store-2" "ch":"" ' ] && echo 0 || echo 1)" "got: $got"

# A session lives no longer than its token.
short=$(jwt hs256 "$SECRET" '{"sub":"u3","exp":"+2"}')
start=$(date +%s%N)
out=$("$RELAYLAB_BIN/wsprint" --timeout 8 "$WS?token=$short" 2>&1 >/dev/null || true)
ms=$((($(date +%s%N) - start) / 1000000))
expect auth_expired_session_closed "$(grep -q 'code=4401' <<<"$out" && [ "$ms" -ge 1000 ] && echo 0 || echo 1)" "after ${ms} ms: $out"

# Socket.IO (websocket and long-polling, as the client negotiates them).
(cd "$node_dir" && timeout 60 node sio_auth.js "$base" $((base + 1)) "$good" "$forged" "$expired") ||
  fail auth_sio_driver_exit "node sio_auth.js exited $? (a crash or timeout leaves checks unrun)"
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$base/socket.io/?EIO=4&transport=polling&token=$forged")
expect auth_polling_bad_token_403 "$([ "$st" = 403 ] && echo 0 || echo 1)" "HTTP $st"
# The same with channels in the query: the token is still read (the channels' buffer is not
# the token's), so a forged one is refused and a good one lets CONNECT in without auth.
poll="http://127.0.0.1:$base/socket.io/?EIO=4&transport=polling&channels=store-1"
st=$(curl -s -o /dev/null -w '%{http_code}' "$poll&token=$forged")
expect auth_polling_channels_bad_token_403 "$([ "$st" = 403 ] && echo 0 || echo 1)" "HTTP $st"
sid=$(curl -s -m 5 "$poll&token=$good" | sed -nE 's/^0\{"sid":"([^"]+)".*/\1/p')
curl -s -m 5 -o /dev/null -d 40 "$poll&sid=$sid" || true
got=$(curl -s -m 5 "$poll&sid=$sid" || true)
expect auth_polling_channels_good_token_connects "$([[ -n "$sid" && "$got" == 40\{* ]] && echo 0 || echo 1)" "sid=$sid got: ${got:0:120}"

n=$(curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk '/^ws_unauthorized_total /{print $2}')
expect auth_refusals_counted "$([ "${n:-0}" -ge 9 ] && echo 0 || echo 1)" "ws_unauthorized_total=${n:-none}"
# A polling session whose CONNECT carries a forged token gets the connect error and then the
# close on its next poll (a client that does not close first, as socket.io-client does): it
# ends as "unauthorized" in ws_client_closes_total, like the refused websockets and the
# expired session.
unauth() { curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk '$1 == "ws_client_closes_total{reason=\"unauthorized\"}" {print $2}'; }
u0=$(unauth)
poll="http://127.0.0.1:$base/socket.io/?EIO=4&transport=polling"
sid=$(curl -s -m 5 "$poll" | sed -nE 's/^0\{"sid":"([^"]+)".*/\1/p')
curl -s -m 5 -o /dev/null -d "40{\"token\":\"$forged\"}" "$poll&sid=$sid" || true
got=$(curl -s -m 5 "$poll&sid=$sid" || true)
for _ in 1 2 3 4 5 6 7 8 9 10; do # counted when the session is freed, just after the answer
  u1=$(unauth)
  [ "${u1:-0}" -gt "${u0:-0}" ] && break
  sleep 0.1
done
expect auth_polling_refused_connect_closes "$([[ "$got" == 44* && "$got" == *$'\x1e'1 ]] && [ "${u1:-0}" -eq $((${u0:-0} + 1)) ] && echo 0 || echo 1)" \
  "sid=$sid got: ${got:0:160}; unauthorized closes ${u0:-none} -> ${u1:-none} (want +1)"
closes_check auth $((base + 1)) unauthorized 3

# The app hands its page a token (fakeapp GET /token, same secret): the relay accepts it.
start_bg app "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port $((base + 3)) --ws-port 0 --ws-mode none \
  --mongo-uri "mongodb://127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=200" \
  --client-jwt-secret "$SECRET" --log-level error
wait_http "http://127.0.0.1:$((base + 3))/healthz" 10 || { fail auth_app_ready "see $E2E_TMP/app.log"; exit 1; }
apptok=$(curl -fsS "http://127.0.0.1:$((base + 3))/token" | jq -r .token)
code=$(close_code "$WS?token=$apptok")
expect auth_app_minted_token_accepted "$([ "$code" = open ] && [ "${#apptok}" -gt 40 ] && echo 0 || echo 1)" \
  "close code $code for '$apptok'"
stop_app() { kill "$(cat "$E2E_TMP/app.pid")" 2>/dev/null || true; }
stop_app

# RS256 with a public key file; an HS256 token keyed with that public key (alg confusion)
# and an RS256 token from another key are refused.
mkdir -p "$E2E_TMP/keys" "$E2E_TMP/other"
jwt keypair "$E2E_TMP/keys"
jwt keypair "$E2E_TMP/other"
start_bg relay-rs "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) --http-port $((base + 4)) \
  --client-jwt-key "$E2E_TMP/keys/public.pem" --log-level warn
wait_http "http://127.0.0.1:$((base + 4))/readyz" 10 || { fail auth_rs_relay_ready "see $E2E_TMP/relay-rs.log"; exit 1; }
WS2="ws://127.0.0.1:$((base + 2))/websocket-service"
code=$(close_code "$WS2?token=$(jwt rs256 "$E2E_TMP/keys/private.pem" '{"sub":"r","exp":"+600"}')")
expect auth_rs256_good_token_open "$([ "$code" = open ] && echo 0 || echo 1)" "close code $code"
code=$(close_code "$WS2?token=$(jwt hs256-with-file "$E2E_TMP/keys/public.pem" '{"sub":"r","exp":"+600"}')")
expect auth_rs256_alg_confusion_refused "$([ "$code" = 4401 ] && echo 0 || echo 1)" "close code $code"
code=$(close_code "$WS2?token=$(jwt rs256 "$E2E_TMP/other/private.pem" '{"sub":"r","exp":"+600"}')")
expect auth_rs256_other_key_refused "$([ "$code" = 4401 ] && echo 0 || echo 1)" "close code $code"
if "$RELAYLAB_BIN/relay" --ws-port 0 --http-port 0 --client-jwt-secret short >/dev/null 2>&1; then
  fail auth_short_secret_refused "the relay started with a 5-byte secret"
else
  pass auth_short_secret_refused
fi
exit "$E2E_FAILS"
