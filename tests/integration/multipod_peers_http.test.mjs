// GET /peerjs/peers with Redis: the answer comes later, from Redis, so the pod keeps the request
// waiting. A client that gives up leaves its answer on its way; libwebsockets may give the next
// connection the same connection object. That later request must get its own answer (its own
// CORS origin), never the abandoned one. Contract: docs/peerjs.md.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpGetWithHeaders, sleep, startCluster } from './harness.mjs';

describe('PeerJS peer list with Redis', { timeout: 60000 }, () => {
  it('never answers a request with the peer list an abandoned one was waiting for', async (t) => {
    const cluster = await startCluster({ pods: 1, tag: 'mph', flags: { 'peerjs-allow-discovery': 'true' }, t });
    const [pod] = cluster.pods;
    // Entries of no PeerJS peer (so not listed), enough that each HKEYS answer takes the pod many
    // reads: it writes the first answer before it has read the second.
    await cluster.redis.command(
      'EVAL',
      "for i = 1, tonumber(ARGV[1]) do redis.call('HSET', KEYS[1], 'seeded-entry-' .. i, 'no-pod') end return 1",
      '1',
      cluster.keys.peers(0),
      '20000',
    );
    // The connection object is reused only when the allocator hands the same memory back, which
    // it usually does at once; a few rounds make the test independent of that.
    for (let round = 0; round < 5; round++) {
      // Redis holds the pod's HKEYS while the first client asks and gives up, and the second asks.
      await cluster.redis.command('CLIENT', 'PAUSE', '800', 'ALL');
      let abandonedSocket = null;
      const abandoned = http.request({
        host: pod.host,
        port: pod.port,
        path: '/peerjs/peers',
        agent: false,
        headers: { origin: 'https://abandoned.example', connection: 'close' },
      });
      abandoned.on('error', () => {}); // destroyed on purpose
      abandoned.on('socket', (socket) => (abandonedSocket = socket));
      abandoned.end();
      await sleep(150);
      // A reset, not a FIN: libwebsockets does not read a connection whose request it is still
      // answering, so it notices a FIN only when it writes; a reset it sees at once.
      abandonedSocket.resetAndDestroy();
      await sleep(150);
      const res = await httpGetWithHeaders(pod.host, pod.port, '/peerjs/peers', { origin: 'https://waiting.example' }, 5000);
      assert.equal(res.status, 200, `round ${round}: ${res.body}`);
      assert.equal(
        res.headers['access-control-allow-origin'],
        'https://waiting.example',
        `round ${round}: the answer carries the CORS origin of the request it answers`,
      );
      assert.equal(res.body, '[]', `round ${round}`);
      await sleep(900); // the pause is over; the next round starts afresh
    }
  });
});
