#!/usr/bin/env bash
# A relay over MongoDB that starts before the replica set (as on Kubernetes, where relays
# and mongod start together): its intake answers at once, /healthz 200 (alive: a liveness
# probe must not restart it), /readyz 503 with the reason, /emit 503 with Retry-After, and
# /metrics; once MongoDB answers, it becomes ready and takes emits. SIGTERM while it waits
# is a clean stop (exit 0); --epoch with --mongo-uri is refused (the epoch is MongoDB's).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 8)
mport=$((base + 4))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
H=http://127.0.0.1:$((base + 1))

start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --mongo-uri "$URI" --mongo-db startup --log-level info
relay=$!
if wait_http "$H/healthz" 10; then pass waiting_relay_alive
else fail waiting_relay_alive "/healthz did not answer 2xx in 10 s with MongoDB down"; fi
# The driver's /dev/shm counters file is unlinked at start: no exit (a SIGKILL included)
# leaves one behind for a later process with the same pid to trip on.
expect driver_shm_file_unlinked "$([ ! -e "/dev/shm/mongoc-$relay" ] && echo 0 || echo 1)" "/dev/shm/mongoc-$relay exists"
body=$(curl -sS --max-time 2 "$H/healthz" || true)
expect waiting_relay_healthz_says_starting "$(jq -e '.status == "starting"' <<<"$body" >/dev/null 2>&1; echo $?)" "$body"
code=$(curl -sS -o "$E2E_TMP/readyz.json" -w '%{http_code}' --max-time 2 "$H/readyz" || true)
expect waiting_relay_not_ready "$([ "$code" = 503 ] && jq -e '.status == "starting" and (.reason | test("MongoDB"))' "$E2E_TMP/readyz.json" >/dev/null && echo 0 || echo 1)" \
  "$code $(cat "$E2E_TMP/readyz.json")"
curl -sS -D "$E2E_TMP/emit.h" -o "$E2E_TMP/emit.json" --max-time 5 -X POST -H 'Content-Type: application/json' \
  -d '{"event":"e","payload":{"n":1},"id":"early-1"}' "$H/emit" >/dev/null || true
expect waiting_relay_emit_503_retry_after "$(grep -q '^HTTP/1.1 503' "$E2E_TMP/emit.h" && grep -qi '^Retry-After: 1' "$E2E_TMP/emit.h" &&
  jq -e '.error == "starting"' "$E2E_TMP/emit.json" >/dev/null && echo 0 || echo 1)" "$(head -1 "$E2E_TMP/emit.h") $(cat "$E2E_TMP/emit.json")"
# The page read whole first: under pipefail, `curl | grep -q` fails when grep leaves at its
# match and curl, still writing, gets EPIPE (curl: (23) Failed writing body).
m=$(curl -fsS --max-time 2 "$H/metrics" || true)
expect waiting_relay_metrics "$(grep -q '^relay_emits_total{result="unavailable"} 1$' <<<"$m" && echo 0 || echo 1)"

# MongoDB comes up: the relay opens its store and becomes ready without a restart.
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 --log-level warn
if wait_http "$H/readyz" 30; then pass relay_ready_once_mongodb_answers
else fail relay_ready_once_mongodb_answers "not ready 30 s after MongoDB started"; fi
out=$(curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
  -d '{"event":"e","payload":{"n":1},"id":"early-1"}' "$H/emit" || true)
expect emit_accepted_after_start "$(jq -e '.offset == 1' <<<"$out" >/dev/null 2>&1; echo $?)" "$out"
kill -TERM "$relay"
rc=0
timeout 15 tail --pid="$relay" -f /dev/null || rc=$?
wait "$relay" || rc=$?
expect started_relay_sigterm_exit_0 "$rc"

# SIGTERM with MongoDB paused and an emit under way: the emit is answered 503 "draining"
# (retry-safe: it carries an id), not reset, and the relay exits well within the emit
# timeout (5 s) it used to wait out.
start_bg relay3 "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) --http-port $((base + 3)) \
  --mongo-uri "$URI" --mongo-db stopping --log-level info
relay3=$!
H3=http://127.0.0.1:$((base + 3))
wait_http "$H3/readyz" 30 || fail relay3_ready "not ready in 30 s"
msim=$(cat "$E2E_TMP/mongosim.pid")
kill -STOP "$msim"
curl -sS -o "$E2E_TMP/emit3.json" -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: application/json' \
  -d '{"event":"e","payload":{"n":3},"id":"stop-1"}' "$H3/emit" >"$E2E_TMP/emit3.code" 2>/dev/null &
cpid=$!
# While MongoDB does not answer, the stream's silence shows on /metrics (the lag gauge
# keeps the value of the last event delivered).
sleep 2.5
silent=$(curl -fsS --max-time 2 "$H3/metrics" | awk '/^relay_stream_silent_ms /{print $2}')
expect paused_mongo_stream_silence_shown "$([ "${silent:-0}" -ge 1000 ] && echo 0 || echo 1)" "relay_stream_silent_ms=${silent:-absent}"
t0=$(date +%s%N)
kill -TERM "$relay3"
rc=0
wait_exit "$relay3" 15 || rc=$?
wait "$relay3" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$cpid" || true
expect paused_mongo_sigterm_exit_0 "$rc" "exit $rc"
expect paused_mongo_sigterm_within_4s "$([ "$ms" -le 4000 ] && echo 0 || echo 1)" "took $ms ms"
expect paused_mongo_emit_answered_503 "$([ "$(cat "$E2E_TMP/emit3.code")" = 503 ] &&
  jq -e '.error == "draining"' "$E2E_TMP/emit3.json" >/dev/null && echo 0 || echo 1)" \
  "status $(cat "$E2E_TMP/emit3.code") $(cat "$E2E_TMP/emit3.json" 2>/dev/null)"
kill -CONT "$msim"

# SIGTERM while still waiting (MongoDB on ports where nothing listens): exit 0, promptly.
start_bg relay2 "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) --http-port $((base + 3)) \
  --mongo-uri "mongodb://127.0.0.1:$((mport + 3))/?replicaSet=rs0" --log-level info
relay2=$!
wait_http "http://127.0.0.1:$((base + 3))/healthz" 10 || fail relay2_alive "no /healthz"
kill -TERM "$relay2"
t0=$(date +%s)
rc=0
timeout 15 tail --pid="$relay2" -f /dev/null || rc=$?
wait "$relay2" || rc=$?
expect waiting_relay_sigterm_exit_0 "$rc" "exit $rc"
expect waiting_relay_sigterm_within_10s "$([ $(($(date +%s) - t0)) -le 10 ] && echo 0 || echo 1)"

# --epoch names the in-memory relay's stream only.
rc=0
err=$("$RELAYLAB_BIN/relay" --mongo-uri "$URI" --epoch mine 2>&1) || rc=$?
expect epoch_with_mongo_refused "$([ "$rc" = 2 ] && grep -q -- '--epoch' <<<"$err" && echo 0 || echo 1)" "exit $rc: $err"
exit "$E2E_FAILS"
