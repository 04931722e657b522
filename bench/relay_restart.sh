#!/usr/bin/env bash
# A relay restarted under load (docs/relay-ha.md, "Restart under load"): mongosim with 3
# members, relay B (fakeapp emits 50/s through it) and relay A holding CLIENTS loadgen
# clients (resume on); relay A is killed with SIGKILL and restarted 1 s later on the same
# ports. Prints how long the clients took to recover and to get back to live events, the
# fetcher's requests and reads, and loadgen's lost/duplicated.
#   bench/relay_restart.sh [RELAY_BIN] [CLIENTS] [HISTORY] [OUTDIR]
# e.g. bench/relay_restart.sh /tmp/relay.old 5000 50 /tmp/restart-old (RELAY_BIN: compare builds)
set -euo pipefail
ARG_RB=${1:+$(realpath "$1")} ARG_OUT=${4:+$(realpath -m "$4")} # given from the caller's directory
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh # BIN, ports, the fd limit, pids stopped on exit
RB=${ARG_RB:-$BIN/relay} N=${2:-2000} HIST=${3:-50} OUT=${ARG_OUT:-$(mktemp -d /tmp/relay-restart.XXXXXX)}
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/run.json* "$OUT"/*_ns "$OUT"/metricsA.txt
base=$(e2e_port_base 30)
mongo=$((base + 10)) wsa=$((base + 20)) ia=$((base + 21)) app=$((base + 22)) appws=$((base + 23))
wsb=$((base + 24)) ib=$((base + 25))
URI="mongodb://127.0.0.1:$mongo,127.0.0.1:$((mongo + 1)),127.0.0.1:$((mongo + 2))/?replicaSet=rs0"
wait_http() { # URL SECONDS: until URL answers 2xx
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
metric() { curl -fsS --max-time 2 "http://127.0.0.1:$ia/metrics" 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
start_a() {
  "$RB" --bind 127.0.0.1 --ws-port "$wsa" --http-port "$ia" --mongo-uri "$URI" --history "$HIST" \
    >>"$OUT/relayA.log" 2>&1 &
  APID=$!
  pids+=("$APID")
}

"$BIN/mongosim" --port "$mongo" --members 3 --bind 127.0.0.1 --log-level warn >"$OUT/mongosim.log" 2>&1 &
pids+=("$!")
"$RB" --bind 127.0.0.1 --ws-port "$wsb" --http-port "$ib" --mongo-uri "$URI" --history "$HIST" \
  --log-level warn >"$OUT/relayB.log" 2>&1 &
pids+=("$!")
start_a
if ! wait_http "http://127.0.0.1:$ia/readyz" 30 || ! wait_http "http://127.0.0.1:$ib/readyz" 30; then
  echo "relays not ready, see $OUT" >&2
  exit 1
fi
POD_NAME=app-0 FAKEAPP_PORT=$app FAKEAPP_WS_PORT=$appws FAKEAPP_BIND=127.0.0.1 FAKEAPP_DB=relaylab \
  MONGO_URI="$URI" RELAY_URL="http://127.0.0.1:$ib/emit" "$BIN/fakeapp" --ws-mode relay \
  >"$OUT/fakeapp.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$app/healthz" 30 || { echo "fakeapp not ready, see $OUT" >&2; exit 1; }
"$BIN/loadgen" run --target "http://127.0.0.1:$app" --ws-target "http://127.0.0.1:$wsa" \
  --clients "$N" --source-ips 127.0.0.10-127.0.0.250 --rate 50 --duration 45s --settle 5s \
  --warmup 60s --no-progress --json "$OUT/run.json" --history "$OUT/run.jsonl" \
  --expect 'lost==0' --expect 'duplicated==0' >"$OUT/loadgen.out" 2>"$OUT/loadgen.err" &
LG=$!
pids+=("$LG")
c=0
for _ in $(seq 120); do
  c=$(metric ws_clients || true)
  [ "${c:-0}" -ge "$N" ] && break
  sleep 0.5
done
echo "connected=${c:-0}"
sleep 10
kill -9 "$APID"
wait "$APID" 2>/dev/null || true
sleep 1
date +%s%N >"$OUT/restart_ns"
start_a
wait_http "http://127.0.0.1:$ia/readyz" 30 && date +%s%N >"$OUT/ready_ns"
for _ in $(seq 60); do
  sleep 1
  c=$(metric ws_clients || true)
  [ "${c:-0}" -ge "$N" ] && break
done
sleep 3
curl -fsS "http://127.0.0.1:$ia/metrics" >"$OUT/metricsA.txt" || true
rc=0
wait "$LG" || rc=$?
echo "loadgen_rc=$rc (out: $OUT)"
python3 bench/relay_restart.py "$OUT"
