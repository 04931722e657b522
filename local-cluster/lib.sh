# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables here are used by the verbs that source it
# local-cluster/lib.sh — shared by the local cluster's verbs (up, down, status, env, fault):
# options, the port plan, the processes and their state directory. Sourced, not run.
#
# The local cluster runs on Linux only (setsid, /proc, ss, iptables); bash 4.4 or later.
# Every process runs in the background in its own session, with its pid, command line and
# log in the state dir, so `up`, `fault` and `down` can be separate invocations.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/local-cluster
# shellcheck source=lab/catalog.sh
source "$ROOT/lab/catalog.sh"
BIN=${RELAYLAB_BIN:-$ROOT/bin}
NGINX=${CLUSTER_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
PORT_BASE=${CLUSTER_PORT_BASE:-21000}
DIR=${CLUSTER_DIR:-}
WAIT_S=${CLUSTER_WAIT:-20}
# Copies of the app (pods app-1..app-N): `up --app-count N` (lab_is_app_count: 1..9,
# default 3), kept in the state file for the other verbs (parse_options reads it back).
APPS=3
APPS_DEFAULT=3
MONGO_MEMBERS=3
PORTS_USED=18 # BASE .. BASE+17 with 3 apps; ports_used says how many with APPS
# Names of every process the cluster may run (for "already running" and down).
PROC_NAMES=(nginx relay-1 relay-2 relay-3 app-1 app-2 app-3 app-4 app-5 app-6 app-7 app-8 app-9)

say() { echo "local-cluster: $*"; }
die() {
  echo "local-cluster: $*" >&2
  exit "$LAB_FAIL"
}
usage_error() {
  echo "local-cluster: $*" >&2
  exit "$LAB_USAGE"
}

# parse_options "$@": takes --port-base/--dir off the front; sets ARGS to the rest (other
# options are the verb's to accept or refuse).
ARGS=()
parse_options() {
  while [ $# -gt 0 ]; do
    case $1 in
      --port-base) PORT_BASE=${2:?--port-base needs a value}; shift 2 ;;
      --port-base=*) PORT_BASE=${1#*=}; shift ;;
      --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
      --dir=*) DIR=${1#*=}; shift ;;
      --) shift; break ;;
      -h | --help) ARGS=(--help); return 0 ;;
      *) break ;;
    esac
  done
  ARGS=("$@")
  if ! [[ $PORT_BASE =~ ^[0-9]+$ ]] || [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65500 ]; then
    usage_error "bad port base '$PORT_BASE'"
  fi
  DIR=${DIR:-$ROOT/out/cluster-$PORT_BASE}
  if [ -d "$DIR" ]; then DIR=$(cd "$DIR" && pwd); fi
  APPS=$(state_get app_count)
  [[ $APPS =~ ^[1-9]$ ]] || APPS=$APPS_DEFAULT
  ports
}

# Port plan: BASE ingress, BASE+1..3 app HTTP, BASE+4..6 app websocket, relay 1 on
# BASE+7/8 (ws/intake), BASE+10..12 MongoDB, relays 2 and 3 on BASE+13/14 and BASE+15/16,
# BASE+17 the internal intake proxy of relay-ha; apps 4..9 (--app-count) on BASE+18.. (HTTP,
# websocket) pairs. PORTS_USED: the ports from BASE the cluster takes with APPS apps.
ports() {
  INGRESS_PORT=$PORT_BASE
  MONGO_PORT=$((PORT_BASE + 10))
  INTAKE_PROXY_PORT=$((PORT_BASE + 17))
  TAG=relaylab-cluster-$PORT_BASE
  PORTS_USED=18
  [ "$APPS" -le 3 ] || PORTS_USED=$((18 + 2 * (APPS - 3)))
}
app_http_port() { if [ "$1" -le 3 ]; then echo $((PORT_BASE + $1)); else echo $((PORT_BASE + 10 + 2 * $1)); fi; }
app_ws_port() { if [ "$1" -le 3 ]; then echo $((PORT_BASE + 3 + $1)); else echo $((PORT_BASE + 11 + 2 * $1)); fi; }
relay_ws_port() { if [ "$1" -eq 1 ]; then echo $((PORT_BASE + 7)); else echo $((PORT_BASE + 9 + 2 * $1)); fi; }
relay_http_port() { if [ "$1" -eq 1 ]; then echo $((PORT_BASE + 8)); else echo $((PORT_BASE + 10 + 2 * $1)); fi; }
mongo_port() { echo $((MONGO_PORT + $1 - 1)); } # member N (1-based)

# relay_count TOPOLOGY: relays the topology runs.
relay_count() {
  case $1 in
    relay) echo 1 ;;
    relay-ha | relay-watch) echo 3 ;;
    *) echo 0 ;;
  esac
}

need_state() {
  [ -f "$DIR/state" ] || die "no cluster in $DIR (run: lab up TOPOLOGY)"
}

state_get() {
  [ -f "$DIR/state" ] || return 0
  sed -n "s/^$1=//p" "$DIR/state" | tail -n 1
}

# ---------------------------------------------------------------- processes

pidfile() { echo "$DIR/pids/$1.pid"; }

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != Z ]
}

# proc_state PID: running or paused.
proc_state() {
  local st
  st=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null || echo '?')
  case $st in
    T | t) echo paused ;;
    *) echo running ;;
  esac
}

# pid_of NAME: the recorded pid of NAME if that process still runs, else nothing.
pid_of() {
  local f pid
  f=$(pidfile "$1")
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if alive "$pid"; then echo "$pid"; fi
}

# start_proc NAME CMD...: runs CMD in its own session, log appended to logs/NAME.log; the
# command line is kept (NUL-separated) so a fault can start the same process again.
start_proc() {
  local name=$1
  shift
  mkdir -p "$DIR/pids" "$DIR/logs" "$DIR/cmds"
  printf '%s\0' "$@" >"$DIR/cmds/$name"
  echo "--- $(date '+%F %T') start: $*" >>"$DIR/logs/$name.log"
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

restart_proc() {
  local name=$1 cmd=()
  [ -s "$DIR/cmds/$name" ] || die "no recorded command for $name (was the cluster started?)"
  mapfile -d '' -t cmd <"$DIR/cmds/$name"
  start_proc "$name" "${cmd[@]}"
}

# wait_gone PID SECONDS: bounded wait for a process that is not our child to end.
wait_gone() {
  local pid=$1 i
  for ((i = 0; i < $2 * 20; i++)); do
    alive "$pid" || return 0
    sleep 0.05
  done
  return 1
}

# stop_proc NAME [SECONDS]: SIGCONT (a paused process cannot act on SIGTERM), SIGTERM,
# a bounded wait, then SIGKILL.
stop_proc() {
  local name=$1 t=${2:-10} pid
  pid=$(pid_of "$name")
  if [ -n "$pid" ]; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$t"; then
      echo "local-cluster: $name (pid $pid) did not stop in ${t}s; killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5 || echo "local-cluster: $name (pid $pid) survived SIGKILL" >&2
    fi
  fi
  rm -f "$(pidfile "$name")"
}

log_tail() {
  local f=$DIR/logs/$1.log
  [ -f "$f" ] || return 0
  echo "---- last lines of $f:" >&2
  tail -n 15 "$f" | sed 's/^/    /' >&2
}

# wait_ready NAME URL: bounded wait for URL to answer 2xx while NAME runs.
wait_ready() {
  local name=$1 url=$2 i pid code
  for ((i = 0; i < WAIT_S * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    pid=$(pid_of "$name")
    if [ -z "$pid" ]; then
      echo "local-cluster: $name exited before it was ready ($url)" >&2
      log_tail "$name"
      return 1
    fi
    sleep 0.1
  done
  # What it answers says whether the path is wrong (404) or the app is not ready (503).
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)
  case ${code:-000} in
    000) code="no answer" ;;
    *) code="answered $code" ;;
  esac
  echo "local-cluster: $name did not become ready within ${WAIT_S}s: $url $code" >&2
  log_tail "$name"
  return 1
}

# wait_listen NAME PORT: bounded wait until something listens on 127.0.0.1:PORT.
wait_listen() {
  local name=$1 port=$2 i
  for ((i = 0; i < WAIT_S * 10; i++)); do
    if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    [ -n "$(pid_of "$name")" ] || { echo "local-cluster: $name exited before listening on $port" >&2; log_tail "$name"; return 1; }
    sleep 0.1
  done
  echo "local-cluster: $name is not listening on port $port after ${WAIT_S}s" >&2
  log_tail "$name"
  return 1
}

# ---------------------------------------------------------------- the members

# The apps' and relays' start commands live in up (apps) and relay.sh (relays); what a
# fault needs to bring one back is the recorded command line (restart_proc).

wait_app() {
  local i=$1 ready
  ready=$(state_get app_ready)
  if ! wait_ready "app-$i" "http://127.0.0.1:$(app_http_port "$i")${ready:-/readyz}"; then
    [ -z "$(state_get app_cmd)" ] ||
      echo "local-cluster: is $ready your app's readiness path? (lab up --app-ready; ready in relaylab.app, app_ready in a scenario)" >&2
    return 1
  fi
  # An app brought with --app-cmd serves its websockets on its one port (PORT).
  [ -z "$(state_get app_cmd)" ] || return 0
  if [ "$(relay_count "$(state_get topology)")" -eq 0 ]; then
    wait_listen "app-$i" "$(app_ws_port "$i")" || return 1
  fi
}

wait_relay() {
  wait_ready "relay-$1" "http://127.0.0.1:$(relay_http_port "$1")/readyz"
}

mongo_mode() { cat "$DIR/mongo/mongo.mode" 2>/dev/null || true; }

mongo_down() {
  if [ -s "$DIR/mongo/mongo.pid" ]; then
    "$HERE/mongo-down" --dir "$DIR/mongo" >/dev/null || true
  fi
  rm -f "$DIR/mongo/peers-cut"
}

nginx_cmd() { "$NGINX" -e "$DIR/logs/nginx-error.log" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" "$@"; }

# ---------------------------------------------------------------- partitions

# iptables DROP of a port on the loopback interface, both directions, tagged with a comment
# naming this cluster; each rule is recorded in DIR/partitions ("WHO PORT sport|dport") so
# heal and down remove exactly the rules they added.
iptables_rule() { # -I|-D PORT sport|dport
  iptables -w 5 "$1" INPUT -i lo -p tcp "--$3" "$2" -m comment --comment "$TAG" -j DROP
}

# can_partition WHAT: exits 3 (skipped) with the reason when iptables cannot be used here.
can_partition() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "local-cluster: $1 skipped: needs root for iptables" >&2
    exit "$LAB_SKIP"
  fi
  command -v iptables >/dev/null 2>&1 || { echo "local-cluster: $1 skipped: iptables not installed" >&2; exit "$LAB_SKIP"; }
  if ! iptables -w 5 -S INPUT >/dev/null 2>&1; then
    echo "local-cluster: $1 skipped: iptables does not work here ($(iptables -w 5 -S INPUT 2>&1 | head -n 1))" >&2
    exit "$LAB_SKIP"
  fi
}

# partition WHO PORT...: cut the ports off (recorded under WHO, e.g. app-2 or mongo-1).
partition() {
  local who=$1 port dir
  shift
  for port in "$@"; do
    for dir in dport sport; do
      iptables_rule -I "$port" "$dir" || die "iptables refused a rule for port $port"
      echo "$who $port $dir" >>"$DIR/partitions"
    done
  done
}

# A process's own connections (a relay's to MongoDB) go out from ephemeral ports, which no
# port rule names. partition_proc cuts them as well: the process moves into a cgroup of its
# own (cgroup v2) whose new sockets an OUTPUT rule drops (xt_cgroup matches a socket by the
# cgroup it was created in), and the ports of the sockets it already has (ss) get the same
# INPUT rules as a listening port. Recorded as "WHO PATH cgroup ORIG" (PATH under the cgroup2
# root, ORIG the cgroup the process came from).
cgroup2_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }

cgroup_rule() { # -I|-D PATH
  iptables -w 5 "$1" OUTPUT -m cgroup --path "$2" -m comment --comment "$TAG" -j DROP
}

# cut_process_why: why a process's connections cannot be cut here (nothing when they can).
cut_process_why() {
  local root probe
  root=$(cgroup2_root)
  [ -n "$root" ] || { echo "no cgroup v2 hierarchy mounted"; return; }
  probe=$TAG-probe
  mkdir -p "$root/$probe" 2>/dev/null || { echo "cannot create a cgroup under $root"; return; }
  if ! cgroup_rule -I "$probe" 2>/dev/null; then
    rmdir "$root/$probe" 2>/dev/null || true
    echo "iptables has no cgroup match here"
    return
  fi
  cgroup_rule -D "$probe" 2>/dev/null || true
  rmdir "$root/$probe" 2>/dev/null || true
}

# can_cut_process WHAT: exits 3 (skipped) when a process's connections cannot be cut here.
can_cut_process() {
  local why
  why=$(cut_process_why)
  [ -z "$why" ] || { echo "local-cluster: $1 skipped: $why" >&2; exit "$LAB_SKIP"; }
}

# proc_tree PID: PID and its descendants (an app command may run workers of its own).
proc_tree() {
  local p
  echo "$1"
  for p in $(pgrep -P "$1" 2>/dev/null); do proc_tree "$p"; done
}

# partition_proc WHO PID PORT...: cut WHO's listening PORTs, the open connections of PID and
# its descendants, and any connection they open until heal.
partition_proc() {
  local who=$1 pid=$2 root path orig port p tree
  shift 2
  partition "$who" "$@"
  root=$(cgroup2_root)
  path=$TAG-$who
  orig=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
  mkdir -p "$root/$path" || die "cannot create cgroup $root/$path"
  cgroup_rule -I "$path" || die "iptables refused the cgroup rule for $who"
  echo "$who $path cgroup ${orig:-/}" >>"$DIR/partitions"
  tree=$(proc_tree "$pid")
  for p in $tree; do
    echo "$p" >"$root/$path/cgroup.procs" 2>/dev/null || [ ! -d "/proc/$p" ] ||
      die "cannot move $who (pid $p) into cgroup $path"
  done
  # Sockets made before the move keep their old cgroup: cut them by their local ports.
  for port in $(ss -Htanp 2>/dev/null | awk -v t=" ${tree//$'\n'/ } " '
      { n = split($4, a, ":"); rest = $0
        while (match(rest, /pid=[0-9]+,/)) {
          if (index(t, " " substr(rest, RSTART + 4, RLENGTH - 5) " ")) { print a[n]; break }
          rest = substr(rest, RSTART + RLENGTH) } }' | sort -un); do
    grep -qx "$who $port dport" "$DIR/partitions" && continue
    partition "$who" "$port"
  done
}

# heal WHO: remove WHO's rules ("" = every rule of this cluster).
heal() {
  local want=${1:-} name port dir orig keep=() root pid procs
  [ -s "$DIR/partitions" ] || return 0
  root=$(cgroup2_root)
  while read -r name port dir orig; do
    if [ -n "$want" ] && [ "$name" != "$want" ]; then
      keep+=("$name $port $dir${orig:+ $orig}")
    elif [ "$dir" = cgroup ]; then
      cgroup_rule -D "$port" 2>/dev/null || true
      # Back where it came from, then the cgroup goes (it is empty once the process left).
      procs=()
      [ -r "$root/$port/cgroup.procs" ] && mapfile -t procs <"$root/$port/cgroup.procs"
      for pid in "${procs[@]}"; do
        echo "$pid" >"$root${orig%/}/cgroup.procs" 2>/dev/null || true
      done
      rmdir "$root/$port" 2>/dev/null || echo "local-cluster: cgroup $root/$port not removed" >&2
    else
      iptables_rule -D "$port" "$dir" 2>/dev/null || true
    fi
  done <"$DIR/partitions"
  if [ "${#keep[@]}" -gt 0 ]; then printf '%s\n' "${keep[@]}" >"$DIR/partitions"; else rm -f "$DIR/partitions"; fi
}

# ---------------------------------------------------------------- teardown

down_all() {
  local name
  stop_proc nginx 5
  for name in "${PROC_NAMES[@]}"; do
    [[ $name == relay-* ]] && stop_proc "$name" 10
  done
  for name in "${PROC_NAMES[@]}"; do
    [[ $name == app-* ]] && stop_proc "$name" 10
  done
  mongo_down
  heal ""
}
