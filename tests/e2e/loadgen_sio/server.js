// A small app on the real Socket.IO server (npm socket.io), for loadgen's end-to-end tests:
//   POST /products {"req_id":..,"store":..}  -> 201, emits new_product (to room store-<store>
//                                               when the body has a store, else to everyone)
//   POST /kick     closes every client's transport (a network drop: recoverable)
//   GET  /stats    what the server saw: connections, recovered ones, transports in use,
//                  client source addresses, requests that carried a cookie
//   GET  /healthz
// Usage: node server.js --port N [--pod NAME] [--recovery] [--ping-interval MS]
//                       [--ping-timeout MS] [--set-cookie]
'use strict';
const http = require('http');
const { Server } = require('socket.io');

function option(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}

const port = Number(option('port', 0));
const pod = String(option('pod', `pod-${port}`));
if (!port) {
  console.error('usage: node server.js --port N [...]');
  process.exit(2);
}

const stats = { connections: 0, recovered: 0, cookieRequests: 0, addrs: new Set(), rooms: {} };
const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: Number(option('ping-interval', 25000)),
  pingTimeout: Number(option('ping-timeout', 20000)),
  // The engine's own "io" cookie: a cookie every client must keep and send back.
  cookie: option('set-cookie', false) ? { name: 'io', path: '/', httpOnly: true } : false,
  connectionStateRecovery: option('recovery', false)
    ? { maxDisconnectionDuration: 60000, skipMiddlewares: true }
    : undefined,
});

function seen(req) {
  stats.addrs.add(req.socket.remoteAddress);
  if (req.url.startsWith('/socket.io/') && req.headers.cookie) stats.cookieRequests++;
}
httpServer.prependListener('request', seen);
httpServer.prependListener('upgrade', seen);

io.on('connection', (socket) => {
  stats.connections++;
  if (socket.recovered) stats.recovered++;
  const channels = socket.handshake.auth && socket.handshake.auth.channels;
  if (!socket.recovered && Array.isArray(channels)) {
    for (const c of channels) {
      if (typeof c === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(c)) {
        socket.join(c);
        stats.rooms[c] = (stats.rooms[c] || 0) + 1;
      }
    }
  }
});

function reply(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Served-By': pod });
  res.end(body);
}

httpServer.on('request', (req, res) => {
  if (req.url.startsWith('/socket.io/')) return; // the engine answers
  if (req.method === 'GET' && req.url === '/healthz') return reply(res, 200, { ok: true });
  if (req.method === 'GET' && req.url === '/stats') {
    const transports = {};
    for (const s of io.sockets.sockets.values()) {
      const t = s.conn.transport.name;
      transports[t] = (transports[t] || 0) + 1;
    }
    return reply(res, 200, {
      connections: stats.connections,
      recovered: stats.recovered,
      sockets: io.sockets.sockets.size,
      transports,
      addrs: [...stats.addrs].sort(),
      cookieRequests: stats.cookieRequests,
      rooms: stats.rooms,
    });
  }
  if (req.method === 'POST' && req.url === '/kick') {
    let n = 0;
    for (const s of io.sockets.sockets.values()) {
      s.conn.close();
      n++;
    }
    return reply(res, 200, { kicked: n });
  }
  if (req.method === 'POST' && req.url === '/products') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      body += d;
      if (body.length > 65536) req.destroy();
    });
    req.on('end', () => {
      let doc;
      try {
        doc = JSON.parse(body);
      } catch (e) {
        return reply(res, 400, { error: 'bad_request', message: e.message });
      }
      if (typeof doc.req_id !== 'string') return reply(res, 400, { error: 'bad_request' });
      doc.pod = pod;
      if (typeof doc.store === 'string') io.to(`store-${doc.store}`).emit('new_product', doc);
      else io.emit('new_product', doc);
      return reply(res, 201, doc);
    });
    return;
  }
  reply(res, 404, { error: 'not_found' });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`listening port=${port} pod=${pod}`));
process.on('SIGTERM', () => {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
