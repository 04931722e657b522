#!/usr/bin/env bash
# A team's app unlike fakeapp and the seed app (tests/e2e/byo-team: plain node http, its
# websocket at /live through the `ws` package, items at POST /api/v1/items with the request
# id nested in the body and in the event, event item.created, readiness /ready, a bearer
# token on the create request, a command that starts with NAME=VALUE words), run by the
# team's own scenario file with chaos/run as docs/byo-app.md says. The embedded-rr row
# must be the story's: every client connects through the ingress on the app's own path and
# hears about 1/N (N = 2 apps); the stock relay scenario run against the app unedited
# delivers everything.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

ROOT=$RELAYLAB_ROOT
TEAM=$ROOT/tests/e2e/byo-team
need_built byo_team_prerequisites relay mongosim loadgen
need_node byo_team_prerequisites "$ROOT/tests/e2e/node" ws
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The GitHub workflow a team copies from README.md and docs/byo-app.md: YAML that passes
# yamllint --strict (default rules, as the repository's .github/), and every relaylab/ path
# and make target it names exists.
for doc in README.md docs/byo-app.md; do
  n=$(basename "$doc" .md)
  awk '/^```yaml/ { p = 1; next } /^```/ { p = 0 } p' "$ROOT/$doc" >"$E2E_TMP/workflow-$n.yml"
  rc=0
  if command -v yamllint >/dev/null; then
    yamllint --strict -c "$ROOT/.yamllint" "$E2E_TMP/workflow-$n.yml" >"$E2E_TMP/yamllint-$n.out" 2>&1 || rc=$?
  fi
  while IFS= read -r path; do
    [ -e "$ROOT/${path#relaylab/}" ] || { rc=1; echo "$path missing" >>"$E2E_TMP/yamllint-$n.out"; }
  done < <(grep -o 'relaylab/[A-Za-z0-9_./-]*' "$E2E_TMP/workflow-$n.yml" | grep -v '^relaylab/$' | sort -u)
  grep -q 'make -C relaylab deps all' "$E2E_TMP/workflow-$n.yml" && grep -q '^deps:' "$ROOT/Makefile" &&
    grep -q '^all:' "$ROOT/Makefile" || rc=1
  expect "byo_team_workflow_$n" "$rc" "$(cat "$E2E_TMP/yamllint-$n.out")"
done

# On kind the app is an image: a scenario whose app has none is refused by --check, not
# after a cluster came up.
rc=0
"$ROOT/chaos/run" --cluster kind --check "$TEAM/lab/team-embedded-rr.scn" >"$E2E_TMP/kind-check.out" 2>&1 || rc=$?
expect byo_team_kind_needs_an_image "$( [ "$rc" -eq 2 ] && grep -q 'has no image for kind' "$E2E_TMP/kind-check.out"; echo $?)" \
  "exit $rc: $(cat "$E2E_TMP/kind-check.out")"

# A misspelt scenario after a good one: refused (exit 2) before anything runs.
rc=0
(cd "$E2E_TMP" && timeout 120 "$ROOT/chaos/run" --out "$E2E_TMP/typo" "$TEAM/lab/team-embedded-rr.scn" team-relay) \
  >"$E2E_TMP/typo.out" 2>&1 || rc=$?
expect byo_team_every_name_checked_first "$( [ "$rc" -eq 2 ] && [ ! -e "$E2E_TMP/typo/team-embedded-rr" ] &&
  grep -q "no scenario 'team-relay'" "$E2E_TMP/typo.out"; echo $?)" "exit $rc: $(cat "$E2E_TMP/typo.out")"

rc=0
(cd "$E2E_TMP" && timeout 300 "$ROOT/chaos/run" --out "$E2E_TMP/out" "$TEAM/lab/team-embedded-rr.scn") \
  >"$E2E_TMP/run.out" 2>&1 || rc=$?
sed 's/^/info: /' "$E2E_TMP/run.out"
expect byo_team_embedded_rr_passes "$rc" "$(tail -8 "$E2E_TMP/run.out" | tr '\n' ' ')"
r=$E2E_TMP/out/team-embedded-rr/result.json
# The command's NAME=VALUE words reached the app (it started, and says so in its log).
expect byo_team_cmd_with_assignments "$(grep -q 'team-app pod=app-1 .* mode=lab' \
  "$E2E_TMP/out/team-embedded-rr/cluster/logs/app-1.log"; echo $?)"
# Every client upgraded through the ingress on /live, and each heard about half.
expect byo_team_ws_path_through_ingress "$(jq -e '.connections.opened >= 8 and .connections.failed == 0' "$r" >/dev/null 2>&1; echo $?)" \
  "$(jq -c .connections "$r" 2>&1)"
expect byo_team_half_delivered "$(jq -e '.client_delivery_mean > 0.35 and .client_delivery_mean < 0.65
  and .requests.failed == 0 and (.requests_per_pod | length) == 2' "$r" >/dev/null 2>&1; echo $?)" \
  "$(jq -c '{client_delivery_mean, requests_per_pod}' "$r" 2>&1)"

# Frames of another shape ({"type":..,"payload":..}, FRAMES=type): named by event_key and
# data_key, the same run judges the same story (about half with two apps).
rc=0
(cd "$E2E_TMP" && timeout 300 "$ROOT/chaos/run" --quiet --out "$E2E_TMP/shape" --set app_env=FRAMES=type \
  --set event_key=type --set data_key=payload --set clients=8 --set duration=2s \
  "$TEAM/lab/team-embedded-rr.scn") >"$E2E_TMP/shape.out" 2>&1 || rc=$?
r=$E2E_TMP/shape/team-embedded-rr/result.json
expect byo_team_frame_keys "$( [ "$rc" -eq 0 ] && jq -e '.client_delivery_mean > 0.35 and .client_delivery_mean < 0.65
  and .connections.opened >= 8' "$r" >/dev/null 2>&1; echo $?)" \
  "exit $rc: $(jq -c '{client_delivery_mean, connections}' "$r" 2>&1) $(tail -4 "$E2E_TMP/shape.out" | tr '\n' ' ')"

# The stock relay scenario against the same app, unedited: its clients talk to the relay on
# the relay's path, not on the app's own /live of relaylab.app, and hear everything.
rc=0
(cd "$ROOT" && timeout 300 chaos/run --quiet --out "$E2E_TMP/out" --set app="$TEAM" --set app_count=2 \
  --set clients=8 --set rate=10 --set duration=2s relay) >"$E2E_TMP/relay.out" 2>&1 || rc=$?
sed 's/^/info: /' "$E2E_TMP/relay.out"
expect byo_team_stock_relay_passes "$rc" "$(tail -8 "$E2E_TMP/relay.out" | tr '\n' ' ')"
expect byo_team_relay_everything "$(jq -e '.delivery_ratio == 1 and .lost == 0 and .connections.opened >= 8' \
  "$E2E_TMP/out/relay/result.json" >/dev/null 2>&1; echo $?)"

# A readiness path the app does not serve: the run fails, and the JUnit report says why and
# what to check, not only "cluster did not come up" (CLUSTER_WAIT shortens lab up's waits).
rc=0
(cd "$ROOT" && CLUSTER_WAIT=8 timeout 120 chaos/run --quiet --out "$E2E_TMP/ready" --set app_ready=/healthz \
  --set app_count=1 "$TEAM/lab/team-embedded-rr.scn") >"$E2E_TMP/ready.out" 2>&1 || rc=$?
expect byo_team_wrong_ready_fails "$( [ "$rc" -eq 1 ]; echo $?)" "exit $rc: $(tail -5 "$E2E_TMP/ready.out")"
x=$E2E_TMP/ready/team-embedded-rr/junit.xml
expect byo_team_wrong_ready_junit_says_why "$(python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$x" &&
  grep -q 'name="run"><failure message="cluster did not come up: local-cluster: app-1 did not become ready within 8s: http://127.0.0.1:[0-9]*/healthz answered 404' "$x"
  echo $?)" "$(cat "$x" 2>&1)"
expect byo_team_wrong_ready_hint "$(grep -q 'is /healthz your app.s readiness path' "$E2E_TMP/ready.out"; echo $?)" "$(cat "$E2E_TMP/ready.out")"

# A ws_path the app does not serve, and answers without X-Served-By (NO_POD=1): no client
# connects and no pod is named. The failed expectations can only say "actual null"; the run
# says why (the connects that failed, the path, the first error; the missing pod name), on
# the console and in the JUnit failures whose value is null.
rc=0
(cd "$ROOT" && timeout 120 chaos/run --out "$E2E_TMP/nows" --set ws_path=/nope --set app_count=1 --set app_env=NO_POD=1 \
  --set clients=4 --set duration=1s --set warmup=2s "$TEAM/lab/team-embedded-rr.scn") >"$E2E_TMP/nows.out" 2>&1 || rc=$?
expect byo_team_wrong_ws_path_fails "$( [ "$rc" -eq 1 ]; echo $?)" "exit $rc: $(tail -5 "$E2E_TMP/nows.out")"
expect byo_team_wrong_ws_path_says_why "$(grep -Eq '^    no client connected: [1-9][0-9]* connects to /nope failed \(first: .+\); does the app' "$E2E_TMP/nows.out"; echo $?)" \
  "$(cat "$E2E_TMP/nows.out")"
x=$E2E_TMP/nows/team-embedded-rr/junit.xml
expect byo_team_no_pod_named_says_why "$(grep -q 'no create answer named its pod: .*X-Served-By' "$E2E_TMP/nows.out"; echo $?)" \
  "$(cat "$E2E_TMP/nows.out")"
expect byo_team_wrong_ws_path_junit "$(python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$x" &&
  grep -q 'name="expect client_delivery.mean &gt;= 0.85"><failure message="actual null; no client connected: ' "$x" &&
  grep -q 'name="expect connections.opened &gt;= 4"><failure message="actual 0"/>' "$x"; echo $?)" "$(cat "$x" 2>&1)"
# The app's own websocket (/live, not one of the ingress's two websocket paths) gets
# websocket timeouts, not the API's 10 s read timeout: a client silent for 12 s stays.
base=$(e2e_port_base 20)
lab_dir=$E2E_TMP/idle-cluster
rc=0
(cd "$TEAM" && RELAYLAB_BIN=$RELAYLAB_BIN "$ROOT/lab/lab" --port-base "$base" --dir "$lab_dir" up --app-count 1 \
  --app-cmd "$(sed -n 's/^cmd *= *//p' relaylab.app)" --app-ready /ready embedded-rr) >"$E2E_TMP/idle-up.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
  t0=$(date +%s)
  rc=0
  "$RELAYLAB_BIN/wsprint" --count 1000 --timeout 12 "ws://127.0.0.1:$base/live" >"$E2E_TMP/idle-ws.out" 2>&1 || rc=$?
  took=$(($(date +%s) - t0))
  expect byo_team_own_ws_path_not_cut_after_10s "$( [ "$rc" -eq 0 ] && [ "$took" -ge 12 ]; echo $?)" \
    "wsprint exit $rc after ${took}s: $(tail -2 "$E2E_TMP/idle-ws.out" | tr '\n' ' ')"
else
  fail byo_team_own_ws_path_not_cut_after_10s "lab up failed: $(tail -3 "$E2E_TMP/idle-up.out" | tr '\n' ' ')"
fi
"$ROOT/lab/lab" --port-base "$base" --dir "$lab_dir" down >/dev/null 2>&1 || true
exit "$E2E_FAILS"
