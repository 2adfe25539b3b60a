// --allowed-origins: which web pages may open a WebSocket and read the HTTP routes (CORS).
// Browsers send the page's origin; a request without one is not a browser's and is let in.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { handshakeStatus, httpGetWithHeaders, serverFixture } from './harness.mjs';

const handshakeFrom = (srv, path, origin) => handshakeStatus(`ws://${srv.host}:${srv.port}${path}`, { origin });

describe('allowed origins', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'allowed-origins': 'https://app.example.com, https://*.cdn.example.net' });

  for (const [origin, status] of [
    ['https://app.example.com', 101],
    ['https://eu.cdn.example.net', 101],
    [undefined, 101],
    ['https://evil.example', 403],
    ['http://app.example.com', 403],
    ['https://app.example.com.evil.example', 403],
    ['null', 403],
  ]) {
    it(`native handshake from ${origin ?? 'no origin'}: ${status}`, async () => {
      assert.equal(await handshakeFrom(fx.srv, '/ws?peer=o1', origin), status);
    });
    it(`PeerJS handshake from ${origin ?? 'no origin'}: ${status}`, async () => {
      assert.equal(await handshakeFrom(fx.srv, '/peerjs?key=peerjs&id=o2&token=t', origin), status);
    });
  }

  it('counts a refused origin as bad-origin', async () => {
    const before = (await fx.srv.metrics()).sum('switchboard_handshakes_refused_total', { reason: 'bad-origin' });
    assert.equal(await handshakeFrom(fx.srv, '/ws', 'https://evil.example'), 403);
    const after = (await fx.srv.metrics()).sum('switchboard_handshakes_refused_total', { reason: 'bad-origin' });
    assert.equal(after - before, 1);
  });

  it('names only a listed origin in access-control-allow-origin', async () => {
    const listed = await httpGetWithHeaders(fx.srv.host, fx.srv.port, '/peerjs/id', { origin: 'https://app.example.com' });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(listed.headers.vary, /Origin/);
    const other = await httpGetWithHeaders(fx.srv.host, fx.srv.port, '/peerjs/id', { origin: 'https://evil.example' });
    assert.equal(other.status, 200);
    assert.equal(other.headers['access-control-allow-origin'], undefined, JSON.stringify(other.headers));
  });
});

describe('allowed origins: the default', { timeout: 30000 }, () => {
  const fx = serverFixture({});

  it('lets every origin in, and reflects it in CORS', async () => {
    assert.equal(await handshakeFrom(fx.srv, '/ws', 'https://anywhere.example'), 101);
    const res = await httpGetWithHeaders(fx.srv.host, fx.srv.port, '/peerjs/id', { origin: 'https://anywhere.example' });
    assert.equal(res.headers['access-control-allow-origin'], 'https://anywhere.example');
  });
});
