#!/usr/bin/env bash
# A MongoDB primary step-down while fakeapp takes 500 POSTs: every acknowledged product is in
# the database exactly once (tests/e2e/fakeapp_stepdown.c).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 5)
mongo=$base app=$((base + 4))
uri="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
products=${FAKEAPP_STEPDOWN_PRODUCTS:-500}

start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$mongo" --members 3 --election-timeout 1s --log-level warn

# run NAME URI: one fakeapp, the driver, the metrics.
run() {
  local name=$1 port=$2 u=$3 rc=0 m
  start_bg "$name" "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$port" --ws-mode none --pod "$name" \
    --mongo-uri "$u" --db "$name" --db-timeout 3s
  wait_http "http://127.0.0.1:$port/readyz" 15 || { fail "${name}_ready" "see $E2E_TMP/$name.log"; return; }
  "$RELAYLAB_BUILD/tests/e2e/fakeapp_stepdown" "$port" "$mongo" "$products" 4 >"$E2E_TMP/driver-$name.log" 2>&1 || rc=$?
  sed "s/^\(PASS\|FAIL\): /\1: ${name}_/" "$E2E_TMP/driver-$name.log"
  expect "${name}_driver_ran" "$([ "$rc" -le 1 ] && grep -q '^PASS' "$E2E_TMP/driver-$name.log" && echo 0 || echo 1)" "exit $rc"
  m=$(curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^fakeapp_products_total' | tr '\n' ' ')
  echo "info: $name: $m"
}

# With retryable writes (the default) the driver itself retries through the election.
run retrying "$app" "$uri"
# Without them fakeapp answers 503 during the election and the client retries the same
# req_id: the unique index must still keep every product single.
run noretry $((base + 3)) "$uri&retryWrites=false"
exit "$E2E_FAILS"
