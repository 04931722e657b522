#!/usr/bin/env bash
# Replays from MongoDB while MongoDB is in trouble (issue 10's faults, seen by a resuming client).
# 1. The primary is paused (SIGSTOP-like) as a client resumes from before the relay's ring:
#    the replay read fails once on the frozen primary, and must be retried (--replay-wait)
#    once a new primary is elected, not answered recovered:false store_unavailable with a
#    gap of every event since.
# 2. No primary at all (two of three members killed) while a client resumes from an offset a
#    faster relay gave it, ahead of this relay: the store cannot confirm it, so the answer is
#    recovered:false store_unavailable, but the client must go on after ITS offset, not be
#    sent again (out of order) what it already has from this relay's older head.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 7)
mport=$((base + 4))
URI="mongodb://127.0.0.1:$mport,127.0.0.1:$((mport + 1)),127.0.0.1:$((mport + 2))/?replicaSet=rs0"
ADMIN=$RELAYLAB_ROOT/local-cluster/mongo-admin
start_bg mongosim "$RELAYLAB_BIN/mongosim" --bind 127.0.0.1 --port "$mport" --members 3 \
  --election-timeout 1s --log-level warn
# Relay A waits longer than a read on a frozen member takes to fail (the read socket timeout,
# 6 s); relay B gives up after 1 s, so that part 2 ends quickly.
start_bg relay_a "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) \
  --mongo-uri "$URI" --history 4 --emit-timeout 2s --replay-wait 15s
start_bg relay_b "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2)) --http-port $((base + 3)) \
  --mongo-uri "$URI" --history 4 --emit-timeout 2s --replay-wait 1s
for p in 1 3; do
  wait_http "http://127.0.0.1:$((base + p))/readyz" 20 || { fail rfail_ready "see $E2E_TMP/relay_*.log"; exit 1; }
done
emit() { # ID: prints the acknowledged offset
  curl -s --max-time 15 -H 'Content-Type: application/json' \
    -d "{\"event\":\"ev\",\"payload\":{\"id\":\"$1\"},\"id\":\"$1\"}" "http://127.0.0.1:$((base + 1))/emit" |
    jq -r '.offset // empty'
}
primary() { # prints the index of the primary member, or nothing
  local m p
  for m in 0 1 2; do
    p=$("$ADMIN" --timeout 2 --get primary $((mport + m)) hello 2>/dev/null) || continue
    [ -n "$p" ] && { echo $((${p##*:} - mport)); return 0; }
  done
}
for i in $(seq 1 12); do emit "a$i" >/dev/null; done
epoch=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .epoch)
head=$(curl -fsS "http://127.0.0.1:$((base + 1))/readyz" | jq -r .offset)
expect rfail_setup "$([ "$head" = 12 ] && echo 0 || echo 1)" "head $head after 12 emits"

# 1. Paused primary: resume from 2 (the ring holds 9..12 only, so the relay reads MongoDB).
p=$(primary)
"$ADMIN" --timeout 3 "$mport" mongosimPause=1 member="${p:-0}" >/dev/null
timeout -k 5 40 "$RELAYLAB_BIN/wsprint" --count 12 --timeout 30 \
  "ws://127.0.0.1:$base/websocket-service?since=2&epoch=$epoch" >"$E2E_TMP/paused.txt" 2>/dev/null || true
"$ADMIN" --timeout 3 $(((${p:-0} + 1) % 3 + mport)) mongosimResume=1 member="${p:-0}" >/dev/null || true
rec=$(grep -m1 '"_recovery"' "$E2E_TMP/paused.txt" | jq -c '.data | {recovered, reason}' || true)
got=$(grep -c '"event":"ev"' "$E2E_TMP/paused.txt" || true)
expect rfail_paused_primary_recovered \
  "$([ "$rec" = '{"recovered":true,"reason":"recovered"}' ] && [ "$got" = 10 ] && echo 0 || echo 1)" \
  "_recovery ${rec:-none}, $got of the 10 events after since=2 (primary ${p:-?} paused)"

# 2. No primary: kill two members (through the third), then resume from head + 3, as a
#    client that came from a relay further ahead would, on relay B.
sleep 2
p=$(primary)
keep=$(((${p:-0} + 2) % 3))
for m in 0 1 2; do
  [ "$m" = "$keep" ] || "$ADMIN" --timeout 3 $((mport + keep)) mongosimKill=1 member="$m" >/dev/null
done
since=$((head + 3))
timeout -k 5 40 "$RELAYLAB_BIN/wsprint" --timeout 25 \
  "ws://127.0.0.1:$((base + 2))/websocket-service?since=$since&epoch=$epoch" >"$E2E_TMP/ahead.txt" 2>/dev/null &
client=$!
E2E_PIDS+=("$client")
for _ in $(seq 400); do grep -q '"_recovery"' "$E2E_TMP/ahead.txt" && break; sleep 0.1; done
for m in 0 1 2; do
  [ "$m" = "$keep" ] || "$ADMIN" --timeout 3 $((mport + keep)) mongosimRestart=1 member="$m" >/dev/null
done
for i in $(seq 1 6); do emit "b$i" >/dev/null; done # offsets head+1 .. head+6
sleep 1
kill "$client" 2>/dev/null || true
rec=$(grep -m1 '"_recovery"' "$E2E_TMP/ahead.txt" | jq -c '.data | {recovered, reason, from}' || true)
offs=$(grep '"event":"ev"' "$E2E_TMP/ahead.txt" | jq -r .offset | tr '\n' ' ')
want="$((head + 4)) $((head + 5)) $((head + 6)) "
expect rfail_ahead_not_rewound \
  "$([ "$rec" = "{\"recovered\":false,\"reason\":\"store_unavailable\",\"from\":$((since + 1))}" ] &&
    [ "$offs" = "$want" ] && echo 0 || echo 1)" \
  "since=$since: _recovery ${rec:-none}, then offsets [${offs}] (want [${want}])"
exit "$E2E_FAILS"
