#!/usr/bin/env bash
# The local cluster and the chaos runner, end to end: shellcheck of every lab script, the
# scenario files parse, `cluster up` leaves nothing behind when a process does not come up,
# two clusters run side by side and `down` stops every process, faults act, and a
# shortened scenario matrix (embedded-rr, embedded-sticky-all-1ip, relay, relay-restart)
# meets the expectations written in the scenario files. Skips until fakeapp is built.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
ROOT=$RELAYLAB_ROOT
CLUSTER=$ROOT/local-cluster/cluster

# check NAME WHY CMD...: PASS when CMD succeeds, else FAIL with WHY.
check() {
  local name=$1 why=$2
  shift 2
  if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$why"; fi
}
# listening PORT...: how many of the ports something listens on.
listening() {
  local n=0 p
  for p in "$@"; do
    if ss -Htln "sport = :$p" | grep -q .; then n=$((n + 1)); fi
  done
  echo "$n"
}

# ---------------------------------------------------------------- static checks
scripts=(local-cluster/cluster local-cluster/mongo-admin chaos/run chaos/report scripts/demo
  scripts/relay-tour tests/e2e/cluster.sh)
if command -v shellcheck >/dev/null 2>&1; then
  for s in "${scripts[@]}"; do
    if out=$(cd "$ROOT" && shellcheck -x "$s" 2>&1); then
      pass "shellcheck_$(tr '/.-' '___' <<<"$s")"
    else
      fail "shellcheck_$(tr '/.-' '___' <<<"$s")" "$(head -n 5 <<<"$out" | tr '\n' ' ')"
    fi
  done
else
  echo "SKIP: shellcheck not installed"
fi
rc=0
out=$("$ROOT/chaos/run" --check "$ROOT"/chaos/scenarios/*.scn 2>&1) || rc=$?
expect scenario_files_parse "$rc" "$out"
printf 'topology = relay\nexpect delivery_ratio >= lots\n' >"$E2E_TMP/bad.scn"
rc=0
out=$("$ROOT/chaos/run" --check "$E2E_TMP/bad.scn" 2>&1) || rc=$?
check scenario_file_error_named "rc=$rc: $out" test "$rc" -eq 2 -a "$(grep -c 'not a numeric setting' <<<"$out")" -eq 1

for p in relay mongosim fakeapp loadgen; do
  if [ ! -x "$RELAYLAB_BIN/$p" ]; then
    echo "SKIP: cluster runs ($RELAYLAB_BIN/$p not built)"
    exit 0
  fi
done
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "SKIP: cluster runs (nginx not installed)"
  exit 0
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Clusters this test starts are stopped on exit, whatever happens.
CLUSTER_DIRS=()
stop_clusters() {
  local d
  for d in "${CLUSTER_DIRS[@]}"; do "$CLUSTER" --dir "$d" down >/dev/null 2>&1 || true; done
}
trap 'stop_clusters; e2e_cleanup' EXIT

# pids_alive DIR: how many processes recorded in DIR still run (cluster and mongo pids).
pids_alive() {
  local n=0 f p
  for f in "$1"/pids/*.pid "$1"/mongo/mongo.pid; do
    [ -s "$f" ] || continue
    while read -r p; do
      if [ -r "/proc/$p/stat" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat")" != Z ]; then n=$((n + 1)); fi
    done <"$f"
  done
  echo "$n"
}

# ---------------------------------------------------------------- a failed up cleans up
# A fakeapp that exits at once: up must fail, name app-1, and leave nothing running.
mkdir -p "$E2E_TMP/badbin"
for p in relay mongosim loadgen mongo-init; do
  if [ -x "$RELAYLAB_BIN/$p" ]; then ln -s "$RELAYLAB_BIN/$p" "$E2E_TMP/badbin/$p"; fi
done
printf '#!/bin/sh\necho "fakeapp stand-in: failing on purpose" >&2\nexit 1\n' >"$E2E_TMP/badbin/fakeapp"
chmod +x "$E2E_TMP/badbin/fakeapp"
base=$(e2e_port_base 20)
bad=$E2E_TMP/cluster-bad
CLUSTER_DIRS+=("$bad")
rc=0
out=$(RELAYLAB_BIN=$E2E_TMP/badbin CLUSTER_WAIT=5 "$CLUSTER" --port-base "$base" --dir "$bad" up relay 2>&1) || rc=$?
check failed_up_names_the_culprit "rc=$rc: $out" \
  test "$rc" -ne 0 -a "$(grep -c 'failing on purpose' <<<"$out")" -gt 0 -a "$(grep -c 'app-1' <<<"$out")" -gt 0
check failed_up_leaves_nothing_running "$(pids_alive "$bad") processes alive" \
  test "$(pids_alive "$bad")" -eq 0 -a "$(listening "$((base + 10))" "$((base + 7))")" -eq 0

# ---------------------------------------------------------------- two clusters side by side
a_base=$(e2e_port_base 20)
a=$E2E_TMP/cluster-a
CLUSTER_DIRS+=("$a")
rc=0
"$CLUSTER" --port-base "$a_base" --dir "$a" up relay >"$E2E_TMP/cluster-a.log" 2>&1 || rc=$?
expect cluster_a_up_relay "$rc" "see $E2E_TMP/cluster-a.log"
b_base=$(e2e_port_base 20)
while [ "$b_base" -eq "$a_base" ]; do b_base=$(e2e_port_base 20); done
b=$E2E_TMP/cluster-b
CLUSTER_DIRS+=("$b")
rc=0
CLUSTER_PORT_BASE=$b_base CLUSTER_DIR=$b "$CLUSTER" up embedded-rr >"$E2E_TMP/cluster-b.log" 2>&1 || rc=$?
expect cluster_b_up_embedded_rr_side_by_side "$rc" "see $E2E_TMP/cluster-b.log"

# The relay topology routes the websocket path to the relay, the other to the apps.
status_a=$("$CLUSTER" --dir "$a" --port-base "$a_base" status 2>&1 || true)
check cluster_status_lists_relay "$status_a" grep -q '^relay .*running' <<<"$status_a"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"name":"probe","price":1.5,"req_id":"cluster-probe-1"}' "http://127.0.0.1:$a_base/products")
check ingress_routes_products "POST /products through the ingress answered $code" grep -qx '20[01]' <<<"$code"
served=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"name":"probe","price":1.5,"req_id":"cluster-probe-2"}' "http://127.0.0.1:$b_base/products" |
  tr -d '\r' | sed -n 's/^[Xx]-[Ss]erved-[Bb]y: //p')
check embedded_ingress_names_pod "X-Served-By '$served'" grep -qx 'app-[123]' <<<"$served"

# Faults: pause shows in status and resume undoes it; reload keeps nginx serving.
ca() { "$CLUSTER" --dir "$a" --port-base "$a_base" "$@"; }
ca fault pause-app 2 >/dev/null 2>&1 || true
check fault_pause_app "$(ca status 2>&1)" grep -q '^app-2 .*paused' < <(ca status 2>&1 || true)
ca fault resume-app 2 >/dev/null 2>&1 || true
check fault_resume_app "$(ca status 2>&1)" grep -q '^app-2 .*running' < <(ca status 2>&1 || true)
ca fault reload-ingress >/dev/null 2>&1 || true
sleep 0.3
check fault_reload_ingress_keeps_serving "" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$a_base/nginx-health"
check fault_stepdown_mongo "" ca fault stepdown-mongo 1
rc=0
ca fault kill-app 7 >/dev/null 2>&1 || rc=$?
check fault_bad_app_number_is_usage_error "rc=$rc" test "$rc" -eq 2

"$CLUSTER" --dir "$a" --port-base "$a_base" down >/dev/null 2>&1
"$CLUSTER" --dir "$b" --port-base "$b_base" down >/dev/null 2>&1
left=$(($(pids_alive "$a") + $(pids_alive "$b")))
still=$(listening "$a_base" $((a_base + 7)) $((a_base + 10)) "$b_base" $((b_base + 1)) $((b_base + 4)) $((b_base + 10)))
check down_stops_everything "$left processes alive, $still ports still listening" test "$left" -eq 0 -a "$still" -eq 0

# ---------------------------------------------------------------- shortened matrix
# The shipped scenario files with a smaller workload; fault times given in % follow.
rc=0
"$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos" --set clients=12 --set rate=10 --set duration=3s \
  --set settle=1s embedded-rr embedded-sticky-all-1ip relay relay-restart >"$E2E_TMP/chaos.out" 2>&1 || rc=$?
sed "s/^/    /" "$E2E_TMP/chaos.out"
for s in embedded-rr embedded-sticky-all-1ip relay relay-restart; do
  check "scenario_$(tr '-' '_' <<<"$s")" "see $E2E_TMP/chaos/$s/" grep -q "^PASS: $s " "$E2E_TMP/chaos.out"
done
check chaos_run_exit_status "rc=$rc" test "$rc" -eq 0

# The runner's own bookkeeping: result.json carries the numbers the demo table shows.
r=$E2E_TMP/chaos/embedded-rr/result.json
check result_json_fields "$r" jq -e '(.delivery_ratio | type) == "number" and (.requests_per_pod | length) == 3
  and (.expectations | length) > 0 and .verdict == "pass"' "$r"
r=$E2E_TMP/chaos/relay-restart/result.json
check relay_restart_counts_gap_losses "$(jq -c '{faults, gap_lost}' "$r" 2>/dev/null || true)" \
  jq -e '.faults[0].rc == 0 and .gap_lost > 0' "$r"

# Sanitizer reports from any cluster process fail the test (lib.sh checks $E2E_TMP/*.log).
for log in "$E2E_TMP"/chaos/*/cluster/logs/*.log "$E2E_TMP"/chaos/*/cluster/mongo/*.log \
  "$E2E_TMP"/cluster-[ab]/logs/*.log "$E2E_TMP"/cluster-[ab]/mongo/*.log; do
  [ -f "$log" ] || continue
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
    fail "sanitizer_clean_$(basename "$(dirname "$(dirname "$(dirname "$log")")")")_$(basename "$log" .log)" "see $log"
  fi
done
[ "$E2E_FAILS" -eq 0 ]
