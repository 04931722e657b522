#!/usr/bin/env bash
# mongosim at lab scale (issue 16), on one 3-member mongosim:
#  - findOne({req_id}) and insertOne time at 1k, 10k and 100k documents (unique req_id
#    index), with the official Node.js driver (as issue 16 measured it) and with the C driver:
#    flat lookups mean the index is used;
#  - a relay-style trim: deleteMany of the 100,000 oldest of 110,000 events, by _id and by
#    date + _id, while another client pings every 5 ms (the longest ping is the stall).
#   MONGOSIM_BENCH_SIZES (1000,10000,100000) MONGOSIM_BENCH_OPS (2000)
#   MONGOSIM_BENCH_EVENTS (110000) MONGOSIM_BENCH_TRIM (100000)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
sizes=${MONGOSIM_BENCH_SIZES:-1000,10000,100000}
ops=${MONGOSIM_BENCH_OPS:-2000}
events=${MONGOSIM_BENCH_EVENTS:-110000}
old=${MONGOSIM_BENCH_TRIM:-100000}
B=$BUILD/bench/mongosim_bench
for p in "$BIN/mongosim" "$B"; do
  [ -x "$p" ] || { echo "bench/mongosim: $p is not built (run make bench)" >&2; exit 1; }
done

base=$(e2e_port_base 3)
"$BIN/mongosim" --port "$base" --members 3 --log-level warn >"$tmp/mongosim.log" 2>&1 &
pids+=($!)
uri="mongodb://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/?replicaSet=rs0"
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$((base + 2))") 2>/dev/null && break
  sleep 0.05
done

echo "== mongosim findOne({req_id}) and insertOne, unique req_id index, $ops operations each"
echo "   (figures on a shared 2-core machine are noisy: compare sizes within one run)"
node_dir=tests/e2e/node-mongo
if command -v node >/dev/null && [ -d "$node_dir/node_modules/mongodb" ]; then
  timeout 600 node bench/mongosim_lookup.js "$uri" "$sizes" "$ops"
else
  echo "bench/mongosim: node or the driver in $node_dir missing (make deps); skipping the Node driver" >&2
fi
timeout 600 "$B" lookup "$uri" "$sizes" "$ops"

echo "== mongosim trim: the $old oldest of $events relay events, a ping every 5 ms meanwhile"
timeout 600 "$B" trim "$uri" "$events" "$old"
rss=$(ps -o rss= -p "${pids[0]}" | tr -d ' ')
echo "RESULT mongosim_rss_kib=$rss"
