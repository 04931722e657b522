#!/usr/bin/env bash
# Many clients resuming at once from before a relay's ring (a restarted relay: all of them
# at about the same offset) over a slow MongoDB (every reply delayed 500 ms). The fetcher
# answers the queued requests in rounds (the edges once, one shared read), not one by one
# at three round trips each: fewer reads than requests, and each client still gets exactly
# its events (broadcast + its channel) after its since, recovered:true. A round takes 1.5 s
# here, longer than starting 30 clients takes on a busy sanitized CI run (with 100 ms, the
# clients' 1.8 s of arrivals there took 6 rounds, 18 reads: too close to the bar).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 5)
mport=$((base + 2))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
ADMIN=$RELAYLAB_ROOT/local-cluster/mongo-admin
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 --log-level warn
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --mongo-uri "$URI" --history 4 --emit-timeout 5s --replay-wait 15s
wait_http "http://127.0.0.1:$((base + 1))/readyz" 20 || { fail storm_ready "see $E2E_TMP/relay.log"; exit 1; }

# 30 events; every third on channel c1.
for i in $(seq 1 30); do
  ch=""
  [ $((i % 3)) -eq 0 ] && ch=',"channel":"c1"'
  curl -s --max-time 15 -H 'Content-Type: application/json' \
    -d "{\"event\":\"ev\",\"payload\":{\"i\":$i}$ch}" "http://127.0.0.1:$((base + 1))/emit" >/dev/null
done
epoch=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
head=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .offset)
expect storm_setup "$([ "$head" = 30 ] && echo 0 || echo 1)" "head $head after 30 emits"
metric() { curl -fsS "http://127.0.0.1:$((base + 1))/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
f0=$(metric ws_replay_fetches_total)
r0=$(metric relay_store_replay_reads_total)

for m in 0 1 2; do
  "$ADMIN" --timeout 3 $((mport + m)) mongosimLatency=1 member="$m" ms=500 >/dev/null
done
# Client k resumes from since=2; odd ones join c1: 20 broadcast events after 2 (+ 10 on c1).
N=30
pids=()
for k in $(seq 1 "$N"); do
  q="since=2&epoch=$epoch" want=18
  if [ $((k % 2)) -eq 1 ]; then q="$q&channels=c1" want=28; fi
  echo "$want" >"$E2E_TMP/want$k"
  timeout -k 5 60 "$RELAYLAB_BIN/wsprint" --count $((want + 2)) --timeout 50 \
    "ws://127.0.0.1:$base/websocket-service?$q" >"$E2E_TMP/c$k.txt" 2>/dev/null &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || true; done
for m in 0 1 2; do
  "$ADMIN" --timeout 3 $((mport + m)) mongosimLatency=1 member="$m" ms=0 >/dev/null || true
done

bad=""
for k in $(seq 1 "$N"); do
  rec=$(grep -m1 '"_recovery"' "$E2E_TMP/c$k.txt" | jq -r '.data.recovered' || true)
  offs=$(grep '"event":"ev"' "$E2E_TMP/c$k.txt" | jq -r .offset | tr '\n' ' ')
  if [ $((k % 2)) -eq 1 ]; then want=$(seq -s ' ' 3 30)
  else want=$(seq 3 30 | awk '$1 % 3 != 0' | tr '\n' ' ' | sed 's/ $//'); fi
  [ "$rec" = true ] && [ "${offs% }" = "$want" ] || bad="$bad client$k(recovered=$rec offsets=[${offs% }])"
done
expect storm_each_client_exact "$([ -z "$bad" ] && echo 0 || echo 1)" "${bad:-all $N clients exact}"

f1=$(metric ws_replay_fetches_total)
r1=$(metric relay_store_replay_reads_total)
fetches=$((${f1:-0} - ${f0:-0}))
reads=$((${r1:-999999} - ${r0:-0}))
echo "info: $reads MongoDB reads for $fetches replay requests"
# One by one, each request cost 3 reads (90 for 30 clients).
expect storm_fewer_reads_than_requests "$([ "$fetches" -ge "$N" ] && [ $((reads * 2)) -le "$fetches" ] && echo 0 || echo 1)" \
  "$reads MongoDB reads for $fetches replay requests"
exit "$E2E_FAILS"
