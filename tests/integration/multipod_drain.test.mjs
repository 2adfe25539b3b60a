// A pod closing its peers (drain) loses nothing sent to them meanwhile (issue 3, "lose no message
// when pods come and go"): a peer being closed lets go of its id as its close frame goes out,
// so what is sent to it from then on waits in Redis for its next connection, on any pod, even
// while its old socket takes its time to answer the close. Nor what they send meanwhile (issue
// 14): a client that has not seen the close yet still has its messages routed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectPeer, eventually, startCluster } from './harness.mjs';

// A WebSocket client written on a raw socket that never answers the server's close frame, as a
// client on a slow network would not for a while. Resolves once the welcome has arrived;
// `closeFrame` resolves with the close code when the server's close frame arrives.
function openUnansweringClient(srv, peer) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(srv.port, srv.host);
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    let resolveClose;
    const client = { socket, texts: [], closeFrame: new Promise((r) => (resolveClose = r)) };
    socket.on('connect', () => {
      socket.write(
        `GET /ws?peer=${peer} HTTP/1.1\r\nHost: ${srv.host}:${srv.port}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buffer.subarray(0, 12).toString().includes('101')) reject(new Error(buffer.toString()));
        upgraded = true;
        buffer = buffer.subarray(end + 4);
      }
      // Server frames are unmasked; these tests only see short ones (length < 126).
      while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1] & 0x7f)) {
        const opcode = buffer[0] & 0x0f;
        const payload = buffer.subarray(2, 2 + (buffer[1] & 0x7f));
        buffer = buffer.subarray(2 + payload.length);
        if (opcode === 0x1) {
          client.texts.push(payload.toString());
          if (client.texts.length === 1) resolve(client);
        } else if (opcode === 0x8) {
          resolveClose(payload.readUInt16BE(0));
        }
      }
    });
  });
}

// A masked text frame (clients must mask), for payloads under 126 bytes.
function sendText(socket, text) {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
}

describe('drain across pods', { timeout: 60000 }, () => {
  it('routes what a peer sends after its close frame went out, before it saw it', async (t) => {
    const cluster = await startCluster({ pods: 2, tag: 'mpe', flags: { 'drain-seconds': 0 }, t });
    const [p1, p2] = cluster.pods;
    const a = await connectPeer(p2, 'ds-a');
    const b = await openUnansweringClient(p1, 'ds-b');
    p1.signal('SIGTERM');
    assert.equal(await b.closeFrame, 1001, 'b is told the pod is going away');
    sendText(b.socket, JSON.stringify({ type: 'offer', to: 'ds-a', payload: { n: 1 }, id: 1 }));
    sendText(b.socket, JSON.stringify({ type: 'offer', to: 'ds-a', payload: { n: 2 }, id: 2 }));
    const offers = [await a.expect('offer'), await a.expect('offer')];
    assert.deepEqual(
      offers.map((o) => [o.from, o.payload.n]),
      [
        ['ds-b', 1],
        ['ds-b', 2],
      ],
    );
    b.socket.destroy();
    a.close();
  });

  it('keeps what is sent to a peer being closed for its next connection on another pod', async (t) => {
    const cluster = await startCluster({ pods: 2, tag: 'mpd', flags: { 'drain-seconds': 0 }, t });
    const [p1, p2] = cluster.pods;
    const b = await openUnansweringClient(p1, 'dr-b');
    assert.match(b.texts[0], /"welcome"/);
    const a = await connectPeer(p2, 'dr-a');

    p1.signal('SIGTERM');
    assert.equal(await b.closeFrame, 1001, 'b is told the pod is going away');
    // Its old socket is still open (it has not answered), but its id is free already.
    await eventually(async () => assert.equal(await cluster.owner('dr-b'), null, 'dr-b released'));
    a.send({ type: 'offer', to: 'dr-b', payload: { sdp: 'sent while b moves' } });
    await eventually(async () => assert.equal(await cluster.redis.command('LLEN', cluster.keys.queue('dr-b')), 1));

    const b2 = await connectPeer(p2, 'dr-b');
    const offer = await b2.expect('offer');
    assert.deepEqual(offer.payload, { sdp: 'sent while b moves' });
    b.socket.destroy();
    a.close();
    b2.close();
  });
});
