#!/usr/bin/env bash
# mongosim against the official MongoDB Node.js driver (npm mongodb): distinct, updateOne and
# updateMany with upserts, replaceOne, deleteOne/deleteMany, findOneAndUpdate/Replace/Delete,
# countDocuments, estimatedDocumentCount, a unique index, index maintenance under random
# updates and deletes of indexed fields (issue 16), and a change stream seeing an update
# and a delete. Needs node and the driver in tests/e2e/node-mongo (make deps installs both).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/node-mongo/rs.sh
source "$(dirname "$0")/node-mongo/rs.sh"

mongosim_node_rs mongosim || exit 1
if ! timeout 120 node "$node_dir/check.js" "$uri"; then
  # check.js prints a FAIL line per failed step; make sure a crash counts too.
  E2E_FAILS=$((E2E_FAILS + 1))
fi
exit "$E2E_FAILS"
