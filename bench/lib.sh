# Shared set-up of the bench/*.sh scripts (sourced after `cd` to the repository root):
# program locations, free ports, the fd limit, a temp dir, every background process
# recorded in pids and stopped on exit, and the servers make bench compares.
# shellcheck shell=bash
BIN=${BIN:-bin}
BUILD=${BUILD:-build/default}
# shellcheck source=tests/e2e/ports.sh
source tests/e2e/ports.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# wait_port PORT: until something listens there (10 s at most).
wait_port() {
  local _
  for _ in $(seq 200); do
    ss -Htln "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

# ---------------------------------------------------------------- servers under test
# server_start NAME PORT sets SERVER_PID (what to stop), SERVER_PIDS (whose CPU and memory
# are measured, comma-separated), WS_PORT, PUB_URL, SUB_PATH, SUB_FLAGS (relay_bench
# options for this server's subscribers and publisher). NAME is one of:
#   relay, relay-sio     bin/relay (plain websocket / Socket.IO websocket subscribers)
#   nchan2, nchan1       nginx + Debian's Nchan module, 2 or 1 worker processes
#   socketio             the seed's relay: Express + Socket.IO (bench/socketio)
# server_missing NAME prints why NAME cannot run here (nothing when it can).

server_missing() {
  case $1 in
    relay | relay-sio) [ -x "$BIN/relay" ] || echo "$BIN/relay is not built (make)" ;;
    nchan*)
      command -v nginx >/dev/null || { echo "nginx is not installed (make deps)"; return; }
      [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] ||
        echo "libnginx-mod-nchan is not installed (make deps)" ;;
    socketio)
      command -v node >/dev/null || { echo "node is not installed (make deps)"; return; }
      [ -d bench/socketio/node_modules/socket.io ] && [ -d bench/socketio/node_modules/express ] ||
        echo "socket.io and express are not installed in bench/socketio (make deps)" ;;
    *) echo "unknown server $1" ;;
  esac
}

RELAY_ARGS=()  # more relay flags (the MongoDB-backed relay)
NCHAN_CHANNELS= # non-empty: Nchan subscribers and publisher use /subch?ch= and /pubch?ch=
server_start() { # NAME PORT [relay flags...]
  local name=$1 port=$2
  shift 2
  WS_PORT=$port
  SUB_PATH=/websocket-service
  SUB_FLAGS=()
  case $name in
    relay | relay-sio)
      # Queue and history large enough for a saturated publisher, as an operator would set.
      "$BIN/relay" --bind 127.0.0.1 --ws-port "$port" --http-port $((port + 1)) --log-level warn \
        --queue-limit 100000 --history 100000 --max-clients 20000 "${RELAY_ARGS[@]}" "$@" \
        2>"$tmp/$name-$port.log" &
      SERVER_PID=$!
      pids+=("$SERVER_PID")
      SERVER_PIDS=$SERVER_PID
      PUB_URL=http://127.0.0.1:$((port + 1))/emit
      if [ "$name" = relay-sio ]; then
        SUB_PATH='/socket.io/?EIO=4&transport=websocket'
        SUB_FLAGS=(--sio)
      fi
      wait_port $((port + 1)) || return 1
      ;;
    nchan2 | nchan1) nchan_start "${name#nchan}" "$port" || return 1 ;;
    socketio)
      node bench/socketio/server.js "$port" 2>"$tmp/socketio-$port.log" &
      SERVER_PID=$!
      pids+=("$SERVER_PID")
      SERVER_PIDS=$SERVER_PID
      PUB_URL=http://127.0.0.1:$port/emit
      SUB_PATH='/socket.io/?EIO=4&transport=websocket'
      SUB_FLAGS=(--sio)
      ;;
  esac
  wait_port "$port"
}

# Nchan as its documentation sets up a websocket pub/sub: one channel "bench" for the
# broadcast, /subch and /pubch?ch=NAME for channels. The listen backlog matches the relay's.
nchan_start() { # WORKERS PORT
  local d=$tmp/nginx-$2 w _
  mkdir -p "$d/logs"
  cat >"$d/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes $1;
worker_rlimit_nofile 20000;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path $d/body;
  server {
    listen 127.0.0.1:$2 backlog=4096;
    location = /pub { nchan_publisher; nchan_channel_id bench; nchan_message_buffer_length 1000; }
    location = /sub { nchan_subscriber websocket; nchan_channel_id bench; }
    location = /pubch { nchan_publisher; nchan_channel_id \$arg_ch; nchan_message_buffer_length 1000; }
    location = /subch { nchan_subscriber websocket; nchan_channel_id \$arg_ch; }
  }
}
CONF
  nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>"$d/stderr.log" &
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  wait_port "$2" || return 1
  for _ in $(seq 100); do
    w=$(pgrep -P "$SERVER_PID" | paste -sd, -)
    [ "$(tr ',' '\n' <<<"$w" | grep -c .)" -ge "$1" ] && break
    sleep 0.05
  done
  SERVER_PIDS=$SERVER_PID${w:+,$w}
  PUB_URL=http://127.0.0.1:$2/pub
  SUB_PATH=/sub
  SUB_FLAGS=(--body frame)
  if [ -n "$NCHAN_CHANNELS" ]; then
    PUB_URL="http://127.0.0.1:$2/pubch?ch={ch}"
    SUB_PATH=/subch
    SUB_FLAGS+=(--channel-arg ch)
  fi
}

server_stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  timeout 15 tail --pid="$SERVER_PID" -f /dev/null 2>/dev/null || kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------- measurements
# Each measurement is one JSON line from relay_bench, appended to $RESULTS and shown as
# one line on the terminal. Set RESULTS and B (the relay_bench binary) before use.

progress() {
  jq -r 'def m: if . == null then "-" elif . >= 1e6 then "\(. / 1e4 | round / 100)M" elif . >= 1e3 then "\(. / 10 | round / 100)k" else tostring end;
    "  \(.server | . + " " * ([14 - length, 1] | max)) \(.mode | . + " " * ([8 - length, 1] | max)) " +
    if .skipped then "skipped: \(.skipped)"
    elif .error then "ERROR: \(.error)"
    elif .mode == "fanout" then "\(.clients) clients\(if .channels > 0 then " on \(.channels) channels" else "" end): \(.deliveries_per_s | m) deliveries/s (\(.events_per_s | round) events/s), lost \(.lost), server CPU \(.server_cpu_pct)%, client CPU \(.client_cpu_pct)%"
    elif .mode == "latency" then "\(.clients) clients x \(.events_per_s | round)/s: p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, p999 \(.p999_ms) ms, lost \(.lost)"
    elif .mode == "idle" then "\(.clients) idle clients: \(.bytes_per_conn) bytes RSS per connection"
    elif .mode == "storm" then "\(.upgraded)/\(.clients) upgraded in \(.all_s) s (p50 \(.p50_s) s)"
    else tostring end' <<<"$1" 2>/dev/null || echo "  $1"
}

record() { echo "$1" >>"$RESULTS"; progress "$1"; }

skip() { # LABEL MODE WHY
  record "$(jq -cn --arg s "$1" --arg m "$2" --arg w "$3" '{server: $s, mode: $m, skipped: $w}')"
}

# measure LABEL MODE [relay_bench flags]: against the server started last.
measure() {
  local label=$1 mode=$2 line
  shift 2
  line=$(timeout 400 "$B" "$mode" --label "$label" --port "$WS_PORT" --pids "$SERVER_PIDS" \
    --path "$SUB_PATH" --pub-url "$PUB_URL" "${SUB_FLAGS[@]}" "$@" 2>>"$tmp/relay_bench.log" |
    tail -1) || true
  if [ -z "$line" ] || ! jq -e . >/dev/null 2>&1 <<<"$line"; then
    line=$(jq -cn --arg s "$label" --arg m "$mode" --arg e "$(tail -3 "$tmp/relay_bench.log" | tr '\n' ' ')" \
      '{server: $s, mode: $m, error: ("relay_bench failed or timed out: " + $e)}')
  fi
  record "$line"
}

# fresh NAME LABEL MODE [relay_bench flags]: a new server for one measurement.
fresh() {
  local name=$1 label=$2 mode=$3
  shift 3
  if ! server_start "$name" "$(e2e_port_base 4)"; then
    skip "$label" "$mode" "$name did not start: $(tail -2 "$tmp"/*.log 2>/dev/null | tr '\n' ' ')"
    server_stop
    return
  fi
  measure "$label" "$mode" "$@"
  server_stop
}
