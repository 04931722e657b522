// The official MongoDB Node.js driver's everyday calls against mongosim, one PASS/FAIL line
// each: node check.js MONGODB_URI
'use strict';
const { MongoClient } = require('mongodb');

const uri = process.argv[2];
let failures = 0;

async function step(name, fn) {
  try {
    await fn();
    console.log(`PASS: node_${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL: node_${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  }
}

function eq(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

async function main() {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  const db = client.db('nodecheck');
  const items = db.collection('items');

  await step('insert_distinct', async () => {
    await items.insertMany([
      { _id: 1, k: 'a', n: 1, tags: ['x', 'y'] },
      { _id: 2, k: 'b', n: 2, tags: ['y'] },
      { _id: 3, k: 'a', n: 3 },
      { _id: 4, k: 'c', n: 4 },
    ]);
    eq(await items.distinct('k'), ['a', 'b', 'c'], 'distinct k');
    eq(await items.distinct('tags', { n: { $lt: 3 } }), ['x', 'y'], 'distinct tags');
  });

  await step('count_documents', async () => {
    eq(await items.countDocuments(), 4, 'all');
    eq(await items.countDocuments({ k: 'a' }), 2, 'k=a');
    eq(await items.countDocuments({}, { skip: 1, limit: 2 }), 2, 'skip/limit');
    eq(await items.estimatedDocumentCount(), 4, 'estimated');
  });

  await step('update_one_many_upsert', async () => {
    let r = await items.updateOne({ _id: 1 }, { $set: { s: 1 }, $inc: { n: 10 }, $push: { tags: 'z' } });
    eq([r.matchedCount, r.modifiedCount], [1, 1], 'updateOne');
    r = await items.updateMany({ k: 'a' }, { $addToSet: { tags: 'y' } });
    eq([r.matchedCount, r.modifiedCount], [2, 1], 'updateMany');
    r = await items.updateOne({ _id: 9 }, { $set: { k: 'z' }, $setOnInsert: { born: true } }, { upsert: true });
    eq([r.upsertedCount, r.upsertedId], [1, 9], 'updateOne upsert');
    r = await items.updateMany({ k: 'q' }, { $set: { v: 1 } }, { upsert: true });
    eq(r.upsertedCount, 1, 'updateMany upsert');
    const d = await items.findOne({ _id: 1 });
    eq([d.n, d.s, d.tags], [11, 1, ['x', 'y', 'z']], 'doc 1');
    eq((await items.findOne({ _id: 9 })).born, true, 'setOnInsert');
    eq((await items.findOne({ k: 'q' })).v, 1, 'upserted from the query');
  });

  await step('replace_one', async () => {
    const r = await items.replaceOne({ _id: 4 }, { k: 'c', replaced: true });
    eq(r.modifiedCount, 1, 'replaceOne');
    eq(await items.findOne({ _id: 4 }, { projection: { _id: 0 } }), { k: 'c', replaced: true }, 'replaced');
  });

  await step('find_one_and_update_replace_delete', async () => {
    let d = await items.findOneAndUpdate({ k: 'a' }, { $inc: { n: 100 } }, { sort: { n: -1 }, returnDocument: 'after' });
    eq([d._id, d.n], [1, 111], 'findOneAndUpdate after');
    d = await items.findOneAndUpdate({ _id: 3 }, { $set: { x: 1 } });
    eq([d._id, d.x], [3, undefined], 'findOneAndUpdate before');
    d = await items.findOneAndUpdate({ _id: 'new' }, { $set: { x: 2 } }, { upsert: true, returnDocument: 'after' });
    eq(d, { _id: 'new', x: 2 }, 'findOneAndUpdate upsert');
    d = await items.findOneAndReplace({ _id: 'new' }, { y: 3 }, { returnDocument: 'after' });
    eq(d, { _id: 'new', y: 3 }, 'findOneAndReplace');
    d = await items.findOneAndDelete({ _id: 'new' });
    eq(d, { _id: 'new', y: 3 }, 'findOneAndDelete');
    eq(await items.findOne({ _id: 'new' }), null, 'deleted');
  });

  await step('delete_one_many', async () => {
    let r = await items.deleteOne({ k: 'a' });
    eq(r.deletedCount, 1, 'deleteOne');
    r = await items.deleteMany({ n: { $gte: 0 } });
    eq(r.deletedCount, 2, 'deleteMany');
    eq(await items.countDocuments(), 3, 'left');
  });

  await step('unique_index_duplicate', async () => {
    const users = db.collection('users');
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insertOne({ email: 'a' });
    let code = null;
    try { await users.insertOne({ email: 'a' }); } catch (e) { code = e.code; }
    eq(code, 11000, 'duplicate insert');
    await users.insertOne({ email: 'b' });
    code = null;
    try { await users.updateOne({ email: 'b' }, { $set: { email: 'a' } }); } catch (e) { code = e.code; }
    eq(code, 11000, 'duplicate update');
  });

  // Issue 16: lookups go through the indexes, so every update and delete that changes an
  // indexed field must move its entry. Random writes on a unique, a compound and a sparse
  // index, mirrored in a plain Map; then every lookup the indexes serve must agree with it.
  await step('index_maintenance', async () => {
    const coll = db.collection('ixm');
    await coll.createIndex({ req_id: 1 }, { unique: true });
    await coll.createIndex({ store: 1, price: -1 });
    await coll.createIndex({ tag: 1 }, { sparse: true });
    const model = new Map();
    const N = 400;
    let seed = 11, next = N;
    const rnd = (m) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % m; };
    const docs = [];
    for (let i = 0; i < N; i++) {
      const d = { _id: i, req_id: `r-${i}`, store: `s${i % 7}`, price: i % 50 };
      if (i % 3 === 0) d.tag = `t${i % 4}`;
      docs.push(d);
      model.set(i, { ...d });
    }
    await coll.insertMany(docs);
    for (let k = 0; k < 600; k++) {
      const d = model.get(rnd(N)), op = rnd(5);
      if (!d) continue;
      if (op === 0) { // a new unique key, found by the old one
        const req = `r-${next++}`, price = rnd(50);
        await coll.updateOne({ req_id: d.req_id }, { $set: { req_id: req, price } });
        Object.assign(d, { req_id: req, price });
      } else if (op === 1) { // taking another document's unique key fails and changes nothing
        const o = model.get(rnd(N));
        if (!o || o === d) continue;
        let code = null;
        try { await coll.updateOne({ _id: d._id }, { $set: { req_id: o.req_id } }); } catch (e) { code = e.code; }
        eq(code, 11000, 'duplicate key on update');
      } else if (op === 2) {
        await coll.deleteOne({ req_id: d.req_id });
        model.delete(d._id);
      } else if (op === 3) {
        const store = `s${rnd(7)}`;
        await coll.findOneAndUpdate({ req_id: d.req_id }, { $set: { store }, $inc: { price: 1 } });
        Object.assign(d, { store, price: d.price + 1 });
      } else if (d.tag === undefined) {
        d.tag = `t${rnd(4)}`;
        await coll.updateOne({ _id: d._id }, { $set: { tag: d.tag } });
      } else {
        delete d.tag;
        await coll.updateOne({ _id: d._id }, { $unset: { tag: '' } });
      }
    }
    const all = [...model.values()];
    const ids = (a) => a.map((x) => x._id).sort((x, y) => x - y);
    for (const d of all) eq(await coll.findOne({ req_id: d.req_id }), d, `findOne ${d.req_id}`);
    for (let i = 0; i < N; i++) { // old keys are gone
      const want = all.filter((d) => d.req_id === `r-${i}`).length;
      if (want === 0) eq(await coll.findOne({ req_id: `r-${i}` }), null, `stale r-${i}`);
    }
    const cases = [
      [{ store: 's3', price: { $gt: 10, $lte: 40 } }, (d) => d.store === 's3' && d.price > 10 && d.price <= 40],
      [{ store: { $in: ['s1', 's2'] } }, (d) => d.store === 's1' || d.store === 's2'],
      [{ tag: 't2' }, (d) => d.tag === 't2'],
      [{ req_id: { $gte: 'r-1', $lt: 'r-2' } }, (d) => d.req_id >= 'r-1' && d.req_id < 'r-2'],
    ];
    for (const [f, pred] of cases) {
      const want = all.filter(pred);
      eq(ids(await coll.find(f).toArray()), ids(want), `find ${JSON.stringify(f)}`);
      eq(await coll.countDocuments(f), want.length, `countDocuments ${JSON.stringify(f)}`);
      eq((await coll.distinct('_id', f)).sort((x, y) => x - y), ids(want), `distinct ${JSON.stringify(f)}`);
    }
    const gone = all.filter((d) => d.store === 's5' && d.price < 25);
    eq((await coll.deleteMany({ store: 's5', price: { $lt: 25 } })).deletedCount, gone.length, 'deleteMany');
    eq(await coll.countDocuments({ store: 's5' }), all.filter((d) => d.store === 's5').length - gone.length,
      'after deleteMany');
  });

  await step('change_stream_update_delete', async () => {
    const coll = db.collection('watched');
    await coll.insertOne({ _id: 'seed' });
    const cs = coll.watch([], { fullDocument: 'updateLookup', maxAwaitTimeMS: 200 });
    const events = [];
    const done = new Promise((resolve, reject) => {
      cs.on('change', (ev) => { events.push(ev); if (events.length === 3) resolve(); });
      cs.on('error', reject);
      setTimeout(() => reject(new Error(`only ${events.length} events`)), 15000);
    });
    // Let the stream's aggregate reach the server before writing.
    await new Promise((r) => setTimeout(r, 500));
    await coll.insertOne({ _id: 'd', v: 1 });
    await coll.updateOne({ _id: 'd' }, { $set: { v: 2 } });
    await coll.deleteOne({ _id: 'd' });
    await done;
    await cs.close();
    eq(events.map((e) => e.operationType), ['insert', 'update', 'delete'], 'operation types');
    eq(events[1].updateDescription.updatedFields, { v: 2 }, 'updateDescription');
    eq(events[2].documentKey, { _id: 'd' }, 'documentKey');
  });

  await db.dropDatabase();
  await client.close();
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => { console.log(`FAIL: node_connect: ${e}`); process.exit(1); });
