#!/usr/bin/env bash
# The programs built on libwebsockets fit their descriptor limit to their need (fdlimit.h):
# Debian's lws walks a table as long as the soft limit on every close, so a container's 2^20
# would cost about a millisecond per closed connection. Checked on the running processes
# (/proc/PID/limits): the relay lowered to 2 x --max-clients + 1,100 from a high soft limit
# and raised to it from a low one (never past the hard limit); loadgen to its clients + 1,100.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

need_built fd_limits_prerequisites relay loadgen
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
if [ "$hard" -lt 4000 ]; then
  echo "SKIP: fd_limits (hard limit $hard: too low to see a change)"
  exit 0
fi
soft_of() { awk '/^Max open files/ {print $4}' "/proc/$1/limits" 2>/dev/null || echo missing; }
base=$(e2e_port_base 6)

# relay_soft SOFT MAXCLIENTS PORTOFFSET: sets got to the relay's soft limit once it serves.
relay_soft() {
  local pid
  (ulimit -Sn "$1" && exec "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + $3)) \
    --http-port $((base + $3 + 1)) --max-clients "$2" --log-level warn) >"$E2E_TMP/relay-$1.log" 2>&1 &
  pid=$!
  E2E_PIDS+=("$pid")
  got="not up"
  wait_http "http://127.0.0.1:$((base + $3 + 1))/healthz" 10 && got=$(soft_of "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

relay_soft "$hard" 500 0
expect fd_limits_relay_lowered "$([ "$got" = 2100 ] && echo 0 || echo 1)" \
  "soft limit $got with --max-clients 500 started at $hard, want 2100"
low=$((hard < 6100 ? hard : 6100))
relay_soft 1024 2500 2
expect fd_limits_relay_raised "$([ "$got" = "$low" ] && echo 0 || echo 1)" \
  "soft limit $got with --max-clients 2500 started at 1024, want $low"
relay_soft 1024 "$hard" 4
expect fd_limits_relay_capped_at_hard "$([ "$got" = "$hard" ] && echo 0 || echo 1)" \
  "soft limit $got with --max-clients $hard, want the hard limit $hard"

# loadgen with 7 clients against a relay that is up: its limit while it runs.
start_bg relay "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) --log-level warn
wait_http "http://127.0.0.1:$((base + 1))/healthz" 10 || { fail relay_start "see $E2E_TMP/relay.log"; exit 1; }
"$RELAYLAB_BIN/loadgen" run --target "http://127.0.0.1:$((base + 1))" --ws-target "ws://127.0.0.1:$base" \
  --clients 7 --rate 0 --duration 3s --settle 0s --warmup 10s --progress=false \
  --json "$E2E_TMP/lg.json" >"$E2E_TMP/lg.out" 2>&1 &
lg=$!
E2E_PIDS+=("$lg")
got=missing
for ((i = 0; i < 40; i++)); do
  got=$(soft_of "$lg")
  [ "$got" = 1107 ] && break
  sleep 0.05
done
expect fd_limits_loadgen "$([ "$got" = 1107 ] && echo 0 || echo 1)" "loadgen soft limit $got with 7 clients, want 1107"
wait "$lg" 2>/dev/null || true
exit "$E2E_FAILS"
