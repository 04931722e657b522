# shellcheck shell=bash
# local-cluster/relay.sh — the relay's command line, in one place (sourced by up and status).
#
# relay_argv TOPOLOGY N: sets RELAY_ARGV to the command that starts relay N (1-based) of the
# topology. `relay` runs one in-memory relay (the seed's fix, a single point of failure).
# `relay-ha` runs three relays over the cluster's MongoDB replica set (--mongo-uri, database
# relay; docs/relay-ha.md): every relay serves the same stream, so any one takes an emit or a
# resuming client. `relay-watch` runs the same relays watching the apps' products collection
# (--watch): an insert is the event, and the apps make no relay call at all (--ws-mode
# none), which closes the dual-write gap. Every relay listens on 127.0.0.1: the ws port for
# clients through the ingress, the intake port for the apps (through the intake proxy).

# The apps' database and collection, which relay-watch watches (fakeapp --db, its store).
APP_DB=relaylab
WATCH=$APP_DB.products=new_product

relay_argv() {
  local topo=$1 n=$2
  RELAY_ARGV=("$BIN/relay" --bind 127.0.0.1 --ws-port "$(relay_ws_port "$n")"
    --http-port "$(relay_http_port "$n")" --token "$(state_get relay_token)" --log-level warn)
  case $topo in
    relay-ha) RELAY_ARGV+=(--mongo-uri "$(state_get mongo_uri)" --mongo-db relay) ;;
    relay-watch) RELAY_ARGV+=(--mongo-uri "$(state_get mongo_uri)" --mongo-db relay --watch "$WATCH") ;;
  esac
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
