#!/usr/bin/env bash
# loadgen against a deliberately lossy server (tests/e2e/lossy_server.c): the report must
# name exactly the frames the server dropped, duplicated and reordered; clients must bind the
# source addresses they were given; kicked clients must resume (or be told they cannot).
set -euo pipefail

BIN=${RELAYLAB_BIN:-$PWD/bin}
BUILD=${RELAYLAB_BUILD:-$PWD/build/default}
LOADGEN=$BIN/loadgen
SERVER=$BUILD/tests/e2e/lossy_server
TMP=$(mktemp -d)
# shellcheck source=tests/e2e/ports.sh
source "$(dirname "$0")/ports.sh"
PORT=$(e2e_port_base 20)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ ($2)}"; }
# ok_if NAME DETAIL TEST...: passes when the test command succeeds.
ok_if() {
  local name=$1 detail=$2; shift 2
  if "$@"; then pass "$name"; else fail "$name" "$detail"; fi
}
# check NAME JQ-EXPR FILE: passes when the jq expression is true on the file.
check() {
  if jq -e "$2" "$3" >/dev/null; then pass "$1"; else fail "$1" "$2 on $(jq -c '{events,connections,anomalies}' "$3")"; fi
}

for f in "$LOADGEN" "$SERVER"; do
  [ -x "$f" ] || { fail "prerequisites" "$f not built"; exit 1; }
done

# start_server NAME ARGS...: starts lossy_server on a fresh port and waits for it (bounded).
start_server() {
  local name=$1; shift
  PORT=$((PORT + 1))
  "$SERVER" --port "$PORT" --peers-log "$TMP/$name.peers" "$@" 2>"$TMP/$name.server.log" &
  pids+=($!)
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
    sleep 0.1
  done
  fail "$name server start" "no answer on port $PORT"
  return 1
}

stop_server() {
  local p=${pids[-1]}
  kill "$p" 2>/dev/null || true
  timeout 5 tail --pid="$p" -f /dev/null || true
}

run_loadgen() { # NAME ARGS...: runs loadgen with a bounded time; its exit code in $rc
  local name=$1; shift
  rc=0
  timeout -k 5 30 "$LOADGEN" run --target "http://127.0.0.1:$PORT" --req-prefix r --log-level warn \
    --history "$TMP/$name.jsonl" --json "$TMP/$name.json" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
}

# 1. Named faults: client 1 (127.0.0.11) loses r3, client 2 gets r5 twice, client 0 gets r7
#    after r8. Nothing else may be reported.
start_server faults --pods app-a,app-b --drop r3@127.0.0.11 --dup r5@127.0.0.12 --hold r7@127.0.0.10
run_loadgen faults --clients 3 --source-ips 127.0.0.10-127.0.0.12 --rate 50 --requests 12 \
  --settle 500ms --junit "$TMP/faults.xml" --expect 'lost==1' --expect 'events.duplicated==1' \
  --expect 'out_of_order==1' --expect 'pod_share_max<=0.5'
stop_server
ok_if "faults: every expectation holds (exit 0)" "rc=$rc $(cat "$TMP/faults.out")" [ "$rc" -eq 0 ]
check "faults: counts" '(.requests | {sent, ok, failed, unknown}) == {"sent":12,"ok":12,"failed":0,"unknown":0} and .events.expected == 36 and .events.received == 35 and .events.lost == 1 and .events.duplicated == 1 and .events.out_of_order == 1 and .events.unexpected == 0' "$TMP/faults.json"
check "faults: the loss is named" '.anomalies.lost == [{"client":1,"req_id":"r3","src":"127.0.0.11"}]' "$TMP/faults.json"
check "faults: the duplicate is named" '[.anomalies.duplicated[] | [.client,.req_id,.src]] == [[2,"r5","127.0.0.12"]]' "$TMP/faults.json"
check "faults: the reordering is named" '[.anomalies.out_of_order[] | [.client,.req_id,.src]] == [[0,"r7","127.0.0.10"]]' "$TMP/faults.json"
check "faults: requests per pod" '.requests_per_pod == {"app-a":6,"app-b":6} and .pod_share_max == 0.5' "$TMP/faults.json"
check "faults: delivery ratios" '(.delivery_ratio * 36 | round) == 35 and .client_delivery.min < 1 and .client_delivery.max == 1' "$TMP/faults.json"
check "faults: latency measured" '.latency_ms.count == 35 and .latency_ms.p50 > 0 and .latency_ms.max >= .latency_ms.p99' "$TMP/faults.json"
if grep -q 'tests="4" failures="0"' "$TMP/faults.xml"; then pass "faults: junit has 4 passing cases"; else fail "faults: junit" "$(cat "$TMP/faults.xml")"; fi

# 2. Source addresses: the server saw exactly the websocket sources loadgen was given, and
#    every POST came from one of them.
want=$'127.0.0.10\n127.0.0.11\n127.0.0.12'
got_ws=$(awk '$1=="ws"{print $2}' "$TMP/faults.peers" | sort -u)
got_http=$(awk '$1=="http"{print $2}' "$TMP/faults.peers" | sort -u)
ok_if "source ips: websocket peers" "got: $(tr '\n' ' ' <<<"$got_ws")" [ "$got_ws" = "$want" ]
ok_if "source ips: http peers" "got: $(tr '\n' ' ' <<<"$got_http")" [ "$got_http" = "$want" ]

# 3. The checker alone reproduces the run's verdict from the history; a failing expectation
#    exits 1 and is a failing JUnit case.
rc=0
"$LOADGEN" check "$TMP/faults.jsonl" --json "$TMP/recheck.json" --junit "$TMP/recheck.xml" \
  --expect 'lost==0' --expect 'delivery_ratio>=0.9' >"$TMP/recheck.out" 2>&1 || rc=$?
ok_if "check: failing expectation exits 1" "rc=$rc" [ "$rc" -eq 1 ]
if jq -e --slurpfile a "$TMP/faults.json" '.events == $a[0].events and .anomalies == $a[0].anomalies' "$TMP/recheck.json" >/dev/null; then
  pass "check: same events as the run"
else
  fail "check: same events as the run"
fi
if grep -q 'tests="2" failures="1"' "$TMP/recheck.xml" && grep -q '<failure message="events.lost = 1' "$TMP/recheck.xml"; then
  pass "check: junit names the failure"
else
  fail "check: junit" "$(cat "$TMP/recheck.xml")"
fi

# 4. Kicked clients resume with since/epoch and get everything (recovery merges the gap).
start_server kick --kick-after r5
run_loadgen kick --clients 4 --source-ips 2 --rate 40 --requests 16 --settle 1s \
  --reconnect-min 50ms --expect 'delivery_ratio==1' --expect 'recovered==4'
stop_server
ok_if "kick: resumed clients miss nothing (exit 0)" "rc=$rc $(tail -3 "$TMP/kick.out")" [ "$rc" -eq 0 ]
check "kick: drops, close codes, recoveries" '.connections.dropped == 4 and .connections.close_codes == {"1001":4} and .connections.recovered == 4 and .connections.opened == 8 and .events.expected == 64 and .events.lost == 0 and .events.duplicated == 0 and .events.out_of_order == 0' "$TMP/kick.json"
if grep -q '"since":' "$TMP/kick.jsonl"; then pass "kick: reconnect asked for since/epoch"; else fail "kick: since in history"; fi
got_ws=$(awk '$1=="ws"{print $2}' "$TMP/kick.peers" | sort -u | tr '\n' ' ')
ok_if "source ips: count form (2 addresses)" "got: $got_ws" [ "$got_ws" = "127.0.0.10 127.0.0.11 " ]

# 5. Without replay the server says recovered:false: the gap is not owed, nothing is "lost".
start_server noreplay --kick-after r5 --no-replay
run_loadgen noreplay --clients 2 --rate 40 --requests 16 --settle 1s --reconnect-min 200ms
stop_server
check "no replay: failed recoveries counted, gap not owed" '.connections.recovery_failed == 2 and .connections.recovered == 0 and .events.lost == 0 and .events.expected < 32 and .events.expected == .events.received' "$TMP/noreplay.json"

# 6. Nobody listening: errors are counters, not crashes; usage errors exit 2.
PORT=$((PORT + 1))
run_loadgen refused --clients 2 --rate 20 --requests 3 --warmup 300ms --settle 100ms \
  --expect 'requests.failed==3'
ok_if "refused: requests fail cleanly (exit 0)" "rc=$rc" [ "$rc" -eq 0 ]
check "refused: connection failures counted" '.connections.failed >= 2 and .connections.opened == 0 and .delivery_ratio == null' "$TMP/refused.json"
rc=0; "$LOADGEN" run --target "http://127.0.0.1:$PORT" --expect 'lost=0' >/dev/null 2>&1 || rc=$?
ok_if "usage: bad expectation exits 2" "rc=$rc" [ "$rc" -eq 2 ]
rc=0; "$LOADGEN" run --clients 3 >/dev/null 2>&1 || rc=$?
ok_if "usage: missing target exits 2" "rc=$rc" [ "$rc" -eq 2 ]
