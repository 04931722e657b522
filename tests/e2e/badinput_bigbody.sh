#!/usr/bin/env bash
# Oversized and refused bodies, as the clients users have send them: Node's built-in fetch
# (string body with Content-Length, and a stream sent chunked), libcurl (with and without
# Expect: 100-continue, chunked), the curl tool, and a raw client that sends its whole body
# before it reads. Each must read the documented status and message — not EPIPE or a reset —
# from the relay's intake and from fakeapp's API. The servers' memory stays flat while several
# clients send 64 MB bodies at once, and nothing is left lingering afterwards.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

POST=$RELAYLAB_BUILD/tests/e2e/badinput_post
FETCH=$RELAYLAB_ROOT/tests/e2e/badinput_fetch.mjs
MB=$((1024 * 1024))
base=$(e2e_port_base 4)
WS=$base RELAY=$((base + 1)) APP=$((base + 2))
TOKEN=t0ken-big
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$WS" --http-port "$RELAY" \
  --token "$TOKEN" --max-body 64k
# fakeapp needs no database to refuse a body: its MongoDB address is never reachable.
start_bg app "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$APP" --ws-mode none --pod big-1 \
  --mongo-uri "mongodb://127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=500" --max-body 16k
wait_http "http://127.0.0.1:$RELAY/healthz" 15 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }
wait_http "http://127.0.0.1:$APP/healthz" 15 || { fail app_start "see $E2E_TMP/app.log"; exit 1; }

# want NAME STATUS SUBSTRING OUTPUT: OUTPUT is one "status=N body=..." line from a probe.
want() {
  local name=$1 st=$2 sub=$3 out=$4
  if [[ "$out" == "status=$st body="* ]] && [[ "$out" == *"$sub"* ]]; then pass "$name"; else
    fail "$name" "want $st '$sub', got: ${out:0:200}"; fi
}
# rawsend PORT REQUEST_HEAD BYTES: sends the head and BYTES of body, then reads the answer.
rawsend() {
  local port=$1 head=$2 n=$3
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf '%b' "$head" >&3
    head -c "$n" /dev/zero >&3 2>/dev/null || echo "write-failed"
    timeout 10 head -c 600 <&3 2>&1 || echo "read-failed"
  )
}

# server LABEL URL MAX AUTH_HEADER: the matrix against one server.
server() {
  local l=$1 url=$2 max=$3 auth=$4 i
  local H=(-H 'Content-Type: application/json')
  [ -n "$auth" ] && H+=(-H "$auth")
  local lim="exceeds the limit of $max bytes"
  for i in 1 2 3; do
    want "${l}_fetch_3mb_$i" 413 "body of $((3 * MB)) bytes $lim" \
      "$(node "$FETCH" "$url" $((3 * MB)) length ${auth:+"$auth"})"
  done
  want "${l}_fetch_32mb" 413 "$lim" "$(node "$FETCH" "$url" $((32 * MB)) length ${auth:+"$auth"})"
  want "${l}_fetch_32mb_stream" 413 "body $lim" \
    "$(node "$FETCH" "$url" $((32 * MB)) stream ${auth:+"$auth"})"
  want "${l}_fetch_unknown_path" 404 "no such endpoint" \
    "$(node "$FETCH" "${url%/*}/nope" $((32 * MB)) length ${auth:+"$auth"})"
  want "${l}_libcurl_expect" 413 "$lim" "$("$POST" "${H[@]}" "$url" $((32 * MB)))"
  want "${l}_libcurl_no_expect" 413 "$lim" "$("$POST" --no-expect "${H[@]}" "$url" $((32 * MB)))"
  want "${l}_libcurl_chunked" 413 "body $lim" "$("$POST" --chunked "${H[@]}" "$url" $((32 * MB)))"
  want "${l}_libcurl_wrong_type" 415 "Content-Type must be application/json" \
    "$("$POST" --no-expect ${auth:+-H "$auth"} -H 'Content-Type: text/plain' "$url" $((8 * MB)))"
  local code
  code=$(curl -sS -o "$E2E_TMP/$l.curl" -w '%{http_code}' --max-time 30 -H 'Expect:' "${H[@]}" \
    --data-binary "@$E2E_TMP/big.bin" "$url" 2>&1 || true)
  want "${l}_curl_tool_no_expect" 413 "$lim" "status=$code body=$(cat "$E2E_TMP/$l.curl")"
  local hp=${url#http://127.0.0.1:} path
  path=/${hp#*/} hp=${hp%%/*}
  local out
  out=$(rawsend "$hp" "POST $path HTTP/1.1\r\nHost: x\r\n${auth:+$auth\r\n}Content-Type: application/json\r\nContent-Length: $((16 * MB))\r\n\r\n" $((16 * MB)))
  if [[ "$out" == "HTTP/1.1 413 "* ]] && [[ "$out" == *"$lim"* ]]; then pass "${l}_send_all_then_read"; else
    fail "${l}_send_all_then_read" "${out:0:200}"; fi
}
head -c $((32 * MB)) /dev/zero >"$E2E_TMP/big.bin"
server relay "http://127.0.0.1:$RELAY/emit" 65536 "Authorization: Bearer $TOKEN"
server app "http://127.0.0.1:$APP/products" 16384 ""
want relay_fetch_bad_token 401 "bad bearer token" \
  "$(node "$FETCH" "http://127.0.0.1:$RELAY/emit" $((32 * MB)) length "Authorization: Bearer nope")"

# Memory while draining: four clients send 64 MB each at once to each server. Sampled every
# 20 ms; buffering what is discarded would add 64 MB per client.
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
burst() {
  local l=$1 url=$2 pid=$3 auth=$4 base peak s p
  local H=(-H 'Content-Type: application/json')
  [ -n "$auth" ] && H+=(-H "$auth")
  base=$(rss_kb "$pid")
  (while kill -0 "$pid" 2>/dev/null; do rss_kb "$pid"; sleep 0.02; done) >"$E2E_TMP/$l.rss" &
  s=$!
  E2E_PIDS+=("$s")
  local pids=()
  node "$FETCH" "$url" $((64 * MB)) length ${auth:+"$auth"} >"$E2E_TMP/$l.b1" 2>&1 &
  pids+=($!)
  node "$FETCH" "$url" $((64 * MB)) stream ${auth:+"$auth"} >"$E2E_TMP/$l.b2" 2>&1 &
  pids+=($!)
  "$POST" --chunked "${H[@]}" "$url" $((64 * MB)) >"$E2E_TMP/$l.b3" 2>&1 &
  pids+=($!)
  "$POST" --no-expect "${H[@]}" "$url" $((64 * MB)) >"$E2E_TMP/$l.b4" 2>&1 &
  pids+=($!)
  E2E_PIDS+=("${pids[@]}")
  for p in "${pids[@]}"; do wait "$p" || true; done
  cat "$E2E_TMP/$l".b[1-4] >"$E2E_TMP/$l.burst"
  kill "$s" 2>/dev/null || true
  wait "$s" 2>/dev/null || true
  peak=$(sort -n "$E2E_TMP/$l.rss" | tail -1)
  echo "info: $l rss_kb baseline=$base peak=${peak:-0} samples=$(wc -l <"$E2E_TMP/$l.rss")"
  expect "${l}_burst_all_413" "$([ "$(grep -c '^status=413' "$E2E_TMP/$l.burst")" = 4 ] && echo 0 || echo 1)" \
    "$(tr '\n' ';' <"$E2E_TMP/$l.burst" | head -c 400)"
  expect "${l}_burst_rss_flat" "$([ $((${peak:-0} - base)) -lt $((24 * 1024)) ] && echo 0 || echo 1)" \
    "baseline=$base peak=$peak (kB)"
}
burst relay "http://127.0.0.1:$RELAY/emit" "$(cat "$E2E_TMP/relay.pid")" "Authorization: Bearer $TOKEN"
burst app "http://127.0.0.1:$APP/products" "$(cat "$E2E_TMP/app.pid")" ""

# Nothing lingers afterwards, the discarded bytes are counted, and the relay still serves.
for l in relay app; do
  port=$RELAY
  [ $l = app ] && port=$APP
  ok=1
  for _ in $(seq 1 100); do
    m=$(curl -sS "http://127.0.0.1:$port/metrics")
    grep -q '^http_lingering_connections 0$' <<<"$m" && { ok=0; break; }
    sleep 0.1
  done
  expect "${l}_nothing_lingering" "$ok" "$(grep '^http_linger' <<<"$m" | tr '\n' ' ')"
  drained=$(awk '/^http_drained_bytes_total /{print $2}' <<<"$m")
  expect "${l}_drained_counted" "$([ "${drained:-0}" -gt $((MB)) ] && echo 0 || echo 1)" "drained=$drained"
done
code=$(curl -sS -o "$E2E_TMP/ok.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"event":"after","payload":{}}' "http://127.0.0.1:$RELAY/emit")
expect relay_serves_after "$([ "$code" = 202 ] && echo 0 || echo 1)" "status=$code $(cat "$E2E_TMP/ok.out")"
exit "$E2E_FAILS"
