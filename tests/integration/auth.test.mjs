// Connection tokens (--auth-jwt-*, docs/security.md): who may connect, as which peer id, to whom
// it may send, and for how long. Tokens are made here with node's crypto, as an issuer would.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  WebSocket,
  clusterFixture,
  connectPeer,
  connectPeerJs,
  eventually,
  openClient,
  runOnce,
  serverFixture,
  sleep,
  startServer,
  tryHandshake,
} from './harness.mjs';
import { claimsFor, ecKeys, keyDir, nowSeconds, publicPem, rsaKeys, signToken } from './jwt.mjs';

const SECRET = 'a-test-secret-of-more-than-32-bytes-0123456789';
const AUDIENCE = 'switchboard';
const ISSUER = 'https://issuer.example';

const keys = keyDir(after);
const secretFile = keys.write('secret', `${SECRET}\n`);
const hs = (claims, opts = {}) => signToken(claims, { alg: 'HS256', key: SECRET, ...opts });
const valid = (sub, extra = {}) => hs(claimsFor(sub, { aud: AUDIENCE, iss: ISSUER, ...extra }));

const withAccessToken = (token) => `access_token=${encodeURIComponent(token)}`;
const refusals = async (srv, reason) =>
  (await srv.metrics()).sum('switchboard_handshakes_refused_total', { reason });

// The handshake's status, and the log line that says why it was refused (undefined for a 101).
async function handshake(srv, { peer, token, path, query } = {}) {
  const logged = srv.logs.length;
  const q = [query, token === undefined ? undefined : withAccessToken(token)].filter(Boolean).join('&');
  const result = await tryHandshake(srv, { peer, path, query: q || undefined });
  if (result.status === 101) {
    result.client.terminate();
    return { status: 101 };
  }
  const line = await eventually(() => {
    const found = srv.logs.slice(logged).find((o) => o.msg === 'handshake refused');
    assert.ok(found, 'no "handshake refused" line');
    return found;
  });
  if (token !== undefined) assert.ok(!JSON.stringify(line).includes(token.split('.')[2] || token), 'the token is logged');
  return { status: result.status, why: line.why, reason: line.reason, body: result.body };
}

describe('connection tokens (HS256 secret, audience, issuer)', { timeout: 60000 }, () => {
  const fx = serverFixture({
    'auth-jwt-secret-file': secretFile,
    'auth-audience': AUDIENCE,
    'auth-issuer': ISSUER,
    'log-level': 'info',
  });

  it('a valid token connects as its sub, with or without peer=', async () => {
    const a = await connectPeer(fx.srv, undefined, { query: withAccessToken(valid('alice')) });
    assert.equal(a.peer, 'alice');
    a.close();
    await a.closed();
    const b = await connectPeer(fx.srv, 'bob', { query: withAccessToken(valid('bob')) });
    b.close();
  });

  it('takes the token from Authorization: Bearer too', async () => {
    const client = await openClient(fx.srv, { wsOptions: { headers: { authorization: `Bearer ${valid('carol')}` } } });
    const welcome = await client.next();
    assert.equal(welcome.type, 'welcome');
    assert.equal(welcome.peer, 'carol');
    client.close();
  });

  for (const [name, make, why] of [
    ['no token', () => undefined, /no token/],
    ['garbage', () => 'not-a-jwt', /not a signed JWT/],
    ['a bad signature', () => valid('alice').slice(0, -4) + 'AAAA', /signature/],
    ['another secret', () => signToken(claimsFor('alice', { aud: AUDIENCE, iss: ISSUER }), { key: 'x'.repeat(40) }), /signature/],
    ['alg none', () => signToken(claimsFor('alice', { aud: AUDIENCE, iss: ISSUER }), { alg: 'none' }), /algorithm/],
    ['expired past the leeway', () => valid('alice', { exp: nowSeconds() - 120 }), /expired/],
    ['not valid before a later time', () => valid('alice', { nbf: nowSeconds() + 300 }), /not valid yet|nbf/],
    ['no exp', () => hs({ sub: 'alice', aud: AUDIENCE, iss: ISSUER }), /exp/],
    ['the wrong audience', () => valid('alice', { aud: 'another-service' }), /aud/],
    ['the wrong issuer', () => valid('alice', { iss: 'https://evil.example' }), /iss/],
    ['a sub that is no peer id', () => valid('no spaces allowed'), /subject/],
  ]) {
    it(`refuses ${name} with 401 and one line saying why, without the token`, async () => {
      const token = make();
      const before = await refusals(fx.srv, 'unauthorized');
      const result = await handshake(fx.srv, { token, query: token === undefined ? 'peer=alice' : undefined });
      assert.equal(result.status, 401, JSON.stringify(result));
      assert.equal(result.reason, 'unauthorized');
      assert.match(result.why, why);
      assert.equal((await refusals(fx.srv, 'unauthorized')) - before, 1);
    });
  }

  it('accepts a token of 6 KB (a long send_to list) in the URL', async () => {
    const sendTo = Array.from({ length: 250 }, (_, i) => `room-${i}-member`); // at most 256 items
    const token = valid('big', { send_to: sendTo });
    assert.ok(token.length > 6000, `${token.length} bytes`);
    assert.equal((await handshake(fx.srv, { token })).status, 101);
  });

  it('accepts a token expired within the leeway (60 s)', async () => {
    assert.equal((await handshake(fx.srv, { token: valid('dave', { exp: nowSeconds() - 20 }) })).status, 101);
  });

  it('an audience array containing ours is accepted', async () => {
    assert.equal((await handshake(fx.srv, { token: valid('erin', { aud: ['other', AUDIENCE] }) })).status, 101);
  });

  it("no one squats another peer's id: a token for mallory cannot claim alice (403)", async () => {
    const alice = await connectPeer(fx.srv, 'alice', { query: withAccessToken(valid('alice')) });
    const result = await handshake(fx.srv, { peer: 'alice', token: valid('mallory') });
    assert.equal(result.status, 403);
    assert.equal(result.reason, 'forbidden-peer');
    await alice.assertAlive('alice keeps her id');
    alice.close();
  });

  it('a second connection with a token for the same sub takes the id over', async () => {
    const first = await connectPeer(fx.srv, 'frank', { query: withAccessToken(valid('frank')) });
    const second = await connectPeer(fx.srv, 'frank', { query: withAccessToken(valid('frank')) });
    await first.closed();
    await second.assertAlive();
    second.close();
  });

  it('send_to limits whom a connection may send to; others get a forbidden error', async () => {
    const sender = await connectPeer(fx.srv, 'gina', { query: withAccessToken(valid('gina', { send_to: ['room1-*'] })) });
    const inRoom = await connectPeer(fx.srv, 'room1-x', { query: withAccessToken(valid('room1-x')) });
    const outside = await connectPeer(fx.srv, 'hank', { query: withAccessToken(valid('hank')) });
    sender.send({ type: 'offer', to: 'hank', payload: { sdp: 'v=0' }, id: 7 });
    const error = await sender.expect('error', { code: 'forbidden' });
    assert.equal(error.to, 'hank');
    assert.equal(error.ref, 7);
    await outside.expectNothing(300, 'hank must not get the offer');
    sender.send({ type: 'offer', to: 'room1-x', payload: { sdp: 'v=0' } });
    const offer = await inRoom.expect('offer');
    assert.equal(offer.from, 'gina');
    for (const c of [sender, inRoom, outside]) c.close();
  });

  it('the PeerJS client passes the token as its token option: id must be the sub', async () => {
    const peer = await connectPeerJs(fx.srv, 'ivy', { token: valid('ivy') });
    peer.close();
    for (const [token, status] of [
      [valid('someone-else'), 403],
      ['a-random-peerjs-token', 401],
      [valid('ivy', { exp: nowSeconds() - 600 }), 401],
    ]) {
      const result = await handshake(fx.srv, { path: '/peerjs', query: `key=peerjs&id=ivy&token=${token}&version=1.5.5` });
      assert.equal(result.status, status, `${token.slice(0, 20)}: ${JSON.stringify(result)}`);
    }
  });
});

describe('connection tokens across two pods on Redis', { timeout: 60000 }, () => {
  const fx = clusterFixture({
    pods: 2,
    tag: 'auth',
    flags: { 'auth-jwt-secret-file': secretFile, 'auth-audience': AUDIENCE, 'auth-issuer': ISSUER, 'log-level': 'info' },
  });

  it('relays between token holders, refuses a squatter on the other pod, and lets the same sub take over there', async () => {
    const [pod1, pod2] = fx.cluster.pods;
    const alice = await connectPeer(pod1, 'alice', { query: withAccessToken(valid('alice')) });
    const bob = await connectPeer(pod2, undefined, { query: withAccessToken(valid('bob', { send_to: ['alice'] })) });
    assert.equal(bob.peer, 'bob', 'with no peer= the id is the sub');
    alice.send({ type: 'offer', to: 'bob', payload: { sdp: 'cross' } });
    assert.equal((await bob.expect('offer')).from, 'alice');

    // send_to holds on the other pod too.
    bob.send({ type: 'offer', to: 'carol', payload: {}, id: 3 });
    assert.equal((await bob.expect('error', { code: 'forbidden' })).ref, 3);

    const squat = await handshake(pod2, { peer: 'alice', token: valid('mallory') });
    assert.equal(squat.status, 403);
    await alice.assertAlive('alice keeps her id');
    assert.equal(await fx.cluster.owner('alice'), pod1.pod);

    // A token for alice, presented on pod 2, takes her id over from pod 1.
    const aliceAgain = await connectPeer(pod2, 'alice', { query: withAccessToken(valid('alice')) });
    const closed = await alice.closed();
    assert.equal(closed.code, 4410);
    await eventually(async () => assert.equal(await fx.cluster.owner('alice'), pod2.pod));
    bob.send({ type: 'answer', to: 'alice', payload: { sdp: 'back' } });
    assert.equal((await aliceAgain.expect('answer')).payload.sdp, 'back');
    for (const c of [aliceAgain, bob]) c.close();
  });
});

describe('a pod without tokens beside one with them (the rollout that turns them on)', { timeout: 60000 }, () => {
  const fx = clusterFixture({ pods: 2, tag: 'mixed', podFlags: [{ 'auth-jwt-secret-file': secretFile }, {}] });

  it('no client takes over an authenticated peer by naming its subject as a resume token', async () => {
    const [withAuth, without] = fx.cluster.pods;
    const alice = await connectPeer(withAuth, 'alice', { query: withAccessToken(hs(claimsFor('alice'))) });
    const intruder = await openClient(without, { peer: 'alice', token: 'jwt alice' });
    const error = await intruder.expect('error', { code: 'id-taken' });
    assert.ok(error);
    assert.equal((await intruder.closed()).code, 4409);
    await alice.assertAlive('alice keeps her id');
    assert.equal(await fx.cluster.owner('alice'), withAuth.pod);
    alice.close();
  });
});

describe('connection tokens expire on open connections', { timeout: 60000 }, () => {
  const fx = serverFixture({ 'auth-jwt-secret-file': secretFile, 'auth-leeway-seconds': 1 });

  it('closes a native connection with 4401 at exp plus the leeway', async () => {
    const exp = nowSeconds() + 2;
    const client = await connectPeer(fx.srv, 'short', { query: withAccessToken(hs({ sub: 'short', exp })) });
    const info = await client.closed(8000);
    assert.equal(info.code, 4401);
    assert.equal(info.reason, 'token-expired');
    assert.ok(Date.now() / 1000 >= exp + 1, 'closed before exp + leeway');
  });

  it('a refresh before exp keeps the connection open, and answers refreshed', async () => {
    const client = await connectPeer(fx.srv, 'long', { query: withAccessToken(hs({ sub: 'long', exp: nowSeconds() + 2 })) });
    const newExp = nowSeconds() + 300;
    client.send({ type: 'refresh', token: hs({ sub: 'long', exp: newExp }), id: 'r1' });
    const refreshed = await client.expect('refreshed');
    assert.equal(refreshed.exp, newExp);
    assert.equal(refreshed.ref, 'r1');
    await sleep(4000);
    await client.assertAlive('refreshed, so still open past the first exp');
    client.close();
  });

  it('refreshes come three at once at most, then one per 5 seconds; more are rate-limited', async () => {
    const client = await connectPeer(fx.srv, 'eager', { query: withAccessToken(hs({ sub: 'eager', exp: nowSeconds() + 300 })) });
    for (let i = 1; i <= 3; i++) {
      client.send({ type: 'refresh', token: hs({ sub: 'eager', exp: nowSeconds() + 300 }), id: i });
      assert.equal((await client.expect('refreshed')).ref, i);
    }
    client.send({ type: 'refresh', token: hs({ sub: 'eager', exp: nowSeconds() + 300 }), id: 4 });
    assert.equal((await client.expect('error', { code: 'rate-limited' })).ref, 4);
    await client.assertAlive();
    client.close();
  });

  it('a refresh with a token for another peer, or a bad one, is refused with unauthorized', async () => {
    const client = await connectPeer(fx.srv, 'kate', { query: withAccessToken(hs({ sub: 'kate', exp: nowSeconds() + 300 })) });
    client.send({ type: 'refresh', token: hs({ sub: 'someone', exp: nowSeconds() + 300 }), id: 1 });
    assert.equal((await client.expect('error', { code: 'unauthorized' })).ref, 1);
    client.send({ type: 'refresh', token: 'garbage', id: 2 });
    assert.equal((await client.expect('error', { code: 'unauthorized' })).ref, 2);
    client.send({ type: 'refresh', id: 3 });
    assert.equal((await client.expect('error', { code: 'bad-message' })).ref, 3);
    await client.assertAlive();
    client.close();
  });
});

describe('connection tokens signed with public keys', { timeout: 60000 }, () => {
  const rsa = rsaKeys();
  const ec = ecKeys('P-256');
  const rsaFile = keys.write('rsa.pem', publicPem(rsa));
  const ecFile = keys.write('ec.pem', publicPem(ec));
  const rsaFx = serverFixture({ 'auth-jwt-public-key-file': rsaFile });
  const ecFx = serverFixture({ 'auth-jwt-public-key-file': ecFile });

  for (const alg of ['RS256', 'RS384', 'RS512']) {
    it(`an RSA key accepts ${alg}`, async () => {
      const token = signToken(claimsFor('rsa-user'), { alg, key: rsa.privateKey });
      assert.equal((await handshake(rsaFx.srv, { token })).status, 101);
    });
  }

  it('an RSA key refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const token = signToken(claimsFor('rsa-user'), { alg: 'HS256', key: publicPem(rsa) });
    const result = await handshake(rsaFx.srv, { token });
    assert.equal(result.status, 401);
    assert.match(result.why, /algorithm/);
  });

  it('an RSA key refuses a token signed by another RSA key', async () => {
    const token = signToken(claimsFor('rsa-user'), { alg: 'RS256', key: rsaKeys().privateKey });
    assert.equal((await handshake(rsaFx.srv, { token })).status, 401);
  });

  it('a P-256 key accepts ES256 and refuses ES384 and RS256', async () => {
    assert.equal((await handshake(ecFx.srv, { token: signToken(claimsFor('ec-user'), { alg: 'ES256', key: ec.privateKey }) })).status, 101);
    const es384 = signToken(claimsFor('ec-user'), { alg: 'ES384', key: ecKeys('P-384').privateKey });
    assert.equal((await handshake(ecFx.srv, { token: es384 })).status, 401);
    const rs = signToken(claimsFor('ec-user'), { alg: 'RS256', key: rsa.privateKey });
    assert.equal((await handshake(ecFx.srv, { token: rs })).status, 401);
  });
});

describe('rotating the issuer key without a restart', { timeout: 60000 }, () => {
  const oldKey = ecKeys('P-256');
  const newKey = ecKeys('P-256');
  const file = keys.write('rotating.pem', publicPem(oldKey));
  const fx = serverFixture({ 'auth-jwt-public-key-file': file, 'log-level': 'info' });
  const tokenBy = (key, sub) => signToken(claimsFor(sub), { alg: 'ES256', key: key.privateKey });
  const reloaded = (after, trigger) =>
    fx.srv.waitForLog((o) => fx.srv.logs.indexOf(o) >= after && o.msg === 'connection token key reloaded' && o.trigger === trigger, 5000);

  it('takes the new key beside the old, then the new alone, keeping open connections; a bad file keeps the key', async () => {
    const early = await connectPeer(fx.srv, 'early', { query: withAccessToken(tokenBy(oldKey, 'early')) });

    // Step 1: the Secret gains the new key (both in one file), seen without a signal.
    let logged = fx.srv.logs.length;
    keys.write('rotating.pem', publicPem(oldKey) + publicPem(newKey));
    await reloaded(logged, 'file changed');
    assert.equal((await handshake(fx.srv, { token: tokenBy(oldKey, 'a1') })).status, 101);
    assert.equal((await handshake(fx.srv, { token: tokenBy(newKey, 'a2') })).status, 101);

    // Step 2: the old key goes. Its tokens no longer open connections; the one open stays.
    logged = fx.srv.logs.length;
    keys.write('rotating.pem', publicPem(newKey));
    await reloaded(logged, 'file changed');
    const refused = await handshake(fx.srv, { token: tokenBy(oldKey, 'a3') });
    assert.equal(refused.status, 401);
    assert.match(refused.why, /signature/);
    assert.equal((await handshake(fx.srv, { token: tokenBy(newKey, 'a4') })).status, 101);
    await early.assertAlive('a connection admitted with the old key stays open');

    // A file that holds no key, then SIGHUP: the key in use stays, and the log says why.
    logged = fx.srv.logs.length;
    keys.write('rotating.pem', 'not a key\n');
    fx.srv.signal('SIGHUP');
    const kept = await fx.srv.waitForLog(
      (o) => fx.srv.logs.indexOf(o) >= logged && o.msg === 'connection token key not reloaded: using the old one', 5000);
    assert.match(kept.why, /no PEM public key/);
    assert.equal((await handshake(fx.srv, { token: tokenBy(newKey, 'a5') })).status, 101);
    const metrics = await fx.srv.metrics();
    assert.equal(metrics.sum('switchboard_token_key_reloads_total', { result: 'loaded' }), 2);
    assert.ok(metrics.sum('switchboard_token_key_reloads_total', { result: 'kept-old' }) >= 1);
    early.close();
  });
});

describe('connection token keys that cannot be used stop the server at start', { timeout: 30000 }, () => {
  for (const [name, flags, message] of [
    ['a secret under 32 bytes', { 'auth-jwt-secret-file': keys.write('short', 'too-short\n') }, /32 bytes/],
    ['a missing secret file', { 'auth-jwt-secret-file': '/nonexistent/secret' }, /cannot read/],
    ['a public key file without a key', { 'auth-jwt-public-key-file': keys.write('junk.pem', 'hello\n') }, /PEM public key/],
    ['both kinds of key', { 'auth-jwt-secret-file': secretFile, 'auth-jwt-public-key-file': secretFile }, /one of them/],
    ['an audience without a key', { 'auth-audience': 'x' }, /need/],
  ]) {
    it(`${name}: exit 1 with a clear error`, async () => {
      const args = Object.entries({ host: '127.0.0.1', port: 0, ...flags }).map(([k, v]) => `--${k}=${v}`);
      const result = await runOnce(args);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, message);
    });
  }
});
