// The official MongoDB Node.js driver against a stale primary: mongosim's primary is cut
// off from its peers (mongosimPartition) but stays primary for --stale-primary-ms (1.5 s
// here; the others elect a new one after 300 ms). A w: 1 insert through a direct
// connection is acknowledged at once; a majority insert with wtimeout 200 fails with a
// MongoWriteConcernError 64 (errInfo.wtimeout); the replica-set client's retryable insert,
// sent at the cut, is stored exactly once on the majority side; after the heal the stale
// primary's writes are gone everywhere and mongosimRollbacks lists them. One PASS/FAIL line
// each: node stale.js MONGODB_URI
'use strict';
const { MongoClient } = require('mongodb');

const uri = process.argv[2];
const STALE_MS = 1500;
let failures = 0;

function check(name, ok, detail) {
  if (ok) {
    console.log(`PASS: node_stale_${name}`);
  } else {
    failures++;
    console.log(`FAIL: node_stale_${name}: ${detail}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 20000, heartbeatFrequencyMS: 500, retryWrites: true });
  await client.connect();
  const items = client.db('nodestale').collection('items');
  await items.insertOne({ _id: 'base' });
  const hello = await client.db('admin').command({ hello: 1 });
  const idx = hello.hosts.indexOf(hello.primary);
  const direct = new MongoClient(`mongodb://${hello.primary}/?directConnection=true&readPreference=primaryPreferred`,
    { serverSelectionTimeoutMS: 5000 });
  await direct.connect();
  const ditems = direct.db('nodestale').collection('items');

  await direct.db('admin').command({ mongosimPartition: 1, member: idx });
  const t0 = Date.now();
  // Sent at once, to the primary the driver knows: held there until it steps down.
  const retried = items.insertOne({ _id: 'retried' }).then(() => null, (e) => e);
  await ditems.insertOne({ _id: 'w1' }, { writeConcern: { w: 1 } });
  check('w1_acknowledged_at_once', Date.now() - t0 < 500, `${Date.now() - t0} ms`);
  const stillPrimary = (await direct.db('admin').command({ hello: 1 })).isWritablePrimary;
  check('stale_primary_says_primary', stillPrimary === true, `isWritablePrimary ${stillPrimary}`);
  const t1 = Date.now();
  let e64 = null;
  try {
    await ditems.insertOne({ _id: 'wt' }, { writeConcern: { w: 'majority', wtimeout: 200 } });
  } catch (e) {
    e64 = e;
  }
  const dt = Date.now() - t1;
  check('wtimeout_is_write_concern_error_64',
    e64 && e64.name === 'MongoWriteConcernError' && e64.code === 64 && e64.errInfo && e64.errInfo.wtimeout === true &&
      dt >= 190 && dt < 1200,
    e64 ? `${e64.name} code=${e64.code} errInfo=${JSON.stringify(e64.errInfo)} after ${dt} ms` : 'no error');
  const rerr = await retried;
  check('retryable_insert_succeeded', rerr === null, rerr && `${rerr.name} ${rerr.code} ${rerr.message}`);
  check('retryable_insert_waited_for_the_step_down', Date.now() - t0 >= STALE_MS - 100, `${Date.now() - t0} ms`);
  const once = await items.countDocuments({ _id: 'retried' });
  check('retryable_insert_once_on_the_majority', once === 1, `${once} stored`);
  const lost = await items.countDocuments({ _id: { $in: ['w1', 'wt'] } });
  check('stale_writes_not_on_the_majority', lost === 0, `${lost} of them there`);
  await sleep(Math.max(0, t0 + STALE_MS + 100 - Date.now()));
  const after = (await direct.db('admin').command({ hello: 1 })).isWritablePrimary;
  check('stepped_down_by_itself', after === false, `isWritablePrimary ${after}`);

  await client.db('admin').command({ mongosimHeal: 1, member: idx });
  const onOld = await ditems.countDocuments({});
  check('rolled_back_on_the_old_primary', onOld === 2, `${onOld} documents (want base, retried)`);
  const rb = await client.db('admin').command({ mongosimRollbacks: 1 });
  const ids = rb.operations.map((o) => o._id).sort().join(',');
  check('rollbacks_listed', rb.inserts === 3 && ids === 'retried,w1,wt', `inserts=${rb.inserts} ids=${ids}`);
  await client.db('nodestale').dropDatabase();
  await direct.close();
  await client.close();
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => { console.log(`FAIL: node_stale_run: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`); process.exit(1); });
