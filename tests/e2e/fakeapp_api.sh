#!/usr/bin/env bash
# fakeapp's HTTP API against mongosim: start-up before the database exists, create, read,
# list, duplicate req_id, bad input (exact status and message for each case), metrics, a
# database outage (503, bounded, no crash), flags.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 10)
mongo=$base app=$((base + 5))
uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
A="http://127.0.0.1:$app"
JSON=(-H 'Content-Type: application/json')

# --- flags --------------------------------------------------------------------------------
"$RELAYLAB_BIN/fakeapp" --help | grep -q -- '--ws-mode'
expect help_lists_flags $?
rc=0; "$RELAYLAB_BIN/fakeapp" --ws-mode sideways 2>"$E2E_TMP/flag.err" || rc=$?
expect bad_ws_mode_exit_2 "$([ "$rc" -eq 2 ] && grep -q 'embedded, relay or none' "$E2E_TMP/flag.err" && echo 0 || echo 1)" "rc=$rc"

# --- the app starts before the database ----------------------------------------------------
start_bg app "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$app" --ws-mode none --pod api-1 \
  --mongo-uri "$uri" --db api --db-timeout 1s --max-body 4k
wait_http "$A/healthz" 10
expect healthz_without_database $?
st=$(curl -sS -o /dev/null -w '%{http_code}' "$A/readyz")
expect readyz_503_without_database "$([ "$st" = 503 ] && echo 0 || echo 1)" "status=$st"
out=$(curl -sS -w ' %{http_code}' "${JSON[@]}" -d '{"name":"a","price":1,"req_id":"early"}' "$A/products")
expect create_503_before_ready "$([[ "$out" == *'"error":"not_ready"'*' 503' ]] && echo 0 || echo 1)" "$out"

start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --log-level warn
wait_http "$A/readyz" 15
expect readyz_once_database_up $? "see $E2E_TMP/app.log"

# --- create, duplicate, read, list ---------------------------------------------------------
curl -sS -D "$E2E_TMP/h1" -o "$E2E_TMP/p1" -w '%{http_code}' "${JSON[@]}" \
  -d '{"name":"Lamp","price":19.5,"req_id":"api-1"}' "$A/products" >"$E2E_TMP/s1"
jq -e '(keys_unsorted == ["_id","name","price","req_id","pod","created_at"]) and
  (._id | test("^[0-9a-f]{24}$")) and .name == "Lamp" and .price == 19.5 and .req_id == "api-1"
  and .pod == "api-1" and (.created_at | test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$"))' \
  "$E2E_TMP/p1" >/dev/null
expect create_201_document "$([ "$(cat "$E2E_TMP/s1")" = 201 ] && echo 0 || echo 1)" "$(cat "$E2E_TMP/s1") $(cat "$E2E_TMP/p1")"
grep -qi '^X-Served-By: api-1' "$E2E_TMP/h1"
expect create_x_served_by $?
id=$(jq -r ._id "$E2E_TMP/p1")

out=$(curl -sS -w ' %{http_code}' "${JSON[@]}" -d '{"name":"Other","price":1,"req_id":"api-1"}' "$A/products")
expect duplicate_req_id_200_existing "$(jq -e --arg id "$id" '._id == $id and .name == "Lamp"' <<<"${out% *}" >/dev/null && [ "${out##* }" = 200 ] && echo 0 || echo 1)" "$out"

out=$(curl -sS -w ' %{http_code}' "$A/products/$id")
expect get_by_id_200 "$(jq -e --arg id "$id" '._id == $id and .req_id == "api-1"' <<<"${out% *}" >/dev/null && [ "${out##* }" = 200 ] && echo 0 || echo 1)" "$out"

for i in 2 3 4; do
  curl -sS -o /dev/null "${JSON[@]}" -d "{\"name\":\"P$i\",\"price\":$i,\"req_id\":\"api-$i\"}" "$A/products"
done
out=$(curl -sS "$A/products?limit=3")
expect list_newest_first_limit "$(jq -e '[.[].req_id] == ["api-4","api-3","api-2"]' <<<"$out" >/dev/null && echo 0 || echo 1)" "$out"
out=$(curl -sS "$A/products")
expect list_default "$(jq -e 'length == 4' <<<"$out" >/dev/null && echo 0 || echo 1)" "$out"

# --- bad input: exact status and message ---------------------------------------------------
# bad NAME STATUS MESSAGE CURL_ARGS...
bad() {
  local name=$1 want_st=$2 want_msg=$3 out st msg
  shift 3
  out=$(curl -sS -w '\n%{http_code}' --max-time 10 "$@")
  st=${out##*$'\n'}
  msg=$(jq -r .message <<<"${out%$'\n'*}" 2>/dev/null || echo "(not JSON: ${out%$'\n'*})")
  if [ "$st" = "$want_st" ] && [ "$msg" = "$want_msg" ]; then pass "bad_$name"; else
    fail "bad_$name" "got $st '$msg', want $want_st '$want_msg'"; fi
}
P=("${JSON[@]}" "$A/products")
long=$(printf 'x%.0s' $(seq 1 201))
printf '{"name":"a\0","price":1,"req_id":"n"}' >"$E2E_TMP/nul.json"
printf '{"name":"\xff","price":1,"req_id":"u"}' >"$E2E_TMP/utf8.json"
head -c 5000 /dev/zero | tr '\0' a >"$E2E_TMP/big.json"
bad missing_name 400 "missing field 'name'" -d '{"price":1,"req_id":"b1"}' "${P[@]}"
bad missing_price 400 "missing field 'price'" -d '{"name":"a","req_id":"b1"}' "${P[@]}"
bad missing_req_id 400 "missing field 'req_id'" -d '{"name":"a","price":1}' "${P[@]}"
bad name_not_string 400 "'name' must be a string, got integer" -d '{"name":5,"price":1,"req_id":"b1"}' "${P[@]}"
bad name_null 400 "'name' must be a string, got null" -d '{"name":null,"price":1,"req_id":"b1"}' "${P[@]}"
bad name_empty 400 "'name' must not be empty" -d '{"name":"","price":1,"req_id":"b1"}' "${P[@]}"
bad name_blank 400 "'name' must not be empty" -d '{"name":"   ","price":1,"req_id":"b1"}' "${P[@]}"
bad name_too_long 400 "'name' must be at most 200 characters, got 201" -d "{\"name\":\"$long\",\"price\":1,\"req_id\":\"b1\"}" "${P[@]}"
bad name_control_char 400 "'name' must not contain control characters" -d '{"name":"a\tb","price":1,"req_id":"b1"}' "${P[@]}"
bad price_string 400 "'price' must be a number, got string" -d '{"name":"a","price":"12","req_id":"b1"}' "${P[@]}"
bad price_nan_string 400 "'price' must be a number, got string" -d '{"name":"a","price":"NaN","req_id":"b1"}' "${P[@]}"
bad price_bool 400 "'price' must be a number, got boolean" -d '{"name":"a","price":true,"req_id":"b1"}' "${P[@]}"
bad price_negative 400 "'price' must be between 0 and 1000000000" -d '{"name":"a","price":-0.01,"req_id":"b1"}' "${P[@]}"
bad price_huge 400 "'price' must be between 0 and 1000000000" -d '{"name":"a","price":1e12,"req_id":"b1"}' "${P[@]}"
bad price_overflow 400 "invalid JSON at line 1 column 25: real number overflow near '1e400'" -d '{"name":"a","price":1e400,"req_id":"b1"}' "${P[@]}"
bad price_nan_literal 400 "invalid JSON at line 1 column 23: invalid token near 'NaN'" -d '{"name":"a","price":NaN,"req_id":"b1"}' "${P[@]}"
bad req_id_number 400 "'req_id' must be a string, got integer" -d '{"name":"a","price":1,"req_id":7}' "${P[@]}"
bad req_id_empty 400 "'req_id' must be 1-64 characters of [A-Za-z0-9_.:-]" -d '{"name":"a","price":1,"req_id":""}' "${P[@]}"
bad req_id_space 400 "'req_id' must be 1-64 characters of [A-Za-z0-9_.:-]" -d '{"name":"a","price":1,"req_id":"a b"}' "${P[@]}"
bad req_id_too_long 400 "'req_id' must be 1-64 characters of [A-Za-z0-9_.:-]" -d "{\"name\":\"a\",\"price\":1,\"req_id\":\"${long:0:65}\"}" "${P[@]}"
bad unknown_field 400 "unknown field 'color' (allowed: name, price, req_id, store)" -d '{"name":"a","price":1,"req_id":"b1","color":"red"}' "${P[@]}"
bad not_object 400 "body must be a JSON object, got array" -d '[1,2]' "${P[@]}"
bad invalid_json 400 "invalid JSON at line 1 column 36: string or '}' expected near '}'" -d '{"name":"a","price":1,"req_id":"a",}' "${P[@]}"
bad duplicate_key 400 "invalid JSON at line 1 column 18: duplicate object key near '\"name\"'" -d '{"name":"a","name":"b","price":1,"req_id":"a"}' "${P[@]}"
bad deep_nesting 400 "JSON nested deeper than 8 levels" -d '{"name":[[[[[[[[[["a"]]]]]]]]]],"price":1,"req_id":"a"}' "${P[@]}"
bad empty_body 400 "empty body" -X POST "${P[@]}"
bad nul_byte 400 "body contains a NUL byte at position 10" --data-binary "@$E2E_TMP/nul.json" "${P[@]}"
bad escaped_nul 400 "invalid JSON at line 1 column 18: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"'" -d '{"name":"a\u0000b","price":1,"req_id":"a"}' "${P[@]}"
bad invalid_utf8 400 "invalid JSON at line 1 column 9: unable to decode byte 0xff near '\"'" --data-binary "@$E2E_TMP/utf8.json" "${P[@]}"
bad content_type 415 "Content-Type must be application/json, got 'text/plain'" -H 'Content-Type: text/plain' -d '{}' "$A/products"
bad too_big 413 "body of 5000 bytes exceeds the limit of 4096 bytes" --data-binary "@$E2E_TMP/big.json" "${P[@]}"
bad method 405 "method DELETE not allowed on /products; allowed: POST, GET" -X DELETE "$A/products"
bad unknown_path 404 "no such endpoint: /nope" "$A/nope"
bad limit_zero 400 "'limit' must be an integer from 1 to 1000" "$A/products?limit=0"
bad limit_text 400 "'limit' must be an integer from 1 to 1000" "$A/products?limit=ten"
bad limit_huge 400 "'limit' must be an integer from 1 to 1000" "$A/products?limit=99999999999999999999"
bad id_short 400 "product id must be 24 hexadecimal characters" "$A/products/abc"
bad id_not_hex 400 "product id must be 24 hexadecimal characters" "$A/products/zzzzzzzzzzzzzzzzzzzzzzzz"
bad id_unknown 404 "no product with _id 0123456789abcdef01234567" "$A/products/0123456789abcdef01234567"

out=$(curl -sS "$A/products?limit=1000")
expect bad_input_stored_nothing "$(jq -e 'length == 4' <<<"$out" >/dev/null && echo 0 || echo 1)" "$(jq length <<<"$out")"

# --- metrics -------------------------------------------------------------------------------
m=$(curl -sS "$A/metrics")
grep -q '^fakeapp_products_total{result="created"} 4$' <<<"$m" &&
  grep -q '^fakeapp_products_total{result="existing"} 1$' <<<"$m" &&
  grep -q '^fakeapp_ready 1$' <<<"$m" && grep -qE '^http_responses_total\{class="4xx"\} [1-9]' <<<"$m"
expect metrics_counts $? "$(grep -E '^(fakeapp_|http_)' <<<"$m" | tr '\n' ';')"

# --- outage: every member gone --------------------------------------------------------------
kill "$(cat "$E2E_TMP/mongosim.pid")"
timeout 5 tail --pid="$(cat "$E2E_TMP/mongosim.pid")" -f /dev/null || true
t0=$(date +%s%N)
out=$(curl -sS -w ' %{http_code}' --max-time 20 "${JSON[@]}" -d '{"name":"a","price":1,"req_id":"outage"}' "$A/products" || echo "curl failed")
ms=$((($(date +%s%N) - t0) / 1000000))
expect outage_create_503 "$([[ "$out" == *'"error":"database_unavailable","message":"database unavailable: '*' 503' ]] && echo 0 || echo 1)" "$out"
expect outage_bounded_time "$([ "$ms" -lt 8000 ] && echo 0 || echo 1)" "took ${ms}ms"
st=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 "$A/products")
expect outage_list_503 "$([ "$st" = 503 ] && echo 0 || echo 1)" "status=$st"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$A/healthz")
expect outage_healthz_200 "$([ "$st" = 200 ] && echo 0 || echo 1)" "status=$st"
ok=1
for _ in $(seq 1 60); do
  [ "$(curl -sS -o /dev/null -w '%{http_code}' "$A/readyz")" = 503 ] && { ok=0; break; }
  sleep 0.1
done
expect outage_readyz_503 "$ok"

pid=$(cat "$E2E_TMP/app.pid")
kill "$pid"
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || rc=1
wait "$pid" 2>/dev/null && st=0 || st=$?
expect sigterm_exit_0 "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && echo 0 || echo 1)" "exited=$rc status=$st"
exit "$E2E_FAILS"
