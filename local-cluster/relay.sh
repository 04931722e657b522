# shellcheck shell=bash
# local-cluster/relay.sh — the relay's command line, in one place (sourced by up and status).
#
# relay_argv TOPOLOGY N: sets RELAY_ARGV to the command that starts relay N (1-based) of the
# topology. `relay` runs one in-memory relay (the seed's fix, a single point of failure).
# `relay-ha` runs three relays over the cluster's MongoDB replica set (--mongo-uri, database
# relay; docs/relay-ha.md): every relay serves the same stream, so any one takes an emit or a
# resuming client. Every relay listens on 127.0.0.1: the ws port for clients through the
# ingress, the intake port for the apps (relay-ha's through the intake proxy).

relay_argv() {
  local topo=$1 n=$2
  RELAY_ARGV=("$BIN/relay" --bind 127.0.0.1 --ws-port "$(relay_ws_port "$n")"
    --http-port "$(relay_http_port "$n")" --token "$(state_get relay_token)" --log-level warn)
  if [ "$topo" = relay-ha ]; then
    RELAY_ARGV+=(--mongo-uri "$(state_get mongo_uri)" --mongo-db relay)
  fi
}

# relay_state N: "delivering" when relay N's /readyz answers 200 (relay-ha: its change stream
# runs and keeps up), else "not ready".
relay_state() {
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$(relay_http_port "$1")/readyz" 2>/dev/null; then
    echo delivering
  else
    echo "not ready"
  fi
}
