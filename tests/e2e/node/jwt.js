// Mints test JWTs with Node's own crypto (no JWT library), for the relay's auth tests.
//   node jwt.js keypair DIR                  -> DIR/private.pem, DIR/public.pem (RSA 2048)
//   node jwt.js hs256 SECRET CLAIMS_JSON     -> a token signed with HMAC-SHA256
//   node jwt.js rs256 PRIVATE_PEM CLAIMS_JSON
//   node jwt.js hs256-with-file FILE CLAIMS  -> HS256 keyed with a file's bytes (alg confusion)
// In CLAIMS_JSON, "exp":"+N" / "nbf":"+N" mean now + N seconds (N may be negative).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const b64 = (b) => Buffer.from(b).toString('base64url');
const [mode, key, claimsArg] = process.argv.slice(2);
if (mode === 'keypair') {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(`${key}/private.pem`, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  fs.writeFileSync(`${key}/public.pem`, publicKey.export({ type: 'spki', format: 'pem' }));
  process.exit(0);
}
const claims = JSON.parse(claimsArg || '{}');
const now = Math.floor(Date.now() / 1000);
for (const k of ['exp', 'nbf', 'iat'])
  if (typeof claims[k] === 'string' && /^[+-]\d+$/.test(claims[k])) claims[k] = now + Number(claims[k]);
const alg = mode === 'rs256' ? 'RS256' : 'HS256';
const input = `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
let sig;
if (mode === 'rs256') sig = crypto.sign('sha256', Buffer.from(input), fs.readFileSync(key));
else if (mode === 'hs256-with-file') sig = crypto.createHmac('sha256', fs.readFileSync(key)).update(input).digest();
else sig = crypto.createHmac('sha256', key).update(input).digest();
process.stdout.write(`${input}.${b64(sig)}\n`);
