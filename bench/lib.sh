# Shared set-up of the bench/*.sh scripts (sourced after `cd` to the repository root):
# program locations, free ports, the fd limit, a temp dir, and every background process
# recorded in pids and stopped on exit.
# shellcheck shell=bash
BIN=${BIN:-bin}
BUILD=${BUILD:-build/default}
# shellcheck source=tests/e2e/ports.sh
source tests/e2e/ports.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
