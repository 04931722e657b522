# Shared helpers for end-to-end tests (sourced). Every process started with start_bg is
# recorded and stopped on exit; every wait is bounded.
# shellcheck shell=bash

RELAYLAB_ROOT=${RELAYLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RELAYLAB_BIN=${RELAYLAB_BIN:-$RELAYLAB_ROOT/bin}
RELAYLAB_BUILD=${RELAYLAB_BUILD:-$RELAYLAB_ROOT/build/default}
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/relaylab-e2e.XXXXXX")
E2E_PIDS=()
E2E_FAILS=0

e2e_cleanup() {
  local p
  for p in "${E2E_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${E2E_PIDS[@]}"; do
    timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true
  done
  # A server that crashed, leaked or hit undefined behaviour under the sanitizers fails the test.
  local log
  for log in "$E2E_TMP"/*.log; do
    [ -f "$log" ] || continue
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
      fail "sanitizer_clean_$(basename "$log" .log)" "see $log"
    fi
  done
  if [ "$E2E_FAILS" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then
    rm -rf "$E2E_TMP"
  else
    echo "info: logs kept in $E2E_TMP"
  fi
}
trap e2e_cleanup EXIT

# shellcheck source=tests/e2e/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# start_bg NAME CMD...: runs CMD in the background, logs to $E2E_TMP/NAME.log, pid in NAME.pid.
start_bg() {
  local name=$1
  shift
  "$@" >"$E2E_TMP/$name.log" 2>&1 &
  local pid=$!
  E2E_PIDS+=("$pid")
  echo "$pid" >"$E2E_TMP/$name.pid"
}

# wait_http URL [SECONDS]: waits until URL answers 2xx.
wait_http() {
  local url=$1 t=${2:-10} i
  for ((i = 0; i < t * 20; i++)); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# nginx_conf_head DIR CONNECTIONS: prints the start of a test nginx.conf (through the http
# block's upgrade map; pid, logs and temp files under DIR and DIR/tmp, which the caller
# creates); the caller adds its upstreams, servers and the closing brace.
nginx_conf_head() {
  local d=$1 conns=$2
  cat <<CONF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $conns; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
CONF
}

pass() { echo "PASS: $1"; }
fail() {
  echo "FAIL: $1${2:+: $2}"
  E2E_FAILS=$((E2E_FAILS + 1))
}
# need_node NAME DIR PKG: node and DIR's npm package PKG (make deps) must be there, else the
# check NAME fails and the test ends.
need_node() {
  if ! command -v node >/dev/null || [ ! -d "$2/node_modules/$3" ]; then
    fail "$1" "node and the npm packages of ${2#"$RELAYLAB_ROOT"/} are needed (make deps)"
    exit 1
  fi
}
# wait_exit PID SECONDS: waits until PID has exited, at most SECONDS; returns timeout's
# status (124 when it had not). It looks every 50 ms: tail --pid alone looks once a second,
# so a time taken around it is rounded up to the next whole second after its start (a
# shutdown of 1.03 s read 2.04 s).
wait_exit() { timeout "$2" tail -s 0.05 --pid="$1" -f /dev/null; }
# wait_relay_clients PORT N SECONDS: waits (bounded; no failure) until the relay whose
# intake listens on PORT counts N clients on /readyz.
wait_relay_clients() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    curl -fsS --max-time 1 "http://127.0.0.1:$1/readyz" 2>/dev/null | grep -q "\"clients\":$2[,}]" && return 0
    sleep 0.05
  done
  return 0
}
# need_built NAME FILE...: every FILE (a program, or a name under $RELAYLAB_BIN) must be
# built (make test builds them first), else the check NAME fails and the test ends: a test
# that cannot run is a failure, never a silent pass.
need_built() {
  local name=$1 f
  shift
  for f in "$@"; do
    [[ $f == */* ]] || f=$RELAYLAB_BIN/$f
    if [ ! -x "$f" ]; then
      fail "$name" "$f is not built (make all)"
      exit 1
    fi
  done
}
# expect NAME CONDITION_EXIT_STATUS [WHY]
expect() {
  if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${3:-}"; fi
}

# closes_check NAME HTTP_PORT REASON MIN [REASON MIN...]: the relay counted at least MIN
# closes for each REASON in ws_client_closes_total, and its reasons add up to
# ws_connections_total - ws_clients. (The page is not one snapshot: a close between two
# series is read again.)
closes_check() {
  local name=$1 port=$2 m="" sum conns now try n
  shift 2
  for try in 1 2 3; do
    m=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" || true)
    sum=$(awk '$1 ~ /^ws_client_closes_total\{/ {t += $2} END {print t + 0}' <<<"$m")
    conns=$(awk '$1 == "ws_connections_total" {print $2}' <<<"$m")
    now=$(awk '$1 == "ws_clients" {print $2}' <<<"$m")
    [ -n "$conns" ] && [ -n "$now" ] && [ "$sum" -eq $((conns - now)) ] && break
    sleep 0.2
  done
  while [ $# -ge 2 ]; do
    n=$(awk -v s="ws_client_closes_total{reason=\"$1\"}" '$1 == s {print $2}' <<<"$m")
    expect "closes_${name}_$1" "$([ "${n:-0}" -ge "$2" ] && echo 0 || echo 1)" \
      "ws_client_closes_total{reason=\"$1\"}=${n:-none}, want at least $2"
    shift 2
  done
  expect "closes_${name}_add_up" "$([ -n "$conns" ] && [ -n "$now" ] && [ "$sum" -eq $((conns - now)) ] && echo 0 || echo 1)" \
    "reasons sum to $sum, ws_connections_total ${conns:-none} - ws_clients ${now:-none}"
}
