# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables here are used by the scripts that source it
# Shared by the kind-cluster scripts (sourced, not run). Every kubectl call goes through
# k/kn, pinned to the kind cluster's own context, so a user's other clusters are never
# touched whatever their current context is. These scripts run on a laptop: bash 3.2
# (macOS) and BSD tools too, so no mapfile, no associative arrays, no GNU timeout, and an
# array that may be empty is expanded as ${a[@]+"${a[@]}"}.

KIND_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$KIND_DIR/.." && pwd)
# shellcheck source=lab/catalog.sh
source "$ROOT/lab/catalog.sh"
# shellcheck source=lab/portable.sh
source "$ROOT/lab/portable.sh"
CLUSTER=${RELAYLAB_KIND_CLUSTER:-relaylab}
CONTEXT=kind-$CLUSTER
NS=relaylab
# Bound on every wait: kubectl's --timeout and kind's --wait take it as it is, wait_until as
# seconds (seconds() below), so it is a number with one unit, s, m or h; a bare number is
# seconds and gets its unit here (kubectl refuses "90": "missing unit in duration").
WAIT=${KIND_WAIT_TIMEOUT:-300s}
case $WAIT in
  *[0-9]) WAIT=${WAIT}s ;;
esac

# ingress-nginx was retired upstream in March 2026 (no releases after that). Pin the
# last controller release whose kind provider manifest we use; see docs/kind.md.
INGRESS_NGINX_VERSION=${INGRESS_NGINX_VERSION:-controller-v1.15.1}
INGRESS_NGINX_MANIFEST=${INGRESS_NGINX_MANIFEST:-https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/kind/deploy.yaml}
# Envoy Gateway, the Gateway API implementation for the gateway-api overlay.
ENVOY_GATEWAY_VERSION=${ENVOY_GATEWAY_VERSION:-v1.8.1}
ENVOY_GATEWAY_MANIFEST=${ENVOY_GATEWAY_MANIFEST:-https://github.com/envoyproxy/gateway/releases/download/$ENVOY_GATEWAY_VERSION/install.yaml}

# Images the manifests run; kind-cluster/load-images builds and loads them.
IMAGE_TAG=dev
PROGRAM_IMAGES="relay fakeapp loadgen mongosim"
# The seed app (examples/seed-app) as an image: load-images --seed-app, or up when a
# scenario's app is relaylab/seed-app:dev and the nodes lack it.
SEED_APP_IMAGE=seed-app

# Where loadgen shards (kind-cluster/loadgen-job) keep their histories on each node.
NODE_OUT=/relaylab-out

log() { printf '%s kind-cluster: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit "$LAB_FAIL"
}
usage_error() {
  log "$*"
  exit "$LAB_USAGE"
}
skip() {
  log "skipped: $*"
  exit "$LAB_SKIP"
}

# need TOOL...: fail early, with a pointer to the docs, when a tool is missing.
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found on PATH (see docs/kind.md, What a laptop needs)"
  done
}

k() { kubectl --context "$CONTEXT" "$@"; }
kn() { kubectl --context "$CONTEXT" -n "$NS" "$@"; }

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; }
require_cluster() {
  need kind kubectl
  cluster_exists || die "no kind cluster '$CLUSTER': run lab --cluster kind up TOPOLOGY"
}
nodes() { kind get nodes --name "$CLUSTER" 2>/dev/null; }

# topologies: the overlays, one per line.
topologies() {
  local d
  for d in "$KIND_DIR"/manifests/overlays/*/; do
    basename "$d"
  done
}
is_topology() { [ -n "${1:-}" ] && [ -f "$KIND_DIR/manifests/overlays/$1/kustomization.yaml" ]; }

# The topology deployed now (apply records it on the namespace).
current_topology() {
  k get namespace "$NS" -o jsonpath='{.metadata.annotations.relaylab\.dev/topology}' 2>/dev/null || true
}

# seconds DURATION: "300s" / "5m" / "1h" / "90" -> seconds.
seconds() {
  local d=$1
  case $d in
    *h) echo $((${d%h} * 3600)) ;;
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}

# retry ATTEMPTS PAUSE CMD...: run CMD until it succeeds, at most ATTEMPTS times.
retry() {
  local attempts=$1 pause=$2 i=1
  shift 2
  while [ "$i" -le "$attempts" ]; do
    if "$@"; then
      return 0
    fi
    [ "$i" -lt "$attempts" ] && sleep "$pause"
    i=$((i + 1))
  done
  return 1
}

# wait_until SECONDS WHAT CMD...: poll CMD every second until it succeeds or SECONDS pass.
wait_until() {
  local limit=$1 what=$2 start
  shift 2
  start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      log "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

# A bound wait_until could not read (1m30s, 5min) would make every wait_until endless: its
# test fails on a non-number, so it never times out.
[[ $WAIT =~ ^[0-9]+[smh]$ ]] ||
  usage_error "KIND_WAIT_TIMEOUT=${KIND_WAIT_TIMEOUT:-}: a number of seconds, or one with s, m or h (300s, 5m, 1h)"

# ---------------------------------------------------------------- members by index

# pods_of LABEL: the pods with app.kubernetes.io/name=LABEL that are not terminating,
# sorted by name.
pods_of() {
  kn get pods -l "app.kubernetes.io/name=$1" --sort-by=.metadata.name --no-headers \
    -o custom-columns=NAME:.metadata.name,DELETING:.metadata.deletionTimestamp |
    awk '$2 == "<none>" { print $1 }'
}

# member ROLE N: the pod of member N (1-based, the order `lab status` shows): app N is
# the N-th app pod by name, relay N the N-th relay pod, mongo N is mongo-(N-1). Exits 2
# when there is no such member.
member() {
  local role=$1 n=$2 label pods count
  case $role in
    app) label=fakeapp ;;
    relay) label=relay ;;
    mongo)
      kn get pod "mongo-$((n - 1))" -o name >/dev/null 2>&1 || usage_error "MongoDB has no member $n"
      echo "mongo-$((n - 1))"
      return 0
      ;;
  esac
  pods=$(pods_of "$label")
  count=$(printf '%s' "$pods" | grep -c . || true)
  [ "$count" -gt 0 ] || usage_error "this topology has no $role"
  [ "$n" -le "$count" ] || usage_error "there are ${role}s 1..$count, not $n"
  printf '%s\n' "$pods" | sed -n "${n}p"
}

# pod_node POD: the kind node (a Docker container) the pod runs on.
pod_node() { kn get pod "$1" -o jsonpath='{.spec.nodeName}'; }

# container_pid POD CONTAINER: the main process of the container as the node sees it.
# Signals are sent from the node because the program is PID 1 of its container, which
# ignores SIGSTOP/SIGKILL sent from inside its own PID namespace (and the images have no
# tools to send them with).
container_pid() {
  local pod=$1 container=$2 node cid pid
  node=$(pod_node "$pod")
  cid=$(kn get pod "$pod" -o jsonpath="{.status.containerStatuses[?(@.name==\"$container\")].containerID}")
  cid=${cid#*://}
  if [ -z "$node" ] || [ -z "$cid" ]; then
    die "pod $pod has no running container $container"
  fi
  pid=$(docker exec "$node" crictl inspect --output go-template --template '{{.info.pid}}' "$cid")
  [[ $pid =~ ^[0-9]+$ ]] || die "could not find the process of $pod/$container"
  echo "$pid"
}

# sandbox_pid POD NODE: the pod sandbox's (pause container's) process on NODE, whose network
# namespace the pod's containers share. It lives as long as the pod, so a partition applied
# through it survives container restarts and can always be healed. `.info.pid` is the CRI
# plugin's verbose SandboxInfo, the same field in containerd 1.7 and 2.x.
sandbox_pid() {
  local pod=$1 node=$2 id pid
  id=$(docker exec "$node" crictl pods --name "$pod" --namespace "$NS" --state ready -q | head -n 1)
  [ -n "$id" ] || die "no ready sandbox for pod $pod on $node"
  pid=$(docker exec "$node" crictl inspectp --output go-template --template '{{.info.pid}}' "$id")
  [[ $pid =~ ^[0-9]+$ ]] || die "could not find the sandbox process of $pod"
  echo "$pid"
}

# ---------------------------------------------------------------- partition rules
# A partition is one sh script run in the pod's network namespace (fault's netns_run: one
# docker exec), built here: its rules take hold together, at the fault's time. (Run as one
# iptables call each, every call looked the node and the sandbox up again through kubectl
# and docker exec: the cut came seconds after the fault was logged, part of a short
# partition.) The pod's own chains RELAYLAB-IN/OUT are filled first and hooked into INPUT
# and OUTPUT last; heal_rules removes them whichever script made them.
# tests/e2e/kind_partition.sh runs these scripts in network namespaces.

# is_ipv4 ADDR: a dotted IPv4 address (what goes into a rule is checked, never quoted).
is_ipv4() { [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; }

rules_start() {
  cat <<'EOF'
set -e
ipt() { iptables -w 5 "$@"; }
ipt -N RELAYLAB-IN 2>/dev/null || ipt -F RELAYLAB-IN
ipt -N RELAYLAB-OUT 2>/dev/null || ipt -F RELAYLAB-OUT
EOF
}
rules_hook() {
  cat <<'EOF'
ipt -C INPUT -j RELAYLAB-IN 2>/dev/null || ipt -I INPUT 1 -j RELAYLAB-IN
ipt -C OUTPUT -j RELAYLAB-OUT 2>/dev/null || ipt -I OUTPUT 1 -j RELAYLAB-OUT
EOF
}

# partition_rules ADDR...: drop everything but loopback and ADDR (the pod's node, for
# kubelet's probes), both directions, open connections too. 1 on an address that is not one.
partition_rules() {
  local a
  for a in "$@"; do is_ipv4 "$a" || return 1; done
  rules_start
  echo 'ipt -A RELAYLAB-IN -i lo -j RETURN'
  echo 'ipt -A RELAYLAB-OUT -o lo -j RETURN'
  for a in "$@"; do
    echo "ipt -C RELAYLAB-IN -s $a -j RETURN 2>/dev/null || ipt -A RELAYLAB-IN -s $a -j RETURN"
    echo "ipt -C RELAYLAB-OUT -d $a -j RETURN 2>/dev/null || ipt -A RELAYLAB-OUT -d $a -j RETURN"
  done
  echo 'ipt -A RELAYLAB-IN -j DROP'
  echo 'ipt -A RELAYLAB-OUT -j DROP'
  rules_hook
}

# partition_from_rules ADDR...: drop ADDR only (both directions); everything else passes.
partition_from_rules() {
  local a
  [ "$#" -gt 0 ] || return 1
  for a in "$@"; do is_ipv4 "$a" || return 1; done
  rules_start
  for a in "$@"; do
    echo "ipt -A RELAYLAB-IN -s $a -j DROP"
    echo "ipt -A RELAYLAB-OUT -d $a -j DROP"
  done
  rules_hook
}

# heal_rules: unhook and remove both chains (a no-op when there are none); the script fails
# when a RELAYLAB rule is left.
heal_rules() {
  cat <<'EOF'
ipt() { iptables -w 5 "$@"; }
for c in IN OUT; do
  p=INPUT
  [ "$c" = OUT ] && p=OUTPUT
  i=0
  while [ "$i" -lt 10 ] && ipt -D "$p" -j "RELAYLAB-$c" 2>/dev/null; do i=$((i + 1)); done
  ipt -F "RELAYLAB-$c" 2>/dev/null || true
  ipt -X "RELAYLAB-$c" 2>/dev/null || true
done
! ipt -S | grep -q RELAYLAB
EOF
}

# signal ROLE N SIG CONTAINER: send SIG to member N's program from its node.
signal_member() {
  local role=$1 n=$2 sig=$3 container=$4 pod node pid
  pod=$(member "$role" "$n")
  node=$(pod_node "$pod")
  pid=$(container_pid "$pod" "$container")
  log "SIG$sig -> $pod (pid $pid on $node)"
  docker exec "$node" kill -s "$sig" "$pid"
}

# wait_ready POD: bounded wait until POD is Ready.
wait_ready() {
  kn wait --for=condition=Ready "pod/$1" --timeout="$WAIT" >/dev/null || die "pod $1 did not become ready"
}

# mongo_primary SKIP: the primary's host:port as the replica set names it, or nothing;
# pod SKIP ("" for none) is not asked (a cut-off member may still believe it leads).
mongo_primary() {
  local m out
  for m in mongo-0 mongo-1 mongo-2; do
    [ "$m" != "${1:-}" ] || continue
    out=$(kn exec "$m" -c mongo -- mongosh --quiet --eval 'db.hello().primary || ""' 2>/dev/null | tr -d '\r') || continue
    [ -n "$out" ] && { echo "$out"; return 0; }
  done
  return 0
}

# render_app_image FILE IMAGE READY: the rendered manifests in FILE as one JSON List in
# which the apps run IMAGE with the app contract (kind-cluster/app-image.jq says how).
render_app_image() {
  local sleep_hook=false
  if has_sleep_hook; then
    sleep_hook=true
  else
    log "Kubernetes $(server_minor | sed 's/^/1./') has no preStop sleep action (1.30+): your app's pods get no preStop pause"
  fi
  k create --dry-run=client -o json -f "$1" |
    jq --arg image "$2" --arg ready "$3" --argjson sleep_hook "$sleep_hook" -f "$KIND_DIR/app-image.jq"
}

# render_app_count FILE N: the rendered manifests in FILE as one JSON List in which the app
# Deployment has N replicas (lab up --app-count).
render_app_count() {
  k create --dry-run=client -o json -f "$1" |
    jq --argjson n "$2" -f "$KIND_DIR/app-count.jq"
}

# server_minor: the cluster's Kubernetes minor version (31 for v1.31.0), or nothing.
server_minor() {
  k version -o json 2>/dev/null | jq -r '.serverVersion.minor // empty' | tr -dc '0-9'
}

# has_sleep_hook: the cluster takes `lifecycle.preStop.sleep` (beta and on by default from
# Kubernetes 1.30; kind v0.24, the oldest docs/kind.md accepts, defaults to 1.31). An older
# KIND_NODE_IMAGE refuses the field.
has_sleep_hook() {
  local minor
  minor=$(server_minor)
  [ -n "$minor" ] && [ "$minor" -ge 30 ]
}
