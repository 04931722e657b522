# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables here are used by the scripts that source it
# Shared by the kind-cluster scripts (sourced, not run). Every kubectl call goes through
# k/kn, pinned to the kind cluster's own context, so a user's other clusters are never
# touched whatever their current context is.

KIND_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$KIND_DIR/.." && pwd)
CLUSTER=${RELAYLAB_KIND_CLUSTER:-relaylab}
CONTEXT=kind-$CLUSTER
NS=relaylab
# Bound on every wait (kubectl duration syntax).
WAIT=${KIND_WAIT_TIMEOUT:-300s}

# ingress-nginx was retired upstream in March 2026 (no releases after that). Pin the
# last controller release whose kind provider manifest we use; see docs/kind.md.
INGRESS_NGINX_VERSION=${INGRESS_NGINX_VERSION:-controller-v1.15.1}
INGRESS_NGINX_MANIFEST=${INGRESS_NGINX_MANIFEST:-https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/kind/deploy.yaml}
# Envoy Gateway, the Gateway API implementation for the gateway-api overlay.
ENVOY_GATEWAY_VERSION=${ENVOY_GATEWAY_VERSION:-v1.8.1}
ENVOY_GATEWAY_MANIFEST=${ENVOY_GATEWAY_MANIFEST:-https://github.com/envoyproxy/gateway/releases/download/$ENVOY_GATEWAY_VERSION/install.yaml}

# Images the manifests run; kind-cluster/load-images builds and loads them.
IMAGE_TAG=dev
PROGRAM_IMAGES=(relay fakeapp loadgen mongosim)

log() { printf '%s kind-cluster: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# need TOOL...: fail early, with a pointer to the docs, when a tool is missing.
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found on PATH (see docs/kind.md, Requirements)"
  done
}

k() { kubectl --context "$CONTEXT" "$@"; }
kn() { kubectl --context "$CONTEXT" -n "$NS" "$@"; }

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; }
require_cluster() {
  need kind kubectl
  cluster_exists || die "no kind cluster '$CLUSTER': run kind-cluster/up first"
}

# topologies: the overlays, one per line.
topologies() {
  local d
  for d in "$KIND_DIR"/manifests/overlays/*/; do
    basename "$d"
  done
}
is_topology() { [ -n "${1:-}" ] && [ -f "$KIND_DIR/manifests/overlays/$1/kustomization.yaml" ]; }

# seconds DURATION: "300s" / "5m" / "90" -> seconds.
seconds() {
  local d=$1
  case $d in
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}

# retry ATTEMPTS PAUSE CMD...: run CMD until it succeeds, at most ATTEMPTS times.
retry() {
  local attempts=$1 pause=$2 i
  shift 2
  for ((i = 1; i <= attempts; i++)); do
    if "$@"; then
      return 0
    fi
    [ "$i" -lt "$attempts" ] && sleep "$pause"
  done
  return 1
}

# wait_until SECONDS WHAT CMD...: poll CMD every 2s until it succeeds or SECONDS pass.
wait_until() {
  local limit=$1 what=$2 start
  shift 2
  start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      log "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 2
  done
}

# relay_cluster POD: a relay member's GET /cluster (intake port 8081) through the API
# server's pod proxy: the relay image has no curl, and no port-forward is left running.
relay_cluster() {
  k get --raw "/api/v1/namespaces/$NS/pods/$1:8081/proxy/cluster" --request-timeout=3s 2>/dev/null
}

# app_pod N|NAME: the N-th running app pod (1-based, sorted by name), or NAME itself.
app_pod() {
  local want=$1 pods
  if [[ $want =~ ^[0-9]+$ ]]; then
    pods=$(kn get pods -l app.kubernetes.io/name=fakeapp --field-selector=status.phase=Running \
      --sort-by=.metadata.name -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
    [ "$want" -ge 1 ] || die "app index starts at 1"
    sed -n "${want}p" <<<"$pods" | grep . || die "no running app pod #$want (have: $(tr '\n' ' ' <<<"$pods"))"
  else
    kn get pod "$want" -o name >/dev/null || die "no pod $want"
    echo "$want"
  fi
}
