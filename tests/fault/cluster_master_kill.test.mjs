// A master of a Redis Cluster killed (SIGKILL) under traffic, in a cluster of 3 masters with one
// replica each; the seed node the pods were given is the one killed. Every pod's link drops with
// it (the link is all masters or none); commands on their way to it fail and their senders are
// told. The cluster promotes the replica; the pods take the slot map from another master and
// relay again. Nothing may be lost silently, reordered or duplicated.

import { describe, it } from 'node:test';
import { startRedisOnCluster } from '../integration/harness.mjs';
import {
  FaultRun,
  WARMUP_MS,
  assertFaultFree,
  assertNoFalseAlarmsFrom,
  report,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

describe('fault: a Redis Cluster master killed (SIGKILL)', { timeout: 120000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const redis = await startRedisOnCluster({ replicasPerMaster: 1 });
    const env = await startFaultCluster({ tag: 'fcm', redis });
    const run = new FaultRun(env.endpoints);
    t.after(async () => {
      run.stop();
      await env.cluster.stop();
    });
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    const logsBefore = env.cluster.pods.map((p) => p.logs.length);
    run.faultStarted('SIGKILL the seed master');
    await redis.redisCluster.kill(0);
    const failover = await redis.redisCluster.waitForFailover(0, { timeoutMs: 20000 });
    // The fault ends when every pod relays through the new master.
    await Promise.all(env.cluster.pods.map((p, i) => p.waitForRedisUp(logsBefore[i], 15000)));
    run.faultEnded();
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    t.diagnostic(`failover took ${failover.ms} ms${failover.forced ? ' (forced)' : ''}`);
    assertFaultFree(stats);
    // A master lost drops every pod's whole link.
    assertNoFalseAlarmsFrom(stats, env.cluster.pods.map((p) => p.pod));
  });
});
