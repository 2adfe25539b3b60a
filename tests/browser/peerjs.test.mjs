// The unmodified peerjs browser client (1.5.x) against two Switchboard pods sharing one Redis, in
// headless Chromium: what docs/peerjs.md promises an app that switches its PeerJS server over.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../integration/harness.mjs';
import { browserFixture } from './browser_harness.mjs';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('peerjs client across pods', { timeout: 60000 }, () => {
  const EXPIRE_MS = 1500;
  const fx = browserFixture({ pods: 2, tag: 'bpj', flags: { 'expire-ms': EXPIRE_MS } });

  it('opens a DataConnection from a server-assigned id on pod 1 to a fixed id on pod 2 and exchanges data both ways', async (t) => {
    const [pod1, pod2] = fx.cluster.pods;
    const before1 = await pod1.metrics();
    const before2 = await pod2.metrics();

    const pageB = await fx.openPage(t, 'peerjs.html', 'B (pod 2)');
    assert.deepEqual(await pageB.run('open peer-b on pod 2', (port) => startPeer('B', 'peer-b', port), pod2.port), {
      id: 'peer-b',
    });
    const fromB = ['hello from B', { seq: 2, list: [1, 2, 3] }];
    await pageB.run('accept connections', (messages) => acceptAndSend('B', messages), fromB);

    // Page A gives no id: the client fetches one from pod 1 across origins (the page is served by
    // the test's own http server), so pod 1 must answer with CORS headers.
    const pageA = await fx.openPage(t, 'peerjs.html', 'A (pod 1)');
    const idResponse = pageA.page.waitForResponse((res) => new URL(res.url()).pathname === '/peerjs/id', {
      timeout: 10000,
    });
    idResponse.catch(() => {}); // awaited below; if opening fails first, that failure is the one to report
    const openedA = await pageA.run(
      'open a peer with a server-assigned id on pod 1',
      (port) => startPeer('A', null, port),
      pod1.port,
    );
    const res = await idResponse;
    assert.equal(res.status(), 200, `GET ${res.url()}`);
    assert.equal(
      res.headers()['access-control-allow-origin'],
      fx.site.origin,
      `GET /peerjs/id must reflect the page's Origin; headers: ${JSON.stringify(res.headers())}`,
    );
    const assignedId = await res.text();
    assert.match(assignedId, UUID_V4, 'GET /peerjs/id returns a bare v4 UUID');
    assert.deepEqual(openedA, { id: assignedId }, 'peer A opens with the id the server handed out');

    // Redis says which pod holds which id (PeerJS ids are stored as "~<id>"): the signaling has to
    // cross pods.
    const owners = await fx.cluster.owners();
    assert.equal(owners[`~${assignedId}`], pod1.pod, `owners: ${JSON.stringify(owners)}`);
    assert.equal(owners['~peer-b'], pod2.pod, `owners: ${JSON.stringify(owners)}`);

    const fromA = ['hello from A', { seq: 1, text: 'Grüße aus A ✓' }];
    await pageA.run(
      'connect to peer-b',
      ([messages]) => connectAndSend('A', 'peer-b', messages, { app: 'switchboard-test' }),
      [fromA],
    );

    await pageB.waitFor('B to receive both messages', (n) => received.length >= n, fromA.length);
    await pageA.waitFor('A to receive both messages', (n) => received.length >= n, fromB.length);
    await sleep(200); // anything extra would show up in the exact comparisons below

    const [incomingB, receivedB] = await pageB.run('read B', () => [incoming, received]);
    const receivedA = await pageA.run('read A', () => received);
    assert.equal(incomingB.length, 1, `B was offered one connection: ${JSON.stringify(incomingB)}`);
    assert.equal(incomingB[0].peer, assignedId, "the OFFER reached B with src = A's id");
    assert.deepEqual(incomingB[0].metadata, { app: 'switchboard-test' }, 'the OFFER payload reached B intact');
    assert.deepEqual(
      receivedB,
      fromA.map((data) => ({ from: assignedId, data })),
      'B receives exactly what A sent, in order',
    );
    assert.deepEqual(
      receivedA,
      fromB.map((data) => ({ from: 'peer-b', data })),
      'A receives exactly what B sent, in order',
    );

    const after1 = await pod1.metrics();
    const after2 = await pod2.metrics();
    const crossed = (before, after, direction) =>
      after.sum('switchboard_cross_pod_messages_total', { direction }) -
      before.sum('switchboard_cross_pod_messages_total', { direction });
    assert.ok(crossed(before1, after1, 'out') >= 1, "pod 1 sent A's OFFER and candidates to pod 2 through Redis");
    assert.ok(crossed(before2, after2, 'out') >= 1, "pod 2 sent B's ANSWER and candidates to pod 1 through Redis");
  });

  it('refuses an id held on pod 2 to a new Peer on pod 1 (unavailable-id), and the holder stays open', async (t) => {
    const [pod1, pod2] = fx.cluster.pods;
    const holder = await fx.openPage(t, 'peerjs.html', 'holder (pod 2)');
    assert.deepEqual(
      await holder.run('open taken-id on pod 2', (port) => startPeer('H', 'taken-id', port), pod2.port),
      {
        id: 'taken-id',
      },
    );

    // A new Peer object draws its own random token, so the server must refuse it.
    const other = await fx.openPage(t, 'peerjs.html', 'newcomer (pod 1)');
    const outcome = await other.run(
      'open taken-id again on pod 1',
      (port) => startPeer('N', 'taken-id', port),
      pod1.port,
    );
    assert.deepEqual(outcome, { error: { type: 'unavailable-id', message: 'ID "taken-id" is taken' } });

    await sleep(300); // a wrongly dropped holder would have noticed by now
    const holderState = await holder.run('read the holder', () => ({
      open: peers.H.open,
      disconnected: peers.H.disconnected,
      errors: peers.H.errorLog,
    }));
    assert.deepEqual(
      holderState,
      { open: true, disconnected: false, errors: [] },
      'the holder keeps its id and socket',
    );
    assert.equal(await fx.cluster.owner('~taken-id'), pod2.pod, 'Redis still gives taken-id to pod 2');
  });

  it('reports peer-unavailable once, no sooner than --expire-ms, for a connection to an id nobody holds', async (t) => {
    const [pod1] = fx.cluster.pods;
    const page = await fx.openPage(t, 'peerjs.html', 'lonely (pod 1)');
    assert.deepEqual(await page.run('open lonely on pod 1', (port) => startPeer('L', 'lonely', port), pod1.port), {
      id: 'lonely',
    });

    const connectAt = await page.run('connect to nobody-home', () => {
      const at = performance.now();
      connectAndSend('L', 'nobody-home', []);
      return at;
    });
    const error = await page.waitFor(
      'the peer-unavailable error',
      () => peers.L.errorLog.find((e) => e.type === 'peer-unavailable'),
      undefined,
      EXPIRE_MS + 5000,
    );
    assert.equal(error.message, 'Could not connect to peer nobody-home');
    const elapsed = error.at - connectAt;
    // The server starts counting at the first queued message, which the client sends after
    // connect() returns; 50 ms covers timer granularity.
    assert.ok(
      elapsed >= EXPIRE_MS - 50,
      `peer-unavailable came ${elapsed.toFixed(0)} ms after connect(), before --expire-ms ${EXPIRE_MS}`,
    );
    t.diagnostic(`peer-unavailable ${elapsed.toFixed(0)} ms after connect()`);

    // One EXPIRE per target, however many frames (OFFER, CANDIDATEs) were waiting; and an EXPIRE
    // does not cost the Peer its connection to the server.
    await sleep(EXPIRE_MS + 500);
    const state = await page.run('read the peer', () => ({
      errors: peers.L.errorLog.map((e) => e.type),
      open: peers.L.open,
      disconnected: peers.L.disconnected,
    }));
    assert.deepEqual(state, { errors: ['peer-unavailable'], open: true, disconnected: false });
  });
});
