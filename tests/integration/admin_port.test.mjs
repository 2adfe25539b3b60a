// --admin-port: /metrics, /healthz and /readyz on a port of their own, and only there, so that
// the public port (behind the ingress) serves only what clients use.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, handshakeStatus, httpGet, serverFixture } from './harness.mjs';

describe('admin port', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'admin-port': 0 });
  const admin = (path) => httpGet(fx.srv.host, fx.srv.listening.admin_port, path);

  it('reports the admin port it listens on', () => {
    const port = fx.srv.listening.admin_port;
    assert.ok(Number.isInteger(port) && port > 0 && port !== fx.srv.port, JSON.stringify(fx.srv.listening));
  });

  it('serves the operations routes on the admin port', async () => {
    assert.equal((await admin('/healthz')).status, 200);
    assert.equal((await admin('/readyz')).status, 200);
    const metrics = await admin('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^# TYPE switchboard_connections_open gauge$/m);
  });

  it('serves nothing else there: no client route, no WebSocket', async () => {
    assert.equal((await admin('/peerjs/id')).status, 404);
    const status = await handshakeStatus(`ws://${fx.srv.host}:${fx.srv.listening.admin_port}/ws?peer=adm`);
    assert.equal(status, 404);
  });

  it('no longer serves the operations routes on the public port, which keeps the client routes', async () => {
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      assert.equal((await fx.srv.get(path)).status, 404, path);
    }
    assert.equal((await fx.srv.get('/peerjs/id')).status, 200);
    const peer = await connectPeer(fx.srv, 'on-public');
    const metrics = await admin('/metrics');
    assert.match(metrics.body, /^switchboard_connections_open 1$/m);
    peer.close();
    await peer.closed();
  });

  it('says not ready on the admin port while draining', async () => {
    fx.srv.signal('SIGTERM');
    await eventually(async () => assert.equal((await admin('/readyz')).status, 503), { timeoutMs: 5000 });
  });
});
