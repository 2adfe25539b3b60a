#!/usr/bin/env node
// bench/compare.mjs: measures Switchboard beside the PeerJS server and the raw-relay floor, on
// this machine, in one run, and writes docs/benchmarks.md with its chart.
//
//   cd bench && npm ci && node compare.mjs [--build ../build] [--out ../docs] [--quick]
//                                          [--runs 3] [--baseline LABEL=BIN ...]
//   node compare.mjs --render ../docs/benchmarks.json [--out ../docs]   # the page again, same data
//
// Every server runs pinned to CPU 0 and the generator (switchboard-bench) to CPU 1, with the
// same workload for all. The figures in the page come from this run only: never edit them, run
// this again. --quick runs tiny sizes for seconds (the test suite uses it to check the script);
// --baseline (repeatable) measures other Switchboard binaries' CPU per message beside this one's,
// in the same run: before and after a change. The Redis tier gets a section of its own: each
// cross-pod setup (crossPodSetups) of this build and of every --baseline, at the pods' limit and
// at a fixed rate, for each message size.
//
// Servers and their workloads:
//   switchboard         Switchboard, one pod, embedded registry, native dialect
//   switchboard-peerjs  the same server, PeerJS dialect
//   peerjs-server       `peer` 1.0.2 from npm (bench/package.json), PeerJS dialect
//   raw-floor           bench/raw_relay: same stack, forwards frames and nothing else
//   cross-pod           two Switchboard pods and one redis-server, each pair split across pods
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { KEPT_SECTIONS, machineDescription, readSection } from './page_section.mjs';

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
    else if (flag === '--render') options.render = resolve(value());
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
      // Two steps: enough to take both branches of the search for the limit once.
      crossPod: { rate: 10000, step: 1.25, steps: 2 },
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
    // The Redis tier's section: its fixed rate, and the search for the pods' limit (steps of
    // 20%, so the limit found is within a sixth of the true one; at most 8 runs per size).
    crossPod: { rate: 10000, step: 1.2, steps: 8 },
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

// The per-address limits, lifted: every load generator connection comes from 127.x.y.z, 10,000 to
// an address. Only for a binary that has them (a baseline may be older).
const NO_ADDRESS_LIMITS = ['--max-connections-per-ip', '1000000', '--handshake-rate-per-ip', '1000000',
  '--handshake-burst-per-ip', '1000000'];
const hasAddressLimits = (binary) =>
  execFileSync(binary, ['--help']).toString().includes('--max-connections-per-ip');

function switchboardArgs(binary, port, extra = []) {
  return [
    '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn',
    // The benchmark measures relaying, not the per-client limits that protect it.
    '--rate-limit', '1000000', '--rate-burst', '1000000',
    ...(hasAddressLimits(binary) ? NO_ADDRESS_LIMITS : []),
    '--max-outbound-bytes', '67108864',
    ...extra,
  ];
}

// Each returns { servers: ['127.0.0.1:port', ...], pids: [...], redisPids, stop() }.
const starters = {
  async switchboard(context, binary = context.switchboardBin) {
    const port = await freePort();
    const child = await startPinned('switchboard', binary, switchboardArgs(binary, port), port);
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
  async 'cross-pod'(context, binary = context.switchboardBin) {
    return startOnStandaloneRedis(context, binary);
  },
};

// Redis is a service of its own (in production, on other machines); here it runs on the
// generator's core so that the two pods have the server core to themselves. Its CPU is reported
// apart. On one core with both pods, the three processes' scheduling alone pushed p99 into tens
// of milliseconds in some runs.
async function startStandaloneRedis() {
  const port = await freePort();
  const child = await startPinned('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
  ], port, GENERATOR_CPU);
  return { child, url: `redis://127.0.0.1:${port}` };
}

// Two pods of `binary` on the server core, each given `redisFlags` to find the Redis tier.
async function startPods(binary, redisFlags) {
  const pods = [];
  for (const pod of ['bench-a', 'bench-b']) {
    const port = await freePort();
    const args = switchboardArgs(binary, port, [...redisFlags, '--pod-id', pod]);
    pods.push({ port, child: await startPinned(pod, binary, args, port) });
  }
  await sleep(500);  // both pods subscribed and announced
  return pods;
}

async function startOnStandaloneRedis(context, binary) {
  const redis = await startStandaloneRedis();
  const pods = await startPods(binary, ['--redis-url', redis.url]);
  return {
    servers: pods.map((p) => `127.0.0.1:${p.port}`),
    pids: pods.map((p) => pidOf(p.child)),
    redisPids: [pidOf(redis.child)],
    stop: async () => {
      for (const p of pods) await stop(p.child);
      await stop(redis.child);
    },
  };
}

// A Redis Cluster of `masters` masters (no replicas: they would only add the cost of copying),
// all on the generator's core like the standalone server, made by `redis-cli --cluster create`,
// which gives each master an equal range of slots.
async function startRedisCluster(masters) {
  const nodes = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sb-bench-cluster-'));
    const child = await startPinned(`redis-cluster-${i}`, 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'),
      '--cluster-node-timeout', '5000', '--dir', dir,
    ], port, GENERATOR_CPU);
    nodes.push({ port, child, dir });
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'],
    { stdio: 'ignore' });
  // Every node must see the whole cluster as ok before the pods ask one for the slot map.
  const deadline = Date.now() + 30000;
  for (const node of nodes) {
    while (!execFileSync('redis-cli', ['-p', String(node.port), 'CLUSTER', 'INFO']).toString().includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error(`redis cluster node ${node.port} never reached cluster_state:ok`);
      await sleep(100);
    }
  }
  return {
    nodes,
    url: `redis://127.0.0.1:${nodes[0].port}`,
    stop: async () => {
      for (const node of nodes) {
        await stop(node.child);
        rmSync(node.dir, { recursive: true, force: true });
      }
    },
  };
}

async function startOnRedisCluster(context, binary) {
  const cluster = await startRedisCluster(3);
  const pods = await startPods(binary, ['--redis-url', cluster.url, '--redis-cluster', 'true']);
  return {
    servers: pods.map((p) => `127.0.0.1:${p.port}`),
    pids: pods.map((p) => pidOf(p.child)),
    redisPids: cluster.nodes.map((n) => pidOf(n.child)),
    stop: async () => {
      for (const p of pods) await stop(p.child);
      await cluster.stop();
    },
  };
}

// The setups of the Redis tier's section, each measured for this build and, where they can run
// it, every --baseline (builds before --redis-cluster cannot join a cluster). Another topology is
// another entry here.
const crossPodSetups = [
  { id: 'redis', label: '2 pods, standalone Redis', start: startOnStandaloneRedis, baselines: true },
  { id: 'cluster', label: '2 pods, 3-master Redis Cluster', start: startOnRedisCluster, baselines: false },
];

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
  return withStarted(() => starters[target.start](context, target.binary), work);
}

async function withStarted(start, work) {
  const server = await start();
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
    ...(server.redisPids ?? []).flatMap((pid) => ['--redis-pid', String(pid)]),
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
// The Redis tier: each cross-pod setup of each build, at the pods' limit and at a fixed rate
//
// Messages of one size need the latency workload: the relay workload's sessions have sizes of
// their own (2 KB offers and answers, 250 B candidates) and ignore --message-bytes. The latency
// workload runs in an open loop only, so the limit is searched for: the highest rate the setup
// carried in full. Offering far more than that and counting what arrives would not do: the
// backlog piles up in Redis's output buffer to the subscribed pod, and past its pub/sub limit
// (32 MB by default) Redis drops the subscriber.

// The builds whose setups are measured: this one, then every --baseline in the order given.
function crossPodBuilds(context, setup) {
  return [
    { id: 'this', label: 'this build', binary: context.switchboardBin },
    ...(setup.baselines ? context.options.baselines : []).map((b, n) => ({ id: `baseline-${n}`, label: b.label, binary: b.binary })),
  ];
}

// What the section reports of one run. Both pods' CPU is one figure (the generator adds up every
// --server-pid); the generator's core also runs Redis, so the two together say whether that core,
// rather than the pods', was full.
function crossPodFigures(r) {
  const perMessage = (seconds) => (r.window_received > 0 ? (seconds * 1e6) / r.window_received : NaN);
  return {
    offered: r.offered_rate,
    messagesPerSecond: r.messages_per_second,
    redisUs: perMessage(r.redis_cpu_seconds),
    // The busiest Redis process's share of the Redis CPU (1 with one server).
    redisTopShare: Math.max(...(r.redis_cpu_seconds_each ?? [r.redis_cpu_seconds])) / r.redis_cpu_seconds,
    podsUs: r.server_cpu_us_per_message,
    generatorUs: perMessage(r.generator_cpu_seconds),
    podsCores: r.server_cpu_cores,
    generatorCoreBusy: r.generator_cpu_cores + r.redis_cpu_seconds / r.window_seconds,
    p50: r.latency_us.p50,
    p99: r.latency_us.p99,
    p999: r.latency_us.p999,
    missing: r.missing,
    errors: r.error_notices,
  };
}

// Each figure's median over the runs (not one run's figures: a run with the median p99 need not
// have the median CPU).
function medianFigures(runs) {
  const figures = {};
  for (const key of Object.keys(runs[0])) figures[key] = median(runs.map((f) => f[key]));
  return figures;
}

// A run carried its rate when nothing was lost or refused, the window received what was offered
// (but 3%, for the window's edges) and no queue grew: an open loop past the limit still delivers
// nearly all of it within a few seconds, only later and later, and a backlog flatters Redis's CPU
// per message (each read and write carries more). A p99 under 50 ms leaves room for this shared
// machine's stalls and not for a queue growing through the run.
const CARRIED_SHARE = 0.97;
const CARRIED_P99_US = 50000;
const carried = (f) =>
  f.missing === 0 && f.errors === 0 && f.messagesPerSecond >= CARRIED_SHARE * f.offered && f.p99 <= CARRIED_P99_US;
// The generator's core (generator and Redis) was full: offering more would measure it instead.
const generatorFull = (f) => f.generatorCoreBusy >= 0.9;
const roundRate = (rate) => Math.max(100, Math.round(rate / 100) * 100);

// Where the search starts: what the CPU per message at the fixed rate predicts the pods' core, or
// the generator's, could carry, less a tenth. Costs per message fall as load rises (fuller
// writes, fewer wake-ups), so this is mostly below the limit and the search climbs, in fewer
// steps than from the fixed rate.
function limitSeed(fixed, step) {
  let predicted = 0.9 * Math.min(1e6 / fixed.podsUs, 1e6 / (fixed.generatorUs + fixed.redisUs));
  if (!Number.isFinite(predicted)) predicted = fixed.offered;  // no CPU figure: start from the rate
  return carried(fixed) ? Math.max(predicted, fixed.offered * step) : Math.min(predicted, fixed.offered / step);
}

async function crossPodRuns(context, server, target, rate, bytes, runs) {
  const figures = [];
  for (let i = 0; i < runs; i++) {
    const args = loadArgs(context.plan, target, { workload: 'latency', rate, bytes });
    figures.push(crossPodFigures(await runBench(context, server, target, args)));
  }
  return figures;
}

// Up by `step` while runs carry their rate, down while they do not, until the two meet or the
// steps run out. Returns every step, and the highest carried (null when none was); `climbing`
// says the steps ran out while still carrying, so the limit is above it.
async function searchLimit(context, server, target, bytes, start) {
  const { step, steps } = context.plan.crossPod;
  const ladder = [];
  let best = null;
  let failed = false;
  let rate = roundRate(start);
  for (let i = 0; i < steps; i++) {
    const [f] = await crossPodRuns(context, server, target, rate, bytes, 1);
    ladder.push(f);
    if (carried(f)) {
      best = f;
      if (failed || generatorFull(f)) break;
      rate = roundRate(rate * step);
    } else {
      failed = true;
      if (best) break;
      rate = roundRate(rate / step);
    }
  }
  return { best, climbing: best !== null && !failed && !generatorFull(best), ladder };
}

// The limit's figures: the medians of the search's highest carried run and the runs repeated at
// its rate.
function limitSummary(search, limitRuns) {
  if (!limitRuns.length) return { found: false, search: search.ladder };
  const figures = medianFigures(limitRuns);
  return {
    found: true, ...figures, climbing: search.climbing, generatorFull: generatorFull(figures),
    runs: limitRuns, search: search.ladder,
  };
}

// One setup of one build at one size: the fixed rate, then the search, on one start (each run
// waits for what it sent before the next begins); then the rest of the runs at the limit on a
// fresh start, since the search's last step may have overloaded the pods and Redis (buffers grown,
// a subscriber dropped and claiming its peers again).
async function measureCrossPodSize(context, setup, build, bytes) {
  const p = context.plan;
  const target = { id: `${build.id}/${setup.id}/${bytes}B`, dialect: 'native', crossPod: true };
  const start = () => setup.start(context, build.binary);
  const { fixedRuns, search } = await withStarted(start, async (server) => {
    const fixedRuns = await crossPodRuns(context, server, target, p.crossPod.rate, bytes, p.runs);
    const seed = limitSeed(medianFigures(fixedRuns), p.crossPod.step);
    return { fixedRuns, search: await searchLimit(context, server, target, bytes, seed) };
  });
  const limitRuns = search.best ? [search.best] : [];
  if (search.best && p.runs > 1) {
    limitRuns.push(...await withStarted(start, (server) =>
      crossPodRuns(context, server, target, search.best.offered, bytes, p.runs - 1)));
  }
  return {
    build: build.id, buildLabel: build.label, setup: setup.id, setupLabel: setup.label, bytes,
    fixed: { ...medianFigures(fixedRuns), runs: fixedRuns },
    limit: limitSummary(search, limitRuns),
  };
}

async function measureCrossPod(context) {
  const rows = [];
  for (const setup of crossPodSetups) {
    for (const build of crossPodBuilds(context, setup)) {
      for (const bytes of context.plan.messageBytes) {
        rows.push(await measureCrossPodSize(context, setup, build, bytes));
      }
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The page

const fmt = (value, digits = 1) =>
  value === undefined || value === null || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
const fmtInt = (value) => (value === undefined ? 'n/a' : Math.round(value).toLocaleString('en-US'));

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
  crossPodChecks(context, results.crossPodSetups, add);
  return ['| target | measured | |', '| --- | ---: | --- |', ...checks].join('\n');
}

// The Redis tier's targets, for each cross-pod setup of this build; the last against the first
// --baseline's same setup, when there is one.
function crossPodChecks(context, rows, add) {
  const rate = fmtInt(context.plan.crossPod.rate);
  const baseline = context.options.baselines[0];
  for (const setup of crossPodSetups) {
    const at = (build, bytes) => rows.find((r) => r.setup === setup.id && r.build === build && r.bytes === bytes);
    const small = at('this', 256);
    if (small) {
      add(`Redis CPU per cross-pod message at the pods' limit ≤ 2 µs, 256 B, ${setup.label}`,
        `${fmt(small.limit.redisUs, 2)} µs`, small.limit.redisUs <= 2);
    }
    const shards = (r) => r.fixed.redisTopShare < 1;
    for (const bytes of context.plan.messageBytes) {
      const mine = at('this', bytes);
      if (!mine || !shards(mine)) continue;
      for (const [where, figures] of [[`${rate} msg/s`, mine.fixed], ["the pods' limit", mine.limit]]) {
        add(`no Redis shard takes more than 45% of the Redis CPU at ${where}, ${bytes} B, ${setup.label}`,
          `${fmt(figures.redisTopShare * 100, 0)}%`, figures.redisTopShare <= 0.45);
      }
    }
    for (const bytes of context.plan.messageBytes) {
      const mine = at('this', bytes);
      add(`Redis CPU per cross-pod message at ${rate} msg/s ≤ 10 µs, ${bytes} B, ${setup.label}`,
        `${fmt(mine.fixed.redisUs, 2)} µs`, mine.fixed.redisUs <= 10);
      add(`cross-pod p99 at ${rate} msg/s ≤ 2 ms, ${bytes} B, ${setup.label}`,
        `${fmt(mine.fixed.p99, 0)} µs`, mine.fixed.p99 <= 2000);
      if (!baseline) continue;
      // Against the baseline on the same setup, or on standalone Redis (what it had) where it
      // cannot run this one.
      const theirs = at('baseline-0', bytes) ??
        rows.find((r) => r.setup === crossPodSetups[0].id && r.build === 'baseline-0' && r.bytes === bytes);
      add(`max cross-pod msg/s ≥ ${baseline.label}'s, ${bytes} B, ${setup.label}`,
        `${limitText(mine.limit)} vs ${limitText(theirs.limit)}`,
        mine.limit.messagesPerSecond >= theirs.limit.messagesPerSecond);
    }
  }
}

// A limit as the section prints it: '≥' when the search ran out of steps still carrying, and
// which core was full when it was the generator's.
const limitText = (limit) =>
  !limit.found
    ? 'none carried'
    : `${limit.climbing ? '≥ ' : ''}${fmtInt(limit.messagesPerSecond)}${limit.generatorFull ? ' (generator-bound)' : ''}`;

// The busiest Redis process's share of the Redis CPU, on a cluster (summed CPU is the µs column).
const shareText = (figures) => (figures.redisTopShare < 1 ? `${fmt(figures.redisTopShare * 100, 0)}%` : '—');

const sizeText = (bytes) => (bytes % 1024 ? `${bytes} B` : `${bytes / 1024} KB`);

// Before and after for the Redis tier: every cross-pod setup of this build and each --baseline.
function crossPodSection(context, rows) {
  const p = context.plan;
  const rate = fmtInt(p.crossPod.rate);
  const row = (r) =>
    `| ${r.buildLabel}, ${r.setupLabel} | ${sizeText(r.bytes)} | ${limitText(r.limit)} | ` +
    `${fmt(r.limit.redisUs, 2)} | ${shareText(r.limit)} | ${fmt(r.limit.podsUs)} | ` +
    `${fmt(r.fixed.redisUs, 2)} | ${shareText(r.fixed)} | ${fmt(r.fixed.podsUs)} | ` +
    `${fmt(r.fixed.p50, 0)} | ${fmt(r.fixed.p99, 0)} |`;
  return [
    '## Across pods: the Redis tier',
    '',
    `Two pods of each build (both on CPU ${SERVER_CPU}) with the Redis tier on CPU ${GENERATOR_CPU}, beside ` +
      'the generator; each pair\'s caller is on one pod and its callee on the other, and messages of ' +
      'one size go both ways (the `cross-pod` scenario, `latency` workload). CPU is µs per message ' +
      'received, Redis apart and both pods together.',
    '',
    `- **At ${rate} msg/s** every setup gets the same load; medians of ${p.runs} runs.`,
    '- **At the limit** is the highest rate a setup carried in full: nothing lost or refused, ' +
      `${fmt(CARRIED_SHARE * 100, 0)}% of it received in the window, and p99 under ${fmt(CARRIED_P99_US / 1000, 0)} ms, ` +
      'so that no queue grew through the run. The relay workload\'s sessions have sizes of their own, ' +
      'so the limit is searched for with this open loop: from what the CPU per message at ' +
      `${rate} msg/s predicts, in steps of ${fmt((p.crossPod.step - 1) * 100, 0)}% up while runs ` +
      `carry and down while they do not, at most ${p.crossPod.steps} runs; figures are medians of ` +
      `${p.runs} runs at the rate found. "≥" means the steps ran out before a run failed; ` +
      `"generator-bound" that CPU ${GENERATOR_CPU} (generator and Redis) was full, so it, not the ` +
      'pods, set the limit.',
    '',
    `| setup | message | max cross-pod msg/s | Redis µs/msg at max | busiest shard at max | ` +
      `pods µs/msg at max | Redis µs/msg at ${rate}/s | busiest shard at ${rate}/s | ` +
      `pods µs/msg at ${rate}/s | p50 µs at ${rate}/s | p99 µs at ${rate}/s |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(row),
    '',
    ...crossPodMisses(context, rows),
  ].join('\n');
}

// The Redis tier's targets this build missed: by how much, from this run's figures, and why, as
// far as it is known. (The reasons are the project's reading of figures like these; the numbers
// in them come from the run.)
function crossPodMisses(context, rows) {
  const rate = fmtInt(context.plan.crossPod.rate);
  const lines = [];
  const times = (value, target) => `${fmt(value / target, 1)}× the target`;
  const mine = rows.filter((r) => r.build === 'this');
  const sharded = (r) => r.fixed.redisTopShare < 1;
  const perShard = (r) =>
    sharded(r)
      ? ' On a cluster each shard sees only its share of the messages, so fewer share each of its ' +
        "passes, and the shards' sum is above one server's for the same load."
      : '';
  for (const r of mine.filter((r) => r.bytes === 256 && r.limit.found && r.limit.redisUs > 2)) {
    lines.push(
      `- **Redis CPU per message at the limit, ${r.setupLabel}: ${fmt(r.limit.redisUs, 2)} µs, ` +
        `${times(r.limit.redisUs, 2)}** (2 µs). Each message is one PUBLISH (SPUBLISH) with no ` +
        'script. What Redis spends beyond the command itself, reading it and writing it to the ' +
        'subscriber, is paid per pass of its event loop rather than per message, so it shrinks ' +
        `only as more messages share a pass: at the limit found here (${limitText(r.limit)} msg/s) ` +
        'they share fewer than in redis-benchmark with 16 commands in flight per connection, which ' +
        'measured 1.4 µs for PUBLISH on this machine (issue 12).' +
        perShard(r) +
        ' The background work (64 liveness SETs and 64 reap steps per pod a second, receipts ' +
        'four times a second) is under 0.1 µs per message at this rate.',
    );
  }
  for (const r of mine.filter((r) => r.fixed.p99 > 2000)) {
    const p99s = r.fixed.runs.map((f) => fmt(f.p99 / 1000, 1)).join(', ');
    lines.push(
      `- **p99 at ${rate} msg/s, ${r.setupLabel}, ${sizeText(r.bytes)}: ${fmt(r.fixed.p99 / 1000, 1)} ms, ` +
        `${times(r.fixed.p99, 2000)}** (2 ms; p50 ${fmt(r.fixed.p50, 0)} µs). The runs' p99s were ` +
        `${p99s} ms. A message crosses four processes on two cores (the generator and Redis ` +
        `share CPU ${GENERATOR_CPU}, both pods CPU ${SERVER_CPU}), and every hop is a wake-up that ` +
        'waits for a core; the tail is that waiting, which the spread between runs on this ' +
        'shared machine shows, not the work (the CPU columns).',
    );
  }
  for (const r of mine.filter((r) => r.fixed.redisUs > 10)) {
    lines.push(
      `- **Redis CPU per message at ${rate} msg/s, ${r.setupLabel}, ${sizeText(r.bytes)}: ` +
        `${fmt(r.fixed.redisUs, 2)} µs, ${times(r.fixed.redisUs, 10)}** (10 µs). At a fixed rate ` +
        'the pods write as messages come, a few commands per write, so Redis pays its per-read ' +
        'and per-write cost for few messages at a time.' +
        perShard(r),
    );
  }
  for (const r of mine.filter((r) => r.fixed.redisTopShare < 1)) {
    for (const [where, f] of [[`${rate} msg/s`, r.fixed], ['the limit', r.limit]]) {
      if (!(f.redisTopShare > 0.45)) continue;
      lines.push(
        `- **Busiest shard at ${where}, ${r.setupLabel}, ${sizeText(r.bytes)}: ` +
          `${fmt(f.redisTopShare * 100, 0)}% of the Redis CPU** (45%). A message costs the shard ` +
          "of its target's bucket. The 64 buckets divide evenly among the three masters, but " +
          `the ${2 * context.plan.pairs} peers of a run do not divide evenly among the buckets, ` +
          'and at the limit the shard that carries the most peers sets the pace for all.',
      );
    }
  }
  const baseline = context.options.baselines[0];
  if (baseline) {
    for (const r of mine) {
      const theirs =
        rows.find((o) => o.setup === r.setup && o.build === 'baseline-0' && o.bytes === r.bytes) ??
        rows.find((o) => o.setup === crossPodSetups[0].id && o.build === 'baseline-0' && o.bytes === r.bytes);
      if (!theirs?.limit.found || !r.limit.found) continue;
      if (r.limit.messagesPerSecond >= theirs.limit.messagesPerSecond) continue;
      const short = 1 - r.limit.messagesPerSecond / theirs.limit.messagesPerSecond;
      lines.push(
        `- **Max cross-pod msg/s, ${r.setupLabel}, ${sizeText(r.bytes)}: ${limitText(r.limit)} against ` +
          `${baseline.label}'s ${limitText(theirs.limit)}, ${fmt(short * 100, 0)}% lower.** ` +
          (theirs.limit.generatorFull
            ? `${baseline.label}'s limit was set by CPU ${GENERATOR_CPU} (the generator and Redis), ` +
              'which its costlier Redis path filled; ' 
            : '') +
          `this build's pods spend ${fmt(r.limit.podsUs)} µs per message at the limit against ` +
          `${fmt(theirs.limit.podsUs)} µs: the owner cache, the receipts and (on a cluster) the ` +
          'cluster client are work the pods took over from Redis.',
      );
    }
  }
  if (!lines.length) return [];
  return ['Targets of the Redis tier that this build missed, by how much, and why:', '', ...lines, ''];
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
  const date = context.date ?? new Date().toISOString().slice(0, 10);
  const page = `# Benchmarks

<!-- Written by bench/compare.mjs: do not edit by hand; run it again. -->

Measured on ${date} by \`cd bench && npm ci && node compare.mjs${options.baselines.length ? ' --baseline ...' : ''}\`,
on ${context.machine ?? machineDescription()}. Every server ran pinned to CPU ${SERVER_CPU} and the load generator
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

${crossPodSection(context, results.crossPodSetups)}
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
cd bench && npm ci && node compare.mjs          # about 12 minutes, 3 more per --baseline; rewrites this page
\`\`\`

Each run also prints the generator's one-line summary, and \`switchboard-bench --help\` runs any
single scenario by hand (bench/README.md).

${baselineSection(context, results)}`;
  writeFileSync(join(options.out, 'benchmarks.md'), page + keptSections(join(options.out, 'benchmarks.md')));
  writeFileSync(join(options.out, 'benchmarks.json'), JSON.stringify({ date, machine: context.machine ?? machineDescription(), fixedRate: context.fixedRate, plan: p, baselines: options.baselines.map((b) => b.label), results }, null, 2) + '\n');
}

// The sections other scripts write into the page (page_section.mjs, KEPT_SECTIONS), as the page
// has them now, so that rewriting the page keeps them.
function keptSections(pagePath) {
  return KEPT_SECTIONS.map((name) => readSection(pagePath, name))
    .filter((text) => text)
    .map((text) => `\n${text}\n`)
    .join('');
}

// ---------------------------------------------------------------------------------------------

// --render FILE: the page and the chart again from the results of an earlier run (its
// benchmarks.json), measuring nothing: for when only the page's wording changed. The run's
// --baseline labels come from the file, or from --baseline flags for a file that lacks them.
function render(options) {
  const saved = JSON.parse(readFileSync(options.render, 'utf8'));
  if (saved.baselines && !options.baselines.length) {
    options.baselines = saved.baselines.map((label) => ({ label, binary: '' }));
  }
  const context = {
    options, plan: saved.plan, targets: targetsFor(options), fixedRate: saved.fixedRate,
    date: saved.date, machine: saved.machine,
  };
  context.tmp = mkdtempSync(join(tmpdir(), 'switchboard-compare-'));
  try {
    writeChart(context, saved.results, join(options.out, 'benchmarks-latency.png'));
    writePage(context, saved.results);
  } finally {
    rmSync(context.tmp, { recursive: true, force: true });
  }
  console.log(`wrote ${join(options.out, 'benchmarks.md')} from ${options.render}`);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.render) {
    render(options);
    return;
  }
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
  const baselineBins = options.baselines.map((b) => b.binary);
  for (const file of [context.switchboardBin, context.benchBin, context.rawBin, context.peerBin, ...baselineBins]) {
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
    console.log(`the Redis tier: cross-pod setups at their limit and at ${context.plan.crossPod.rate} msg/s`);
    results.crossPodSetups = await measureCrossPod(context);
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
