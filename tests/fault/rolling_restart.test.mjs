// Fault (issue 14, part 4): a rolling restart under traffic, as a Deployment with maxSurge and
// maxUnavailable: 0 does it. For each of the 3 pods in turn: a replacement (a new pod id) starts
// and joins the endpoints once its /readyz answers 200; the old pod leaves the endpoints, gets
// SIGTERM, closes its peers with 1001 "draining" over --drain-seconds (1 s here) and exits. The
// peers reconnect (same id and token) to a pod chosen at random among the endpoints. A close
// with 1001 excuses nothing (fault_lib.mjs, "sender gone"): every frame must be delivered or its
// sender told, in order, without duplicates.

import { describe, it } from 'node:test';
import {
  FaultRun,
  WARMUP_MS,
  addFaultPod,
  allReconnected,
  assertFaultFree,
  removeFaultPod,
  report,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

const RECONNECT_DEADLINE_MS = 10000;

describe('fault: a rolling restart (each pod replaced, then drained with SIGTERM)', { timeout: 120000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const env = await startFaultCluster({ tag: 'frr' });
    const run = new FaultRun(env.endpoints);
    t.after(async () => {
      run.stop();
      await env.cluster.stop();
    });
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    const originals = [...env.cluster.pods];
    run.faultStarted(`rolling restart of ${originals.map((p) => p.pod).join(', ')}`);
    for (const [i, old] of originals.entries()) {
      await addFaultPod(env, run, `frr-${originals.length + i + 1}`);
      await removeFaultPod(run, old);
    }
    // The fault ends when the last old pod has exited and every peer is connected again.
    await allReconnected(run, RECONNECT_DEADLINE_MS);
    run.faultEnded();
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    assertFaultFree(stats);
  });
});
