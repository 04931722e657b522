#!/usr/bin/env bash
# chaos/junit: the JUnit file chaos/run leaves beside each result.json, for a CI's test
# report. Fed result.json files of every kind chaos/run writes (pass, an expectation that
# failed, a fault that failed or could not run, a run that never reached a verdict, a
# skipped scenario), it must name the scenario, fail exactly where chaos/run's verdict
# fails, and stay well-formed XML whatever the text. No cluster needed: seconds.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
JUNIT=$RELAYLAB_ROOT/chaos/junit

# junit NAME JSON: writes the result, runs chaos/junit on it, prints the XML's path.
junit() {
  printf '%s\n' "$2" >"$E2E_TMP/$1.json"
  "$JUNIT" "$E2E_TMP/$1.json" >"$E2E_TMP/$1.xml"
  echo "$E2E_TMP/$1.xml"
}
# well_formed FILE: python3 parses it (xmllint where python3 is missing).
well_formed() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$1"
  else
    xmllint --noout "$1"
  fi
}
# attr FILE XPATH-ish: the testsuite attribute NAME.
suite_attr() { sed -n "s/.*<testsuite [^>]*$2=\"\\([^\"]*\\)\".*/\\1/p" "$1"; }

x=$(junit pass '{"name":"my-relay","verdict":"pass","elapsed_s":9.5,
  "expectations":[{"expect":"delivery_ratio >= 0.999","name":"delivery_ratio","actual":1,"pass":true},
                  {"expect":"lost == 0","name":"events.lost","actual":0,"pass":true}],"faults":[]}')
expect junit_pass_well_formed "$(well_formed "$x"; echo $?)" "$(cat "$x")"
expect junit_names_the_scenario "$( [ "$(suite_attr "$x" name)" = my-relay ]; echo $?)" "$(cat "$x")"
expect junit_pass_counts "$( [ "$(suite_attr "$x" tests)/$(suite_attr "$x" failures)" = 2/0 ]; echo $?)" "$(cat "$x")"
expect junit_escapes_names "$(grep -c 'name="expect delivery_ratio &gt;= 0.999"' "$x" | grep -qx 1; echo $?)" "$(cat "$x")"

x=$(junit failed '{"name":"my-rr","verdict":"fail","elapsed_s":3,
  "expectations":[{"expect":"lost == 0","name":"events.lost","actual":2000,"pass":false},
                  {"expect":"requests.failed == 0","name":"requests.failed","actual":0,"pass":true}],
  "faults":[{"at_s":1.2,"rc":0,"fault":"kill-app 2"},{"at_s":2.0,"rc":1,"fault":"restart-relay 1 1"},
            {"at_s":2.5,"rc":3,"fault":"partition-app 1"},{"at_s":null,"rc":-1,"fault":"not fired"}]}')
expect junit_fail_well_formed "$(well_formed "$x"; echo $?)" "$(cat "$x")"
expect junit_fail_counts "$( [ "$(suite_attr "$x" tests)/$(suite_attr "$x" failures)/$(suite_attr "$x" skipped)" = 6/3/1 ]; echo $?)" "$(cat "$x")"
expect junit_failure_has_the_value "$(grep -q 'name="expect lost == 0"><failure message="actual 2000"/>' "$x"; echo $?)" "$(cat "$x")"
# A fault that failed fails the run (chaos/run exits 1) even when every expectation held.
x=$(junit fault_only '{"name":"f","verdict":"fail","elapsed_s":3,
  "expectations":[{"expect":"lost == 0","name":"events.lost","actual":0,"pass":true}],
  "faults":[{"at_s":2.0,"rc":1,"fault":"stepdown-mongo"}]}')
expect junit_failed_fault_is_a_failure "$(grep -q 'name="fault stepdown-mongo"><failure message="failed (exit 1)"/>' "$x"; echo $?)" "$(cat "$x")"
expect junit_failed_fault_counts "$( [ "$(suite_attr "$x" failures)" = 1 ]; echo $?)" "$(cat "$x")"

# A run that never reached loadgen's verdict (the app never got ready): one failing case.
x=$(junit error '{"name":"my-app-relay","topology":"relay","verdict":"fail","error":"cluster did not come up <app-1>"}')
expect junit_error_well_formed "$(well_formed "$x"; echo $?)" "$(cat "$x")"
expect junit_error_is_a_failure "$(grep -q 'name="run"><failure message="cluster did not come up &lt;app-1&gt;"/>' "$x"; echo $?)" "$(cat "$x")"
expect junit_error_counts "$( [ "$(suite_attr "$x" tests)/$(suite_attr "$x" failures)" = 1/1 ]; echo $?)" "$(cat "$x")"

# A skipped scenario (no browser here): skipped, not failed, not absent.
x=$(junit skipped '{"name":"browser-relay","kind":"browser","verdict":"skip","error":"no browser: chromium cannot start"}')
expect junit_skip_counts "$( [ "$(suite_attr "$x" tests)/$(suite_attr "$x" failures)/$(suite_attr "$x" skipped)" = 1/0/1 ]; echo $?)" "$(cat "$x")"

# Text from a fault or an app's error with quotes, ampersands and control characters.
x=$(junit text '{"name":"a&b","verdict":"fail","error":"said \"no\" & left\u0001"}')
expect junit_odd_text_well_formed "$(well_formed "$x"; echo $?)" "$(cat "$x")"

rc=0
"$JUNIT" "$E2E_TMP/nope.json" >/dev/null 2>&1 || rc=$?
expect junit_usage_error "$( [ "$rc" -eq 2 ]; echo $?)" "exit $rc"
exit "$E2E_FAILS"
