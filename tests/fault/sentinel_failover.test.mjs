// A Redis Sentinel failover (issue 14, part 4) under traffic: 1 master, 2 replicas and 3
// sentinels, all real processes (integration/redis_sentinel.mjs); the pods are started with
// --redis-sentinels / --redis-sentinel-master, no --redis-url. The master is killed with SIGKILL.
// Every pod's link drops with it; cross-pod sends are refused with "unavailable" (and their ref)
// until the pods find the master the sentinels promote. The link reports a new master (a new
// run_id) as a restart, so each pod registers its peers there again and tells the senders of the
// frames it had queued in the old master (peer-unavailable notices), as after "Redis restarted
// empty" (redis_restart): what the old master had not replicated is gone with it.
//
// The fault ends when every pod has logged "redis up" after the kill and, for every ordered pair
// of pods (A, B), a message sent after the kill by a peer on A to its partner on B has arrived:
// relaying across pods is back. That must happen within RELAY_BACK_MS of the kill. Nothing may
// be lost silently, reordered or duplicated, and every pair is reachable again.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FaultRun,
  WARMUP_MS,
  assertFaultFree,
  report,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

const RELAY_BACK_MS = 10000; // from the kill to every pair of pods relaying again
const WAIT_MS = 15000; // how long the fault may last before the run goes on regardless

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

describe('fault: a Redis Sentinel failover (master SIGKILL)', { timeout: 90000 }, () => {
  it('relays again within 10 s, loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const env = await startFaultCluster({ tag: 'fsf', sentinel: true });
    const rs = env.redis;
    const run = new FaultRun(env.endpoints);
    t.after(async () => {
      run.stop();
      await env.cluster.stop();
    });
    const podNames = env.cluster.pods.map((p) => p.pod);
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
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
      (err) => ({ error: err.message }),
    );
    // Every pod up again on the new master...
    const upAt = {};
    const ups = env.cluster.pods.map((p, i) =>
      p.waitForRedisUp(logsBefore[i], WAIT_MS).then(
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
      if (Date.now() - killedAt > WAIT_MS) break;
      await sleep(20);
    }
    run.faultEnded();
    await Promise.all(ups);
    const relayedAt = Object.values(arrivals).every((v) => v !== null) ? Math.max(...Object.values(arrivals)) : null;
    const relayBackMs = relayedAt === null ? null : relayedAt - killedAt;
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    const f = await failover;
    t.diagnostic(
      `relaying back ${relayBackMs} ms after the kill; pods redis up at ` +
        `${JSON.stringify(Object.fromEntries(podNames.map((n) => [n, upAt[n] === undefined ? null : upAt[n] - killedAt])))} ms; ` +
        `first cross-pod arrival per pod pair ${JSON.stringify(Object.fromEntries(Object.entries(arrivals).map(([k, v]) => [k, v === null ? null : v - killedAt])))} ms; ` +
        `failover: ${f.error ? f.error.split('\n')[0] : `node ${f.promoted} named ${f.namedMs} ms, settled ${f.ms} ms after the kill was done`}`,
    );
    // What each pod did about the new master: how many (sender, target) pairs it told of frames
    // queued in the old one, and how many peers of other pods it reaped (their liveness keys
    // lapsed on the new master while their pods were still looking for it).
    const since = (p) => p.logs.filter((o) => Date.parse(o.ts) >= killedAt);
    t.diagnostic(
      `after the kill ${JSON.stringify(
        Object.fromEntries(
          env.cluster.pods.map((p) => [
            p.pod,
            {
              restartTold: since(p).filter((o) => o.msg.startsWith('redis restarted')).map((o) => o.why),
              peersReaped: since(p).filter((o) => o.msg === 'removed the peers of dead pods').reduce((n, o) => n + Number(o.why), 0),
              livenessLapsed: since(p).some((o) => o.msg.startsWith("this pod's liveness key lapsed")),
            },
          ]),
        ),
      )}`,
    );
    if (stats.lostSilently) t.diagnostic(`lost examples: ${stats.lostExamples.join(' | ')}`);
    assertFaultFree(stats);
    assert.ok(relayBackMs !== null && relayBackMs < RELAY_BACK_MS, `relaying back after ${relayBackMs} ms (at most ${RELAY_BACK_MS}): ${JSON.stringify(arrivals)}`);
  });
});
