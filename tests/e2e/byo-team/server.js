// A team's app unlike fakeapp and the seed app, for tests/e2e/lab_byo_team.sh: plain node
// http, items created at POST /api/v1/items with the request id nested in the body,
// realtime over plain websockets (the `ws` package) at /live, event `item.created` with the
// id at data.item.meta.requestId, readiness at /ready, creates only with
// `Authorization: Bearer $API_TOKEN`. In memory: the lab's MONGO_URI is
// read but not needed for what the test checks. With RELAY_URL it posts to the relay.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const PORT = Number(process.env.PORT);
const POD = process.env.POD_NAME || 'local';
const { RELAY_URL, RELAY_TOKEN } = process.env;
const seen = new Set();

function send(res, code, obj) {
  // NO_POD=1: an app that does not say which pod answered (the lab's hint must say so).
  res.writeHead(code, { 'content-type': 'application/json', ...(process.env.NO_POD ? {} : { 'x-served-by': POD }) });
  res.end(JSON.stringify(obj));
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/ready') return send(res, 200, { pod: POD });
  if (req.method !== 'POST' || req.url !== '/api/v1/items') return send(res, 404, { error: 'not found' });
  if (process.env.API_TOKEN && req.headers.authorization !== `Bearer ${process.env.API_TOKEN}`) {
    return send(res, 401, { error: 'unauthorized' });
  }
  let body = '';
  req.on('data', (c) => { body += c; if (body.length > 65536) req.destroy(); });
  req.on('end', async () => {
    let it;
    try { it = JSON.parse(body).item; } catch { return send(res, 400, { error: 'bad json' }); }
    if (!it || !it.meta || typeof it.meta.requestId !== 'string') return send(res, 422, { error: 'item.meta.requestId' });
    const data = { item: { title: it.title, meta: { requestId: it.meta.requestId }, pod: POD } };
    if (!seen.has(it.meta.requestId)) {
      seen.add(it.meta.requestId);
      if (RELAY_URL) {
        const r = await fetch(RELAY_URL, { method: 'POST', body: JSON.stringify({ event: 'item.created', payload: data, id: it.meta.requestId }),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${RELAY_TOKEN}` } });
        if (r.status !== 202) return send(res, 502, { error: `relay ${r.status}` });
      } else {
        // FRAMES=type: the shape many apps use, {"type":..,"payload":..} (event_key, data_key).
        const frame = JSON.stringify(process.env.FRAMES === 'type' ? { type: 'item.created', payload: data }
          : { event: 'item.created', data });
        for (const c of wss.clients) if (c.readyState === 1) c.send(frame);
      }
    }
    send(res, 201, process.env.NO_POD ? { ok: true } : data);
  });
});
const wss = new WebSocketServer({ server, path: '/live' });
server.listen(PORT, '127.0.0.1', () => console.log(`team-app pod=${POD} port=${PORT} mode=${process.env.TEAM_MODE}`));
process.on('SIGTERM', () => process.exit(0));
