// The seed's relay, as make bench measures it beside relaylab's: an Express app with a
// Socket.IO v4 server (default options: long-polling and websocket), where
// POST /emit {"event","payload"} does io.emit(event, payload) to every client.
//   node server.js PORT
'use strict';
const http = require('http');
const express = require('express');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 3900);
const app = express();
app.use(express.json({ limit: '64kb' }));
app.post('/emit', (req, res) => {
  const { event, payload } = req.body || {};
  if (typeof event !== 'string' || event === '') {
    res.status(400).json({ error: 'event must be a non-empty string' });
    return;
  }
  io.emit(event, payload);
  res.status(202).json({});
});
const server = http.createServer(app);
const io = new Server(server, { serveClient: false });
// The same listen backlog as the relay and Nchan get in the bench (4096), for the connect storm.
server.listen(port, '127.0.0.1', 4096, () => console.error(`socket.io peer on ${port}`));
process.on('SIGTERM', () => process.exit(0));
