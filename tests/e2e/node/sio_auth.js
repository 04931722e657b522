// Client authentication over Socket.IO with the unmodified socket.io-client: a refused token
// is a connect_error whose data.code names the reason; an accepted one connects, and its
// "channels" claim bounds the rooms the socket may join.
//   node sio_auth.js WS_PORT HTTP_PORT GOOD_TOKEN BAD_TOKEN EXPIRED_TOKEN
'use strict';
const http = require('http');
const { io } = require('socket.io-client');
const [wsPort, httpPort, good, bad, expired] = process.argv.slice(2);
let failures = 0;
const check = (ok, name, why) => { console.log(ok ? `PASS: ${name}` : `FAIL: ${name}: ${why}`); if (!ok) failures++; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function refusal(token) {
  return new Promise((resolve) => {
    const s = io(`http://127.0.0.1:${wsPort}`, { auth: token ? { token } : {}, reconnection: false });
    s.on('connect', () => { s.close(); resolve({ connected: true }); });
    s.on('connect_error', (e) => { s.close(); resolve({ message: e.message, code: e.data && e.data.code }); });
  });
}
function emit(channel) {
  const body = JSON.stringify({ event: 'new_product', payload: { ch: channel || '' }, ...(channel ? { channel } : {}) });
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/emit', method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}
(async () => {
  let r = await refusal(null);
  check(r.code === 'missing', 'sio_auth_missing_refused', JSON.stringify(r));
  r = await refusal(bad);
  check(r.code === 'bad_signature' && /signature/i.test(r.message), 'sio_auth_bad_signature_refused', JSON.stringify(r));
  r = await refusal(expired);
  check(r.code === 'expired', 'sio_auth_expired_refused', JSON.stringify(r));
  const got = [];
  const s = io(`http://127.0.0.1:${wsPort}`, { auth: { token: good, channels: ['store-1', 'store-2'] } });
  const subs = [];
  s.on('_subscribed', (d) => subs.push(d));
  s.on('new_product', (d) => got.push(d.ch));
  await new Promise((res) => { s.on('connect', res); setTimeout(res, 5000); });
  check(s.connected, 'sio_auth_good_token_connects', 'not connected');
  await sleep(200);
  const sub = subs[0] || { channels: [], refused: [] };
  check(sub.channels.join() === 'store-1' && sub.refused.length === 1 && sub.refused[0].reason === 'forbidden',
    'sio_auth_rooms_bounded_by_token', JSON.stringify(sub));
  const ack = await s.timeout(3000).emitWithAck('subscribe', ['store-3']).catch((e) => ({ err: String(e) }));
  check(ack.ok === false && ack.refused[0].reason === 'forbidden', 'sio_auth_later_join_refused', JSON.stringify(ack));
  for (const ch of ['store-1', 'store-2', '', 'store-3']) await emit(ch);
  await sleep(500);
  check(got.join() === 'store-1,', 'sio_auth_only_granted_rooms', got.join());
  s.close();
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: sio_auth_driver: ${e.stack}`); process.exit(1); });
