// Products: validation and storage. A req_id is unique (index), so a retried request never
// creates a second product: the second insert fails with a duplicate key and the earlier
// product is returned instead (and not announced again).
'use strict';

const FIELDS = ['name', 'price', 'req_id', 'store'];
const REQ_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const STORE = /^[A-Za-z0-9_-]{1,32}$/;

class BadRequest extends Error {}

function validate(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest(`body must be a JSON object, got ${Array.isArray(body) ? 'array' : typeof body}`);
  }
  for (const k of Object.keys(body)) {
    if (!FIELDS.includes(k)) throw new BadRequest(`unknown field '${k}' (allowed: ${FIELDS.join(', ')})`);
  }
  for (const k of ['name', 'price', 'req_id']) {
    if (!(k in body)) throw new BadRequest(`missing field '${k}'`);
  }
  if (typeof body.name !== 'string') throw new BadRequest(`'name' must be a string, got ${typeof body.name}`);
  if (body.name.length === 0 || [...body.name].length > 200) throw new BadRequest("'name' must be 1-200 characters");
  if (typeof body.price !== 'number' || !Number.isFinite(body.price)) throw new BadRequest("'price' must be a number");
  if (body.price < 0 || body.price > 1e9) throw new BadRequest("'price' must be between 0 and 1000000000");
  if (typeof body.req_id !== 'string' || !REQ_ID.test(body.req_id)) {
    throw new BadRequest("'req_id' must be 1-64 characters of [A-Za-z0-9_.:-]");
  }
  if ('store' in body && (typeof body.store !== 'string' || !STORE.test(body.store))) {
    throw new BadRequest("'store' must be 1-32 characters of [A-Za-z0-9_-]");
  }
  const doc = { name: body.name, price: body.price, req_id: body.req_id };
  if (body.store !== undefined) doc.store = body.store;
  return doc;
}

// The JSON form of a stored product (what the API answers and the event carries).
function toJson(d) {
  const out = { _id: String(d._id), name: d.name, price: d.price, req_id: d.req_id, pod: d.pod };
  if (d.store !== undefined) out.store = d.store;
  out.created_at = d.created_at instanceof Date ? d.created_at.toISOString() : d.created_at;
  return out;
}

class Products {
  constructor(db) {
    this.coll = db.collection('products');
  }

  async init() {
    await this.coll.createIndex({ req_id: 1 }, { unique: true, name: 'req_id_unique' });
  }

  // Returns { created: bool, product }.
  async create(doc, pod) {
    const d = { ...doc, pod, created_at: new Date() };
    try {
      await this.coll.insertOne(d, { writeConcern: { w: 'majority', wtimeoutMS: 5000 } });
      return { created: true, product: toJson(d) };
    } catch (e) {
      if (e && e.code === 11000) {
        const earlier = await this.coll.findOne({ req_id: doc.req_id });
        if (earlier) return { created: false, product: toJson(earlier) };
      }
      throw e;
    }
  }

  async list(limit) {
    const docs = await this.coll.find({}).sort({ _id: -1 }).limit(limit).toArray();
    return docs.map(toJson);
  }
}

module.exports = { Products, validate, BadRequest };
