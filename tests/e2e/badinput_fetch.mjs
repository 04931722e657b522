// Sends a POST of N bytes with Node's built-in fetch (undici), as an Express app would, and
// prints what the client saw, one line: "status=413 body=<first 200 bytes>" or
// "error=<message> cause=<code>".
//
//   node badinput_fetch.mjs URL BYTES [length|stream] [Header: value]...
//
// "length" (default) sends a string body with Content-Length; "stream" a ReadableStream,
// sent chunked. Used by tests/e2e/badinput_bigbody.sh.
const [url, bytes, mode = 'length', ...headerArgs] = process.argv.slice(2);
const n = Number(bytes);
const headers = { 'content-type': 'application/json' };
for (const h of headerArgs) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const opts = { method: 'POST', headers, signal: AbortSignal.timeout(60000) };
if (mode === 'stream') {
  const chunk = new Uint8Array(64 * 1024).fill(97);
  let sent = 0;
  opts.body = new ReadableStream({
    pull(c) {
      if (sent >= n) {
        c.close();
        return;
      }
      const k = Math.min(chunk.length, n - sent);
      sent += k;
      c.enqueue(k === chunk.length ? chunk : chunk.subarray(0, k));
    },
  });
  opts.duplex = 'half';
} else {
  opts.body = 'a'.repeat(n);
}
try {
  const r = await fetch(url, opts);
  const text = await r.text();
  console.log(`status=${r.status} body=${text.slice(0, 200)}`);
} catch (e) {
  const cause = e.cause ? e.cause.code || e.cause.message : '';
  console.log(`error=${e.message} cause=${cause}`);
  process.exitCode = 1;
}
