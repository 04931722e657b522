#!/usr/bin/env bash
# kind's partition faults run one sh script in the pod's network namespace (kind-cluster/
# lib.sh: partition_rules, partition_from_rules, heal_rules; kind-cluster/fault pipes them
# into `docker exec -i NODE nsenter -t PID -n sh -s`). No kind here, but the scripts are
# plain sh and iptables: run them in a network namespace of our own, a "pod" joined to this
# one by a veth pair, and see what reaches it. A connect to a closed port of the pod answers
# "refused" when it gets through both ways (SYN in, RST out) and times out when dropped.
#   NET.1  "the node": spared by partition-*, the kubelet's probes come from it
#   NET.3  "a peer":   cut by partition-* and by partition-mongo-peers' rules
# Needs root, ip netns and iptables (else SKIP lines).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kind-cluster/lib.sh
source "$RELAYLAB_ROOT/kind-cluster/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v iptables >/dev/null; then
  echo "SKIP: kind_partition (needs root, ip and iptables)"
  exit 0
fi
ns=rlk$$
host_if=rlk$$h
# 198.18.0.0/15 is for network tests (RFC 2544): no one's real network is shadowed meanwhile.
net=198.18.$(($$ % 250))
ip netns add "$ns" 2>/dev/null || { echo "SKIP: kind_partition (ip netns add refused)"; exit 0; }
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup_ns() {
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
}
trap 'cleanup_ns; e2e_cleanup' EXIT
ip link add "$host_if" type veth peer name eth0 netns "$ns"
ip addr add "$net.1/24" dev "$host_if"
ip addr add "$net.3/24" dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add "$net.2/24" dev eth0
ip netns exec "$ns" ip link set eth0 up
ip netns exec "$ns" ip link set lo up

# reach SRC DST: "refused" (got through both ways), "timeout" (dropped) or the error.
reach() {
  python3 - "$@" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1.0)
try:
    s.bind((sys.argv[1], 0))
    s.connect((sys.argv[2], 9))
    print("open")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.strerror or str(e))
EOF
}
# in_pod CMD...: CMD in the pod's namespace.
in_pod() { ip netns exec "$ns" "$@"; }
# apply RULES_FUNCTION ARGS...: the script as kind-cluster/fault builds it, run by sh in the
# pod's namespace, as netns_run does on the node.
apply() {
  local rules
  rules=$("$@") || return 1
  printf '%s\n' "$rules" | in_pod sh -s
}
rules_count() { in_pod iptables -w 5 -S | grep -c RELAYLAB || true; }
node=$net.1 peer=$net.3 pod=$net.2

before="node $(reach "$node" "$pod"), peer $(reach "$peer" "$pod")"
expect setup_both_reach "$([ "$before" = "node refused, peer refused" ] && echo 0 || echo 1)" "$before"

# partition-app/-relay/-mongo: everything but loopback and the node.
apply partition_rules "$node" "$node"
now="node $(reach "$node" "$pod"), peer $(reach "$peer" "$pod"), loopback $(in_pod bash -c "$(declare -f reach); reach 127.0.0.1 127.0.0.1")"
expect partition_spares_node_and_loopback "$([ "$now" = "node refused, peer timeout, loopback refused" ] && echo 0 || echo 1)" "$now"
out=$(in_pod bash -c "$(declare -f reach); reach $pod $peer")
expect partition_drops_outgoing "$([ "$out" = timeout ] && echo 0 || echo 1)" "pod -> peer: $out"
n1=$(rules_count)
apply partition_rules "$node" "$node"
n2=$(rules_count)
expect partition_twice_same_rules "$([ "$n1" = "$n2" ] && [ "$n1" -gt 0 ] && echo 0 || echo 1)" "$n1 then $n2 RELAYLAB rules"
expect partition_refuses_non_address "$(apply partition_rules "$node" '1.2.3.4;true' >/dev/null 2>&1 && echo 1 || echo 0)" \
  "partition_rules took '1.2.3.4;true'"

# heal-*: the chains go, the peer gets through again.
rc=0
apply heal_rules || rc=$?
after="rc $rc, $(rules_count) rules, peer $(reach "$peer" "$pod")"
expect heal_removes_everything "$([ "$after" = "rc 0, 0 rules, peer refused" ] && echo 0 || echo 1)" "$after"
rc=0
apply heal_rules || rc=$?
expect heal_without_partition_ok "$rc" "heal with no chains exited $rc"

# partition-mongo-peers: the peers' addresses only; the node (and every client) still reach it.
apply partition_from_rules "$peer"
now="node $(reach "$node" "$pod"), peer $(reach "$peer" "$pod")"
expect peers_cut_only_peers "$([ "$now" = "node refused, peer timeout" ] && echo 0 || echo 1)" "$now"
# shellcheck disable=SC2119 # no arguments, on purpose
expect peers_needs_an_address "$(partition_from_rules >/dev/null 2>&1 && echo 1 || echo 0)" "no address accepted"
apply heal_rules
now="peer $(reach "$peer" "$pod"), $(rules_count) rules"
expect peers_healed "$([ "$now" = "peer refused, 0 rules" ] && echo 0 || echo 1)" "$now"

# A heal that cannot remove a rule says so (the fault dies on it): a RELAYLAB rule of
# another chain is left.
in_pod iptables -w 5 -A INPUT -s "$peer" -m comment --comment RELAYLAB-stray -j DROP
rc=0
apply heal_rules || rc=$?
expect heal_fails_when_rules_left "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "heal exited $rc with a rule left"
exit "$E2E_FAILS"
