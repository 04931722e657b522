#!/usr/bin/env bash
# Watch mode: the end of the dual write (issue 10). An app that stores a product and then
# calls the relay can die in between: the product exists and nobody is told. With
# `relay --watch relaylab.products=new_product` the app makes no call at all (fakeapp
# --ws-mode none): the relays announce every insert from MongoDB's change stream.
#   1. relay mode, a 3 s window between write and emit (--emit-delay), the app killed in it:
#      the product is in MongoDB and no client ever hears of it (the bug, reproduced);
#   2. watch mode, the same crash: announced;
#   3. watch mode, inserts made while every relay is down: announced when one comes back
#      (it resumes from the change-stream token stored with the last announcement);
#   4. two relays watching: each insert announced once, with the same offset on both.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 12)
mport=$((base + 8))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 --log-level warn

relay() { # I EXTRA... : relay I over MongoDB
  local i=$1
  shift
  start_bg "relay$i-$RANDOM" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2 * i)) \
    --http-port $((base + 2 * i + 1)) --mongo-uri "$URI" --log-level warn "$@"
  echo "$!" >"$E2E_TMP/relay$i.pid"
  wait_http "http://127.0.0.1:$((base + 2 * i + 1))/readyz" 20
}
app() { # NAME PORT MODE EXTRA...
  local name=$1 port=$2 mode=$3
  shift 3
  start_bg "$name" "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port "$port" --ws-port 0 \
    --mongo-uri "$URI" --ws-mode "$mode" --pod "$name" --log-level warn "$@"
  echo "$!" >"$E2E_TMP/$name.app.pid"
  wait_http "http://127.0.0.1:$port/readyz" 20
}
post() { # PORT REQ_ID [TIMEOUT]: creates a product; prints the HTTP status (000 = no answer)
  curl -s -o /dev/null -w '%{http_code}' --max-time "${3:-10}" -X POST "http://127.0.0.1:$1/products" \
    -H 'Content-Type: application/json' -d "{\"name\":\"p-$2\",\"price\":1,\"req_id\":\"$2\"}" || true
}
exists() { # PORT REQ_ID: the product is in MongoDB (read back through an app)
  curl -fsS --max-time 10 "http://127.0.0.1:$1/products?limit=1000" |
    jq -e --arg r "$2" '(if type == "array" then . else .products // [] end) | map(select(.req_id == $r)) | length == 1' >/dev/null 2>&1
}
listen() { # I SECONDS OUT: a client of relay I, printing every frame
  # wsprint stops itself after SECONDS; the outer timeout (with -k) only bounds a client that
  # hangs. A sanitized client signalled by timeout could spin in LeakSanitizer's exit check.
  timeout -k 5 $(($2 + 20)) "$RELAYLAB_BIN/wsprint" --timeout "$2" \
    "ws://127.0.0.1:$((base + 2 * $1))/websocket-service?since=0&epoch=$EPOCH" >"$3" 2>/dev/null || true
}
heard() { grep -c "\"req_id\":\"$2\"" "$1" || true; }

relay 0 || { fail watch_relay_ready "relay 0"; exit 1; }
EPOCH=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
reader=$((base + 7))
app reader "$reader" none || { fail watch_reader_ready "fakeapp reader"; exit 1; }

# 1. relay mode: killed between its write and its emit.
app dual $((base + 4)) relay --relay-url "http://127.0.0.1:$((base + 1))/emit" --emit-delay 3s ||
  { fail watch_dual_app_ready "fakeapp relay mode"; exit 1; }
post $((base + 4)) dual-1 1 >/dev/null # the answer waits for the emit: it never comes
kill -KILL "$(cat "$E2E_TMP/dual.app.pid")"
listen 0 2 "$E2E_TMP/dual.out"
exists "$reader" dual-1 && stored=1 || stored=0
expect watch_dual_write_product_stored "$([ "$stored" = 1 ] && echo 0 || echo 1)" "dual-1 not in MongoDB"
expect watch_dual_write_never_announced "$([ "$(heard "$E2E_TMP/dual.out" dual-1)" = 0 ] && echo 0 || echo 1)" \
  "the relay-mode product was announced after all"

# 2. watch mode, the same crash: the relay announces it.
stop_relay() { kill -TERM "$(cat "$E2E_TMP/relay$1.pid")"; timeout 10 tail --pid="$(cat "$E2E_TMP/relay$1.pid")" -f /dev/null || true; }
stop_relay 0
relay 0 --watch relaylab.products=new_product || { fail watch_relay_ready "relay 0 --watch"; exit 1; }
app none1 $((base + 5)) none --emit-delay 3s || { fail watch_app_ready "fakeapp none"; exit 1; }
post $((base + 5)) watch-1 1 >/dev/null
kill -KILL "$(cat "$E2E_TMP/none1.app.pid")"
listen 0 3 "$E2E_TMP/watch1.out"
expect watch_crash_announced "$([ "$(heard "$E2E_TMP/watch1.out" watch-1)" = 1 ] && echo 0 || echo 1)" \
  "watch-1 heard $(heard "$E2E_TMP/watch1.out" watch-1) times"
expect watch_relay_mode_product_still_untold "$([ "$(heard "$E2E_TMP/watch1.out" dual-1)" = 0 ] && echo 0 || echo 1)" \
  "a pre-watch insert was announced: watch must start from its own resume point"

# 3. every relay down while the app inserts; the relay comes back and announces them.
app none2 $((base + 6)) none || { fail watch_app_ready "fakeapp none2"; exit 1; }
stop_relay 0
for i in 1 2 3; do post $((base + 6)) "down-$i" >/dev/null; done
relay 0 --watch relaylab.products=new_product || { fail watch_relay_ready "relay 0 again"; exit 1; }
listen 0 3 "$E2E_TMP/watch2.out"
n=0
for i in 1 2 3; do n=$((n + $(heard "$E2E_TMP/watch2.out" "down-$i"))); done
expect watch_inserts_while_down_announced "$([ "$n" = 3 ] && echo 0 || echo 1)" "$n of 3 heard"

# 4. two watching relays: one announcement per insert, same offset on both.
relay 1 --watch relaylab.products=new_product || { fail watch_relay_ready "relay 1"; exit 1; }
for i in $(seq 1 20); do post $((base + 6)) "both-$i" >/dev/null; done
sleep 1
listen 0 2 "$E2E_TMP/r0.out"
listen 1 2 "$E2E_TMP/r1.out"
once=0
for i in $(seq 1 20); do [ "$(heard "$E2E_TMP/r0.out" "both-$i")" = 1 ] && once=$((once + 1)); done
expect watch_two_relays_once_each "$([ "$once" = 20 ] && echo 0 || echo 1)" "$once of 20 announced exactly once"
same=$(diff <(grep -o '"offset":[0-9]*' "$E2E_TMP/r0.out") <(grep -o '"offset":[0-9]*' "$E2E_TMP/r1.out") >/dev/null && echo 0 || echo 1)
expect watch_two_relays_same_offsets "$same" "the two relays disagree"

# 5. the channel from the document: a client of store-7 hears store 7's product and the
#    one without a store, a client of no channel only the latter; store 8's reaches neither.
stop_relay 0
stop_relay 1
relay 0 --watch 'relaylab.products=new_product@store-{store}' || { fail watch_relay_ready "relay 0 @channel"; exit 1; }
last=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .offset)
for st in 7 8 ''; do
  curl -s -o /dev/null --max-time 10 -X POST "http://127.0.0.1:$((base + 6))/products" -H 'Content-Type: application/json' \
    -d "{\"name\":\"p\",\"price\":1,\"req_id\":\"chan-${st:-none}\"${st:+,\"store\":\"$st\"}}" || true
done
sleep 1
timeout -k 5 25 "$RELAYLAB_BIN/wsprint" --timeout 2 \
  "ws://127.0.0.1:$base/websocket-service?since=$last&epoch=$EPOCH&channels=store-7" >"$E2E_TMP/ch7.out" 2>/dev/null || true
listen 0 2 "$E2E_TMP/ch0.out"
got7=$(grep -o '"req_id":"chan-[a-z0-9]*"' "$E2E_TMP/ch7.out" | sort | tr '\n' ' ')
got0=$(grep -o '"req_id":"chan-[a-z0-9]*"' "$E2E_TMP/ch0.out" | sort | tr '\n' ' ')
expect watch_channel_from_field "$([ "$got7" = '"req_id":"chan-7" "req_id":"chan-none" ' ] &&
  grep -q '"channel":"store-7"' "$E2E_TMP/ch7.out" && echo 0 || echo 1)" "store-7 client heard: $got7"
expect watch_channel_not_broadcast "$([ "$got0" = '"req_id":"chan-none" ' ] && echo 0 || echo 1)" "no-channel client heard: $got0"
exit "$E2E_FAILS"
