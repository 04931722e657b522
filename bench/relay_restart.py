"""Reads what bench/relay_restart.sh left in DIR: when each client recovered after the
restart, frame latency per second around it, relay A's replay metrics, lost/duplicated."""
import json
import sys

d = sys.argv[1]
rs = int(open(d + '/restart_ns').read()) / 1e3  # µs, wall clock
try:
    rd = (int(open(d + '/ready_ns').read()) / 1e3 - rs) / 1e6
except (OSError, ValueError):
    rd = float('nan')
w0 = None
first = {}
inv = {}
secs = {}
for line in open(d + '/run.jsonl'):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    ty = o.get('type')
    if ty == 'start':
        w0 = o['wall_us']
    elif ty == 'invoke':
        inv[o['req_id']] = o['t']
    elif ty == 'recovery' and w0 is not None and w0 + o['t'] >= rs:
        first.setdefault(o['client'], ((w0 + o['t'] - rs) / 1e6, o.get('recovered')))
    elif ty == 'frame' and w0 is not None:
        k = int((w0 + o['t'] - rs) // 1e6)
        lat = (o['t'] - inv.get(o.get('req_id'), o['t'])) / 1e3
        x = secs.setdefault(k, [0, 0.0, 0.0])
        x[0] += 1
        x[1] += lat
        x[2] = max(x[2], lat)
ts = sorted(v[0] for v in first.values())
n = len(ts)


def q(p):
    return ts[min(n - 1, int(p * n))] if n else float('nan')


print(f"ready_after_s={rd:.2f} recovered_clients={n} "
      f"not_recovered={sum(1 for v in first.values() if not v[1])} "
      f"p50={q(.5):.2f}s p90={q(.9):.2f}s p99={q(.99):.2f}s last={q(1):.2f}s")
m = []
for line in open(d + '/metricsA.txt'):
    f = line.split()
    if len(f) == 2 and not line.startswith('#') and ('replay' in f[0] or f[0] == 'ws_clients'):
        m.append(f"{f[0]}={f[1]}")
print(' '.join(m))
j = json.load(open(d + '/run.json'))
e = j.get('events', {})
print(f"lost={e.get('lost')} duplicated={e.get('duplicated')} connections={json.dumps(j.get('connections'))}")
for k in sorted(secs):
    if -3 <= k <= 20:
        c, s, mx = secs[k]
        print(f"sec {k:+3d} frames {c:7d} latency mean {s / c:6.0f} ms max {mx:6.0f} ms")
