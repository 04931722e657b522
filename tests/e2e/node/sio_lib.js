// Shared pieces of the Socket.IO end-to-end drivers: a recording socket.io-client socket,
// emits through the relay's or fakeapp's HTTP API, a TCP proxy that can cut, freeze or
// switch connections, and the "no gap" check on offset strings.
'use strict';
const http = require('http');
const net = require('net');
const { io } = require('socket.io-client');

let failures = 0, prefix = '';
function setPrefix(p) { prefix = p; }
function check(ok, name, why) {
  if (ok) console.log(`PASS: ${prefix}${name}`);
  else { console.log(`FAIL: ${prefix}${name}: ${why}`); failures++; }
}
function failed() { return failures; }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(20); }
  return cond();
}
const run = Date.now().toString(36);
let seqNo = 0;

// One event through the app's or the relay's HTTP API; resolves with the HTTP status.
function emit(url) {
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
  if (typeof s === 'string' && s.includes('~')) s = s.slice(0, s.indexOf('~')); // recorded rooms
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
  let target = upstreamPort;
  const pairs = new Set();
  let frozen = false;
  const srv = net.createServer((c) => {
    if (frozen) { c.destroy(); return; }
    const u = net.connect(target, '127.0.0.1');
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
    retarget(port) { target = port; },
  };
}


module.exports = { check, failed, setPrefix, sleep, until, emit, emitN, parseOffset, client, contiguous, proxy };
