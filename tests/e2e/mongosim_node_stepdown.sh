#!/usr/bin/env bash
# The official MongoDB Node.js driver through two primary step-downs of mongosim under a
# stream of retryable writes and reads (node-mongo/stepdown.js, ~4 s): no operation fails,
# every write happens exactly once, the driver's streaming monitors (awaitable hello with
# moreToCome) never fail a heartbeat and no connection pool is cleared. Needs
# node and the driver (make deps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/node-mongo/rs.sh
source "$(dirname "$0")/node-mongo/rs.sh"

mongosim_node_rs mongosim || exit 1
if ! timeout 120 node "$node_dir/stepdown.js" "$uri"; then
  # stepdown.js prints a FAIL line per failed check; make sure a crash counts too.
  E2E_FAILS=$((E2E_FAILS + 1))
fi
exit "$E2E_FAILS"
