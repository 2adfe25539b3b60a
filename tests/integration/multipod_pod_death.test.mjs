// A pod killed with SIGKILL (issue 3): the other pods remove its peers from the hash within a few
// seconds; messages for them are queued and either delivered to the peer reconnecting on another
// pod, in order, or answered with peer-unavailable: never lost silently.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFixture, connectPeer, eventually, openClient, sleep } from './harness.mjs';

// Queued messages must outlive the wait for the reaper, so that Q can come back for them.
const EXPIRE_MS = 8000;
// "Within a few seconds": the liveness key has a 3 s TTL and the reaper runs every second.
const REAPED_WITHIN_MS = 6000;

describe('multi-pod: a pod dies (kill -9)', { timeout: 90000 }, () => {
  const fx = clusterFixture({ pods: 3, tag: 'mpk', flags: { 'expire-ms': EXPIRE_MS } });

  it("removes the dead pod's peers, queues messages for them, delivers to those who reconnect elsewhere, tells the sender about the rest", async () => {
    const { cluster } = fx;
    const [p1, p2, p3] = cluster.pods;
    const a = await connectPeer(p1, 'k-A');
    const p = await connectPeer(p2, 'k-P');
    const q = await connectPeer(p2, 'k-Q');
    const bystander = await connectPeer(p3, 'k-C');
    assert.deepEqual(
      await cluster.owners(),
      { 'k-A': p1.pod, 'k-P': p2.pod, 'k-Q': p2.pod, 'k-C': p3.pod },
      `${cluster.keys.peers} before the kill`,
    );
    a.send({ type: 'message', to: 'k-P', payload: 'before' });
    assert.equal((await p.expect('message', { timeoutMs: 5000 })).payload, 'before');

    p2.signal('SIGKILL');
    await p2.exited;
    const killedAt = Date.now();
    // (A message in flight at the instant of death is lost with the process; the contract is
    // about what is sent after.)
    await sleep(100);
    // Sent at once: the hash may still name the dead pod (stale entry) or it may be reaped.
    a.send({ type: 'message', to: 'k-Q', payload: { seq: 0 }, id: 'q0' });

    await eventually(
      async () => {
        const owners = await cluster.owners();
        assert.ok(
          !('k-P' in owners) && !('k-Q' in owners),
          `${cluster.keys.peers} still names the dead pod's peers: ${JSON.stringify(owners)}`,
        );
      },
      { timeoutMs: REAPED_WITHIN_MS - (Date.now() - killedAt), intervalMs: 100 },
    );
    const reapedAfter = Date.now() - killedAt;
    assert.deepEqual(await cluster.owners(), { 'k-A': p1.pod, 'k-C': p3.pod }, `the live peers keep their entries`);

    // Sent after the entries are gone: queued in Redis, not dropped.
    const pSentAt = Date.now();
    a.send({ type: 'message', to: 'k-P', payload: { seq: 0 }, id: 'p0' });
    a.send({ type: 'offer', to: 'k-P', payload: { seq: 1 }, id: 'p1' });
    a.send({ type: 'message', to: 'k-Q', payload: { seq: 1 }, id: 'q1' });
    a.send({ type: 'candidate', to: 'k-Q', payload: { seq: 2 } });
    await eventually(
      async () => {
        assert.equal(await cluster.redis.command('LLEN', cluster.keys.queue('k-P')), 2, `messages for k-P are queued`);
        assert.equal(await cluster.redis.command('LLEN', cluster.keys.queue('k-Q')), 3, `messages for k-Q are queued`);
      },
      { timeoutMs: 3000 },
    );

    // Q comes back on pod 3 (no token: its old entry is gone) and gets what waited for it, in order.
    const q2 = await openClient(p3, { peer: 'k-Q', label: 'k-Q (back on pod 3)' });
    const welcome = await q2.next(5000, 'welcome');
    assert.deepEqual(
      { type: welcome.type, peer: welcome.peer, pod: welcome.pod },
      { type: 'welcome', peer: 'k-Q', pod: p3.pod },
      `first frame (reaped ${reapedAfter} ms after the kill): ${JSON.stringify(welcome)}`,
    );
    const queued = await q2.collect(3, 5000);
    assert.deepEqual(
      queued.map((m) => [m.type, m.from, m.to, m.payload?.seq]),
      [
        ['message', 'k-A', 'k-Q', 0],
        ['message', 'k-A', 'k-Q', 1],
        ['candidate', 'k-A', 'k-Q', 2],
      ],
      'what was queued for Q while it was away, in order',
    );
    a.send({ type: 'message', to: 'k-Q', payload: { seq: 3 } });
    assert.equal((await q2.expect('message', { timeoutMs: 5000 })).payload.seq, 3, 'a newer message after the queue');
    assert.equal(await cluster.owner('k-Q'), p3.pod);

    // P never returns: exactly one peer-unavailable naming it, after the expiry; nothing about Q.
    const err = await a.next(EXPIRE_MS + 10000, 'peer-unavailable for k-P');
    assert.deepEqual(
      { type: err.type, code: err.code, to: err.to },
      { type: 'error', code: 'peer-unavailable', to: 'k-P' },
      `the sender must be told about the messages for the dead pod's peer: ${JSON.stringify(err)}`,
    );
    const waited = Date.now() - pSentAt;
    assert.ok(waited >= EXPIRE_MS - 100, `peer-unavailable after ${waited} ms, before --expire-ms ${EXPIRE_MS}`);
    await a.expectNothing(2000, 'one peer-unavailable for k-P, none for k-Q (delivered)');
    const later = await connectPeer(p1, 'k-P');
    await later.expectNothing(500, 'expired messages must not be delivered');

    // p and q were on the killed pod: their connections died with it.
    for (const c of [a, q2, bystander, later]) c.close();
  });
});
