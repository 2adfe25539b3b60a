// WebSocket-level keepalive. Contract: docs/protocol.md, "Close codes": idle connections are pinged
// every --ping-interval-seconds and dropped when nothing arrives within --ping-timeout-seconds.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connectPeer, serverFixture, sleep } from './harness.mjs';

describe('idle connections', { timeout: 30000, concurrency: true }, () => {
  const fx = serverFixture({ 'ping-interval-seconds': 1, 'ping-timeout-seconds': 1 });

  it('keeps a client that answers pings', async () => {
    const c = await connectPeer(fx.srv, 'idle-ok'); // ws answers pings by itself
    await sleep(3000);
    assert.equal(c.closeInfo, null, `closed after ${3000} ms although it answers pings: ${JSON.stringify(c.closeInfo)}`);
    assert.ok(c.pings >= 1, `the server sent no WebSocket ping in 3 s of idleness (--ping-interval-seconds 1)`);
    await c.assertAlive('after 3 s idle');
    c.close();
  });

  it('drops a client that does not answer pings', async () => {
    const started = Date.now();
    const c = await connectPeer(fx.srv, 'idle-mute', { wsOptions: { autoPong: false } });
    await c.closed(4500);
    const elapsed = Date.now() - started;
    assert.ok(c.pings >= 1, 'it was pinged before being dropped');
    assert.ok(elapsed >= 1500, `dropped after ${elapsed} ms: before ping interval + timeout (2 s)`);
  });

  it('keeps a client that does not answer pings but sends other traffic', async () => {
    const c = await connectPeer(fx.srv, 'idle-chatty', { wsOptions: { autoPong: false } });
    const started = Date.now();
    while (Date.now() - started < 3500) {
      if (c.closeInfo) {
        assert.fail(
          `dropped ${c.closeInfo.at - started} ms in (close ${c.closeInfo.code}) although it sent a message every ` +
            `~400 ms: traffic other than a pong must count as a sign of life`,
        );
      }
      await c.assertAlive(`${Date.now() - started} ms in`);
      await sleep(400);
    }
    assert.equal(c.closeInfo, null);
    c.close();
  });
});

// On a server with no other traffic: nothing else wakes libwebsockets, so the drop must not wait
// for its next event (it came up to 30 s late). Seen from outside, without touching the server
// (a request would wake it): the kernel shows the client's socket in CLOSE-WAIT once the server
// has closed its end.
describe('a dead client on a quiet server', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'ping-interval-seconds': 1, 'ping-timeout-seconds': 1 });

  it('is dropped within the ping interval plus the timeout, and a tick or two', async () => {
    const c = await connectPeer(fx.srv, 'quiet-dead');
    const local = c.ws._socket.localPort;
    c.ws._socket.pause(); // reads nothing more, so answers no ping
    const started = Date.now();
    const closedByServer = () =>
      execFileSync('ss', ['-tnH', 'state', 'close-wait', `( sport = :${local} )`]).toString().trim() !== '';
    while (!closedByServer()) {
      assert.ok(Date.now() - started < 8000, 'the server has not dropped a dead client 8 s after its last sign of life');
      await sleep(100);
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1500, `dropped after ${elapsed} ms: before ping interval + timeout (2 s)`);
    c.ws.terminate();
  });
});
