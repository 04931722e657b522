#!/usr/bin/env bash
# The official MongoDB Node.js driver against a stale primary of mongosim (partitioned, not
# yet stepped down; node-mongo/stale.js, ~2 s): w: 1 writes acknowledged at once, a
# wtimeout as MongoWriteConcernError 64, a retryable insert held until the step-down and
# stored once on the majority side, the rest rolled back at the heal. Needs node and
# the driver (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/node-mongo/rs.sh
source "$(dirname "$0")/node-mongo/rs.sh"

export MONGOSIM_STALE_PRIMARY_MS=1500 # the election timeout is 300 ms
mongosim_node_rs mongosim || exit 1
if ! timeout 120 node "$node_dir/stale.js" "$uri"; then
  # stale.js prints a FAIL line per failed check; make sure a crash counts too.
  E2E_FAILS=$((E2E_FAILS + 1))
fi
exit "$E2E_FAILS"
