#!/usr/bin/env bash
# HTTP-level bad input against both servers built on common/httpd (the relay's intake and
# fakeapp's API): malformed request lines and headers, conflicting body framing, bad chunked
# encoding, odd methods and URLs, pipelining. Raw bytes over /dev/tcp, so nothing is
# normalised by a client library. Each case checks the status line of the first answer;
# each server must still answer /healthz at the end.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 6)
WS=$base RELAY=$((base + 1)) APP=$((base + 2)) MONGO=$((base + 3))
TOKEN=t0ken-http
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$WS" --http-port "$RELAY" \
  --token "$TOKEN" --max-body 64k
start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$MONGO" --members 1 --log-level warn
start_bg app "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$APP" --ws-mode none --pod http-1 \
  --mongo-uri "mongodb://127.0.0.1:$MONGO/?replicaSet=rs0" --max-body 16k
wait_http "http://127.0.0.1:$RELAY/healthz" 15 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }
wait_http "http://127.0.0.1:$APP/readyz" 20 || { fail app_start "see $E2E_TMP/app.log"; exit 1; }

# send PORT REQUEST [shut]: writes REQUEST (printf %b escapes) and prints what comes back
# within 3 s; with "shut", the client closes the connection right after the request.
send() {
  local port=$1 req=$2 shut=${3:-}
  (
    trap '' PIPE # a server that answers and closes early must not kill the writer
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf '%b' "$req" >&3 || true
    if [ -n "$shut" ]; then
      exec 3>&- # the client gives up in mid-body: nothing to read, the server must cope
      exit 0
    fi
    timeout 3 cat <&3 2>/dev/null || true
  ) 2>/dev/null | tr -d '\r' || true
}

# run LABEL PORT PATH HEADERS BODY: runs the table against one server.
run() {
  local l=$1 port=$2 path=$3 hdr=$4 body=$5 len
  len=${#body}
  local ok='2[0-9][0-9]'
  # c NAME WANT_STATUS_REGEX REQUEST [shut]
  c() {
    local name=$1 want=$2 req=$3 shut=${4:-} out first
    req=${req//@P@/$path}
    req=${req//@H@/$hdr}
    req=${req//@B@/$body}
    req=${req//@L@/$len}
    out=$(send "$port" "$req" "$shut")
    first=$(head -1 <<<"$out")
    if [[ "$first" =~ ^HTTP/1\.[01]\ ($want)\  ]] || { [ "$want" = none ] && [ -z "$out" ]; }; then
      pass "http_${l}_$name"
    else
      fail "http_${l}_$name" "want $want, got: ${first:-(nothing)}"
    fi
    printf '%s\n' "$out" >"$E2E_TMP/$l-$name.out"
  }
  c garbage_line 400 'NOT HTTP AT ALL\r\n\r\n'
  c http_2_0_line 505 'POST @P@ HTTP/2.0\r\n@H@Content-Length: @L@\r\n\r\n@B@'
  c http_0_9 400 'GET /healthz\r\n\r\n'
  c http_1_0_ok "$ok" 'POST @P@ HTTP/1.0\r\n@H@Content-Length: @L@\r\n\r\n@B@'
  c no_host_tolerated "$ok" "POST @P@ HTTP/1.1\r\n${hdr#Host: x\\r\\n}Content-Length: @L@\r\n\r\n@B@"
  c cl_not_number 400 'POST @P@ HTTP/1.1\r\n@H@Content-Length: abc\r\n\r\n@B@'
  c cl_negative 400 'POST @P@ HTTP/1.1\r\n@H@Content-Length: -5\r\n\r\n@B@'
  c cl_overflow 413 'POST @P@ HTTP/1.1\r\n@H@Content-Length: 99999999999999999999999\r\n\r\n@B@'
  c cl_conflicting 400 'POST @P@ HTTP/1.1\r\n@H@Content-Length: @L@\r\nContent-Length: 5\r\n\r\n@B@'
  c cl_repeated_same "$ok" 'POST @P@ HTTP/1.1\r\n@H@Content-Length: @L@\r\nContent-Length: @L@\r\n\r\n@B@'
  c cl_and_chunked 400 "POST @P@ HTTP/1.1\r\n@H@Content-Length: @L@\r\nTransfer-Encoding: chunked\r\n\r\n$(printf '%x' "$len")\r\n@B@\r\n0\r\n\r\n"
  c te_gzip_chunked 501 'POST @P@ HTTP/1.1\r\n@H@Transfer-Encoding: gzip, chunked\r\n\r\n10\r\n@B@\r\n0\r\n\r\n'
  c te_identity 501 'POST @P@ HTTP/1.1\r\n@H@Transfer-Encoding: identity\r\n\r\n@B@'
  c chunk_size_not_hex 400 'POST @P@ HTTP/1.1\r\n@H@Transfer-Encoding: chunked\r\n\r\nzz\r\n@B@\r\n0\r\n\r\n'
  c chunk_size_overflow 413 'POST @P@ HTTP/1.1\r\n@H@Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n@B@\r\n0\r\n\r\n'
  c chunk_missing_crlf 400 "POST @P@ HTTP/1.1\r\n@H@Transfer-Encoding: chunked\r\n\r\n$(printf '%x' "$len")\r\n@B@XX0\r\n\r\n"
  c chunked_ok "$ok" "POST @P@ HTTP/1.1\r\n@H@Transfer-Encoding: chunked\r\n\r\n$(printf '%x' "$len")\r\n@B@\r\n0\r\n\r\n"
  c header_without_colon 400 'POST @P@ HTTP/1.1\r\n@H@BrokenHeader\r\nContent-Length: @L@\r\n\r\n@B@'
  c header_space_before_colon 400 'POST @P@ HTTP/1.1\r\n@H@Content-Length : @L@\r\n\r\n@B@'
  c header_obs_fold_joined "$ok" 'POST @P@ HTTP/1.1\r\n@H@X-A: a\r\n  folded\r\nContent-Length: @L@\r\n\r\n@B@'
  local many
  many=$(for i in $(seq 1 3000); do printf 'X-H%d: v\\r\\n' "$i"; done)
  c headers_3000 431 "POST @P@ HTTP/1.1\r\n@H@${many}Content-Length: @L@\r\n\r\n@B@"
  c url_100k 414 "GET /$(head -c 100000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n"
  c method_lowercase 405 'post @P@ HTTP/1.1\r\n@H@Content-Length: @L@\r\n\r\n@B@'
  c method_unknown 405 'BREW @P@ HTTP/1.1\r\n@H@Content-Length: @L@\r\n\r\n@B@'
  c absolute_uri 404 'POST http://x@P@ HTTP/1.1\r\n@H@Content-Length: @L@\r\n\r\n@B@'
  c options_star 404 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'
  c head_healthz 200 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
  c expect_100_continue 100 'POST @P@ HTTP/1.1\r\n@H@Expect: 100-continue\r\nContent-Length: @L@\r\n\r\n@B@'
  c json_with_charset "$ok" "POST @P@ HTTP/1.1\r\n${hdr/application\/json/application/json; charset=utf-8}Content-Length: @L@\r\n\r\n@B@"
  c json_lookalike_type 415 "POST @P@ HTTP/1.1\r\n${hdr/application\/json/application/jsonp}Content-Length: @L@\r\n\r\n@B@"
  c lf_only_tolerated "$ok" "POST @P@ HTTP/1.1\n${hdr//\\r\\n/\\n}Content-Length: @L@\n\n@B@"
  c body_cut_short_client_gone none 'POST @P@ HTTP/1.1\r\n@H@Content-Length: 500\r\n\r\n@B@' shut
  c pipelined_two 200 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
  expect "http_${l}_pipelined_both_answered" \
    "$([ "$(grep -o 'HTTP/1.1 200 ' "$E2E_TMP/$l-pipelined_two.out" | wc -l)" = 2 ] && echo 0 || echo 1)"
  expect "http_${l}_expect_100_then_final" \
    "$(grep -qE "^HTTP/1.1 $ok " "$E2E_TMP/$l-expect_100_continue.out" && echo 0 || echo 1)"
  c nul_in_header_value "$ok" 'POST @P@ HTTP/1.1\r\n@H@X-A: a\x00b\r\nContent-Length: @L@\r\n\r\n@B@'
  st=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz" || true)
  expect "http_${l}_healthy_after" "$([ "$st" = 200 ] && echo 0 || echo 1)" "status=$st"
}

# Connection: close, so that each answer ends with the connection and no case waits for the
# 3 s read timeout.
run relay "$RELAY" /emit "Host: x\r\nConnection: close\r\nAuthorization: Bearer $TOKEN\r\nContent-Type: application/json\r\n" \
  '{"event":"x","payload":{}}'
run app "$APP" /products 'Host: x\r\nConnection: close\r\nContent-Type: application/json\r\n' \
  '{"name":"a","price":1,"req_id":"http-1"}'

# Auth header edge cases, on the relay only (fakeapp has no token).
H="Host: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 26\r\n"
B='{"event":"x","payload":{}}'
for spec in "bearer_lowercase_scheme|2[0-9][0-9]|Authorization: bearer $TOKEN" \
  "bearer_two_spaces|401|Authorization: Bearer  $TOKEN" \
  "bearer_first_of_two_wrong|401|Authorization: Bearer nope\r\nAuthorization: Bearer $TOKEN" \
  "bearer_empty|401|Authorization: Bearer " "basic_scheme|401|Authorization: Basic $TOKEN"; do
  IFS='|' read -r name want a <<<"$spec"
  first=$(send "$RELAY" "POST /emit HTTP/1.1\r\n$H$a\r\n\r\n$B" | head -1)
  if [[ "$first" =~ ^HTTP/1\.1\ ($want)\  ]]; then pass "http_relay_$name"; else
    fail "http_relay_$name" "want $want, got: ${first:-(nothing)}"; fi
done
exit "$E2E_FAILS"
