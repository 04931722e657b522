#!/usr/bin/env bash
# loadgen's plain heartbeat (--ping-interval/--ping-timeout) against a real relay. A server
# that stops answering while its TCP connection stays up (SIGSTOP here; a partition behind
# an ingress in the lab) is noticed only by silence:
#   - idle relay, heartbeat on: pongs keep every client connected (nothing dropped although
#     no event arrives for seconds);
#   - relay paused 2 s, no heartbeat: nobody notices (0 dropped) — a browser's WebSocket;
#   - relay paused 2 s, heartbeat on: every client drops it ("ping timeout", 1006) and
#     reconnects once it answers again.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

need_built loadgen_heartbeat_prerequisites relay loadgen

base=$(e2e_port_base 2)
ws=$base intake=$((base + 1))
clients=6
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$ws" --http-port "$intake"
wait_http "http://127.0.0.1:$intake/readyz" 10 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }
relay_pid=$(cat "$E2E_TMP/relay.pid")

# run NAME PAUSE FLAGS...: loadgen listens (rate 0) for 4 s; with PAUSE=1 the relay is
# stopped from 1 s to 3 s into the run. Prints nothing; NAME.json and NAME.jsonl stay.
run() {
  local name=$1 pause=$2 lg rc=0
  shift 2
  timeout -k 5 60 "$RELAYLAB_BIN/loadgen" run --target "http://127.0.0.1:$intake" \
    --ws-target "http://127.0.0.1:$ws" --clients "$clients" --rate 0 --duration 4s \
    --settle 0s --warmup 10s --reconnect-min 50ms --reconnect-max 200ms --progress=false \
    --json "$E2E_TMP/$name.json" --history "$E2E_TMP/$name.jsonl" "$@" \
    >"$E2E_TMP/$name.out" 2>&1 &
  lg=$!
  if [ "$pause" = 1 ]; then
    # The run starts once every client is connected: wait for the relay to count them.
    wait_relay_clients "$intake" "$clients" 10
    sleep 1
    kill -STOP "$relay_pid"
    sleep 2
    kill -CONT "$relay_pid"
  fi
  wait "$lg" || rc=$?
  [ "$rc" -eq 0 ] || echo "loadgen $name exited $rc: $(tail -3 "$E2E_TMP/$name.out" | tr '\n' ' ')" >&2
}
dropped() { jq -r '.connections.dropped' "$E2E_TMP/$1.json" 2>/dev/null || echo missing; }
timeouts() { grep -c '"type":"disconnect".*"reason":"ping timeout"' "$E2E_TMP/$1.jsonl" || true; }

run idle 0 --ping-interval 200ms --ping-timeout 300ms
d=$(dropped idle)
expect loadgen_heartbeat_idle_server_keeps_clients "$([ "$d" = 0 ] && echo 0 || echo 1)" \
  "dropped $d, want 0: pongs from a live relay must count ($(timeouts idle) ping timeouts)"

run silent-plain 1
d=$(dropped silent-plain)
expect loadgen_heartbeat_off_does_not_notice "$([ "$d" = 0 ] && echo 0 || echo 1)" \
  "dropped $d, want 0 without --ping-interval"

run silent-ping 1 --ping-interval 300ms --ping-timeout 300ms
d=$(dropped silent-ping) n=$(timeouts silent-ping)
expect loadgen_heartbeat_notices_silent_server "$([ "$d" != missing ] && [ "$d" -ge "$clients" ] && [ "$n" -ge "$clients" ] && echo 0 || echo 1)" \
  "dropped $d, ping timeouts $n, want >= $clients of each"
opened=$(jq -r '.connections.opened' "$E2E_TMP/silent-ping.json" 2>/dev/null || echo 0)
expect loadgen_heartbeat_reconnects_after "$([ "$opened" -ge $((2 * clients)) ] && echo 0 || echo 1)" \
  "opened $opened, want >= $((2 * clients)) (each client back once the relay answers)"

rc=0
"$RELAYLAB_BIN/loadgen" run --target http://127.0.0.1:1 --protocol socketio --ping-interval 1s \
  >"$E2E_TMP/bad.out" 2>&1 || rc=$?
expect loadgen_heartbeat_plain_only "$([ "$rc" -eq 2 ] && grep -q 'protocol plain' "$E2E_TMP/bad.out" && echo 0 || echo 1)" \
  "exit $rc: $(head -2 "$E2E_TMP/bad.out" | tr '\n' ' ')"
exit "$E2E_FAILS"
