// The unmodified socket.io-client (npm) against a Socket.IO endpoint of the hub, on every
// transport, and connection state recovery after forced disconnects:
//   node sio_transports.js TARGET WS_PORT EMIT_URL [RESTART_CMD_JSON]
// TARGET names the checks ("relay" or "fakeapp"); EMIT_URL is the relay's /emit or fakeapp's
// /products (events are announced as new_product either way). With RESTART_CMD_JSON
// ({"cmd":..., "args":[...], "log":...}) the script also runs its own server to restart it.
// Prints "PASS: name" / "FAIL: name: why"; exits 1 when any failed.
'use strict';
const fs = require('fs');
const { spawn } = require('child_process');
const L = require('./sio_lib');

const [target, wsPort, emitUrl, restartJson] = process.argv.slice(2);
L.setPrefix(`${target}_`);
const { check, sleep, until, client, contiguous, proxy } = L;
const emit = (url = emitUrl) => L.emit(url);
const emitN = (n, url = emitUrl) => L.emitN(n, url);

const MODES = [['default', {}], ['polling', { transports: ['polling'] }],
  ['websocket', { transports: ['websocket'] }]];

async function transports() {
  for (const [mode, opts] of MODES) {
    const cs = Array.from({ length: 4 }, () => client(wsPort, opts));
    const up = await until(() => cs.every((c) => c.sock.connected &&
      (mode === 'polling' || c.transport === 'websocket')), 10000);
    check(up, `${mode}_connect`, cs.map((c) => `${c.sock.connected}/${c.transport}/${c.errors}`).join(' '));
    const want = mode === 'websocket' ? 'websocket' : 'polling';
    check(cs.every((c) => c.first === want), `${mode}_first_transport_${want}`, cs.map((c) => c.first).join(','));
    const end = mode === 'polling' ? 'polling' : 'websocket';
    check(cs.every((c) => c.transport === end), `${mode}_ends_on_${end}`, cs.map((c) => c.transport).join(','));
    const n = 12;
    const ok = await emitN(n);
    check(ok === n, `${mode}_emitted`, `${ok}/${n}`);
    await until(() => cs.every((c) => c.events.length >= n), 10000);
    const bad = cs.map((c) => (c.events.length === n ? contiguous(c.events) : `${c.events.length}/${n} events`)).filter(Boolean);
    check(bad.length === 0, `${mode}_every_client_every_event_in_order`, bad.join('; '));
    check(cs.every((c) => c.recovered[0] === false && c.connects === 1), `${mode}_fresh_not_recovered`,
      cs.map((c) => c.recovered).join(','));
    cs.forEach((c) => c.sock.close());
  }
}

// A forced disconnect; afterwards the socket must say recovered and have every event once.
async function recovery(name, opts, disconnect, settle = 0) {
  const c = client(opts.port || wsPort, opts.io);
  const ready = await until(() => c.sock.connected && (opts.io.transports || c.transport === 'websocket'), 10000);
  await emitN(3);
  const got3 = await until(() => c.events.length >= 3, 5000);
  if (!ready || !got3) {
    check(false, `${name}_setup`, `connected=${c.sock.connected} transport=${c.transport} events=${c.events.length}`);
    c.sock.close();
    return;
  }
  await disconnect(c);
  const missed = await emitN(4); // announced while the client is away (or coming back)
  if (settle) await sleep(settle);
  const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
  await emitN(2);
  const all = await until(() => c.events.length >= 9, 8000);
  await sleep(200);
  check(back && c.recovered[c.recovered.length - 1] === true, `${name}_recovered_true`,
    `connects=${c.connects} recovered=${JSON.stringify(c.recovered)} disconnects=${c.disconnects} recoveries=${JSON.stringify(c.recoveries)}`);
  const gap = contiguous(c.events);
  check(missed === 4 && all && c.events.length === 9 && !gap, `${name}_no_gap_no_duplicate`,
    `${c.events.length}/9 events, ${gap || 'contiguous'}`);
  c.sock.close();
}

async function restart(spec) {
  // A single in-memory relay restarted: its history (and epoch) is gone, so the client is
  // told recovered=false, with a reason, and live events follow.
  let child = null;
  const start = () => {
    child = spawn(spec.cmd, spec.args, { stdio: ['ignore', fs.openSync(spec.log, 'a'), fs.openSync(spec.log, 'a')] });
  };
  const stop = () => new Promise((r) => { if (!child || child.exitCode !== null) return r(); child.once('exit', r); child.kill('SIGTERM'); });
  start();
  const up = async () => {
    for (let i = 0; i < 100; i++) { if ((await emit(spec.emit)) === 202) return true; await sleep(50); }
    return false;
  };
  if (!(await up())) { check(false, 'restart_setup', 'own relay did not come up'); await stop(); return; }
  const c = client(spec.port, {});
  await until(() => c.sock.connected && c.transport === 'websocket', 10000);
  await emitN(2, spec.emit);
  await until(() => c.events.length >= 2, 5000);
  await stop();
  start();
  await up();
  const back = await until(() => c.connects >= 2 && c.sock.connected, 15000);
  await emitN(2, spec.emit);
  await until(() => c.events.length >= 4, 5000);
  const last = c.recoveries[c.recoveries.length - 1];
  check(back && c.recovered[c.recovered.length - 1] === false, 'restart_recovered_false',
    `connects=${c.connects} recovered=${JSON.stringify(c.recovered)}`);
  check(last && last.recovered === false && last.reason === 'epoch_changed', 'restart_told_why', JSON.stringify(last));
  check(c.events.length >= 4 && c.events[c.events.length - 1].off.epoch !== c.events[0].off.epoch,
    'restart_live_events_after', JSON.stringify(c.events.map((e) => e.off)));
  c.sock.close();
  await stop();
}

(async () => {
  await transports();
  for (const [mode, opts] of MODES) {
    await recovery(`engine_close_${mode}`, { io: opts }, async (c) => { c.sock.io.engine.close(); });
  }
  for (const [mode, opts] of MODES.slice(1)) {
    const p = proxy(Number(wsPort));
    const port = await p.listen();
    await recovery(`network_cut_${mode}`, { io: opts, port }, async () => { p.cut(); });
    // Frozen longer than pingInterval + pingTimeout: the server closes the session itself.
    await recovery(`server_timeout_${mode}`, { io: opts, port }, async () => {
      p.freeze();
      setTimeout(() => p.thaw(), Number(process.env.SIO_FREEZE_MS || 2600));
    }, 0);
    p.close();
  }
  if (restartJson) await restart(JSON.parse(restartJson));
  process.exit(L.failed() ? 1 : 0);
})().catch((e) => { console.log(`FAIL: ${target}_driver: ${e.stack}`); process.exit(1); });
