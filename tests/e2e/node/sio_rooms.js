// Channels as Socket.IO rooms, with the unmodified socket.io-client and its default options
// (long-polling, then the upgrade): a socket joins rooms with its auth payload and later
// with subscribe/unsubscribe events (acknowledged), and receives exactly the events of its
// rooms plus the broadcast ones; refusals (a bad name, the per-client limit) are told; a
// socket resumes after a disconnect in the rooms it was in (recorded in its offset), whether
// or not it kept socket.auth.channels in step.
//   node sio_rooms.js WS_PORT HTTP_PORT MAX_CHANNELS
'use strict';
const http = require('http');
const { io } = require('socket.io-client');

const [wsPort, httpPort, maxCh] = process.argv.slice(2).map(Number);
let failures = 0;
function check(ok, name, why) {
  console.log(ok ? `PASS: ${name}` : `FAIL: ${name}: ${why}`);
  if (!ok) failures++;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(20); }
  return cond();
}
let n = 0;
function emit(channel) {
  const body = JSON.stringify({ event: 'new_product', payload: { n: ++n, ch: channel || '' },
    ...(channel ? { channel } : {}) });
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/emit', method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}
function sock(auth) {
  const st = { got: [], subscribed: [], connected: false };
  st.s = io(`http://127.0.0.1:${wsPort}`, { auth });
  st.s.on('connect', () => { st.connected = true; });
  st.s.on('new_product', (data) => st.got.push(data));
  st.s.on('_subscribed', (d) => st.subscribed.push(d));
  return st;
}
const chans = (st) => st.got.map((d) => d.ch);

(async () => {
  const a = sock({ channels: ['store-1'] });
  const b = sock({ channels: ['store-2'] });
  const c = sock({});
  const bad = sock({ channels: ['no spaces allowed', 'store-3'] });
  const many = sock({ channels: Array.from({ length: maxCh + 3 }, (_, i) => `c${i}`) });
  const comma = sock({ channels: ['x,y', 'store-4'] });
  const all = [a, b, c, bad, many, comma];
  check(await until(() => all.every((s) => s.connected), 10000), 'rooms_connected',
    all.map((s) => s.connected).join(','));
  await until(() => a.s.io.engine.transport.name === 'websocket', 3000);
  check(bad.subscribed.length === 1 && bad.subscribed[0].refused.length === 1 &&
        bad.subscribed[0].refused[0].reason === 'invalid' &&
        bad.subscribed[0].channels.join() === 'store-3', 'rooms_invalid_name_refused',
  JSON.stringify(bad.subscribed));
  // A name with a comma is one invalid name, as in a subscribe message, not two rooms.
  check(comma.subscribed.length === 1 && comma.subscribed[0].channels.join() === 'store-4' &&
        comma.subscribed[0].refused.length === 1 && comma.subscribed[0].refused[0].reason === 'invalid',
  'rooms_comma_name_refused', JSON.stringify(comma.subscribed));
  const m = many.subscribed[0] || { channels: [], refused: [] };
  check(m.channels.length === maxCh && m.refused.length === 3 &&
        m.refused.every((r) => r.reason === 'limit'), 'rooms_limit_refused',
  `joined ${m.channels.length}, refused ${JSON.stringify(m.refused)}`);

  for (const ch of ['store-1', 'store-2', '', 'store-3', 'store-1']) await emit(ch);
  await until(() => a.got.length >= 3 && b.got.length >= 2 && c.got.length >= 1, 5000);
  await sleep(300);
  check(chans(a).join() === 'store-1,,store-1', 'rooms_auth_join_exact', chans(a).join());
  check(chans(b).join() === 'store-2,', 'rooms_other_room_exact', chans(b).join());
  check(chans(c).join() === '', 'rooms_none_broadcast_only', JSON.stringify(chans(c)));
  check(chans(bad).join() === ',store-3', 'rooms_partial_join_exact', chans(bad).join());

  // Join a room later, with an acknowledgement.
  const ack = await b.s.timeout(3000).emitWithAck('subscribe', ['store-1']).catch((e) => ({ err: String(e) }));
  check(ack && ack.ok === true && ack.channels.includes('store-1') && ack.channels.includes('store-2'),
    'rooms_subscribe_acknowledged', JSON.stringify(ack));
  const nack = await b.s.timeout(3000).emitWithAck('subscribe', 'bad room').catch((e) => ({ err: String(e) }));
  check(nack && nack.ok === false && nack.refused[0].reason === 'invalid', 'rooms_bad_subscribe_refused',
    JSON.stringify(nack));
  b.got.length = 0;
  await emit('store-1');
  await until(() => b.got.length >= 1, 3000);
  check(chans(b).join() === 'store-1', 'rooms_later_join_delivers', chans(b).join());
  const left = await b.s.timeout(3000).emitWithAck('unsubscribe', ['store-1']).catch((e) => ({ err: String(e) }));
  check(left && left.channels.join() === 'store-2', 'rooms_unsubscribe_acknowledged', JSON.stringify(left));
  b.got.length = 0;
  await emit('store-1');
  await emit('store-2');
  await until(() => b.got.length >= 1, 3000);
  await sleep(300);
  check(chans(b).join() === 'store-2', 'rooms_left_room_silent', chans(b).join());

  // Recovery after a forced disconnect, for a room joined later: the socket keeps
  // socket.auth.channels in step with its subscribe (docs/protocol.md), so the resumed
  // session is in that room and is replayed the event it missed while away.
  const r = sock({});
  all.push(r);
  await until(() => r.connected, 10000);
  const rack = await r.s.timeout(3000).emitWithAck('subscribe', ['store-9']).catch(() => null);
  if (rack && rack.ok) r.s.auth = { ...r.s.auth, channels: rack.channels };
  r.got.length = 0;
  r.s.io.engine.close();
  await emit('store-9');
  await new Promise((res) => { r.s.once('connect', res); setTimeout(res, 10000); });
  await until(() => r.got.length >= 1, 3000);
  await emit('store-9');
  await until(() => r.got.length >= 2, 3000);
  check(r.s.recovered === true && chans(r).join() === 'store-9,store-9',
    'rooms_recovered_with_auth_in_step', `recovered=${r.s.recovered} got ${chans(r).join()}`);

  // The same without touching socket.auth, as an app written for Socket.IO's own server
  // does: the rooms left and joined later are recorded in the offset the client keeps, so
  // the resumed session is in store-7 (joined) and not in store-6 (left): the events of
  // store-7 and the broadcast one sent while away are replayed, store-6's are not.
  const q = sock({ channels: ['store-6'] });
  all.push(q);
  await until(() => q.connected, 10000);
  await q.s.timeout(3000).emitWithAck('subscribe', ['store-7']).catch(() => null);
  const qleft = await q.s.timeout(3000).emitWithAck('unsubscribe', ['store-6']).catch(() => null);
  check(qleft && qleft.channels.join() === 'store-7', 'rooms_moved_before_disconnect', JSON.stringify(qleft));
  q.got.length = 0;
  q.s.io.engine.close();
  await emit('store-7');
  await emit('store-6');
  await emit(null);
  await new Promise((res) => { q.s.once('connect', res); setTimeout(res, 10000); });
  await emit('store-6');
  await emit('store-7');
  await until(() => q.got.length >= 3, 3000);
  await sleep(300);
  check(q.s.recovered === true && chans(q).join() === 'store-7,,store-7',
    'rooms_recovered_as_left_without_auth', `recovered=${q.s.recovered} got ${JSON.stringify(chans(q))}`);

  // A recorded offset naming more rooms than a client may join (a forged one): the resumed
  // session joins up to the limit, and from then on its offsets record only what it joined.
  const z = sock({});
  all.push(z);
  await until(() => z.connected, 10000);
  await z.s.timeout(3000).emitWithAck('subscribe', ['z-0']).catch(() => null);
  await until(() => typeof z.s._lastOffset === 'string' && z.s._lastOffset.includes('~'), 3000);
  const head = String(z.s._lastOffset).split('~')[0];
  z.s._lastOffset = `${head}~${Array.from({ length: maxCh + 4 }, (_, i) => `z-${i}`).join(',')}`;
  z.s.io.engine.close();
  await new Promise((res) => { z.s.once('connect', res); setTimeout(res, 10000); });
  z.got.length = 0;
  await emit('z-1');
  await until(() => z.got.length >= 1, 3000);
  const rec = String(z.s._lastOffset).split('~')[1] || '';
  check(z.s.recovered === true && chans(z).join() === 'z-1' && rec.split(',').length === maxCh,
    'rooms_record_bounded_by_limit', `recovered=${z.s.recovered} got ${chans(z).join()} offset ${z.s._lastOffset}`);

  for (const s of all) s.s.close();
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: rooms_driver: ${e.stack}`); process.exit(1); });
