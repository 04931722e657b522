#!/usr/bin/env bash
# Relays over MongoDB (issue 10): three relays share one stream through a replica set
# (mongosim here, mongod where it is on PATH is not needed: the relays only use the driver).
# While emits are spread over the relays (each retried on another relay until one answers
# 202) and clients resume on another relay whenever their connection ends, the script
# pauses a relay (SIGSTOP 3 s, SIGCONT), kills one (SIGKILL) and restarts it, steps the
# MongoDB primary down, and stops one with SIGTERM and restarts it. relay_mongo checks that
# every acknowledged emit is in every relay's stream exactly once at its acknowledged offset,
# in the same order everywhere, and that no client missed or repeated anything.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 10)
mport=$((base + 6))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
ADMIN=$RELAYLAB_ROOT/local-cluster/mongo-admin
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 \
  --election-timeout 1s --log-level warn

# Small rings (--history 50): resumes and the final read go back to MongoDB for most events.
start_relay() { # I
  local i=$1
  start_bg "relay$i-$(date +%s%N)" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2 * i)) \
    --http-port $((base + 2 * i + 1)) --mongo-uri "$URI" --history 50 --emit-timeout 2s \
    --log-level info
  echo "$!" >"$E2E_TMP/relay$i.pid"
}
relay_pid() { cat "$E2E_TMP/relay$1.pid"; }
for i in 0 1 2; do start_relay "$i"; done
for i in 0 1 2; do
  if wait_http "http://127.0.0.1:$((base + 2 * i + 1))/readyz" 20; then pass "mongo_relay${i}_ready"
  else fail "mongo_relay${i}_ready" "not ready in 20 s"; exit 1; fi
done
e1=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
e2=$(curl -fsS "http://127.0.0.1:$((base + 5))/readyz" | jq -r .epoch)
expect mongo_one_epoch "$([ "$e1" = "$e2" ] && [ -n "$e1" ] && echo 0 || echo 1)" "$e1 vs $e2"

# Before the run: the primary killed (and restarted). Every relay's change stream, opened on
# it, breaks with a network error, which the C driver resumes by itself on the new primary
# (the relay sees no error); the relay counts that resume too (relay_stream_resumes_total,
# from the driver's command monitoring).
resumes() { curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk '$1 == "relay_stream_resumes_total" { print $2 }'; }
r0=$(resumes)
p=$("$ADMIN" --timeout 5 --get primary "$mport" hello 2>/dev/null || true)
if [ -n "$p" ]; then
  pi=$((${p##*:} - mport))
  via=$((mport + (pi + 1) % 3))
  "$ADMIN" --timeout 5 "$via" mongosimKill=1 member="$pi" >/dev/null 2>&1 || true
  # At worst a getMore left unanswered ends at the stream's socket timeout (6 s).
  for _ in $(seq 30); do
    [ "$(resumes)" -gt "$r0" ] && break
    sleep 0.5
  done
  expect mongo_stream_driver_resume_counted "$( [ "$(resumes)" -gt "$r0" ]; echo $?)" \
    "relay 0: relay_stream_resumes_total $r0 -> $(resumes) after the primary ($p) was killed"
  "$ADMIN" --timeout 5 "$via" mongosimRestart=1 member="$pi" >/dev/null 2>&1 || true
else
  fail mongo_stream_driver_resume_counted "no member names a primary"
fi

SECS=${MONGO_SECONDS:-12}
RATE=${MONGO_RATE:-150}
"$RELAYLAB_BUILD/tests/e2e/relay_mongo" "$SECS" "$RATE" "${MONGO_CLIENTS:-30}" "$base" \
  $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)) >"$E2E_TMP/check.out" 2>&1 &
checker=$!

sleep 3
kill -STOP "$(relay_pid 0)"            # a GC pause, CPU throttling, a frozen node
echo "info: relay 0 paused"
sleep 3
kill -CONT "$(relay_pid 0)"
echo "info: relay 0 resumed"
sleep 1
kill -KILL "$(relay_pid 1)"            # a crash
echo "info: relay 1 killed"
sleep 1
start_relay 1
sleep 1.5
if "$ADMIN" --timeout 5 "$mport" mongosimStepDown=1 secs=3 >/dev/null 2>&1 ||
  "$ADMIN" --timeout 5 $((mport + 1)) mongosimStepDown=1 secs=3 >/dev/null 2>&1; then
  echo "info: primary stepped down"
else
  fail mongo_stepdown_sent "mongo-admin could not step the primary down"
fi
sleep 1.5
kill -TERM "$(relay_pid 2)"            # a rolling update
echo "info: relay 2 stopped"
timeout 10 tail --pid="$(relay_pid 2)" -f /dev/null || true
start_relay 2

if wait "$checker"; then :; fi
cat "$E2E_TMP/check.out"
grep -q '^FAIL' "$E2E_TMP/check.out" && E2E_FAILS=$((E2E_FAILS + 1))
if wait_http "http://127.0.0.1:$((base + 5))/readyz" 10; then pass mongo_restarted_relay_ready
else fail mongo_restarted_relay_ready "relay 2 not ready after its restart"; fi
exit "$E2E_FAILS"
