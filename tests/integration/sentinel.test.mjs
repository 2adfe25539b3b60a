// Redis Sentinel (issue 14, part 3; docs/operations.md, "Redis high availability"): pods given
// --redis-sentinels and --redis-sentinel-master find the master through the sentinels, and after
// the master is killed they find the new one, register their peers there again, and relay
// across pods within seconds. A real deployment: 1 master, 2 replicas, 3 sentinels
// (redis_sentinel.mjs).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, freePort, runOnce, sleep, startServer, uniquePrefix } from './harness.mjs';
import { startRedisSentinel } from './redis_sentinel.mjs';

async function startSentinelPod(rs, prefix, pod, flags = {}) {
  const srv = await startServer({
    'redis-sentinels': rs.sentinelAddresses,
    'redis-sentinel-master': rs.masterName,
    'redis-prefix': prefix,
    'pod-id': pod,
    ...flags,
  });
  assert.equal(srv.listening.routing, 'redis', JSON.stringify(srv.listening));
  await srv.waitForRedisUp();
  return srv;
}

describe('Redis Sentinel', { timeout: 120000 }, () => {
  it('relays across pods through the master the sentinels name, and again after a failover', async (t) => {
    const rs = await startRedisSentinel({ replicas: 2, sentinels: 3, t });
    const prefix = uniquePrefix('sn');
    const pods = [await startSentinelPod(rs, prefix, 'sn-1'), await startSentinelPod(rs, prefix, 'sn-2')];
    t.after(() => Promise.all(pods.map((p) => p.stop())));
    const a = await connectPeer(pods[0], 'sn-a', { token: 'ta' });
    const b = await connectPeer(pods[1], 'sn-b', { token: 'tb' });
    a.send({ type: 'offer', to: 'sn-b', payload: { n: 0 } });
    assert.deepEqual((await b.expect('offer')).payload, { n: 0 });

    const old = await rs.master();
    const killedAt = Date.now();
    await rs.kill(old);
    // Both ways, until a message gets through; what is not delivered is told.
    let back = null;
    for (let n = 1; Date.now() - killedAt < 20000; n++) {
      a.send({ type: 'offer', to: 'sn-b', payload: { n }, id: n });
      await sleep(100);
      while (a.queue.length) {
        const msg = await a.next(100);
        assert.equal(msg.type, 'error', JSON.stringify(msg)); // unavailable while it is away
      }
      const got = b.queue.find((f) => f.msg?.type === 'offer' && f.msg.payload.n === n);
      if (got) {
        back = Date.now() - killedAt;
        break;
      }
    }
    t.diagnostic(`relaying again ${back} ms after the master was killed`);
    assert.ok(back !== null && back < 10000, `relaying back after ${back} ms`);
    // The other way too, and the new master holds both peers' entries (registered again).
    b.send({ type: 'answer', to: 'sn-a', payload: { ok: 1 } });
    await eventually(async () => assert.ok(a.frames.some((f) => f.msg?.type === 'answer')), { timeoutMs: 5000 });
    const now = await rs.master();
    assert.notEqual(now, old);
    await eventually(
      async () => {
        const metrics = await pods[0].metrics();
        assert.equal(metrics.sum('switchboard_redis_up'), 1);
      },
      { timeoutMs: 5000 },
    );
    a.close();
    b.close();
  });

  it('speaks to sentinels that require a password', async (t) => {
    const rs = await startRedisSentinel({ replicas: 1, sentinels: 3, sentinelPassword: 'sentinel-secret', t });
    const prefix = uniquePrefix('sp');
    const good = await startSentinelPod(rs, prefix, 'sp-1', { 'redis-sentinel-password': 'sentinel-secret' });
    t.after(() => good.stop());
    const bad = await startServer({
      'redis-sentinels': rs.sentinelAddresses,
      'redis-sentinel-master': rs.masterName,
      'redis-prefix': prefix,
      'pod-id': 'sp-2',
    });
    t.after(() => bad.stop());
    await eventually(
      async () => assert.match(JSON.stringify(bad.logs.filter((o) => o.msg === 'redis unreachable')), /NOAUTH|auth/i),
      { timeoutMs: 5000 },
    );
    assert.equal((await bad.metrics()).sum('switchboard_redis_up'), 0);
    assert.equal((await good.metrics()).sum('switchboard_redis_up'), 1);
  });

  it('refuses bad sentinel flags with a clear error', async () => {
    for (const [flags, pattern] of [
      [{ 'redis-sentinel-master': 'm' }, /--redis-sentinel-\*: set without --redis-sentinels/],
      [{ 'redis-sentinels': '127.0.0.1:1' }, /--redis-sentinel-master must name/],
      [{ 'redis-sentinels': '127.0.0.1:0', 'redis-sentinel-master': 'm' }, /--redis-sentinels: .*port/],
      [{ 'redis-sentinels': 'a:1,,b:2', 'redis-sentinel-master': 'm' }, /--redis-sentinels: .*empty/],
      [{ 'redis-sentinels': 'a:1', 'redis-sentinel-master': 'has space' }, /--redis-sentinel-master: /],
    ]) {
      const args = ['--host', '127.0.0.1', '--port', String(await freePort())];
      for (const [name, value] of Object.entries(flags)) args.push(`--${name}`, value);
      const { code, stderr } = await runOnce(args);
      assert.notEqual(code, 0, `exit code for ${JSON.stringify(flags)}: ${stderr}`);
      assert.match(stderr, pattern);
    }
  });

  it('says why when no sentinel answers, and once', async (t) => {
    const srv = await startServer({
      'redis-sentinels': '127.0.0.1:1,127.0.0.1:2',
      'redis-sentinel-master': 'nobody',
      'redis-prefix': uniquePrefix('sx'),
    });
    t.after(() => srv.stop());
    await sleep(3000);
    const lines = srv.logs.filter((o) => o.msg === 'redis unreachable');
    assert.ok(lines.length >= 1, 'an "unreachable" line');
    assert.ok(lines.length <= 2, `logged ${lines.length} times`);
    assert.match(JSON.stringify(lines[0]), /sentinel/i);
    assert.equal((await srv.metrics()).sum('switchboard_redis_up'), 0);
  });
});
