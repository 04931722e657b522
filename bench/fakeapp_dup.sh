#!/usr/bin/env bash
# fakeapp's duplicate path against its unique-insert path (issue 16): wrk (2 threads, 32
# connections) POSTs products whose req_id already exists (one upserting findAndModify that
# finds the stored product, answered 200) with 100 and then 20,000 products in the
# collection, then unique products (answered 201), all on one fakeapp over one 3-member
# mongosim. The ratio duplicate/unique is the figure to watch: a scan in the lookup makes
# it fall as the collection grows.
#   FAKEAPP_DUP_DURATION (8s) FAKEAPP_DUP_CONNECTIONS (32) FAKEAPP_DUP_THREADS (2)
#   FAKEAPP_DUP_SIZES ("100 20000")
#   FAKEAPP_DUP_COMPARE_CMD: a command starting an app of the seed's kind (Express +
#     Socket.IO + the MongoDB Node driver) that follows the app contract (PORT, MONGO_URI,
#     POD_NAME, readiness on /healthz, POST /products {name, price, req_id}); when set, or
#     when examples/seed-app/server.js exists with its modules (the byo engineer's seed app;
#     `make deps` installs them), the same runs are made against it, with
#     WS_MODE=none and DB_NAME=benchcmp.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
duration=${FAKEAPP_DUP_DURATION:-8s}
conns=${FAKEAPP_DUP_CONNECTIONS:-32}
threads=${FAKEAPP_DUP_THREADS:-2}
read -r -a sizes <<<"${FAKEAPP_DUP_SIZES:-100 20000}"
B=$BUILD/bench/mongosim_bench
for p in "$BIN/fakeapp" "$BIN/mongosim" "$B"; do
  [ -x "$p" ] || { echo "bench/fakeapp_dup: $p is not built (run make bench)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench/fakeapp_dup: wrk not installed (make deps)" >&2; exit 1; }

base=$(e2e_port_base 8)
"$BIN/mongosim" --port "$base" --members 3 --log-level warn >"$tmp/mongosim.log" 2>&1 &
pids+=($!)
uri="mongodb://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/?replicaSet=rs0"
app=$((base + 4))
"$BIN/fakeapp" --bind 127.0.0.1 --port "$app" --ws-port $((base + 5)) --ws-mode none \
  --pod bench-1 --db bench --log-level warn --mongo-uri "$uri" >"$tmp/fakeapp.log" 2>&1 &
pids+=($!)

wait_ready() { # URL
  local _
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
wait_ready "http://127.0.0.1:$app/readyz" ||
  { echo "bench/fakeapp_dup: fakeapp not ready" >&2; cat "$tmp/fakeapp.log" >&2; exit 1; }

# run_wrk NAME URL SCRIPT ARGS...: one wrk run; prints its BENCH line as a RESULT line.
run_wrk() {
  local name=$1 url=$2 script=$3 line
  shift 3
  wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$script" "$url" -- "$@" >"$tmp/wrk.out"
  line=$(grep '^BENCH ' "$tmp/wrk.out")
  echo "RESULT $name ${line#BENCH }"
}

echo "== fakeapp POST /products: wrk -t$threads -c$conns -d$duration, ws-mode none, mongosim 3 members"
echo "   (a shared 2-core machine: compare the figures of this one run with each other)"
filled=0
for n in "${sizes[@]}"; do
  "$B" fill "$uri" bench products $((n - filled)) "more$n" >/dev/null
  filled=$n
  # The duplicates repeat the req_ids of this fill's products; the collection holds n.
  run_wrk "fakeapp_duplicate docs=$n" "http://127.0.0.1:$app" bench/fakeapp_dup.lua "more$n" \
    $((n > 100 ? n - 100 : n))
done
run_wrk "fakeapp_unique docs_from=$filled" "http://127.0.0.1:$app" bench/fakeapp.lua "u$$"

# --- hook: the Express + Socket.IO comparison app (byo engineer, examples/) -----------------
compare_cmd=${FAKEAPP_DUP_COMPARE_CMD:-}
if [ -z "$compare_cmd" ] && [ -f examples/seed-app/server.js ] && [ -d examples/seed-app/node_modules ]; then
  compare_cmd="node examples/seed-app/server.js"
fi
if [ -n "$compare_cmd" ]; then
  cport=$((base + 6))
  # A fresh database for the app: the same mongosim, another db name in the URI.
  curi="mongodb://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/benchcmp?replicaSet=rs0"
  PORT=$cport MONGO_URI=$curi POD_NAME=cmp-1 WS_MODE=none DB_NAME=benchcmp \
    bash -c "exec $compare_cmd" >"$tmp/compare.log" 2>&1 &
  pids+=($!)
  if wait_ready "http://127.0.0.1:$cport/healthz"; then
    filled=0
    for n in "${sizes[@]}"; do
      # Create the products through the app itself (whatever database it writes to).
      seq "$filled" $((n - 1)) | xargs -P 8 -I{} curl -fsS -o /dev/null --max-time 5 \
        -H 'Content-Type: application/json' \
        -d '{"name":"bench product","price":9.5,"req_id":"cmp-{}"}' \
        "http://127.0.0.1:$cport/products" || true
      filled=$n
      run_wrk "compare_app_duplicate docs=$n" "http://127.0.0.1:$cport" bench/fakeapp_dup.lua cmp "$n"
    done
    run_wrk "compare_app_unique docs_from=$filled" "http://127.0.0.1:$cport" bench/fakeapp.lua "cu$$"
  else
    echo "bench/fakeapp_dup: the comparison app ($compare_cmd) did not answer /healthz" >&2
    tail -20 "$tmp/compare.log" >&2
  fi
else
  echo "(no Express comparison app: set FAKEAPP_DUP_COMPARE_CMD, or merge examples/seed-app)"
fi
