#!/usr/bin/env bash
# Relays over MongoDB, split brain: the primary every relay's change stream was opened on is
# cut off from the other members (mongosimPartition; the relays still reach it). The others
# elect a new primary and commit the relays' emits there, while the cut-off member goes on
# answering each getMore of those streams, empty: nothing fails, and until the heal no relay
# would deliver again. Each relay must notice (an offset committed and not delivered for
# 3 s) and reopen its stream on the new primary, with the partition still in place; and a
# healthy, idle stream is never taken for a stuck one. The same for a relay watching the
# app's collection (--watch; fakeapp --ws-mode none writes the products): its stream has no
# offsets, so it moves once it has answered empty for 3 s from a member that is no longer
# the primary.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 10)
mport=$((base + 6))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
ADMIN=$RELAYLAB_ROOT/local-cluster/mongo-admin
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 \
  --election-timeout 1s --log-level warn
for i in 0 1; do
  start_bg "relay$i" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2 * i)) \
    --http-port $((base + 2 * i + 1)) --mongo-uri "$URI" --emit-timeout 2s --log-level info
done
start_bg relay2 "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 4)) \
  --http-port $((base + 5)) --mongo-uri "$URI" --emit-timeout 2s --log-level info \
  --watch relaylab.products=new_product
start_bg app "$RELAYLAB_BIN/fakeapp" --bind 127.0.0.1 --port $((base + 9)) --ws-port 0 \
  --mongo-uri "$URI" --ws-mode none --pod app --log-level warn
for i in 0 1 2; do
  wait_http "http://127.0.0.1:$((base + 2 * i + 1))/readyz" 20 ||
    { fail split_relays_ready "relay $i: see $E2E_TMP/relay$i.log"; exit 1; }
done
wait_http "http://127.0.0.1:$((base + 9))/readyz" 20 || { fail split_app_ready "see $E2E_TMP/app.log"; exit 1; }
post() { # REQ_ID: creates a product through the app; prints the HTTP status
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "http://127.0.0.1:$((base + 9))/products" \
    -H 'Content-Type: application/json' -d "{\"name\":\"p-$1\",\"price\":1,\"req_id\":\"$1\"}" || true
}
# until_announced N SECS: the watching relay announced N products within SECS.
until_announced() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ "$(metric 2 relay_watch_events_total)" -ge "$1" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
emit() { # RELAY ID: prints the acknowledged offset (empty when not 202)
  curl -s --max-time 10 -H 'Content-Type: application/json' \
    -d "{\"event\":\"ev\",\"payload\":{\"id\":\"$2\"},\"id\":\"$2\"}" "http://127.0.0.1:$((base + 2 * $1 + 1))/emit" |
    jq -r '.offset // empty'
}
delivered() { curl -fsS --max-time 5 "http://127.0.0.1:$((base + 2 * $1 + 1))/cluster" | jq -r '.delivered // 0'; }
metric() { # RELAY NAME
  curl -fsS --max-time 5 "http://127.0.0.1:$((base + 2 * $1 + 1))/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
# until_delivered OFFSET SECS: both relays delivered OFFSET within SECS; prints the seconds.
until_delivered() {
  local t0 now
  t0=$(date +%s%N)
  while :; do
    if [ "$(delivered 0)" -ge "$1" ] && [ "$(delivered 1)" -ge "$1" ]; then
      now=$(date +%s%N)
      echo "$(((now - t0) / 1000000))"
      return 0
    fi
    [ $(($(date +%s%N) - t0)) -lt $(($2 * 1000000000)) ] || return 1
    sleep 0.1
  done
}

code=$(post before)
expect split_watch_announced_before "$([ "$code" = 201 ] && until_announced 1 10 && echo 0 || echo 1)" \
  "POST $code, relay_watch_events_total $(metric 2 relay_watch_events_total)"
first=$(emit 0 before)
ms=$(until_delivered "${first:-1}" 10) || ms=""
expect split_delivered_before "$([ -n "$first" ] && [ -n "$ms" ] && echo 0 || echo 1)" "offset ${first:-none}"
# Idle and healthy for 4 s (four probes, each finding nothing missing): no reopen.
sleep 4
idle="$(metric 0 relay_stream_stuck_total) $(metric 1 relay_stream_stuck_total) $(metric 2 relay_watch_stuck_total)"
expect split_healthy_stream_not_stuck "$([ "$idle" = "0 0 0" ] && echo 0 || echo 1)" \
  "relay_stream_stuck_total 0, 1, relay_watch_stuck_total 2: $idle"

p=$("$ADMIN" --timeout 5 --get primary "$mport" hello 2>/dev/null || true)
[ -n "$p" ] || { fail split_primary_found "no member names a primary"; exit 1; }
pi=$((${p##*:} - mport))
via=$((mport + (pi + 1) % 3))
"$ADMIN" --timeout 5 "$via" mongosimPartition=1 member="$pi" >/dev/null ||
  { fail split_partitioned "mongosimPartition member=$pi refused"; exit 1; }
echo "info: member $pi ($p) cut off from the others; the relays still reach it"
# An emit during the partition: retried until a relay acknowledges it (the new primary).
off=""
for try in $(seq 1 20); do
  off=$(emit $((try % 2)) "during") && [ -n "$off" ] && break
  sleep 0.5
done
expect split_emit_acknowledged "$([ -n "$off" ] && echo 0 || echo 1)" "no relay acknowledged an emit in 20 tries"
ms=$(until_delivered "${off:-1}" 12) || ms=""
expect split_delivered_while_cut_off "$([ -n "$ms" ] && echo 0 || echo 1)" \
  "offset ${off:-none}: delivered $(delivered 0) / $(delivered 1) after 12 s, member $pi still cut off"
[ -z "$ms" ] || echo "info: both relays delivered offset $off ${ms} ms after its acknowledgement"
stuck="$(metric 0 relay_stream_stuck_total) $(metric 1 relay_stream_stuck_total)"
expect split_stuck_counted "$(awk '{ exit !($1 >= 1 && $2 >= 1) }' <<<"$stuck" && echo 0 || echo 1)" \
  "relay_stream_stuck_total: $stuck"
expect split_stuck_logged "$(grep -q 'msg=stream_stuck' "$E2E_TMP/relay0.log" && grep -q 'msg=stream_stuck' "$E2E_TMP/relay1.log" && echo 0 || echo 1)"
# A product stored during the split (the app retries its own writes; the POST is retried
# here until it is stored) is announced by the watching relay, still during the split.
code=""
for try in $(seq 1 10); do
  code=$(post "during-$try")
  [ "$code" = 201 ] && break
  sleep 0.5
done
expect split_product_stored "$([ "$code" = 201 ] && echo 0 || echo 1)" "last POST: $code"
expect split_watch_announced_while_cut_off "$(until_announced 2 12 && echo 0 || echo 1)" \
  "relay_watch_events_total $(metric 2 relay_watch_events_total) after 12 s, relay_watch_stuck_total $(metric 2 relay_watch_stuck_total)"
ws=$(metric 2 relay_watch_stuck_total)
expect split_watch_stuck_counted "$([ "${ws:-0}" -ge 1 ] && grep -q 'msg=watch_stuck' "$E2E_TMP/relay2.log" && echo 0 || echo 1)" \
  "relay_watch_stuck_total $(metric 2 relay_watch_stuck_total)"

"$ADMIN" --timeout 5 "$via" mongosimHeal=1 member="$pi" >/dev/null || fail split_healed "mongosimHeal member=$pi refused"
last=$(emit 1 after)
ms=$(until_delivered "${last:-999999}" 10) || ms=""
expect split_delivered_after_heal "$([ -n "$last" ] && [ -n "$ms" ] && echo 0 || echo 1)" "offset ${last:-none}"
exit "$E2E_FAILS"
