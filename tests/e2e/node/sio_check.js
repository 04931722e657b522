// End-to-end check of the relay's Socket.IO v4 endpoint with the real socket.io-client:
//   node sio_check.js WS_PORT HTTP_PORT CLIENTS EVENTS
// Prints "PASS: name" / "FAIL: name: why" lines; exits 1 when any failed.
'use strict';
const http = require('http');
const { io } = require('socket.io-client');

const [wsPort, httpPort, nClients, nEvents] = process.argv.slice(2).map(Number);
const url = `http://127.0.0.1:${wsPort}`;
let failures = 0;
function check(ok, name, why) {
  if (ok) console.log(`PASS: ${name}`);
  else { console.log(`FAIL: ${name}: ${why}`); failures++; }
}
function parseOffset(s) {
  if (typeof s === 'string' && s.includes('~')) s = s.slice(0, s.indexOf('~')); // recorded rooms
  const i = typeof s === 'string' ? s.lastIndexOf(':') : -1;
  return i < 0 ? { offset: NaN, epoch: undefined } : { epoch: s.slice(0, i), offset: Number(s.slice(i + 1)) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(20); }
  return cond();
}
function emit(seq) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ event: 'new_product', payload: { seq, name: `p${seq}` } });
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/emit', method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}
function client(opts = {}) {
  const st = { events: [], recovery: null, connected: null, sock: null, disconnectReason: null };
  st.sock = io(url, { transports: ['websocket'], reconnection: false, ...opts });
  // The last argument is the offset string "EPOCH:N" (what connection state recovery keeps).
  st.sock.on('new_product', (data, off) => st.events.push({ data, meta: parseOffset(off) }));
  st.sock.on('_recovery', (d) => { st.recovery = d; });
  st.sock.on('_connected', (d) => { st.connected = d; });
  st.sock.on('disconnect', (reason) => { st.disconnectReason = reason; });
  return st;
}

(async () => {
  const cs = Array.from({ length: nClients }, () => client());
  const allConnected = await until(() => cs.every((c) => c.sock.connected && c.connected), 15000);
  check(allConnected, 'sio_connect', `${cs.filter((c) => c.sock.connected).length}/${nClients} connected`);

  let ok202 = 0;
  for (let i = 0; i < nEvents; i++) ok202 += (await emit(i)) === 202;
  check(ok202 === nEvents, 'sio_emit_202', `${ok202}/${nEvents}`);
  await until(() => cs.every((c) => c.events.length >= nEvents), 15000);
  const complete = cs.filter((c) => c.events.length === nEvents).length;
  check(complete === nClients, 'sio_every_client_every_event', `${complete}/${nClients} got all ${nEvents}`);
  const ordered = cs.every((c) => c.events.every((e, i) =>
    e.data.seq === i && (i === 0 || e.meta.offset === c.events[i - 1].meta.offset + 1)));
  check(ordered, 'sio_in_order_with_offsets', 'events out of order or offsets not consecutive');
  const epoch = cs[0].events[0] && cs[0].events[0].meta.epoch;
  check(typeof epoch === 'string' && epoch === cs[0].connected.epoch, 'sio_meta_epoch', `epoch ${epoch}`);

  // Resume through the auth payload: exactly the missed events, then live ones.
  const last = cs[0].events[nEvents - 1].meta.offset;
  cs.forEach((c) => c.sock.disconnect());
  for (let i = 0; i < 5; i++) await emit(1000 + i);
  const r = client({ auth: { since: last, epoch } });
  await until(() => r.events.length >= 5, 10000);
  check(r.recovery && r.recovery.recovered === true, 'sio_resume_recovered', JSON.stringify(r.recovery));
  const offs = r.events.map((e) => e.meta.offset);
  check(offs.length === 5 && offs.every((o, i) => o === last + 1 + i), 'sio_resume_exactly_missed',
    `offsets ${offs}`);
  await emit(2000);
  await until(() => r.events.length >= 6, 5000);
  check(r.events.length === 6 && r.events[5].data.seq === 2000, 'sio_resume_then_live', `${r.events.length} events`);

  // Resume through the query string with a stale epoch: told, not replayed.
  const q = client({ query: { since: '1', epoch: 'stale0epoch' } });
  await until(() => q.recovery !== null, 5000);
  check(q.recovery && q.recovery.recovered === false && q.recovery.reason === 'epoch_changed',
    'sio_stale_epoch_told', JSON.stringify(q.recovery));

  // A pid no server issues (a forged or corrupted one): told, never a silent fresh session.
  const bp = client({ auth: { pid: 'a"b', offset: `${epoch}:1` } });
  await until(() => bp.recovery !== null, 5000);
  check(bp.recovery && bp.recovery.recovered === false && bp.recovery.reason === 'bad_pid',
    'sio_bad_pid_told', JSON.stringify(bp.recovery));
  bp.sock.close();

  // Heartbeat: the relay runs with --ping-interval 1s; socket.io-client drops the connection
  // when no ping arrives within pingInterval + pingTimeout, so staying up 3.5 s proves them.
  await sleep(3500);
  check(r.sock.connected && r.disconnectReason === null, 'sio_heartbeat_keeps_alive',
    `disconnected: ${r.disconnectReason}`);

  // A namespace the relay does not serve is refused with connect_error.
  const bad = io(`${url}/admin`, { transports: ['websocket'], reconnection: false });
  const refused = await new Promise((res) => {
    bad.on('connect_error', (e) => res(e.message));
    bad.on('connect', () => res(null));
    setTimeout(() => res('timeout'), 5000);
  });
  check(refused === 'Invalid namespace', 'sio_unknown_namespace_refused', `got ${refused}`);
  bad.close(); r.sock.disconnect(); q.sock.disconnect();
  process.exit(failures ? 1 : 0);
})();
