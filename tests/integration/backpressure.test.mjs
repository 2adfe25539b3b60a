// A client that does not read what it is sent. Contract: docs/protocol.md, close code 1008 ("a
// client too slow to read what it is sent"); --max-outbound-bytes bounds what may wait for it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, serverFixture } from './harness.mjs';

describe('slow consumer', { timeout: 30000 }, () => {
  const fx = serverFixture({
    'max-outbound-bytes': 65536,
    'rate-limit': 1000000,
    'rate-burst': 1000000,
  });

  it('closes a client that stops reading with 1008; the sender is unaffected', async () => {
    const sender = await connectPeer(fx.srv, 'bp-sender');
    const slow = await connectPeer(fx.srv, 'bp-slow');
    // Stop reading at the TCP level (ws keeps its net.Socket in _socket): the kernel buffers fill,
    // then the server's outbound queue.
    slow.ws._socket.pause();
    const pad = 'x'.repeat(32000);
    const N = 200; // 6.4 MB: well over the socket buffers plus 64 KiB
    const receivedBefore = (await fx.srv.metrics()).sum('switchboard_messages_received_total');
    for (let i = 0; i < N; i++) sender.send({ type: 'message', to: 'bp-slow', payload: { i, pad } });
    await sender.flush();
    // Resume reading only once the server has read (and so tried to deliver) every message: a
    // flushed send buffer says only that the kernel took them.
    await eventually(
      async () =>
        assert.equal(
          (await fx.srv.metrics()).sum('switchboard_messages_received_total') - receivedBefore,
          N,
          'messages the server has read from the sender',
        ),
      { timeoutMs: 10000, intervalMs: 50 },
    );
    slow.ws._socket.resume();
    const { code, reason } = await slow.closed(5000);
    assert.equal(code, 1008, `close code for a client too slow to read (reason ${JSON.stringify(reason)})`);
    const received = slow.frames.filter((f) => f.msg?.type === 'message').length;
    assert.ok(received < N, `the slow client was closed yet received all ${N} messages`);
    // Whatever it did receive arrived in order, without gaps.
    slow.frames
      .filter((f) => f.msg?.type === 'message')
      .forEach((f, i) => assert.equal(f.msg.payload.i, i, `message ${i} out of order`));
    // The sender is not punished for the slow reader: it stays open and answers. Messages that
    // arrived once the slow reader was closed wait for it as for any absent peer, and past the
    // sender's queue budget (1 MiB: --max-queued-bytes-per-sender) it is told at once; that is
    // the only thing it may hear before its pong.
    sender.send({ type: 'ping', id: 'alive' });
    for (;;) {
      const msg = await sender.next(5000, 'the pong');
      if (msg.type === 'pong') break;
      assert.deepEqual([msg.type, msg.code, msg.to], ['error', 'peer-unavailable', 'bp-slow'], JSON.stringify(msg));
    }
    sender.close();
  });
});
