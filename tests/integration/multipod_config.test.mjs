// Configuring the Redis backend (issue 3): --redis-url / SWITCHBOARD_REDIS_URL, --redis-prefix,
// refusing bad URLs at start, and a pod started while Redis is unreachable.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RedisServer,
  connectPeer,
  eventually,
  freePort,
  ownersIn,
  redisCommand,
  redisKeys,
  runOnce,
  startPod,
  startRedis,
  startServer,
  uniquePrefix,
} from './harness.mjs';

// Exit status and the JSON error line of a run that must be refused at start.
function assertRefusedAtStart({ code, signal, stdout, stderr }, what) {
  assert.equal(signal, null, `${what}: must exit, not die from a signal; stderr: ${stderr}`);
  assert.notEqual(code, 0, `${what}: must exit non-zero; stderr: ${stderr}`);
  const lines = stderr.split('\n').filter(Boolean);
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return null;
    }
  });
  assert.ok(
    parsed.every((o) => o && typeof o === 'object' && typeof o.level === 'string'),
    `${what}: every stderr line must be a JSON object with "level":\n${stderr}`,
  );
  const explained = parsed.filter((o) => o.level === 'error' && /redis-url|REDIS_URL/i.test(JSON.stringify(o)));
  assert.ok(explained.length >= 1, `${what}: an error log line must name the bad Redis URL setting:\n${stderr}`);
  assert.ok(!/listening/.test(stderr + stdout), `${what}: must not start listening:\n${stderr}`);
}

describe('multi-pod configuration', { timeout: 60000 }, () => {
  const BAD_URLS = [
    'http://x',
    'redis://',
    'redis://h:99999',
    'redis://h:0',
    'redis://h:port',
    'redis://h:6379/db',
    'localhost:6379',
  ];

  for (const url of BAD_URLS) {
    it(`exits non-zero at start, with a JSON error line, for --redis-url ${JSON.stringify(url)}`, async () => {
      const port = await freePort();
      const res = await runOnce([
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--pod-id',
        'bad-url',
        '--redis-url',
        url,
      ]);
      assertRefusedAtStart(res, `--redis-url ${url}`);
    });
  }

  it('exits non-zero at start for a bad SWITCHBOARD_REDIS_URL', async () => {
    const port = await freePort();
    const res = await runOnce(['--host', '127.0.0.1', '--port', String(port), '--pod-id', 'bad-env'], {
      env: { SWITCHBOARD_REDIS_URL: 'http://x' },
    });
    assertRefusedAtStart(res, 'SWITCHBOARD_REDIS_URL=http://x');
  });

  it('uses the embedded backend without --redis-url', async (t) => {
    const srv = await startServer({}, { t });
    assert.equal(srv.listening.routing, 'embedded', `"listening": ${JSON.stringify(srv.listening)}`);
  });

  it('reads SWITCHBOARD_REDIS_URL and defaults the prefix to "switchboard"', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const srv = await startServer(
      { 'pod-id': 'env-pod' },
      { t, env: { SWITCHBOARD_REDIS_URL: `redis://127.0.0.1:${redis.port}/0` } },
    );
    assert.equal(srv.listening.routing, 'redis', `"listening": ${JSON.stringify(srv.listening)}`);
    await srv.waitForRedisUp();
    const c = await connectPeer(srv, 'env-peer');
    assert.deepEqual(await ownersIn(redis, redisKeys('switchboard')), { 'env-peer': 'env-pod' }, 'switchboard:{...}:peers');
    c.close();
    await c.closed();
    await eventually(async () =>
      assert.deepEqual(await ownersIn(redis, redisKeys('switchboard')), {}, 'entry removed when the peer leaves'),
    );
    // Stop the pod before Redis (t.after hooks run in order of registration: redis.stop first).
    await srv.stop();
  });

  it('honours --redis-prefix and the /db of the URL', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const prefix = uniquePrefix('cfg');
    const srv = await startServer(
      { 'pod-id': 'db-pod', 'redis-url': `redis://127.0.0.1:${redis.port}/3`, 'redis-prefix': prefix },
      { t },
    );
    await srv.waitForRedisUp();
    const c = await connectPeer(srv, 'db-peer');
    assert.deepEqual(await redisCommand(redis.port, ['KEYS', '*'], { db: 0 }), [], 'nothing in db 0');
    assert.deepEqual(
      await ownersIn(redis, redisKeys(prefix), { db: 3 }),
      { 'db-peer': 'db-pod' },
      `${prefix}:{...}:peers in db 3`,
    );
    c.close();
    await srv.stop();
  });

  // The Kubernetes manifests (k8s/base) pass the password from a Secret in this variable.
  it('logs in with SWITCHBOARD_REDIS_PASSWORD, and stays down with a wrong one', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const password = 's3cr:t@/x %';
    assert.equal(await redisCommand(redis.port, ['CONFIG', 'SET', 'requirepass', password]), 'OK');
    const prefix = uniquePrefix('auth');
    const good = await startPod(redis, {
      prefix,
      pod: 'auth-good',
      env: { SWITCHBOARD_REDIS_PASSWORD: password },
      t,
    });
    const bad = await startPod(redis, {
      prefix,
      pod: 'auth-bad',
      env: { SWITCHBOARD_REDIS_PASSWORD: 'wrong' },
      waitUp: false,
      t,
    });
    const a = await connectPeer(good, 'auth-A');
    await eventually(() => assert.ok(bad.stderrLines.some((l) => /AUTH refused/.test(l)), bad.stderrLines.join("\n")), {
      timeoutMs: 5000,
    });
    assert.equal((await bad.metrics()).sum('switchboard_redis_up'), 0, 'switchboard_redis_up with a wrong password');
    assert.ok(!bad.stderrLines.some((l) => l.includes(password)), 'the password is never logged');
    assert.ok(!good.stderrLines.some((l) => l.includes(password)), 'the password is never logged');
    a.close();
    await good.stop();
    await bad.stop();
  });

  it('starts while Redis is unreachable: serves local peers, refuses cross-pod sends, registers them once Redis is up', async (t) => {
    const redis = new RedisServer(await freePort()); // not started yet
    t.after(() => redis.stop());
    const prefix = uniquePrefix('late');
    const srv = await startPod(redis, { prefix, pod: 'late-1', waitUp: false, t });
    const m0 = await srv.metrics();
    assert.equal(m0.sum('switchboard_redis_up'), 0, 'switchboard_redis_up with no Redis');
    assert.equal((await srv.get('/readyz')).status, 200, '/readyz serves local peers without Redis');
    const a = await connectPeer(srv, 'late-A');
    const b = await connectPeer(srv, 'late-B');
    a.send({ type: 'message', to: 'late-B', payload: 'local', id: 1 });
    assert.equal((await b.expect('message')).payload, 'local');
    a.send({ type: 'message', to: 'elsewhere', payload: 'x', id: 'far' });
    const err = await a.next(3000, 'unavailable');
    assert.deepEqual([err.type, err.code, err.ref], ['error', 'unavailable', 'far'], JSON.stringify(err));

    await redis.start();
    await srv.waitForRedisUp(0, 8000);
    await eventually(
      async () => assert.deepEqual(await ownersIn(redis, redisKeys(prefix)), { 'late-A': 'late-1', 'late-B': 'late-1' }),
      { timeoutMs: 3000 },
    );
    assert.equal((await srv.metrics()).sum('switchboard_redis_up'), 1, 'switchboard_redis_up once Redis is there');
    a.close();
    b.close();
    await srv.stop();
  });
});
