// --max-connections (issue 6): a full pod refuses new handshakes with 503 "full" and reports
// itself not ready from 95% of the maximum, so that a load balancer sends new clients to other
// pods; its probes keep answering, and it takes connections again once some close.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, startServer, tryHandshake } from './harness.mjs';

describe('max connections', { timeout: 30000 }, () => {
  it('refuses handshakes beyond the maximum, is not ready when nearly full, recovers', async (t) => {
    const max = 16; // the smallest --max-connections allows; 95% of it rounds to all of it
    const srv = await startServer({ 'max-connections': max }, { t });
    assert.equal((await srv.metrics()).sum('switchboard_connections_max'), max);
    const clients = [];
    for (let i = 0; i < max - 1; i++) clients.push(await connectPeer(srv, `full-${i}`));
    assert.equal((await srv.get('/readyz')).status, 200, 'ready below the maximum');
    clients.push(await connectPeer(srv, `full-${max - 1}`));

    const readyz = await srv.get('/readyz');
    assert.deepEqual([readyz.status, readyz.body], [503, 'nearly full\n']);
    assert.equal((await srv.get('/healthz')).status, 200, 'alive, so that Kubernetes does not restart it');
    for (const path of ['/ws', '/peerjs']) {
      const refused = await tryHandshake(srv, { peer: 'one-too-many', path });
      if (refused.client) refused.client.terminate();
      assert.equal(refused.status, 503, `${path} handshake at the maximum: ${refused.status} ${refused.body ?? ''}`);
      assert.match(refused.body, /connect again/);
    }
    const m = await srv.metrics();
    assert.equal(m.sum('switchboard_handshakes_refused_total', { reason: 'full' }), 2);
    assert.equal(m.sum('switchboard_connections_open'), max);
    for (const c of clients) await c.assertAlive('held connections keep working when full');

    clients.pop().close();
    await eventually(async () => assert.equal((await srv.get('/readyz')).status, 200, 'ready again'));
    clients.push(await connectPeer(srv, 'after-one-left'));
    for (const c of clients) c.close();
  });
});
