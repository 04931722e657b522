// Connection state recovery across relays sharing one stream (relays over MongoDB):
//   node sio_multi.js WS_A HTTP_A WS_B HTTP_B
// A socket.io-client socket on relay A (through a TCP proxy) receives events; the proxy then
// sends it to relay B and cuts its connections, as a load balancer does when A goes away.
// Events announced meanwhile are more than B's ring holds, so B replays from MongoDB. The
// socket must come back with recovered:true (B keeps a pid it never issued, because only the
// offset decides) and have every event exactly once, on each transport.
'use strict';
const L = require('./sio_lib');

const [wsA, httpA, wsB, httpB] = process.argv.slice(2).map(Number);
L.setPrefix('multi_');
const { check, until, client, contiguous, proxy, emitN } = L;
const emitA = `http://127.0.0.1:${httpA}/emit`, emitB = `http://127.0.0.1:${httpB}/emit`;
const MODES = [['default', {}], ['polling', { transports: ['polling'] }],
  ['websocket', { transports: ['websocket'] }]];

(async () => {
  for (const [mode, opts] of MODES) {
    const p = proxy(wsA);
    const port = await p.listen();
    const c = client(port, opts);
    const up = await until(() => c.sock.connected && (opts.transports || c.transport === 'websocket'), 10000);
    const sent1 = await emitN(3, emitA);
    await until(() => c.events.length >= 3, 8000);
    const pidA = c.sock._pid;
    check(up && sent1 === 3 && c.events.length === 3, `${mode}_on_relay_a`,
      `connected=${c.sock.connected} events=${c.events.length}`);
    p.retarget(wsB);
    p.cut();
    const missed = await emitN(12, emitB); // more than relay B's ring (--history 4)
    const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
    const sent2 = await emitN(2, emitA);
    await until(() => c.events.length >= 17, 10000);
    await L.sleep(200);
    check(back && c.recovered[c.recovered.length - 1] === true && c.sock._pid === pidA,
      `${mode}_recovered_on_relay_b_same_pid`,
      `connects=${c.connects} recovered=${JSON.stringify(c.recovered)} pid ${pidA} -> ${c.sock._pid} recoveries=${JSON.stringify(c.recoveries)}`);
    const gap = contiguous(c.events);
    check(missed === 12 && sent2 === 2 && c.events.length === 17 && !gap, `${mode}_no_gap_no_duplicate`,
      `${c.events.length}/17 events, ${gap || 'contiguous'}`);
    c.sock.close();
    p.close();
  }

  // Rooms changed after connect (subscribe m-2, unsubscribe m-1) without touching
  // socket.auth: relay B never saw this session, yet resumes it in m-2 and not m-1, from the
  // rooms recorded in its offset; B replays from MongoDB what its ring does not hold.
  {
    const post = (url, channel) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ event: 'new_product', payload: { name: channel }, channel }) }).then((r) => r.status, () => 0);
    const p = proxy(wsA);
    const port = await p.listen();
    const c = client(port, { auth: { channels: ['m-1'] } });
    await until(() => c.sock.connected, 10000);
    await c.sock.timeout(3000).emitWithAck('subscribe', ['m-2']).catch(() => null);
    const left = await c.sock.timeout(3000).emitWithAck('unsubscribe', ['m-1']).catch(() => null);
    p.retarget(wsB);
    p.cut();
    let ok = 0;
    for (let i = 0; i < 6; i++) ok += (await post(emitB, i % 2 ? 'm-1' : 'm-2')) === 202;
    const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
    ok += (await post(emitA, 'm-2')) === 202;
    await until(() => c.events.length >= 4, 8000);
    await L.sleep(300);
    const names = c.events.map((e) => e.name).join();
    check(left && left.channels.join() === 'm-2' && ok === 7 && back &&
      c.recovered[c.recovered.length - 1] === true && names === 'm-2,m-2,m-2,m-2',
    'rooms_left_and_joined_recovered_on_relay_b',
    `left=${JSON.stringify(left)} emits=${ok}/7 recovered=${JSON.stringify(c.recovered)} got ${names}`);
    c.sock.close();
    p.close();
  }
  process.exit(L.failed() ? 1 : 0);
})().catch((e) => { console.log(`FAIL: multi_driver: ${e.stack}`); process.exit(1); });
