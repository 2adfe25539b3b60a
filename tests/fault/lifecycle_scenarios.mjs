// The pod-lifecycle scenarios of issue 14 (a rolling restart, a scale-down, a Redis Sentinel
// failover), written once and run by two callers: the fault suite (tests/fault/*.test.mjs: short,
// bounded, asserted) and bench/pod_lifecycle.mjs (longer runs by hand, more peers, the default
// drain window, figures written to docs/benchmarks.md). Each scenario is the fault only: the
// cluster, the peers, the warm-up and the counting around it are runScenario's, and the counting
// itself is fault_lib.mjs's (delivered, told, excused, lost silently; reordered, duplicated).

import assert from 'node:assert/strict';
import {
  EXIT_TIMEOUT_MS,
  FaultRun,
  PEERS,
  WARMUP_MS,
  addFaultPod,
  allReconnected,
  removeFaultPod,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

const RECONNECT_DEADLINE_MS = 10000; // from the last pod's exit to every peer connected again
const SENTINEL_WAIT_MS = 15000; // how long a failover may last before the run goes on regardless

// How long a SIGTERMed pod may take to exit: its drain window, then fault_lib's allowance.
function exitTimeoutMs(flags) {
  const drain = Number(flags['drain-seconds'] ?? 1);
  return EXIT_TIMEOUT_MS + Math.max(0, drain - 1) * 1000;
}

// Runs `scenario` once and returns {stats (FaultRun.classify's counts), extra (what the scenario
// measured besides), pods (every pod that ran, with its logs)}. Options: `peers` (even; default
// PEERS), `flags` (pod flags on top of fault_lib's POD_FLAGS, for every pod the scenario starts).
// The cluster is stopped however the run ends; a throw from the scenario is rethrown.
export async function runScenario(scenario, { peers = PEERS, flags = {} } = {}) {
  const env = await startFaultCluster({ ...scenario.cluster, flags });
  const run = new FaultRun(env.endpoints, { peers });
  try {
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    const extra = await scenario.fault(env, run, flags);
    const stats = await run.finish();
    return { stats, extra, pods: [...env.cluster.pods] };
  } finally {
    run.stop();
    await env.cluster.stop();
  }
}

// A rolling restart, as a Deployment with maxSurge 1 and maxUnavailable 0 does it: for each of
// the 3 pods in turn a replacement (a new pod id) starts and joins the endpoints once its /readyz
// answers 200; the old pod leaves the endpoints, gets SIGTERM, closes its peers with 1001
// "draining" over --drain-seconds and exits. The peers reconnect (same id and token) to a pod
// chosen at random among the endpoints. extra: {rolloutMs, reconnected}.
export const ROLLING_RESTART = {
  name: 'rolling-restart',
  title: 'a rolling restart (each pod replaced, then drained with SIGTERM)',
  cluster: { tag: 'frr' },
  async fault(env, run, flags) {
    const originals = [...env.cluster.pods];
    run.faultStarted(`rolling restart of ${originals.map((p) => p.pod).join(', ')}`);
    const started = Date.now();
    for (const [i, old] of originals.entries()) {
      await addFaultPod(env, run, `frr-${originals.length + i + 1}`, { flags });
      await removeFaultPod(run, old, { timeoutMs: exitTimeoutMs(flags) });
    }
    const rolloutMs = Date.now() - started;
    // The fault ends when the last old pod has exited and every peer is connected again.
    const reconnected = await allReconnected(run, RECONNECT_DEADLINE_MS);
    run.faultEnded();
    return { rolloutMs, reconnected };
  },
};

// A scale-in: one of 3 pods leaves the endpoints, gets SIGTERM, closes its peers with 1001
// "draining" over --drain-seconds and exits; its peers reconnect (same id and token) to one of
// the two left. extra: {drainMs, reconnected}.
export const SCALE_DOWN = {
  name: 'scale-down',
  title: 'a scale-down (one pod out of the endpoints, then drained with SIGTERM)',
  cluster: { tag: 'fsd' },
  async fault(env, run, flags) {
    const victim = env.cluster.pods[1];
    run.faultStarted(`scale down: ${victim.pod} out of the endpoints, SIGTERM`);
    const started = Date.now();
    await removeFaultPod(run, victim, { timeoutMs: exitTimeoutMs(flags) });
    const drainMs = Date.now() - started;
    // The fault ends when the pod has exited and its peers (every peer, then) are connected to
    // one of the pods left.
    const reconnected = await allReconnected(run, RECONNECT_DEADLINE_MS);
    run.faultEnded();
    return { drainMs, reconnected };
  },
};

// For every ordered pair of distinct pods: when the first message sent at or after `since` by a
// peer on the first pod to its partner on the second arrived (null while none has).
function crossPodArrivals(run, pods, since) {
  const first = {};
  for (const a of pods) for (const b of pods) if (a !== b) first[`${a} -> ${b}`] = null;
  for (const S of run.peers) {
    const T = run.byId.get(S.partnerId);
    for (let i = S.sent.length - 1; i >= 0; i--) {
      const m = S.sent[i];
      if (m.t < since) break;
      const arrived = S.arrived.get(i + 1);
      if (arrived === undefined) continue;
      const tc = T.connAt(m.t);
      if (!tc || tc.pod === m.conn.pod) continue;
      const key = `${m.conn.pod} -> ${tc.pod}`;
      if (key in first && (first[key] === null || arrived < first[key])) first[key] = arrived;
    }
  }
  return first;
}

// What each pod did about the new master: how many (sender, target) pairs it told of frames
// queued in the old one, and how many peers of other pods it reaped (their liveness keys lapsed
// on the new master while their pods were still looking for it).
function afterTheKill(pods, killedAt) {
  const since = (p) => p.logs.filter((o) => Date.parse(o.ts) >= killedAt);
  return Object.fromEntries(
    pods.map((p) => [
      p.pod,
      {
        restartTold: since(p)
          .filter((o) => o.msg.startsWith('redis restarted'))
          .map((o) => o.why),
        peersReaped: since(p)
          .filter((o) => o.msg === 'removed the peers of dead pods')
          .reduce((n, o) => n + Number(o.why), 0),
        livenessLapsed: since(p).some((o) => o.msg.startsWith("this pod's liveness key lapsed")),
      },
    ]),
  );
}

// A Redis Sentinel failover: 1 master, 2 replicas and 3 sentinels, all real processes
// (integration/redis_sentinel.mjs); the pods find the master through the sentinels. The master
// is killed with SIGKILL. Every pod's link drops with it; cross-pod sends are refused with
// "unavailable" (and their ref) until the pods find the master the sentinels promote. The link
// reports a new master (a new run_id) as a restart, so each pod registers its peers there again
// and tells the senders of the frames it had queued in the old master (peer-unavailable
// notices), as after "Redis restarted empty": what the old master had not replicated is gone.
//
// The fault ends when every pod has logged "redis up" after the kill and, for every ordered pair
// of pods (A, B), a message sent after the kill by a peer on A to its partner on B has arrived:
// relaying across pods is back. extra: {relayBackMs (null if not within SENTINEL_WAIT_MS),
// redisUpMs per pod, arrivalsMs per pod pair, failover (the sentinels' side), afterTheKill}.
export const SENTINEL_FAILOVER = {
  name: 'sentinel-failover',
  title: 'a Redis Sentinel failover (master SIGKILL)',
  cluster: { tag: 'fsf', sentinel: true },
  async fault(env, run) {
    const rs = env.redis;
    const podNames = env.cluster.pods.map((p) => p.pod);
    const master = await rs.master();
    assert.ok(master >= 0, 'the sentinels name a master');
    const logsBefore = env.cluster.pods.map((p) => p.logs.length);
    run.faultStarted(`SIGKILL the Redis master (node ${master})`);
    const killedAt = Date.now();
    await rs.kill(master);
    run.mark('master killed');
    // The sentinels' side, for the diagnostics (not waited for beyond the fault).
    const failover = rs.waitForFailover(master, { timeoutMs: 20000 }).then(
      (f) => {
        run.mark(`sentinels name node ${f.promoted} (settled ${f.ms} ms after the kill was done)`);
        return f;
      },
      (err) => ({ error: err.message.split('\n')[0] }),
    );
    // Every pod up again on the new master...
    const upAt = {};
    const ups = env.cluster.pods.map((p, i) =>
      p.waitForRedisUp(logsBefore[i], SENTINEL_WAIT_MS).then(
        (line) => {
          upAt[p.pod] = Date.now();
          run.mark(`${p.pod} redis up (${line.detail ?? ''})`);
        },
        () => {},
      ),
    );
    // ...and every pair of pods relaying again.
    let arrivals;
    for (;;) {
      arrivals = crossPodArrivals(run, podNames, killedAt);
      const allUp = podNames.every((n) => upAt[n] !== undefined);
      if (allUp && Object.values(arrivals).every((v) => v !== null)) break;
      if (Date.now() - killedAt > SENTINEL_WAIT_MS) break;
      await sleep(20);
    }
    run.faultEnded();
    await Promise.all(ups);
    const times = Object.values(arrivals);
    const relayBackMs = times.every((v) => v !== null) ? Math.max(...times) - killedAt : null;
    const since = (at) => (at === undefined || at === null ? null : at - killedAt);
    return {
      relayBackMs,
      redisUpMs: Object.fromEntries(podNames.map((n) => [n, since(upAt[n])])),
      arrivalsMs: Object.fromEntries(Object.entries(arrivals).map(([k, v]) => [k, since(v)])),
      failover: await failover,
      afterTheKill: afterTheKill(env.cluster.pods, killedAt),
    };
  },
};

export const LIFECYCLE_SCENARIOS = [ROLLING_RESTART, SCALE_DOWN, SENTINEL_FAILOVER];
