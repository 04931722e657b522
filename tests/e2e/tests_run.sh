#!/usr/bin/env bash
# tests/run itself, on a directory of made-up end-to-end tests (E2E_DIR): a test's PASS and
# FAIL lines are summed, one that exits non-zero without a FAIL line counts one failure, a
# failure anywhere makes the run exit 1 and is named, tests run E2E_JOBS at a time, and one
# marked "# e2e-serial:" runs alone, after the others.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

d=$E2E_TMP/e2e
mkdir -p "$d"
# mk NAME LINE...: a test that records its start and end in $E2E_TMP/span-NAME.sh, sleeps
# a second, then runs LINE...
mk() {
  local n=$1
  shift
  cat >"$d/$n.sh" <<TEST
#!/usr/bin/env bash
$(if [ "$n" = d_serial ]; then echo '# e2e-serial: it measures something'; fi)
echo "start \$(date +%s.%N)" >>"$E2E_TMP/span-$n.sh"
trap 'echo "end \$(date +%s.%N)" >>"$E2E_TMP/span-$n.sh"' EXIT
sleep 1
$(printf '%s\n' "$@")
TEST
  chmod +x "$d/$n.sh"
}
mk a_pass 'echo "PASS: a1"' 'echo "PASS: a2"'
mk b_fail 'echo "PASS: b1"' 'echo "FAIL: b2: it had to"' 'exit 1'
mk c_crash 'echo "PASS: c1"' 'exit 3'
mk d_serial 'echo "PASS: d1"'
mk e_pass 'echo "PASS: e1"'
indent() { while IFS= read -r l; do echo "    $1$l"; done; }

# The outer run's FILTER and ONLY must not reach the inner one.
rc=0
out=$(cd "$RELAYLAB_ROOT" && E2E_DIR=$d TEST_LOGS=$E2E_TMP/logs ONLY=e2e FILTER=. E2E_JOBS=2 tests/run 2>&1) || rc=$?
indent "" <<<"$out"
expect runner_sums_pass_and_fail_lines "$(grep -qx '6 passed, 2 failed' <<<"$out" && echo 0 || echo 1)" "$(tail -n 1 <<<"$out")"
expect runner_exits_1_on_failure "$([ "$rc" = 1 ] && echo 0 || echo 1)" "exit $rc"
expect runner_names_the_failures "$(grep -q '^failed: e2e/b_fail.sh: FAIL: b2' <<<"$out" &&
  grep -q '^failed: e2e/c_crash.sh: FAIL: c_crash.sh exited 3' <<<"$out" && echo 0 || echo 1)"
# "NAME START END" per test.
spans=$(for n in a_pass b_fail c_crash d_serial e_pass; do
  f=$E2E_TMP/span-$n.sh
  printf '%s %s %s\n' "$n" "$(sed -n 's/^start //p' "$f" 2>/dev/null)" "$(sed -n 's/^end //p' "$f" 2>/dev/null)"
done)
indent "span " <<<"$spans"
complete=$(awk 'NF == 3' <<<"$spans" | wc -l)
# Two at a time: of a, b, c and e (1 s each) some ran together.
overlap=$(grep -v '^d_serial' <<<"$spans" | awk 'NF == 3 { s[++n] = $2; e[n] = $3 } END {
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[i] < e[j] && s[j] < e[i]) o++; print o + 0 }')
expect runner_runs_two_at_a_time "$([ "$complete" -eq 5 ] && [ "$overlap" -ge 1 ] && echo 0 || echo 1)" \
  "$complete of 5 tests ran; $overlap overlapping pairs"
# d_serial started after every other one had ended.
serial=$(awk 'NF == 3 && $1 == "d_serial" { ds = $2 } NF == 3 && $1 != "d_serial" { if ($3 > last) last = $3 }
  END { print (ds != "" && last != "" && ds >= last ? 0 : 1) }' <<<"$spans")
expect runner_serial_runs_alone_after "$([ "$complete" -eq 5 ] && echo "$serial" || echo 1)"
rc=0
out=$(cd "$RELAYLAB_ROOT" && E2E_DIR=$d TEST_LOGS=$E2E_TMP/logs ONLY=e2e FILTER='a_pass|e_pass' tests/run 2>&1) || rc=$?
expect runner_passes_when_all_pass "$([ "$rc" = 0 ] && grep -qx '3 passed, 0 failed' <<<"$out" && echo 0 || echo 1)" \
  "exit $rc: $(tail -n 1 <<<"$out")"
[ "$E2E_FAILS" -eq 0 ]
