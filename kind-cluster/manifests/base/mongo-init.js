// Run by the mongo-init Job: mongosh --nodb --file mongo-init.js
// Inputs (environment): MONGO_REPLSET (rs0), MONGO_MEMBERS (host:port,...),
// MONGO_WAIT_SECONDS (bound on every wait), MONGO_ELECTION_TIMEOUT_MS (the set's
// electionTimeoutMillis: 2000, as the local cluster's, so a fault timeline on the primary
// means the same on both; MongoDB's own default is 10000). Exits 0 once the set has a primary.
const setName = process.env.MONGO_REPLSET || 'rs0';
const members = (process.env.MONGO_MEMBERS || '').split(',').filter((h) => h.length > 0);
const waitSeconds = parseInt(process.env.MONGO_WAIT_SECONDS || '240', 10);
const electionTimeoutMillis = parseInt(process.env.MONGO_ELECTION_TIMEOUT_MS || '2000', 10);
const deadline = Date.now() + waitSeconds * 1000;

if (members.length === 0) {
  print('mongo-init: MONGO_MEMBERS is empty');
  quit(2);
}

function connect(host) {
  return new Mongo('mongodb://' + host + '/?directConnection=true&serverSelectionTimeoutMS=2000');
}

function waitUntil(what, fn) {
  for (;;) {
    try {
      const v = fn();
      if (v) return v;
    } catch (e) {
      // not reachable yet: retry until the deadline
    }
    if (Date.now() > deadline) {
      print('mongo-init: timed out after ' + waitSeconds + 's waiting for ' + what);
      quit(1);
    }
    sleep(2000);
  }
}

// 1. Every member answers ping (DNS resolves before readiness: publishNotReadyAddresses).
members.forEach((h) => {
  waitUntil(h, () => connect(h).getDB('admin').runCommand({ ping: 1 }).ok === 1);
  print('mongo-init: member up ' + h);
});

// 2. Initiate unless already initiated (error 94 NotYetInitialized means "not yet").
const admin = connect(members[0]).getDB('admin');
let initiated = true;
try {
  const st = admin.runCommand({ replSetGetStatus: 1 });
  if (st.ok !== 1 && st.code === 94) initiated = false;
} catch (e) {
  if (e.code === 94 || /NotYetInitialized|no replset config/.test(String(e))) initiated = false;
  else throw e;
}
if (!initiated) {
  const cfg = {
    _id: setName,
    members: members.map((h, i) => ({ _id: i, host: h })),
    settings: { electionTimeoutMillis },
  };
  const res = admin.runCommand({ replSetInitiate: cfg });
  print('mongo-init: replSetInitiate ' + JSON.stringify(res));
  if (res.ok !== 1 && res.code !== 23 /* AlreadyInitialized */) quit(1);
} else {
  print('mongo-init: replica set already initiated');
}

// 3. Wait for a primary.
const primary = waitUntil('a primary', () => connect(members[0]).getDB('admin').runCommand({ hello: 1 }).primary);
print('mongo-init: primary ' + primary);
quit(0);
