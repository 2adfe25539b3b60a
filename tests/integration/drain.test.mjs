// Graceful shutdown on SIGTERM. Contract: docs/protocol.md (503 while draining, close 1001
// "draining") and the server's flags (--drain-seconds).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, eventually, sleep, startServer, tryHandshake } from './harness.mjs';

describe('drain', { timeout: 30000 }, () => {
  it('SIGTERM: readyz 503, new handshakes 503, clients closed 1001 "draining", exit 0', async (t) => {
    const srv = await startServer({ 'drain-seconds': 1 }, { t });
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await connectPeer(srv, `drain-${i}`));
    assert.equal((await srv.get('/readyz')).status, 200, 'ready before the signal');

    const signalledAt = Date.now();
    srv.signal('SIGTERM');
    // Once the server has handled the signal (a probe polls for it: the signal is not handled at
    // the instant it is sent), and while the connections are still open, it keeps serving HTTP.
    await eventually(async () => {
      const readyz = await srv.get('/readyz');
      assert.equal(readyz.status, 503, `/readyz while draining: ${readyz.status} ${readyz.body}`);
    }, { timeoutMs: 2000, intervalMs: 20 });
    const [healthz, handshake] = await Promise.all([srv.get('/healthz'), tryHandshake(srv, { peer: 'latecomer' })]);
    if (handshake.client) handshake.client.terminate();
    assert.equal(handshake.status, 503, `new /ws handshake while draining: ${handshake.status} ${handshake.body ?? ''}`);
    assert.ok(handshake.body.length > 0, 'the 503 refusal carries a plain-text reason');
    t.diagnostic(`/healthz while draining: ${healthz.status}`);

    const closes = await Promise.all(clients.map((c) => c.closed(3000)));
    for (const [i, { code, reason }] of closes.entries()) {
      assert.equal(code, 1001, `client ${i} close code (reason ${JSON.stringify(reason)})`);
      assert.equal(reason, 'draining', `client ${i} close reason`);
    }
    const offsets = clients.map((c) => c.closeInfo.at - signalledAt);
    t.diagnostic(`clients closed at +${offsets.join(' ms, +')} ms after SIGTERM (--drain-seconds 1)`);
    assert.ok(Math.max(...offsets) <= 2500, `last client closed ${Math.max(...offsets)} ms after SIGTERM with --drain-seconds 1`);

    const { code, signal } = await srv.waitForExit(3000);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'exit status after a drain');
    srv.assertLogsAreJson();
  });

  it('SIGTERM with no connections exits 0 within --drain-seconds', async (t) => {
    const srv = await startServer({ 'drain-seconds': 1 }, { t });
    await sleep(200); // see the next test for a signal right after "listening"
    srv.signal('SIGTERM');
    const { code, signal } = await srv.waitForExit(2500);
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    srv.assertLogsAreJson();
  });

  it('SIGTERM right after the "listening" line still drains and exits 0', async (t) => {
    // Once "listening" is logged the process is up as far as anyone can tell (an orchestrator may
    // stop it at any moment): the signal handlers must already be in place. Repeated because the
    // window, if there is one, is short.
    const outcomes = [];
    for (let i = 0; i < 20; i++) {
      const srv = await startServer({ 'drain-seconds': 1 }, { t });
      srv.signal('SIGTERM');
      const { code, signal } = await srv.waitForExit(2500);
      outcomes.push(signal ?? `code ${code}`);
    }
    const bad = outcomes.filter((o) => o !== 'code 0');
    if (bad.length) assert.fail(`exit status of 20 servers sent SIGTERM as soon as they logged "listening": ${outcomes.join(', ')}`);
  });

  for (const second of ['SIGTERM', 'SIGINT']) {
    it(`a second signal (${second}) during a long drain exits promptly`, async (t) => {
      const srv = await startServer({ 'drain-seconds': 30 }, { t });
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await connectPeer(srv, `long-${i}`));
      srv.signal('SIGTERM');
      await eventually(async () => assert.equal((await srv.get('/readyz')).status, 503, '/readyz during the drain'), {
        timeoutMs: 2000,
        intervalMs: 20,
      });
      // On purpose a fixed wait: the claim is about the interval (the first signal alone must not
      // end a 30 s drain within 300 ms of it beginning).
      await sleep(300);
      assert.equal(srv.running, true, 'a 30 s drain with 3 clients must still be running 300 ms after it began');
      const at = Date.now();
      srv.signal(second);
      const exit = await srv.waitForExit(2000);
      t.diagnostic(`exited ${Date.now() - at} ms after the second signal: ${JSON.stringify({ code: exit.code, signal: exit.signal })}`);
      // Connections are gone with the process.
      await Promise.all(clients.map((c) => c.closed(2000)));
    });
  }
});
