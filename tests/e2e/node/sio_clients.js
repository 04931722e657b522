// What real apps' browser code does beyond connect-and-listen, with the unmodified
// socket.io-client (and raw packets where the client cannot be made to send them):
//   node sio_clients.js WS_PORT HTTP_PORT MAX_PAYLOAD
// - on every transport option (default, polling, websocket, upgrade:false, forceBase64,
//   addTrailingSlash:false) and with retries: emits of events the relay does not handle, with and without
//   acks, volatile emits, binary payloads (one and two attachments, with an ack),
//   timeout().emitWithAck of subscribe/unsubscribe: every ack answered, the session intact,
//   every event delivered;
// - binary attachments on the wire: dropped without desyncing the parser; more than the
//   limit, unannounced ones and a packet where one was due refused (session closed);
// - a binary payload over maxPayload: the session ends with the limit's error, the client
//   recovers without a gap;
// - io("/admin") alone and multiplexed with "/" over one manager; disconnect() then connect();
// - a client connected throughout loses nothing.
// Prints "PASS: name" / "FAIL: name: why"; exits 1 when any failed.
'use strict';
const http = require('http');
const WS = require('ws');
const { io } = require('socket.io-client');
const L = require('./sio_lib');

const [wsPort, httpPort, maxPayloadArg] = process.argv.slice(2);
const maxPayload = Number(maxPayloadArg);
const url = `http://127.0.0.1:${wsPort}`;
const emitUrl = `http://127.0.0.1:${httpPort}/emit`;
const { check, sleep, until, client, contiguous } = L;
let emitted = 0;
async function emitN(n) {
  const ok = await L.emitN(n, emitUrl);
  emitted += ok;
  return ok;
}
const bounded = (p, ms) => Promise.race([p, sleep(ms).then(() => ({ timeout: true }))]);
const acked = (p) => bounded(p.catch((e) => ({ error: e.message })), 8000);
const unsupported = (r) => r && r.ok === false && r.error === 'unsupported_event' && typeof r.message === 'string';

const MODES = [
  ['default', {}],
  ['polling', { transports: ['polling'] }],
  ['websocket', { transports: ['websocket'] }],
  ['no_upgrade', { upgrade: false }],
  ['force_base64', { forceBase64: true }],
  ['websocket_base64', { transports: ['websocket'], forceBase64: true }],
  ['no_trailing_slash', { addTrailingSlash: false }],
  // Every emit waits for an ack and is retried without one, one at a time (socket.io-client
  // >= 4.6): an event the relay never acknowledged would stall all that follow.
  ['retries', { retries: 2, ackTimeout: 3000 }],
];

// Everything a page may send; each answer recorded.
async function talk(c) {
  const s = c.sock;
  const r = {};
  s.emit('chat', { text: 'hi' });
  s.volatile.emit('typing', true);
  r.ack = await acked(s.timeout(5000).emitWithAck('chat', { text: 'with ack' }));
  // (With retries the callback gets an error argument first, null here.)
  r.cb = await bounded(new Promise((res) => s.emit('anything', 1, 'two', (...a) => res(a[a.length - 1]))), 8000);
  s.emit('upload', new Uint8Array(64).fill(7));
  r.binAck = await acked(s.timeout(5000).emitWithAck('upload', new Uint8Array([1, 2, 3]),
    { nested: Buffer.alloc(10, 1) }));
  r.sub = await acked(s.timeout(5000).emitWithAck('subscribe', ['room-a']));
  r.unsub = await acked(s.timeout(5000).emitWithAck('unsubscribe', 'room-a'));
  return r;
}

async function modes(bystander) {
  const cs = MODES.map(([, opts]) => client(wsPort, opts));
  const up = await until(() => cs.every((c, i) => c.sock.connected &&
    (MODES[i][1].transports || MODES[i][1].upgrade === false || c.transport === 'websocket')), 15000);
  check(up, 'modes_connect', cs.map((c, i) => `${MODES[i][0]}:${c.sock.connected}/${c.transport}/${c.errors}`).join(' '));
  const answers = await Promise.all(cs.map(talk));
  const n = 10;
  const ok = await emitN(n);
  await until(() => cs.every((c) => c.events.length >= n), 10000);
  await sleep(300);
  cs.forEach((c, i) => {
    const [mode, opts] = MODES[i];
    const r = answers[i];
    check(unsupported(r.ack), `${mode}_unknown_event_ack_told`, JSON.stringify(r.ack));
    check(unsupported(r.cb), `${mode}_callback_ack_told`, JSON.stringify(r.cb));
    check(unsupported(r.binAck) && /binary/.test(r.binAck.message), `${mode}_binary_event_ack_told`, JSON.stringify(r.binAck));
    check(r.sub && r.sub.ok === true && r.sub.channels.includes('room-a') && r.unsub && r.unsub.ok === true &&
      r.unsub.channels.length === 0, `${mode}_subscribe_acks`, `${JSON.stringify(r.sub)} ${JSON.stringify(r.unsub)}`);
    const gap = c.events.length === n ? contiguous(c.events) : `${c.events.length}/${n} events`;
    check(ok === n && !gap && c.connects === 1 && c.disconnects.length === 0, `${mode}_session_intact_every_event`,
      `${gap || 'contiguous'} connects=${c.connects} disconnects=${c.disconnects}`);
    const end = opts.transports ? opts.transports[0] : opts.upgrade === false ? 'polling' : 'websocket';
    check(c.transport === end, `${mode}_ends_on_${end}`, c.transport);
  });
  cs.forEach((c) => c.sock.close());
  check(bystander.connects === 1, 'bystander_undisturbed_by_modes', `connects=${bystander.connects}`);
}

// A raw Engine.IO websocket joined to "/"; resolves with helpers to send and await packets.
function rawWs() {
  return new Promise((resolve) => {
    const w = new WS(`ws://127.0.0.1:${wsPort}/socket.io/?EIO=4&transport=websocket`);
    const st = { w, texts: [], closed: null };
    w.on('message', (d, bin) => {
      const t = bin ? null : d.toString();
      if (t === '2') { w.send('3'); return; }
      if (t !== null) st.texts.push(t);
      if (t && t.startsWith('0{')) w.send('40');
      if (t && t.startsWith('40{')) resolve(st);
    });
    w.on('close', (code, why) => { st.closed = { code, why: why.toString() }; resolve(st); });
    w.on('error', () => {});
  });
}

async function wire() {
  const ph = (k) => `{"_placeholder":true,"num":${k}}`;
  {
    // Two attachments, a pong between them, then a subscribe with an ack: answered as usual.
    const s = await rawWs();
    s.w.send(`452-["x",${ph(0)},${ph(1)}]`);
    s.w.send(Uint8Array.from([1, 2, 3]));
    s.w.send('3');
    s.w.send(Uint8Array.from([4, 5, 6]));
    s.w.send('4217["subscribe",["b"]]');
    s.w.send(`451-9["y",${ph(0)}]`);
    s.w.send('bAQIDBA=='); // the attachment as base64 text (forceBase64)
    s.w.send('4218["unsubscribe",["b"]]');
    await until(() => s.texts.some((t) => t.startsWith('4318[')) || s.closed, 5000);
    const a17 = s.texts.find((t) => t.startsWith('4317['));
    const a9 = s.texts.find((t) => t.startsWith('439['));
    check(!s.closed && a17 && JSON.parse(a17.slice(4))[0].ok === true && s.texts.some((t) => t.startsWith('4318[')),
      'wire_attachments_dropped_parser_in_step', `closed=${JSON.stringify(s.closed)} ${s.texts.join(' | ')}`);
    check(a9 && unsupported(JSON.parse(a9.slice(3))[0]), 'wire_binary_event_ack', `${a9}`);
    s.w.close();
  }
  const refusals = [
    ['too_many_attachments', (w) => w.send(`4517-["x"${`,${ph(0)}`.repeat(17)}]`)],
    ['unannounced_attachment', (w) => w.send(Uint8Array.from([1]))],
    ['unannounced_base64_attachment', (w) => w.send('bAQ==')],
    ['packet_where_attachment_due', (w) => { w.send(`451-["x",${ph(0)}]`); w.send('42["y"]'); }],
    ['attachment_over_max_payload', (w) => { w.send(`451-["x",${ph(0)}]`); w.send(Buffer.alloc(maxPayload + 1)); }],
    ['text_over_max_payload', (w) => w.send(`42["x","${'a'.repeat(maxPayload)}"]`)],
  ];
  for (const [name, act] of refusals) {
    const s = await rawWs();
    act(s.w);
    await until(() => s.closed, 5000);
    const want = /over_max_payload/.test(name) ? 1009 : 1008;
    check(s.closed && s.closed.code === want, `wire_${name}_closed_${want}`, JSON.stringify(s.closed));
  }
  await oneWebsocketPerSession();
  // Long-polling: the attachments come as base64 packets of the POST.
  const req = (method, q, body) => new Promise((resolve) => {
    const r = http.request({ host: '127.0.0.1', port: wsPort, method, path: `/socket.io/?EIO=4&transport=polling${q}`,
      headers: body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) } },
    (res) => { let b = ''; res.setEncoding('utf8'); res.on('data', (d) => { b += d; }); res.on('end', () => resolve({ status: res.statusCode, body: b })); });
    r.on('error', (e) => resolve({ status: 0, body: e.message }));
    r.end(body);
  });
  {
    const hs = await req('GET', '');
    const sid = JSON.parse(hs.body.slice(1)).sid;
    await req('POST', `&sid=${sid}`, '40');
    await req('GET', `&sid=${sid}`); // 40{..} and _connected
    const p = await req('POST', `&sid=${sid}`, `451-["x",${ph(0)}]\x1ebAQID\x1e4221["subscribe",["c"]]`);
    const g = await req('GET', `&sid=${sid}`);
    check(p.status === 200 && /4321\[\{"ok":true/.test(g.body), 'polling_attachments_dropped_parser_in_step', `${p.status} ${p.body} / ${g.body}`);
    const bad = await req('POST', `&sid=${sid}`, 'bAQID');
    let j = null;
    try { j = JSON.parse(bad.body); } catch (e) { /* reported below */ }
    check(bad.status === 400 && j && j.code === 3 && /refused/.test(j.detail), 'polling_unannounced_attachment_400', `${bad.status} ${bad.body}`);
    const after = await req('GET', `&sid=${sid}`);
    check(after.status === 400, 'polling_session_closed_after_refusal', `${after.status} ${after.body}`);
  }
}

function httpGet(path) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: wsPort, path }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    }).on('error', (e) => resolve({ status: 0, body: e.message }));
  });
}

// "A client MUST NOT open more than one WebSocket connection per session. Should it happen,
// the server MUST close the WebSocket connection": a second websocket with the sid of a
// websocket session (opened as one, or upgraded) is accepted and closed (1008), as the
// reference server does, not refused at the handshake; a poll with that sid gets 400
// "Bad request" (wrong transport). The session itself goes on.
async function oneWebsocketPerSession() {
  const second = (sid) => new Promise((resolve) => {
    const r = { opened: false, error: null, code: null };
    const w = new WS(`ws://127.0.0.1:${wsPort}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    w.on('open', () => { r.opened = true; w.send('2probe'); });
    w.on('error', (e) => { r.error = e.message; });
    w.on('close', (code) => { r.code = code; resolve(r); });
    setTimeout(() => resolve(r), 5000);
  });
  const alive = async (s, id) => {
    s.w.send(`42${id}["subscribe",["z"]]`);
    return until(() => s.texts.some((t) => t.startsWith(`43${id}[`)), 5000);
  };
  {
    const s = await rawWs();
    const sid = JSON.parse(s.texts[0].slice(1)).sid;
    const r = await second(sid);
    check(r.opened && r.error === null && r.code === 1008, 'second_websocket_of_ws_session_closed', JSON.stringify(r));
    const g = await httpGet(`/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    check(g.status === 400 && JSON.parse(g.body).code === 3, 'poll_of_ws_session_bad_request', `${g.status} ${g.body}`);
    check(!s.closed && await alive(s, 31), 'ws_session_goes_on', JSON.stringify(s.closed));
    s.w.close();
  }
  {
    const hs = await httpGet('/socket.io/?EIO=4&transport=polling');
    const sid = JSON.parse(hs.body.slice(1)).sid;
    const s = { texts: [], closed: null };
    s.w = new WS(`ws://127.0.0.1:${wsPort}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    s.w.on('message', (d) => {
      const t = d.toString();
      s.texts.push(t);
      if (t === '3probe') { s.w.send('5'); s.w.send('40'); }
      if (t === '2') s.w.send('3');
    });
    s.w.on('close', (code) => { s.closed = code; });
    s.w.on('open', () => s.w.send('2probe'));
    await until(() => s.texts.some((t) => t.startsWith('40{')), 5000);
    const r = await second(sid);
    check(r.opened && r.error === null && r.code === 1008, 'second_websocket_of_upgraded_session_closed', JSON.stringify(r));
    const g = await httpGet(`/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    check(g.status === 400 && JSON.parse(g.body).code === 3, 'poll_of_upgraded_session_bad_request', `${g.status} ${g.body}`);
    check(s.closed === null && await alive(s, 32), 'upgraded_session_goes_on', `${s.closed} ${s.texts.join(' | ')}`);
    s.w.close();
  }
}

// A binary payload over maxPayload from the unmodified client: the session ends with the
// limit's error (1009 / 413), socket.io-client reconnects and recovers with no gap.
async function oversize(mode, opts) {
  const c = client(wsPort, opts);
  await until(() => c.sock.connected && (opts.transports || c.transport === 'websocket'), 10000);
  await emitN(2);
  await until(() => c.events.length >= 2, 5000);
  c.sock.emit('upload', Buffer.alloc(maxPayload + 512, 1));
  await until(() => c.disconnects.length > 0, 8000);
  await emitN(3);
  const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
  await emitN(1);
  await until(() => c.events.length >= 6, 8000);
  const gap = c.events.length === 6 ? contiguous(c.events) : `${c.events.length}/6 events`;
  check(c.disconnects.length === 1 && back && c.recovered[c.recovered.length - 1] === true && !gap,
    `${mode}_over_max_payload_ends_session_recovers`,
    `disconnects=${c.disconnects} connects=${c.connects} recovered=${c.recovered} ${gap || 'contiguous'}`);
  c.sock.close();
}

async function namespaces() {
  const alone = io(`${url}/admin`, { forceNew: true, reconnection: false });
  const e1 = await bounded(new Promise((r) => alone.on('connect_error', (e) => r(e.message))), 8000);
  check(e1 === 'Invalid namespace', 'namespace_alone_connect_error', JSON.stringify(e1));
  alone.close();
  // "/" and "/admin" over one manager (socket.io-client multiplexes by default).
  const root = client(wsPort, { forceNew: true });
  await until(() => root.sock.connected, 8000);
  const admin = root.sock.io.socket('/admin'); // a second namespace over root's manager
  const errs = [];
  admin.on('connect_error', (e) => errs.push(e.message));
  await until(() => errs.length >= 1, 8000);
  admin.connect(); // asked again: refused again, "/" undisturbed
  await until(() => errs.length >= 2, 8000);
  await emitN(3);
  await until(() => root.events.length >= 3, 5000);
  check(admin.io === root.sock.io && errs.join() === 'Invalid namespace,Invalid namespace' && !admin.connected,
    'namespace_multiplexed_refused', `shared=${admin.io === root.sock.io} errors=${errs}`);
  check(root.sock.connected && root.connects === 1 && root.events.length === 3 && !contiguous(root.events),
    'namespace_multiplexed_root_unaffected', `connected=${root.sock.connected} events=${root.events.length}`);
  root.sock.close();
}

// disconnect() then connect(): the client sends its pid and offset again; the relay keeps no
// per-session state, so it resumes (recovered, the events it missed replayed).
async function reconnect(mode, opts) {
  const c = client(wsPort, { forceNew: true, ...opts });
  await until(() => c.sock.connected, 8000);
  await emitN(2);
  await until(() => c.events.length >= 2, 5000);
  c.sock.disconnect();
  await emitN(3);
  c.sock.connect();
  const back = await until(() => c.connects >= 2 && c.sock.connected, 8000);
  await emitN(1);
  await until(() => c.events.length >= 6, 5000);
  const gap = c.events.length === 6 ? contiguous(c.events) : `${c.events.length}/6 events`;
  check(back && c.disconnects[0] === 'io client disconnect' && c.recovered.join() === 'false,true' && !gap,
    `${mode}_disconnect_connect_recovers`, `recovered=${c.recovered} disconnects=${c.disconnects} ${gap || 'contiguous'}`);
  c.sock.close();
}

(async () => {
  const bystander = client(wsPort, { forceNew: true });
  await until(() => bystander.sock.connected && bystander.transport === 'websocket', 10000);
  await modes(bystander);
  await wire();
  await oversize('websocket', { transports: ['websocket'], forceNew: true });
  await oversize('polling', { transports: ['polling'], forceNew: true });
  await namespaces();
  await reconnect('websocket', { transports: ['websocket'] });
  await reconnect('polling', { transports: ['polling'] });
  await until(() => bystander.events.length >= emitted, 8000);
  const gap = bystander.events.length === emitted ? contiguous(bystander.events) : `${bystander.events.length}/${emitted}`;
  check(bystander.connects === 1 && bystander.disconnects.length === 0 && !gap, 'bystander_every_event_once',
    `${gap || 'contiguous'} connects=${bystander.connects}`);
  bystander.sock.close();
  process.exit(L.failed() ? 1 : 0);
})().catch((e) => { console.log(`FAIL: driver: ${e.stack}`); process.exit(1); });
