// Command line and environment configuration.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, freePort, runOnce, startServer } from './harness.mjs';

const FLAGS = {
  host: '0.0.0.0',
  port: '8080',
  'pod-id': null, // default depends on $POD_NAME / the hostname
  'expire-ms': '5000',
  'max-message-bytes': '65536',
  'max-queued-per-peer': '256',
  'drain-seconds': '10',
  'rate-limit': '100',
  'rate-burst': '200',
  'flood-strikes': '50',
  'handshake-timeout-seconds': '10',
  'ping-interval-seconds': '30',
  'ping-timeout-seconds': '10',
  'log-level': 'info',
  'max-connections': '50000',
};

const envName = (flag) => `SWITCHBOARD_${flag.toUpperCase().replaceAll('-', '_')}`;

describe('command line', { timeout: 30000 }, () => {
  it('--help lists every flag, its env var and its default, and exits 0', async () => {
    const { code, stdout, stderr } = await runOnce(['--help']);
    assert.equal(code, 0, `--help exit code; stderr: ${stderr}`);
    const text = stdout + stderr;
    const lines = text.split('\n');
    const mentions = (line, flag) => new RegExp(`--${flag}(?![A-Za-z0-9-])`).test(line);
    const problems = [];
    for (const [flag, def] of Object.entries(FLAGS)) {
      // The flag's entry: its first line up to the next line that starts with a flag.
      const first = lines.findIndex((l) => mentions(l, flag));
      if (first < 0) {
        problems.push(`--${flag} not listed`);
        continue;
      }
      let last = first + 1;
      while (last < lines.length && !/^\s*--?[A-Za-z]/.test(lines[last])) last++;
      const entry = lines.slice(first, last).join('\n');
      if (!entry.includes(envName(flag))) problems.push(`--${flag}: ${envName(flag)} not in its entry`);
      if (def !== null && !new RegExp(`(^|[^0-9.])${def.replaceAll('.', '\\.')}($|[^0-9.])`).test(entry)) {
        problems.push(`--${flag}: default ${def} not in its entry: ${JSON.stringify(entry)}`);
      }
    }
    if (problems.length) assert.fail(`\n${problems.join('\n')}\n--- --help output ---\n${text}`);
  });

  it('refuses an unknown flag with a non-zero exit', async () => {
    const { code, signal } = await runOnce(['--no-such-flag', '1']);
    assert.equal(signal, null);
    assert.notEqual(code, 0);
  });

  it('refuses a malformed number with a non-zero exit', async () => {
    const { code, signal } = await runOnce(['--port', 'eighty']);
    assert.equal(signal, null);
    assert.notEqual(code, 0);
  });

  it('reads its configuration from SWITCHBOARD_* environment variables', async (t) => {
    const port = await freePort();
    const srv = await startServer(
      { 'pod-id': null, port: null, host: null },
      { t, env: { SWITCHBOARD_POD_ID: 'pod-from-env', SWITCHBOARD_PORT: String(port), SWITCHBOARD_HOST: '127.0.0.1' } },
    );
    assert.equal(srv.listening.pod, 'pod-from-env', `listening line: ${JSON.stringify(srv.listening)}`);
    const c = await connectPeer(srv, 'env-A');
    assert.equal(c.welcome.pod, 'pod-from-env');
    c.close();
  });

  it('logs "listening" with host, port, pod and url', async (t) => {
    const srv = await startServer({}, { t });
    const l = srv.listening;
    assert.equal(l.level, 'info');
    assert.equal(typeof l.ts, 'string');
    assert.ok(!Number.isNaN(Date.parse(l.ts)), `ts must be a timestamp: ${l.ts}`);
    assert.equal(l.host, '127.0.0.1');
    assert.equal(l.port, srv.port);
    assert.equal(l.pod, srv.pod);
    assert.equal(l.url, `ws://127.0.0.1:${srv.port}/ws`);
  });
});
