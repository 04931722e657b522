// A replay read back from MongoDB in several pages, while the client leaves a channel: the
// broadcast events after the first page are still owed and must arrive (with Node's fetch
// for the emits and the ws package as the client).
//   node chan_fetch.js WS_PORT HTTP_PORT emit     -> 600 events on "a", 5 broadcast, 30 on "a"
//   node chan_fetch.js WS_PORT HTTP_PORT EPOCH    -> since=0&channels=a, then unsubscribe a
'use strict';
const WS = require('ws');

const [wsPort, httpPort, arg] = process.argv.slice(2);
let failures = 0;
function check(ok, name, why) {
  console.log(ok ? `PASS: ${name}` : `FAIL: ${name}: ${why}`);
  if (!ok) failures++;
}
const post = (body) => fetch(`http://127.0.0.1:${httpPort}/emit`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
}).then((r) => r.status, () => 0);

async function emitAll() {
  const kinds = [[600, 'a'], [5, null], [30, 'a']];
  let n = 0;
  for (const [count, channel] of kinds) {
    for (let k = 0; k < count; k += 25) {
      const batch = [];
      for (let i = k; i < Math.min(count, k + 25); i++, n++)
        batch.push(post({ event: 'ev', payload: { n }, id: `e${n}`, ...(channel ? { channel } : {}) }));
      const st = await Promise.all(batch);
      if (!st.every((s) => s === 202)) return false;
    }
  }
  return true;
}

(async () => {
  if (arg === 'emit') {
    check(await emitAll(), 'chan_fetch_emits_acknowledged', 'an emit was not answered 202');
    process.exit(failures ? 1 : 0);
  }
  const ws = new WS(`ws://127.0.0.1:${wsPort}/websocket-service?since=0&epoch=${arg}&channels=a`);
  const broadcast = [];
  let recovered = null;
  ws.on('message', (d) => {
    const m = JSON.parse(d);
    if (m.event === '_connected') ws.send('{"unsubscribe":["a"]}'); // while the store is read
    else if (m.event === '_recovery') recovered = m.data.recovered;
    else if (m.offset && !m.channel) broadcast.push(m.offset);
  });
  const end = Date.now() + 15000;
  while (broadcast.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  check(recovered === true, 'chan_fetch_recovered', `recovered=${recovered}`);
  check(broadcast.length === 5 && broadcast.every((o, i) => i === 0 || o > broadcast[i - 1]),
    'chan_fetch_broadcast_after_first_page', `broadcast offsets received: [${broadcast}]`);
  ws.close();
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: chan_fetch_driver: ${e.stack}`); process.exit(1); });
