// Duplicate ids across pods (issue 3): the rules of docs/protocol.md, "Duplicate ids", hold when
// the holder and the newcomer are on different pods.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFixture, connectPeer, openClient, sleep } from './harness.mjs';

describe('multi-pod duplicate ids', { timeout: 60000 }, () => {
  const fx = clusterFixture({ pods: 3, tag: 'mpd' });

  // The newcomer gets exactly an id-taken error and close 4409; the holder keeps the id: it
  // answers pings, receives messages from every pod, and the hash still names its pod.
  async function assertRefused(holder, holderPod, newcomerPod, newcomerOpts, label) {
    const newcomer = await openClient(newcomerPod, { label, ...newcomerOpts });
    const err = await newcomer.next(5000, 'the id-taken error');
    assert.equal(
      err.type,
      'error',
      `${label}: first frame must be the id-taken error (no welcome), got ${JSON.stringify(err)}`,
    );
    assert.equal(err.code, 'id-taken', `${label}: ${JSON.stringify(err)}`);
    const { code, reason } = await newcomer.closed(5000);
    assert.equal(code, 4409, `${label}: close code (reason ${JSON.stringify(reason)})`);
    assert.equal(reason, 'id-taken', `${label}: close reason`);
    assert.equal(
      newcomer.frames.length,
      1,
      `${label}: only the error before the close: ${newcomer.frames.map((f) => f.text).join(' | ')}`,
    );

    await holder.assertAlive(`${label}: holder after the refused newcomer`);
    assert.equal(
      await fx.cluster.owner(holder.peer),
      holderPod.pod,
      `${label}: ${fx.cluster.keys.peers} must still name the holder's pod`,
    );
    for (const pod of fx.cluster.pods) {
      const other = await connectPeer(pod, undefined);
      other.send({ type: 'message', to: holder.peer, payload: `still yours, from ${pod.pod}` });
      const m = await holder.expect('message', { timeoutMs: 5000 });
      assert.equal(m.payload, `still yours, from ${pod.pod}`, `${label}: ${JSON.stringify(m)}`);
      assert.equal(m.from, other.peer);
      await other.expectNothing(50, `${label}: the id is held: no error for a sender on ${pod.pod}`);
      other.close();
    }
  }

  it('refuses the id held on pod 1 without a token to a newcomer on pod 2 (id-taken, 4409)', async () => {
    const [p1, p2] = fx.cluster.pods;
    const holder = await connectPeer(p1, 'd-1');
    await assertRefused(holder, p1, p2, { peer: 'd-1' }, 'newcomer on pod 2 without token');
    await assertRefused(holder, p1, p2, { peer: 'd-1', token: 'some-token' }, 'newcomer on pod 2 with a token');
    holder.close();
  });

  it('refuses the id held on pod 2 without a token to a newcomer on pod 1', async () => {
    const [p1, p2] = fx.cluster.pods;
    const holder = await connectPeer(p2, 'd-2');
    await assertRefused(holder, p2, p1, { peer: 'd-2' }, 'newcomer on pod 1 without token');
    holder.close();
  });

  it('refuses the id held with token T on pod 2 to a newcomer on pod 1 with another token, or none', async () => {
    const [p1, p2] = fx.cluster.pods;
    const holder = await connectPeer(p2, 'd-3', { token: 'token-T' });
    await assertRefused(holder, p2, p1, { peer: 'd-3', token: 'token-U' }, 'newcomer on pod 1 with another token');
    await assertRefused(holder, p2, p1, { peer: 'd-3' }, 'newcomer on pod 1 without token');
    holder.close();
  });

  it('lets the same token take over from another pod: old on pod 2 closed 4410 "replaced", new on pod 1 gets everything', async () => {
    const [p1, p2, p3] = fx.cluster.pods;
    const old = await connectPeer(p2, 'd-4', { token: 'token-T' });
    assert.equal(await fx.cluster.owner('d-4'), p2.pod);
    const fresh = await connectPeer(p1, 'd-4', { token: 'token-T', label: 'd-4 (new, pod 1)' });
    assert.equal(fresh.welcome.pod, p1.pod, 'welcome names the new pod');
    const { code, reason } = await old.closed(5000);
    assert.equal(code, 4410, `old connection close code (reason ${JSON.stringify(reason)})`);
    assert.equal(reason, 'replaced');
    assert.equal(await fx.cluster.owner('d-4'), p1.pod, `${fx.cluster.keys.peers} must name pod 1 after the takeover`);

    // From a third pod, from the old pod, and from the new pod itself.
    for (const [pod, name] of [
      [p3, 'd-4-s3'],
      [p2, 'd-4-s2'],
      [p1, 'd-4-s1'],
    ]) {
      const sender = await connectPeer(pod, name);
      sender.send({ type: 'offer', to: 'd-4', payload: { sdp: name } });
      const m = await fresh.expect('offer', { timeoutMs: 5000 });
      assert.equal(m.from, name, JSON.stringify(m));
      assert.deepEqual(m.payload, { sdp: name });
      await sender.expectNothing(50, `the id is held: no error for the sender on ${pod.pod}`);
      // And the new holder can answer across pods.
      fresh.send({ type: 'answer', to: name, payload: { sdp: 'back' } });
      const back = await sender.expect('answer', { timeoutMs: 5000 });
      assert.equal(back.from, 'd-4');
      sender.close();
    }
    // The old connection's departure did not remove the new entry.
    await sleep(300);
    assert.equal(await fx.cluster.owner('d-4'), p1.pod, `${fx.cluster.keys.peers} must still name pod 1`);
    await fresh.assertAlive();
    fresh.close();
  });

  it('frees the id across pods when its holder disconnects', async () => {
    const [p1, , p3] = fx.cluster.pods;
    const first = await connectPeer(p1, 'd-5');
    first.close();
    await first.closed();
    let second;
    const deadline = Date.now() + 3000;
    for (;;) {
      const c = await openClient(p3, { peer: 'd-5' });
      const msg = await c.next(5000, 'welcome or id-taken');
      if (msg.type === 'welcome') {
        assert.equal(msg.pod, p3.pod);
        second = c;
        break;
      }
      if (Date.now() > deadline) assert.fail(`id still taken 3 s after its holder closed: ${JSON.stringify(msg)}`);
      await c.closed();
      await sleep(50);
    }
    assert.equal(await fx.cluster.owner('d-5'), p3.pod);
    await second.assertAlive();
    second.close();
  });
});
