#!/usr/bin/env bash
# The relay against the peers it means to beat, same client, same machine, same run:
# Nchan (nginx module, Debian's libnginx-mod-nchan, one worker) and Socket.IO v4 (npm).
# Prints one fan-out table per server; compare ratios, not absolute numbers (noisy machines).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

B=$BUILD/bench/relay_bench
CLIENTS=${BENCH_CLIENTS:-1000}
RATES=${BENCH_PEER_RATES:-100,200,400}
SECS=${BENCH_SECONDS:-4}
base=$(e2e_port_base 6)

wait_port() { # PORT: wait until something listens
  for _ in $(seq 200); do
    ss -Htln "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

echo "== relay ($CLIENTS clients, rates $RATES/s, ${SECS}s each)"
"$BIN/relay" --bind 127.0.0.1 --ws-port "$base" --http-port $((base + 1)) --log-level warn \
  --queue-limit 20000 --history 100000 2>"$tmp/relay.log" &
pids+=($!)
wait_port $((base + 1))
BENCH_TARGET=relay "$B" fanout "$base" $((base + 1)) "$CLIENTS" "$RATES" "$SECS" || true
stop_all

if [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  echo "== nchan (nginx, 1 worker)"
  port=$((base + 2))
  mkdir -p "$tmp/nginx/logs"
  cat >"$tmp/nginx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  server {
    listen 127.0.0.1:$port;
    location = /pub { nchan_publisher; nchan_channel_id bench; nchan_message_buffer_length 1000; }
    location = /sub { nchan_subscriber websocket; nchan_channel_id bench; }
  }
}
CONF
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx.log" &
  pids+=($!)
  wait_port "$port"
  BENCH_TARGET=nchan "$B" fanout "$port" "$port" "$CLIENTS" "$RATES" "$SECS" || true
  stop_all
else
  echo "== nchan: skipped (libnginx-mod-nchan not installed; make deps installs it)"
fi

if command -v node >/dev/null && command -v npm >/dev/null; then
  echo "== socket.io v4 (node $(node --version), websocket transport)"
  if [ ! -d bench/socketio/node_modules/socket.io ]; then
    (cd bench/socketio && timeout 300 npm install --no-audit --no-fund --silent)
  fi
  port=$((base + 3))
  node bench/socketio/server.js "$port" 2>"$tmp/sio.log" &
  pids+=($!)
  wait_port "$port"
  BENCH_TARGET=socketio "$B" fanout "$port" "$port" "$CLIENTS" "$RATES" "$SECS" || true
  stop_all
else
  echo "== socket.io: skipped (node/npm not installed)"
fi
