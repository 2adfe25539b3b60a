// Two connections asking for the same id. Contract: docs/protocol.md, "Duplicate ids".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, openClient, serverFixture } from './harness.mjs';

describe('duplicate ids', { timeout: 30000 }, () => {
  const fx = serverFixture();

  // The newcomer must get exactly an id-taken error, then close 4409; the holder must keep working.
  async function assertRefused(holder, newcomerOpts, label) {
    const newcomer = await openClient(fx.srv, { label, ...newcomerOpts });
    const err = await newcomer.next(3000, 'the id-taken error');
    assert.equal(err.type, 'error', `${label}: first frame must be the id-taken error (no welcome), got ${JSON.stringify(err)}`);
    assert.equal(err.code, 'id-taken', `${label}: ${JSON.stringify(err)}`);
    const { code, reason } = await newcomer.closed();
    assert.equal(code, 4409, `${label}: close code (reason ${JSON.stringify(reason)})`);
    assert.equal(reason, 'id-taken', `${label}: close reason`);
    assert.equal(newcomer.frames.length, 1, `${label}: only the error before the close: ${newcomer.frames.map((f) => f.text).join(' | ')}`);

    // The holder still has the id: it answers pings and receives messages sent to it.
    await holder.assertAlive(`${label}: holder after the refused newcomer`);
    const other = await connectPeer(fx.srv, undefined);
    other.send({ type: 'message', to: holder.peer, payload: 'still yours' });
    const m = await holder.expect('message');
    assert.equal(m.payload, 'still yours');
    assert.equal(m.from, other.peer);
    other.close();
  }

  it('refuses the same id without a token (id-taken, 4409), the holder keeps working', async () => {
    const holder = await connectPeer(fx.srv, 'dup-1');
    await assertRefused(holder, { peer: 'dup-1' }, 'newcomer without token');
    holder.close();
  });

  it('refuses the same id with a different token', async () => {
    const holder = await connectPeer(fx.srv, 'dup-2', { token: 'secret-one' });
    await assertRefused(holder, { peer: 'dup-2', token: 'secret-two' }, 'newcomer with another token');
    holder.close();
  });

  it('refuses a newcomer without a token when the holder has one', async () => {
    const holder = await connectPeer(fx.srv, 'dup-3', { token: 'secret' });
    await assertRefused(holder, { peer: 'dup-3' }, 'newcomer without token');
    holder.close();
  });

  it('refuses a newcomer with a token when the holder has none', async () => {
    const holder = await connectPeer(fx.srv, 'dup-4');
    await assertRefused(holder, { peer: 'dup-4', token: 'secret' }, 'newcomer with a token');
    holder.close();
  });

  it('refuses the same id with an empty token on both sides', async () => {
    const holder = await connectPeer(fx.srv, 'dup-5', { token: '' });
    await assertRefused(holder, { peer: 'dup-5', token: '' }, 'newcomer with an empty token');
    holder.close();
  });

  it('lets the same non-empty token take the id over: old closed 4410 "replaced"', async () => {
    const old = await connectPeer(fx.srv, 'dup-6', { token: 'resume-me' });
    const fresh = await connectPeer(fx.srv, 'dup-6', { token: 'resume-me', label: 'dup-6 (new)' });
    const { code, reason } = await old.closed();
    assert.equal(code, 4410, `old connection close code (reason ${JSON.stringify(reason)})`);
    assert.equal(reason, 'replaced');

    const sender = await connectPeer(fx.srv, 'dup-6-sender');
    sender.send({ type: 'offer', to: 'dup-6', payload: { sdp: 'x' } });
    const m = await fresh.expect('offer');
    assert.equal(m.from, 'dup-6-sender');
    assert.deepEqual(m.payload, { sdp: 'x' });
    await fresh.assertAlive();
    await sender.expectNothing(100, 'the id is held: no error for the sender');

    // And it can send as dup-6.
    fresh.send({ type: 'answer', to: 'dup-6-sender', payload: { sdp: 'y' } });
    const back = await sender.expect('answer');
    assert.equal(back.from, 'dup-6');
    fresh.close();
    sender.close();
  });

  it('frees the id when its holder disconnects', async () => {
    const first = await connectPeer(fx.srv, 'dup-7');
    first.close();
    await first.closed();
    // The server may take a moment to notice the close.
    let second;
    const deadline = Date.now() + 2000;
    for (;;) {
      const c = await openClient(fx.srv, { peer: 'dup-7' });
      const msg = await c.next(3000, 'welcome or id-taken');
      if (msg.type === 'welcome') {
        second = c;
        break;
      }
      if (Date.now() > deadline) assert.fail(`id still taken 2 s after its holder closed: ${JSON.stringify(msg)}`);
      await c.closed();
    }
    await second.assertAlive();
    second.close();
  });
});
