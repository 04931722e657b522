// Malformed Engine.IO long-polling (and upgrade) requests against the hub's /socket.io/, each
// with the answer docs/protocol.md documents (the reference server's where it defines one):
//   node sio_bad.js PORT MAX_PAYLOAD PING_INTERVAL_MS
// Requests go over raw sockets so that every byte (bad UTF-8, lying Content-Length, HTTP/1.0,
// concurrent requests) is exactly what is sent. Prints "PASS: name" / "FAIL: name: why".
'use strict';
const net = require('net');

const [port, maxPayload, pingMs] = process.argv.slice(2).map(Number);
const HOST = '127.0.0.1';
let failures = 0;
function check(ok, name, why) {
  if (ok) console.log(`PASS: ${name}`);
  else { console.log(`FAIL: ${name}: ${why}`); failures++; }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sends raw bytes, resolves with {status, headers, body} of the first response, or
// {error} when the connection ends without one. Bounded by ms.
function raw(bytes, ms = 5000, keep = null) {
  return new Promise((resolve) => {
    const s = net.connect(port, HOST);
    let buf = Buffer.alloc(0), done = false;
    const finish = (r) => { if (done) return; done = true; clearTimeout(t); if (!keep) s.destroy(); resolve(r); };
    const t = setTimeout(() => finish({ error: 'timeout' }), ms);
    if (keep) keep.sock = s;
    s.on('error', (e) => finish({ error: e.message }));
    s.on('close', () => finish(parse(buf) || { error: 'closed without an answer' }));
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); const r = parse(buf); if (r) finish(r); });
    s.write(bytes);
  });
}
function parse(buf) {
  const i = buf.indexOf('\r\n\r\n');
  if (i < 0) return null;
  const head = buf.slice(0, i).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (!m) return null;
  const headers = {};
  for (const l of head.slice(1)) { const k = l.indexOf(':'); headers[l.slice(0, k).toLowerCase()] = l.slice(k + 1).trim(); }
  const len = Number(headers['content-length'] || 0);
  if (buf.length - i - 4 < len) return null;
  return { status: Number(m[1]), headers, body: buf.slice(i + 4, i + 4 + len).toString('utf8') };
}
function req(method, query, { body = null, headers = {}, version = '1.1', path = '/socket.io/' } = {}) {
  let h = `${method} ${path}${query} HTTP/${version}\r\nHost: ${HOST}:${port}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
  const b = body === null ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (body !== null && !('Content-Length' in headers) && !('Transfer-Encoding' in headers)) h += `Content-Length: ${b.length}\r\n`;
  return Buffer.concat([Buffer.from(h + '\r\n', 'latin1'), b]);
}
const Q = '?EIO=4&transport=polling';
const get = (sid, extra = '') => raw(req('GET', `${Q}&sid=${sid}${extra}`));
const post = (sid, body, headers) => raw(req('POST', `${Q}&sid=${sid}`, { body, headers }));
async function open() {
  const r = await raw(req('GET', Q));
  if (r.status !== 200 || !r.body.startsWith('0')) throw new Error(`handshake: ${JSON.stringify(r)}`);
  return JSON.parse(r.body.slice(1)).sid;
}
async function joined() {
  const sid = await open();
  await post(sid, '40');
  await get(sid); // 40{...}, _connected
  return sid;
}
const err = (code, message) => JSON.stringify({ code, message });
function expectError(r, status, code, message, name) {
  let body = null;
  try { body = JSON.parse(r.body); } catch (e) { /* reported below */ }
  check(r.status === status && body && body.code === code && body.message === message, name,
    `got ${r.status || r.error} ${r.body || ''}`);
}
async function gone(sid, name) {
  const r = await get(sid);
  check(r.status === 400 && r.body === err(1, 'Session ID unknown'), `${name}_session_closed`, `then GET: ${r.status} ${r.body}`);
}

(async () => {
  // -- handshakes and unknown sessions: the reference server's exact bodies
  expectError(await get('nope'), 400, 1, 'Session ID unknown', 'unknown_sid_get');
  expectError(await post('nope', '3'), 400, 1, 'Session ID unknown', 'unknown_sid_post');
  expectError(await get('x'.repeat(600)), 400, 1, 'Session ID unknown', 'oversized_sid');
  expectError(await raw(req('GET', '?EIO=3&transport=polling')), 400, 5, 'Unsupported protocol version', 'eio_3');
  expectError(await raw(req('GET', '?transport=polling')), 400, 5, 'Unsupported protocol version', 'eio_missing');
  expectError(await raw(req('GET', '?EIO=abc&transport=polling')), 400, 5, 'Unsupported protocol version', 'eio_garbage');
  expectError(await raw(req('GET', '?EIO=4')), 400, 0, 'Transport unknown', 'transport_missing');
  expectError(await raw(req('GET', '?EIO=4&transport=flashsocket')), 400, 0, 'Transport unknown', 'transport_unknown');
  expectError(await raw(req('POST', Q, { body: '40' })), 400, 2, 'Bad handshake method', 'handshake_by_post');
  expectError(await raw(req('PUT', Q, { body: '40' })), 400, 2, 'Bad handshake method', 'handshake_by_put');
  expectError(await raw(req('GET', '?EIO=4&transport=websocket')), 400, 3, 'Bad request', 'websocket_without_upgrade');
  {
    const sid = await open();
    expectError(await raw(req('GET', `?EIO=4&transport=websocket&sid=${sid}`)), 400, 3, 'Bad request', 'session_with_other_transport');
    const r = await raw(req('DELETE', `${Q}&sid=${sid}`));
    expectError(r, 400, 3, 'Bad request', 'session_method_delete');
    check((await post(sid, '40')).status === 200, 'session_survives_bad_method', 'POST after DELETE refused');
  }
  {
    const r = await raw(req('GET', Q, { headers: { Origin: 'http://app.example' } }));
    check(r.status === 200 && r.headers['access-control-allow-origin'] === 'http://app.example' &&
      r.headers['access-control-allow-credentials'] === 'true', 'cors_origin_echoed', JSON.stringify(r.headers));
    const p = await raw(req('OPTIONS', Q, { headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } }));
    check(p.status === 204 && p.headers['access-control-allow-origin'] === 'http://app.example' &&
      /POST/.test(p.headers['access-control-allow-methods'] || '') && p.headers['access-control-allow-headers'] === 'content-type',
    'cors_preflight_204', `${p.status} ${JSON.stringify(p.headers)}`);
    const bad = await raw(Buffer.concat([Buffer.from(`GET /socket.io/${Q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nOrigin: http://\x80bad\r\n\r\n`, 'latin1')]));
    check(bad.status === 400 || bad.error !== undefined, 'origin_not_ascii_refused', `${bad.status} ${bad.body || bad.error}`);
  }
  {
    const r = await raw(req('GET', `${Q}&pad=${'a'.repeat(3000)}`));
    check(r.status === 200 && r.body.startsWith('0{'), 'long_unrelated_query_arg', `${r.status} ${r.error || ''}`);
    const h10 = await raw(req('GET', Q, { version: '1.0' }));
    check(h10.status === 200 && h10.body.startsWith('0{'), 'http_1_0_handshake', `${h10.status} ${h10.error || ''}`);
  }

  // -- POST bodies: each refusal closes the session, as the reference does on a parse error
  const bodies = [
    ['bad_packet_type', 'abc', 400],
    ['bad_socketio_packet', '4abc', 400],
    ['event_not_an_array', '42{}', 400],
    ['bad_ack_id', '42abc["x"]', 400],
    ['stray_separator', '3\x1e\x1e3', 400],
    ['trailing_separator', '40\x1e', 400],
    ['invalid_utf8', Buffer.from([0x34, 0x32, 0x5b, 0x22, 0xff, 0x22, 0x5d]), 400],
    ['nul_byte', Buffer.from([0x33, 0x1e, 0x00]), 400],
    ['base64_binary_packet', 'bAQIDBA==', 400],
    ['too_many_packets', Array(300).fill('6').join('\x1e'), 400],
    ['empty_body', '', 400],
    ['event_before_connect', '42["hello"]', 400],
  ];
  for (const [name, body, status] of bodies) {
    const sid = await open();
    const r = await post(sid, body);
    let j = null;
    try { j = JSON.parse(r.body); } catch (e) { /* reported */ }
    check(r.status === status && j && j.code === 3 && j.message === 'Bad request' && typeof j.detail === 'string',
      `post_${name}`, `got ${r.status || r.error} ${r.body || ''}`);
    await gone(sid, `post_${name}`);
  }
  {
    const sid = await open();
    const r = await post(sid, 'x'.repeat(maxPayload + 1));
    check(r.status === 413 && /maxPayload/.test(r.body), 'post_over_max_payload_413', `${r.status} ${r.body}`);
    await gone(sid, 'post_over_max_payload');
  }
  {
    // A Content-Length far beyond maxPayload is refused at once, without waiting for a body.
    const sid = await open();
    const t0 = Date.now();
    const r = await raw(req('POST', `${Q}&sid=${sid}`, { headers: { 'Content-Length': '1000000000000000' }, body: '40' }), 3000);
    check(r.status === 413 && Date.now() - t0 < 2500, 'post_huge_content_length_413', `${r.status || r.error} after ${Date.now() - t0} ms`);
  }
  {
    const sid = await open();
    const r = await post(sid, '3', { 'Content-Type': 'application/octet-stream' });
    check(r.status === 400 && /binary/.test(r.body), 'post_octet_stream_refused', `${r.status} ${r.body}`);
    await gone(sid, 'post_octet_stream');
  }
  {
    const sid = await open();
    const r = await raw(req('POST', `${Q}&sid=${sid}`, { headers: { 'Transfer-Encoding': 'chunked' }, body: '2\r\n40\r\n0\r\n\r\n' }));
    check(r.status === 411, 'post_without_content_length_411', `${r.status || r.error} ${r.body || ''}`);
    check((await post(sid, '40')).status === 200, 'post_411_keeps_session', 'session gone after 411');
  }
  {
    const sid = await open();
    check((await post(sid, '1')).status === 200, 'post_close_packet_ok', 'POST "1" refused');
    expectError(await post(sid, '40'), 400, 1, 'Session ID unknown', 'post_after_close');
  }

  // -- polls
  {
    const sid = await joined();
    const first = raw(req('GET', `${Q}&sid=${sid}`));
    await sleep(100);
    const second = await get(sid);
    const r1 = await first;
    check(second.status === 400 && JSON.parse(second.body).code === 3, 'concurrent_get_second_400', `${second.status} ${second.body}`);
    check(r1.status === 200 && r1.body === '1', 'concurrent_get_first_gets_close', `${r1.status} ${r1.body}`);
    await gone(sid, 'concurrent_get');
  }
  {
    // A POST whose body is still arriving, then a second POST: 400 and the session ends.
    const sid = await joined();
    const keep = {};
    const slow = raw(Buffer.from(`POST /socket.io/${Q}&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n3`, 'latin1'), 4000, keep);
    await sleep(150);
    const second = await post(sid, '3');
    check(second.status === 400 && /already in progress/.test(second.body), 'concurrent_post_400', `${second.status} ${second.body}`);
    keep.sock.write('\x1e6\x1e6\x1e6\x1e6\x1e');
    const r = await slow;
    check(r.status === 400 && JSON.parse(r.body || '{}').code === 1, 'concurrent_post_first_unknown', `${r.status || r.error} ${r.body || ''}`);
    keep.sock.destroy();
    await gone(sid, 'concurrent_post');
  }
  {
    const sid = await joined();
    const held = raw(req('GET', `${Q}&sid=${sid}`));
    await sleep(100);
    check((await post(sid, '1')).status === 200, 'close_with_poll_pending_ok', 'POST "1" refused');
    const r = await held;
    check(r.status === 200 && r.body === '6', 'close_releases_poll_with_noop', `${r.status} ${r.body}`);
  }
  {
    const sid = await open();
    check((await post(sid, '40/admin,')).status === 200, 'namespace_post_ok', 'refused');
    const r = await get(sid);
    check(r.status === 200 && r.body.includes('44/admin,{"message":"Invalid namespace"}'), 'unknown_namespace_refused', r.body);
  }
  {
    // Not polled for pingInterval + pingTimeout: the session is gone.
    const sid = await open();
    await sleep(pingMs * 2 + 800);
    await gone(sid, 'not_polled_expires');
  }
  {
    // Polled all along but the ping never answered: the ping timeout ends it (the script
    // around this driver checks it was counted in sio_ping_timeouts_total).
    const sid = await joined();
    const until = Date.now() + pingMs * 2 + 1500;
    let last = null;
    while (Date.now() < until) {
      last = await get(sid);
      if (last.status !== 200) break;
    }
    check(last && last.status === 400, 'unanswered_ping_ends_session', `last GET: ${last && (last.status || last.error)} ${last && last.body}`);
  }
  {
    // An upgrade with an unknown sid or version is refused as the reference does: 400 text/html.
    const up = (q) => raw(Buffer.from(`GET /socket.io/${q} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 'latin1'));
    const a = await up('?EIO=4&transport=websocket&sid=nope');
    check(a.status === 400 && a.body === 'Session ID unknown', 'upgrade_unknown_sid_400', `${a.status || a.error} ${a.body || ''}`);
    const b = await up('?EIO=3&transport=websocket');
    check(b.status === 400 && b.body === 'Unsupported protocol version', 'upgrade_eio_3_400', `${b.status || b.error} ${b.body || ''}`);
    const c = await up('?EIO=4&transport=polling');
    check(c.status === 400 && c.body === 'Bad request', 'upgrade_transport_polling_400', `${c.status || c.error} ${c.body || ''}`);
  }
  const alive = await raw(req('GET', Q));
  check(alive.status === 200, 'still_serving_after_bad_input', `${alive.status || alive.error}`);
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: sio_bad_driver: ${e.stack}`); process.exit(1); });
