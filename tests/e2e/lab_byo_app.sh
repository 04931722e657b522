#!/usr/bin/env bash
# Your app in the lab (docs/byo-app.md): lab up --app-cmd / --app-image / --app-count and
# their refusals, two copies of the seed app up (status shows two, down stops them),
# the kind manifests rewritten for an app image (statically: every overlay), and a stock
# scenario file run against the seed app (examples/seed-app) with only the app named
# differently: chaos/run --set app=examples/seed-app embedded-rr and relay give fakeapp's
# rows (a third delivered, everything delivered).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

ROOT=$RELAYLAB_ROOT
LAB=$ROOT/lab/lab
app_dir=$ROOT/examples/seed-app

# exit_is NAME CODE CMD...: passes when CMD exits with CODE.
exit_is() {
  local name=$1 want=$2 rc=0
  shift 2
  "$@" >"$E2E_TMP/$name.out" 2>&1 || rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$name"; else fail "$name" "exit $rc, want $want: $(head -c 300 "$E2E_TMP/$name.out")"; fi
}

# ---------------------------------------------------------------- refusals (exit 2, nothing started)
base=$(e2e_port_base 20)
local_opts=(--cluster local --port-base "$base" --dir "$E2E_TMP/cluster")
exit_is byo_kind_takes_no_app_cmd 2 "$LAB" --cluster kind up --app-cmd 'node server.js' relay
exit_is byo_local_takes_no_app_image 2 "$LAB" "${local_opts[@]}" up --app-image myorg/app:1 relay
exit_is byo_app_dir_must_exist 2 "$LAB" "${local_opts[@]}" up --app-cmd 'node server.js' --app-dir "$E2E_TMP/nope" relay
exit_is byo_app_ready_is_a_path 2 "$LAB" "${local_opts[@]}" up --app-cmd 'node server.js' --app-ready healthz relay
exit_is byo_relay_watch_is_fakeapps 2 "$LAB" "${local_opts[@]}" up --app-cmd 'node server.js' relay-watch
exit_is byo_app_ready_needs_app_cmd 2 "$ROOT/local-cluster/up" --port-base "$base" --dir "$E2E_TMP/cluster" --app-ready /x relay
exit_is byo_app_count_zero 2 "$LAB" "${local_opts[@]}" up --app-count 0 relay
exit_is byo_app_count_ten 2 "$LAB" "${local_opts[@]}" up --app-count 10 relay
exit_is byo_app_count_kind_number 2 "$LAB" --cluster kind up --app-count two relay
exit_is byo_app_count_local_up 2 "$ROOT/local-cluster/up" --port-base "$base" --dir "$E2E_TMP/cluster" --app-count 12 relay
expect byo_refusals_start_nothing "$( [ ! -d "$E2E_TMP/cluster/pids" ]; echo $?)"
printf 'topology = relay
app_count = 0
' >"$E2E_TMP/count0.scn"
exit_is byo_scenario_app_count_checked 2 "$ROOT/chaos/run" --check "$E2E_TMP/count0.scn"
printf 'topology = relay\napp_dir = ..\n' >"$E2E_TMP/no-app.scn"
exit_is byo_scenario_app_dir_needs_app 2 "$ROOT/chaos/run" --check "$E2E_TMP/no-app.scn"
mkdir -p "$E2E_TMP/badapp"
printf 'cmd = node x.js\ncolour = blue\n' >"$E2E_TMP/badapp/relaylab.app"
printf 'topology = relay\napp = badapp\n' >"$E2E_TMP/bad-manifest.scn"
exit_is byo_manifest_unknown_key 2 "$ROOT/chaos/run" --check "$E2E_TMP/bad-manifest.scn"
exit_is byo_seed_scenarios_read 0 "$ROOT/chaos/run" --check "$app_dir"/lab/*.scn
# A '#' inside the JSON body is text, not a comment (a comment after it still is): the body
# keeps its {{req_id}}, in a scenario file and in relaylab.app. A body without it is refused.
printf '%s\n' 'topology = relay' 'body = {"name":"item #{{n}}","req_id":"{{req_id}}"}  # ours' >"$E2E_TMP/hash-body.scn"
exit_is byo_hash_in_body_is_text 0 "$ROOT/chaos/run" --check "$E2E_TMP/hash-body.scn"
mkdir -p "$E2E_TMP/hashapp"
printf '%s\n' 'cmd = node x.js' 'body = {"colour":"#ff0000","ref":"{{req_id}}"} # ours' 'id_path = ref' >"$E2E_TMP/hashapp/relaylab.app"
printf 'topology = relay\napp = hashapp\n' >"$E2E_TMP/hash-app.scn"
exit_is byo_hash_in_manifest_body_is_text 0 "$ROOT/chaos/run" --check "$E2E_TMP/hash-app.scn"
printf '%s\n' 'topology = relay' 'body = {"name":"x"}' >"$E2E_TMP/no-req-id.scn"
exit_is byo_body_needs_req_id 2 "$ROOT/chaos/run" --check "$E2E_TMP/no-req-id.scn"

# ---------------------------------------------------------------- kind: the manifests for an app image
if command -v kubectl >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
  for overlay in "$ROOT"/kind-cluster/manifests/overlays/*; do
    o=$(basename "$overlay")
    [ "$o" = relay-watch ] && continue
    rc=0
    kubectl kustomize "$overlay" 2>"$E2E_TMP/kustomize-$o.err" |
      python3 -c 'import json, sys, yaml; print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [d for d in yaml.safe_load_all(sys.stdin) if d]}))' |
      jq --arg image myorg/app:1.2 --arg ready /ready --argjson sleep_hook true -f "$ROOT/kind-cluster/app-image.jq" >"$E2E_TMP/byo-$o.json" || rc=$?
    relay=false
    [ -d "$overlay/../../base/relay" ] && grep -q 'base/relay' "$overlay/kustomization.yaml" && relay=true
    jq -e --argjson relay "$relay" '
      [.items[] | select(.kind == "Deployment" and .metadata.name == "app") | .spec.template.spec.containers[0]] as $c
      | [.items[] | select(.kind == "Service" and .metadata.name == "app") | .spec.ports[]] as $p
      | ($c | length) == 1 and $c[0].image == "myorg/app:1.2" and ($c[0].command == null)
        and ([$c[0].env[].name] | (any(startswith("FAKEAPP_")) | not) and index("PORT") != null
             and index("POD_NAME") != null and index("MONGO_URI") != null
             and (if $relay then index("RELAY_URL") != null and index("RELAY_TOKEN") != null else true end))
        and ($c[0].env[] | select(.name == "PORT") | .value) == "3000"
        and $c[0].readinessProbe.httpGet.path == "/ready"
        and $c[0].lifecycle.preStop == {sleep: {seconds: 5}}
        and ($c[0].ports | length) == 1
        and ([$c[0].volumeMounts[] | select(.mountPath == "/tmp") | .name] | length) == 1
        and ([.items[] | select(.kind == "Deployment" and .metadata.name == "app") | .spec.template.spec.volumes[]
              | select(.name == ($c[0].volumeMounts[] | select(.mountPath == "/tmp") | .name)) | .emptyDir] | length) == 1
        and ([$p[] | select(.name == "ws") | .targetPort] == ["http"])' "$E2E_TMP/byo-$o.json" >/dev/null || rc=$?
    expect "byo_kind_manifests_$o" "$rc" "see $E2E_TMP/byo-$o.json"
  done
  # --app-count on kind: the app Deployment's replicas, the rest untouched.
  rc=0
  jq --argjson n 2 -f "$ROOT/kind-cluster/app-count.jq" "$E2E_TMP/byo-relay.json" >"$E2E_TMP/count.json" || rc=$?
  jq -e '[.items[] | select(.kind == "Deployment") | {(.metadata.name): .spec.replicas}] | add
    | .app == 2 and .relay == 1' "$E2E_TMP/count.json" >/dev/null || rc=$?
  expect byo_kind_app_count_replicas "$rc" "see $E2E_TMP/count.json"
else
  echo "info: kubectl or python3 missing; the kind manifests were not checked"
fi

# ---------------------------------------------------------------- the stock scenarios, your app
need_built byo_prerequisites relay mongosim loadgen
need_node byo_prerequisites "$app_dir" mongodb
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- --app-count: two copies
# lab up --app-count 2 runs two seed apps (app-1, app-2) behind nginx; status lists exactly
# two apps, the ingress reaches both, app 3 is no member, and down stops them.
base2=$(e2e_port_base 20)
count_opts=(--cluster local --port-base "$base2" --dir "$E2E_TMP/count-cluster")
# Whatever happens below, the two apps, MongoDB and nginx go with the test.
trap '"$LAB" "${count_opts[@]}" down >/dev/null 2>&1 || true; e2e_cleanup' EXIT
rc=0
(cd "$ROOT" && timeout 120 "$LAB" "${count_opts[@]}" up --app-count 2 --app-cmd 'node server.js' \
  --app-dir examples/seed-app embedded-rr) >"$E2E_TMP/count-up.out" 2>&1 || rc=$?
expect byo_app_count_up "$rc" "$(tail -5 "$E2E_TMP/count-up.out" | tr '\n' ' ')"
"$LAB" "${count_opts[@]}" status >"$E2E_TMP/count-status.out" 2>&1 || true
sed 's/^/info: /' "$E2E_TMP/count-status.out"
expect byo_app_count_status_two "$( [ "$(grep -c '^app ' "$E2E_TMP/count-status.out")" -eq 2 ] &&
  grep -q '^app  *2  *app-2  *[0-9]' "$E2E_TMP/count-status.out"; echo $?)" "$(cat "$E2E_TMP/count-status.out")"
served=""
for _ in 1 2 3 4 5 6; do
  served+=" $(curl -s -o /dev/null -D - --max-time 3 "http://127.0.0.1:$base2/healthz" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]erved-[Bb]y: //p' || true)"
done
expect byo_app_count_ingress_both "$( [[ $served == *app-1* && $served == *app-2* && $served != *app-3* ]]; echo $?)" "served by:$served"
exit_is byo_app_count_no_app_3 2 "$LAB" "${count_opts[@]}" fault kill-app 3
rc=0
"$LAB" "${count_opts[@]}" down >"$E2E_TMP/count-down.out" 2>&1 || rc=$?
expect byo_app_count_down "$rc"
left=0
for f in "$E2E_TMP"/count-cluster/pids/*.pid; do
  [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && left=1
done
expect byo_app_count_nothing_left "$left"
trap e2e_cleanup EXIT

rc=0
(cd "$ROOT" && timeout 300 chaos/run --quiet --out "$E2E_TMP/chaos" --set app=examples/seed-app \
  --set clients=15 --set duration=2s embedded-rr relay) >"$E2E_TMP/chaos.out" 2>&1 || rc=$?
sed 's/^/info: /' "$E2E_TMP/chaos.out"
expect byo_stock_scenarios_pass "$rc" "$(tail -5 "$E2E_TMP/chaos.out" | tr '\n' ' ')"
r=$E2E_TMP/chaos/embedded-rr/result.json
expect byo_embedded_rr_one_third "$(jq -e '.app == "node server.js in examples/seed-app" and .client_delivery_mean > 0.25 and .client_delivery_mean < 0.42' "$r" >/dev/null 2>&1; echo $?)"
expect byo_relay_everything "$(jq -e '.delivery_ratio == 1 and .lost == 0' "$E2E_TMP/chaos/relay/result.json" >/dev/null 2>&1; echo $?)"
# The apps were the seed app: its pods answered the products (its log says so).
expect byo_pods_were_the_seed_app "$(grep -q 'prog=seed-app pod=app-1 msg=ready' "$E2E_TMP/chaos/relay/cluster/logs/app-1.log"; echo $?)"
exit "$E2E_FAILS"
