// The PeerJS dialect on one pod (issue 4): the frames the unmodified `peerjs` client sends and
// expects, as the `peer` 1.0.x server speaks them. Contract: docs/peerjs.md.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectPeer,
  connectPeerJs,
  eventually,
  httpGetWithHeaders,
  openPeerJs,
  serverFixture,
  sleep,
  startServer,
} from './harness.mjs';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// PeerJS has no ping to tell when the server has read what a client sent; its message counter
// does (a message is handled in the same step that counts it).
async function receivedSoFar(srv) {
  return (await srv.metrics()).sum('switchboard_messages_received_total');
}
async function serverHasRead(srv, total) {
  await eventually(async () => assert.ok((await receivedSoFar(srv)) >= total, `the server has not read ${total} messages yet`), {
    timeoutMs: 3000,
    intervalMs: 20,
  });
}

// The frame a refused PeerJS handshake gets, then the close.
async function expectRefused(client, message) {
  const frame = await client.nextFrame(3000, 'the ERROR frame');
  assert.equal(frame.text, JSON.stringify({ type: 'ERROR', payload: { msg: message } }));
  const { code } = await client.closed();
  assert.equal(code, 1008, 'a refused handshake closes with 1008');
}

describe('PeerJS: handshake', { timeout: 30000 }, () => {
  const fx = serverFixture();

  it('sends exactly {"type":"OPEN"} first', async () => {
    const a = await connectPeerJs(fx.srv, 'hs-open');
    await a.expectNothing(100, 'nothing after OPEN');
    a.close();
  });

  for (const [what, query] of [
    ['no id', 'key=peerjs&token=t'],
    ['no token', 'key=peerjs&id=x1'],
    ['no key', 'id=x1&token=t'],
    ['an empty id', 'key=peerjs&id=&token=t'],
  ]) {
    it(`refuses ${what} with ERROR "No id, token, or key supplied to websocket server"`, async () => {
      const c = await openPeerJs(fx.srv, { query });
      await expectRefused(c, 'No id, token, or key supplied to websocket server');
    });
  }

  it('refuses a wrong key with ERROR "Invalid key provided"', async () => {
    const c = await openPeerJs(fx.srv, { id: 'x2', key: 'other' });
    await expectRefused(c, 'Invalid key provided');
  });

  it('refuses an id outside the PeerJS alphabet with a clear ERROR', async () => {
    const c = await openPeerJs(fx.srv, { query: 'key=peerjs&id=bad%22id&token=t' });
    await expectRefused(c, 'Invalid id: use 1 to 64 characters of A-Z a-z 0-9, space, _ and -');
  });

  it('accepts ids with spaces, encoded as %20 or +, and routes to them by their decoded id', async () => {
    const spaced = await connectPeerJs(fx.srv, 'peer%20one', { label: 'peer one' });
    const plus = await connectPeerJs(fx.srv, 'peer+two', { label: 'peer two' });
    spaced.send({ type: 'OFFER', dst: 'peer two', payload: { n: 1 } });
    const got = await plus.nextFrame();
    assert.equal(got.text, '{"type":"OFFER","src":"peer one","dst":"peer two","payload":{"n":1}}');
    spaced.close();
    plus.close();
  });

  it('refuses the same id with another token: ID-TAKEN, close 4409; the holder keeps the id', async () => {
    const holder = await connectPeerJs(fx.srv, 'hs-taken', { token: 'one' });
    const other = await openPeerJs(fx.srv, { id: 'hs-taken', token: 'two' });
    const frame = await other.nextFrame(3000, 'ID-TAKEN');
    assert.equal(frame.text, '{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}');
    assert.equal((await other.closed()).code, 4409);
    const sender = await connectPeerJs(fx.srv, 'hs-sender');
    sender.send({ type: 'CANDIDATE', dst: 'hs-taken', payload: 'c' });
    assert.equal((await holder.nextFrame()).text, '{"type":"CANDIDATE","src":"hs-sender","dst":"hs-taken","payload":"c"}');
    holder.close();
    sender.close();
  });

  it('lets the same id with the same token take over: OPEN to the new socket, 4410 to the old', async () => {
    const old = await connectPeerJs(fx.srv, 'hs-again', { token: 'same' });
    const fresh = await connectPeerJs(fx.srv, 'hs-again', { token: 'same' });
    const { code, reason } = await old.closed();
    assert.equal(code, 4410, `old socket close (reason ${reason})`);
    const sender = await connectPeerJs(fx.srv, 'hs-sender2');
    sender.send({ type: 'OFFER', dst: 'hs-again', payload: {} });
    assert.equal((await fresh.nextFrame()).text, '{"type":"OFFER","src":"hs-sender2","dst":"hs-again","payload":{}}');
    fresh.close();
    sender.close();
  });
});

describe('PeerJS: messages', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'expire-ms': 1000 });

  it('relays OFFER, ANSWER, CANDIDATE, LEAVE, EXPIRE as {type,src,dst,payload}, src stamped', async () => {
    const a = await connectPeerJs(fx.srv, 'm-a');
    const b = await connectPeerJs(fx.srv, 'm-b');
    for (const type of ['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE', 'EXPIRE']) {
      // Client order (type, payload, dst), a forged src and an extra field: the relayed frame has
      // the server's key order, the real src, no extra field, and the payload bytes untouched.
      a.sendRaw(`{"type":"${type}","payload":{"sdp":"v=0\\r\\n", "n": [1, 2.50]},"dst":"m-b","src":"forged","extra":1}`);
      const got = await b.nextFrame(3000, type);
      assert.equal(got.text, `{"type":"${type}","src":"m-a","dst":"m-b","payload":{"sdp":"v=0\\r\\n", "n": [1, 2.50]}}`);
    }
    b.send({ type: 'ANSWER', dst: 'm-a' });
    assert.equal((await a.nextFrame()).text, '{"type":"ANSWER","src":"m-b","dst":"m-a"}', 'no payload: none relayed');
    a.close();
    b.close();
  });

  it('answers nothing to HEARTBEAT, ignores unknown types and invalid JSON without closing', async () => {
    const a = await connectPeerJs(fx.srv, 'm-quiet');
    const b = await connectPeerJs(fx.srv, 'm-listener');
    a.send({ type: 'HEARTBEAT' });
    a.send({ type: 'FOO', dst: 'm-listener', payload: 1 });
    a.send({ type: 'OPEN', dst: 'm-listener' });
    a.sendRaw('{"type":"OFFER",');
    a.sendRaw('null');
    a.sendRaw('{"type":"OFFER","dst":"m-listener","payload":01}');
    a.send({ type: 'OFFER', payload: 1 }); // no dst
    a.send({ type: 'offer', dst: 'm-listener', payload: 1 }); // types are upper case
    await a.expectNothing(300, 'PeerJS answers none of these');
    await b.expectNothing(0, 'none of these is relayed');
    assert.ok(a.isOpen, 'still open');
    // Binary frames are not UTF-8-checked by the WebSocket layer: ignored, never relayed as text.
    a.sendRaw(Buffer.from('{"type":"OFFER","dst":"m-listener","payload":"\xff"}', 'latin1'), { binary: true });
    a.send({ type: 'OFFER', dst: 'm-listener', payload: 2 });
    assert.equal((await b.nextFrame()).text, '{"type":"OFFER","src":"m-quiet","dst":"m-listener","payload":2}', 'the binary frame was dropped, the socket still works');
    a.close();
    b.close();
  });

  it('queues for an absent id and delivers in order right after OPEN', async () => {
    const a = await connectPeerJs(fx.srv, 'q-sender');
    const read = await receivedSoFar(fx.srv);
    for (let i = 0; i < 5; i++) a.send({ type: i === 0 ? 'OFFER' : 'CANDIDATE', dst: 'q-late', payload: { i } });
    await serverHasRead(fx.srv, read + 5); // queued, since q-late is not there yet
    const late = await connectPeerJs(fx.srv, 'q-late');
    const got = [];
    for (let i = 0; i < 5; i++) got.push((await late.next()).payload.i);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    await a.expectNothing(1500, 'delivered in time: no EXPIRE');
    a.close();
    late.close();
  });

  it('sends one EXPIRE per target to each sender when nobody connects in time', async () => {
    const a = await connectPeerJs(fx.srv, 'e-a');
    const b = await connectPeerJs(fx.srv, 'e-b');
    const sent = Date.now();
    a.send({ type: 'OFFER', dst: 'e-nobody', payload: 1 });
    a.send({ type: 'CANDIDATE', dst: 'e-nobody', payload: 2 });
    a.send({ type: 'OFFER', dst: 'e-nobody2', payload: 3 });
    b.send({ type: 'OFFER', dst: 'e-nobody', payload: 4 });
    const forA = [(await a.nextFrame(4000)).text, (await a.nextFrame(4000)).text].sort();
    assert.ok(Date.now() - sent >= 900, `EXPIRE only after --expire-ms (${Date.now() - sent} ms)`);
    assert.deepEqual(forA, [
      '{"type":"EXPIRE","src":"e-nobody","dst":"e-a"}',
      '{"type":"EXPIRE","src":"e-nobody2","dst":"e-a"}',
    ]);
    assert.equal((await b.nextFrame(4000)).text, '{"type":"EXPIRE","src":"e-nobody","dst":"e-b"}');
    await a.expectNothing(1200, 'one EXPIRE per target');
    a.close();
    b.close();
  });

  it('does not queue LEAVE or EXPIRE: dropped without EXPIRE when the target is absent', async () => {
    const a = await connectPeerJs(fx.srv, 'l-a');
    const read = await receivedSoFar(fx.srv);
    a.send({ type: 'LEAVE', dst: 'l-absent' });
    a.send({ type: 'EXPIRE', dst: 'l-absent' });
    // Only once the server has handled them while l-absent is absent (else they would be relayed
    // to it live, as they should be).
    await serverHasRead(fx.srv, read + 2);
    const late = await connectPeerJs(fx.srv, 'l-absent');
    await late.expectNothing(300, 'LEAVE and EXPIRE were not kept for it');
    await a.expectNothing(1500, 'and no EXPIRE came back');
    a.close();
    late.close();
  });

  it('keeps PeerJS and native ids apart: the same name in both dialects are two peers', async () => {
    const nativeA = await connectPeer(fx.srv, 'same-name');
    const peerjsA = await connectPeerJs(fx.srv, 'same-name');
    const peerjsB = await connectPeerJs(fx.srv, 'pj-sender');
    peerjsB.send({ type: 'OFFER', dst: 'same-name', payload: 'for peerjs' });
    assert.equal((await peerjsA.next()).payload, 'for peerjs');
    await nativeA.expectNothing(200, 'a PeerJS frame never reaches a native peer');
    nativeA.close();
    peerjsA.close();
    peerjsB.close();
  });
});

describe('PeerJS: liveness', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'peerjs-alive-timeout-ms': 1000 });

  it('closes a client silent for longer than --peerjs-alive-timeout-ms; heartbeats keep one open', async () => {
    const silent = await connectPeerJs(fx.srv, 'alive-silent');
    const beating = await connectPeerJs(fx.srv, 'alive-beating');
    const timer = setInterval(() => beating.isOpen && beating.send({ type: 'HEARTBEAT' }), 300);
    try {
      const opened = Date.now();
      const { code } = await silent.closed(3000);
      const after = Date.now() - opened;
      assert.equal(code, 1008);
      assert.ok(after >= 900, `closed after ${after} ms, not before the timeout`);
      await sleep(1000);
      assert.ok(beating.isOpen, 'a client sending HEARTBEAT stays open');
    } finally {
      clearInterval(timer);
    }
    beating.close();
  });
});

describe('PeerJS: HTTP', { timeout: 30000 }, () => {
  const fx = serverFixture();

  it('GET / answers the server info JSON', async () => {
    const res = await fx.srv.get('/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(res.body), {
      name: 'PeerJS Server',
      description: 'A server side element to broker connections between PeerJS clients.',
      website: 'https://peerjs.com/',
    });
  });

  it('GET /peerjs/id answers a fresh v4 UUID as text, no newline, with CORS for the Origin', async () => {
    const origin = 'http://127.0.0.1:9999';
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const res = await httpGetWithHeaders(fx.srv.host, fx.srv.port, '/peerjs/id?ts=1&version=1.5.5', { origin });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(res.body, UUID_V4);
      assert.equal(res.headers['access-control-allow-origin'], origin);
      assert.match(res.headers.vary, /Origin/);
      ids.add(res.body);
    }
    assert.equal(ids.size, 5, 'every id is new');
    const id = [...ids][0];
    const c = await connectPeerJs(fx.srv, id);
    c.close();
  });

  it('GET /peerjs/peers is 401 "Unauthorized" without --peerjs-allow-discovery', async () => {
    const res = await fx.srv.get('/peerjs/peers');
    assert.equal(res.status, 401);
    assert.equal(res.body, 'Unauthorized');
  });

  it('with --peerjs-allow-discovery, GET /peerjs/peers lists the connected PeerJS ids (no native ids)', async (t) => {
    const srv = await startServer({ 'peerjs-allow-discovery': 'true' }, { t });
    const a = await connectPeerJs(srv, 'disc-a');
    const b = await connectPeerJs(srv, 'disc%20b');
    const n = await connectPeer(srv, 'native-one');
    const res = await srv.get('/peerjs/peers');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(res.body).sort(), ['disc b', 'disc-a']);
    a.close();
    b.close();
    n.close();
  });

  it('mounts everything under --peerjs-path', async (t) => {
    const srv = await startServer({ 'peerjs-path': '/myapp', 'peerjs-key': 'k2' }, { t });
    for (const path of ['/myapp', '/myapp/']) {
      const res = await srv.get(path);
      assert.equal(res.status, 200, path);
      assert.equal(JSON.parse(res.body).name, 'PeerJS Server', path);
    }
    assert.match((await srv.get('/myapp/k2/id')).body, UUID_V4);
    const c = await connectPeerJs(srv, 'mounted', { path: '/myapp/peerjs', key: 'k2' });
    c.close();
    assert.equal((await srv.get('/')).status, 404, 'nothing at / any more');
  });
});
