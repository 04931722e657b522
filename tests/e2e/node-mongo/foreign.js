// Inserts one document into the relay's events collection that no relay wrote (a reserved
// event name, so relays skip it), at the offset after the stream's head, with the official
// MongoDB Node.js driver.   node foreign.js URI DB
'use strict';
const { MongoClient, Long } = require('mongodb');

(async () => {
  const [uri, db] = process.argv.slice(2);
  const client = new MongoClient(uri);
  await client.connect();
  const events = client.db(db).collection('events');
  const head = await events.find({}, { sort: { _id: -1 }, limit: 1 }).toArray();
  const next = Number(head[0]._id) + 1;
  await events.insertOne({ _id: Long.fromNumber(next), event: '_foreign', data: '{}', at: new Date() },
    { writeConcern: { w: 'majority' } });
  console.log(next);
  await client.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
