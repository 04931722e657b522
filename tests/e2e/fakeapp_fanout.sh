#!/usr/bin/env bash
# fakeapp in both architectures, three replicas on one mongosim replica set:
#   embedded: a websocket client on app-N receives app-N's products only (the bug);
#   relay:    every client of the relay receives every product (the fix).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

E2E=$RELAYLAB_BUILD/tests/e2e/fakeapp_e2e
base=$(e2e_port_base 20)
mongo=$base
uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
events=${FAKEAPP_E2E_EVENTS:-90}

start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --log-level warn

start_app() { # NAME HTTP WS MODE [FLAGS...]
  local name=$1 http=$2 ws=$3 mode=$4
  shift 4
  start_bg "$name" "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$http" --ws-port "$ws" \
    --pod "$name" --mongo-uri "$uri" --db "fanout_$mode" --ws-mode "$mode" "$@"
}
wait_ready() { # NAME PORT
  wait_http "http://127.0.0.1:$2/readyz" 15 || { fail "$1_ready" "see $E2E_TMP/$1.log"; exit 1; }
}

# Embedded: app-N on base+3+N (HTTP) and base+6+N (websocket).
for n in 1 2 3; do start_app "app-$n" $((base + 3 + n)) $((base + 6 + n)) embedded; done
for n in 1 2 3; do wait_ready "app-$n" $((base + 3 + n)); done
rc=0
"$E2E" embedded "$events" "$((base + 7)),$((base + 8)),$((base + 9))" \
  "$((base + 4)),$((base + 5)),$((base + 6))" >"$E2E_TMP/driver-embedded.log" 2>&1 || rc=$?
sed 's/^\(PASS\|FAIL\): /\1: embedded_/' "$E2E_TMP/driver-embedded.log"
expect embedded_driver_ran "$([ "$rc" -le 1 ] && grep -q '^PASS' "$E2E_TMP/driver-embedded.log" && echo 0 || echo 1)" "exit $rc"
for n in 1 2 3; do
  pid=$(cat "$E2E_TMP/app-$n.pid")
  kill "$pid"
  rc=0
  timeout 10 tail --pid="$pid" -f /dev/null || rc=1
  wait "$pid" 2>/dev/null && st=0 || st=$?
  expect "embedded_app_${n}_sigterm_exit_0" "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && echo 0 || echo 1)" "exited=$rc status=$st"
done

# Relay: the relay on base+10 (websocket) / base+11 (intake, with a token).
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 10)) --http-port $((base + 11)) --token s3cret
wait_http "http://127.0.0.1:$((base + 11))/readyz" 10 || { fail relay_ready "see $E2E_TMP/relay.log"; exit 1; }
for n in 1 2 3; do
  name="app-$n"
  start_bg "$name" "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port $((base + 11 + n)) \
    --pod "$name" --mongo-uri "$uri" --db fanout_relay --ws-mode relay \
    --relay-url "http://127.0.0.1:$((base + 11))/emit" --relay-token s3cret
done
for n in 1 2 3; do wait_ready "app-$n" $((base + 11 + n)); done
rc=0
"$E2E" relay "$events" "$((base + 10))" "$((base + 12)),$((base + 13)),$((base + 14))" \
  >"$E2E_TMP/driver-relay.log" 2>&1 || rc=$?
sed 's/^\(PASS\|FAIL\): /\1: relay_/' "$E2E_TMP/driver-relay.log"
expect relay_driver_ran "$([ "$rc" -le 1 ] && grep -q '^PASS' "$E2E_TMP/driver-relay.log" && echo 0 || echo 1)" "exit $rc"
ok=0
for n in 1 2 3; do
  m=$(curl -fsS "http://127.0.0.1:$((base + 11 + n))/metrics")
  v=$(awk '/^fakeapp_emits_total\{result="ok"\}/{print $2}' <<<"$m")
  f=$(awk '/^fakeapp_emits_total\{result="(failed|dropped)"\}/{s+=$2} END{print s+0}' <<<"$m")
  ok=$((ok + ${v:-0}))
  expect "relay_app_${n}_no_failed_emits" "$([ "$f" -eq 0 ] && echo 0 || echo 1)" "failed+dropped=$f"
done
expect relay_emits_counted "$([ "$ok" -ge "$events" ] && echo 0 || echo 1)" "emits ok=$ok, events=$events"

# A wrong token: the relay answers 401, the emit is counted as failed, the request still 201.
start_bg app-badtoken "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port $((base + 15)) \
  --pod app-badtoken --mongo-uri "$uri" --db fanout_relay --ws-mode relay \
  --relay-url "http://127.0.0.1:$((base + 11))/emit" --relay-token wrong
wait_ready app-badtoken $((base + 15))
st=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"name\":\"x\",\"price\":1,\"req_id\":\"badtoken-$$\"}" "http://127.0.0.1:$((base + 15))/products")
failed=0
for _ in $(seq 1 40); do
  failed=$(curl -fsS "http://127.0.0.1:$((base + 15))/metrics" | awk '/^fakeapp_emits_total\{result="failed"\}/{print $2}')
  [ "${failed:-0}" -ge 1 ] && break
  sleep 0.05
done
expect relay_bad_token_counted_failed "$([ "$st" = 201 ] && [ "${failed:-0}" -eq 1 ] && echo 0 || echo 1)" "status=$st failed=${failed:-none}"
grep -q 'emit_failed' "$E2E_TMP/app-badtoken.log"
expect relay_bad_token_logged $? "no emit_failed line in the log"

stop_app() { # NAME TEST_PREFIX: SIGTERM, expect exit 0 within 10 s
  local pid rc=0 st
  pid=$(cat "$E2E_TMP/$1.pid")
  kill "$pid"
  wait_exit "$pid" 10 || rc=1
  wait "$pid" 2>/dev/null && st=0 || st=$?
  expect "$2_sigterm_exit_0" "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && echo 0 || echo 1)" "exited=$rc status=$st"
}
post() { # PORT REQ_ID -> status
  curl -sS -o /dev/null -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
    -d "{\"name\":\"p\",\"price\":1,\"req_id\":\"$2\"}" "http://127.0.0.1:$1/products"
}
relay_events() {
  curl -fsS "http://127.0.0.1:$((base + 11))/metrics" | awk '/^ws_events_published_total /{print $2}'
}

# SIGTERM flushes the queue: products acknowledged just before the signal reach the relay.
before=$(relay_events)
for i in $(seq 1 30); do post $((base + 12)) "flush-$$-$i" >/dev/null; done
stop_app app-1 relay_app_1
after=$(relay_events)
expect relay_sigterm_flushed "$([ $((after - before)) -eq 30 ] && echo 0 || echo 1)" "relay got $((after - before)) of 30"
stop_app app-2 relay_app_2
stop_app app-3 relay_app_3

# A relay that is down: requests still answer 201 at once, emits fail after bounded retries
# (counted and logged), and SIGTERM exits within the drain timeout.
# "At once" on an app whose emits retry 6 times (a jittered backoff from 50 ms, doubling:
# 1.6-3.2 s an emit), so that three requests waiting for their emits would take 4.7 s or
# more (with 2 retries, 0.35-0.65 s: inside the 1 s they used to be held to).
# Three that do not wait took 0.1-0.2 s, and 1.1 s once on a loaded sanitized run, most of
# it the first one's: an app's first MongoDB request waits for its client pool to find the
# primary (a read does that first now, before the clock starts).
start_bg app-retrying "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port $((base + 17)) \
  --pod app-retrying --mongo-uri "$uri" --db fanout_relay --ws-mode relay \
  --relay-url "http://127.0.0.1:$((base + 19))/emit" --emit-retries 6 --drain-timeout 1s
start_bg app-norelay "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port $((base + 16)) \
  --pod app-norelay --mongo-uri "$uri" --db fanout_relay --ws-mode relay \
  --relay-url "http://127.0.0.1:$((base + 19))/emit" --emit-retries 2 --drain-timeout 1s
wait_ready app-retrying $((base + 17))
wait_ready app-norelay $((base + 16))
curl -sS -o /dev/null --max-time 20 "http://127.0.0.1:$((base + 17))/products?limit=1" || true
t0=$(date +%s%N)
codes=""
for i in 1 2 3; do codes+=$(post $((base + 17)) "retrying-$$-$i"); done
ms=$((($(date +%s%N) - t0) / 1000000))
expect relay_down_requests_not_blocked "$([ "$codes" = 201201201 ] && [ "$ms" -lt 2500 ] && echo 0 || echo 1)" "codes=$codes in ${ms}ms"
stop_app app-retrying relay_down_retrying
for i in 1 2 3; do post $((base + 16)) "norelay-$$-$i" >/dev/null; done
failed=0
for _ in $(seq 1 60); do
  failed=$(curl -fsS "http://127.0.0.1:$((base + 16))/metrics" | awk '/^fakeapp_emits_total\{result="failed"\}/{print $2}')
  [ "${failed:-0}" -ge 3 ] && break
  sleep 0.05
done
expect relay_down_emits_failed_counted "$([ "${failed:-0}" -eq 3 ] && echo 0 || echo 1)" "failed=${failed:-none}"
for i in 4 5 6 7 8; do post $((base + 16)) "norelay-$$-$i" >/dev/null; done
t0=$(date +%s%N)
stop_app app-norelay relay_down
ms=$((($(date +%s%N) - t0) / 1000000))
expect relay_down_sigterm_bounded "$([ "$ms" -lt 4000 ] && echo 0 || echo 1)" "took ${ms}ms"
grep -q 'emitter_stopped' "$E2E_TMP/app-norelay.log"
expect relay_down_flush_logged $? "no emitter_stopped line"
exit "$E2E_FAILS"
