// The seed's app, written for relaylab's tests: Express for the product API, the official
// MongoDB driver for a replica set, and Socket.IO for live updates, in the two
// architectures of the story (WS_MODE):
//   embedded  the app's own Socket.IO server emits new_product to the clients connected to
//             this replica only (behind a balancer, each client hears ~1/N of the events);
//   relay     the app POSTs new_product to the relay (RELAY_URL, RELAY_TOKEN), which tells
//             every client;
//   none      no call (a relay watching the collection announces inserts).
// Contract (docs/byo-app.md): PORT, POD_NAME, MONGO_URI, RELAY_URL, RELAY_TOKEN; readiness
// at GET /healthz (200 once the database answers and the unique index exists). Without
// WS_MODE the mode follows the contract: relay when RELAY_URL is set, else embedded.
'use strict';
const http = require('http');
const express = require('express');
const { MongoClient } = require('mongodb');
const { Server } = require('socket.io');
const { fromEnv } = require('./lib/config');
const { Products, validate, BadRequest } = require('./lib/products');
const { Relay } = require('./lib/relay');

let cfg;
try {
  cfg = fromEnv();
} catch (e) {
  console.error(`seed-app: ${e.message}`);
  process.exit(2);
}

function log(level, msg) {
  process.stderr.write(`ts=${new Date().toISOString()} level=${level} prog=seed-app pod=${cfg.pod} msg=${msg}\n`);
}

const app = express();
const server = http.createServer(app);
const mongo = new MongoClient(cfg.mongoUri, {
  serverSelectionTimeoutMS: 3000,
  retryWrites: true,
  appName: `seed-app-${cfg.pod}`,
});
const products = new Products(mongo.db(cfg.db));
const relay = cfg.mode === 'relay' ? new Relay(cfg, log) : null;
let io = null;
let ready = false;
let draining = false;

if (cfg.mode === 'embedded') {
  io = new Server(server, { cors: { origin: true, credentials: true } });
  io.on('connection', (socket) => {
    // Channels as the relay has them: auth {channels:[...]} joins rooms.
    const ch = socket.handshake.auth && socket.handshake.auth.channels;
    if (Array.isArray(ch)) {
      for (const c of ch.slice(0, 16)) if (typeof c === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(c)) socket.join(c);
    }
  });
}

function announce(product) {
  const channel = cfg.storeChannels && product.store ? `store-${product.store}` : undefined;
  if (io) {
    (channel ? io.to(channel) : io).emit('new_product', product);
  } else if (relay) {
    // After the answer, as the seed did: the product is stored whatever the relay does.
    relay.emit('new_product', product, product.req_id, channel).catch((e) => log('error', `emit_crashed error="${e.message}"`));
  }
}

app.disable('x-powered-by');
app.use((req, res, next) => {
  res.set('X-Served-By', cfg.pod);
  next();
});

app.get('/healthz', (req, res) => {
  if (ready && !draining) return res.json({ ok: true, pod: cfg.pod, mode: cfg.mode });
  res.status(503).json({ ok: false, reason: draining ? 'draining' : 'starting' });
});

app.post('/products', express.json({ limit: '16kb', strict: false, type: () => true }), async (req, res) => {
  if (!req.is('application/json')) return res.status(415).json({ error: 'unsupported_media_type', message: 'send application/json' });
  if (draining) return res.status(503).json({ error: 'draining' });
  let doc;
  try {
    doc = validate(req.body);
  } catch (e) {
    if (e instanceof BadRequest) return res.status(400).json({ error: 'bad_request', message: e.message });
    throw e;
  }
  try {
    const { created, product } = await products.create(doc, cfg.pod);
    res.status(created ? 201 : 200).json(product);
    if (created) announce(product);
  } catch (e) {
    log('warn', `insert_failed req_id=${doc.req_id} error="${e.message}"`);
    res.set('Retry-After', '1').status(503).json({ error: 'database_unavailable', message: e.message });
  }
});

app.get('/products', async (req, res) => {
  const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return res.status(400).json({ error: 'bad_request', message: 'limit must be 1..1000' });
  try {
    res.json(await products.list(limit));
  } catch (e) {
    res.status(503).json({ error: 'database_unavailable', message: e.message });
  }
});

app.use((req, res) => res.status(404).json({ error: 'not_found' }));
// Body parser errors: bad JSON -> 400, too big -> 413; anything else -> 500.
app.use((err, req, res, next) => {
  if (res.headersSent) return next(err);
  if (err.type === 'entity.too.large') return res.status(413).json({ error: 'too_large', message: 'body over 16 KiB' });
  if (err.type === 'entity.parse.failed') return res.status(400).json({ error: 'bad_request', message: `invalid JSON: ${err.message}` });
  log('error', `request_failed error="${err.message}"`);
  res.status(500).json({ error: 'internal' });
});

async function start() {
  server.listen(cfg.port, cfg.bind, () => log('info', `listening port=${cfg.port} mode=${cfg.mode} db=${cfg.db}`));
  // The database may come up after the app (as in a cluster): keep trying, stay unready.
  for (let attempt = 1; !ready && !draining; attempt++) {
    try {
      await mongo.connect();
      await products.init();
      ready = true;
      log('info', 'ready');
    } catch (e) {
      log('warn', `database_not_ready attempt=${attempt} error="${e.message}"`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function stop(sig) {
  if (draining) return;
  draining = true;
  log('info', `stopping signal=${sig}`);
  const done = () => mongo.close().finally(() => process.exit(0));
  if (io) io.close();
  server.close(done);
  server.closeIdleConnections && server.closeIdleConnections();
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

start();
