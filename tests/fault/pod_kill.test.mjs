// Fault 2 (issue 12): a pod killed with SIGKILL under traffic. Its peers' connections die with
// it; they reconnect (same id and token) to a pod chosen at random, and one that picks the dead
// pod is refused and tries again. Frames that were inside the dead process are excused (see
// fault_lib.mjs: "sender gone", "target's pod killed"); everything else must be delivered or
// told. The killed pod stays dead: the final round runs on the two that are left.

import { describe, it } from 'node:test';
import {
  FaultRun,
  WARMUP_MS,
  assertFaultFree,
  report,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

describe('fault: a pod killed (SIGKILL)', { timeout: 90000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const env = await startFaultCluster({ tag: 'fk' });
    const run = new FaultRun(env.endpoints);
    const victim = env.cluster.pods[1];
    t.after(async () => {
      run.stop();
      await env.cluster.stop();
    });
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    run.faultStarted(`SIGKILL ${victim.pod}`);
    victim.signal('SIGKILL');
    run.podKilled(victim.pod);
    await victim.exited;
    // The fault "ends" when the dead pod's peers are all connected elsewhere.
    const displaced = run.peers.filter((p) => p.conns.some((c) => c.killedAt !== null));
    for (;;) {
      if (displaced.every((p) => p.conn && p.conn.pod !== victim.pod)) break;
      if (Date.now() - run.faultStart > 10000) break;
      await sleep(20);
    }
    run.faultEnded();
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    assertFaultFree(stats);
  });
});
