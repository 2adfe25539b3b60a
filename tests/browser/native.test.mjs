// The reference browser client of the native protocol (clients/browser/switchboard-client.js)
// against two Switchboard pods sharing one Redis, in headless Chromium: a real RTCPeerConnection
// negotiated through the relay, and the client's contract for errors (docs/protocol.md).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../integration/harness.mjs';
import { browserFixture } from './browser_harness.mjs';

describe('reference client across pods', { timeout: 60000 }, () => {
  const EXPIRE_MS = 1500;
  const fx = browserFixture({ pods: 2, tag: 'bnat', flags: { 'expire-ms': EXPIRE_MS } });
  const wsUrl = (pod) => `ws://${pod.host}:${pod.port}/ws`;

  it('sets up a WebRTC data channel between pods through the relay and exchanges messages both ways', async (t) => {
    const [pod1, pod2] = fx.cluster.pods;

    // B (the callee) first: it must be listening for the offer.
    const pageB = await fx.openPage(t, 'native.html', 'B (pod 2)');
    const welcomeB = await pageB.run(
      'connect native-b to pod 2',
      ([url]) => startClient('B', url, { peer: 'native-b', token: 'tb' }),
      [wsUrl(pod2)],
    );
    assert.deepEqual(welcomeB, { type: 'welcome', peer: 'native-b', pod: pod2.pod });
    const fromB = ['hello from B', 'ünïcode from B ✓'];
    await pageB.run(
      'answer calls from native-a',
      (messages) => startCall('B', 'native-a', { caller: false, messages }),
      fromB,
    );

    const pageA = await fx.openPage(t, 'native.html', 'A (pod 1)');
    const welcomeA = await pageA.run(
      'connect native-a to pod 1',
      ([url]) => startClient('A', url, { peer: 'native-a', token: 'ta' }),
      [wsUrl(pod1)],
    );
    assert.deepEqual(welcomeA, { type: 'welcome', peer: 'native-a', pod: pod1.pod });
    const fromA = ['hello from A', JSON.stringify({ seq: 1, text: 'Grüße aus A' })];
    await pageA.run('call native-b', (messages) => startCall('A', 'native-b', { caller: true, messages }), fromA);

    await pageB.waitFor('B to receive both messages', (n) => received.length >= n, fromA.length);
    await pageA.waitFor('A to receive both messages', (n) => received.length >= n, fromB.length);
    await sleep(200); // anything extra would show up in the exact comparisons below

    const stateA = await pageA.run('read A', () => ({ received, frames, connection: pc.connectionState }));
    const stateB = await pageB.run('read B', () => ({ received, frames, connection: pc.connectionState }));
    assert.deepEqual(
      stateB.received,
      fromA.map((data) => ({ client: 'B', data })),
      'B receives exactly what A sent',
    );
    assert.deepEqual(
      stateA.received,
      fromB.map((data) => ({ client: 'A', data })),
      'A receives exactly what B sent',
    );
    assert.equal(stateA.connection, 'connected');
    assert.equal(stateB.connection, 'connected');

    // The signaling went through the relay as the client's contract says: one offer to B, one
    // answer to A, trickled candidates both ways (never the final null), all from the right peer.
    const summary = (frames) => frames.map((f) => `${f.event} from ${f.from}`);
    const sigB = summary(stateB.frames);
    const sigA = summary(stateA.frames);
    assert.deepEqual(
      sigB.filter((s) => !s.startsWith('candidate')),
      ['offer from native-a'],
      `B got: ${sigB}`,
    );
    assert.deepEqual(
      sigA.filter((s) => !s.startsWith('candidate')),
      ['answer from native-b'],
      `A got: ${sigA}`,
    );
    for (const [name, frames] of [
      ['A', stateA.frames],
      ['B', stateB.frames],
    ]) {
      const candidates = frames.filter((f) => f.event === 'candidate');
      assert.ok(candidates.length >= 1, `${name} received at least one ICE candidate`);
      for (const c of candidates) {
        assert.equal(
          typeof c.payload?.candidate,
          'string',
          `${name}: a candidate payload is an RTCIceCandidateInit: ${JSON.stringify(c)}`,
        );
        assert.notEqual(c.payload.candidate, '', `${name}: no end-of-candidates is sent`);
      }
    }
    assert.ok(
      sigB.every((s) => s.endsWith(' from native-a')),
      `B got: ${sigB}`,
    );
    assert.ok(
      sigA.every((s) => s.endsWith(' from native-b')),
      `A got: ${sigA}`,
    );
    const offer = stateB.frames.find((f) => f.event === 'offer').payload;
    assert.equal(offer.type, 'offer', 'the offer payload is the RTCSessionDescriptionInit');
    assert.match(offer.sdp, /^v=0\r\n/, 'the SDP arrives intact');
  });

  it('relays message and bye, hands error frames to handlers, rejects ready on id-taken, refuses send after close', async (t) => {
    const [pod1, pod2] = fx.cluster.pods;
    const page = await fx.openPage(t, 'native.html', 'clients');

    for (const [name, peer, pod] of [
      ['X', 'native-x', pod1],
      ['Y', 'native-y', pod2],
    ]) {
      const welcome = await page.run(
        `connect ${peer}`,
        ([n, url, p]) => startClient(n, url, { peer: p, token: `t-${p}` }),
        [name, wsUrl(pod), peer],
      );
      assert.deepEqual(welcome, { type: 'welcome', peer, pod: pod.pod });
    }

    // message and bye across pods; bye without payload arrives with payload null.
    await page.run('send message and bye', () => {
      clients.X.send('message', 'native-y', { text: 'hi Y' });
      clients.X.send('bye', 'native-y');
    });
    await page.waitFor('Y to get message and bye', () => frames.filter((f) => f.client === 'Y').length >= 2);
    const atY = await page.run('read Y', () => frames.filter((f) => f.client === 'Y'));
    assert.deepEqual(atY, [
      { client: 'Y', event: 'message', from: 'native-x', payload: { text: 'hi Y' } },
      { client: 'Y', event: 'bye', from: 'native-x', payload: null },
    ]);

    // The same id with another token, on the other pod: ready rejects with the code, the error
    // frame reaches the 'error' handlers, and the socket closes with 4409.
    const refused = await page.run(
      'connect native-y again with another token',
      ([url]) => startClient('Y2', url, { peer: 'native-y', token: 'other' }),
      [wsUrl(pod1)],
    );
    assert.equal(
      refused.rejected?.code,
      'id-taken',
      `ready must reject with code id-taken: ${JSON.stringify(refused)}`,
    );
    await page.waitFor('Y2 to be closed', () => closes.some((c) => c.client === 'Y2'));
    const y2errors = await page.run('read Y2', () => frames.filter((f) => f.client === 'Y2').map((f) => f.frame.code));
    assert.deepEqual(y2errors, ['id-taken'], 'one id-taken error frame reaches the error handlers');

    // A message to an id nobody holds: one peer-unavailable error frame with `to`, after expiry.
    const sentAt = await page.run('send to an absent peer', () => {
      clients.X.send('message', 'native-nobody', 'anyone?');
      return performance.now();
    });
    const expired = await page.waitFor(
      'the peer-unavailable error frame',
      () => {
        const f = frames.find((x) => x.client === 'X' && x.event === 'error');
        return f && { ...f.frame, at: f.at };
      },
      undefined,
      EXPIRE_MS + 5000,
    );
    assert.equal(expired.code, 'peer-unavailable', JSON.stringify(expired));
    assert.equal(expired.to, 'native-nobody', JSON.stringify(expired));
    const elapsed = expired.at - sentAt;
    assert.ok(
      elapsed >= EXPIRE_MS - 50,
      `peer-unavailable came ${elapsed.toFixed(0)} ms after the send, before --expire-ms ${EXPIRE_MS}`,
    );
    t.diagnostic(`peer-unavailable error frame ${elapsed.toFixed(0)} ms after the send`);

    // send() refuses once the client is closed.
    const afterClose = await page.run('close X and send', async () => {
      clients.X.close();
      await new Promise((resolve) => clients.X.on('close', resolve));
      try {
        clients.X.send('message', 'native-y', 'late');
        return 'sent';
      } catch (err) {
        return err.message;
      }
    });
    assert.match(afterClose, /not open/);
  });

  // docs/protocol.md promises close codes (4409, 4410, 1001, 1008) that a browser can read.
  // Chromium fails a connection that receives a second close frame ("Close received after
  // close") and reports 1006 instead, so this checks the server's close handshake, as a browser
  // sees it.
  it('lets the browser read the close code and reason of an id-taken refusal (4409 id-taken)', async (t) => {
    const [pod1, pod2] = fx.cluster.pods;
    const page = await fx.openPage(t, 'native.html', 'clients');
    const welcome = await page.run(
      'connect native-holder on pod 2',
      ([url]) => startClient('H', url, { peer: 'native-holder', token: 'one' }),
      [wsUrl(pod2)],
    );
    assert.equal(welcome.peer, 'native-holder');
    const refused = await page.run(
      'connect native-holder on pod 1 with another token',
      ([url]) => startClient('R', url, { peer: 'native-holder', token: 'two' }),
      [wsUrl(pod1)],
    );
    assert.equal(refused.rejected?.code, 'id-taken', JSON.stringify(refused));
    const close = await page.waitFor('the refused client to be closed', () => closes.find((c) => c.client === 'R'));
    const logs = page.logs.filter((l) => /WebSocket/.test(l)).join('\n');
    assert.deepEqual(
      { code: close.code, reason: close.reason },
      { code: 4409, reason: 'id-taken' },
      `the browser must see the server's close frame, not an abnormal closure; browser console:\n${logs}`,
    );
  });
});
