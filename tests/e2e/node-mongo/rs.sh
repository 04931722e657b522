# Sourced by tests/e2e/mongosim_node*.sh after tests/e2e/lib.sh: the official Node.js driver
# (make deps installs it) and a 3-member mongosim replica set.
# shellcheck shell=bash

node_dir=$RELAYLAB_ROOT/tests/e2e/node-mongo

# mongosim_node_rs NAME: checks node and the driver, starts mongosim (logged as NAME) with a
# 300 ms election timeout and sets uri to the replica set's connection string. Without node
# or the driver the test fails and ends (need_node); prints a FAIL line and returns 1 when
# mongosim does not listen within 5 s.
mongosim_node_rs() {
  local name=$1 base up=0
  need_node "${name}_prerequisites" "$node_dir" mongodb
  base=$(e2e_port_base 3)
  start_bg "$name" "$RELAYLAB_BIN/mongosim" --port "$base" --members 3 \
    --election-timeout 300ms --log-level warn
  # shellcheck disable=SC2034 # uri is for the sourcing script
  uri="mongodb://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/?replicaSet=rs0"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$((base + 2))") 2>/dev/null; then up=1; break; fi
    sleep 0.05
  done
  [ "$up" -eq 1 ] || { fail "${name}_start" "mongosim did not listen on $base..$((base + 2))"; return 1; }
}
