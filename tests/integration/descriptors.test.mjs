// The open-file limit is never met (server/descriptor_budget.h). At the limit, accept() fails
// with EMFILE and libwebsockets retries at once, forever: a core spent, a log line per try and
// /healthz unanswered. Here the server runs under a hard limit of 300 descriptors, as a user who
// cannot raise it, with the default --max-connections far above it.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, eventually, httpGet, parseMetrics, sleep, startServer, tryHandshake } from './harness.mjs';

const OPEN_FILE_LIMIT = 300;
const NOBODY = 65534;

// A copy of the binary and a wrapper that lowers the limit, in a directory any user can reach.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-fds-'));
fs.chmodSync(dir, 0o755);
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const binary = path.join(dir, 'switchboard');
fs.copyFileSync(BIN, binary);
fs.chmodSync(binary, 0o755);
const wrapper = path.join(dir, 'limited.sh');
fs.writeFileSync(wrapper, `#!/bin/sh\nulimit -n ${OPEN_FILE_LIMIT} && exec ${binary} "$@"\n`, { mode: 0o755 });

// CPU seconds (user + system) the process has used: utime and stime, in clock ticks of 1/100 s.
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// Opens a TCP connection that never sends a byte; resolves once connected (or refused).
function idleSocket(srv) {
  return new Promise((resolve) => {
    const socket = net.connect(srv.port, srv.host, () => resolve(socket));
    socket.on('error', () => resolve(socket));
  });
}

describe('descriptor exhaustion', { timeout: 60000 }, () => {
  it('lowers --max-connections to fit the limit, refuses sockets past it, and never spins', async (t) => {
    const srv = await startServer(
      {
        'admin-port': 0,
        'max-connections-per-ip': 100000,
        'handshake-rate-per-ip': 100000,
        'handshake-burst-per-ip': 100000,
        'log-level': 'info',
      },
      { t, bin: wrapper, ...(process.getuid() === 0 ? { uid: NOBODY } : {}) },
    );
    const capped = srv.logs.find((o) => o.msg === 'the open-file limit caps connections below --max-connections');
    assert.ok(capped, 'the server says the limit caps connections');
    assert.equal(capped.open_file_limit, OPEN_FILE_LIMIT);
    const allowed = capped.connections_allowed;
    assert.ok(allowed > 100 && allowed < OPEN_FILE_LIMIT - 64, `connections_allowed ${allowed}`);
    const admin = (p) => httpGet(srv.host, srv.listening.admin_port, p);
    const metrics = async () => parseMetrics((await admin('/metrics')).body);
    assert.equal((await metrics()).sum('switchboard_connections_max'), allowed);

    // Every session the budget allows, then one more: 503, not a dropped socket.
    const clients = [];
    for (let i = 0; i < allowed; i++) {
      const result = await tryHandshake(srv, { peer: `p${i}` });
      assert.equal(result.status, 101, `connection ${i + 1} of ${allowed}: ${result.status}`);
      clients.push(result.client);
    }
    assert.equal((await tryHandshake(srv, { peer: 'one-more' })).status, 503);

    // Then sockets that never speak, far past the limit.
    const idle = [];
    for (let i = 0; i < 150; i++) idle.push(await idleSocket(srv));
    await eventually(async () => assert.ok((await metrics()).sum('switchboard_sockets_refused_total') > 0));

    // The loop does not spin, and the probes still answer.
    const before = cpuSeconds(srv.child.pid);
    await sleep(2000);
    const spent = cpuSeconds(srv.child.pid) - before;
    assert.ok(spent < 0.5, `${spent.toFixed(2)} CPU seconds in 2 s while full`);
    assert.equal((await admin('/healthz')).status, 200);
    const lines = srv.stderrLines.length;
    assert.ok(lines < 120, `${lines} log lines`);

    // Once sockets close, connections are admitted again.
    for (const s of idle) s.destroy();
    clients.pop().terminate();
    await eventually(async () => {
      const result = await tryHandshake(srv, { peer: 'later' });
      assert.equal(result.status, 101);
      result.client.terminate();
    });
    for (const c of clients) c.terminate();
  });
});
