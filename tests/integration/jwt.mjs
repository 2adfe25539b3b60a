// Connection tokens for the tests, made with node's own crypto as an issuer would (docs/security.md):
// HS* with an HMAC secret, RS* with an RSA private key, ES* with an EC private key (the raw R||S
// signature JWS uses, not DER).

import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HASHES = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

const base64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export const nowSeconds = () => Math.floor(Date.now() / 1000);

// A signed token: `claims` as given (add exp yourself, or use claimsFor), `alg` one of HS*, RS*,
// ES*, or 'none'; `key` the secret (string) or the private KeyObject. `header` adds or overrides
// header members.
export function signToken(claims, { alg = 'HS256', key, header = {} } = {}) {
  const signingInput = `${base64url({ alg, typ: 'JWT', ...header })}.${base64url(claims)}`;
  const bits = alg.slice(2);
  let signature;
  if (alg === 'none') signature = '';
  else if (alg.startsWith('HS')) signature = createHmac(HASHES[bits], key).update(signingInput).digest('base64url');
  else {
    const signer = createSign(HASHES[bits]).update(signingInput);
    signature = alg.startsWith('ES')
      ? signer.sign({ key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
      : signer.sign(key).toString('base64url');
  }
  return `${signingInput}.${signature}`;
}

// Claims for `sub` valid for `ttl` seconds from now, with `extra` added.
export function claimsFor(sub, { ttl = 300, ...extra } = {}) {
  return { sub, iat: nowSeconds(), exp: nowSeconds() + ttl, ...extra };
}

// A directory for key files, removed after the test (t.after) or the suite (after).
export function keyDir(cleanup) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-keys-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return {
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    },
  };
}

export function rsaKeys(bits = 2048) {
  return generateKeyPairSync('rsa', { modulusLength: bits });
}

export function ecKeys(namedCurve = 'P-256') {
  return generateKeyPairSync('ec', { namedCurve });
}

export const publicPem = (keys) => keys.publicKey.export({ type: 'spki', format: 'pem' });
