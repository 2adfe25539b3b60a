// What may wait for absent peers, per sender and per pod (--max-queued-per-sender,
// --max-queued-bytes-per-sender, --max-queued, --max-queued-bytes; routing/queue_budget.h).
// A frame past a budget is refused at once with peer-unavailable and its ref, whatever its
// target: spreading frames over many absent ids no longer holds the pod's memory.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, serverFixture } from './harness.mjs';

const LARGE = 'x'.repeat(60 * 1024);

// Sends `count` offers from `client` to distinct absent ids, numbered from `first`; returns the
// refs refused (peer-unavailable errors that name one) once every frame has been answered or
// given time to be.
async function sendToAbsent(client, count, { payload = 'v=0', first = 0 } = {}) {
  for (let i = first; i < first + count; i++) {
    client.send({ type: 'offer', to: `absent-${client.peer}-${i}`, payload: { sdp: payload }, id: i });
  }
  const refused = [];
  // A ping after the offers: its pong comes after every refusal the server made at once.
  client.send({ type: 'ping', id: 'done' });
  for (;;) {
    const frame = await client.next(5000, 'refusals, then the pong');
    if (frame.type === 'pong') break;
    assert.equal(frame.type, 'error', JSON.stringify(frame));
    assert.equal(frame.code, 'peer-unavailable');
    refused.push(frame.ref);
  }
  return refused;
}

describe('queue budget per sender', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'max-queued-bytes-per-sender': 1 << 20, 'rate-limit': 1000, 'rate-burst': 1000 });

  it('refuses large frames past a megabyte queued, and leaves other senders their own budget', async () => {
    const mallory = await connectPeer(fx.srv, 'mallory');
    const refused = await sendToAbsent(mallory, 40, { payload: LARGE });
    // 17 frames of 60 KB fit in 1 MiB; the rest are refused, in order, each naming its message.
    assert.deepEqual(refused, Array.from({ length: 23 }, (_, i) => i + 17));
    const metrics = await fx.srv.metrics();
    assert.equal(metrics.sum('switchboard_messages_queue_rejected_total'), 23);
    assert.equal(metrics.sum('switchboard_messages_queued_total'), 17);

    const alice = await connectPeer(fx.srv, 'alice');
    assert.deepEqual(await sendToAbsent(alice, 5, { payload: LARGE }), [], 'alice has her own budget');
    mallory.close();
    alice.close();
  });
});

describe('queue budget per pod', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'max-queued': 5 });

  it('refuses any sender once the pod holds --max-queued frames', async () => {
    const a = await connectPeer(fx.srv, 'qa');
    const b = await connectPeer(fx.srv, 'qb');
    assert.deepEqual(await sendToAbsent(a, 3), []);
    assert.deepEqual(await sendToAbsent(b, 3), [2], "b's third frame is the pod's sixth");
    a.close();
    b.close();
  });
});
