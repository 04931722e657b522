#!/usr/bin/env bash
# Relays without a single point of failure: three clustered relays, the leader killed with
# SIGKILL in the middle of a stream of emits; no acknowledged event may be lost, duplicated
# or reordered for any client, and the killed relay must rejoin as a follower in sync.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

base=$(e2e_port_base 6)
peers="127.0.0.1:$base:$((base + 1)),127.0.0.1:$((base + 2)):$((base + 3)),127.0.0.1:$((base + 4)):$((base + 5))"
start_member() { # ID
  local i=$1
  start_bg "relay$i" "$RELAYLAB_BIN/relay" --bind 127.0.0.1 --ws-port $((base + 2 * i)) \
    --http-port $((base + 2 * i + 1)) --peers "$peers" --id "$i" --election-interval 100ms
}
cluster_field() { # ID JQ
  curl -fsS --max-time 1 "http://127.0.0.1:$((base + 2 * $1 + 1))/cluster" 2>/dev/null | jq -r "$2" 2>/dev/null || true
}
for i in 0 1 2; do start_member "$i"; done
ok=1
for _ in $(seq 100); do
  if [ "$(cluster_field 0 .role)" = leader ] && [ "$(cluster_field 1 .synced)" = true ] &&
    [ "$(cluster_field 2 .synced)" = true ] && [ "$(cluster_field 0 .replicas)" = 2 ]; then
    ok=0
    break
  fi
  sleep 0.1
done
expect ha_cluster_forms "$ok" "roles: $(cluster_field 0 .role)/$(cluster_field 1 .role)/$(cluster_field 2 .role)"
[ "$ok" -eq 0 ] || exit 1
if curl -fsS "http://127.0.0.1:$((base + 1))/readyz" >/dev/null; then pass ha_leader_ready; else fail ha_leader_ready; fi

"$RELAYLAB_BUILD/tests/e2e/relay_ha" "$base" $((base + 1)) $((base + 2)) $((base + 3)) \
  $((base + 4)) $((base + 5)) "$E2E_TMP/relay0.pid" "${HA_EVENTS:-300}" "${HA_CLIENTS:-60}" || true

new_leader=$(cluster_field 1 .leader)
expect ha_new_leader_elected "$([ "$new_leader" = 1 ] || [ "$new_leader" = 2 ] && echo 0 || echo 1)" "leader=$new_leader"

# The killed relay comes back empty, with a new random epoch: it must follow, not lead.
start_member 0
ok=1
for _ in $(seq 100); do
  if [ "$(cluster_field 0 .role)" = follower ] && [ "$(cluster_field 0 .synced)" = true ]; then
    ok=0
    break
  fi
  sleep 0.1
done
want=$(cluster_field "$new_leader" .offset)
have=$(cluster_field 0 .offset)
expect ha_restarted_relay_rejoins_as_follower "$ok" "role $(cluster_field 0 .role), synced $(cluster_field 0 .synced)"
expect ha_restarted_relay_has_the_history "$([ "$have" = "$want" ] && echo 0 || echo 1)" "offset $have, leader $want"
exit "$E2E_FAILS"
