#!/usr/bin/env bash
# tests/e2e/ports.sh's reservations, which keep tests running side by side (tests/run,
# E2E_JOBS) off each other's ports: a block is held by one shell at a time, a live holder
# keeps it, and a block whose holder has exited goes to exactly one of the shells that race
# for it (each used to remove the dead holder's directory and make its own: several won).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

export E2E_PORT_LOCKS=$E2E_TMP/locks
mkdir -p "$E2E_PORT_LOCKS"
ports=$RELAYLAB_ROOT/tests/e2e/ports.sh

# take BLOCK: in a shell of its own (its own $$), tries to reserve BLOCK; prints "got PID"
# when it did, then holds it (stays alive) until $E2E_TMP/release exists.
take() {
  bash -c 'source "$1"; if e2e_port_lock "$2"; then echo "got $$"; fi
    while [ ! -e "$3" ]; do sleep 0.05; done' _ "$ports" "$1" "$E2E_TMP/release"
}

# A dead holder: a shell that has exited.
bash -c 'exit 0' &
dead=$!
wait "$dead"

# 16 shells race for each of 10 blocks left by the dead one.
winners=""
for round in $(seq 1 10); do
  b=$((700 + round))
  mkdir "$E2E_PORT_LOCKS/$b"
  echo "$dead" >"$E2E_PORT_LOCKS/$b/pid"
  rm -f "$E2E_TMP/release"
  out=$E2E_TMP/race-$round
  : >"$out"
  for i in $(seq 1 16); do take "$b" >>"$out" & done
  # Every racer has had its try once each has printed or given up: wait for the winners'
  # lines to settle, then release them all.
  sleep 1
  n=$(grep -c '^got ' "$out" || true)
  holder=$(cat "$E2E_PORT_LOCKS/$b/pid" 2>/dev/null || true)
  if [ "$n" -eq 1 ] && [ "got $holder" = "$(cat "$out")" ]; then ok=1; else ok=0; fi
  winners="$winners $n$([ "$ok" -eq 1 ] || echo '!')"
  touch "$E2E_TMP/release"
  wait
done
echo "    winners per round:$winners"
expect one_shell_takes_over_a_dead_holders_block "$(grep -q '!' <<<"$winners" && echo 1 || echo 0)" \
  "rounds with other than one winner (or a winner not in the pid file):$winners"

# A live holder keeps its block; once it has gone, the block can be taken.
rm -f "$E2E_TMP/release"
take 800 >"$E2E_TMP/first" &
first=$!
for _ in $(seq 1 100); do grep -q '^got ' "$E2E_TMP/first" && break; sleep 0.05; done
second=$(bash -c 'source "$1"; e2e_port_lock 800 && echo got || echo refused' _ "$ports")
expect a_live_holder_keeps_its_block "$([ "$second" = refused ] && grep -q '^got ' "$E2E_TMP/first" && echo 0 || echo 1)" \
  "first: $(cat "$E2E_TMP/first"), second: $second"
touch "$E2E_TMP/release"
wait "$first"
third=$(bash -c 'source "$1"; e2e_port_lock 800 && echo got || echo refused' _ "$ports")
expect a_block_is_free_once_its_holder_has_gone "$([ "$third" = got ] && echo 0 || echo 1)" "$third"

# A block being made (no pid written yet) is held: its maker is between mkdir and echo.
mkdir "$E2E_PORT_LOCKS/801"
fourth=$(bash -c 'source "$1"; e2e_port_lock 801 && echo got || echo refused' _ "$ports")
expect a_block_without_a_pid_yet_is_held "$([ "$fourth" = refused ] && echo 0 || echo 1)" "$fourth"

# This shell holds a block once: asked again, it is refused (two clusters of one test).
first_self=$(e2e_port_lock 802 && echo got || echo refused)
again=$(e2e_port_lock 802 && echo got || echo refused)
expect a_shell_gets_a_block_once "$([ "$first_self" = got ] && [ "$again" = refused ] && echo 0 || echo 1)" \
  "$first_self then $again"
[ "$E2E_FAILS" -eq 0 ]
