# shellcheck shell=bash
# local-cluster/relay.sh — the relay's command line, in one place (sourced by up).
#
# relay_argv TOPOLOGY N: sets RELAY_ARGV to the command that starts relay N (1-based) of
# the topology. `relay` runs one in-memory relay (the seed's fix, a single point of
# failure). `relay-ha` runs three relays serving one stream, by CLUSTER_RELAY_HA:
#   peers  the relay's own leader election and replication (--peers, --id)
#   mongo  stateless relays over the cluster's MongoDB replica set (--mongo-uri, db relay;
#          issue 10). To make it the default, change "peers" below to "mongo".
# Every relay listens on 127.0.0.1 (ws port for clients through the ingress, intake port
# for the apps, which reach relay-ha's relays through the intake proxy).

RELAY_HA_BACKEND=${CLUSTER_RELAY_HA:-peers}

relay_argv() {
  local topo=$1 n=$2 r peers=""
  RELAY_ARGV=("$BIN/relay" --bind 127.0.0.1 --ws-port "$(relay_ws_port "$n")"
    --http-port "$(relay_http_port "$n")" --token "$(state_get relay_token)" --log-level warn)
  [ "$topo" = relay-ha ] || return 0
  case $RELAY_HA_BACKEND in
    peers)
      for ((r = 1; r <= $(relay_count "$topo"); r++)); do
        peers+="${peers:+,}127.0.0.1:$(relay_ws_port "$r"):$(relay_http_port "$r")"
      done
      RELAY_ARGV+=(--peers "$peers" --id $((n - 1)))
      ;;
    mongo) RELAY_ARGV+=(--mongo-uri "$(state_get mongo_uri)" --mongo-db relay) ;;
    *) die "CLUSTER_RELAY_HA must be peers or mongo, not '$RELAY_HA_BACKEND'" ;;
  esac
}

# relay_role N: what relay N says it is ("leader", "follower", ...), when it says.
relay_role() {
  [ "$RELAY_HA_BACKEND" = peers ] || return 0
  # The member's own role is the first "role" of the document (its peers' views follow).
  curl -fsS --max-time 1 "http://127.0.0.1:$(relay_http_port "$1")/cluster" 2>/dev/null |
    sed -n 's/^[^{]*{[^{]*"role": *"\([a-z]*\)".*/\1/p'
}
