// Fault 1 (issue 12): a pod frozen with SIGSTOP for longer than the liveness TTL (3 s), then
// SIGCONT. Its peers' connections stay open (the kernel keeps them, and the peers, like a
// browser's WebSocket, have no heartbeat of their own, so they wait); the other pods reap it; when
// it thaws it finds itself reaped and claims its peers again. Counting: fault_lib.mjs.

import { describe, it } from 'node:test';
import {
  FaultRun,
  WARMUP_MS,
  assertFaultFree,
  report,
  sleep,
  startFaultCluster,
  thaw,
} from './fault_lib.mjs';

const FREEZE_MS = 5000;

describe('fault: a pod frozen (SIGSTOP) past the liveness TTL', { timeout: 90000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const env = await startFaultCluster({ tag: 'fz' });
    const run = new FaultRun(env.endpoints);
    const frozen = env.cluster.pods[1];
    t.after(async () => {
      run.stop();
      thaw(frozen);
      await env.cluster.stop();
    });
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    run.faultStarted(`SIGSTOP ${frozen.pod} for ${FREEZE_MS} ms`);
    frozen.signal('SIGSTOP');
    await sleep(FREEZE_MS);
    frozen.signal('SIGCONT');
    run.faultEnded();
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    assertFaultFree(stats);
  });
});
