#!/usr/bin/env bash
# fakeapp once MongoDB is gone (issue 16): the C driver's log goes through fakeapp's logger
# (nothing on stdout, filtered by --log-level), and SIGTERM after mongosim was killed mid-run
# exits within the drain timeout plus a little slack, not after a server selection timeout;
# also when MongoDB hangs (paused, as by the lab's pause-mongo) with a create in flight, which
# the driver holds for twice the socket timeout.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

drain_ms=1000
slack_ms=${RELAYLAB_SANITIZED:+2500}
slack_ms=${slack_ms:-1500}

# run NAME LEVEL [pause]: mongosim + fakeapp at --log-level LEVEL, traffic, kill mongosim (or, with
# pause, SIGSTOP it and leave a create in flight), SIGTERM fakeapp. Leaves
# $E2E_TMP/app-NAME.{out,err} and the shutdown time in $E2E_TMP/stop-NAME.ms.
run() {
  local name=$1 level=$2 how=${3:-kill} base mongo app uri i st t0 t1 apid rc mpid cpid=
  base=$(e2e_port_base 6)
  mongo=$base app=$((base + 4))
  uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
  start_bg "mongosim-$name" "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --log-level warn
  "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$app" --ws-port $((base + 5)) --ws-mode none \
    --pod down-1 --db down --log-level "$level" --drain-timeout "${drain_ms}ms" --db-timeout 3s \
    --mongo-uri "$uri" >"$E2E_TMP/app-$name.out" 2>"$E2E_TMP/app-$name.err" &
  apid=$!
  E2E_PIDS+=("$apid")
  wait_http "http://127.0.0.1:$app/readyz" 15 || { fail "ready_$name" "see $E2E_TMP/app-$name.err"; return; }
  for i in $(seq 1 30); do
    st=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      -d "{\"name\":\"p\",\"price\":1,\"req_id\":\"down-$name-$((i % 20))\"}" \
      "http://127.0.0.1:$app/products")
    [ "$st" = 201 ] || [ "$st" = 200 ] || { fail "traffic_$name" "status $st"; return; }
  done
  mpid=$(cat "$E2E_TMP/mongosim-$name.pid")
  if [ "$how" = pause ]; then
    kill -STOP "$mpid"
    curl -sS -o /dev/null --max-time 20 -H 'Content-Type: application/json' \
      -d "{\"name\":\"p\",\"price\":1,\"req_id\":\"hung-$name\"}" \
      "http://127.0.0.1:$app/products" 2>/dev/null &
    cpid=$!
    E2E_PIDS+=("$cpid")
    sleep 0.5 # the create is in the driver, waiting for an answer that does not come
  else
    kill -9 "$mpid"
    sleep 2 # the driver's monitors notice; before the fix they printed DEBUG lines on stdout
  fi
  t0=$(date +%s%3N)
  kill -TERM "$apid"
  rc=0
  wait_exit "$apid" 15 || rc=$?
  t1=$(date +%s%3N)
  wait "$apid" || rc=$?
  echo $((t1 - t0)) >"$E2E_TMP/stop-$name.ms"
  expect "exit_0_after_sigterm_$name" "$rc" "rc=$rc"
  if [ -n "$cpid" ]; then
    wait "$cpid" || true
    kill -CONT "$mpid" 2>/dev/null || true
  fi
}

run warn warn
ms=$(cat "$E2E_TMP/stop-warn.ms" 2>/dev/null || echo 99999)
expect shutdown_within_drain_timeout "$([ "$ms" -le $((drain_ms + slack_ms)) ] && echo 0 || echo 1)" \
  "took ${ms} ms with --drain-timeout ${drain_ms}ms"
expect nothing_on_stdout_warn "$([ ! -s "$E2E_TMP/app-warn.out" ] && echo 0 || echo 1)" \
  "$(head -3 "$E2E_TMP/app-warn.out")"
# At warn, the driver's debug chatter ("monitor: ... command or network error") is filtered.
expect driver_debug_filtered_at_warn "$(grep -q 'monitor' "$E2E_TMP/app-warn.err" && echo 1 || echo 0)" \
  "$(grep -m2 monitor "$E2E_TMP/app-warn.err")"

# A hung MongoDB with a create in flight: the drain timeout still bounds the shutdown.
run hung warn pause
ms=$(cat "$E2E_TMP/stop-hung.ms" 2>/dev/null || echo 99999)
expect shutdown_within_drain_timeout_mongo_hung \
  "$([ "$ms" -le $((drain_ms + slack_ms)) ] && echo 0 || echo 1)" \
  "took ${ms} ms with --drain-timeout ${drain_ms}ms"
expect drain_timeout_logged "$(grep -q 'msg=drain_timeout' "$E2E_TMP/app-hung.err" && echo 0 || echo 1)" \
  "see $E2E_TMP/app-hung.err"

run debug debug
expect nothing_on_stdout_debug "$([ ! -s "$E2E_TMP/app-debug.out" ] && echo 0 || echo 1)"
# At debug, the same driver lines arrive through our logger, one key=value line each.
expect driver_lines_through_logger "$(grep -q 'level=debug prog=fakeapp msg=mongoc domain=monitor msg="' \
  "$E2E_TMP/app-debug.err" && echo 0 || echo 1)" "see $E2E_TMP/app-debug.err"
exit "$E2E_FAILS"
