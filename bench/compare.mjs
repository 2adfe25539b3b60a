#!/usr/bin/env node
// bench/compare.mjs: measures Switchboard beside the PeerJS server and the raw-relay floor, on
// this machine, in one run, and writes docs/benchmarks.md with its chart.
//
//   cd bench && npm ci && node compare.mjs [--build ../build] [--out ../docs] [--quick]
//                                          [--runs 3] [--baseline LABEL=BIN ...]
//
// Every server runs pinned to CPU 0 and the generator (switchboard-bench) to CPU 1, with the
// same workload for all. The figures in the page come from this run only: never edit them, run
// this again. --quick runs tiny sizes for seconds (the test suite uses it to check the script);
// --baseline (repeatable) measures other Switchboard binaries' CPU per message beside this one's,
// in the same run: before and after a change.
//
// Servers and their workloads:
//   switchboard         Switchboard, one pod, embedded registry, native dialect
//   switchboard-peerjs  the same server, PeerJS dialect
//   peerjs-server       `peer` 1.0.2 from npm (bench/package.json), PeerJS dialect
//   raw-floor           bench/raw_relay: same stack, forwards frames and nothing else
//   cross-pod           two Switchboard pods and one redis-server, each pair split across pods
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Options

function parseOptions(argv) {
  const options = {
    build: resolve(here, '../build'),
    out: resolve(here, '../docs'),
    quick: false,
    runs: 3,
    baselines: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--build') options.build = resolve(value());
    else if (flag === '--out') options.out = resolve(value());
    else if (flag === '--quick') options.quick = true;
    else if (flag === '--runs') options.runs = Number(value());
    else if (flag === '--baseline') {
      const text = value();
      const at = text.lastIndexOf('=');
      if (at <= 0) throw new Error('--baseline takes LABEL=BINARY');
      options.baselines.push({ label: text.slice(0, at), binary: resolve(text.slice(at + 1)) });
    }
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!(options.runs >= 1)) throw new Error('--runs must be at least 1');
  return options;
}

// Sizes of the workloads: the full run, or seconds of tiny load (--quick).
function plan(options) {
  if (options.quick) {
    return {
      pairs: 4,
      duration: 0.5,
      warmup: 0.2,
      runs: 1,
      fractions: [0.25, 0.5],
      connectionCounts: [100],
      messageBytes: [256, 2048],
    };
  }
  return {
    pairs: 100,
    duration: 5,
    warmup: 1,
    runs: options.runs,
    fractions: [0.1, 0.25, 0.5, 0.75, 0.9],
    connectionCounts: [10000, MAX_CONNECTIONS],
    messageBytes: [256, 2048],
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

const SERVER_CPU = '0';
const GENERATOR_CPU = cpus().length > 1 ? '1' : '0';  // one core: shared, and the page says so
// A process may hold as many connections as its open-file limit allows. Raising the hard limit
// needs CAP_SYS_RESOURCE, which containers often lack: then the hard limit is the ceiling.
const HARD_OPEN_FILES = (() => {
  const text = execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim();
  return text === 'unlimited' ? 1048576 : Number(text);
})();
const OPEN_FILES = String(Math.min(200000, HARD_OPEN_FILES));
// The most connections one server process can take here: its limit, less a margin for the
// listening socket, Redis, logs and the loop's own descriptors.
const MAX_CONNECTIONS = Math.min(50000, Number(OPEN_FILES) - 100);
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port, child, name) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${child.output.slice(-2000)}`);
    const open = await new Promise((done) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.on('error', () => done(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`${name} did not listen on ${port}`);
}

// Starts `command` pinned to the server CPU, with room for many connections, and waits for it to
// listen on `port`.
async function startPinned(name, command, args, port, cpu = SERVER_CPU) {
  const child = spawn(
    'prlimit',
    [`--nofile=${OPEN_FILES}:${OPEN_FILES}`, 'taskset', '-c', cpu, command, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.output = '';
  const keep = (data) => {
    child.output = (child.output + data).slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  children.add(child);
  if (port) await waitForPort(port, child, name);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.on('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

// The pid of the server itself: prlimit and taskset exec into it, so it is the child's pid.
const pidOf = (child) => child.pid;

// ---------------------------------------------------------------------------------------------
// Servers

function switchboardArgs(port, extra = []) {
  return [
    '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn',
    // The benchmark measures relaying, not the per-client limits that protect it.
    '--rate-limit', '1000000', '--rate-burst', '1000000',
    '--max-outbound-bytes', '67108864',
    ...extra,
  ];
}

// Each returns { servers: ['127.0.0.1:port', ...], pids: [...], redisPid, stop() }.
const starters = {
  async switchboard(context, binary = context.switchboardBin) {
    const port = await freePort();
    const child = await startPinned('switchboard', binary, switchboardArgs(port), port);
    return { servers: [`127.0.0.1:${port}`], pids: [pidOf(child)], stop: () => stop(child) };
  },
  async 'peerjs-server'(context) {
    const port = await freePort();
    const child = await startPinned('peerjs-server', process.execPath, [
      context.peerBin, '--host', '127.0.0.1', '--port', String(port),
      '--concurrent_limit', '1000000',
    ], port);
    return { servers: [`127.0.0.1:${port}`], pids: [pidOf(child)], stop: () => stop(child) };
  },
  async 'raw-floor'(context) {
    const port = await freePort();
    const child = await startPinned('raw-floor', context.rawBin, ['--port', String(port)], port);
    return { servers: [`127.0.0.1:${port}`], pids: [pidOf(child)], stop: () => stop(child) };
  },
  async 'cross-pod'(context) {
    const redisPort = await freePort();
    // Redis is a service of its own (in production, on other machines); here it runs on the
    // generator's core so that the two pods have the server core to themselves. Its CPU is
    // reported apart. On one core with both pods, the three processes' scheduling alone pushed
    // p99 into tens of milliseconds in some runs.
    const redis = await startPinned('redis-server', 'redis-server', [
      '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    ], redisPort, GENERATOR_CPU);
    const url = `redis://127.0.0.1:${redisPort}`;
    const pods = [];
    for (const pod of ['bench-a', 'bench-b']) {
      const port = await freePort();
      const args = switchboardArgs(port, ['--redis-url', url, '--pod-id', pod]);
      pods.push({ port, child: await startPinned(pod, context.switchboardBin, args, port) });
    }
    await sleep(500);  // both pods subscribed and announced
    return {
      servers: pods.map((p) => `127.0.0.1:${p.port}`),
      pids: pods.map((p) => pidOf(p.child)),
      redisPid: pidOf(redis),
      stop: async () => {
        for (const p of pods) await stop(p.child);
        await stop(redis);
      },
    };
  },
};

function targetsFor(options) {
  const targets = [
    { id: 'switchboard', label: 'Switchboard, native, 1 pod', dialect: 'native', start: 'switchboard' },
    { id: 'switchboard-peerjs', label: 'Switchboard, PeerJS dialect, 1 pod', dialect: 'peerjs', start: 'switchboard' },
    { id: 'peerjs-server', label: 'PeerJS server (peer 1.0.2)', dialect: 'peerjs', start: 'peerjs-server' },
    { id: 'raw-floor', label: 'raw-relay floor', dialect: 'raw', start: 'raw-floor' },
    { id: 'cross-pod', label: 'Switchboard, native, 2 pods + Redis', dialect: 'native', start: 'cross-pod', crossPod: true },
  ];
  options.baselines.forEach((baseline, n) => {
    targets.push({
      id: `baseline-${n}`, label: baseline.label, dialect: 'native', start: 'switchboard',
      binary: baseline.binary, baseline: true,
    });
  });
  return targets;
}

async function withServer(context, target, work) {
  const server = await starters[target.start](context, target.binary);
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The generator

async function runBench(context, server, target, args) {
  const json = join(context.tmp, `run-${context.runCounter++}.json`);
  const all = [
    '-c', GENERATOR_CPU, context.benchBin,
    '--dialect', target.dialect,
    ...(target.crossPod ? ['--scenario', 'cross-pod'] : []),
    ...server.servers.flatMap((s) => ['--server', s]),
    ...server.pids.flatMap((pid) => ['--server-pid', String(pid)]),
    ...(server.redisPid ? ['--redis-pid', String(server.redisPid)] : []),
    ...args, '--json', json, '--no-progress',
  ];
  const child = spawn('taskset', all, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise((done) => child.on('exit', done));
  if (!existsSync(json)) throw new Error(`switchboard-bench wrote no result (exit ${code}): ${output}`);
  const result = JSON.parse(readFileSync(json, 'utf8'));
  console.log(`  ${target.id}: ${output.trim()}`);
  if (result.error) throw new Error(`${target.id}: ${result.error}`);
  return result;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// The run whose `key` is the median of `runs` runs of `once`.
async function medianRun(runs, key, once) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  const value = median(results.map(key));
  return { ...results.find((r) => key(r) === value) ?? results[0], median: value, all: results.map(key) };
}

function loadArgs(p, workload, extra) {
  return [
    ...(workload.crossPod ? ['--workload', extra.workload] : ['--scenario', extra.workload]),
    '--pairs', String(p.pairs), '--duration', String(p.duration), '--warmup', String(p.warmup),
    ...(extra.rate ? ['--rate', String(Math.round(extra.rate))] : []),
    ...(extra.bytes ? ['--message-bytes', String(extra.bytes)] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// Measurements

async function measureMaximum(context, target) {
  const p = context.plan;
  return withServer(context, target, (server) =>
    medianRun(p.runs, (r) => r.messages_per_second, () =>
      runBench(context, server, target, loadArgs(p, target, { workload: 'relay' }))));
}

// The generator pays for every byte it writes and reads (libwebsockets' client reads frames a
// byte at a time), so 2 KB messages are offered at half the rate of 256 B ones, to keep it from
// being the bottleneck. Every server gets the same rate for the same size.
const rateFor = (rate, bytes) => (bytes > 1024 ? rate / 2 : rate);

async function measureCpuAtFixedLoad(context, target, rate) {
  const p = context.plan;
  const bySize = {};
  await withServer(context, target, async (server) => {
    for (const bytes of p.messageBytes) {
      const sized = rateFor(rate, bytes);
      bySize[bytes] = await medianRun(p.runs, (r) => r.server_cpu_us_per_message, () =>
        runBench(context, server, target, loadArgs(p, target, { workload: 'latency', rate: sized, bytes })));
    }
  });
  return bySize;
}

async function measureLatencyCurve(context, target, maximum) {
  const p = context.plan;
  const points = [];
  await withServer(context, target, async (server) => {
    for (const fraction of p.fractions) {
      const rate = fraction * maximum;
      // The 50% point goes in the table: the median of several runs; the chart's others: one.
      const runs = fraction === 0.5 ? p.runs : 1;
      const r = await medianRun(runs, (x) => x.latency_us.p99, () =>
        runBench(context, server, target, loadArgs(p, target, { workload: 'relay', rate })));
      points.push({ fraction, offered: rate, achieved: r.messages_per_second, ...r.latency_us });
    }
  });
  return points;
}

async function measureConnections(context, target) {
  const results = [];
  for (const count of context.plan.connectionCounts) {
    await withServer(context, target, async (server) => {
      const r = await runBench(context, server, target, [
        '--scenario', 'connections', '--connections', String(count),
        '--duration', '2', '--warmup', '1', '--heartbeat-seconds', '10',
      ]);
      results.push({ count, ...r });
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// The page

const fmt = (value, digits = 1) =>
  value === undefined || value === null || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
const fmtInt = (value) => (value === undefined ? 'n/a' : Math.round(value).toLocaleString('en-US'));

function machineDescription() {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const kernel = execFileSync('uname', ['-sr']).toString().trim();
  const memory = `${Math.round(totalmem() / 2 ** 30)} GiB`;
  return `${cpus().length} × ${model}, ${memory}, ${kernel}`;
}

function writeChart(context, results, pngPath) {
  const dataPath = join(context.tmp, 'latency.dat');
  const blocks = [];
  const plots = [];
  let index = 0;
  for (const target of context.targets.filter((t) => !t.baseline)) {
    const curve = results[target.id].curve;
    if (!curve?.length) continue;
    blocks.push(curve.map((pt) => `${pt.offered} ${pt.p50} ${pt.p99}`).join('\n'));
    plots.push(`'${dataPath}' index ${index} using 1:3 with linespoints title '${target.label}, p99'`);
    index++;
  }
  writeFileSync(dataPath, blocks.join('\n\n\n') + '\n');
  const script = [
    `set terminal pngcairo size 1000,600 font 'sans,10'`,
    `set output '${pngPath}'`,
    `set title 'p99 latency against offered load (relay sessions, open loop)'`,
    `set xlabel 'offered load (messages/s)'`,
    `set ylabel 'p99 latency (µs)'`,
    `set logscale y`,
    `set grid`,
    `set key top left`,
    `plot ${plots.join(', ')}`,
  ].join('\n');
  execFileSync('gnuplot', [], { input: script });
}

function targetRows(context, results) {
  const fixed = context.fixedRate;
  const rows = [
    '| server | max msg/s (relay, closed loop) | server CPU µs/msg, 256 B at ' +
      `${fmtInt(rateFor(fixed, 256))} msg/s | same, 2 KB at ${fmtInt(rateFor(fixed, 2048))} msg/s | ` +
      'p50 / p99 / p99.9 µs at 50% of its max |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const target of context.targets.filter((t) => !t.baseline)) {
    const r = results[target.id];
    const half = r.curve.find((pt) => pt.fraction === 0.5);
    const bound = r.maximum.generator_bound ? ' (generator-bound)' : '';
    const redis = (bytes) =>
      r.cpu[bytes].redis_cpu_seconds !== undefined
        ? ` (+ Redis ${fmt((r.cpu[bytes].redis_cpu_seconds * 1e6) / r.cpu[bytes].window_received)})`
        : '';
    rows.push(
      `| ${target.label} | ${fmtInt(r.maximum.median)}${bound} | ` +
        `${fmt(r.cpu[256].median)}${redis(256)} | ${fmt(r.cpu[2048].median)}${redis(2048)} | ` +
        (half ? `${fmt(half.p50, 0)} / ${fmt(half.p99, 0)} / ${fmt(half.p999, 0)}` : 'n/a') + ' |',
    );
  }
  return rows.join('\n');
}

function connectionRows(context, results) {
  const rows = [
    '| server | idle connections | connected/s (handshake + registration) | failed | server CPU per connection | server RSS per connection |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const target of context.targets) {
    for (const c of results[target.id].connections ?? []) {
      rows.push(
        `| ${target.label} | ${fmtInt(c.count)} | ${fmtInt(c.connections_per_second)} | ` +
          `${c.connect_failures} | ${fmt(c.server_cpu_us_per_connection, 0)} µs | ` +
        `${fmtInt(c.server_rss_per_connection)} B |`,
      );
    }
  }
  return rows.join('\n');
}

// Each target of the issue, with the figure that decides it.
function targetChecks(context, results) {
  const sb = results.switchboard;
  const sbPeer = results['switchboard-peerjs'];
  const peer = results['peerjs-server'];
  const floor = results['raw-floor'];
  const cross = results['cross-pod'];
  const checks = [];
  const add = (name, measured, ok) => checks.push(`| ${name} | ${measured} | ${ok ? 'met' : '**missed**'} |`);
  for (const bytes of [256, 2048]) {
    const ratio = sb.cpu[bytes].median / floor.cpu[bytes].median;
    add(`CPU/msg ≤ 1.25 × floor, ${bytes} B`, `${fmt(ratio, 2)}×`, ratio <= 1.25);
  }
  for (const [bytes, want] of [[256, 2], [2048, 3]]) {
    for (const [label, r] of [['native', sb], ['PeerJS dialect', sbPeer]]) {
      const ratio = peer.cpu[bytes].median / r.cpu[bytes].median;
      add(`PeerJS server CPU/msg ≥ ${want} × Switchboard's (${label}), ${bytes} B`, `${fmt(ratio, 2)}×`, ratio >= want);
    }
    // What no server on this stack can beat: the floor moves frames and does nothing else.
    const bound = peer.cpu[bytes].median / floor.cpu[bytes].median;
    checks.push(`| the same ratio for the raw-relay floor (the most this stack allows), ${bytes} B | ` +
      `${fmt(bound, 2)}× | ${bound >= want ? 'reachable' : '**out of reach on this stack**'} |`);
  }
  const half = (r) => r.curve.find((pt) => pt.fraction === 0.5)?.p99;
  add('p99 < 1 ms at 50% of max, 1 pod', `${fmt(half(sb), 0)} µs`, half(sb) < 1000);
  add('p99 < 2 ms at 50% of max, across pods', `${fmt(half(cross), 0)} µs`, half(cross) < 2000);
  for (const bytes of [256, 2048]) {
    const ratio = cross.cpu[bytes].median / sb.cpu[bytes].median;
    add(`cross-pod CPU/msg (both pods) ≤ 2.5 × one pod, ${bytes} B`, `${fmt(ratio, 2)}×`, ratio <= 2.5);
  }
  const biggest = sb.connections.at(-1);
  add(`RSS per idle connection ≤ 4 KiB at ${fmtInt(biggest.count)}`, `${fmtInt(biggest.server_rss_per_connection)} B`,
    biggest.server_rss_per_connection <= 4096);
  const rate = Math.min(...sb.connections.map((c) => c.connections_per_second));
  const capacity = 1e6 / Math.max(...sb.connections.map((c) => c.server_cpu_us_per_connection));
  add('≥ 10,000 new connections/s per pod (measured; the generator shares the limit)',
    `${fmtInt(rate)}/s`, rate >= 10000);
  checks.push(`| the same, from the server's CPU per connection (one core's worth) | ` +
    `${fmtInt(capacity)}/s | ${capacity >= 10000 ? 'met' : '**missed**'} |`);
  return ['| target | measured | |', '| --- | ---: | --- |', ...checks].join('\n');
}

// Before and after: each --baseline binary's CPU per message beside this build's, one pod, native.
function baselineSection(context, results) {
  const baselines = context.targets.filter((t) => t.baseline);
  if (!baselines.length) return '';
  const now = results.switchboard;
  const row = (label, r) =>
    `| ${label} | ${fmt(r.cpu[256].median)} | ${fmt(r.cpu[2048].median)} | ` +
    `${fmt(r.cpu[256].median / now.cpu[256].median, 2)}× | ${fmt(r.cpu[2048].median / now.cpu[2048].median, 2)}× |`;
  return [
    '## Before and after',
    '',
    'Server CPU µs per message of earlier builds, measured beside this one in the same run (one ' +
      `pod, native dialect, 256 B at ${fmtInt(rateFor(context.fixedRate, 256))} msg/s and 2 KB at ` +
      `${fmtInt(rateFor(context.fixedRate, 2048))} msg/s). What each step changed is under "What the hot path does".`,
    '',
    '| build | 256 B | 2 KB | CPU / this build\'s, 256 B | 2 KB |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...baselines.map((t) => row(t.label, results[t.id])),
    row('this build', now),
    '',
  ].join('\n');
}

function writePage(context, results) {
  const { options, plan: p } = context;
  const date = new Date().toISOString().slice(0, 10);
  const page = `# Benchmarks

<!-- Written by bench/compare.mjs: do not edit by hand; run it again. -->

Measured on ${date} by \`cd bench && npm ci && node compare.mjs${options.baselines.length ? ' --baseline ...' : ''}\`,
on ${machineDescription()}. Every server ran pinned to CPU ${SERVER_CPU} and the load generator
(\`switchboard-bench\`) to CPU ${GENERATOR_CPU}; figures are medians of ${p.runs} runs of ${p.duration} s
(after ${p.warmup} s of warm-up) unless said otherwise. The machine is shared, so expect a few
percent of noise between runs; ratios measured in one run are steadier than absolute figures.

- **Server CPU per message** is the servers' CPU time (user + system, from /proc) during the
  measured window divided by the messages relayed in it, at the same offered load for every
  server (${fmtInt(context.fixedRate)} msg/s, half the lowest maximum, for 256 B messages; half
  that for 2 KB ones, which cost the generator more), with messages of one size sent at a fixed
  rate (the \`latency\` scenario). On two cores no generator can saturate a fast
  server, so this is the figure that compares servers.
- **Max msg/s** is the \`relay\` scenario in a closed loop (${p.pairs} pairs, each running
  signaling sessions: a 2 KB offer, a 2 KB answer, 8 candidates of 250 B each way). Where the
  generator used a whole core it, not the server, was the limit, and the row says so.
- **Latency** is from the moment the generator queued a message to the moment it read it, for
  every message, with the \`relay\` scenario in an open loop at a fraction of that server's
  maximum. The table's 50% point is the run with the median p99 of ${p.runs}; the chart's other
  points are single runs, so expect noise there.

## Against the targets

${targetChecks(context, results)}

## Throughput, CPU and latency

${targetRows(context, results)}

For the cross-pod row, CPU is both pods together (both on CPU ${SERVER_CPU}); Redis ran on the
generator's CPU, and its CPU per message is in parentheses.

![p99 latency against offered load](benchmarks-latency.png)

## Idle connections

${MAX_CONNECTIONS < 50000 ? `The target asks for 50,000 connections, but on this machine no process may hold more than
${HARD_OPEN_FILES} open files (\`ulimit -Hn\`; raising it needs CAP_SYS_RESOURCE, which this
container does not have), so the largest run is ${fmtInt(MAX_CONNECTIONS)} connections.\n\n` : ''}Each connection completes its handshake and registration, then sends a heartbeat every 10 s.
RSS per connection is the server's growth in resident memory from before the first connection
to when all are open, divided by their number; CPU per connection is the server's CPU time
while they were opening, divided by their number (the inverse is what one core could accept). Connections come from source addresses in a
127.a.b.0/24 of each run's own, one per 10,000 connections, so that ports earlier runs left in
TIME_WAIT are no obstacle.

${connectionRows(context, results)}

## What the hot path does, and what was changed for it

Each change below was found with \`perf record\` on the server under \`switchboard-bench\`
load, and checked with this script before and after (the table above, when run with
\`--baseline\`). In the order they were made:

1. **JSON.** Frames were parsed by jsoncpp, which decodes every string of the payload a
   character at a time and allocates for each, and then scanned a second time for what jsoncpp
   lets through. At 2 KB that was most of Switchboard's own CPU. Now simdjson (Debian's
   \`libsimdjson-dev\`) validates the frame and the top-level members are found by a scan that
   jumps from quote to quote; jsoncpp remains only for the rare frame simdjson refuses (an
   integer beyond 64 bits, an escaped lone surrogate) that browsers accept.
2. **Signs of life.** Every message told libwebsockets the connection was alive, which
   re-sorts a list of one timer per connection: a walk of the whole list per message.
3. **One system call less per write.** \`lws_send_pipe_choked()\` is a \`poll()\`; it is now
   asked only when another frame waits for the same socket.
4. **Keepalive and the tick.** libwebsockets' keepalive (its default policy pings after five
   minutes) inserts each new connection's timer into that sorted list, so opening connections
   was quadratic. The server pings by itself now, from its 100 ms tick, which visits a tenth of
   the sessions at a time instead of all of them (a stall of a millisecond per tick at 10,000
   connections before).
5. **Memory per connection.** libwebsockets gave each connection a 4 KB receive buffer; it is
   512 bytes now, and longer messages come in pieces that the session already reassembles.
6. **\`--max-connections\`** sets the open-file limit: Debian's libwebsockets is built with
   \`_DEBUG\` and scans a table as long as that limit for every new connection, so a container's
   limit of a million would make each accept scan 8 MB.
7. **Writing at once.** A frame for a connection with nothing queued used to wait for a
   writable callback: two \`epoll_ctl()\` calls and a loop iteration per frame. It is written
   at once now when the socket takes it (one \`poll()\` to ask, which libwebsockets requires
   between writes).
8. **UTF-8.** libwebsockets checked UTF-8 a byte at a time; simdjson checks a whole message
   many times faster, and the session closes with 1007 as before.
9. **Reassembly.** A message in several pieces no longer frees its buffer after each message;
   the once-a-second tick frees what no message is using, so idle connections still hold none.

The raw-relay floor got the same libwebsockets settings and write path (receive buffer, writing
at once, no UTF-8 check, no \`poll()\` after the last frame) so that the ratio measures only
what Switchboard adds: parsing, validation, routing, limits and metrics.

Not done: **coalescing** the frames queued for one connection into one write. libwebsockets
writes one frame per \`lws_write()\`; batching would mean writing WebSocket headers by hand
and sending with \`LWS_WRITE_RAW\`. At the loads the CPU comparison uses a connection rarely
has more than one frame waiting, so it would change little there; it would help the closed-loop
maximum, which on this machine the generator, not the server, limits.

## How to read and reproduce

\`\`\`sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j
cd bench && npm ci && node compare.mjs          # about 10 minutes; rewrites this page
\`\`\`

Each run also prints the generator's one-line summary, and \`switchboard-bench --help\` runs any
single scenario by hand (bench/README.md).

${baselineSection(context, results)}`;
  writeFileSync(join(options.out, 'benchmarks.md'), page);
  writeFileSync(join(options.out, 'benchmarks.json'), JSON.stringify({ date, machine: machineDescription(), fixedRate: context.fixedRate, plan: p, results }, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const context = {
    options,
    plan: plan(options),
    targets: targetsFor(options),
    tmp: mkdtempSync(join(tmpdir(), 'switchboard-compare-')),
    runCounter: 0,
    switchboardBin: join(options.build, 'switchboard'),
    benchBin: join(options.build, 'switchboard-bench'),
    rawBin: join(options.build, 'switchboard-raw-relay'),
    peerBin: join(here, 'node_modules/peer/dist/bin/peerjs.js'),
  };
  for (const file of [context.switchboardBin, context.benchBin, context.rawBin, context.peerBin]) {
    if (!existsSync(file)) throw new Error(`missing ${file}: build first, and run npm ci in bench/`);
  }
  mkdirSync(options.out, { recursive: true });
  const results = {};
  try {
    // Baselines are measured for CPU per message only; the rest compares servers.
    const servers = context.targets.filter((t) => !t.baseline);
    console.log('maximum throughput (relay, closed loop)');
    for (const target of servers) {
      results[target.id] = { maximum: await measureMaximum(context, target) };
    }
    const lowest = Math.min(...servers.map((t) => results[t.id].maximum.median));
    context.fixedRate = Math.max(100, Math.round(lowest / 2 / 100) * 100);
    console.log(`server CPU per message at ${context.fixedRate} msg/s`);
    for (const target of context.targets) {
      results[target.id] = results[target.id] ?? {};
      results[target.id].cpu = await measureCpuAtFixedLoad(context, target, context.fixedRate);
    }
    console.log('latency against offered load');
    for (const target of servers) {
      results[target.id].curve = await measureLatencyCurve(context, target, results[target.id].maximum.median);
    }
    console.log('idle connections');
    for (const target of context.targets.filter((t) => ['switchboard', 'peerjs-server', 'raw-floor'].includes(t.id))) {
      results[target.id].connections = await measureConnections(context, target);
    }
    writeChart(context, results, join(options.out, 'benchmarks-latency.png'));
    writePage(context, results);
    console.log(`wrote ${join(options.out, 'benchmarks.md')}`);
  } finally {
    rmSync(context.tmp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`compare: ${error.message}`);
  process.exit(1);
});
