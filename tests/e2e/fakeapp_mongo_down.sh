#!/usr/bin/env bash
# fakeapp once MongoDB is gone (issue 16): the C driver's log goes through fakeapp's logger
# (nothing on stdout, filtered by --log-level), and SIGTERM after mongosim was killed mid-run
# exits within the drain timeout plus a little slack, not after a server selection timeout.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

drain_ms=1000
slack_ms=${RELAYLAB_SANITIZED:+2500}
slack_ms=${slack_ms:-1500}

# run LEVEL: mongosim + fakeapp at --log-level LEVEL, traffic, kill mongosim, SIGTERM fakeapp.
# Leaves $E2E_TMP/app-LEVEL.{out,err} and the shutdown time in $E2E_TMP/stop-LEVEL.ms.
run() {
  local level=$1 base mongo app uri i st t0 t1 apid rc
  base=$(e2e_port_base 6)
  mongo=$base app=$((base + 4))
  uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
  start_bg "mongosim-$level" "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --log-level warn
  "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$app" --ws-port $((base + 5)) --ws-mode none \
    --pod down-1 --db down --log-level "$level" --drain-timeout "${drain_ms}ms" --db-timeout 3s \
    --mongo-uri "$uri" >"$E2E_TMP/app-$level.out" 2>"$E2E_TMP/app-$level.err" &
  apid=$!
  E2E_PIDS+=("$apid")
  wait_http "http://127.0.0.1:$app/readyz" 15 || { fail "ready_$level" "see $E2E_TMP/app-$level.err"; return; }
  for i in $(seq 1 30); do
    st=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      -d "{\"name\":\"p\",\"price\":1,\"req_id\":\"down-$level-$((i % 20))\"}" \
      "http://127.0.0.1:$app/products")
    [ "$st" = 201 ] || [ "$st" = 200 ] || { fail "traffic_$level" "status $st"; return; }
  done
  kill -9 "$(cat "$E2E_TMP/mongosim-$level.pid")"
  sleep 2 # the driver's monitors notice; before the fix they printed DEBUG lines on stdout
  t0=$(date +%s%3N)
  kill -TERM "$apid"
  rc=0
  timeout 15 tail --pid="$apid" -f /dev/null || rc=$?
  t1=$(date +%s%3N)
  wait "$apid" || rc=$?
  echo $((t1 - t0)) >"$E2E_TMP/stop-$level.ms"
  expect "exit_0_after_sigterm_$level" "$rc" "rc=$rc"
}

run warn
ms=$(cat "$E2E_TMP/stop-warn.ms" 2>/dev/null || echo 99999)
expect shutdown_within_drain_timeout "$([ "$ms" -le $((drain_ms + slack_ms)) ] && echo 0 || echo 1)" \
  "took ${ms} ms with --drain-timeout ${drain_ms}ms"
expect nothing_on_stdout_warn "$([ ! -s "$E2E_TMP/app-warn.out" ] && echo 0 || echo 1)" \
  "$(head -3 "$E2E_TMP/app-warn.out")"
# At warn, the driver's debug chatter ("monitor: ... command or network error") is filtered.
expect driver_debug_filtered_at_warn "$(grep -q 'monitor' "$E2E_TMP/app-warn.err" && echo 1 || echo 0)" \
  "$(grep -m2 monitor "$E2E_TMP/app-warn.err")"

run debug
expect nothing_on_stdout_debug "$([ ! -s "$E2E_TMP/app-debug.out" ] && echo 0 || echo 1)"
# At debug, the same driver lines arrive through our logger, one key=value line each.
expect driver_lines_through_logger "$(grep -q 'level=debug prog=fakeapp msg=mongoc domain=monitor msg="' \
  "$E2E_TMP/app-debug.err" && echo 0 || echo 1)" "see $E2E_TMP/app-debug.err"
exit "$E2E_FAILS"
