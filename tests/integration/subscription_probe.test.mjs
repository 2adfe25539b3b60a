// A subscription that stays open and delivers nothing (after a failover, Centrifugo saw
// publishes succeed while its subscription was dead: centrifugal/centrifugo#1189). Between the
// pod and a real redis-server sits a TCP proxy that can silence what Redis sends on the
// subscriber connection only: the socket stays up, commands and their replies still flow. The
// pod's own probe (routing/subscription_probe.h: one every 5 s, lost after 3 s) must notice, drop
// the link and come back.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startRedis, startServer, uniquePrefix } from './harness.mjs';

// Forwards 127.0.0.1:<port> to Redis. A connection whose first bytes hold SUBSCRIBE is the
// subscriber; mute() stops what Redis sends on it from reaching the pod.
async function startProxy(redisPort) {
  const proxy = { muted: false, subscribers: 0, sockets: new Set() };
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    let subscriber = false;
    proxy.sockets.add(client).add(upstream);
    client.on('data', (data) => {
      if (!subscriber && /SUBSCRIBE/i.test(data.toString('latin1'))) {
        subscriber = true;
        proxy.subscribers++;
      }
      upstream.write(data);
    });
    upstream.on('data', (data) => {
      if (!(subscriber && proxy.muted)) client.write(data);
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      a.on('error', () => {});
      a.on('close', () => b.destroy());
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = server.address().port;
  proxy.mute = () => (proxy.muted = true);
  proxy.unmute = () => (proxy.muted = false);
  proxy.close = () => {
    for (const s of proxy.sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}

describe('the subscription probe', { timeout: 60000 }, () => {
  it('drops a link whose subscription delivers nothing, and comes back', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const proxy = await startProxy(redis.port);
    t.after(() => proxy.close());
    const srv = await startServer({
      'redis-url': `redis://127.0.0.1:${proxy.port}`,
      'redis-prefix': uniquePrefix('sp'),
      'pod-id': 'probe-1',
    });
    t.after(() => srv.stop());
    await srv.waitForRedisUp();
    assert.equal(proxy.subscribers, 1);

    const before = srv.logs.length;
    proxy.mute();
    const mutedAt = Date.now();
    const lost = await srv.waitForLogAfter(before, (o) => o.msg === 'redis lost', 15000, '"redis lost"');
    const detectedMs = Date.now() - mutedAt;
    t.diagnostic(`subscription found dead ${detectedMs} ms after it was muted: ${JSON.stringify(lost)}`);
    assert.match(JSON.stringify(lost), /probe/);
    // The probe period plus its deadline, and a heartbeat.
    assert.ok(detectedMs <= 5000 + 3000 + 1500, `found after ${detectedMs} ms`);

    proxy.unmute();
    await srv.waitForRedisUp(srv.logs.indexOf(lost), 10000);
    assert.equal(proxy.subscribers, 2, 'subscribed again on a new connection');
  });
});
