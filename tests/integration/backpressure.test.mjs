// A client that does not read what it is sent. Contract: docs/protocol.md, close code 1008 ("a
// client too slow to read what it is sent"); --max-outbound-bytes bounds what may wait for it.
// It must not become a black hole (issue 14): its socket is dropped within a bound even while it
// keeps sending, and what was sent to it and never written is handed back to wait for its next
// connection, or its sender is told.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, serverFixture, sleep } from './harness.mjs';

describe('slow consumer', { timeout: 30000 }, () => {
  const fx = serverFixture({
    'max-outbound-bytes': 65536,
    'rate-limit': 1000000,
    'rate-burst': 1000000,
  });

  it('drops a client that stops reading, keeps sending; what it did not get waits for it or its sender is told', async () => {
    const sender = await connectPeer(fx.srv, 'bp-sender');
    const slow = await connectPeer(fx.srv, 'bp-slow', { token: 'bp-slow-token' });
    // Stop reading at the TCP level (ws keeps its net.Socket in _socket): the kernel buffers fill,
    // then the server's outbound queue. The client keeps sending, so keepalive never fires.
    slow.ws._socket.pause();
    const chatter = setInterval(() => slow.send({ type: 'ping', id: 'still-here' }), 100);
    try {
      const before = await fx.srv.metrics();
      const receivedBefore = before.sum('switchboard_messages_received_total');
      const openBefore = before.sum('switchboard_connections_open');
      const pad = 'x'.repeat(32000);
      const N = 200; // 6.4 MB: well over the socket buffers plus 64 KiB
      for (let i = 0; i < N; i++) sender.send({ type: 'message', to: 'bp-slow', payload: { i, pad }, id: i });
      await sender.flush();
      await eventually(
        async () =>
          assert.ok(
            (await fx.srv.metrics()).sum('switchboard_messages_received_total') - receivedBefore >= N,
            'messages the server has read from the sender',
          ),
        { timeoutMs: 10000, intervalMs: 50 },
      );
      // The socket is gone (the server no longer counts it) without the client reading anything.
      const readAt = Date.now();
      await eventually(
        async () =>
          assert.equal((await fx.srv.metrics()).sum('switchboard_connections_open'), openBefore - 1, 'connections open'),
        { timeoutMs: 5000, intervalMs: 50 },
      );
      const droppedAfterMs = Date.now() - readAt;
      clearInterval(chatter);
      slow.ws._socket.resume();
      const { code } = await slow.closed(5000);
      // 1008 when its close frame still fitted in the socket, else dropped without one.
      assert.ok(code === 1008 || code === 1006, `close code ${code}`);
      const after = await fx.srv.metrics();
      assert.equal(after.sum('switchboard_closes_total', { code: String(code) }), 1, `closes counted as ${code}`);
      const handedBack = after.sum('switchboard_messages_handed_back_total');
      assert.ok(handedBack > 0, 'unwritten messages were handed back');

      // Its next connection gets what was handed back and fitted the queue, in order, after what
      // the first connection got.
      const again = await connectPeer(fx.srv, 'bp-slow', { token: 'bp-slow-token' });
      await sleep(500);
      const got = [...slow.frames, ...again.frames].filter((f) => f.msg?.type === 'message').map((f) => f.msg.payload.i);
      const onSecond = again.frames.filter((f) => f.msg?.type === 'message').length;
      assert.ok(onSecond > 0, `the next connection got nothing of the ${handedBack} handed back`);
      for (let k = 1; k < got.length; k++) assert.ok(got[k] > got[k - 1], `order: ${got[k - 1]} then ${got[k]}`);
      // Whatever neither connection got, its sender was told of, and before its pong.
      sender.send({ type: 'ping', id: 'alive' });
      let told = false;
      for (;;) {
        const msg = await sender.next(5000, 'the pong');
        if (msg.type === 'pong') break;
        assert.deepEqual([msg.type, msg.code, msg.to], ['error', 'peer-unavailable', 'bp-slow'], JSON.stringify(msg));
        told = true;
      }
      if (got.length < N) assert.ok(told, `${N - got.length} messages neither delivered nor told`);
      assert.ok(droppedAfterMs < 4000, `dropped ${droppedAfterMs} ms after the server read the last message`);
      again.close();
      sender.close();
    } finally {
      clearInterval(chatter);
    }
  });
});
