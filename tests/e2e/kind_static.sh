#!/usr/bin/env bash
# Static checks of kind-cluster/ (no Docker, no cluster, no network): prints one
# "PASS: name" / "FAIL: name" line per check, "SKIP: name (why)" where a tool or a
# program is missing (tests/run ignores SKIP lines).
#   - yamllint (config .yamllint) on every YAML of kind-cluster/ and .github/
#   - shellcheck on every kind-cluster script
#   - `kubectl kustomize` renders every overlay
#   - tests/e2e/kind/check_manifests.py: the rendered manifests, the kind config and the
#     Dockerfile agree with the programs (ports, paths, env names in --help, libraries)
#     and with each topology (routing, exact Ingress annotations, relays over MongoDB)
#   - tests/e2e/kind/check_cli.py: every kubectl call (k, kn too), docker and kind call of
#     kind-cluster/ and the workflow, against the CLIs' --help: verbs, flags, -o formats and
#     expressions (on sample objects), resource types, wait conditions, containers, labels
#   - tests/e2e/kind/check_lab.py: issue 12's points (ingress-nginx shutdown timeout, image
#     loading, step-down force, restart-relay, partitions that spare probes, the loadgen
#     Job, bash 3.2 in the laptop scripts, the workflow, both clusters' faults, docs)
#   - lab up --app-count N (1..9) on every overlay, with fakeapp and with your image: the
#     app Deployment's replicas and nothing else
# RELAYLAB_ROOT (default: this repo) and RELAYLAB_BIN (default: $root/bin) locate things.
set -uo pipefail

root=${RELAYLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${RELAYLAB_BIN:-$root/bin}
cd "$root" || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }
# check NAME CMD...: PASS/FAIL by exit status; the first lines of output on failure.
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "PASS: $name"
  else
    echo "FAIL: $name"
    sed -n '1,15s/^/    /p' "$tmp/out"
  fi
}

main() {
# --- yamllint
mapfile -t yamls < <(find kind-cluster .github -type f \( -name '*.yaml' -o -name '*.yml' \) 2>/dev/null | sort)
if ! have yamllint; then
  echo "SKIP: yamllint (yamllint not installed)"
elif [ ! -f .yamllint ]; then
  echo "FAIL: yamllint (.yamllint config missing)"
else
  check "yamllint: ${#yamls[@]} files (kind-cluster/, .github/)" yamllint --strict -c .yamllint "${yamls[@]}" .yamllint
fi

# --- shellcheck
mapfile -t scripts < <(find kind-cluster -maxdepth 1 -type f \( -perm -u+x -o -name '*.sh' \) | sort)
if ! have shellcheck; then
  echo "SKIP: shellcheck (shellcheck not installed)"
else
  for s in "${scripts[@]}" tests/e2e/kind_static.sh; do
    check "shellcheck: $s" shellcheck -x -P SCRIPTDIR "$s"
  done
  # Every script is bash with strict mode (the sourced library excepted).
  bad=()
  for s in "${scripts[@]}"; do
    [ "$s" = kind-cluster/lib.sh ] && continue
    head -1 "$s" | grep -qx '#!/usr/bin/env bash' && grep -qx 'set -euo pipefail' "$s" || bad+=("$s")
  done
  if [ ${#bad[@]} -eq 0 ]; then
    echo "PASS: scripts: bash with set -euo pipefail"
  else
    echo "FAIL: scripts: bash with set -euo pipefail: ${bad[*]}"
  fi
fi

# --- kustomize
mkdir -p "$tmp/rendered"
kubectl=${KUBECTL:-kubectl}
if ! have "$kubectl"; then
  echo "SKIP: kustomize (no kubectl on PATH)"
else
  for d in kind-cluster/manifests/overlays/*/; do
    ov=$(basename "$d")
    if "$kubectl" kustomize "$d" >"$tmp/rendered/$ov.yaml" 2>"$tmp/err"; then
      echo "PASS: kustomize: $ov"
    else
      echo "FAIL: kustomize: $ov"
      sed -n '1,10s/^/    /p' "$tmp/err"
      rm -f "$tmp/rendered/$ov.yaml"
    fi
  done
fi

# --- manifests against the programs
py=
for p in python3 /usr/bin/python3; do
  if have "$p" && "$p" -c 'import yaml' 2>/dev/null; then
    py=$p
    break
  fi
done
if [ -z "$py" ]; then
  echo "FAIL: manifest checks (no python3 with PyYAML: apt-get install python3-yaml)"
else
  "$py" tests/e2e/kind/check_manifests.py --root "$root" --bin "$bin" --rendered "$tmp/rendered"
  "$py" tests/e2e/kind/check_lab.py --root "$root"
  "$py" tests/e2e/kind/check_cli.py --root "$root" --rendered "$tmp/rendered"
fi

# --- KIND_WAIT_TIMEOUT bounds kubectl's waits (--timeout: a unit is needed) and lib.sh's
# wait_until (seconds): each value either means the same to both or is refused (exit 2).
bad=()
for spec in 300s:300s:300 90:90s:90 5m:5m:300 1h:1h:3600 2m30s:: 5min:: 10x::; do
  IFS=: read -r in want_wait want_secs <<<"$spec"
  # shellcheck disable=SC2016 # expanded by the inner bash
  got=$(KIND_WAIT_TIMEOUT=$in bash -c 'set -euo pipefail; source kind-cluster/lib.sh; echo "$WAIT:$(seconds "$WAIT")"' 2>/dev/null) && rc=0 || rc=$?
  if [ -n "$want_wait" ]; then
    [ "$rc" = 0 ] && [ "$got" = "$want_wait:$want_secs" ] || bad+=("$in -> '$got' rc $rc")
  else
    [ "$rc" = 2 ] || bad+=("$in accepted as '$got' (rc $rc)")
  fi
done
if [ ${#bad[@]} -eq 0 ]; then
  echo "PASS: KIND_WAIT_TIMEOUT: one bound for kubectl and wait_until, or refused"
else
  echo "FAIL: KIND_WAIT_TIMEOUT: ${bad[*]}"
fi

# --- lab up --app-count N on kind: every overlay as kind-cluster/apply renders it (your
# image first, for every overlay but relay-watch, then the count), for N = 1..9: the app
# Deployment runs N replicas and nothing else in the manifests changes.
if [ -z "$py" ] || ! have jq; then
  echo "SKIP: app count on kind (no python3 with PyYAML, or no jq)"
else
  for f in "$tmp"/rendered/*.yaml; do
    [ -e "$f" ] || continue
    ov=$(basename "$f" .yaml)
    "$py" -c 'import json, sys, yaml; print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [d for d in yaml.safe_load_all(sys.stdin) if d]}))' \
      <"$f" >"$tmp/$ov.json"
    if [ "$ov" != relay-watch ]; then
      jq --arg image myorg/app:1 --arg ready /healthz --argjson sleep_hook true -f kind-cluster/app-image.jq \
        "$tmp/$ov.json" >"$tmp/$ov-byo.json"
    fi
    bad=()
    for n in 1 2 3 4 5 6 7 8 9; do
      for base in "$tmp/$ov.json" "$tmp/$ov-byo.json"; do
        [ -s "$base" ] || continue
        jq --argjson n "$n" -f kind-cluster/app-count.jq "$base" >"$tmp/count.json" 2>"$tmp/err" &&
          jq -e --argjson n "$n" --slurpfile want "$base" '
            def app: .kind == "Deployment" and .metadata.name == "app";
            [.items[] | select(app) | .spec.replicas] == [$n]
            and ([.items[] | if app then del(.spec.replicas) else . end])
              == ([$want[0].items[] | if app then del(.spec.replicas) else . end])' \
            "$tmp/count.json" >/dev/null 2>>"$tmp/err" || bad+=("$n$( [ "$base" = "$tmp/$ov.json" ] || echo ' (your image)')")
      done
    done
    if [ ${#bad[@]} -eq 0 ]; then
      echo "PASS: app count on kind: $ov with 1..9 apps"
    else
      echo "FAIL: app count on kind: $ov with ${bad[*]} apps"
      sed -n '1,5s/^/    /p' "$tmp/err"
    fi
  done
fi
}

main | tee "$tmp/log"
! grep -q '^FAIL: ' "$tmp/log"
