# shellcheck shell=bash
# lab/portable.sh — small helpers for the scripts that run on a laptop (lab/lab, chaos/,
# kind-cluster/, scripts/demo) and therefore on macOS's bash 3.2 and BSD tools: no GNU
# `timeout`, no `tail --pid`, no `date +%N`. Sourced.

# lab_now: seconds since the epoch with a fractional part.
lab_now() {
  local ns
  ns=$(date +%s%N 2>/dev/null) # bash32-ok: GNU date is probed here, BSD date falls back below
  case $ns in
    *[!0-9]* | "") ;;
    *) printf '%s.%s\n' "${ns%?????????}" "$(printf '%s' "$ns" | tail -c 9 | cut -c1-3)"; return 0 ;;
  esac
  if command -v perl >/dev/null 2>&1; then
    perl -MTime::HiRes=time -e 'printf "%.3f\n", time'
  else
    echo "$(date +%s).000"
  fi
}

# lab_after A B: exit status 0 when time A is later than time B (decimal seconds).
lab_after() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# lab_alive PID: the process exists (any process, not only our children).
lab_alive() { kill -0 "$1" 2>/dev/null; }

# lab_wait_pid PID SECONDS: bounded wait for a process to end (child or not). 0 when it
# ended, 1 when it is still there after SECONDS.
lab_wait_pid() {
  local pid=$1 n=0 limit
  limit=$(awk -v s="$2" 'BEGIN { printf "%d", s * 5 }')
  while lab_alive "$pid"; do
    [ "$n" -ge "$limit" ] && return 1
    sleep 0.2
    n=$((n + 1))
  done
  return 0
}

# lab_stop_pid PID [SECONDS]: SIGTERM, a bounded wait, then SIGKILL.
lab_stop_pid() {
  local pid=$1
  lab_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  lab_wait_pid "$pid" "${2:-10}" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  lab_wait_pid "$pid" 5 || true
}

# lab_bounded SECONDS CMD...: runs CMD, stopping it (SIGTERM, then SIGKILL) when it takes
# longer than SECONDS. Returns CMD's exit status, or 124 when it was stopped. The stand-in
# for GNU timeout, which macOS lacks.
lab_bounded() {
  local secs=$1 pid rc=0 n=0 limit
  shift
  "$@" &
  pid=$!
  limit=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 5 }')
  while lab_alive "$pid"; do
    if [ "$n" -ge "$limit" ]; then
      lab_stop_pid "$pid" 5
      wait "$pid" 2>/dev/null || true
      return 124
    fi
    sleep 0.2
    n=$((n + 1))
  done
  wait "$pid" || rc=$?
  return "$rc"
}
