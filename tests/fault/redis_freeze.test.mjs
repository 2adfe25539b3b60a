// Fault 4 (issue 12): Redis frozen with SIGSTOP past the liveness TTL (3 s), then SIGCONT. The
// pods' connections stay open and their commands wait in Redis' socket buffers. A pod counts a
// heartbeat left unanswered for more than the TTL as a lost link: it drops both connections and
// reconnects. Redis, when it thaws, still runs what was in its buffers, and expires the liveness
// keys that lapsed meanwhile (so every pod claims its peers again). Counting: fault_lib.mjs.
//
// Two variants, because whether a pod declares its link lost depends on where its 1 s heartbeat
// tick falls. A pod checks its unanswered heartbeat at each tick (RedisLink::Heartbeat): 3 s after
// sending it, the check sees 3000 ms give or take a millisecond, so "more than the TTL" there is a
// coin toss; 4 s after, it is certain.
//  - frozen 5 s: every pod's certain check comes within the freeze: every pod drops its link.
//  - frozen 3.4 s, pods started 333 ms apart (so their ticks are a third of a second apart): only
//    a pod whose first unanswered heartbeat went out in the first 0.4 s of the freeze can see its
//    3 s check inside the freeze (and then only if the coin says so); the others keep their link.
//    Every pod's liveness key lapses in Redis (at the thaw its last refresh is at least 3.4 s
//    old). So the pods disagree about the link in most freezes; the case freezes
//    Redis four times, 2.5 s apart, so that they disagree at least once (it did in 7 runs of 7).
//    When they disagree, Redis runs at the thaw, in no set order, what the pod that dropped its
//    link left in its old connection, what it sends on its new one, and what the others sent
//    meanwhile to its channels, some before its new subscription and some after. Receipts,
//    stream numbers and detours sort that out (docs/architecture.md, "Receipts").

import { describe, it } from 'node:test';
import {
  FaultRun,
  WARMUP_MS,
  assertFaultFree,
  assertNoFalseAlarmsFrom,
  report,
  sleep,
  startFaultCluster,
  thaw,
} from './fault_lib.mjs';

async function freezeCase(t, { tag, freezeMs, episodes: count, gapMs = 3000, staggerMs = 0 }) {
  const env = await startFaultCluster({ tag, staggerMs });
  const run = new FaultRun(env.endpoints);
  t.after(async () => {
    run.stop();
    thaw(env.redis);
    await env.cluster.stop();
  });
  await run.connectAll();
  run.startTraffic();
  await sleep(WARMUP_MS);
  run.faultStarted(`SIGSTOP redis for ${freezeMs} ms${count > 1 ? `, ${count} times ${gapMs} ms apart` : ''}`);
  const episodes = [];
  for (let i = 0; i < count; i++) {
    if (i) await sleep(gapMs);
    const from = Date.now();
    env.redis.signal('SIGSTOP');
    run.mark(`redis frozen (${i + 1})`);
    await sleep(freezeMs);
    env.redis.signal('SIGCONT');
    episodes.push({ from, to: Date.now() });
    run.mark(`redis thawed (${i + 1})`);
  }
  run.faultEnded();
  const stats = await run.finish();
  report(t, stats, env.cluster.pods);
  // Per freeze: which pods dropped their link (logged "redis lost" during it), and where the
  // frames lost silently during it were going (sender's pod -> target's pod).
  const droppedAny = new Set();
  for (const [i, e] of episodes.entries()) {
    const dropped = env.cluster.pods
      .filter((p) => p.logs.some((o) => o.msg === 'redis lost' && Date.parse(o.ts) >= e.from && Date.parse(o.ts) <= e.to + 500))
      .map((p) => p.pod);
    const lost = {};
    for (const m of stats.lostList) {
      if (m.t < e.from || m.t > e.to) continue;
      const k = `${m.from} -> ${m.to}`;
      lost[k] = (lost[k] ?? 0) + 1;
    }
    t.diagnostic(`freeze ${i + 1}: dropped their link: [${dropped.join(', ')}]; lost silently: ${JSON.stringify(lost)}`);
    for (const pod of dropped) droppedAny.add(pod);
  }
  assertFaultFree(stats);
  assertNoFalseAlarmsFrom(stats, [...droppedAny]);
}

describe('fault: Redis frozen (SIGSTOP)', { timeout: 120000 }, () => {
  it('frozen 5 s (every pod drops its link): loses nothing silently, keeps order, every pair reachable again', (t) =>
    freezeCase(t, { tag: 'fq', freezeMs: 5000, episodes: 1 }));

  it('frozen 3.4 s, four times (pods disagree about the link): loses nothing silently, keeps order, every pair reachable again', (t) =>
    freezeCase(t, { tag: 'fqm', freezeMs: 3400, episodes: 4, gapMs: 2500, staggerMs: 333 }));
});
