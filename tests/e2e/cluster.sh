#!/usr/bin/env bash
# The lab's front end, the local cluster and the chaos runner, end to end: shellcheck of
# every lab script; the scenario files parse for both clusters; `lab` refuses bad command
# lines with exit 2 on both clusters alike; a failed `up` leaves nothing behind; a relay-ha
# and an embedded cluster run side by side, every fault acts on relay-ha by member index
# (relays, apps, MongoDB members, the ingress; partitions as root, skipped otherwise), `up`
# switches a running cluster to another topology (with --app-env for the apps), `down` stops
# every process; fakeapp
# answers GET /products?req_id=; and a shortened scenario matrix (loadgen sharded for two
# of them, merged by `loadgen check`) meets the expectations written in the scenario files.
# Skips the cluster part until the programs are built.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
ROOT=$RELAYLAB_ROOT
LAB=$ROOT/lab/lab

# check NAME WHY CMD...: PASS when CMD succeeds, else FAIL with WHY.
check() {
  local name=$1 why=$2
  shift 2
  if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$why"; fi
}
# exit_is NAME WANT CMD...: PASS when CMD exits WANT.
exit_is() {
  local name=$1 want=$2 rc=0 out
  shift 2
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$name"; else fail "$name" "exit $rc, want $want: $(head -n 2 <<<"$out" | tr '\n' ' ')"; fi
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
scripts=(lab/lab lab/catalog.sh lab/portable.sh local-cluster/lib.sh local-cluster/relay.sh
  local-cluster/up local-cluster/down local-cluster/status local-cluster/env local-cluster/metrics local-cluster/fault
  local-cluster/render local-cluster/mongo-up local-cluster/mongo-down local-cluster/mongo-admin
  chaos/run chaos/browser.sh chaos/report chaos/junit scripts/demo scripts/relay-tour tests/e2e/cluster.sh)
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
expect scenario_files_parse_local "$rc" "$out"
rc=0
out=$("$ROOT/chaos/run" --cluster kind --check "$ROOT"/chaos/scenarios/*.scn "$ROOT"/kind-cluster/scenarios/*.scn 2>&1) || rc=$?
expect scenario_files_parse_kind "$rc" "$out"
printf 'topology = relay\nexpect delivery_ratio >= lots\n' >"$E2E_TMP/bad.scn"
rc=0
out=$("$ROOT/chaos/run" --check "$E2E_TMP/bad.scn" 2>&1) || rc=$?
check scenario_file_error_named "rc=$rc: $out" test "$rc" -eq 2 -a "$(grep -c 'not a numeric setting' <<<"$out")" -eq 1
printf 'topology = relay\nat 1s fault restart-relay one\n' >"$E2E_TMP/bad-fault.scn"
rc=0
out=$("$ROOT/chaos/run" --check "$E2E_TMP/bad-fault.scn" 2>&1) || rc=$?
check scenario_fault_arguments_checked "rc=$rc: $out" test "$rc" -eq 2 -a "$(grep -c 'bad-fault.scn:2: restart-relay' <<<"$out")" -eq 1
# Expectations follow the app count: arithmetic over settings ("1/app_count + 0.08"),
# computed with the run's settings; `requires` and a fault on an app the run lacks skip the
# scenario with the reason; a bad expression is a scenario error.
out=$("$ROOT/chaos/run" --set app_count=5 --check embedded-rr 2>&1) || true
check expect_follows_app_count "$out" test "$(grep -cxE '    expect client_delivery.mean (>= 0.12|<= 0.28)|    expect pod_share_max <= 0.32' <<<"$out")" -eq 3
out=$("$ROOT/chaos/run" --set app_count=2 --check relay 2>&1) || true
check expect_follows_app_count_relay "$out" grep -qx '    expect pod_share_max <= 0.62' <<<"$out"
out=$("$ROOT/chaos/run" --set app_count=1 --check embedded-rr app-kill relay 2>&1) || true
check requires_skips_with_reason "$out" test "$(grep -cE '^    skipped: (requires app_count >= 2 \(app_count is 1\)|fault (kill|start)-app 2 needs app 2 \(app_count is 1\))$' <<<"$out")" -eq 3 \
  -a "$(grep -c '^    expect' <<<"$out")" -eq 7
# `expect ... if COND`: judged where COND holds, listed as not judged elsewhere.
printf 'topology = relay\nexpect lost == 0 if on_kind == 0\nexpect dropped <= 1/app_count if app_count >= 4\n' >"$E2E_TMP/cond.scn"
out=$("$ROOT/chaos/run" --check "$E2E_TMP/cond.scn" 2>&1) || true
check expect_if_holds_locally "$out" test "$(grep -cx '    expect lost == 0' <<<"$out")" -eq 1 \
  -a "$(grep -cx '    not judged here: dropped <= 1/app_count (if app_count >= 4: app_count is 3)' <<<"$out")" -eq 1
out=$("$ROOT/chaos/run" --cluster kind --set app_count=4 --check "$E2E_TMP/cond.scn" 2>&1) || true
check expect_if_not_on_kind "$out" test "$(grep -cx '    not judged here: lost == 0 (if on_kind == 0: on_kind is 1)' <<<"$out")" -eq 1 \
  -a "$(grep -cx '    expect dropped <= 0.25' <<<"$out")" -eq 1
printf 'topology = relay\nexpect lost == 0 if sometimes\n' >"$E2E_TMP/bad-cond.scn"
rc=0
out=$("$ROOT/chaos/run" --check "$E2E_TMP/bad-cond.scn" 2>&1) || rc=$?
check expect_if_bad_condition_is_an_error "rc=$rc: $out" test "$rc" -eq 2 -a "$(grep -c "bad condition 'sometimes'" <<<"$out")" -eq 1
printf 'topology = relay\nexpect lost <= 1/(app_count - 3)\n' >"$E2E_TMP/bad-expr.scn"
rc=0
out=$("$ROOT/chaos/run" --check "$E2E_TMP/bad-expr.scn" 2>&1) || rc=$?
check expect_bad_expression_is_an_error "rc=$rc: $out" test "$rc" -eq 2 -a "$(grep -c 'cannot compute' <<<"$out")" -eq 1
if [ -x "$RELAYLAB_BIN/loadgen" ]; then
  printf 'topology = relay\nexpect lots_of_things == 0\n' >"$E2E_TMP/bad-name.scn"
  rc=0
  out=$("$ROOT/chaos/run" --check "$E2E_TMP/bad-name.scn" 2>&1) || rc=$?
  check scenario_expectation_names_checked_by_loadgen "rc=$rc: $out" \
    test "$rc" -eq 2 -a "$(grep -c 'lots_of_things' <<<"$out")" -ge 1
fi

# The same command lines are refused the same way on both clusters, before any cluster is
# touched (no Docker here: a kind verb that got through would fail with 1, not 2).
for c in local kind; do
  exit_is "lab_${c}_unknown_verb" 2 "$LAB" --cluster "$c" dance
  exit_is "lab_${c}_unknown_topology" 2 "$LAB" --cluster "$c" up nowhere
  exit_is "lab_${c}_unknown_fault" 2 "$LAB" --cluster "$c" fault melt-app 1
  exit_is "lab_${c}_fault_needs_index" 2 "$LAB" --cluster "$c" fault kill-relay
  exit_is "lab_${c}_fault_bad_secs" 2 "$LAB" --cluster "$c" fault restart-relay 1 soon
  exit_is "lab_${c}_fault_extra_argument" 2 "$LAB" --cluster "$c" fault reload-ingress now
  exit_is "lab_${c}_fault_bad_mongo_member" 2 "$LAB" --cluster "$c" fault pause-mongo leader
done
exit_is lab_kind_rejects_local_options 2 "$LAB" --cluster kind --port-base 21000 status
exit_is lab_app_env_needs_name_value 2 "$LAB" up --app-env "NOT VALID" relay
exit_is lab_unknown_cluster 2 "$LAB" --cluster cloud status
check lab_same_faults_on_both "$("$LAB" --cluster kind faults | head -n 2)" \
  test "$("$LAB" --cluster local faults)" = "$("$LAB" --cluster kind faults)"
check lab_kind_has_gateway_api "" grep -qx gateway-api < <("$LAB" --cluster kind topologies)
check lab_local_has_no_gateway_api "" test "$("$LAB" --cluster local topologies | grep -c gateway-api)" -eq 0

need_built cluster_prerequisites relay mongosim fakeapp loadgen
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "SKIP: cluster runs (nginx not installed)"
  exit 0
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Clusters this test starts are stopped on exit, whatever happens.
CLUSTER_DIRS=()
stop_clusters() {
  local d
  for d in "${CLUSTER_DIRS[@]}"; do "$ROOT/local-cluster/down" --dir "$d" >/dev/null 2>&1 || true; done
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
out=$(RELAYLAB_BIN=$E2E_TMP/badbin CLUSTER_WAIT=5 "$LAB" --port-base "$base" --dir "$bad" up relay 2>&1) || rc=$?
check failed_up_names_the_culprit "rc=$rc: $out" \
  test "$rc" -eq 1 -a "$(grep -c 'failing on purpose' <<<"$out")" -gt 0 -a "$(grep -c 'app-1' <<<"$out")" -gt 0
check failed_up_leaves_nothing_running "$(pids_alive "$bad") processes alive" \
  test "$(pids_alive "$bad")" -eq 0 -a "$(listening "$((base + 10))" "$((base + 7))")" -eq 0

# ---------------------------------------------------------------- two clusters side by side
a_base=$(e2e_port_base 20)
a=$E2E_TMP/cluster-a
CLUSTER_DIRS+=("$a")
rc=0
"$LAB" --port-base "$a_base" --dir "$a" up relay-ha >"$E2E_TMP/cluster-a.log" 2>&1 || rc=$?
expect cluster_a_up_relay_ha "$rc" "see $E2E_TMP/cluster-a.log"
# Cluster b runs five apps (--app-count): 22 ports, apps 4 and 5 on BASE+18..21.
b_base=$(e2e_port_base 22)
while [ "$b_base" -eq "$a_base" ]; do b_base=$(e2e_port_base 22); done
b=$E2E_TMP/cluster-b
CLUSTER_DIRS+=("$b")
rc=0
CLUSTER_PORT_BASE=$b_base CLUSTER_DIR=$b "$LAB" up --app-count 5 embedded-rr >"$E2E_TMP/cluster-b.log" 2>&1 || rc=$?
expect cluster_b_up_embedded_rr_side_by_side "$rc" "see $E2E_TMP/cluster-b.log"
cb() { "$LAB" --port-base "$b_base" --dir "$b" "$@"; }
status_b=$(cb status 2>&1 || true)
check status_lists_five_apps "$status_b" test "$(grep -cE '^app +[1-5] +app-[1-5] .*running' <<<"$status_b")" -eq 5 \
  -a "$(grep -c '^app ' <<<"$status_b")" -eq 5
check nginx_upstreams_five_apps "" test "$(grep -A7 'upstream apps_http' "$b/nginx/nginx.conf" | grep -c 'server 127')" -eq 5 \
  -a "$(grep -A7 'upstream ws_backend' "$b/nginx/nginx.conf" | grep -c 'server 127')" -eq 5
out=$(cb fault kill-app 6 2>&1) && rc=0 || rc=$?
check fault_app_beyond_count_is_usage_error "rc=$rc: $out" test "$rc" -eq 2 -a "$(grep -c 'there are apps 1..5, not 6' <<<"$out")" -eq 1
served=""
for i in 1 2 3 4 5 6 7 8 9 10; do
  served+=" $(curl -s --max-time 2 "http://127.0.0.1:$b_base/healthz" | jq -r .pod 2>/dev/null)"
done
check ingress_spreads_over_five_apps "served by:$served" test "$(tr ' ' '\n' <<<"$served" | grep -c '^app-[1-5]$')" -eq 10 \
  -a "$(tr ' ' '\n' <<<"$served" | grep -c '^app-5$')" -ge 1

ca() { "$LAB" --port-base "$a_base" --dir "$a" "$@"; }
# a_primary: the MongoDB member `lab status` names primary in cluster a, waiting up to 10 s
# for one (the set may still be settling from an earlier fault); empty when none.
a_primary() {
  local p="" _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$( (ca status || true) | awk '$1 == "mongo" && /primary/ { print $2 }')
    [ -z "$p" ] || break
    sleep 1
  done
  echo "$p"
}
status_a=$(ca status 2>&1 || true)
check status_lists_three_relays_by_index "$status_a" test "$(grep -cE '^relay +[123] +relay-[123] .*running' <<<"$status_a")" -eq 3
check status_lists_mongo_members_and_primary "$status_a" test "$(grep -cE '^mongo +[123] .*(primary|secondary)' <<<"$status_a")" -eq 3
# lab metrics: every relay's and app's samples after the member's name.
rc=0
metrics_a=$(ca metrics 2>"$E2E_TMP/metrics-a.err") || rc=$?
check metrics_names_each_member "rc=$rc; $(cut -d' ' -f1 <<<"$metrics_a" | sort | uniq -c | tr '\n' ' ')" \
  test "$rc" -eq 0 -a "$(grep -cE '^relay-[123] ws_connections_total [0-9]+$' <<<"$metrics_a")" -eq 3 \
  -a "$(grep -cE '^app-[123] fakeapp_products_total\{result="created"\} [0-9]+$' <<<"$metrics_a")" -eq 3 \
  -a "$(grep -c '^relay-1 ws_client_closes_total{reason="client"} ' <<<"$metrics_a")" -eq 1 -a ! -s "$E2E_TMP/metrics-a.err"
check nginx_routes_websockets_to_every_relay "" test "$(grep -A4 'upstream ws_backend' "$a/nginx/nginx.conf" | grep -c 'server 127')" -eq 3
check nginx_intake_upstream_retries "" grep -q 'proxy_next_upstream error timeout http_502 http_503 non_idempotent' "$a/nginx/nginx.conf"
# In front of relays (which ping silent clients every 25 s) websockets keep a 60 s read
# timeout, so a vanished relay's connections end; embedded apps keep the seed's 3600 s.
# Three locations each: /socket.io/, /websocket-service and the app's own path (/.app-ws/).
check nginx_relay_ws_timeout_60s "" test "$(grep -c 'proxy_read_timeout 60s;' "$a/nginx/nginx.conf")" -eq 3 \
  -a "$(grep -c 'proxy_read_timeout 3600s;' "$a/nginx/nginx.conf")" -eq 0
check nginx_embedded_ws_timeout_3600s "" test "$(grep -c 'proxy_read_timeout 3600s;' "$b/nginx/nginx.conf")" -eq 3
# Socket.IO needs session affinity over several relays (an Engine.IO session lives in one
# relay's memory); plain websockets stay round-robin.
# shellcheck disable=SC2016 # an nginx variable, not a shell one
check nginx_hashes_socketio_over_relays "" test "$(grep -A4 'upstream sio_backend' "$a/nginx/nginx.conf" |
  grep -c -F -e 'hash $remote_addr consistent;' -e 'server 127')" -eq 4
check nginx_websocket_service_round_robin "" test "$(grep -A4 'upstream ws_backend' "$a/nginx/nginx.conf" | grep -c hash)" -eq 0
# socket.io-client's start through the ingress, from three client addresses: the polling
# handshake, then the CONNECT post and a poll with its sid must reach the same relay
# (round-robin sends them to relays that answer 400 "Session ID unknown").
sio_codes=""
for ip in 127.0.0.31 127.0.0.32 127.0.0.33; do
  sio="http://127.0.0.1:$a_base/socket.io/?EIO=4&transport=polling"
  sid=$(curl -s --max-time 5 --interface "$ip" "$sio" | sed -n 's/^0{"sid":"\([^"]*\)".*/\1/p' || true)
  code=$(curl -s -o /dev/null --max-time 5 --interface "$ip" -w '%{http_code}' -X POST \
    -H 'Content-Type: text/plain;charset=UTF-8' --data-binary 40 "$sio&sid=$sid" || true)
  sio_codes+="$code "
  code=$(curl -s -o /dev/null --max-time 5 --interface "$ip" -w '%{http_code}' "$sio&sid=$sid" || true)
  sio_codes+="$code "
done
check socketio_polling_session_stays_on_its_relay "POST/GET with the handshake's sid answered: $sio_codes" \
  test "$sio_codes" = "200 200 200 200 200 200 "
# The page's socket.io-client bundle comes from the apps even where /socket.io/ goes to the
# relays (which do not serve it).
if [ -f "$RELAYLAB_BIN/web/socket.io-client/dist/socket.io.min.js" ]; then
  got=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "http://127.0.0.1:$a_base/socket.io/socket.io.js")
  check ingress_serves_socketio_bundle_from_the_apps "GET /socket.io/socket.io.js answered '$got'" \
    grep -q '^200 application/javascript' <<<"$got"
else
  echo "SKIP: ingress_serves_socketio_bundle_from_the_apps (no bundle in $RELAYLAB_BIN/web: make deps, then make)"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"name":"probe","price":1.5,"req_id":"cluster-probe-1"}' "http://127.0.0.1:$a_base/products")
check ingress_routes_products "POST /products through the ingress answered $code" grep -qx '20[01]' <<<"$code"
found=$(curl -s "http://127.0.0.1:$a_base/products?req_id=cluster-probe-1" | jq -r .req_id 2>/dev/null || true)
check fakeapp_finds_product_by_req_id "got '$found'" test "$found" = cluster-probe-1
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$a_base/products?req_id=cluster-probe-none")
check fakeapp_req_id_unknown_is_404 "answered $code" test "$code" = 404
served=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"name":"probe","price":1.5,"req_id":"cluster-probe-2"}' "http://127.0.0.1:$b_base/products" |
  tr -d '\r' | sed -n 's/^[Xx]-[Ss]erved-[Bb]y: //p')
check embedded_ingress_names_pod "X-Served-By '$served'" grep -qx 'app-[1-5]' <<<"$served"

# row NAME: the status line of NAME in cluster a.
row() { ca status 2>/dev/null | grep -E "^[a-z]+ +[0-9-]+ +$1 " || true; }
pid_in() { awk '{ print $4 }' <<<"$1"; }

# Relays, by index.
ca fault pause-relay 2 >/dev/null 2>&1 || true
check fault_pause_relay_2 "$(row relay-2)" grep -q paused <<<"$(row relay-2)"
# A member that does not answer is named, the others still read; exit 1.
rc=0
metrics_a=$(ca metrics 2>"$E2E_TMP/metrics-paused.err") || rc=$?
check metrics_names_a_silent_member "rc=$rc; $(head -c 300 "$E2E_TMP/metrics-paused.err")" \
  test "$rc" -eq 1 -a "$(grep -c '^local-cluster: relay-2: no metrics' "$E2E_TMP/metrics-paused.err")" -eq 1 \
  -a "$(grep -cE '^relay-[13] ws_connections_total ' <<<"$metrics_a")" -eq 2 -a "$(grep -c '^relay-2 ' <<<"$metrics_a")" -eq 0
ca fault resume-relay 2 >/dev/null 2>&1 || true
check fault_resume_relay_2 "$(row relay-2)" grep -q running <<<"$(row relay-2)"
before=$(pid_in "$(row relay-1)")
rc=0
ca fault kill-relay 1 >/dev/null 2>&1 || rc=$?
after=$(pid_in "$(row relay-1)")
check fault_kill_relay_1_comes_back "rc=$rc pid $before -> $after" test "$rc" -eq 0 -a "$after" != "$before" -a "$after" != -
t0=$SECONDS
rc=0
ca fault restart-relay 3 2 >/dev/null 2>&1 || rc=$?
check fault_restart_relay_honours_secs "rc=$rc, took $((SECONDS - t0))s" test "$rc" -eq 0 -a $((SECONDS - t0)) -ge 2
exit_is fault_relay_index_out_of_range 2 ca fault restart-relay 4
# Apps.
ca fault pause-app 2 >/dev/null 2>&1 || true
check fault_pause_app "$(row app-2)" grep -q paused <<<"$(row app-2)"
ca fault resume-app 2 >/dev/null 2>&1 || true
check fault_resume_app "$(row app-2)" grep -q running <<<"$(row app-2)"
ca fault kill-app 3 >/dev/null 2>&1 || true
check fault_kill_app "$(row app-3)" grep -q stopped <<<"$(row app-3)"
exit_is fault_status_fails_while_a_member_is_down 1 ca status
rc=0
ca fault start-app 3 >/dev/null 2>&1 || rc=$?
check fault_start_app "rc=$rc $(row app-3)" grep -q running <<<"$(row app-3)"
exit_is fault_app_index_out_of_range 2 ca fault kill-app 7
# MongoDB, by member.
old=$(ca status | awk '$1 == "mongo" && /primary/ { print $2 }')
rc=0
ca fault stepdown-mongo 1 >/dev/null 2>&1 || rc=$?
new=$(ca status | awk '$1 == "mongo" && /primary/ { print $2 }')
check fault_stepdown_mongo_elects_another "rc=$rc primary $old -> $new" test "$rc" -eq 0 -a -n "$new" -a "$new" != "$old"
# `primary` names the member that is primary now, `last` the one the previous fault hit.
ca fault pause-mongo primary >"$E2E_TMP/pause-primary.out" 2>&1 || true
check fault_pause_mongo_primary "$(ca status | grep "^mongo  *$new"); $(tr '\n' ' ' <"$E2E_TMP/pause-primary.out")" grep -qE ' paused +not answering' < <(ca status | grep "^mongo  *$new ")
ca fault resume-mongo last >/dev/null 2>&1 || true
check fault_resume_mongo_last "$(ca status | grep "^mongo  *$new ")" grep -qE 'primary|secondary' < <(ca status | grep "^mongo  *$new ")
ca fault kill-mongo 3 >/dev/null 2>&1 || true
check fault_kill_mongo "$(ca status | grep '^mongo  *3')" grep -qE ' killed +not answering' < <(ca status | grep '^mongo  *3')
rc=0
ca status >/dev/null 2>&1 || rc=$?
check fault_kill_mongo_status_exit_1 "rc=$rc" test "$rc" -eq 1
rc=0
ca fault restart-mongo 3 >/dev/null 2>&1 || rc=$?
check fault_restart_mongo "rc=$rc $(ca status | grep '^mongo  *3')" grep -qE 'primary|secondary' < <(ca status | grep '^mongo  *3')
# Partitions: rules in force, then gone; without root the fault says it is skipped.
rc=0
ca fault partition-app 1 >"$E2E_TMP/partition-app.out" 2>&1 || rc=$?
if [ "$rc" -eq 3 ]; then
  pass fault_partition_skipped_without_root
else
  tag=relaylab-cluster-$a_base
  cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
  cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
  a1=$(cat "$a/pids/app-1.pid")
  n_app=$(iptables -w 5 -S INPUT | grep -c "$tag")
  missing_app=""
  # The rules read once: `iptables -S | grep -q` under pipefail fails when grep leaves early
  # and iptables, still writing, gets SIGPIPE.
  rules=$(iptables -w 5 -S INPUT)
  for port in $(ss -Htanp | awk -v p="pid=$a1," '$1 == "ESTAB" && index($0, p) { n = split($4, a, ":"); print a[n] }' | sort -u); do
    grep -q -- "--dport $port .*$tag" <<<"$rules" || missing_app="$missing_app $port"
  done
  # Both listening ports, in and out, and (as a pod's network namespace would) the app's
  # own connections, to MongoDB among them: they leave from ports no listening rule names.
  check fault_partition_app_adds_rules "rc=$rc, $n_app rules" test "$rc" -eq 0 -a "$n_app" -ge 4
  check fault_partition_app_cuts_its_connections "open ports without a rule:${missing_app:- none}" test -z "${missing_app:-}"
  if grep -q "cuts only the app's ports" "$E2E_TMP/partition-app.out"; then
    pass "fault_partition_app_ports_only ($(tail -n 1 "$E2E_TMP/partition-app.out"))"
  else
    cg=$(cgroup_of "$a1")
    check fault_partition_app_moves_it_into_its_cgroup "cgroup $cg" test "$cg" = "/$tag-app-1"
  fi
  # The set may still be settling from the faults above (restart-mongo): wait for a primary.
  p_before=$(a_primary)
  LAB_FACTS="$E2E_TMP/facts" ca fault partition-mongo 2 >/dev/null 2>&1 || true
  # The fault records what it saw, for a scenario's `expect lab.mongo.*`.
  check fault_partition_mongo_records_facts "primary was $p_before: $(tr '\n' ' ' <"$E2E_TMP/facts")" \
    test "$(grep -cxE "mongo.partitioned 2|mongo.primary_before $p_before" "$E2E_TMP/facts")" -eq 2
  check fault_partition_mongo_adds_rules "" test "$(iptables -w 5 -S INPUT | grep -c "$tag")" -eq $((n_app + 2))
  # mongosim's members replicate inside one process: the lab cuts member 2 off its peers too.
  check fault_partition_mongo_cuts_its_peers "" grep -q 'member_partitioned member=1 ' "$a/mongo/mongosim.log"
  check status_names_mongo_partition "$(ca status 2>&1 | grep '^mongo  *2')" grep -qE ' partitioned +not answering' < <(ca status 2>&1 | grep '^mongo  *2')
  # A relay is cut off with its own connections (to MongoDB, from ephemeral ports): it moves
  # into a cgroup whose new sockets an OUTPUT rule drops, and its open sockets' ports get
  # INPUT rules. A cluster where that cannot be done reports the fault skipped.
  r2=$(cat "$a/pids/relay-2.pid")
  rc=0
  ca fault partition-relay 2 >"$E2E_TMP/partition-relay.out" 2>&1 || rc=$?
  if [ "$rc" -eq 3 ]; then
    pass "fault_partition_relay_skipped ($(tail -n 1 "$E2E_TMP/partition-relay.out"))"
  else
    cg=$(cgroup_of "$r2")
    check fault_partition_relay_moves_it_into_its_cgroup "rc=$rc cgroup $cg" test "$rc" -eq 0 -a "$cg" = "/$tag-relay-2"
    check fault_partition_relay_drops_its_new_sockets "" grep -q -- "--path $tag-relay-2 .*-j DROP" < <(iptables -w 5 -S OUTPUT)
    open_ports=$(ss -Htanp | awk -v p="pid=$r2," '$1 == "ESTAB" && index($0, p) { n = split($4, a, ":"); print a[n] }' | sort -u)
    missing=0
    rules=$(iptables -w 5 -S INPUT)
    for port in $open_ports; do
      grep -q -- "--dport $port .*$tag" <<<"$rules" || missing=$((missing + 1))
    done
    check fault_partition_relay_cuts_its_open_connections "$missing of $(wc -w <<<"$open_ports") open ports without a rule" test -n "$open_ports" -a "$missing" -eq 0
    check fault_partition_relay_unreachable "" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$((a_base + 14))/readyz" || true)" = 000
    check status_names_relay_partition "" grep -q 'partitioned: .*relay-2' < <(ca status || true)
    ca fault heal-relay 2 >/dev/null 2>&1 || true
    cg=$(cgroup_of "$r2")
    check fault_heal_relay_restores_it "cgroup $cg" test "$cg" != "/$tag-relay-2" -a ! -d "$cg_root/$tag-relay-2"
    check fault_heal_relay_ready_again "" wait_http "http://127.0.0.1:$((a_base + 14))/readyz" 30
  fi
  ca fault heal-app 1 >/dev/null 2>&1 || true
  cg=$(cgroup_of "$a1")
  check fault_heal_app_restores_it "cgroup $cg" test "$cg" != "/$tag-app-1" -a ! -d "$cg_root/$tag-app-1"
  LAB_FACTS="$E2E_TMP/facts" ca fault heal-mongo 2 >/dev/null 2>&1 || true
  # Asked before the heal, the others never name the cut-off member as their primary.
  check fault_heal_mongo_records_the_leader "$(tr '\n' ' ' <"$E2E_TMP/facts")" \
    test "$(grep -cxE 'mongo.primary_at_heal [013]|mongo.primary_changed [01]' "$E2E_TMP/facts")" -eq 2
  check fault_heal_mongo_rejoins_its_peers "" grep -q 'member_healed member=1 ' "$a/mongo/mongosim.log"
  check fault_heal_removes_output_rules "" test "$(iptables -w 5 -S OUTPUT | grep -c "$tag")" -eq 0
  check fault_heal_removes_rules "" test "$(iptables -w 5 -S INPUT | grep -c "$tag")" -eq 0
  # Split brain: the primary loses its peers only. No iptables rule (its clients must still
  # reach it), mongosim is told, and it still answers on its port. A product posted now is
  # written to it first and held (w:majority), then sent again to the new primary when it
  # steps down: its copy is rolled back at the heal, which heal-mongo records.
  : >"$E2E_TMP/facts"
  p_now=$(a_primary)
  rc=0
  LAB_FACTS="$E2E_TMP/facts" ca fault partition-mongo-peers primary >"$E2E_TMP/peers.out" 2>&1 || rc=$?
  # At once: the cut-off primary acts as one for 2 s only.
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 -X POST -H 'Content-Type: application/json' \
    -d '{"name":"split","price":1,"req_id":"cluster-split-1"}' "http://127.0.0.1:$a_base/products")
  check fault_partition_mongo_peers_records_facts "rc=$rc, primary $p_now: $(tr '\n' ' ' <"$E2E_TMP/facts")" \
    test "$rc" -eq 0 -a -n "$p_now" -a "$(grep -cx "mongo.partitioned ${p_now:-x}" "$E2E_TMP/facts")" -eq 1
  check fault_partition_mongo_peers_cuts_its_peers "" grep -q "member_partitioned member=$((${p_now:-1} - 1)) " "$a/mongo/mongosim.log"
  check fault_partition_mongo_peers_adds_no_rule "" test "$(iptables -w 5 -S INPUT | grep -c "$tag")" -eq 0
  check fault_partition_mongo_peers_clients_still_reach_it "" \
    "$ROOT/local-cluster/mongo-admin" --timeout 2 $((a_base + 9 + ${p_now:-1})) ping
  check status_names_mongo_peers_cut "$( (ca status || true) | grep "^mongo  *${p_now:-x} ")" \
    grep -q "cut from its peers (heal-mongo ${p_now:-x})" < <( (ca status || true) | grep "^mongo  *${p_now:-x} ")
  check fault_partition_mongo_peers_write_retried "POST /products answered $code" grep -qx '20[01]' <<<"$code"
  LAB_FACTS="$E2E_TMP/facts" ca fault heal-mongo last >/dev/null 2>&1 || true
  check fault_heal_mongo_peers_rejoins "" grep -q "member_healed member=$((${p_now:-1} - 1)) " "$a/mongo/mongosim.log"
  check status_drops_mongo_peers_cut_at_heal "" test "$( (ca status || true) | grep -c "cut from its peers")" -eq 0
  check fault_heal_mongo_records_the_rollback "$(tr '\n' ' ' <"$E2E_TMP/facts")" \
    grep -qE '^mongo\.rolled_back [1-9][0-9]*$' "$E2E_TMP/facts"
fi
ca fault reload-ingress >/dev/null 2>&1 || true
sleep 0.3
check fault_reload_ingress_keeps_serving "" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$a_base/nginx-health"

# up on a running cluster switches it to the new topology; --app-env reaches the apps (and
# stays in the command a fault starts them again with).
rc=0
"$LAB" --port-base "$b_base" --dir "$b" up --app-env FAKEAPP_EMIT_DELAY=5ms relay >"$E2E_TMP/cluster-b2.log" 2>&1 || rc=$?
check up_switches_topology "rc=$rc" grep -q '^topology relay,' < <("$LAB" --port-base "$b_base" --dir "$b" status 2>&1 || true)
# ... back to three apps: apps 4 and 5 are gone with the old topology.
check up_switch_drops_extra_apps "$(cb status 2>&1 | grep '^app ' || true)" \
  test "$(cb status 2>&1 | grep -c '^app ')" -eq 3 -a "$(listening $((b_base + 18)) $((b_base + 19)) $((b_base + 20)) $((b_base + 21)))" -eq 0
check up_app_env_reaches_the_apps "" grep -q 'FAKEAPP_EMIT_DELAY=5ms' "$b/cmds/app-2"
check env_names_the_target "" grep -qx "CLUSTER_LOADGEN_TARGET=http://127.0.0.1:$b_base" < <("$LAB" --port-base "$b_base" --dir "$b" env)

ca down >/dev/null 2>&1
"$LAB" --port-base "$b_base" --dir "$b" down >/dev/null 2>&1
left=$(($(pids_alive "$a") + $(pids_alive "$b")))
still=$(listening "$a_base" $((a_base + 7)) $((a_base + 10)) $((a_base + 13)) $((a_base + 17)) "$b_base" $((b_base + 1)) $((b_base + 4)) $((b_base + 10)))
check down_stops_everything "$left processes alive, $still ports still listening" test "$left" -eq 0 -a "$still" -eq 0

# ---------------------------------------------------------------- shortened matrix
# The shipped scenario files with a smaller workload; fault times given in % follow. Two
# run loadgen in 2 shards (start gate, merged by loadgen check), relay-restart as one process.
# relay-restart runs 6 s: its relay is down 1 s from 40 % in, and the clients must get back
# before loadgen ends. With 3 s (+1 s settle) a loaded machine's restart left them none of
# that window: every reconnect failed, no recovery_failed, no gap_lost (a red CI run).
rc=0
"$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos" --set clients=12 --set rate=10 --set duration=3s \
  --set settle=1s --set shards=2 embedded-rr relay >"$E2E_TMP/chaos.out" 2>&1 || rc=$?
"$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos" --set clients=12 --set rate=10 --set duration=6s \
  --set settle=1s relay-restart >>"$E2E_TMP/chaos.out" 2>&1 || rc=$?
sed "s/^/    /" "$E2E_TMP/chaos.out"
for s in embedded-rr relay relay-restart; do
  check "scenario_$(tr '-' '_' <<<"$s")" "see $E2E_TMP/chaos/$s/" grep -q "^PASS: $s " "$E2E_TMP/chaos.out"
done
check chaos_run_exit_status "rc=$rc" test "$rc" -eq 0

# Five apps: the expectations of the file, computed for five (a fifth delivered), judge the
# run; one app: embedded-rr is skipped with its reason, no cluster started. The report shows
# five pods per row, and says how many the column lists.
rc=0
"$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos-apps" --set clients=12 --set rate=10 --set duration=3s \
  --set settle=1s --set app_count=5 embedded-rr >"$E2E_TMP/chaos-apps.out" 2>&1 || rc=$?
"$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos-app1" --set app_count=1 embedded-rr >>"$E2E_TMP/chaos-apps.out" 2>&1 || rc=$?
sed "s/^/    /" "$E2E_TMP/chaos-apps.out"
r=$E2E_TMP/chaos-apps/embedded-rr/result.json
check scenario_five_apps "rc=$rc; $(jq -c '{app_count, requests_per_pod, client_delivery_mean, expectations: [.expectations[].expect]}' "$r" 2>/dev/null || true)" \
  jq -e '.verdict == "pass" and .app_count == 5 and (.requests_per_pod | length) == 5
    and any(.expectations[]; .expect == "client_delivery.mean <= 0.28")' "$r"
check scenario_one_app_skipped "$(grep 'embedded-rr' "$E2E_TMP/chaos-apps.out" | tail -n 1)" \
  test "$rc" -eq 0 -a "$(grep -c '^SKIP: embedded-rr (requires app_count >= 2 (app_count is 1))' "$E2E_TMP/chaos-apps.out")" -eq 1 \
  -a "$(jq -r .verdict "$E2E_TMP/chaos-app1/embedded-rr/result.json")" = skip -a ! -d "$E2E_TMP/chaos-app1/embedded-rr/cluster"
"$ROOT/chaos/report" --out "$E2E_TMP/report-apps" "$r" >"$E2E_TMP/report-apps.out" 2>&1 || true
check report_names_five_pods "$(head -n 3 "$E2E_TMP/report-apps.out")" \
  test "$(grep -c 'req/pod 1/2/3/4/5' "$E2E_TMP/report-apps.out")" -eq 1 \
  -a "$(grep -cE '^embedded-rr .* [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+ ' "$E2E_TMP/report-apps.out")" -eq 1
"$ROOT/chaos/report" --out "$E2E_TMP/report-mixed" "$r" "$E2E_TMP/chaos/relay/result.json" >"$E2E_TMP/report-mixed.out" 2>&1 || true
check report_mixed_app_counts "$(head -n 4 "$E2E_TMP/report-mixed.out")" \
  test "$(grep -c 'req/pod 1/2/\.\.' "$E2E_TMP/report-mixed.out")" -eq 1 \
  -a "$(grep -cE '^relay .* [0-9]+/[0-9]+/[0-9]+ ' "$E2E_TMP/report-mixed.out")" -eq 1
# What the apps said of the writes afterwards shows in the row: acknowledged and gone (a
# rollback), outcome unknown yet stored (a paused app), stored and never announced (the dual write).
jq '.requests.acked_missing = 40 | .committed_unknown = 3 | .unannounced = 6' "$E2E_TMP/chaos/relay/result.json" >"$E2E_TMP/relay-writes.json" 2>/dev/null || true
"$ROOT/chaos/report" --out "$E2E_TMP/report-writes" "$E2E_TMP/relay-writes.json" >"$E2E_TMP/report-writes.out" 2>&1 || true
check report_names_lost_writes "$(sed -n 3p "$E2E_TMP/report-writes.out")" \
  grep -qE '^relay .* acknowledged, then gone 40, outcome unknown, stored 3, stored, never announced 6 ' "$E2E_TMP/report-writes.out"

# The runner reports loadgen's verdict: result.json carries the numbers and expectations.
r=$E2E_TMP/chaos/embedded-rr/result.json
check result_json_fields "$r" jq -e '(.delivery_ratio | type) == "number" and (.requests_per_pod | length) == 3
  and (.expectations | length) > 0 and (.expectations[0].name | startswith("client_delivery")) and .verdict == "pass"' "$r"
r=$E2E_TMP/chaos/relay/loadgen.json
check shards_merged_into_one_verdict "$(jq -c '{history, requests, events}' "$r" 2>/dev/null || true)" \
  jq -e '.history.shards == 2 and .history.aligned and .requests.sent == 30 and .events.expected == 360
    and .events.lost == 0 and .clients == 12' "$r"
check latency_cdf_from_loadgen "" test "$(wc -l <"$E2E_TMP/chaos/relay/latency-cdf.tsv")" -gt 1
# The servers' side (lab metrics at the end of the run): every connection a server took is
# closed and counted by reason; the relay's twelve clients, the embedded apps' twelve.
r=$E2E_TMP/chaos/relay/result.json
# shellcheck disable=SC2016 # jq, not shell, variables
check servers_relay_closes_add_up "$(jq -c .servers "$r" 2>/dev/null || true)" \
  jq -e '.servers["relay-1"] as $s | $s.connections >= 12 and ($s.clients // 0) == 0
    and ([$s.closes[]] | add) == $s.connections and (.servers | keys) == ["relay-1"]' "$r"
r=$E2E_TMP/chaos/embedded-rr/result.json
check servers_apps_closes_add_up "$(jq -c .servers "$r" 2>/dev/null || true)" \
  jq -e '(.servers | keys) == ["app-1", "app-2", "app-3"] and ([.servers[].connections] | add) >= 12
    and all(.servers[]; ([.closes[]] | add // 0) == .connections - (.clients // 0))' "$r"
check servers_in_report_html "" grep -qE '<b>relay-1</b> [0-9]+ conns: [a-z_]+ [0-9]+' "$E2E_TMP/report-mixed/report.html"
r=$E2E_TMP/chaos/relay-restart/result.json
check relay_restart_counts_gap_losses "$(jq -c '{faults, gap_lost}' "$r" 2>/dev/null || true)" \
  jq -e '.faults[0].rc == 0 and .faults[0].fault == "restart-relay 1 1" and .gap_lost > 0' "$r"
# ... and its servers' side: the clients came back to a relay of a new epoch, which could not
# resume them.
check servers_restarted_relay_could_not_resume "$(jq -c .servers "$r" 2>/dev/null || true)" \
  jq -e '.servers["relay-1"].resumes_not_recovered > 0 and (.servers["relay-1"].resumes_recovered // 0) == 0' "$r"
# Both of relay 1's processes are counted: the twelve clients of the first (read just before
# the restart; they left with it, as `restarted`) and their reconnections to the second.
# shellcheck disable=SC2016 # jq, not shell, variables
check servers_count_both_processes "$(jq -c .servers "$r" 2>/dev/null || true)" \
  jq -e '.servers["relay-1"] as $s | $s.lives == 2 and $s.closes.restarted >= 1 and $s.connections > $s.closes.restarted
    and ([$s.closes[]] | add) == $s.connections - ($s.clients // 0)' "$r"
# JUnit beside it (chaos/junit): the suite is the scenario, the fault a case of its own.
j=$E2E_TMP/chaos/relay-restart/junit.xml
check junit_names_scenario_and_fault "$(head -c 400 "$j" 2>/dev/null || true)" \
  grep -q '<testsuite name="relay-restart" .*failures="0"' "$j"
check junit_fault_case "" grep -q 'name="fault restart-relay 1 1"></testcase>' "$j"

# A browser row (chaos/browser.sh): headless Chromium on the page through relay's ingress,
# judged by the scenario's page.* expectations; the report copies its screenshot beside it.
# Where Chromium will not start (here forced with CHROME_PATH=/bin/false) the row is SKIP
# with the reason, and the run still succeeds.
rc=0
"$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos" --set browser=2 browser-relay >"$E2E_TMP/browser.out" 2>&1 || rc=$?
sed "s/^/    /" "$E2E_TMP/browser.out"
r=$E2E_TMP/chaos/browser-relay/result.json
if [ "$(jq -r .verdict "$r" 2>/dev/null)" = skip ]; then
  echo "SKIP: browser_row ($(jq -r .error "$r"))"
else
  check browser_row_passes "rc=$rc; see $E2E_TMP/chaos/browser-relay/" \
    test "$rc" -eq 0 -a "$(grep -c '^PASS: browser-relay ' "$E2E_TMP/browser.out")" -eq 1
  check browser_row_result "$(jq -c '{page, requests_per_pod, servers, expectations: [.expectations[] | select(.pass | not)]}' "$r" 2>/dev/null || true)" \
    jq -e '.kind == "browser" and .page.created == 2 and .page.live == 2 and .page.seed_warning == 0
      and .page.websocket == 1 and ([.requests_per_pod[]] | add) == 2 and (.console | length) > 0
      and (.expectations | length) == 7 and all(.expectations[]; .pass)
      and (.servers["relay-1"].connections // 0) >= 1' "$r"
  rc=0
  "$ROOT/chaos/report" --out "$E2E_TMP/report" "$r" >"$E2E_TMP/report.out" 2>&1 || rc=$?
  check browser_row_in_report "rc=$rc: $(head -c 300 "$E2E_TMP/report.out")" test "$rc" -eq 0 \
    -a -s "$E2E_TMP/report/browser/browser-relay.png" \
    -a "$(grep -c 'page 2/2 live, websocket, no seed warning' "$E2E_TMP/report.out")" -eq 1 \
    -a "$(grep -c 'src="browser/browser-relay.png"' "$E2E_TMP/report/report.html")" -eq 1
fi
rc=0
CHROME_PATH=/bin/false "$ROOT/chaos/run" --quiet --out "$E2E_TMP/chaos-nobrowser" --set browser=1 browser-embedded-rr \
  >"$E2E_TMP/nobrowser.out" 2>&1 || rc=$?
check browser_row_skips_without_a_browser "rc=$rc: $(head -c 300 "$E2E_TMP/nobrowser.out")" \
  test "$rc" -eq 0 -a "$(grep -c '^SKIP: browser-embedded-rr (no browser: chromium cannot start' "$E2E_TMP/nobrowser.out")" -eq 1 \
  -a "$(jq -r .verdict "$E2E_TMP/chaos-nobrowser/browser-embedded-rr/result.json")" = skip

# Sanitizer reports from any cluster process fail the test (lib.sh checks $E2E_TMP/*.log).
for log in "$E2E_TMP"/chaos/*/cluster/logs/*.log "$E2E_TMP"/chaos/*/cluster/mongo/*.log \
  "$E2E_TMP"/cluster-[ab]/logs/*.log "$E2E_TMP"/cluster-[ab]/mongo/*.log "$E2E_TMP"/chaos/*/*.log; do
  [ -f "$log" ] || continue
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
    fail "sanitizer_clean_$(basename "$(dirname "$log")")_$(basename "$log" .log)" "see $log"
  fi
done
[ "$E2E_FAILS" -eq 0 ]
