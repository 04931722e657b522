#!/usr/bin/env bash
# The relay's intake against malformed requests: each gets its documented status and a
# message naming the problem, and the relay keeps serving normally afterwards.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 4)
WS=$base
HTTP=$((base + 1))
TOKEN=t0ken-e2e
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$WS" --http-port "$HTTP" \
  --token "$TOKEN" --max-body 64k --body-timeout 1s
wait_http "http://127.0.0.1:$HTTP/healthz" 10 || { fail relay_start "relay did not come up"; exit 1; }
URL=http://127.0.0.1:$HTTP

# case NAME WANT_STATUS WANT_SUBSTRING CURL_ARGS...
case_() {
  local name=$1 want=$2 substr=$3 out code
  shift 3
  out=$E2E_TMP/$name.body
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 "$@" 2>/dev/null || true)
  if [ "$code" = "$want" ] && grep -qF -- "$substr" "$out"; then
    pass "intake_$name"
  else
    fail "intake_$name" "status $code (want $want), body: $(head -c 200 "$out" 2>/dev/null)"
  fi
}
J=(-H 'Content-Type: application/json')
A=(-H "Authorization: Bearer $TOKEN")
P=(-X POST "$URL/emit")

case_ bad_json 400 "invalid JSON" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":'
case_ not_object 400 "must be a JSON object, got array" "${P[@]}" "${A[@]}" "${J[@]}" -d '[1,2]'
case_ string_root 400 "got string" "${P[@]}" "${A[@]}" "${J[@]}" -d '"hi"'
case_ empty_body 400 "empty body" "${P[@]}" "${A[@]}" "${J[@]}" -d ''
case_ missing_event 400 "missing field 'event'" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"payload":{}}'
case_ event_number 400 "'event' must be a string, got integer" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":7,"payload":{}}'
case_ event_null 400 "'event' must be a string, got null" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":null,"payload":{}}'
case_ event_empty 400 "'event' must be 1-64 characters" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"","payload":{}}'
case_ event_reserved 400 "'event' must be 1-64 characters" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"_recovery","payload":{}}'
case_ event_spaces 400 "'event' must be 1-64 characters" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"new product","payload":{}}'
long=$(printf 'e%.0s' $(seq 1 65))
case_ event_too_long 400 "'event' must be 1-64 characters" "${P[@]}" "${A[@]}" "${J[@]}" -d "{\"event\":\"$long\",\"payload\":{}}"
case_ missing_payload 400 "missing field 'payload'" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x"}'
case_ payload_array 400 "'payload' must be an object, got array" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","payload":[]}'
case_ payload_string 400 "'payload' must be an object, got string" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","payload":"s"}'
case_ id_number 400 "'id' must be a string, got integer" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","payload":{},"id":12}'
case_ id_spaces 400 "'id' must be 1-128 printable" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","payload":{},"id":"a b"}'
case_ unknown_field 400 "unknown field 'evnt'" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"evnt":"x","event":"x","payload":{}}'
case_ duplicate_key 400 "duplicate object key" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","event":"y","payload":{}}'
printf '{"event":"x","payload":{"a":"b\0c"}}' >"$E2E_TMP/nul.json"
case_ nul_byte 400 "NUL byte" "${P[@]}" "${A[@]}" "${J[@]}" --data-binary "@$E2E_TMP/nul.json"
case_ escaped_nul 400 "invalid JSON" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","payload":{"a":"\u0000"}}'
printf '{"event":"x","payload":{"a":"\xff\xfe"}}' >"$E2E_TMP/utf8.json"
case_ invalid_utf8 400 "invalid JSON" "${P[@]}" "${A[@]}" "${J[@]}" --data-binary "@$E2E_TMP/utf8.json"
deep=$(printf '[%.0s' $(seq 1 200))$(printf ']%.0s' $(seq 1 200))
case_ deep_nesting 400 "nested deeper than 32" "${P[@]}" "${A[@]}" "${J[@]}" -d "{\"event\":\"x\",\"payload\":{\"a\":$deep}}"
case_ trailing_garbage 400 "invalid JSON" "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"x","payload":{}} {}'
head -c 10485760 /dev/zero | tr '\0' 'a' >"$E2E_TMP/big.json"
case_ body_10mb 413 "exceeds the limit of 65536 bytes" "${P[@]}" "${A[@]}" "${J[@]}" --data-binary "@$E2E_TMP/big.json"
case_ body_10mb_chunked 413 "exceeds the limit of 65536 bytes" "${P[@]}" "${A[@]}" "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_TMP/big.json"
case_ wrong_content_type 415 "Content-Type must be application/json, got 'text/plain'" "${P[@]}" "${A[@]}" -H 'Content-Type: text/plain' -d '{"event":"x","payload":{}}'
case_ no_content_type 415 "Content-Type must be application/json" "${P[@]}" "${A[@]}" -H 'Content-Type:' -d '{"event":"x","payload":{}}'
case_ form_content_type 415 "application/x-www-form-urlencoded" "${P[@]}" "${A[@]}" -d 'event=x'
case_ wrong_method 405 "method GET not allowed on /emit; allowed: POST" "${A[@]}" "$URL/emit"
case_ put_method 405 "allowed: POST" -X PUT "${A[@]}" "${J[@]}" -d '{}' "$URL/emit"
case_ unknown_path 404 "no such endpoint: /emitt" "${A[@]}" "${J[@]}" -X POST -d '{}' "$URL/emitt"
case_ missing_token 401 "missing Authorization: Bearer token" "${P[@]}" "${J[@]}" -d '{"event":"x","payload":{}}'
case_ bad_token 401 "bad bearer token" "${P[@]}" -H 'Authorization: Bearer t0ken-e2f' "${J[@]}" -d '{"event":"x","payload":{}}'
case_ token_prefix 401 "bad bearer token" "${P[@]}" -H 'Authorization: Bearer t0ken' "${J[@]}" -d '{"event":"x","payload":{}}'
case_ basic_auth 401 "bad bearer token" "${P[@]}" -u "user:$TOKEN" "${J[@]}" -d '{"event":"x","payload":{}}'
bigheader=$(head -c 100000 /dev/zero | tr '\0' 'h')
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "${P[@]}" "${A[@]}" "${J[@]}" -H "X-Big: $bigheader" -d '{}' 2>/dev/null || true)
expect intake_huge_header "$([ "$code" = 431 ] || [ "$code" = 413 ] || [ "$code" = 400 ] && echo 0 || echo 1)" "status $code"

# A body dripped one byte at a time, slower than --body-timeout allows: 408.
drip() {
  local body='{"event":"x","payload":{}}' i
  exec 3<>"/dev/tcp/127.0.0.1/$HTTP"
  printf 'POST /emit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' \
    "$TOKEN" "${#body}" >&3
  for ((i = 0; i < ${#body}; i++)); do
    printf '%s' "${body:i:1}" >&3
    sleep 0.06
  done
  timeout 5 head -c 400 <&3 || true
  exec 3>&-
}
resp=$(drip)
if grep -q '^HTTP/1.1 408' <<<"$resp" && grep -q 'took longer than 1000 ms' <<<"$resp"; then
  pass intake_slow_drip_408
else
  fail intake_slow_drip_408 "$(head -c 200 <<<"$resp")"
fi

# Garbage instead of HTTP: the connection is dropped, nothing else happens.
printf 'NOT HTTP AT ALL\r\n\r\n' | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$HTTP" 2>/dev/null || true

# Afterwards the relay serves normally: an emit is accepted and reaches a client.
"$RELAYLAB_BIN/wsprint" --count 2 --timeout 5 "ws://127.0.0.1:$WS/websocket-service" >"$E2E_TMP/client.out" 2>&1 &
E2E_PIDS+=($!)
sleep 0.3
case_ still_serving 202 '"offset":1' "${P[@]}" "${A[@]}" "${J[@]}" -d '{"event":"new_product","payload":{"ok":true}}'
timeout 6 tail --pid="${E2E_PIDS[-1]}" -f /dev/null || true
if grep -q '"event":"new_product","data":{"ok":true},"offset":1' "$E2E_TMP/client.out"; then
  pass intake_client_received_after_bad_input
else
  fail intake_client_received_after_bad_input "$(cat "$E2E_TMP/client.out")"
fi
invalid=$(curl -fsS "$URL/metrics" | awk '/^relay_emits_total\{result="invalid"\}/{print $2}')
expect intake_invalid_counted "$([ "${invalid:-0}" -ge 20 ] && echo 0 || echo 1)" "invalid=${invalid:-none}"
# wsprint says when it could not connect (scripts rely on it): the intake refuses the upgrade.
rc=0
timeout -k 5 10 "$RELAYLAB_BIN/wsprint" --timeout 3 "ws://127.0.0.1:$HTTP/" >/dev/null 2>&1 || rc=$?
expect wsprint_refused_exits_1 "$([ "$rc" -eq 1 ] && echo 0 || echo 1)" "wsprint exit $rc"
exit "$E2E_FAILS"
