#!/usr/bin/env bash
# bench/plots.sh DIR — DIR/report.html with three gnuplot SVG plots (deliveries/s vs
# clients, publish-to-receive latency CDF, server memory vs idle clients) and the table,
# from DIR/report.json, DIR/table.txt and the cdf-*.tsv files bench/compare.sh wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/plots.sh DIR}
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "bench/plots: gnuplot not installed; report.html skipped (apt-get install gnuplot-nox)" >&2
  exit 0
fi
data=$OUT/plot-data
rm -rf "$data"
mkdir -p "$data"

# One colour per server in every plot; the relay's lines are the thick ones.
colour() {
  case $1 in
    relay) echo "#1f5fbf" ;; relay-sio) echo "#59a5e8" ;; relay-mongo) echo "#8c6bb1" ;;
    relay-polling) echo "#17becf" ;; socketio-polling) echo "#f5b26b" ;;
    nchan2) echo "#2ca02c" ;; nchan1) echo "#98c878" ;; socketio) echo "#e6740f" ;;
    *) echo "#777777" ;;
  esac
}

# gp_lines FILE_PREFIX STYLE: "'file' using 1:2 with STYLE ... title 'name'" for each file.
gp_lines() {
  local f name lw list=""
  for f in "$data/$1"-*.tsv; do
    [ -s "$f" ] || continue
    name=${f##*/"$1"-}
    name=${name%.tsv}
    lw=2
    [ "${name%%-*}" = relay ] && lw=3
    list+="${list:+, }'$f' using 1:2 with $2 lw $lw lc rgb '$(colour "$name")' title '$name'"
  done
  echo "$list"
}

for s in $(jq -r '[.results[] | select(.mode == "fanout" and .channels == 0 and .error == null) | .server] | unique | .[]' "$OUT/report.json"); do
  jq -r --arg s "$s" '.results[] | select(.server == $s and .mode == "fanout" and .channels == 0 and .error == null)
    | "\(.clients)\t\(.deliveries_per_s)"' "$OUT/report.json" | sort -n >"$data/fanout-$s.tsv"
done
for s in $(jq -r '[.results[] | select(.mode == "idle" and .points) | .server] | unique | .[]' "$OUT/report.json"); do
  jq -r --arg s "$s" '.results[] | select(.server == $s and .mode == "idle") | .points[] | "\(.[0])\t\(.[1] / 1024)"' \
    "$OUT/report.json" >"$data/memory-$s.tsv"
done
# Latency CDFs: the run the table reports (lowest p99) of each server.
for s in $(jq -r '[.results[] | select(.mode == "latency" and .error == null) | .server] | unique | .[]' "$OUT/report.json"); do
  n=$(jq -r --arg s "$s" '[.results[] | select(.server == $s and .mode == "latency" and .error == null)]
    | to_entries | min_by(.value.p99_ms) | .key + 1' "$OUT/report.json")
  f=$OUT/cdf-$s.$n.tsv
  [ -s "$f" ] || f=$OUT/cdf-$s.tsv
  # A point every 0.2 % of the deliveries, and every point of the last 1 %.
  [ -s "$f" ] && awk 'NR == 1 || $2 - last >= 0.002 || $2 > 0.99 { print $1 "\t" $2; last = $2 }' "$f" >"$data/cdf-$s.tsv"
done

common="set terminal svg size 860,440 dynamic enhanced font 'sans,11' background rgb 'white'
set datafile separator '\t'
set grid lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top"
fan=$(gp_lines fanout linespoints)
mem=$(gp_lines memory linespoints)
cdf=$(gp_lines cdf lines)
gnuplot 2>"$data/gnuplot.log" <<GP || echo "bench/plots: gnuplot failed; see $data/gnuplot.log" >&2
$common
set output '$OUT/fanout.svg'
set title 'Saturated fan-out: deliveries per second (all events delivered)'
set xlabel 'clients'
set ylabel 'deliveries/s (log scale)'
set logscale y
${fan:+plot $fan}
unset logscale y
set output '$OUT/memory.svg'
set title 'Server resident memory with idle upgraded clients (VmRSS)'
set ylabel 'RSS (MiB)'
${mem:+plot $mem}
set output '$OUT/latency-cdf.svg'
set title 'Publish-to-receive latency, 1,000 clients x 200 events/s'
set xlabel 'latency (ms, log scale)'
set ylabel 'fraction of deliveries'
set logscale x
set yrange [0:1.02]
set key bottom right
${cdf:+plot $cdf}
GP

esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
{
  cat <<'HTML'
<!doctype html><html><head><meta charset="utf-8"><title>relaylab: make bench</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}img{max-width:100%}</style>
</head><body><h1>relaylab: the relay beside Nchan and Socket.IO</h1>
<p>One run of <code>make bench</code> on one machine: compare the ratios, not the absolute
numbers. Source: <code>results.jsonl</code>, <code>report.json</code>.</p>
HTML
  echo "<pre>"
  esc <"$OUT/table.txt"
  echo "</pre>"
  for p in fanout latency-cdf memory; do
    [ -s "$OUT/$p.svg" ] && echo "<p><img src=\"$p.svg\" alt=\"$p\"></p>"
  done
  echo "</body></html>"
} >"$OUT/report.html"
echo "report: $OUT/report.html, $OUT/report.json"
