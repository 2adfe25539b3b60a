// Fault (issue 14, part 4): a scale-in under traffic. One of 3 pods leaves the endpoints, gets
// SIGTERM, closes its peers with 1001 "draining" over --drain-seconds (1 s here) and exits; its
// peers reconnect (same id and token) to one of the two left. A close with 1001 excuses nothing
// (fault_lib.mjs, "sender gone"): every frame must be delivered or its sender told, in order,
// without duplicates.

import { describe, it } from 'node:test';
import {
  FaultRun,
  WARMUP_MS,
  allReconnected,
  assertFaultFree,
  removeFaultPod,
  report,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

const RECONNECT_DEADLINE_MS = 10000;

describe('fault: a scale-down (one pod out of the endpoints, then drained with SIGTERM)', { timeout: 120000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const env = await startFaultCluster({ tag: 'fsd' });
    const run = new FaultRun(env.endpoints);
    const victim = env.cluster.pods[1];
    t.after(async () => {
      run.stop();
      await env.cluster.stop();
    });
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    run.faultStarted(`scale down: ${victim.pod} out of the endpoints, SIGTERM`);
    await removeFaultPod(run, victim);
    // The fault ends when the pod has exited and its peers (every peer, then) are connected to
    // one of the pods left.
    await allReconnected(run, RECONNECT_DEADLINE_MS);
    run.faultEnded();
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    assertFaultFree(stats);
  });
});
