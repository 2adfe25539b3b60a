// Queueing and expiry across pods (issue 3): a message for a peer nobody holds waits in Redis;
// the peer connecting on any pod gets it right after welcome, in order; if nobody connects in
// time the sender's pod tells the sender once. Contract: docs/protocol.md, "Queueing and expiry".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFixture, connectPeer, eventually, openClient, sleep } from './harness.mjs';

describe('multi-pod queue: delivery after connect', { timeout: 60000 }, () => {
  // Long enough that nothing here expires before its target connects (even on a slow build).
  const EXPIRE_MS = 2000;
  // No rate limit in the way of the ordering test's burst.
  const fx = clusterFixture({
    pods: 3,
    tag: 'mpq',
    flags: { 'expire-ms': EXPIRE_MS, 'rate-limit': 1000000, 'rate-burst': 1000000, 'max-queued-per-peer': 100000 },
  });

  it('delivers messages queued on pod 1 to X connecting on pod 3: welcome, queued in order, then newer', async () => {
    const [p1, , p3] = fx.cluster.pods;
    const a = await connectPeer(p1, 'q-A');
    const sentAt = Date.now();
    a.send({ type: 'offer', to: 'q-X', payload: { seq: 0 }, id: 0 });
    a.send({ type: 'candidate', to: 'q-X', payload: { seq: 1 }, id: 1 });
    a.send({ type: 'candidate', to: 'q-X', payload: { seq: 2 } });
    a.send({ type: 'message', to: 'q-X', payload: { seq: 3 }, id: 'three' });
    a.send({ type: 'bye', to: 'q-X' });
    // They are waiting in Redis, not on pod 1.
    const queueKey = fx.cluster.keys.queue('q-X');
    await eventually(
      async () => assert.equal(await fx.cluster.redis.command('LLEN', queueKey), 5, `LLEN ${queueKey}`),
      {
        timeoutMs: 2000,
      },
    );
    assert.equal(await fx.cluster.owner('q-X'), null, 'nobody holds q-X yet');

    const x = await openClient(p3, { peer: 'q-X' });
    const welcome = await x.next(3000, 'welcome');
    assert.deepEqual(
      { type: welcome.type, peer: welcome.peer, pod: welcome.pod },
      { type: 'welcome', peer: 'q-X', pod: p3.pod },
      `first frame: welcome naming pod 3: ${JSON.stringify(welcome)}`,
    );
    const queued = await x.collect(5, 3000);
    assert.deepEqual(
      queued.map((m) => [m.type, m.from, m.to, m.payload?.seq ?? m.payload]),
      [
        ['offer', 'q-A', 'q-X', 0],
        ['candidate', 'q-A', 'q-X', 1],
        ['candidate', 'q-A', 'q-X', 2],
        ['message', 'q-A', 'q-X', 3],
        ['bye', 'q-A', 'q-X', null],
      ],
      'queued messages right after welcome, in the order sent',
    );
    assert.ok(Date.now() - sentAt < EXPIRE_MS, 'the test took longer than --expire-ms to connect the target');
    assert.equal(await fx.cluster.owner('q-X'), p3.pod, `${fx.cluster.keys.peers} names pod 3 for q-X`);
    assert.equal(await fx.cluster.redis.command('LLEN', queueKey), 0, 'the queue was handed over');

    a.send({ type: 'message', to: 'q-X', payload: { seq: 4 } });
    const newer = await x.expect('message');
    assert.deepEqual(
      [newer.from, newer.payload],
      ['q-A', { seq: 4 }],
      'a message sent after X connected, after the queue',
    );
    await x.expectNothing(100, 'nothing else for X');
    // Delivered in time: the sender is never told peer-unavailable (wait well past the expiry).
    await a.expectNothing(
      Math.max(0, sentAt + EXPIRE_MS + 1500 - Date.now()),
      'queued messages were delivered: no peer-unavailable',
    );
    a.close();
    x.close();
  });

  it('keeps order across the moment the target connects on another pod (queued, then live)', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeer(p1, 'race-A');
    let seq = 0;
    for (; seq < 20; seq++) a.send({ type: 'message', to: 'race-B', payload: { seq } });
    await a.assertAlive();
    // Keep sending while the target connects, without waiting for its welcome.
    let sending = true;
    const sender = (async () => {
      while (sending && seq < 1000) {
        for (let i = 0; i < 5; i++, seq++) a.send({ type: 'message', to: 'race-B', payload: { seq } });
        await sleep(2);
      }
    })();
    const b = await openClient(p2, { peer: 'race-B' });
    const welcome = await b.next(3000, 'welcome');
    assert.deepEqual(
      { type: welcome.type, peer: welcome.peer, pod: welcome.pod },
      { type: 'welcome', peer: 'race-B', pod: p2.pod },
      `first frame: welcome: ${JSON.stringify(welcome)}`,
    );
    await sleep(100);
    sending = false;
    await sender;
    const total = seq;
    const got = await b.collect(total, 20000);
    got.forEach((m, i) => {
      if (m.type !== 'message' || m.from !== 'race-A' || m.payload?.seq !== i) {
        assert.fail(`message ${i} of ${total}: expected seq ${i}, got ${JSON.stringify(m)}`);
      }
    });
    await b.expectNothing(100, 'no duplicates');
    await a.expectNothing(0, 'no error for the sender');
    a.close();
    b.close();
  });
});

describe('multi-pod queue: expiry', { timeout: 60000 }, () => {
  const EXPIRE_MS = 500;
  const fx = clusterFixture({ pods: 3, tag: 'mpx', flags: { 'expire-ms': EXPIRE_MS } });

  it('tells the sender on pod 1 exactly once when messages for Y expire; Y connecting later on pod 2 gets nothing old', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeer(p1, 'x-A');
    const started = Date.now();
    a.send({ type: 'message', to: 'x-Y', payload: 1, id: 'm1' });
    a.send({ type: 'offer', to: 'x-Y', payload: { sdp: '...' }, id: 2 });
    a.send({ type: 'message', to: 'x-Y', payload: 3 });
    const err = await a.expect('error', { code: 'peer-unavailable', timeoutMs: EXPIRE_MS + 10000 });
    const elapsed = Date.now() - started;
    assert.equal(err.to, 'x-Y', `peer-unavailable must name the target: ${JSON.stringify(err)}`);
    assert.ok(elapsed >= EXPIRE_MS - 50, `peer-unavailable came after ${elapsed} ms, before --expire-ms ${EXPIRE_MS}`);
    await a.expectNothing(EXPIRE_MS * 4, 'exactly one peer-unavailable per target per queue episode');
    await a.assertAlive('peer-unavailable leaves the connection open');

    const y = await connectPeer(p2, 'x-Y');
    await y.expectNothing(EXPIRE_MS * 2, 'expired messages must not be delivered');
    await a.expectNothing(0, 'nothing more for the sender');
    a.close();
    y.close();
  });

  it('starts a new episode (and a new error) for messages sent after an expiry', async () => {
    const [p1] = fx.cluster.pods;
    const a = await connectPeer(p1, 'ep-A');
    a.send({ type: 'message', to: 'ep-Y', payload: 1 });
    a.send({ type: 'message', to: 'ep-Y', payload: 2 });
    assert.equal((await a.expect('error', { code: 'peer-unavailable', timeoutMs: EXPIRE_MS + 10000 })).to, 'ep-Y');
    await a.expectNothing(EXPIRE_MS * 3, 'one error for the first episode');
    a.send({ type: 'message', to: 'ep-Y', payload: 3 });
    assert.equal((await a.expect('error', { code: 'peer-unavailable', timeoutMs: EXPIRE_MS + 10000 })).to, 'ep-Y');
    await a.expectNothing(EXPIRE_MS * 3, 'one error for the second episode');
    a.close();
  });

  it('tells each sender about its own messages, whatever pod it is on', async () => {
    const [p1, p2, p3] = fx.cluster.pods;
    const a = await connectPeer(p1, 'two-A');
    const b = await connectPeer(p3, 'two-B');
    a.send({ type: 'message', to: 'two-Y', payload: 'from A' });
    b.send({ type: 'message', to: 'two-Y', payload: 'from B', id: 'b1' });
    for (const c of [a, b]) {
      const err = await c.expect('error', { code: 'peer-unavailable', timeoutMs: EXPIRE_MS + 10000 });
      assert.equal(err.to, 'two-Y', JSON.stringify(err));
    }
    await a.expectNothing(EXPIRE_MS * 3, 'one error per sender');
    await b.expectNothing(0, 'one error per sender');
    const y = await connectPeer(p2, 'two-Y');
    await y.expectNothing(EXPIRE_MS * 2, 'expired messages must not be delivered');
    a.close();
    b.close();
    y.close();
  });

  it('gives no peer-unavailable when the target connects on another pod before expiry', async (t) => {
    const [p1, p2] = fx.cluster.pods;
    // The claim is about a target that connects within --expire-ms of the send, which a busy
    // machine does not promise. A run where it took longer tested nothing (the messages may
    // rightly have expired): it is run again with fresh ids.
    const ATTEMPTS = 5;
    for (let attempt = 1; ; attempt++) {
      const sender = `ok-A${attempt}`;
      const target = `ok-Z${attempt}`;
      const a = await connectPeer(p1, sender);
      const sentAt = Date.now();
      a.send({ type: 'message', to: target, payload: 'early-1', id: 1 });
      a.send({ type: 'message', to: target, payload: 'early-2', id: 2 });
      const z = await connectPeer(p2, target);
      const tookMs = Date.now() - sentAt; // an upper bound on the time the messages waited
      if (tookMs >= EXPIRE_MS) {
        a.close();
        z.close();
        if (attempt === ATTEMPTS) {
          assert.fail(`the target never connected within --expire-ms ${EXPIRE_MS} of the send (${ATTEMPTS} attempts, last ${tookMs} ms)`);
        }
        t.diagnostic(`attempt ${attempt}: the target connected ${tookMs} ms after the send, not within --expire-ms; again`);
        continue;
      }
      const got = await z.collect(2, 3000);
      assert.deepEqual(
        got.map((m) => [m.from, m.payload]),
        [
          [sender, 'early-1'],
          [sender, 'early-2'],
        ],
      );
      await a.expectNothing(EXPIRE_MS * 4, 'delivered in time: no peer-unavailable');
      a.close();
      z.close();
      return;
    }
  });
});

describe('multi-pod queue: limit, and a peer moving between pods', { timeout: 60000 }, () => {
  const fx = clusterFixture({
    pods: 3,
    tag: 'mpl',
    flags: { 'max-queued-per-peer': 3, 'expire-ms': 5000, 'rate-limit': 1000000, 'rate-burst': 1000000 },
  });

  it('refuses at once, with to and ref, each message beyond --max-queued-per-peer; the target on another pod gets the first ones', async () => {
    const [p1, p2] = fx.cluster.pods;
    const a = await connectPeer(p1, 'lim-A');
    for (let i = 0; i < 5; i++) a.send({ type: 'message', to: 'lim-T', payload: { seq: i }, id: i });
    const errs = await a.collect(2, 5000);
    for (const e of errs) {
      assert.equal(e.type, 'error', JSON.stringify(e));
      assert.equal(e.code, 'peer-unavailable', JSON.stringify(e));
      assert.equal(e.to, 'lim-T', JSON.stringify(e));
    }
    assert.deepEqual(errs.map((e) => e.ref).sort(), [3, 4], 'the messages beyond the limit are refused with their ref');
    const t = await connectPeer(p2, 'lim-T');
    const got = await t.collect(3, 5000);
    assert.deepEqual(
      got.map((m) => m.payload.seq),
      [0, 1, 2],
      'the first 3, in order',
    );
    await t.expectNothing(200, 'no more than --max-queued-per-peer were kept');
    await a.expectNothing(0, 'the kept messages were delivered: no further error');
    a.close();
    t.close();
  });

  it('loses nothing sent to a peer while it moves from pod 2 to pod 3', async () => {
    const [p1, p2, p3] = fx.cluster.pods;
    const a = await connectPeer(p1, 'mv-A');
    const old = await connectPeer(p2, 'mv-B', { label: 'mv-B (pod 2)' });
    let seq = 0;
    let sending = true;
    const sender = (async () => {
      while (sending) {
        a.send({ type: 'message', to: 'mv-B', payload: { seq: seq++ } });
        await sleep(2);
      }
    })();
    await sleep(100);
    old.close(1000);
    await old.closed(5000);
    const fresh = await openClient(p3, { peer: 'mv-B', label: 'mv-B (pod 3)' });
    const welcome = await fresh.next(5000, 'welcome');
    assert.equal(welcome.type, 'welcome', `first frame: ${JSON.stringify(welcome)}`);
    assert.equal(welcome.pod, p3.pod);
    await sleep(100);
    sending = false;
    await sender;
    const total = seq;
    const before = old.frames.filter((f) => f.msg?.type === 'message').map((f) => f.msg.payload.seq);
    await eventually(
      () =>
        assert.equal(
          before.length + fresh.frames.filter((f) => f.msg?.type === 'message').length,
          total,
          `messages received by the old and new connection together, of ${total}`,
        ),
      { timeoutMs: 5000 },
    );
    const after = fresh.frames.filter((f) => f.msg?.type === 'message').map((f) => f.msg.payload.seq);
    assert.deepEqual(
      [...before, ...after],
      Array.from({ length: total }, (_, i) => i),
      `every message exactly once, in order, across the move (old got ${before.length}, new got ${after.length})`,
    );
    assert.ok(after.length > 0, 'some messages were for the new connection');
    await a.expectNothing(100, 'the target moved in time: no error for the sender');
    a.close();
    fresh.close();
  });
});
