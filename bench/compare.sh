#!/usr/bin/env bash
# The relay beside the servers it means to beat, same client, same machine, same run:
# Nchan (Debian's libnginx-mod-nchan, 2 workers and 1) and the seed's relay (Express +
# Socket.IO). Each figure gets a fresh server; every measurement is one JSON line in
# $BENCH_OUT/results.jsonl (bench/report.sh makes the table and the page). A server or a
# feature that cannot run here is recorded as skipped, with the reason.
#   BENCH_SERVERS       (relay nchan2 nchan1 socketio)
#   BENCH_FANOUT        client counts of the saturated fan-out (1000,5000,10000)
#   BENCH_SECONDS       publishing time of each fan-out run (5)
#   BENCH_LAT_SECONDS   latency run: 1,000 clients x 200 events/s for this long (10)
#   BENCH_IDLE_STEPS    idle memory: client counts where RSS is read (1000,2000,5000,10000)
#   BENCH_STORM         connect storm clients (10000)
#   BENCH_PUBLISHERS    publishing threads, one HTTP connection each (4)
#   BENCH_REPEAT        latency and storm runs per server; the report keeps the best (2)
#   BENCH_EXTRA         later rows: "sio polling mongo channels threads" by default ("" for none)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

OUT=${BENCH_OUT:-out/bench}
RESULTS=$OUT/results.jsonl
B=$BUILD/bench/relay_bench
SERVERS=${BENCH_SERVERS-relay nchan2 nchan1 socketio}
FANOUT=${BENCH_FANOUT:-1000,5000,10000}
SECS=${BENCH_SECONDS:-5}
LAT_SECS=${BENCH_LAT_SECONDS:-10}
STEPS=${BENCH_IDLE_STEPS:-1000,2000,5000,10000}
STORM=${BENCH_STORM:-10000}
EXTRA=${BENCH_EXTRA-sio polling mongo channels threads}
# Several publishers: an open model keeps its rate when one request is slow (the seed's
# Socket.IO relay answers /emit from the thread that fans out).
PUBS=${BENCH_PUBLISHERS:-4}
# Other people's processes only ever add latency: the better of two runs, for every server.
REPEAT=${BENCH_REPEAT:-2}
mkdir -p "$OUT"
: >"$RESULTS"
[ -x "$B" ] || { echo "bench/compare: $B is not built (make bench builds it)" >&2; exit 1; }

# How busy the machine was (other people's tests share it): load average at start and end.
machine() {
  jq -cn --arg w "$1" --arg l "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson n "$(nproc)" \
    '{mode: "machine", server: "-", when: $w, nproc: $n, loadavg: $l}' >>"$RESULTS"
}
machine start
trap 'machine end; cleanup' EXIT

for s in $SERVERS; do
  echo "== $s"
  why=$(server_missing "$s")
  if [ -n "$why" ]; then
    skip "$s" all "$why"
    continue
  fi
  for n in ${FANOUT//,/ }; do
    fresh "$s" "$s" fanout --clients "$n" --seconds "$SECS" --publishers "$PUBS"
  done
  for r in $(seq "$REPEAT"); do
    fresh "$s" "$s" latency --clients 1000 --rate 200 --seconds "$LAT_SECS" --publishers "$PUBS" \
      --cdf "$OUT/cdf-$s.$r.tsv"
  done
  fresh "$s" "$s" idle --steps "$STEPS"
  for r in $(seq "$REPEAT"); do
    fresh "$s" "$s" storm --clients "$STORM"
  done
done

# ---------------------------------------------------------------- later rows

# Socket.IO subscribers (websocket transport) on the relay, beside the seed's Socket.IO relay.
extra_sio() {
  fresh relay-sio relay-sio fanout --clients 1000 --seconds "$SECS" --publishers "$PUBS"
  fresh relay-sio relay-sio latency --clients 1000 --rate 200 --seconds "$LAT_SECS" \
    --publishers "$PUBS" --cdf "$OUT/cdf-relay-sio.tsv"
}

# Socket.IO long-polling subscribers: needs the relay's polling transport and a polling
# subscriber in relay_bench.
extra_polling() {
  local ans
  server_start relay "$(e2e_port_base 4)" || true
  ans=$(curl -s --max-time 5 "http://127.0.0.1:$WS_PORT/socket.io/?EIO=4&transport=polling" || true)
  server_stop
  if [ "${ans:0:2}" != "0{" ]; then
    skip relay-polling fanout "the relay does not serve Engine.IO long-polling yet (the sio engineer is adding it)"
  elif ! grep -q -- --polling <<<"$("$B" 2>&1 || true)"; then
    skip relay-polling fanout "the relay serves long-polling, but relay_bench has no polling subscriber yet"
  else
    local s poll=(--path '/socket.io/?EIO=4&transport=polling' --polling --publishers "$PUBS")
    for s in relay socketio; do
      [ -z "$(server_missing "$s")" ] || continue
      fresh "$s" "$s-polling" fanout --clients 1000 --seconds "$SECS" "${poll[@]}"
      fresh "$s" "$s-polling" latency --clients 1000 --rate 200 --seconds "$LAT_SECS" "${poll[@]}" \
        --cdf "$OUT/cdf-$s-polling.tsv"
    done
  fi
}

# The MongoDB-backed relay (issue 10) on mongosim's replica set: emits/s per relay (beside
# the in-memory relay under the same load) and publish-to-receive through the replica set.
extra_mongo() {
  # Not `relay --help | grep -q`: grep leaves at the first match, the relay's next write
  # gets SIGPIPE, and pipefail took that for "no such flag".
  local help
  help=$("$BIN/relay" --help 2>&1 || true)
  if ! grep -q -- --mongo-uri <<<"$help"; then
    skip relay-mongo all "this relay has no --mongo-uri (an older build?)"
    return
  fi
  [ -x "$BIN/mongosim" ] || { skip relay-mongo all "$BIN/mongosim is not built"; return; }
  local m
  m=$(e2e_port_base 3)
  "$BIN/mongosim" --port "$m" --members 3 --log-level warn >"$tmp/mongosim.log" 2>&1 &
  pids+=($!)
  wait_port $((m + 2)) || { skip relay-mongo all "mongosim did not start"; return; }
  RELAY_ARGS=(--mongo-uri "mongodb://127.0.0.1:$m,127.0.0.1:$((m + 1)),127.0.0.1:$((m + 2))/?replicaSet=rs0"
    --mongo-db "bench$$")
  # emits/s: 10 subscribers, 8 publishers, so the intake (and MongoDB) sets the pace.
  fresh relay relay-mongo fanout --clients 10 --seconds "$SECS" --publishers 8
  fresh relay relay-mongo latency --clients 1000 --rate 200 --seconds "$LAT_SECS" \
    --publishers "$PUBS" --cdf "$OUT/cdf-relay-mongo.tsv"
  RELAY_ARGS=()
  fresh relay relay-mem fanout --clients 10 --seconds "$SECS" --publishers 8
}

# Channels (issue 17): 5,000 clients spread over 1, 10 and 100 channels, event k on channel
# k % K (100 channels make 50 deliveries an event: the intake sets the pace).
extra_channels() {
  local k line
  server_start relay "$(e2e_port_base 4)" || true
  # Two subscribers on two channels, one event each: with filtering each gets exactly one.
  line=$("$B" latency --label probe --port "$WS_PORT" --pids "$SERVER_PIDS" --pub-url "$PUB_URL" \
    --clients 2 --channels 2 --rate 20 --seconds 0.2 2>/dev/null | tail -1) || true
  server_stop
  if jq -e '.error == null and .lost == 0 and .duplicates == 0 and .events > 0' >/dev/null 2>&1 <<<"$line"; then
    for k in 1 10 100; do
      fresh relay "relay-ch$k" fanout --clients 5000 --seconds "$SECS" --channels "$k" \
        --publishers "$PUBS"
    done
  else
    skip relay-ch fanout "the relay does not filter by channel yet (issue 17): a subscriber of bench-1 got bench-0's event"
  fi
  if [ -z "$(server_missing nchan2)" ]; then
    NCHAN_CHANNELS=1
    for k in 1 10 100; do
      fresh nchan2 "nchan2-ch$k" fanout --clients 5000 --seconds "$SECS" --channels "$k" \
        --publishers "$PUBS"
    done
    NCHAN_CHANNELS=
  fi
}

# Sender threads (--send-threads 1): the fan-out of one event on two cores, at 1,000 x 50/s
# (spare CPU: the second sender has a core) beside the default and Nchan 2 workers, and at
# 200/s (none: it takes the core the co-located client needs).
extra_threads() {
  local r
  for r in $(seq "$REPEAT"); do
    fresh relay relay-50 latency --clients 1000 --rate 50 --seconds "$LAT_SECS" --publishers "$PUBS"
    RELAY_ARGS=(--send-threads 1)
    fresh relay relay-t1-50 latency --clients 1000 --rate 50 --seconds "$LAT_SECS" --publishers "$PUBS"
    fresh relay relay-t1 latency --clients 1000 --rate 200 --seconds "$LAT_SECS" --publishers "$PUBS"
    RELAY_ARGS=()
    [ -n "$(server_missing nchan2)" ] ||
      fresh nchan2 nchan2-50 latency --clients 1000 --rate 50 --seconds "$LAT_SECS" --publishers "$PUBS"
  done
}

for x in $EXTRA; do
  echo "== later rows: $x"
  "extra_$x"
done
