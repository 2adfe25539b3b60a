// The PeerJS dialect across pods (issue 4): every pod serves PeerJS clients, and they reach each
// other through Redis as native peers do. Contract: docs/peerjs.md.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFixture, connectPeerJs, eventually, openPeerJs, sleep } from './harness.mjs';

describe('PeerJS across pods', { timeout: 60000 }, () => {
  const EXPIRE_MS = 1500;
  const fx = clusterFixture({
    pods: 2,
    tag: 'mpj',
    // The 10,000-message test must not trip the rate limiter.
    flags: { 'expire-ms': EXPIRE_MS, 'peerjs-allow-discovery': 'true', 'rate-limit': 1000000, 'rate-burst': 1000000 },
  });

  it('relays both ways between pods, src stamped, payload untouched', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeerJs(p1, 'x-a');
    const b = await connectPeerJs(p2, 'x-b');
    a.sendRaw('{"type":"OFFER","payload":{"sdp":"v=0", "type":"offer"},"dst":"x-b"}');
    assert.equal((await b.nextFrame()).text, '{"type":"OFFER","src":"x-a","dst":"x-b","payload":{"sdp":"v=0", "type":"offer"}}');
    b.send({ type: 'ANSWER', payload: { sdp: 'v=1' }, dst: 'x-a' });
    assert.equal((await a.nextFrame()).text, '{"type":"ANSWER","src":"x-b","dst":"x-a","payload":{"sdp":"v=1"}}');
    for (let i = 0; i < 50; i++) a.send({ type: 'CANDIDATE', payload: { i }, dst: 'x-b' });
    const order = [];
    for (let i = 0; i < 50; i++) order.push((await b.next()).payload.i);
    assert.deepEqual(order, [...Array(50).keys()], 'in order across pods');
    a.close();
    b.close();
  });

  it('delivers 10,000 CANDIDATEs from pod 1 to pod 2 complete and in order', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeerJs(p1, 'x-bulk-a');
    const b = await connectPeerJs(p2, 'x-bulk-b');
    const TOTAL = 10000;
    const received = b.collect(TOTAL, 90000);
    received.catch(() => {}); // awaited below
    for (let start = 0; start < TOTAL; start += 500) {
      for (let i = start; i < start + 500; i++) a.send({ type: 'CANDIDATE', payload: { i }, dst: 'x-bulk-b' });
      await a.flush(30000);
    }
    const got = await received;
    got.forEach((m, i) => {
      if (m.type !== 'CANDIDATE' || m.src !== 'x-bulk-a' || m.payload?.i !== i) {
        assert.fail(`message ${i} of ${TOTAL}: expected CANDIDATE ${i} from x-bulk-a, got ${JSON.stringify(m)}`);
      }
    });
    await b.expectNothing(200, 'no more than 10,000 messages');
    a.close();
    b.close();
  });

  it('refuses an id held on another pod with another token (ID-TAKEN, 4409)', async () => {
    const [p1, p2] = fx.cluster.pods;
    const holder = await connectPeerJs(p2, 'x-taken', { token: 'one' });
    const other = await openPeerJs(p1, { id: 'x-taken', token: 'two' });
    assert.equal((await other.nextFrame()).text, '{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}');
    assert.equal((await other.closed()).code, 4409);
    assert.ok(holder.isOpen, 'the holder keeps its connection');
    holder.close();
  });

  it('lets the same token take the id over from another pod: OPEN there, 4410 here', async () => {
    const [p1, p2] = fx.cluster.pods;
    const old = await connectPeerJs(p1, 'x-move', { token: 'same' });
    const fresh = await connectPeerJs(p2, 'x-move', { token: 'same' });
    assert.equal((await old.closed()).code, 4410);
    const sender = await connectPeerJs(p1, 'x-mover-friend');
    sender.send({ type: 'OFFER', payload: 1, dst: 'x-move' });
    assert.equal((await fresh.nextFrame()).text, '{"type":"OFFER","src":"x-mover-friend","dst":"x-move","payload":1}');
    fresh.close();
    sender.close();
  });

  it('queues in Redis for an absent id and delivers after OPEN on the other pod, in order', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeerJs(p1, 'x-q-sender');
    for (let i = 0; i < 4; i++) a.send({ type: 'CANDIDATE', payload: { i }, dst: 'x-q-late' });
    await eventually(async () => assert.equal(await fx.cluster.redis.command('LLEN', fx.cluster.keys.queue('~x-q-late')), 4));
    const late = await connectPeerJs(p2, 'x-q-late');
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await late.next()).payload.i);
    assert.deepEqual(got, [0, 1, 2, 3]);
    a.close();
    late.close();
  });

  it('sends one EXPIRE to the sender when nobody takes the id in time', async () => {
    const [p1] = fx.cluster.pods;
    const a = await connectPeerJs(p1, 'x-e-sender');
    const sent = Date.now();
    a.send({ type: 'OFFER', payload: 1, dst: 'x-e-nobody' });
    a.send({ type: 'CANDIDATE', payload: 2, dst: 'x-e-nobody' });
    assert.equal((await a.nextFrame(EXPIRE_MS + 3000)).text, '{"type":"EXPIRE","src":"x-e-nobody","dst":"x-e-sender"}');
    assert.ok(Date.now() - sent >= EXPIRE_MS - 100, `EXPIRE after ${Date.now() - sent} ms`);
    await a.expectNothing(EXPIRE_MS, 'one EXPIRE per target');
    a.close();
  });

  it('drops LEAVE for an absent id instead of queueing it in Redis', async () => {
    const [p1] = fx.cluster.pods;
    const a = await connectPeerJs(p1, 'x-l-sender');
    a.send({ type: 'LEAVE', dst: 'x-l-absent' });
    a.send({ type: 'OFFER', payload: 'marker', dst: 'x-l-absent' });
    await eventually(async () => assert.equal(await fx.cluster.redis.command('LLEN', fx.cluster.keys.queue('~x-l-absent')), 1));
    const queued = await fx.cluster.redis.command('LRANGE', fx.cluster.keys.queue('~x-l-absent'), '0', '-1');
    assert.match(queued[0], /"type":"OFFER"/, 'only the OFFER waits');
    a.close();
  });

  it('routes what a client sends right after the socket opens, before OPEN arrives', async () => {
    const [p1, p2] = fx.cluster.pods;
    const b = await connectPeerJs(p2, 'x-early-b');
    // Redis holds every command for a while, so the register step is certainly still on its way
    // when the client sends.
    const PAUSE_MS = 500;
    await fx.cluster.redis.command('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
    const paused = Date.now();
    const a = await openPeerJs(p1, { id: 'x-early-a' });
    a.send({ type: 'OFFER', payload: 'early', dst: 'x-early-b' });
    assert.equal((await a.nextFrame(PAUSE_MS + 3000)).text, '{"type":"OPEN"}');
    assert.ok(Date.now() - paused >= PAUSE_MS - 50, 'OPEN came after the pause: the OFFER was sent before it');
    assert.equal((await b.nextFrame()).text, '{"type":"OFFER","src":"x-early-a","dst":"x-early-b","payload":"early"}');
    a.close();
    b.close();
  });

  it('gives the id to a reloaded page whose old socket left while Redis held its register step', async () => {
    const [p1] = fx.cluster.pods;
    // Redis holds script calls (not CLIENT commands) until the pause ends.
    await fx.cluster.redis.command('CLIENT', 'PAUSE', '1000', 'WRITE');
    const paused = Date.now();
    const old = await openPeerJs(p1, { id: 'x-reload', token: 'page-1' });
    await sleep(100);
    old.close(); // its register step is still in Redis: the claim is abandoned
    await sleep(100);
    // PeerJS makes a new token on every page load.
    const reloaded = await openPeerJs(p1, { id: 'x-reload', token: 'page-2' });
    assert.equal((await reloaded.nextFrame(4000)).text, '{"type":"OPEN"}', 'not ID-TAKEN');
    assert.ok(Date.now() - paused >= 900, 'OPEN came after the pause: the test tested the race');
    const b = await connectPeerJs(fx.cluster.pods[1], 'x-reload-b');
    b.send({ type: 'OFFER', dst: 'x-reload', payload: 1 });
    assert.equal((await reloaded.nextFrame()).text, '{"type":"OFFER","src":"x-reload-b","dst":"x-reload","payload":1}');
    reloaded.close();
    b.close();
  });

  it('lists the PeerJS ids of every pod at GET /peerjs/peers', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeerJs(p1, 'x-list-1');
    const b = await connectPeerJs(p2, 'x-list 2');
    for (const pod of [p1, p2]) {
      const res = await pod.get('/peerjs/peers');
      assert.equal(res.status, 200);
      const ids = JSON.parse(res.body);
      assert.ok(ids.includes('x-list-1') && ids.includes('x-list 2'), `${pod.pod}: ${res.body}`);
    }
    a.close();
    b.close();
    await sleep(50);
  });
});
