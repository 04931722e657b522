// findOne({req_id}) and insertOne time with the official Node.js driver, per collection size,
// as issue 16 measured them: node bench/mongosim_lookup.js URI SIZES N
// Prints "RESULT driver=node docs=... findone_avg_us=... findone_p99_us=... insertone_avg_us=...".
'use strict';
const path = require('path');
const { MongoClient } = require(path.join(__dirname, '../tests/e2e/node-mongo/node_modules/mongodb'));

async function main() {
  const [uri, sizesArg, nArg] = process.argv.slice(2);
  const n = Number(nArg || 2000);
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  const coll = client.db('bench').collection('lookup_node');
  let seed = 42;
  const rand = (m) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % m; };
  // Warm the process up (JIT, connection pool) on a throwaway collection first: otherwise
  // the first size measured pays for it.
  const warm = client.db('bench').collection('lookup_warm');
  await warm.drop().catch(() => {});
  await warm.insertMany(Array.from({ length: 100 }, (_, i) => ({ req_id: `w-${i}` })));
  for (let i = 0; i < 3000; i++) await warm.findOne({ req_id: `w-${i % 100}` });
  await warm.drop();
  for (const size of sizesArg.split(',').map(Number)) {
    await coll.drop().catch(() => {});
    await coll.createIndex({ req_id: 1 }, { unique: true });
    for (let base = 0; base < size; base += 1000) {
      const docs = [];
      for (let i = base; i < Math.min(size, base + 1000); i++)
        docs.push({ name: 'bench product', price: 9.5, req_id: `r-${i}`, pod: 'bench' });
      await coll.insertMany(docs);
    }
    for (let i = 0; i < n / 4; i++) // warm-up (JIT, pool), not counted
      await coll.findOne({ req_id: `r-${rand(size)}` });
    const lat = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const d = await coll.findOne({ req_id: `r-${rand(size)}` });
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (!d) throw new Error('findOne found nothing');
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      await coll.insertOne({ name: 'bench product', price: 9.5, req_id: `r-${size + i}`, pod: 'bench' });
    const insAvg = Number(process.hrtime.bigint() - t0) / 1000 / n;
    lat.sort((a, b) => a - b);
    const avg = lat.reduce((a, b) => a + b, 0) / n;
    console.log(`RESULT driver=node docs=${size} findone_avg_us=${avg.toFixed(0)} ` +
      `findone_p99_us=${lat[Math.floor(n * 0.99)].toFixed(0)} insertone_avg_us=${insAvg.toFixed(0)}`);
  }
  await coll.drop().catch(() => {});
  await client.close();
}

main().catch((e) => { console.error(`mongosim_lookup: ${e}`); process.exit(1); });
