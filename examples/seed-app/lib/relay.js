// The relay client: POST /emit {event, payload, id[, channel]} with the bearer token. The
// id (the product's req_id) makes a retried emit harmless: the relay acknowledges it again
// and does not broadcast it twice. Bounded retries with backoff on network errors, 5xx and
// 429; a 4xx is final (the request is wrong, retrying cannot help).
'use strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Relay {
  constructor(cfg, log) {
    this.url = cfg.relayUrl;
    this.token = cfg.relayToken;
    this.retries = cfg.emitRetries;
    this.timeoutMs = cfg.emitTimeoutMs;
    this.log = log;
    this.stats = { ok: 0, retried: 0, failed: 0 };
  }

  async emit(event, payload, id, channel) {
    const body = JSON.stringify(channel ? { event, payload, id, channel } : { event, payload, id });
    const headers = { 'Content-Type': 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let why = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
      try {
        const res = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
        if (res.ok) {
          await res.arrayBuffer();
          this.stats[attempt === 0 ? 'ok' : 'retried']++;
          return true;
        }
        why = `HTTP ${res.status} ${(await res.text()).slice(0, 200)}`;
        if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) break;
      } catch (e) {
        why = e.name === 'TimeoutError' ? 'timeout' : String(e.cause ? e.cause.code || e.cause : e.message);
      }
    }
    this.stats.failed++;
    this.log('warn', `emit_failed id=${id} reason="${why}"`);
    return false;
  }
}

module.exports = { Relay };
