#!/usr/bin/env bash
# loadgen's reconnects after a relay restart: by default they spend --connect-rate tokens
# like first connects (300 clients at 50/s take at least (300 - 64) / 50 = 4.7 s to be
# back); with --no-reconnect-paced each client's own backoff alone decides, as a fleet of
# browsers, and all are back within about a second.
# e2e-serial: it asserts the unpaced reconnects are back within 2.5 s.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_built loadgen_reconnect_prerequisites relay loadgen

base=$(e2e_port_base 2)
ws=$base intake=$((base + 1)) clients=300
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
relay() {
  start_bg "relay$1" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$ws" --http-port "$intake" \
    --log-level warn
  wait_http "http://127.0.0.1:$intake/readyz" 10 || { fail relay_start "see $E2E_TMP/relay$1.log"; exit 1; }
}

# run NAME FLAGS...: loadgen listens (rate 0); once every client is connected the relay is
# killed and started again at once. Sets back to the seconds from the restart to the last
# client's new connection, and n to how many clients reconnected.
run() {
  local name=$1 lg rc=0 t0
  shift
  relay "$name-a"
  timeout -k 5 90 "$RELAYLAB_BIN/loadgen" run --target "http://127.0.0.1:$intake" \
    --ws-target "http://127.0.0.1:$ws" --clients "$clients" --connect-rate 50 --rate 0 \
    --duration 9s --settle 0s --warmup 20s --reconnect-min 50ms --reconnect-max 200ms \
    --progress=false --json "$E2E_TMP/$name.json" --history "$E2E_TMP/$name.jsonl" "$@" \
    >"$E2E_TMP/$name.out" 2>&1 &
  lg=$!
  wait_relay_clients "$intake" "$clients" 20
  sleep 1
  kill -9 "$(cat "$E2E_TMP/relay$name-a.pid")"
  t0=$(date +%s%6N)
  relay "$name-b"
  wait "$lg" || rc=$?
  [ "$rc" -eq 0 ] || echo "loadgen $name exited $rc: $(tail -3 "$E2E_TMP/$name.out" | tr '\n' ' ')" >&2
  read -r back n < <(jq -rn --argjson t0 "$t0" '
    [inputs] as $h | ($h[] | select(.type == "start") | .wall_us) as $w
    | [$h[] | select(.type == "connect" and ($w + .t) > $t0)] as $c
    | "\((([$c[] | $w + .t] | max // $t0) - $t0) / 1e6) \([$c[] | .client] | unique | length)"' \
    "$E2E_TMP/$name.jsonl")
  kill "$(cat "$E2E_TMP/relay$name-b.pid")" 2>/dev/null || true
  sleep 0.5
}

run paced
echo "info: paced: $n of $clients back, the last $back s after the restart"
expect loadgen_reconnects_paced_by_default "$(awk -v b="$back" -v n="$n" -v c="$clients" 'BEGIN { exit !(n == c && b >= 3.5) }' && echo 0 || echo 1)" \
  "$n of $clients back, the last $back s after the restart (want all, after >= 3.5 s at 50/s)"
run unpaced --no-reconnect-paced
echo "info: unpaced: $n of $clients back, the last $back s after the restart"
expect loadgen_reconnects_unpaced "$(awk -v b="$back" -v n="$n" -v c="$clients" 'BEGIN { exit !(n == c && b < 2.5) }' && echo 0 || echo 1)" \
  "$n of $clients back, the last $back s after the restart (want all, within 2.5 s)"
exit "$E2E_FAILS"
