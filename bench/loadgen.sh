#!/usr/bin/env bash
# loadgen's own capacity (issue 5 target: one loadgen process holds 10,000 clients and
# receives >= 500,000 frames/s on one core). A relay fans events out to 10,000 loadgen
# clients on ONE client thread; a separate emitter drives the relay. Printed: frames
# received, the wall-clock rate, loadgen's CPU while it holds the clients idle (3 s before
# the emitter starts), and the rate per second of loadgen CPU time (user+sys):
# "on one core" is the latter, since on a 2-core machine the relay needs the other core
# and caps the wall-clock rate.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

CLIENTS=${BENCH_LOADGEN_CLIENTS:-10000}
RATE=${BENCH_LOADGEN_EVENTS:-50}   # events/s from the emitter: x CLIENTS frames/s
EMIT_S=${BENCH_LOADGEN_SECONDS:-10}
base=$(e2e_port_base 2)
"$BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) --log-level warn \
  --queue-limit 100000 --history 200000 --max-clients 20000 2>"$tmp/relay.log" &
relay=$!
pids+=("$relay")
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$((base + 1))/readyz" >/dev/null 2>&1 && break; sleep 0.05; done

echo "== loadgen: $CLIENTS clients on one thread, relay emitting $RATE events/s for ${EMIT_S}s"
# --rate 0: loadgen creates nothing and its clients just listen for --duration.
TIMEFORMAT='%U %S'
{ time "$BIN/loadgen" run --target "http://127.0.0.1:$((base + 1))" --ws-target "ws://127.0.0.1:$base" \
  --clients "$CLIENTS" --threads 1 --rate 0 --duration "$((EMIT_S + 25))s" --warmup 60s --settle 2s \
  --source-ips 127.0.0.10-127.0.0.250 --progress=false --json "$tmp/lg.json" >"$tmp/lg.out" 2>"$tmp/lg.err"; } 2>"$tmp/time" &
lg=$!
pids+=("$lg")
# Wait until every client is connected (the relay's gauge), then emit.
for _ in $(seq 600); do
  n=$(curl -fs "http://127.0.0.1:$((base + 1))/metrics" | awk '/^ws_clients /{print $2}')
  [ "${n:-0}" -ge "$CLIENTS" ] && break
  sleep 0.1
done
echo "connected: ${n:-0} clients"
# loadgen's CPU ticks (utime+stime): 3 s holding idle clients, then the emit window.
lgpid=$(pgrep -P "$lg" -x loadgen || echo "$lg")
ticks() { awk '{print $14 + $15}' "/proc/$lgpid/stat" 2>/dev/null || echo 0; }
i0=$(ticks)
sleep 3
i1=$(ticks)
c0=$(ticks)
t0=$(date +%s.%N)
"$BUILD/bench/relay_bench" latency --port "$base" --pids "$relay" --event new_product \
  --pub-url "http://127.0.0.1:$((base + 1))/emit" --clients 1 --rate "$RATE" --seconds "$EMIT_S" \
  >"$tmp/emit.out" 2>&1 || true
t1=$(date +%s.%N)
c1=$(ticks)
hz=$(getconf CLK_TCK)
wait "$lg" || true
read -r u s <"$tmp/time" || { u=0; s=0; }
frames=$(jq '.events.frames' "$tmp/lg.json")
jq -n --argjson f "$frames" --argjson u "$u" --argjson s "$s" --arg t0 "$t0" --arg t1 "$t1" \
  --argjson c "$CLIENTS" --argjson opened "$(jq '.connections.opened' "$tmp/lg.json")" \
  --argjson w "$((c1 - c0))" --argjson hz "$hz" --argjson idle "$((i1 - i0))" '
  {clients: $c, connections_opened: $opened, frames: $f,
   emit_window_s: (($t1|tonumber) - ($t0|tonumber) | . * 100 | round / 100),
   frames_per_s_wall: ($f / (($t1|tonumber) - ($t0|tonumber)) | floor),
   loadgen_cpu_in_window_s: ($w / $hz),
   frames_per_loadgen_cpu_s: (if $w > 0 then $f / ($w / $hz) | floor else null end),
   loadgen_cpu_whole_run_s: ($u + $s),
   loadgen_idle_cpu_pct: ($idle / $hz / 3 * 100 | round)}' | tee "${BENCH_OUT:-/dev/null}"
