#!/usr/bin/env bash
# bench/report.sh [DIR] — the side-by-side table, DIR/report.json and DIR/report.html
# (gnuplot SVG plots: deliveries/s vs clients, latency CDF, memory vs clients) from the
# results.jsonl that bench/compare.sh wrote into DIR (default out/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${BENCH_OUT:-out/bench}}
RESULTS=$OUT/results.jsonl
[ -s "$RESULTS" ] || { echo "bench/report: no $RESULTS (run bench/compare.sh)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench/report: jq is not installed (make deps)" >&2; exit 1; }

# ---------------------------------------------------------------- report.json
# rows: [figure, relay, nchan2, nchan1, socketio, x vs nchan2, x vs nchan1, x vs socketio];
# a ratio is how many times better the relay is (higher deliveries/s, or lower latency,
# memory, time, CPU).
jq -s -f /dev/stdin "$RESULTS" >"$OUT/report.json" <<'JQ'
def num: if type == "number" then . else null end;
# The measurement of server $s in mode $m (with $n clients), or the record that skipped it.
def pick($s; $m; $n): [.[] | select(.server == $s and ((.mode == $m and ($n == null or .clients == $n)) or (.mode == "all" and .skipped)))] | first;
# The best of the repeated measurements (latency: lowest p99; storm: quickest), or pick's.
def best($s; $m; $n; k): [.[] | select(.server == $s and .mode == $m and ($n == null or .clients == $n) and .error == null and .skipped == null)] as $ok
  | if ($ok | length) > 0 then ($ok | min_by(k)) else pick($s; $m; $n) end;
def cell($r; f): if $r == null then null elif $r.skipped then {skipped: $r.skipped}
                 elif $r.error then {error: $r.error} else {value: ($r | f | num)} end;
def fmt($u): if . == null then "" elif .skipped then "skipped" elif .error then "ERROR"
             elif .value == null then "-"
             elif $u == "rate" then (.value | if . >= 1e6 then "\(. / 1e4 | round / 100)M" elif . >= 1e3 then "\(. / 10 | round / 100)k" else "\(round)" end)
             elif $u == "int" then (.value | round | tostring | if length > 3 then .[:-3] + "," + .[-3:] else . end)
             else (.value * 100 | round / 100 | tostring) end;
def ratio($a; $b; $higher): if $a == null or $b == null then ""
             elif ($a.value | num) == null or ($b.value | num) == null or $a.value <= 0 or $b.value <= 0 then "-"
             else (if $higher then $a.value / $b.value else $b.value / $a.value end | . * 10 | round / 10 | "\(.)x") end;
# A table row from the four cells (relay, nchan2, nchan1, socketio).
# $higher: true or false says which way the relay wins (ratios shown); null: no ratio.
def row($name; $c; $u; $higher):
  {figure: $name, cells: $c, unit: $u, higher_is_better: $higher,
   text: ([$name] + [$c[] | fmt($u)] + (if $higher == null then ["", "", ""]
          else [ratio($c[0]; $c[1]; $higher), ratio($c[0]; $c[2]; $higher), ratio($c[0]; $c[3]; $higher)] end))};
# A latency row: a server that sustained less than 95 % of the relay's event rate was
# measured under a lighter load, so its ratio is replaced by the rate it sustained.
def lat_row($name; $c; $rates):
  row($name; $c; "num"; false) | .text as $t
  | .text = [range(0; $t | length) as $i
      | if $i >= 5 and $rates[0] != null and $rates[$i - 4] != null and $rates[$i - 4] < 0.95 * $rates[0]
        then "n/a: \($rates[$i - 4] | round)/s" else $t[$i] end];
def all_ok($s): [.[] | select(.server == $s and .mode == "fanout")] as $f
  | if ($f | length) == 0 then null
    elif ([$f[] | select(.error or .skipped)] | length) > 0 then {error: "a run failed"}
    else {value: ([$f[] | .lost + .duplicates + .out_of_order + .closed + .publish_failed] | add)} end;
def cpu_per_M($s): [.[] | select(.server == $s and .mode == "fanout" and .deliveries > 0)] as $f
  | if ($f | length) == 0 then null else {value: (([$f[] | .server_cpu_s] | add) / ([$f[] | .deliveries] | add) * 1e6)} end;
def maxof($s; $m; f): [.[] | select(.server == $s and .mode == $m and .error == null and .skipped == null) | f] as $v
  | if ($v | length) == 0 then null else {value: ($v | max)} end;
. as $all
| ["relay", "nchan2", "nchan1", "socketio"] as $S
| ($all | [.[] | select(.mode == "fanout" and (.server | IN("relay","nchan2","nchan1","socketio"))) | .clients] | unique) as $N
| {
  generated: (now | todate),
  machine: ($all | [.[] | select(.mode == "machine")]),
  client: "relay_bench: bws subscribers (raw sockets, one epoll loop, one thread) and libcurl publishers (keep-alive HTTP, one thread each)",
  rows: (
    [$N[] as $n | row("fan-out, \($n | tostring | if length > 3 then .[:-3] + "," + .[-3:] else . end) clients, deliveries/s"; [$S[] as $s | cell($all | pick($s; "fanout"; $n); .deliveries_per_s)]; "rate"; true)]
    + [row("fan-out: events lost+duplicated+reordered"; [$S[] as $s | $all | all_ok($s)]; "int"; null)]
    + [row("fan-out: server CPU s per million deliveries"; [$S[] as $s | $all | cpu_per_M($s)]; "num"; false)]
    + [row("fan-out: server CPU, % of one core (max)"; [$S[] as $s | $all | maxof($s; "fanout"; .server_cpu_pct)]; "int"; null)]
    + [row("fan-out: client CPU, % of one core (max)"; [$S[] as $s | $all | maxof($s; "fanout"; .client_cpu_pct)]; "int"; null)]
    + [row("latency 1,000 clients: events/s sustained"; [$S[] as $s | cell($all | best($s; "latency"; 1000; .p99_ms); .events_per_s)]; "int"; null)]
    + [("p50", "p99", "p999") as $p | lat_row("latency 1,000 clients x 200/s: \($p) ms"; [$S[] as $s | cell($all | best($s; "latency"; 1000; .p99_ms); .["\($p)_ms"])]; [$S[] as $s | $all | best($s; "latency"; 1000; .p99_ms) | .events_per_s?])]
    + [row("latency run: server CPU, % of one core"; [$S[] as $s | cell($all | best($s; "latency"; 1000; .p99_ms); .server_cpu_pct)]; "int"; null)]
    + [row("latency run: client CPU, % of one core"; [$S[] as $s | cell($all | best($s; "latency"; 1000; .p99_ms); .client_cpu_pct)]; "int"; null)]
    + [row("idle: RSS KiB per upgraded connection"; [$S[] as $s | cell($all | pick($s; "idle"; null); .bytes_per_conn / 1024)]; "num"; false)]
    + [row("idle: connections measured"; [$S[] as $s | cell($all | pick($s; "idle"; null); .clients)]; "int"; null)]
    + [row("connect storm: s until all upgraded"; [$S[] as $s | cell($all | best($s; "storm"; null; .all_s); if .all_s < 0 then null else .all_s end)]; "num"; false)]
    + [row("connect storm: clients"; [$S[] as $s | cell($all | best($s; "storm"; null; .all_s); .clients)]; "int"; null)]
    + [row("Socket.IO ws clients: fan-out 1,000, deliveries/s"; [cell($all | pick("relay-sio"; "fanout"; 1000); .deliveries_per_s), null, null, cell($all | pick("socketio"; "fanout"; 1000); .deliveries_per_s)]; "rate"; true)]
    + [row("Socket.IO ws clients: events/s sustained (x 200/s)"; [cell($all | best("relay-sio"; "latency"; 1000; .p99_ms); .events_per_s), null, null, cell($all | best("socketio"; "latency"; 1000; .p99_ms); .events_per_s)]; "int"; null)]
    + [lat_row("Socket.IO ws clients: p99 ms at 1,000 x 200/s"; [cell($all | best("relay-sio"; "latency"; 1000; .p99_ms); .p99_ms), null, null, cell($all | best("socketio"; "latency"; 1000; .p99_ms); .p99_ms)]; [($all | best("relay-sio"; "latency"; 1000; .p99_ms) | .events_per_s?), null, null, ($all | best("socketio"; "latency"; 1000; .p99_ms) | .events_per_s?)])]
    + [row("Socket.IO polling clients: fan-out 1,000, deliveries/s"; [cell($all | pick("relay-polling"; "fanout"; null); .deliveries_per_s), null, null, cell($all | pick("socketio-polling"; "fanout"; null); .deliveries_per_s)]; "rate"; true)]
    + [row("Socket.IO polling clients: events/s sustained (x 200/s)"; [cell($all | best("relay-polling"; "latency"; null; .p99_ms); .events_per_s), null, null, cell($all | best("socketio-polling"; "latency"; null; .p99_ms); .events_per_s)]; "int"; null)]
    + [lat_row("Socket.IO polling clients: p99 ms at 1,000 x 200/s"; [cell($all | best("relay-polling"; "latency"; null; .p99_ms); .p99_ms), null, null, cell($all | best("socketio-polling"; "latency"; null; .p99_ms); .p99_ms)]; [($all | best("relay-polling"; "latency"; null; .p99_ms) | .events_per_s?), null, null, ($all | best("socketio-polling"; "latency"; null; .p99_ms) | .events_per_s?)])]
    + [row("MongoDB-backed relay: emits/s (10 clients, 8 publishers)"; [cell($all | pick("relay-mongo"; "fanout"; null); .events_per_s), null, null, null]; "int"; true)]
    + [row("  in-memory relay, the same load: emits/s"; [cell($all | pick("relay-mem"; "fanout"; null); .events_per_s), null, null, null]; "int"; true)]
    + [row("MongoDB-backed relay: p99 ms at 1,000 x 200/s"; [cell($all | best("relay-mongo"; "latency"; null; .p99_ms); .p99_ms), null, null, null]; "num"; false)]
    + [row("latency 1,000 clients x 50/s: p99 ms"; [cell($all | best("relay-50"; "latency"; 1000; .p99_ms); .p99_ms), cell($all | best("nchan2-50"; "latency"; 1000; .p99_ms); .p99_ms), null, null]; "num"; false)]
    + [row("  relay --send-threads 1: p99 ms at 50/s"; [cell($all | best("relay-t1-50"; "latency"; 1000; .p99_ms); .p99_ms), cell($all | best("nchan2-50"; "latency"; 1000; .p99_ms); .p99_ms), null, null]; "num"; false)]
    + [row("  relay --send-threads 1: p99 ms at 200/s"; [cell($all | best("relay-t1"; "latency"; 1000; .p99_ms); .p99_ms), cell($all | best("nchan2"; "latency"; 1000; .p99_ms); .p99_ms), null, null]; "num"; false)]
    + [(1, 10, 100) as $k | row("channels: 5,000 clients on \($k), deliveries/s"; [cell($all | pick("relay-ch\($k)"; "fanout"; null) // pick("relay-ch"; "fanout"; null); .deliveries_per_s), cell($all | pick("nchan2-ch\($k)"; "fanout"; null); .deliveries_per_s), null, null]; "rate"; true)]
  ),
  skipped: [$all[] | select(.skipped) | {server, mode, skipped}],
  errors: [$all[] | select(.error) | {server, mode, clients, error}],
  results: [$all[] | select(.mode != "machine")]
}
JQ

# ---------------------------------------------------------------- the table
{
  printf 'figure\trelay\tNchan 2w\tNchan 1w\tSocket.IO\tvs Nchan 2w\tvs Nchan 1w\tvs Socket.IO\n'
  jq -r '.rows[] | .text | @tsv' "$OUT/report.json"
} | awk -F'\t' '
  { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } rows = NR; cols = NF }
  END {
    for (r = 1; r <= rows; r++) {
      line = ""
      for (i = 1; i <= cols; i++)
        line = line (i > 1 ? "  " : "") sprintf(i == 1 ? "%-" w[i] "s" : "%" w[i] "s", cell[r, i])
      sub(/ +$/, "", line)
      print line
      if (r == 1) { s = line; gsub(/./, "-", s); print s }
    }
  }' | tee "$OUT/table.txt"
cat <<'TXT' | tee -a "$OUT/table.txt"

"vs X": how many times better the relay is than X (more deliveries/s; less latency, memory,
time or CPU); "n/a: R/s" where X sustained only R of the events/s the relay did, so their
latencies were taken under different loads. Fan-out is saturated: the publisher keeps the server busy, every event is
counted in. Latency and storm: the better of BENCH_REPEAT runs, for every server alike.
Ratios hold within one run on one machine; absolute numbers are noise here.
TXT
jq -r '.client as $c | .machine[] | "machine (\(.when)): \(.nproc) cores, load average \(.loadavg)"' "$OUT/report.json" | tee -a "$OUT/table.txt"
jq -r '"client: " + .client' "$OUT/report.json" | tee -a "$OUT/table.txt"
jq -r '.skipped[] | "skipped: \(.server) \(.mode): \(.skipped)"' "$OUT/report.json" | tee -a "$OUT/table.txt"
jq -r '.errors[] | "ERROR: \(.server) \(.mode) \(.clients // ""): \(.error)"' "$OUT/report.json" | tee -a "$OUT/table.txt"

bench/plots.sh "$OUT"
