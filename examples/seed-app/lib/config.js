// The app contract (docs/byo-app.md): everything comes from the environment.
'use strict';
const os = require('os');

const MODES = ['embedded', 'relay', 'none'];

function fromEnv(env = process.env) {
  const c = {
    port: Number(env.PORT || 3000),
    bind: env.BIND || '0.0.0.0',
    pod: env.POD_NAME || os.hostname(),
    mongoUri: env.MONGO_URI || 'mongodb://127.0.0.1:27017/?replicaSet=rs0',
    db: env.DB_NAME || 'seedapp',
    // embedded: the app's own Socket.IO server tells its own clients (the seed's original,
    // broken behind a balancer); relay: POST /emit to the relay (the fix); none: nothing
    // (a relay watching the collection announces inserts). Without WS_MODE, the lab's
    // contract decides: a topology with a relay sets RELAY_URL.
    mode: env.WS_MODE || (env.RELAY_URL ? 'relay' : 'embedded'),
    relayUrl: env.RELAY_URL || '',
    relayToken: env.RELAY_TOKEN || '',
    storeChannels: env.STORE_CHANNELS === '1' || env.STORE_CHANNELS === 'true',
    emitRetries: Number(env.EMIT_RETRIES || 6),
    emitTimeoutMs: Number(env.EMIT_TIMEOUT_MS || 2000),
  };
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new Error(`PORT '${env.PORT}' is not a port`);
  if (!/^[A-Za-z0-9._-]{1,63}$/.test(c.pod)) throw new Error(`POD_NAME '${c.pod}' must be 1-63 of [A-Za-z0-9._-]`);
  if (!MODES.includes(c.mode)) throw new Error(`WS_MODE '${c.mode}' must be one of ${MODES.join(', ')}`);
  if (c.mode === 'relay') {
    if (!c.relayUrl) throw new Error('WS_MODE=relay needs RELAY_URL (the relay intake, e.g. http://relay:8081/emit)');
    // RELAY_URL may be the intake's base or its /emit endpoint.
    const u = new URL(c.relayUrl);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/emit';
    c.relayUrl = u.toString();
  }
  if (!Number.isInteger(c.emitRetries) || c.emitRetries < 0 || c.emitRetries > 20) throw new Error('EMIT_RETRIES must be 0..20');
  return c;
}

module.exports = { fromEnv };
