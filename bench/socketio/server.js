// Socket.IO v4 peer for the relay benchmark: POST /emit {"event","payload"} broadcasts
// io.emit(event, payload) to every client, as an app using Socket.IO as its relay would.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 3900);
const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/emit') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      io.emit(body.event, body.payload);
      res.writeHead(202, { 'Content-Type': 'application/json' }).end('{}');
    } catch (e) {
      res.writeHead(400).end(String(e));
    }
  });
});
const io = new Server(server, { transports: ['websocket'], serveClient: false });
server.listen(port, '127.0.0.1', () => console.error(`socket.io peer on ${port}`));
process.on('SIGTERM', () => process.exit(0));
