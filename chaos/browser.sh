# shellcheck shell=bash
# shellcheck disable=SC2034 # SCN_ERR is chaos/run's
# chaos/browser.sh — the browser rows of chaos/run (sourced by it, not run). A scenario with
# `browser = N` drives no loadgen: once its topology is up, headless Chromium (Debian's
# chromium through npm puppeteer-core: tests/e2e/browser/page.js) opens fakeapp's product
# page through the ingress, creates N products with the page's form, and records the browser
# console, what the page shows (window.relaylab) and a screenshot. The scenario's `expect`
# lines judge those measures (page.NAME, listed below), since loadgen sees no browser.
# A machine that cannot run a browser (no Node, no puppeteer-core, no Chromium, or Chromium
# will not start) skips the scenario and says why; nothing else depends on it. Both clusters:
# on kind the browser on this machine opens the ingress's host port.

BROWSER_PAGE_JS=$ROOT/tests/e2e/browser/page.js
BROWSER_NODE_MODULES=$ROOT/tests/e2e/node/node_modules
BROWSER_CONSOLE_HEAD=12 # console lines a result (and the report) keeps; console.txt has all

# What an `expect page.NAME ...` line may name, all numbers:
#   status         the HTTP status of the page (GET /)
#   created        products the form created (POST /products answered 201)
#   live           of those, products whose new_product event arrived (shown live)
#   missing        created - live: products the person never sees without a reload
#   listed         products the page listed from GET /products at load
#   seed_warning   console lines of the seed's symptom ("WebSocket is closed before the
#                  connection is established", "Session ID unknown", a 400 on /socket.io/)
#   connects       Socket.IO connects; errors: connect_error and failed POSTs
#   websocket      1 when the connection ended on the websocket transport, else 0
#   console_lines  every console line; failed_requests: requests the browser saw fail
BROWSER_MEASURES=" status created live missing listed seed_warning connects errors websocket console_lines failed_requests "

# browser_check_settings FILE: a browser scenario's own rules (called by parse_scenario).
browser_check_settings() {
  local file=$1 e name
  [[ $(sget browser) =~ ^[1-9][0-9]?$ ]] ||
    { SCN_ERR="$file: browser must be the number of products to create (1-99)"; return 1; }
  [ -z "$TIMELINE" ] || { SCN_ERR="$file: a browser scenario takes no faults"; return 1; }
  [ -z "$(sget app)" ] ||
    { SCN_ERR="$file: a browser scenario drives fakeapp's page (window.relaylab); 'app' is not supported"; return 1; }
  while IFS= read -r e; do
    [ -n "$e" ] || continue
    name=$(printf '%s' "$e" | sed -E 's/^[[:space:]]*([A-Za-z0-9_.-]+).*/\1/')
    if [[ $name != page.* || $BROWSER_MEASURES != *" ${name#page.} "* ]]; then
      SCN_ERR="$file: expectation '$e': a browser scenario judges page.NAME, NAME one of:${BROWSER_MEASURES% }"
      return 1
    fi
  done <<<"$EXPECTS"
  return 0
}

# browser_lacks: why this machine or cluster cannot run the browser (empty when it may:
# whether Chromium really starts is known only when page.js tries).
# On kind the browser runs here too and opens the ingress's host port (127.0.0.1:80, or
# 8088 for gateway-api); the fakeapp image carries socket.io-client's bundle and every
# topology routes /socket.io/socket.io.js to the apps (tests/e2e/kind/check_manifests.py).
browser_lacks() {
  command -v node >/dev/null 2>&1 || { echo "no browser: node is not installed (make deps)"; return 0; }
  [ -d "$BROWSER_NODE_MODULES/puppeteer-core" ] ||
    { echo "no browser: puppeteer-core is not installed in tests/e2e/node (make deps)"; return 0; }
  if [ -z "${CHROME_PATH:-}" ] && [ ! -x /usr/bin/chromium ] && [ ! -x /usr/bin/chromium-browser ]; then
    echo "no browser: no chromium binary (make deps installs Debian's chromium; or set CHROME_PATH)"
  fi
  return 0
}

# browser_skip_result NAME REASON: result.json of a browser scenario that could not run.
browser_skip_result() {
  jq -n --arg n "$1" --arg t "$(sget topology)" --arg a "$(sget architecture)" --arg s "$(sget shows)" \
    --arg c "$CLUSTER" --arg e "$2" --argjson apps "$(sget app_count)" \
    '{name: $n, kind: "browser", topology: $t, architecture: $a, shows: $s, cluster: $c,
      app_count: $apps, verdict: "skip", error: $e}' >"$DIR/result.json"
}

# browser_judge MEASURES_JSON: the expectations as loadgen reports them ({expect, name,
# actual, pass}), evaluated over the page's measures.
browser_judge() {
  local e name op num out='[]'
  while IFS= read -r e; do
    [ -n "$e" ] || continue
    [[ $e =~ ^[[:space:]]*page\.([a-z_]+)[[:space:]]*(>=|<=|==|!=|>|<)[[:space:]]*(-?[0-9.]+([eE][-+]?[0-9]+)?)[[:space:]]*$ ]] || continue
    name=${BASH_REMATCH[1]} op=${BASH_REMATCH[2]} num=${BASH_REMATCH[3]}
    out=$(jq -c --arg e "$(printf '%s' "$e" | sed -E 's/^[[:space:]]+|[[:space:]]+$//g')" --arg n "$name" \
      --arg op "$op" --argjson v "$num" --argjson m "$1" '
      ($m[$n]) as $a
      | . + [{expect: $e, name: ("page." + $n), actual: $a,
              pass: ($a != null and (if $op == ">=" then $a >= $v elif $op == "<=" then $a <= $v
                     elif $op == "==" then $a == $v elif $op == "!=" then $a != $v
                     elif $op == ">" then $a > $v else $a < $v end))}]' <<<"$out")
  done <<<"$EXPECTS"
  printf '%s\n' "$out"
}

# run_browser NAME INGRESS_URL STARTED: drives the page on the cluster that run_scenario
# brought up, reads the servers' metrics, takes the cluster down and writes result.json. Returns 0 pass, 1 fail,
# 3 skipped (Chromium cannot start here).
run_browser() {
  local name=$1 ingress=${2%/} started=$3 n rc=0 page m verdict v_up
  n=$(sget browser)
  page=$DIR/page
  # lab_bounded, not GNU timeout: on kind this runs on a laptop (macOS has no timeout).
  lab_bounded $((60 + 10 * n)) node "$BROWSER_PAGE_JS" "$ingress/" "$page" "$n" \
    >"$DIR/page.out" 2>"$DIR/page.log" || rc=$?
  server_metrics
  cleanup_scenario
  if [ "$rc" -eq 3 ]; then
    browser_skip_result "$name" "no browser: $(jq -r '.skipped // "chromium cannot start"' "$page/result.json" 2>/dev/null)"
    echo "SKIP: $name ($(jq -r .error "$DIR/result.json"); see $DIR/page.log)"
    return 3
  fi
  if [ "$rc" -ne 0 ] || [ ! -s "$page/result.json" ] || ! jq -e .state "$page/result.json" >/dev/null 2>&1; then
    echo "FAIL: $name: the browser did not drive the page (page.js exit $rc); see $DIR/page.log" >&2
    tail -n 5 "$DIR/page.log" "$DIR/page.out" 2>/dev/null | sed 's/^/    /' >&2 || true
    fail_result "$name" "page.js exit $rc: $(jq -r '.error // empty' "$page/result.json" 2>/dev/null | head -c 200)"
    return 1
  fi
  jq -r '.console[] | "\(.t) ms  \(.type): \(.text)"' "$page/result.json" >"$DIR/console.txt"
  m=$(jq -c '{status, created: (.state.created // 0), live: (.state.live // 0), listed: (.state.listed // 0),
    missing, seed_warning, connects: (.state.connects // 0), errors: ((.state.errors // []) | length),
    websocket: (if .state.transport == "websocket" then 1 else 0 end), console_lines: (.console | length),
    failed_requests: ((.requests_failed // []) | length), transport: .state.transport,
    recovered: .state.recovered, status_line}' "$page/result.json")
  local ex
  ex=$(browser_judge "$m")
  verdict=pass
  [ "$(jq '[.[] | select(.pass | not)] | length' <<<"$ex")" -eq 0 ] || verdict=fail
  jq --arg n "$name" --arg t "$(sget topology)" --arg a "$(sget architecture)" --arg s "$(sget shows)" \
    --arg o "$(sget outcome)" --arg v "$verdict" --arg c "$CLUSTER" --arg url "$ingress/" --arg count "$n" \
    --arg w "headless Chromium, $n products through the page's form" \
    --argjson m "$m" --argjson ex "$ex" --argjson k "$BROWSER_CONSOLE_HEAD" --argjson apps "$(sget app_count)" \
    --arg shot "$( [ -s "$page/screenshot.png" ] && echo page/screenshot.png)" --slurpfile servers "$DIR/servers.json" \
    --argjson el "$(awk -v a="$started" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }')" '
    (.served_by // {}) as $pods | ([$pods[]] | add // 0) as $all
    | {name: $n, kind: "browser", topology: $t, architecture: $a, shows: $s, outcome: $o, workload: $w,
       cluster: $c, app_count: $apps, app: "fakeapp", url: $url, browser: .browser,
       delivery_ratio: (if $m.created > 0 then $m.live / $m.created else null end),
       client_delivery_mean: (if $m.created > 0 then $m.live / $m.created else null end),
       lost: $m.missing, missed: $m.missing, gap_lost: null, undelivered: null, unannounced: null,
       committed_unknown: null, events: null, p99_ms: null,
       requests_per_pod: $pods, pod_share_max: (if $all > 0 then ([$pods[]] | max) / $all else null end),
       requests: {sent: ($count | tonumber), ok: $m.created}, connections: {opened: $m.connects},
       page: $m, console: (.console[:$k]), console_file: "console.txt",
       screenshot: (if $shot == "" then null else $shot end),
       servers: ($servers[0] // {}), faults: [], expectations: $ex, verdict: $v, elapsed_s: $el}' "$page/result.json" >"$DIR/result.json.new" ||
    { fail_result "$name" "cannot read the page's result"; echo "FAIL: $name: cannot read $page/result.json" >&2; return 1; }
  mv "$DIR/result.json.new" "$DIR/result.json"
  v_up=$(printf '%s' "$verdict" | tr '[:lower:]' '[:upper:]')
  echo "$v_up: $name (page: $(jq -r '.page | "\(.created) created, \(.live) live, \(.missing) missing; \(.transport // "never connected"); seed warning lines \(.seed_warning)"' "$DIR/result.json"); $(sget outcome), $(jq -r .elapsed_s "$DIR/result.json")s)"
  if [ "$QUIET" -eq 0 ] || [ "$verdict" != pass ]; then
    jq -r '.expectations[] | "    \(if .pass then "ok  " else "FAIL" end) \(.expect)  (actual \(.actual))"' "$DIR/result.json"
    [ "$QUIET" -eq 1 ] || sed -n "1,${BROWSER_CONSOLE_HEAD}s/^/    console /p" "$DIR/console.txt"
  fi
  [ "$verdict" = pass ]
}
