// Rebalancing after a scale-up (issue 14, part 2; docs/operations.md, "Scale"): a pod holding
// more than its share closes some connections, a native client first hearing
// {"type":"reconnect","reason":"rebalance"}, then 1012; the clients reconnect (here, as a
// least-connections load balancer would send them, to the emptier pod) and the pods end within
// the threshold of the mean. The rate is raised so that this takes seconds, not minutes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, sleep, startCluster } from './harness.mjs';

const CLIENTS = 40;
const FLAGS = {
  'rebalance-rate-permille': 200, // 20% of the mean (20) per second: 4 a second
  'rebalance-min-connections': 5,
  'max-connections-per-ip': 1000,
  'handshake-rate-per-ip': 1000,
  'handshake-burst-per-ip': 1000,
};

describe('rebalancing', { timeout: 60000 }, () => {
  it('moves connections from a full pod to an empty one until both are within 20% of the mean', async (t) => {
    const cluster = await startCluster({ pods: 2, tag: 'rb', flags: FLAGS, t });
    const [full, empty] = cluster.pods;
    const clients = new Map(); // id -> the current client
    for (let i = 0; i < CLIENTS; i++) {
      const id = `rb-${i}`;
      clients.set(id, await connectPeer(full, id, { token: `tok-${id}` }));
    }
    const shed = []; // {id, frames before the close, close code}
    let moving = 0;
    const mover = setInterval(() => {
      for (const [id, client] of clients) {
        if (!client.closeInfo || client.moved) continue;
        client.moved = true;
        const texts = client.frames.map((f) => f.msg);
        shed.push({ id, last: texts[texts.length - 1], code: client.closeInfo.code, reason: client.closeInfo.reason });
        moving++;
        connectPeer(empty, id, { token: `tok-${id}` }).then(
          (next) => {
            clients.set(id, next);
            moving--;
          },
          (err) => {
            moving--;
            shed.push({ id, error: err.message });
          },
        );
      }
    }, 20);
    t.after(() => clearInterval(mover));

    const band = (n) => Math.abs(n - CLIENTS / 2) <= 0.2 * (CLIENTS / 2);
    const open = async (srv) => (await srv.metrics()).sum('switchboard_connections_open');
    const startedAt = Date.now();
    await eventually(
      async () => {
        const [a, b] = [await open(full), await open(empty)];
        assert.ok(moving === 0 && band(a) && band(b), `connections ${a} / ${b}`);
      },
      { timeoutMs: 30000, intervalMs: 100 },
    );
    const balancedAfterMs = Date.now() - startedAt;
    t.diagnostic(`balanced after ${balancedAfterMs} ms; ${shed.length} connections moved`);

    // Each shed client was asked to reconnect, then closed with 1012 "rebalance".
    assert.ok(shed.length > 0);
    for (const s of shed) {
      assert.equal(s.error, undefined, `${s.id} could not reconnect: ${s.error}`);
      assert.deepEqual(s.last, { type: 'reconnect', reason: 'rebalance' }, `${s.id}'s last frame`);
      assert.deepEqual([s.code, s.reason], [1012, 'rebalance'], `${s.id}'s close`);
    }
    const metrics = await full.metrics();
    assert.equal(metrics.sum('switchboard_connections_shed_total', { reason: 'rebalance' }), shed.length);
    // The mean as this pod sees it, once the other's latest count has reached it (each pod reads
    // the others' counts once a second, and uses what it read at its next tick).
    await eventually(
      async () => assert.equal((await full.metrics()).sum('switchboard_rebalance_average_connections'), CLIENTS / 2),
      { timeoutMs: 6000, intervalMs: 200 },
    );
    // Only the pod above the mean sheds; balanced, nobody sheds any more.
    assert.equal((await empty.metrics()).sum('switchboard_connections_shed_total'), 0);
    await sleep(2500);
    assert.equal((await full.metrics()).sum('switchboard_connections_shed_total'), shed.length, 'shedding went on once balanced');

    // The moved peers kept their ids: they are reachable where they went.
    const mover0 = shed[0].id;
    const stayer = [...clients.entries()].find(([id]) => !shed.some((s) => s.id === id));
    assert.ok(stayer, 'some client stayed on the full pod');
    stayer[1].send({ type: 'offer', to: mover0, payload: { hello: 1 } });
    const offer = await clients.get(mover0).expect('offer');
    assert.equal(offer.from, stayer[0]);
    for (const client of clients.values()) client.close();
  });

  it('sheds nothing with one pod, or with rebalancing off', async (t) => {
    const cluster = await startCluster({
      pods: 2,
      tag: 'rn',
      flags: FLAGS,
      podFlags: [{ 'rebalance-rate-permille': 0 }, {}],
      t,
    });
    const [off] = cluster.pods;
    const clients = [];
    for (let i = 0; i < 20; i++) clients.push(await connectPeer(off, `rn-${i}`));
    await sleep(3000);
    assert.equal((await off.metrics()).sum('switchboard_connections_shed_total'), 0);
    assert.ok(clients.every((c) => !c.closeInfo), 'a client was closed');
    for (const c of clients) c.close();
  });
});
