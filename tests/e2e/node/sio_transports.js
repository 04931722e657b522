// The unmodified socket.io-client (npm) against a Socket.IO endpoint of the hub, on every
// transport, and connection state recovery after forced disconnects:
//   node sio_transports.js TARGET WS_PORT EMIT_URL [RESTART_CMD_JSON]
// TARGET names the checks ("relay" or "fakeapp"); EMIT_URL is the relay's /emit or fakeapp's
// /products (events are announced as new_product either way). With RESTART_CMD_JSON
// ({"cmd":..., "args":[...], "log":...}) the script also runs its own server to restart it.
// Prints "PASS: name" / "FAIL: name: why"; exits 1 when any failed.
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const { spawn } = require('child_process');
const { io } = require('socket.io-client');

const [target, wsPort, emitUrl, restartJson] = process.argv.slice(2);
let failures = 0;
function check(ok, name, why) {
  if (ok) console.log(`PASS: ${target}_${name}`);
  else { console.log(`FAIL: ${target}_${name}: ${why}`); failures++; }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(20); }
  return cond();
}
const run = Date.now().toString(36);
let seqNo = 0;

// One event through the app's or the relay's HTTP API; resolves with the HTTP status.
function emit(url = emitUrl) {
  const seq = seqNo++;
  const u = new URL(url);
  const app = u.pathname === '/products';
  const body = JSON.stringify(app ? { name: `p${seq}`, price: 1, req_id: `sio-${run}-${seq}` }
    : { event: 'new_product', payload: { name: `p${seq}` } });
  return new Promise((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}
async function emitN(n, url) {
  let ok = 0;
  for (let i = 0; i < n; i++) ok += [201, 202].includes(await emit(url));
  return ok;
}
function parseOffset(s) {
  const i = typeof s === 'string' ? s.lastIndexOf(':') : -1;
  return i < 0 ? null : { epoch: s.slice(0, i), n: Number(s.slice(i + 1)) };
}

// A socket.io-client socket that records what it sees.
function client(port, opts = {}) {
  const st = { events: [], connects: 0, recovered: [], recoveries: [], first: null, transport: null,
    disconnects: [], errors: [] };
  st.sock = io(`http://127.0.0.1:${port}`, { reconnectionDelay: 100, reconnectionDelayMax: 400,
    timeout: 5000, ...opts });
  st.sock.io.on('open', () => {
    const e = st.sock.io.engine;
    if (st.first === null) st.first = e.transport.name;
    st.transport = e.transport.name;
    e.on('upgrade', (t) => { st.transport = t.name; });
  });
  st.sock.on('connect', () => { st.connects++; st.recovered.push(st.sock.recovered); });
  st.sock.on('new_product', (data, off) => st.events.push({ name: data.name, off: parseOffset(off) }));
  st.sock.on('_recovery', (d) => st.recoveries.push(d));
  st.sock.on('disconnect', (r) => st.disconnects.push(r));
  st.sock.on('connect_error', (e) => st.errors.push(e.message));
  return st;
}
// Offsets contiguous (one epoch), no duplicate: what "no gap" means.
function contiguous(events) {
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1].off, b = events[i].off;
    if (!a || !b || a.epoch !== b.epoch || b.n !== a.n + 1) return `${JSON.stringify(a)} then ${JSON.stringify(b)}`;
  }
  return null;
}

// A TCP proxy between client and server that can cut every connection, or freeze them
// (nothing passes; new connections are refused) so that the server's heartbeat gives up.
function proxy(upstreamPort) {
  const pairs = new Set();
  let frozen = false;
  const srv = net.createServer((c) => {
    if (frozen) { c.destroy(); return; }
    const u = net.connect(upstreamPort, '127.0.0.1');
    const p = { c, u };
    pairs.add(p);
    c.pipe(u); u.pipe(c);
    const end = () => { c.destroy(); u.destroy(); pairs.delete(p); };
    for (const s of [c, u]) { s.on('error', end); s.on('close', end); }
  });
  return {
    listen: () => new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv.address().port))),
    cut() { for (const p of [...pairs]) { p.c.destroy(); p.u.destroy(); } },
    freeze() { frozen = true; for (const p of pairs) { p.c.unpipe(p.u); p.u.unpipe(p.c); p.c.pause(); p.u.pause(); } },
    thaw() { this.cut(); frozen = false; },
    close() { this.cut(); srv.close(); },
  };
}

const MODES = [['default', {}], ['polling', { transports: ['polling'] }],
  ['websocket', { transports: ['websocket'] }]];

async function transports() {
  for (const [mode, opts] of MODES) {
    const cs = Array.from({ length: 4 }, () => client(wsPort, opts));
    const up = await until(() => cs.every((c) => c.sock.connected &&
      (mode === 'polling' || c.transport === 'websocket')), 10000);
    check(up, `${mode}_connect`, cs.map((c) => `${c.sock.connected}/${c.transport}/${c.errors}`).join(' '));
    const want = mode === 'websocket' ? 'websocket' : 'polling';
    check(cs.every((c) => c.first === want), `${mode}_first_transport_${want}`, cs.map((c) => c.first).join(','));
    const end = mode === 'polling' ? 'polling' : 'websocket';
    check(cs.every((c) => c.transport === end), `${mode}_ends_on_${end}`, cs.map((c) => c.transport).join(','));
    const n = 12;
    const ok = await emitN(n);
    check(ok === n, `${mode}_emitted`, `${ok}/${n}`);
    await until(() => cs.every((c) => c.events.length >= n), 10000);
    const bad = cs.map((c) => (c.events.length === n ? contiguous(c.events) : `${c.events.length}/${n} events`)).filter(Boolean);
    check(bad.length === 0, `${mode}_every_client_every_event_in_order`, bad.join('; '));
    check(cs.every((c) => c.recovered[0] === false && c.connects === 1), `${mode}_fresh_not_recovered`,
      cs.map((c) => c.recovered).join(','));
    cs.forEach((c) => c.sock.close());
  }
}

// A forced disconnect; afterwards the socket must say recovered and have every event once.
async function recovery(name, opts, disconnect, settle = 0) {
  const c = client(opts.port || wsPort, opts.io);
  const ready = await until(() => c.sock.connected && (opts.io.transports || c.transport === 'websocket'), 10000);
  await emitN(3);
  const got3 = await until(() => c.events.length >= 3, 5000);
  if (!ready || !got3) {
    check(false, `${name}_setup`, `connected=${c.sock.connected} transport=${c.transport} events=${c.events.length}`);
    c.sock.close();
    return;
  }
  await disconnect(c);
  const missed = await emitN(4); // announced while the client is away (or coming back)
  if (settle) await sleep(settle);
  const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
  await emitN(2);
  const all = await until(() => c.events.length >= 9, 8000);
  await sleep(200);
  check(back && c.recovered[c.recovered.length - 1] === true, `${name}_recovered_true`,
    `connects=${c.connects} recovered=${JSON.stringify(c.recovered)} disconnects=${c.disconnects} recoveries=${JSON.stringify(c.recoveries)}`);
  const gap = contiguous(c.events);
  check(missed === 4 && all && c.events.length === 9 && !gap, `${name}_no_gap_no_duplicate`,
    `${c.events.length}/9 events, ${gap || 'contiguous'}`);
  c.sock.close();
}

async function restart(spec) {
  // A single in-memory relay restarted: its history (and epoch) is gone, so the client is
  // told recovered=false, with a reason, and live events follow.
  let child = null;
  const start = () => {
    child = spawn(spec.cmd, spec.args, { stdio: ['ignore', fs.openSync(spec.log, 'a'), fs.openSync(spec.log, 'a')] });
  };
  const stop = () => new Promise((r) => { if (!child || child.exitCode !== null) return r(); child.once('exit', r); child.kill('SIGTERM'); });
  start();
  const up = async () => {
    for (let i = 0; i < 100; i++) { if ((await emit(spec.emit)) === 202) return true; await sleep(50); }
    return false;
  };
  if (!(await up())) { check(false, 'restart_setup', 'own relay did not come up'); await stop(); return; }
  const c = client(spec.port, {});
  await until(() => c.sock.connected && c.transport === 'websocket', 10000);
  await emitN(2, spec.emit);
  await until(() => c.events.length >= 2, 5000);
  await stop();
  start();
  await up();
  const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
  await emitN(2, spec.emit);
  await until(() => c.events.length >= 4, 5000);
  const last = c.recoveries[c.recoveries.length - 1];
  check(back && c.recovered[c.recovered.length - 1] === false, 'restart_recovered_false',
    `connects=${c.connects} recovered=${JSON.stringify(c.recovered)}`);
  check(last && last.recovered === false && last.reason === 'epoch_changed', 'restart_told_why', JSON.stringify(last));
  check(c.events.length >= 4 && c.events[c.events.length - 1].off.epoch !== c.events[0].off.epoch,
    'restart_live_events_after', JSON.stringify(c.events.map((e) => e.off)));
  c.sock.close();
  await stop();
}

(async () => {
  await transports();
  for (const [mode, opts] of MODES) {
    await recovery(`engine_close_${mode}`, { io: opts }, async (c) => { c.sock.io.engine.close(); });
  }
  for (const [mode, opts] of MODES.slice(1)) {
    const p = proxy(Number(wsPort));
    const port = await p.listen();
    await recovery(`network_cut_${mode}`, { io: opts, port }, async () => { p.cut(); });
    // Frozen longer than pingInterval + pingTimeout: the server closes the session itself.
    await recovery(`server_timeout_${mode}`, { io: opts, port }, async () => {
      p.freeze();
      setTimeout(() => p.thaw(), Number(process.env.SIO_FREEZE_MS || 2600));
    }, 0);
    p.close();
  }
  if (restartJson) await restart(JSON.parse(restartJson));
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: ${target}_driver: ${e.stack}`); process.exit(1); });
