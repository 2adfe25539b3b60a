// Smoke runs of the load generator (bench/, docs/benchmarks.md): every scenario, in every dialect,
// for a second or so at tiny sizes, against real servers. They check that the generator's counts
// add up, and agree with what the server itself counted, never how fast anything is: speed lives
// in bench/compare.mjs.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BIN, clusterFixture, eventually, freePort, serverFixture } from './harness.mjs';

const BENCH_BIN = join(dirname(BIN), 'switchboard-bench');
const RAW_RELAY_BIN = join(dirname(BIN), 'switchboard-raw-relay');
const UNLIMITED = { 'rate-limit': 1000000, 'rate-burst': 1000000 };
const SHORT = ['--duration', '1', '--warmup', '0.2', '--drain', '3'];

// Runs switchboard-bench with `args`; resolves with its exit code, output and JSON result.
function runBench(args, { timeoutMs = 60000 } = {}) {
  assert.ok(existsSync(BENCH_BIN), `${BENCH_BIN} is missing: build the project first`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  const json = join(dir, 'result.json');
  return new Promise((resolve, reject) => {
    const child = spawn(BENCH_BIN, [...args, '--json', json, '--no-progress']);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard-bench ran past ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const result = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : null;
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, output, result });
    });
  });
}

// A healthy run: every connection ready, every message sent arrived, in order, and was timed.
function assertAllDelivered({ code, output, result }, connections) {
  assert.equal(code, 0, output);
  assert.equal(result.error, undefined, output);
  assert.equal(result.ready, connections, output);
  assert.equal(result.connect_failures, 0, output);
  assert.ok(result.sent > 0, `nothing was sent: ${output}`);
  assert.equal(result.sent, result.received + result.error_notices + result.missing, output);
  assert.equal(result.received, result.sent, `sent = received: ${output}`);
  assert.equal(result.error_notices, 0, output);
  assert.equal(result.order_violations, 0, output);
  assert.equal(result.other_frames, 0, output);
  assert.ok(result.latency_us.count > 0 && result.latency_us.count <= result.received, output);
  assert.ok(result.latency_us.p50 <= result.latency_us.p99, output);
  assert.ok(result.latency_us.p99 <= result.latency_us.max, output);
  assert.match(output, /sent \d+ = received \d+ \+ errors 0 \+ missing 0/);
}

// What the server counted as relayed, through its /metrics.
async function relayedBy(servers) {
  let total = 0;
  for (const srv of servers) total += (await srv.metrics()).sum('switchboard_messages_relayed_total');
  return total;
}

function serverArgs(srv) {
  return ['--server', `${srv.host}:${srv.port}`, '--server-pid', String(srv.child.pid)];
}

describe('switchboard-bench against one pod', { timeout: 120000 }, () => {
  const fx = serverFixture(UNLIMITED);

  it('relay (native): closed-loop sessions all arrive, as the server counted them', async () => {
    const before = await relayedBy([fx.srv]);
    const run = await runBench(['--scenario', 'relay', '--pairs', '3', ...SHORT, ...serverArgs(fx.srv)]);
    assertAllDelivered(run, 6);
    // Sessions come whole: an offer, an answer and 8 candidates each way.
    assert.equal(run.result.sent % 18, 0, run.output);
    assert.equal((await relayedBy([fx.srv])) - before, run.result.received);
    assert.ok(run.result.server_cpu_seconds >= 0 && run.result.server_cpu_us_per_message > 0);
  });

  it('relay (PeerJS dialect) on the same server, from two generator threads', async () => {
    const run = await runBench([
      '--dialect', 'peerjs', '--pairs', '4', '--threads', '2', ...SHORT, ...serverArgs(fx.srv),
    ]);
    assertAllDelivered(run, 8);
  });

  it('latency: a fixed rate of fixed-size messages', async () => {
    const run = await runBench([
      '--scenario', 'latency', '--rate', '400', '--message-bytes', '2048', '--pairs', '2',
      ...SHORT, ...serverArgs(fx.srv),
    ]);
    assertAllDelivered(run, 4);
    // An open loop sends what the schedule says: about 400/s over warmup + window.
    assert.ok(run.result.sent >= 300 && run.result.sent <= 600, run.output);
    assert.ok(Math.abs(run.result.messages_per_second - 400) < 120, run.output);
  });

  it('connections: opens, registers and holds them, with heartbeats answered', async () => {
    const run = await runBench([
      '--scenario', 'connections', '--connections', '60', '--heartbeat-seconds', '0.25',
      '--duration', '1', '--warmup', '0.2', ...serverArgs(fx.srv),
    ]);
    assert.equal(run.code, 0, run.output);
    assert.equal(run.result.ready, 60, run.output);
    assert.equal(run.result.connect_failures, 0, run.output);
    assert.ok(run.result.heartbeats >= 60, run.output);
    assert.equal(run.result.pongs, run.result.heartbeats, run.output);
    assert.ok(run.result.server_rss_connected > 0, run.output);
    assert.equal(run.result.disconnects, 0, run.output);
  });
});

describe('switchboard-bench reports what it could not deliver', { timeout: 60000 }, () => {
  // A tight rate limit: the server refuses most messages, each with an error frame.
  const fx = serverFixture({ 'rate-limit': 20, 'rate-burst': 20, 'flood-strikes': 1000000 });

  it('counts refusals as errors, so that sent = received + errors', async () => {
    const run = await runBench([
      '--scenario', 'latency', '--rate', '400', '--pairs', '2', ...SHORT, ...serverArgs(fx.srv),
    ]);
    const r = run.result;
    assert.equal(run.code, 0, run.output);
    assert.ok(r.error_notices > 0 && r.received > 0, run.output);
    assert.equal(r.sent, r.received + r.error_notices, run.output);
    assert.equal(r.missing, 0, run.output);
    const metrics = await fx.srv.metrics();
    assert.equal(metrics.sum('switchboard_errors_total', { code: 'rate-limited' }), r.error_notices);
  });

  it('fails clearly when nothing listens, and on bad flags', async () => {
    const port = await freePort();
    const dead = await runBench(['--server', `127.0.0.1:${port}`, '--pairs', '1', ...SHORT]);
    assert.equal(dead.code, 1, dead.output);
    assert.match(dead.result.error, /no connection could be opened/);
    const bad = await runBench(['--pairs', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /bad value for --pairs/);
  });
});

describe('switchboard-bench across pods', { timeout: 120000 }, () => {
  const fx = clusterFixture({ pods: 2, tag: 'bench', flags: UNLIMITED });

  for (const workload of ['relay', 'latency']) {
    it(`cross-pod ${workload}: every pair split across the pods, all through Redis`, async () => {
      const [a, b] = fx.cluster.pods;
      const remote = async () =>
        (await a.metrics()).sum('switchboard_cross_pod_messages_total', { direction: 'out' }) +
        (await b.metrics()).sum('switchboard_cross_pod_messages_total', { direction: 'out' });
      const before = await remote();
      const run = await runBench([
        '--scenario', 'cross-pod', '--workload', workload, '--rate', workload === 'latency' ? '300' : '0',
        '--pairs', '2', ...SHORT, ...serverArgs(a), ...serverArgs(b),
        '--redis-pid', String(fx.cluster.redis.child.pid),
      ]);
      assertAllDelivered(run, 4);
      // The sender pod counts a message out when Redis answers its route step, which can come
      // after the receiver has it (and the generator has exited): poll.
      await eventually(
        async () => assert.equal((await remote()) - before, run.result.received, 'every message crossed pods'),
        { timeoutMs: 5000 },
      );
      assert.ok(run.result.redis_cpu_seconds >= 0, run.output);
    });
  }
});

describe('switchboard-bench against the raw-relay floor', { timeout: 60000 }, () => {
  it('relays sessions through bench/raw_relay, and the floor shuts down on SIGTERM', async () => {
    assert.ok(existsSync(RAW_RELAY_BIN), `${RAW_RELAY_BIN} is missing`);
    const port = await freePort();
    const relay = spawn(RAW_RELAY_BIN, ['--port', String(port)]);
    let log = '';
    relay.stderr.on('data', (d) => (log += d));
    try {
      for (let i = 0; !log.includes('listening') && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(log, /"port":\d+/);
      const run = await runBench([
        '--dialect', 'raw', '--pairs', '3', ...SHORT, '--server', `127.0.0.1:${port}`,
        '--server-pid', String(relay.pid),
      ]);
      assertAllDelivered(run, 6);
    } finally {
      const exited = new Promise((r) => relay.on('exit', (code, signal) => r({ code, signal })));
      relay.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    }
  });
});
