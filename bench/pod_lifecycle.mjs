#!/usr/bin/env node
// bench/pod_lifecycle.mjs: the long, by-hand version of the fault suite's pod-lifecycle cases
// (issue 14): a rolling restart, a scale-down and a Redis Sentinel failover, each run several
// times with more peers than the suite's and the server's default drain window, every message
// counted as the suite counts it. Not in CI:
//
//   cd tests && npm ci && cd ../bench
//   node pod_lifecycle.mjs                                  # 3 cases x 5 runs, 600 peers: ~12 min
//   node pod_lifecycle.mjs --baseline /tmp/old/switchboard --baseline-label 'before (abc1234)'
//                                                    # and the cases an older build can run, on it
//   node pod_lifecycle.mjs --scenarios scale-down --runs 2 --peers 200
//   node pod_lifecycle.mjs --quick --out /tmp/try           # ~2 min, small: checks the script
//   node pod_lifecycle.mjs --render ../docs/benchmarks-lifecycle.json   # the page again
//
// The cases are tests/fault/lifecycle_scenarios.mjs, as the suite runs them: 3 pods on one
// redis-server (or on 1 master, 2 replicas and 3 sentinels), fault-suite peers
// (tests/fault/fault_lib.mjs: pairs that send to each other every 100-200 ms and reconnect with
// their id and token after any close, to a pod picked at random). Each run is a child process of
// its own (so that a build is chosen by SWITCHBOARD_BIN, and nothing leaks from one run into the
// next). --baseline runs the cases an older build supports (no Sentinel before issue 14) on it,
// with the same counting, side by side.
//
// Writes, in --out (default ../docs): benchmarks-lifecycle.json (every run's counts) and the
// section "Pods coming and going" of benchmarks.md there (between its markers; compare.mjs keeps
// it). The figures in the page come from the run only: never edit them, run this again. Exits 1
// if a run of this build lost a message silently, reordered or duplicated one, left a pair
// unreachable, or (Sentinel) did not relay again within 10 s.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commit, machineDescription, writeSection } from './page_section.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SCENARIO_NAMES = ['rolling-restart', 'scale-down', 'sentinel-failover'];
const RELAY_BACK_MS = 10000; // the issue's target for a Sentinel failover
const CHILD_TIMEOUT_MS = 300000;

function parseOptions(argv) {
  const o = {
    scenarios: SCENARIO_NAMES,
    runs: 5,
    peers: 600,
    drainSeconds: 10,
    build: resolve(here, '../build/switchboard'),
    baseline: null,
    baselineLabel: 'baseline',
    out: resolve(here, '../docs'),
    quick: false,
    render: null,
    child: null,
  };
  const explicit = new Set();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    const whole = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} takes a whole number >= 1`);
      return v;
    };
    explicit.add(flag);
    if (flag === '--scenarios') o.scenarios = value().split(',');
    else if (flag === '--runs') o.runs = whole();
    else if (flag === '--peers') o.peers = whole();
    else if (flag === '--drain-seconds') o.drainSeconds = whole();
    else if (flag === '--build') o.build = resolve(value());
    else if (flag === '--baseline') o.baseline = resolve(value());
    else if (flag === '--baseline-label') o.baselineLabel = value();
    else if (flag === '--out') o.out = resolve(value());
    else if (flag === '--quick') o.quick = true;
    else if (flag === '--render') o.render = resolve(value());
    else if (flag === '--child') o.child = value();
    else throw new Error(`unknown flag ${flag}`);
  }
  if (o.quick) {
    if (!explicit.has('--runs')) o.runs = 1;
    if (!explicit.has('--peers')) o.peers = 60;
    if (!explicit.has('--drain-seconds')) o.drainSeconds = 1;
  }
  for (const s of o.scenarios) if (!SCENARIO_NAMES.includes(s)) throw new Error(`--scenarios: ${s} is not one of ${SCENARIO_NAMES.join(', ')}`);
  if (o.peers % 2) throw new Error('--peers takes an even number (the peers come in pairs)');
  o.command = `cd bench && node pod_lifecycle.mjs${argv.length ? ` ${argv.join(' ')}` : ''}`;
  return o;
}

// ---------------------------------------------------------------------------------------------
// One run, in a child process (--child NAME): prints its result as the last line of stdout.

async function childMain(o) {
  const { LIFECYCLE_SCENARIOS, runScenario } = await import('../tests/fault/lifecycle_scenarios.mjs');
  const { summarize } = await import('../tests/fault/fault_lib.mjs');
  const scenario = LIFECYCLE_SCENARIOS.find((s) => s.name === o.child);
  const { stats, extra } = await runScenario(scenario, { peers: o.peers, flags: { 'drain-seconds': o.drainSeconds } });
  const counts = {
    sent: stats.sent,
    delivered: stats.delivered,
    told: stats.told,
    excused: stats.excused.senderGone + stats.excused.targetPodKilled,
    lostSilently: stats.lostSilently,
    reordered: stats.reordered,
    duplicated: stats.duplicated,
    unexpected: stats.unexpectedCount,
    finalDelivered: stats.finalDelivered,
    pairs: stats.pairs,
    reachMaxMs: stats.reachMaxMs,
    closes: stats.closes,
    line: summarize(stats),
    lostExamples: stats.lostExamples.slice(0, 5),
  };
  process.stdout.write(`${JSON.stringify({ counts, extra })}\n`);
  return 0;
}

function runChild(o, name, binary) {
  const args = [fileURLToPath(import.meta.url), '--child', name, '--peers', String(o.peers), '--drain-seconds', String(o.drainSeconds)];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, SWITCHBOARD_BIN: binary }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop();
      if (code !== 0) return reject(new Error(`${name} on ${binary}: exit ${code ?? signal}; ${out.slice(-2000)}`));
      resolvePromise(JSON.parse(last));
    });
  });
}

// Whether `binary` can run `scenario` (a build from before issue 14 has no Sentinel flags).
async function supports(binary, name) {
  if (name !== 'sentinel-failover') return true;
  const help = await new Promise((res) => {
    const c = spawn(binary, ['--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    c.stdout.on('data', (d) => (text += d));
    c.on('exit', () => res(text));
    c.on('error', () => res(''));
  });
  return help.includes('--redis-sentinels');
}

// A run's verdict against the issue's targets (this build only).
function problems(name, r) {
  const c = r.counts;
  const out = [];
  if (c.lostSilently) out.push(`${c.lostSilently} lost silently`);
  if (c.reordered) out.push(`${c.reordered} reordered`);
  if (c.duplicated) out.push(`${c.duplicated} duplicated`);
  if (c.unexpected) out.push(`${c.unexpected} unexpected frames`);
  if (c.finalDelivered !== c.pairs) out.push(`${c.pairs - c.finalDelivered} pairs unreachable`);
  if (name === 'sentinel-failover' && !(r.extra.relayBackMs !== null && r.extra.relayBackMs < RELAY_BACK_MS)) out.push(`relaying back after ${r.extra.relayBackMs} ms`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The page

const TITLES = {
  'rolling-restart': 'Rolling restart of 3 pods',
  'scale-down': 'Scale-down from 3 pods to 2',
  'sentinel-failover': 'Sentinel failover (master SIGKILL)',
};

const n = (v) => (v === null || v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US'));
const sum = (rs, key) => rs.reduce((a, r) => a + r.counts[key], 0);
const median = (values) => {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : null;
};
const seconds = (ms) => (ms === null || ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

// What the fault took, for the table: the rollout, the drain, or the relaying back.
function timing(name, runs) {
  const pick = {
    'rolling-restart': (r) => r.extra.rolloutMs,
    'scale-down': (r) => r.extra.drainMs,
    'sentinel-failover': (r) => r.extra.relayBackMs,
  }[name];
  const values = runs.map(pick);
  const known = values.filter((v) => v !== null);
  const range = known.length ? ` (${(Math.min(...known) / 1000).toFixed(1)}-${(Math.max(...known) / 1000).toFixed(1)})` : '';
  return `${seconds(median(values))}${range}`;
}

function section(saved) {
  const o = saved.options;
  const rows = [];
  for (const group of saved.groups) {
    const rs = group.runs;
    rows.push(
      `| ${TITLES[group.scenario]} | ${group.label} | ${rs.length} | ${timing(group.scenario, rs)} | ${n(sum(rs, 'sent'))} | ${n(sum(rs, 'delivered'))} | ` +
        `${n(sum(rs, 'told'))} | ${n(sum(rs, 'excused'))} | ${rs.map((r) => r.counts.lostSilently).join(', ')} | ${n(sum(rs, 'reordered'))} | ` +
        `${n(sum(rs, 'duplicated'))} | ${rs.filter((r) => r.counts.finalDelivered === r.counts.pairs).length}/${rs.length} | ${seconds(median(rs.map((r) => r.counts.reachMaxMs)))} |`,
    );
  }
  const lines = saved.groups.flatMap((g) => g.runs.map((r, i) => `- ${TITLES[g.scenario]}, ${g.label}, run ${i + 1}: ${r.counts.line}`));
  return `## Pods coming and going

<!-- Written by bench/pod_lifecycle.mjs: do not edit by hand; run it again. -->

Measured on ${saved.date} by \`${o.command}\` (checkout at ${saved.commit}), on ${saved.machine};
nothing pinned. The fault suite's pod-lifecycle cases (tests/fault/lifecycle_scenarios.mjs), each
run ${o.runs === 1 ? 'once' : `${o.runs} times`}, with ${n(o.peers)} peers on 3 pods and --drain-seconds ${o.drainSeconds}${o.drainSeconds === 10 ? " (the server's default)" : ''}
(the fault suite runs them once, with 200 peers and 1 s). The peers come in pairs, each
sending to its partner every 100-200 ms, and reconnect with their id and token after any close, to
a pod picked at random. Every message is classified as in the fault suite
(tests/fault/fault_lib.mjs): delivered; told (an error frame with the message's ref, or a
peer-unavailable notice); excused (sent over a connection that then broke without a close frame
the server chose); lost silently; reordered and duplicated within a pair. A close frame the
server chose (1001 draining, 1012, 4410, 1008) excuses nothing.

- **Rolling restart**: for each pod in turn, a new pod starts and joins the endpoints once its
  /readyz answers 200, then the old one leaves them and gets SIGTERM, as a Deployment with
  maxSurge 1 and maxUnavailable 0 does. **Took** is from the first new pod to the last old
  pod's exit.
- **Scale-down**: one pod leaves the endpoints and gets SIGTERM; **took** is until it exited.
- **Sentinel failover**: 1 master, 2 replicas and 3 sentinels (Debian's redis-server and
  redis-sentinel); the master is killed with SIGKILL. **Took** is from the kill until every pod
  is up on the new master and a message sent after the kill has arrived for every ordered pair
  of pods (the target is 10 s). Sends that cannot be relayed meanwhile are told ("unavailable").
- **Reachable again** is, per run, the longest time over all pairs from the fault's end to the
  first message after which every message of the pair arrived (median over the runs). The final
  round: every pair exchanges one more message 5 s after the fault, which must arrive within 3 s.

| case | build | runs | took: median (range) | sent | delivered | told | excused | lost silently, per run | reordered | duplicated | final round | reachable again |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Each run's counts line, as the fault suite prints it (everything else is in
benchmarks-lifecycle.json):

${lines.join('\n')}
`;
}

function writeAll(saved, out) {
  mkdirSync(out, { recursive: true });
  writeSection(join(out, 'benchmarks.md'), 'pod_lifecycle', section(saved));
  console.error(`wrote the section "Pods coming and going" of ${join(out, 'benchmarks.md')}`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const o = parseOptions(process.argv.slice(2));
  if (o.child) return childMain(o);
  if (o.render) {
    writeAll(JSON.parse(readFileSync(o.render, 'utf8')), o.out);
    return 0;
  }
  const builds = [{ label: `this build (${commit()})`, binary: o.build, mine: true }];
  if (o.baseline) builds.push({ label: o.baselineLabel, binary: o.baseline, mine: false });
  const saved = { date: new Date().toISOString().slice(0, 10), machine: machineDescription(), commit: commit(), options: o, groups: [] };
  const bad = [];
  for (const scenario of o.scenarios) {
    for (const build of builds) {
      if (!(await supports(build.binary, scenario))) {
        console.error(`${scenario}: ${build.binary} cannot run it; skipped`);
        continue;
      }
      const group = { scenario, label: build.label, binary: build.binary, runs: [] };
      saved.groups.push(group);
      // Counts, not speeds: each build's runs can go one after the other.
      for (let i = 0; i < o.runs; i++) {
        const r = await runChild(o, scenario, build.binary);
        group.runs.push(r);
        console.error(`${scenario}, ${build.label}, run ${i + 1}/${o.runs}: ${r.counts.line}`);
        if (build.mine) for (const p of problems(scenario, r)) bad.push(`${scenario} run ${i + 1}: ${p}`);
      }
    }
  }
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'benchmarks-lifecycle.json'), JSON.stringify(saved, null, 1) + '\n');
  writeAll(saved, o.out);
  for (const b of bad) console.error(`pod_lifecycle: ${b}`);
  return bad.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`pod_lifecycle: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
