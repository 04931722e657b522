#!/usr/bin/env bash
# Malformed MongoDB wire messages against mongosim (tests/e2e/badinput_mongo.c): a message
# that cannot be framed or parsed closes that connection only; a well-formed command that
# cannot run gets {ok:0, code, errmsg}; mongosim stays up and serves every other client.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

port=$(e2e_port_base 1)
start_bg mongosim "$RELAYLAB_BIN/mongosim" --port "$port" --members 1 --log-level warn
ok=1
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=0; break; fi
  sleep 0.1
done
[ "$ok" -eq 0 ] || { fail mongosim_start "see $E2E_TMP/mongosim.log"; exit 1; }
sleep 0.5 # a one-member set elects itself at once; give it a moment to be primary

rc=0
"$RELAYLAB_BUILD/tests/e2e/badinput_mongo" 127.0.0.1 "$port" || rc=$?
expect mongo_driver_completed "$([ "$rc" -le 1 ] && echo 0 || echo 1)" "exit $rc"
kill -0 "$(cat "$E2E_TMP/mongosim.pid")" 2>/dev/null
expect mongo_mongosim_alive $? "see $E2E_TMP/mongosim.log"
n=$(grep -c 'msg=bad_message' "$E2E_TMP/mongosim.log" || true)
expect mongo_bad_messages_logged "$([ "$n" -ge 25 ] && echo 0 || echo 1)" "bad_message lines: $n"
exit "$E2E_FAILS"
