# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables here are used by the scripts that source it
# lab/catalog.sh — what both clusters offer, in one place: the topologies, the faults with
# their arguments, the exit codes and the index convention. Sourced by lab/lab, the local
# cluster's verbs, kind-cluster/ and chaos/run, so both clusters accept and refuse exactly
# the same command lines. Runs on bash 3.2 (macOS) too: no associative arrays, no mapfile.

# Exit codes of every verb, on both clusters.
LAB_OK=0
LAB_FAIL=1  # the verb ran and failed (the reason is printed)
LAB_USAGE=2 # bad command line: unknown verb, topology or fault, bad argument, bad index
LAB_SKIP=3  # a fault that cannot run on this cluster or machine (the reason is printed)

# Topologies both clusters run (kind adds gateway-api, an ingress that local has not).
LAB_TOPOLOGIES="embedded-rr embedded-sticky-ws embedded-sticky-all embedded-sticky-clientip relay relay-ha relay-watch"
LAB_KIND_ONLY_TOPOLOGIES="gateway-api"

# Faults: NAME|ARGUMENTS|what it does. N is a 1-based member index, the position in
# `lab status` (apps app-1..A, A = up --app-count (default 3), relays 1..R (a single relay
# is 1), MongoDB members 1..3 in replica-set order). M is a MongoDB member: its index N,
# `primary` (the member that is primary when the fault runs) or `last` (the member the
# previous MongoDB fault acted on: `pause-mongo primary` ... `resume-mongo last`). SECS is a
# number of seconds.
LAB_FAULTS="kill-app|N|SIGKILL app N (a crash); local: stays down until start-app; kind: the kubelet restarts it
start-app|N|bring app N back and wait until it is ready (kind: the kubelet already restarts it)
pause-app|N|SIGSTOP app N: connections stay open, nothing is answered
resume-app|N|SIGCONT app N
partition-app|N|cut app N off the network (both directions, open connections too)
heal-app|N|undo partition-app N
kill-relay|N|SIGKILL relay N; it is started again at once, as a kubelet would
pause-relay|N|SIGSTOP relay N
resume-relay|N|SIGCONT relay N
restart-relay|N [SECS]|stop relay N gracefully (drain), keep it down SECS (default 0), start it, wait until ready
partition-relay|N|cut relay N off the network: clients, apps and MongoDB (both directions, open connections too)
heal-relay|N|undo partition-relay N
reload-ingress||reload the ingress configuration (old workers close their websockets after 1s)
stepdown-mongo|[SECS]|the primary steps down (force) and may not be re-elected for SECS (default 5)
kill-mongo|M|kill MongoDB member M (local: stays down until restart-mongo; kind: the kubelet restarts it)
restart-mongo|M|restart MongoDB member M (stop it if it runs, start it) and wait until it answers
pause-mongo|M|pause MongoDB member M (SIGSTOP, or mongosimPause)
resume-mongo|M|resume MongoDB member M
partition-mongo|M|cut MongoDB member M off the network: clients and the other members (a primary steps down when it notices)
partition-mongo-peers|M|cut MongoDB member M off the other members only: its clients still reach it (split brain)
heal-mongo|M|undo partition-mongo or partition-mongo-peers M"

# lab_fault_names: one fault name per line.
lab_fault_names() {
  printf '%s\n' "$LAB_FAULTS" | cut -d'|' -f1
}

# lab_faults_help: a table of the faults.
lab_faults_help() {
  printf '%s\n' "$LAB_FAULTS" | awk -F'|' '{ printf "  %-16s %-10s %s\n", $1, $2, $3 }'
  echo "  N: a member index (lab status); M: a MongoDB member index, primary (the primary now)"
  echo "  or last (the member of the previous MongoDB fault); SECS: seconds"
}

# lab_is_topology NAME [kind]: NAME is a topology (of both clusters, or of kind too).
lab_is_topology() {
  local t
  for t in $LAB_TOPOLOGIES; do [ "$t" = "$1" ] && return 0; done
  if [ "${2:-}" = kind ]; then
    for t in $LAB_KIND_ONLY_TOPOLOGIES; do [ "$t" = "$1" ] && return 0; done
  fi
  return 1
}

# lab_fault_check NAME ARGS...: 0 when NAME is a fault and ARGS fit its arguments; else
# prints why on stderr and returns LAB_USAGE. Index ranges depend on the topology and are
# checked by the cluster.
lab_fault_check() {
  local name=${1:-} spec line
  if [ -z "$name" ]; then
    echo "lab: fault needs a name: $(lab_fault_names | tr '\n' ' ')" >&2
    return "$LAB_USAGE"
  fi
  shift
  line=$(printf '%s\n' "$LAB_FAULTS" | grep "^$name|" || true)
  if [ -z "$line" ]; then
    echo "lab: unknown fault '$name' (one of: $(lab_fault_names | paste -sd " " -))" >&2
    return "$LAB_USAGE"
  fi
  spec=$(printf '%s' "$line" | cut -d'|' -f2)
  case $spec in
    N)
      if [ $# -ne 1 ] || ! lab_is_index "$1"; then
        echo "lab: $name takes one member index N (1, 2, ...)" >&2
        return "$LAB_USAGE"
      fi
      ;;
    M)
      if [ $# -ne 1 ] || ! lab_is_mongo_member "$1"; then
        echo "lab: $name takes one MongoDB member: an index N (1, 2, ...), primary or last" >&2
        return "$LAB_USAGE"
      fi
      ;;
    "N [SECS]")
      if [ $# -lt 1 ] || [ $# -gt 2 ] || ! lab_is_index "$1" || { [ $# -eq 2 ] && ! lab_is_secs "$2"; }; then
        echo "lab: $name takes a member index N and optionally SECS (a number)" >&2
        return "$LAB_USAGE"
      fi
      ;;
    "[SECS]")
      if [ $# -gt 1 ] || { [ $# -eq 1 ] && ! lab_is_index "$1"; }; then
        echo "lab: $name takes optionally SECS (a whole number of seconds, 1 or more)" >&2
        return "$LAB_USAGE"
      fi
      ;;
    "")
      if [ $# -ne 0 ]; then
        echo "lab: $name takes no arguments" >&2
        return "$LAB_USAGE"
      fi
      ;;
  esac
  return 0
}

lab_is_index() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
lab_is_mongo_member() { lab_is_index "$1" || [ "$1" = primary ] || [ "$1" = last ]; }

# lab_is_app_count N: a number of app copies `up --app-count` takes on both clusters (1..9;
# the local cluster's port plan has room for nine).
lab_is_app_count() { [[ $1 =~ ^[1-9]$ ]]; }

# lab_is_app_env NAME=VALUE: a setting `up --app-env` passes to the app's environment (a
# name of the app's environment, a value without spaces).
lab_is_app_env() { [[ $1 =~ ^[A-Z_][A-Z0-9_]*=[^[:space:]]*$ ]]; }
lab_is_secs() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
