#!/usr/bin/env node
// bench/scale_up_curve.mjs: how fast the rebalancing spreads the load after a scale-up, at the
// server's default rate, and what the peers lose meanwhile (issue 14). By hand, not in CI:
//
//   cd tests && npm ci && cd ../bench
//   node scale_up_curve.mjs                      # both picks, 2 x 400 peers, default rate: ~10 min
//   node scale_up_curve.mjs --picks least-connections --peers-per-pod 200
//   node scale_up_curve.mjs --quick --out /tmp/try   # ~1 min at 20x the rate: checks the script
//   node scale_up_curve.mjs --render ../docs/benchmarks-rebalance.json   # chart and page again
//
// For each pick (how a reconnecting peer picks its pod: 'random', as kube-proxy does, or
// 'least-connections', as a least-connections or ewma load balancer does), the scenario of
// tests/fault/scale_up.test.mjs at the server's rebalancing defaults unless told otherwise: one
// redis-server, 2 pods, --peers-per-pod x 2 fault-suite peers (tests/fault/fault_lib.mjs: peer i
// on pod i % 2, each sending to its partner on the other pod every 100-200 ms), then 2 empty pods
// that join the endpoints once ready. Every second it reads each pod's
// switchboard_connections_open from its /metrics, until every pod is within the mean give or take
// the threshold (balanced), or --max-seconds after the new pods were added; then it goes on
// sampling through the fault suite's recovery and final round, and classifies every message as
// the fault suite does (delivered, told, excused, lost silently; reordered, duplicated).
//
// Writes, in --out (default ../docs): benchmarks-rebalance.json (every sample and count),
// benchmarks-rebalance.csv (connections per pod over time), benchmarks-rebalance.png (the chart,
// with gnuplot), and the section "Rebalancing after a scale-up" of benchmarks.md there (replaced
// between its markers, or appended; compare.mjs keeps it when it rewrites the page). Prints one
// JSON result per pick and the whole result at the end. The figures in the page come from the
// run only: never edit them, run this again. Exits 1 if a pick lost a message silently, reordered
// or duplicated one, or did not balance in time.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FaultRun,
  PICKS,
  RECOVERY_MS,
  WARMUP_MS,
  addFaultPod,
  isBalanced,
  sleep,
  startFaultCluster,
  summarize,
  waitBalanced,
} from '../tests/fault/fault_lib.mjs';
import { commit, machineDescription, writeSection } from './page_section.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function parseOptions(argv) {
  const o = {
    peersPerPod: 400,
    picks: ['least-connections', 'random'],
    ratePermille: 5,
    minConnections: 50,
    thresholdPercent: 20,
    jitterPercent: 25,
    maxSeconds: 600,
    out: resolve(here, '../docs'),
    quick: false,
    render: null,
  };
  const explicit = new Set();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    const number = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} takes a number >= 0`);
      return v;
    };
    explicit.add(flag);
    if (flag === '--peers-per-pod') o.peersPerPod = number();
    else if (flag === '--picks') o.picks = value().split(',');
    else if (flag === '--rate-permille') o.ratePermille = number();
    else if (flag === '--min-connections') o.minConnections = number();
    else if (flag === '--threshold-percent') o.thresholdPercent = number();
    else if (flag === '--jitter-percent') o.jitterPercent = number();
    else if (flag === '--max-seconds') o.maxSeconds = number();
    else if (flag === '--out') o.out = resolve(value());
    else if (flag === '--quick') o.quick = true;
    else if (flag === '--render') o.render = resolve(value());
    else throw new Error(`unknown flag ${flag}`);
  }
  if (o.quick) {
    if (!explicit.has('--peers-per-pod')) o.peersPerPod = 40;
    if (!explicit.has('--rate-permille')) o.ratePermille = 100;
    if (!explicit.has('--min-connections')) o.minConnections = 10;
    if (!explicit.has('--max-seconds')) o.maxSeconds = 60;
  }
  for (const pick of o.picks) if (!PICKS.includes(pick)) throw new Error(`--picks: ${pick} is not one of ${PICKS.join(', ')}`);
  if (!Number.isInteger(o.peersPerPod) || o.peersPerPod < 1) throw new Error('--peers-per-pod takes a whole number >= 1');
  if (!(o.ratePermille > 0)) throw new Error('--rate-permille must be above 0 (0 turns rebalancing off)');
  o.command = `cd bench && node scale_up_curve.mjs${argv.length ? ` ${argv.join(' ')}` : ''}`;
  return o;
}

// What the rate implies, from the shape alone: each old pod holds 2 x the mean m and must come
// down to (1 + threshold) m, shedding at rate x m a second; with least-connections picks every
// shed connection lands on a new pod, with random picks half of them land on an old pod again.
function impliedSeconds(o, pick) {
  const perOldPod = 1 - o.thresholdPercent / 100;
  return ((pick === 'random' ? 2 : 1) * perOldPod) / (o.ratePermille / 1000);
}

// Every second (on the second after `origin`): each pod's open connections, its mean as last
// read, and what it shed so far, from its /metrics; and the peers' own view.
function startSampler(env, run, origin, roles) {
  const samples = [];
  let stopped = false;
  const done = (async () => {
    for (let k = Math.ceil((Date.now() - origin) / 1000); !stopped; k++) {
      await sleep(Math.max(0, origin + k * 1000 - Date.now()));
      if (stopped) break;
      const t = Date.now();
      const inEndpoints = run.endpoints.map((ep) => roles[ep.name] ?? ep.name);
      const pods = env.cluster.pods.filter((srv) => srv.running);
      const read = await Promise.all(
        pods.map(async (srv) => {
          try {
            const m = await srv.metrics();
            return {
              pod: srv.pod,
              open: m.sum('switchboard_connections_open'),
              average: m.sum('switchboard_rebalance_average_connections'),
              shed: m.sum('switchboard_connections_shed_total', { reason: 'rebalance' }),
            };
          } catch (err) {
            return { pod: srv.pod, error: err.message };
          }
        }),
      );
      const sample = { t: (t - origin) / 1000, open: {}, average: {}, shed: {}, endpoints: inEndpoints, peers: run.connectedPerPod() };
      for (const r of read) {
        const role = roles[r.pod] ?? r.pod;
        if (r.error) sample.error = `${r.pod}: ${r.error}`;
        else {
          sample.open[role] = r.open;
          sample.average[role] = r.average;
          sample.shed[role] = r.shed;
        }
      }
      samples.push(sample);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function measure(o, pick) {
  const flags = {
    'rebalance-threshold-percent': o.thresholdPercent,
    'rebalance-rate-permille': o.ratePermille,
    'rebalance-min-connections': o.minConnections,
    'rebalance-jitter-percent': o.jitterPercent,
  };
  const tag = pick === 'random' ? 'bsr' : 'bsl';
  const roles = { [`${tag}-1`]: 'old-1', [`${tag}-2`]: 'old-2', [`${tag}-3`]: 'new-1', [`${tag}-4`]: 'new-2' };
  const env = await startFaultCluster({ tag, pods: 2, flags });
  const run = new FaultRun(env.endpoints, { peers: 2 * o.peersPerPod, pick });
  try {
    await run.connectAll({ timeoutMs: 60000 });
    run.startTraffic();
    const trafficAt = Date.now();
    // The time axis: seconds since the new pods were started; sampled from the traffic's start.
    const origin = trafficAt + WARMUP_MS;
    const sampler = startSampler(env, run, origin, roles);
    await sleep(Math.max(0, origin - Date.now()));
    run.faultStarted(`scale up from 2 to 4 pods, rebalanced (${pick} picks)`);
    let peersBalancedAt = null;
    let stopPeers = false;
    const peersWatch = (async () => {
      // waitBalanced over 2 endpoints would say balanced at once: start it when all 4 are in.
      while (run.endpoints.length < 4 && !stopPeers) await sleep(20);
      const deadline = run.faultStart + o.maxSeconds * 1000;
      for (;;) {
        const r = await waitBalanced(run, { percent: o.thresholdPercent, deadline: Math.min(deadline, Date.now() + 1000) });
        if (r.balancedAt !== null) return (peersBalancedAt = r.balancedAt);
        if (stopPeers || Date.now() > deadline) return null;
      }
    })();
    await Promise.all([3, 4].map((i) => addFaultPod(env, run, `${tag}-${i}`, { flags })));
    // Balanced, as the pods count: the first sample with all 4 pods in the endpoints and each
    // pod's switchboard_connections_open within the mean give or take the threshold.
    const deadline = run.faultStart + o.maxSeconds * 1000;
    let balancedSample = null;
    let seen = 0;
    let lastLog = 0;
    while (!balancedSample && Date.now() < deadline) {
      await sleep(100);
      for (; seen < sampler.samples.length; seen++) {
        const s = sampler.samples[seen];
        if (s.t < 0 || s.error || s.endpoints.length < 4 || Object.keys(s.open).length < 4) continue;
        if (s.t - lastLog >= 10) {
          lastLog = s.t;
          console.error(`  ${pick}: ${s.t.toFixed(0)} s ${JSON.stringify(s.open)}`);
        }
        if (isBalanced(s.open, o.thresholdPercent)) {
          balancedSample = s;
          break;
        }
      }
    }
    // The fault ends then (or at the deadline); the traffic goes on through the fault suite's
    // recovery, final round and settling, still sampled.
    run.faultEnded();
    stopPeers = true;
    const closesAtBalance = run.closes['1012'] ?? 0;
    const reconnectsAtBalance = run.reconnectFrames.rebalance ?? 0;
    const stats = await run.finish();
    await peersWatch;
    await sampler.stop();
    const last = sampler.samples[sampler.samples.length - 1];
    const result = {
      pick,
      peers: run.peers.length,
      impliedSeconds: impliedSeconds(o, pick),
      balanced: balancedSample !== null,
      balancedAfterSeconds: balancedSample ? balancedSample.t : null,
      balancedAt: balancedSample ? balancedSample.open : null,
      peersViewBalancedAfterSeconds: peersBalancedAt === null ? null : (peersBalancedAt - run.faultStart) / 1000,
      closes1012UntilBalanced: closesAtBalance,
      reconnectFramesUntilBalanced: reconnectsAtBalance,
      closes1012: (stats.closes['1012'] ?? 0) + (stats.refusalCodes['1012'] ?? 0),
      reconnectFrames: stats.reconnectFrames.rebalance ?? 0,
      shedByPods: last?.shed ?? {},
      // The fewest moves that balance: each old pod down to (1 + threshold) x the mean.
      fewestMoves: 2 * Math.ceil(o.peersPerPod - (run.peers.length / 4) * (1 + o.thresholdPercent / 100)),
      atEnd: last?.open ?? {},
      counts: {
        line: summarize(stats),
        sent: stats.sent,
        delivered: stats.delivered,
        told: stats.told,
        excused: stats.excused.senderGone + stats.excused.targetPodKilled,
        lostSilently: stats.lostSilently,
        reordered: stats.reordered,
        duplicated: stats.duplicated,
        finalDelivered: stats.finalDelivered,
        pairs: stats.pairs,
        unexpected: stats.unexpectedCount,
        // Copies: run.stop() below closes every connection, and counts those closes too.
        closes: { ...stats.closes },
        refusalCodes: { ...stats.refusalCodes },
        lostByPhase: stats.lostByPhase,
      },
      pods: roles,
      samples: sampler.samples,
      timeline: stats.timeline,
    };
    return result;
  } finally {
    run.stop();
    await env.cluster.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const ROLES = ['old-1', 'old-2', 'new-1', 'new-2'];

function writeCsv(saved, path) {
  const lines = ['pick,t_s,old_1,old_2,new_1,new_2,mean,peers_connected,shed_total'];
  for (const r of saved.results) {
    for (const s of r.samples) {
      const values = ROLES.map((role) => s.open[role] ?? '');
      const present = ROLES.filter((role) => s.open[role] !== undefined && s.endpoints.includes(role));
      const mean = present.length ? present.reduce((a, role) => a + s.open[role], 0) / present.length : '';
      const peers = Object.values(s.peers).reduce((a, b) => a + b, 0);
      const shed = Object.values(s.shed).reduce((a, b) => a + b, 0);
      lines.push([r.pick, s.t.toFixed(1), ...values, mean === '' ? '' : mean.toFixed(1), peers, shed].join(','));
    }
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

function writeChart(saved, csvPath, pngPath) {
  const panels = saved.results.map((r, i) => {
    const x = r.balancedAfterSeconds;
    const data = `'< grep "^${r.pick}," ${csvPath}'`;
    const mean = (saved.options.peersPerPod * 2) / 4;
    const lo = mean * (1 - saved.options.thresholdPercent / 100);
    const hi = mean * (1 + saved.options.thresholdPercent / 100);
    return [
      `set title '${r.pick} picks: ${x === null ? `not balanced in ${saved.options.maxSeconds} s` : `balanced after ${sec(x)}`}'`,
      'unset arrow',
      x === null ? '' : `set arrow ${i + 1} from ${x}, graph 0 to ${x}, graph 1 nohead dashtype 3 lc rgb '#555555'`,
      `plot ${[
        `${data} using 2:3 with lines lw 2 title 'old pod 1'`,
        `${data} using 2:4 with lines lw 2 title 'old pod 2'`,
        `${data} using 2:5 with lines lw 2 title 'new pod 1'`,
        `${data} using 2:6 with lines lw 2 title 'new pod 2'`,
        `${lo} with lines dashtype 2 lc rgb '#888888' title 'mean ± ${saved.options.thresholdPercent}%'`,
        `${hi} with lines dashtype 2 lc rgb '#888888' notitle`,
      ].join(', ')}`,
    ].join('\n');
  });
  const script = [
    `set terminal pngcairo size 1000,${380 * saved.results.length + 40} font 'sans,10'`,
    `set output '${pngPath}'`,
    `set datafile separator ','`,
    `set multiplot layout ${saved.results.length},1 title 'Connections per pod after a scale-up from 2 to 4 pods (${saved.options.ratePermille} permille of the mean a second)'`,
    `set xlabel 'seconds since the 2 new pods were started'`,
    `set ylabel 'connections open (/metrics)'`,
    `set grid`,
    `set key outside right top`,
    `set yrange [0:*]`,
    `set xrange [-3:*]`,
    ...panels,
    'unset multiplot',
  ].join('\n');
  execFileSync('gnuplot', [], { input: script });
}

const n = (v) => (v === null || v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US'));
// Balanced after: samples are taken on the second, so whole seconds.
const sec = (v) => (v === null || v === undefined ? 'not balanced' : `${Math.round(v)} s`);

function section(saved) {
  const o = saved.options;
  const rows = saved.results.map((r) => {
    const c = r.counts;
    return (
      `| ${r.pick} | ${sec(r.balancedAfterSeconds)} | ${r.peersViewBalancedAfterSeconds === null ? 'not balanced' : `${r.peersViewBalancedAfterSeconds.toFixed(1)} s`} | ` +
      `${Math.round(r.impliedSeconds)} s | ${n(r.closes1012UntilBalanced)} (fewest that balance: ${n(r.fewestMoves)}) | ${n(r.closes1012)} | ` +
      `${n(c.sent)} | ${n(c.delivered)} | ${n(c.told)} | ${n(c.excused)} | ${n(c.lostSilently)} | ${n(c.reordered)} | ${n(c.duplicated)} | ${c.finalDelivered}/${c.pairs} |`
    );
  });
  const lines = saved.results.map((r) => `- ${r.pick}: ${r.counts.line}`);
  return `## Rebalancing after a scale-up

<!-- Written by bench/scale_up_curve.mjs: do not edit by hand; run it again. -->

Measured on ${saved.date} by \`${o.command}\` (checkout at ${saved.commit ?? 'unknown'}),
on ${saved.machine}; nothing pinned (the rebalancing's rate, not the CPU, sets the
pace). One redis-server and 2 pods holding ${n(o.peersPerPod)} peers each (the fault suite's peers,
tests/fault/fault_lib.mjs: each sends to its partner on the other pod every 100-200 ms, and
reconnects with its id and token after a close), then 2 empty pods, started together, that join
the endpoints once ready, as a Deployment scaled from 2 to 4 does. Rebalancing as configured on
every pod: within ${o.thresholdPercent}% of the mean, ${o.ratePermille} permille of the mean a second per pod, never below
${o.minConnections} connections, jitter ${o.jitterPercent}%${o.ratePermille === 5 && o.minConnections === 50 && o.thresholdPercent === 20 && o.jitterPercent === 25 ? ' (the defaults)' : ''}. A closed peer reconnects through the "load
balancer": to a pod picked at random (as kube-proxy does), or to the one with the fewest of the
peers' connections open or opening (as a least-connections or ewma balancer does,
docs/operations.md, "Rebalancing").

- **Balanced after** is the first second at which every pod's \`switchboard_connections_open\`
  (read from each pod's /metrics every second) is within the mean give or take ${o.thresholdPercent}%; the peers'
  view is the same test on the pods the connected peers are on, checked every 50 ms. **Implied** is
  what the rate alone gives: each old pod sheds ${100 - o.thresholdPercent}% of the mean at ${o.ratePermille / 10}% of it a second,
  and with random picks half of what it sheds comes back to an old pod.
- **1012 closes** are those the peers saw, each after a \`{"type":"reconnect","reason":"rebalance"}\`
  frame; the fewest that balance take each old pod down to the mean + ${o.thresholdPercent}%. The pods go on
  shedding for a tick or two after the balance, on loads a second old.
- The messages are classified as in the fault suite: delivered, told (an error frame with the
  message's ref, or a peer-unavailable notice), excused, lost silently; counted from the start of
  the traffic through the fault suite's recovery (${RECOVERY_MS / 1000} s after the balance) and final round.

| picks | balanced after | peers' view | implied | 1012 closes until balanced | in all | sent | delivered | told | excused | lost silently | reordered | duplicated | final round |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

![connections per pod after a scale-up](benchmarks-rebalance.png)

Every sample is in [benchmarks-rebalance.csv](benchmarks-rebalance.csv), everything else in
benchmarks-rebalance.json. The fault suite's counts line, as printed:

${lines.join('\n')}
`;
}

function writeAll(saved, out) {
  mkdirSync(out, { recursive: true });
  const csv = join(out, 'benchmarks-rebalance.csv');
  writeCsv(saved, csv);
  writeChart(saved, csv, join(out, 'benchmarks-rebalance.png'));
  writeSection(join(out, 'benchmarks.md'), 'scale_up_curve', section(saved));
  console.error(`wrote ${csv}, benchmarks-rebalance.png and the section of benchmarks.md in ${out}`);
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  if (o.render) {
    const saved = JSON.parse(readFileSync(o.render, 'utf8'));
    writeAll(saved, o.out);
    return 0;
  }
  const saved = { date: new Date().toISOString().slice(0, 10), machine: machineDescription(), commit: commit(), options: o, results: [] };
  for (const pick of o.picks) {
    console.error(`${pick} picks: 2 x ${o.peersPerPod} peers, then 2 more pods, ${o.ratePermille} permille (implied ${impliedSeconds(o, pick).toFixed(0)} s)`);
    const r = await measure(o, pick);
    saved.results.push(r);
    const { samples, timeline, ...brief } = r;
    console.log(JSON.stringify(brief));
  }
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'benchmarks-rebalance.json'), JSON.stringify(saved, null, 1) + '\n');
  writeAll(saved, o.out);
  console.log(JSON.stringify({ date: saved.date, machine: saved.machine, command: o.command, results: saved.results.map(({ samples, timeline, ...brief }) => brief) }, null, 2));
  const bad = saved.results.filter((r) => !r.balanced || r.counts.lostSilently || r.counts.reordered || r.counts.duplicated || r.counts.unexpected);
  return bad.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`scale_up_curve: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
