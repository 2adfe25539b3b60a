// The unmodified peerjs browser client under rebalancing (issue 14, part 2; docs/peerjs.md): a
// pod shedding PeerJS connections closes them with 1012; the client reports 'disconnected', the
// app calls reconnect() (as after a drain), and the load balancer sends it to the pod that has
// room. The peer keeps its id, the WebRTC connections it has open go on (they do not pass
// through the server), and it can be reached through the signaling on its new pod.
//
// One pod holds every peer first; a second pod joins the balancer's endpoints once ready, as a
// Deployment scaled from 1 to 2 does. The balancer (least_connections_balancer.mjs) sends each
// new connection to the pod with the fewest, as a least-connections or ewma Ingress does.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sleep } from '../integration/harness.mjs';
import { startBalancer } from '../integration/least_connections_balancer.mjs';
import { browserFixture } from './browser_harness.mjs';

const PEERS = 10; // balanced: every pod within 20% of the mean (5), so 4 to 6 each
const FLAGS = {
  'rebalance-rate-permille': 300, // 30% of the mean (5) a second: 1.5 connections a second
  'rebalance-min-connections': 1,
  'rebalance-jitter-percent': 0,
};

describe('peerjs client under rebalancing', { timeout: 90000 }, () => {
  const fx = browserFixture({ pods: 1, tag: 'bpr', flags: FLAGS });

  it('reconnects with its id after a 1012 and stays reachable; an open DataConnection goes on', async (t) => {
    const [pod1] = fx.cluster.pods;
    const balancer = await startBalancer([pod1]);
    t.after(() => balancer.close());
    const names = Array.from({ length: PEERS }, (_, i) => `pr-${i}`);

    const page = await fx.openPage(t, 'peerjs.html', 'peers');
    for (const id of names) {
      assert.deepEqual(await page.run(`open ${id}`, ([id, port]) => startPeer(id, id, port), [id, balancer.port]), { id });
      await page.run(`${id} reconnects on disconnected`, (id) => reconnectOnDisconnect(id), id);
    }
    // A DataConnection before the scale-up, between two peers that may or may not be shed.
    await page.run('pr-0 and pr-1 accept', () => {
      acceptAndSend('pr-1', ['before from pr-1']);
      connectAndSend('pr-0', 'pr-1', ['before from pr-0']);
    });
    await page.waitFor('the DataConnection pr-0 -> pr-1 to carry both messages', () => received.length >= 2);

    // Scale up: a second pod joins the endpoints once its /readyz answers 200.
    const pod2 = await fx.cluster.addPod('bpr-2', FLAGS);
    await eventually(async () => assert.equal((await pod2.get('/readyz')).status, 200), { timeoutMs: 10000 });
    balancer.add(pod2);

    const open = async (srv) => (await srv.metrics()).sum('switchboard_connections_open');
    const allOpen = () => page.run('read the peers', (names) => names.every((n) => peers[n].open), names);
    const inBand = (n) => Math.abs(n - PEERS / 2) <= 0.2 * (PEERS / 2);
    await eventually(
      async () => {
        const [a, b] = [await open(pod1), await open(pod2)];
        assert.ok(inBand(a) && inBand(b) && a + b === PEERS && (await allOpen()), `connections ${a} / ${b}`);
      },
      { timeoutMs: 40000, intervalMs: 200 },
    );
    await sleep(2500); // past the pods' next readings: a flapping rebalance would show below

    // Every 1012 is one 'disconnected' the app saw, followed by 'open' with the same id.
    const shed = async (srv) => (await srv.metrics()).sum('switchboard_connections_shed_total', { reason: 'rebalance' });
    const [shed1, shed2] = [await shed(pod1), await shed(pod2)];
    const lifecycles = await page.run('read the lifecycles', (names) => Object.fromEntries(names.map((n) => [n, peers[n].lifecycle])), names);
    const disconnects = Object.values(lifecycles).flat().filter((e) => e.event === 'disconnected').length;
    t.diagnostic(`shed: ${shed1} by pod 1, ${shed2} by pod 2; lifecycles ${JSON.stringify(lifecycles)}`);
    assert.ok(shed1 >= 4, `pod 1 shed ${shed1} connections (at least 4 to come within 20% of the mean)`);
    assert.equal(disconnects, shed1 + shed2, "every connection shed is one 'disconnected' in the app");
    for (const [id, events] of Object.entries(lifecycles)) {
      for (let i = 0; i < events.length; i += 2) {
        assert.deepEqual(events.slice(i, i + 2), [
          { event: 'disconnected', id },
          { event: 'open', id },
        ], `${id}: each 'disconnected' is followed by 'open' with the same id: ${JSON.stringify(events)}`);
      }
    }
    assert.ok(await allOpen(), 'every peer is open');
    const owners = await fx.cluster.owners();
    const onPod = (srv) => names.filter((n) => owners[`~${n}`] === srv.pod);
    assert.equal(onPod(pod1).length + onPod(pod2).length, PEERS, `Redis gives every id to a pod: ${JSON.stringify(owners)}`);

    // The DataConnection opened before goes on, whoever was shed.
    await page.run('pr-0 and pr-1 send again', () => {
      for (const c of [...peers['pr-0'].connections['pr-1'], ...peers['pr-1'].connections['pr-0']]) c.send(`after from ${c.provider.id}`);
    });
    await page.waitFor('both messages after the rebalancing', () => received.length >= 4);

    // A shed peer, now on pod 2, is reached through the signaling from a peer on pod 1 (not pr-1,
    // which already answers every DataConnection offered to it).
    const moved = onPod(pod2).find((n) => lifecycles[n].length > 0 && n !== 'pr-1');
    const stayed = onPod(pod1).find((n) => n !== moved);
    assert.ok(moved && stayed, `a shed peer on pod 2 (${onPod(pod2)}) and a peer on pod 1 (${onPod(pod1)})`);
    const before = await page.run('count received', () => received.length);
    await page.run(
      `${stayed} connects to ${moved}`,
      ([stayed, moved]) => {
        acceptAndSend(moved, [`hello from ${moved}`]);
        connectAndSend(stayed, moved, [`hello from ${stayed}`]);
      },
      [stayed, moved],
    );
    await page.waitFor('the new DataConnection to carry both messages', (n) => received.length >= n + 2, before);
    const arrived = await page.run('read what arrived', () => received);
    assert.deepEqual(
      arrived.slice(0, 2).map((r) => r.data).sort(),
      ['before from pr-0', 'before from pr-1'],
    );
    assert.deepEqual(
      arrived.slice(2, 4).map((r) => r.data).sort(),
      ['after from pr-0', 'after from pr-1'],
    );
    assert.deepEqual(
      arrived.slice(before).map((r) => `${r.from}: ${r.data}`).sort(),
      [`${moved}: hello from ${moved}`, `${stayed}: hello from ${stayed}`].sort(),
    );
  });
});
