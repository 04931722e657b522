// The official MongoDB Node.js driver rides out primary step-downs under load, as it does
// against mongod: a stream of retryable inserts, updates, findOneAndUpdates and reads runs
// while the primary is stepped down twice, and none of them fails; every write happened
// exactly once; the driver's monitors (streaming hello) never failed a heartbeat and no
// connection pool was cleared. One PASS/FAIL line each: node stepdown.js MONGODB_URI
'use strict';
const { MongoClient } = require('mongodb');

const uri = process.argv[2];
const WORKERS = 8;
const RUN_MS = 4000;
const STEPDOWNS_AT_MS = [800, 2400];
let failures = 0;

function check(name, ok, detail) {
  if (ok) {
    console.log(`PASS: node_stepdown_${name}`);
  } else {
    failures++;
    console.log(`FAIL: node_stepdown_${name}: ${detail}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  // heartbeatFrequencyMS is the streamed hello's maxAwaitTimeMS: a reply every 500 ms even
  // without a topology change, so the run sees many of them.
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 20000,
    heartbeatFrequencyMS: 500,
    retryWrites: true,
    retryReads: true,
    monitorCommands: true,
  });
  const ev = { hbFailed: [], poolCleared: [], awaited: 0, primaries: [], stateChange: 0 };
  client.on('serverHeartbeatFailed', (e) => ev.hbFailed.push(`${e.connectionId}: ${e.failure && e.failure.message}`));
  client.on('serverHeartbeatSucceeded', (e) => { if (e.awaited) ev.awaited++; });
  // Commands a member refused because it had stepped down (NotWritablePrimary,
  // InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk), each retried by the driver:
  // how much of the run went through the retry path (timing-dependent, so reported only).
  client.on('commandFailed', (e) => { if ([10107, 11602, 13435].includes(e.failure && e.failure.code)) ev.stateChange++; });
  client.on('connectionPoolCleared', (e) => ev.poolCleared.push(e.address));
  client.on('serverDescriptionChanged', (e) => {
    if (e.newDescription.type === 'RSPrimary' && e.previousDescription.type !== 'RSPrimary') ev.primaries.push(e.address);
  });
  await client.connect();
  const db = client.db('nodestepdown');
  const items = db.collection('items');
  const counters = db.collection('counters');
  await items.createIndex({ req: 1 }, { unique: true });
  await counters.insertOne({ _id: 'c', n: 0, fam: 0 });

  const ops = { insert: 0, update: 0, fam: 0, read: 0 };
  const errors = [];
  const t0 = Date.now();
  let stop = false;
  async function worker(w) {
    for (let i = 0; !stop; i++) {
      const req = `w${w}-${i}`;
      try {
        await items.insertOne({ req, w, i }, { writeConcern: { w: 'majority' } });
        ops.insert++;
        await counters.updateOne({ _id: 'c' }, { $inc: { n: 1 } });
        ops.update++;
        await counters.findOneAndUpdate({ _id: 'c' }, { $inc: { fam: 1 } });
        ops.fam++;
        const d = await items.findOne({ req });
        if (!d) throw new Error(`${req} not found after its insert`);
        ops.read++;
      } catch (e) {
        errors.push(`${((Date.now() - t0) / 1000).toFixed(2)}s ${req}: ${e.code || ''} ${e.message} ${JSON.stringify(e.errorLabels || [])}`);
      }
      await sleep(10);
    }
  }
  async function stepper() {
    for (const at of STEPDOWNS_AT_MS) {
      await sleep(Math.max(0, t0 + at - Date.now()));
      // Sent to the primary through the driver; mongosim steps it down after answering.
      await client.db('admin').command({ mongosimStepDown: 1, secs: 1 });
    }
  }
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  const stepping = stepper();
  await sleep(RUN_MS);
  stop = true;
  await Promise.all(workers);
  let stepErr = null;
  await stepping.catch((e) => { stepErr = e; });

  check('no_operation_failed', errors.length === 0, `${errors.length} failed: ${errors.slice(0, 5).join(' | ')}`);
  check('stepdowns_sent', stepErr === null, stepErr && stepErr.message);
  check('primary_moved_twice', ev.primaries.length >= 3, `primaries seen: ${ev.primaries.join(', ')}`);
  const total = ops.insert;
  check('writes_ran', total >= WORKERS * 5, `only ${total} inserts in ${RUN_MS} ms`);
  const stored = await items.countDocuments();
  check('inserts_exactly_once', stored === ops.insert, `${stored} stored, ${ops.insert} acknowledged`);
  const c = await counters.findOne({ _id: 'c' });
  check('updates_exactly_once', c.n === ops.update && c.fam === ops.fam,
    `n=${c.n} for ${ops.update} updateOne, fam=${c.fam} for ${ops.fam} findOneAndUpdate`);
  check('streaming_heartbeats', ev.awaited >= 6, `only ${ev.awaited} awaited heartbeats`);
  check('no_heartbeat_failed', ev.hbFailed.length === 0, `${ev.hbFailed.length}: ${ev.hbFailed.slice(0, 3).join(' | ')}`);
  check('no_pool_cleared', ev.poolCleared.length === 0, `${ev.poolCleared.length} clears: ${ev.poolCleared.join(', ')}`);
  console.log(`info: node_stepdown ops insert=${ops.insert} update=${ops.update} fam=${ops.fam} read=${ops.read} awaited_heartbeats=${ev.awaited} state_change_errors_retried=${ev.stateChange} primaries=${ev.primaries.join(',')}`);
  await db.dropDatabase();
  await client.close();
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => { console.log(`FAIL: node_stepdown_run: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`); process.exit(1); });
