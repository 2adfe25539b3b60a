// --redis-cluster against the wrong kind of Redis, both ways: the pod keeps running, says what is
// wrong once (not once per retry), and reports switchboard_redis_up 0. And the settings that
// cannot go with it are refused at start.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runOnce, sleep, startPod, startRedis, startServer, uniquePrefix } from './harness.mjs';
import { startRedisCluster } from './redis_cluster.mjs';

// Waits for the "redis unreachable" line, then checks that the pod stays down without repeating
// it while it retries (backoff from 100 ms: several retries in 2 s).
async function assertDownWithOneLine(srv, pattern, what) {
  const line = await srv.waitForLog((o) => o.msg === 'redis unreachable', 8000, `${what}: "redis unreachable"`);
  assert.match(line.why ?? '', pattern, `${what}: the line says why: ${JSON.stringify(line)}`);
  await sleep(2000);
  const lines = srv.logs.filter((o) => o.msg === 'redis unreachable');
  assert.equal(lines.length, 1, `${what}: logged once, not per retry: ${JSON.stringify(lines)}`);
  assert.ok(!srv.logs.some((o) => o.msg === 'redis up'), `${what}: never up`);
  assert.equal((await srv.metrics()).sum('switchboard_redis_up'), 0, `${what}: switchboard_redis_up`);
  assert.equal((await srv.get('/healthz')).status, 200, `${what}: the process serves on`);
}

describe('--redis-cluster and the kind of Redis it meets', { timeout: 90000 }, () => {
  it('with a standalone redis-server: says it is no cluster node, stays down, keeps running', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const srv = await startPod(redis, {
      prefix: uniquePrefix('cc1'),
      pod: 'cc-1',
      flags: { 'redis-cluster': 'true' },
      waitUp: false,
      t,
    });
    await assertDownWithOneLine(srv, /--redis-cluster is set.*cluster support disabled/, 'standalone with --redis-cluster');
  });

  it('with a cluster node but no --redis-cluster: says to set it, stays down, keeps running', async (t) => {
    const cluster = await startRedisCluster({ masters: 3, t });
    const srv = await startServer(
      { 'redis-url': cluster.seedUrl, 'redis-prefix': uniquePrefix('cc2'), 'pod-id': 'cc-2' },
      { t },
    );
    await assertDownWithOneLine(srv, /is a Redis Cluster node: start with --redis-cluster/, 'cluster without --redis-cluster');
  });

  for (const [args, pattern] of [
    [['--redis-cluster', 'true'], /--redis-cluster: set without --redis-url/],
    [['--redis-cluster', 'true', '--redis-url', 'redis://127.0.0.1:6379/2'], /database 0 only/],
  ]) {
    it(`refuses ${args.join(' ')} at start`, async () => {
      const res = await runOnce(['--host', '127.0.0.1', '--port', String(await freePort()), ...args]);
      assert.notEqual(res.code, 0, `must exit non-zero: ${res.stderr}`);
      assert.match(res.stderr, pattern, res.stderr);
      assert.ok(!/listening/.test(res.stderr + res.stdout), `must not start listening: ${res.stderr}`);
    });
  }
});
