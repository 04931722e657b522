#!/usr/bin/env bash
# mongosim against the official MongoDB Node.js driver (npm mongodb): distinct, updateOne and
# updateMany with upserts, replaceOne, deleteOne/deleteMany, findOneAndUpdate/Replace/Delete,
# countDocuments, estimatedDocumentCount, a unique index, and a change stream seeing an update
# and a delete. Needs node + npm (make deps); installs the driver into tests/e2e/node-mongo.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

node_dir=$RELAYLAB_ROOT/tests/e2e/node-mongo
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  fail mongosim_node_prerequisites "node and npm are needed (make deps installs them)"
  exit 1
fi
if [ ! -d "$node_dir/node_modules/mongodb" ]; then
  (cd "$node_dir" && timeout 300 npm install --no-audit --no-fund --silent) ||
    { fail mongosim_node_npm_install "npm install mongodb failed"; exit 1; }
fi
base=$(e2e_port_base 3)
start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$base" --members 3 --election-timeout 300ms \
  --log-level warn
uri="mongodb://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/?replicaSet=rs0"
up=0
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$((base + 2))") 2>/dev/null; then up=1; break; fi
  sleep 0.05
done
[ "$up" -eq 1 ] || { fail mongosim_start "mongosim did not listen on $base..$((base + 2))"; exit 1; }
if ! timeout 120 node "$node_dir/check.js" "$uri"; then
  # check.js prints a FAIL line per failed step; make sure a crash counts too.
  E2E_FAILS=$((E2E_FAILS + 1))
fi
exit "$E2E_FAILS"
