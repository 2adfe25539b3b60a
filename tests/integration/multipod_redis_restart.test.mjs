// Redis dies under traffic and comes back empty on the same port (issue 3): local relaying never
// stops, cross-pod sends are answered with "unavailable" meanwhile (never lost silently), and
// within a few seconds of Redis coming back every live peer is registered again and cross-pod
// relaying works. docs/architecture.md, "When Redis goes away".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFixture, connectPeer, eventually, openClient, sleep } from './harness.mjs';

// Reconnects back off from 100 ms doubling up to 5 s (with jitter); Redis stays down ~1.5 s here.
const RECOVERED_WITHIN_MS = 6000;
const LOST_WITHIN_MS = 5000;

describe('multi-pod: Redis restarts empty', { timeout: 90000 }, () => {
  const fx = clusterFixture({
    pods: 2,
    tag: 'mpr',
    flags: { 'expire-ms': 5000, 'rate-limit': 1000000, 'rate-burst': 1000000 },
  });

  it('keeps local relaying, answers cross-pod sends with unavailable, and recovers every peer', async () => {
    const { cluster } = fx;
    const { redis } = cluster;
    const [p1, p2] = cluster.pods;
    const l1 = await connectPeer(p1, 'L1');
    const l2 = await connectPeer(p1, 'L2');
    const lone = await connectPeer(p1, 'L3'); // sends one cross-pod message without id while Redis is down
    const r1 = await connectPeer(p2, 'R1');
    const r2 = await connectPeer(p2, 'R2');
    const livePeers = { L1: p1.pod, L2: p1.pod, L3: p1.pod, R1: p2.pod, R2: p2.pod };
    assert.deepEqual(await cluster.owners(), livePeers, `${cluster.keys.peers} before the restart`);
    const before = await Promise.all([p1.metrics(), p2.metrics()]);
    const reconnectsBefore = before.map((m) => m.sum('switchboard_redis_reconnects_total'));
    const logsBefore = [p1.logs.length, p2.logs.length];

    // Traffic through the whole episode: L1 <-> L2 on pod 1 (local), R1 <-> R2 on pod 2 (local),
    // and L1 -> R1 across pods, every message with an id.
    let pumping = true;
    const sent = { 'L1>L2': 0, 'L2>L1': 0, 'R1>R2': 0, 'R2>R1': 0, 'L1>R1': 0 };
    const pump = (async () => {
      while (pumping) {
        for (const [src, name, to] of [
          [l1, 'L1>L2', 'L2'],
          [l2, 'L2>L1', 'L1'],
          [r1, 'R1>R2', 'R2'],
          [r2, 'R2>R1', 'R1'],
          [l1, 'L1>R1', 'R1'],
        ]) {
          const seq = sent[name]++;
          src.send({ type: 'message', to, payload: { stream: name, seq }, id: `${name}#${seq}` });
        }
        await sleep(10);
      }
    })();
    await sleep(300);

    // Redis dies.
    await redis.kill('SIGKILL');
    const killedAt = Date.now();
    for (const [i, p] of [p1, p2].entries()) {
      const lost = await p.waitForLogAfter(
        logsBefore[i],
        (o) => o.msg === 'redis lost',
        LOST_WITHIN_MS,
        '"redis lost"',
      );
      assert.equal(lost.level, 'warn', `${p.pod}: "redis lost" is a warning: ${JSON.stringify(lost)}`);
      assert.equal(typeof lost.why, 'string', `${p.pod}: "redis lost" says why: ${JSON.stringify(lost)}`);
    }

    // While it is down: a cross-pod send is refused at once, with ref when it had an id...
    const downAt = { L1: sent['L1>R1'] };
    l1.send({ type: 'offer', to: 'R2', payload: { sdp: 'x' }, id: 'while-down' });
    const refusal = await eventually(
      () => {
        const f = l1.frames.find((x) => x.msg?.type === 'error' && x.msg.ref === 'while-down');
        assert.ok(f, 'no error with ref "while-down" yet');
        return f.msg;
      },
      { timeoutMs: 3000 },
    );
    assert.equal(refusal.code, 'unavailable', `cross-pod send while Redis is down: ${JSON.stringify(refusal)}`);
    if ('to' in refusal) assert.equal(refusal.to, 'R2', JSON.stringify(refusal));
    // ... and without ref when it had none.
    lone.send({ type: 'message', to: 'R1', payload: 'no id' });
    const loneErr = await lone.next(3000, 'the unavailable error');
    assert.equal(loneErr.type, 'error', JSON.stringify(loneErr));
    assert.equal(loneErr.code, 'unavailable', JSON.stringify(loneErr));
    assert.equal('ref' in loneErr, false, `no ref for a message without id: ${JSON.stringify(loneErr)}`);
    await lone.assertAlive('unavailable leaves the connection open');

    // The pods stay ready and say Redis is down.
    for (const p of [p1, p2]) {
      const ready = await p.get('/readyz');
      assert.equal(ready.status, 200, `${p.pod}: /readyz while Redis is down: ${ready.body}`);
      assert.equal(
        (await p.metrics()).sum('switchboard_redis_up'),
        0,
        `${p.pod}: switchboard_redis_up while Redis is down`,
      );
    }
    // A new connection is still served locally.
    const l4 = await connectPeer(p1, 'L4');
    l4.send({ type: 'message', to: 'L2', payload: 'hello from a newcomer' });
    livePeers.L4 = p1.pod;

    const downFor = Date.now() - killedAt;
    if (downFor < 1500) await sleep(1500 - downFor);
    assert.ok(sent['L1>R1'] > downAt.L1, 'the pump kept sending while Redis was down');

    // Redis comes back, empty, on the same port.
    await redis.start();
    const backAt = Date.now();
    for (const [i, p] of [p1, p2].entries()) {
      await p.waitForLogAfter(logsBefore[i], (o) => o.msg === 'redis up', RECOVERED_WITHIN_MS, 'a new "redis up"');
    }
    await eventually(
      async () => {
        assert.deepEqual(
          await cluster.owners(),
          livePeers,
          `every live peer registered again in ${cluster.keys.peers}`,
        );
      },
      { timeoutMs: Math.max(0, RECOVERED_WITHIN_MS - (Date.now() - backAt)), intervalMs: 100 },
    );
    const recoveredAfter = Date.now() - backAt;
    for (const [i, p] of [p1, p2].entries()) {
      const m = await p.metrics();
      assert.equal(m.sum('switchboard_redis_up'), 1, `${p.pod}: switchboard_redis_up after Redis came back`);
      const reconnects = m.sum('switchboard_redis_reconnects_total');
      assert.ok(
        reconnects > reconnectsBefore[i],
        `${p.pod}: switchboard_redis_reconnects_total ${reconnectsBefore[i]} -> ${reconnects}`,
      );
    }

    // Let the cross-pod stream run a little after recovery, then stop and account for everything.
    await sleep(500);
    pumping = false;
    await pump;
    const drainUntil = Date.now() + 5000;

    // Local streams: every message arrived, in order, with no error to their senders.
    const streamOf = (client, name) =>
      client.frames
        .filter((f) => f.msg?.type === 'message' && f.msg.payload?.stream === name)
        .map((f) => f.msg.payload.seq);
    for (const [client, name] of [
      [l2, 'L1>L2'],
      [l1, 'L2>L1'],
      [r2, 'R1>R2'],
      [r1, 'R2>R1'],
    ]) {
      await eventually(() => assert.equal(streamOf(client, name).length, sent[name], `${name}: received so far`), {
        timeoutMs: Math.max(1, drainUntil - Date.now()),
      });
      assert.deepEqual(
        streamOf(client, name),
        [...Array(sent[name]).keys()],
        `${name}: local relaying must never stop (every message, in order)`,
      );
    }
    const unexpectedErrors = [l1, l2, r1, r2].flatMap((c) =>
      c.frames
        .filter((f) => f.msg?.type === 'error')
        .filter((f) => !(c === l1 && (f.msg.ref === 'while-down' || String(f.msg.ref ?? '').startsWith('L1>R1#'))))
        .map((f) => `[${c.label}] ${f.text}`),
    );
    assert.deepEqual(unexpectedErrors, [], 'no errors other than the refused cross-pod sends');
    assert.ok(
      l2.frames.some((f) => f.msg?.from === 'L4' && f.msg.payload === 'hello from a newcomer'),
      'a peer that connected while Redis was down is served locally',
    );

    // Cross-pod stream: each message was delivered to R1 or refused with "unavailable" and its
    // ref; delivered ones in order, none twice.
    const crossTotal = sent['L1>R1'];
    const accounted = () => {
      const delivered = streamOf(r1, 'L1>R1');
      const refused = new Set(
        l1.frames
          .filter((f) => f.msg?.type === 'error' && String(f.msg.ref ?? '').startsWith('L1>R1#'))
          .map((f) => Number(String(f.msg.ref).slice('L1>R1#'.length))),
      );
      return { delivered, refused };
    };
    await eventually(
      () => {
        const { delivered, refused } = accounted();
        const missing = [];
        const got = new Set(delivered);
        for (let i = 0; i < crossTotal; i++) if (!got.has(i) && !refused.has(i)) missing.push(i);
        assert.deepEqual(missing, [], `cross-pod messages neither delivered nor refused (of ${crossTotal})`);
      },
      { timeoutMs: Math.max(1, drainUntil - Date.now()) },
    );
    const { delivered, refused } = accounted();
    assert.deepEqual(
      delivered,
      [...delivered].sort((x, y) => x - y),
      'cross-pod messages delivered in order',
    );
    assert.equal(new Set(delivered).size, delivered.length, 'no cross-pod message delivered twice');
    assert.ok(refused.size > 0, 'some cross-pod messages were sent while Redis was down');
    const crossErrors = l1.frames.filter(
      (f) => f.msg?.type === 'error' && String(f.msg.ref ?? '').startsWith('L1>R1#'),
    );
    for (const f of crossErrors) assert.equal(f.msg.code, 'unavailable', `refusal of a cross-pod message: ${f.text}`);
    assert.ok(
      delivered.includes(crossTotal - 1),
      `the last cross-pod message (sent ${recoveredAfter} ms+ after recovery) was delivered`,
    );
    assert.equal(
      l1.frames.filter((f) => f.msg?.type === 'error' && f.msg.code === 'peer-unavailable').length,
      0,
      'nothing expired',
    );

    // Cross-pod relaying works both ways again.
    for (const [src, dst, srcPod, dstPod] of [
      [l1, r1, p1, p2],
      [r2, l2, p2, p1],
      [l4, r2, p1, p2],
    ]) {
      const from = dst.frames.length;
      src.send({ type: 'answer', to: dst.peer, payload: { after: 'restart' }, id: 'after' });
      const m = await eventually(
        () => {
          const f = dst.frames.slice(from).find((x) => x.msg?.type === 'answer');
          assert.ok(
            f,
            `answer ${src.peer} (${srcPod.pod}) -> ${dst.peer} (${dstPod.pod}) after the restart: not received`,
          );
          return f.msg;
        },
        { timeoutMs: 5000 },
      );
      assert.deepEqual([m.from, m.to, m.payload], [src.peer, dst.peer, { after: 'restart' }], JSON.stringify(m));
      assert.equal(
        src.frames.filter((f) => f.msg?.ref === 'after').length,
        0,
        `no error for ${src.peer} -> ${dst.peer} after the restart`,
      );
    }
    for (const c of [l1, l2, lone, l4, r1, r2]) c.close();
  });

  it('recovers the same way after SHUTDOWN NOSAVE (a clean close) and an empty restart', async () => {
    const { cluster } = fx;
    const { redis } = cluster;
    const [p1, p2] = cluster.pods;
    const a = await connectPeer(p1, 'S-A');
    const b = await connectPeer(p2, 'S-B', { token: 'tok' });
    const reconnectsBefore = await Promise.all(
      [p1, p2].map(async (p) => (await p.metrics()).sum('switchboard_redis_reconnects_total')),
    );
    const logsBefore = [p1.logs.length, p2.logs.length];
    await redis.shutdownNoSave();
    for (const [i, p] of [p1, p2].entries()) {
      await p.waitForLogAfter(logsBefore[i], (o) => o.msg === 'redis lost', LOST_WITHIN_MS, '"redis lost"');
    }
    a.send({ type: 'message', to: 'S-B', payload: 1, id: 'down' });
    const err = await a.next(3000, 'unavailable');
    assert.deepEqual([err.type, err.code, err.ref], ['error', 'unavailable', 'down'], JSON.stringify(err));
    await redis.start();
    await eventually(
      async () =>
        assert.deepEqual(
          await cluster.owners(),
          { 'S-A': p1.pod, 'S-B': p2.pod },
          `${cluster.keys.peers} after the restart`,
        ),
      { timeoutMs: RECOVERED_WITHIN_MS, intervalMs: 100 },
    );
    for (const [i, p] of [p1, p2].entries()) {
      const m = await p.metrics();
      assert.equal(m.sum('switchboard_redis_up'), 1, `${p.pod}: switchboard_redis_up`);
      assert.ok(
        m.sum('switchboard_redis_reconnects_total') > reconnectsBefore[i],
        `${p.pod}: switchboard_redis_reconnects_total went up`,
      );
    }
    a.send({ type: 'message', to: 'S-B', payload: 2, id: 'up' });
    const m = await b.expect('message', { timeoutMs: 5000 });
    assert.deepEqual([m.from, m.payload], ['S-A', 2]);
    b.send({ type: 'message', to: 'S-A', payload: 3 });
    assert.equal((await a.expect('message', { timeoutMs: 5000 })).payload, 3);
    // The id is still held across pods after the restart, with its token: another token is
    // refused, the same token takes over.
    const intruder = await openClient(p1, { peer: 'S-B', token: 'other' });
    const refused = await intruder.next(5000, 'id-taken');
    assert.deepEqual([refused.type, refused.code], ['error', 'id-taken'], JSON.stringify(refused));
    assert.equal((await intruder.closed(5000)).code, 4409);
    const b2 = await connectPeer(p1, 'S-B', { token: 'tok', label: 'S-B (resumed on pod 1)' });
    const closed = await b.closed(5000);
    assert.deepEqual(
      [closed.code, closed.reason],
      [4410, 'replaced'],
      'the token re-registered after the restart lets its owner take over',
    );
    assert.equal(await cluster.owner('S-B'), p1.pod);
    await a.expectNothing(100, 'no error after recovery');
    a.close();
    b2.close();
  });
});
