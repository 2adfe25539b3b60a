// Per-client-address limits (--max-connections-per-ip, --handshake-rate-per-ip,
// --handshake-burst-per-ip) and whose address counts (--trusted-proxies): docs/security.md.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, serverFixture, sleep, tryHandshake } from './harness.mjs';

const refused = async (srv, reason) => (await srv.metrics()).sum('switchboard_handshakes_refused_total', { reason });
const from = (address) => ({ 'X-Forwarded-For': address });

// Waits until the server holds no connection (closes from an earlier test are processed).
const idle = (srv) =>
  eventually(async () => assert.equal((await srv.metrics()).sum('switchboard_connections_open'), 0));

// Opens `n` connections (asserting each is accepted) and returns their clients.
async function openMany(srv, n, headers) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const result = await tryHandshake(srv, { headers });
    assert.equal(result.status, 101, `connection ${i + 1} of ${n}: ${result.status} ${result.body}`);
    clients.push(result.client);
  }
  return clients;
}

describe('connections per address', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'max-connections-per-ip': 3, 'log-level': 'info' });

  it('refuses the connection past the cap with 429, and admits again once one closes', async () => {
    const before = await refused(fx.srv, 'too-many-connections');
    const clients = await openMany(fx.srv, 3);
    const fourth = await tryHandshake(fx.srv);
    assert.equal(fourth.status, 429);
    assert.match(fourth.body, /holds all the connections it may/);
    assert.equal(await refused(fx.srv, 'too-many-connections'), before + 1);
    const line = fx.srv.logs.findLast((o) => o.msg === 'handshake refused');
    assert.deepEqual([line.status, line.reason, line.address], [429, 'too-many-connections', '127.0.0.1']);

    clients[0].terminate();
    const again = await eventually(async () => {
      const result = await tryHandshake(fx.srv);
      assert.equal(result.status, 101, 'a slot freed by a close is usable again');
      return result;
    });
    for (const c of [...clients.slice(1), again.client]) c.terminate();
  });

  it('believes no X-Forwarded-For without --trusted-proxies', async () => {
    await idle(fx.srv);
    const clients = await openMany(fx.srv, 3, from('192.0.2.1'));
    const spoofed = await tryHandshake(fx.srv, { headers: from('192.0.2.99') });
    assert.equal(spoofed.status, 429, 'a forged X-Forwarded-For must not buy a fresh budget');
    for (const c of clients) c.terminate();
  });
});

describe('handshake rate per address', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'handshake-rate-per-ip': 1, 'handshake-burst-per-ip': 5, 'log-level': 'info' });

  it('admits a burst, refuses the next handshake with 429, and admits again after a refill', async () => {
    const before = await refused(fx.srv, 'too-many-handshakes');
    const clients = await openMany(fx.srv, 5);
    const sixth = await tryHandshake(fx.srv);
    assert.equal(sixth.status, 429);
    assert.equal(await refused(fx.srv, 'too-many-handshakes'), before + 1);
    await sleep(1100); // one handshake per second comes back
    const later = await tryHandshake(fx.srv);
    assert.equal(later.status, 101);
    for (const c of [...clients, later.client]) c.terminate();
  });
});

describe('behind a trusted proxy', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'max-connections-per-ip': 2, 'trusted-proxies': '127.0.0.1/32, 10.0.0.0/8' });

  it('counts each client by the right-most X-Forwarded-For address that is not a trusted proxy', async () => {
    const alice = await openMany(fx.srv, 2, from('198.51.100.1'));
    assert.equal((await tryHandshake(fx.srv, { headers: from('198.51.100.1') })).status, 429);
    // Another client behind the same proxy has its own budget; so does one seen through a
    // second trusted hop (10.1.2.3), whatever it claims to the left of its real address.
    const bob = await openMany(fx.srv, 2, from('198.51.100.2'));
    const carol = await openMany(fx.srv, 2, from('203.0.113.9, 198.51.100.1, 198.51.100.3, 10.1.2.3'));
    assert.equal((await tryHandshake(fx.srv, { headers: from('198.51.100.1, 198.51.100.3') })).status, 429);
    // Without the header, the connection is the proxy's own.
    const proxy = await openMany(fx.srv, 2);
    assert.equal((await tryHandshake(fx.srv)).status, 429);
    for (const c of [...alice, ...bob, ...carol, ...proxy]) c.terminate();
  });
});

describe('refusal logging', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'max-connections-per-ip': 1, 'log-level': 'info' });

  it('writes at most 50 refusal lines in 5 s, and the next one says how many were held back', async () => {
    const [holder] = await openMany(fx.srv, 1);
    const logged = fx.srv.logs.length;
    const attempts = 80;
    for (let i = 0; i < attempts; i++) assert.equal((await tryHandshake(fx.srv)).status, 429);
    const lines = () => fx.srv.logs.slice(logged).filter((o) => o.msg === 'handshake refused');
    assert.ok(lines().length <= 50, `${lines().length} refusal lines for ${attempts} refusals`);
    assert.equal(await refused(fx.srv, 'too-many-connections'), attempts, 'the metric counts every one');
    // Once the window has passed, the next line reports the lines held back.
    await sleep(5100);
    assert.equal((await tryHandshake(fx.srv)).status, 429);
    const next = await eventually(() => {
      const found = lines().find((o) => o.suppressed > 0);
      assert.ok(found, 'no line reports the suppressed ones');
      return found;
    });
    assert.equal(next.suppressed + lines().length - 1, attempts, 'written + suppressed = refused');
    holder.terminate();
  });
});
