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
#   - tests/e2e/kind/check_lab.py: issue 12's points (ingress-nginx shutdown timeout, image
#     loading, step-down force, restart-relay, partitions that spare probes, the loadgen
#     Job, bash 3.2 in the laptop scripts, the workflow, both clusters' faults, docs)
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
fi
}

main | tee "$tmp/log"
! grep -q '^FAIL: ' "$tmp/log"
