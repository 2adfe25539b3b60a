// Fault 3 (issue 12): Redis killed with SIGKILL and started again, empty, on the same port, while
// some peers are away (they left on purpose just before, so that frames for them are queued in
// Redis when it dies). Frames queued in the Redis that died are gone with it: their senders must
// be told (peer-unavailable); cross-pod sends while Redis is down must be refused with
// "unavailable" and their ref; the away peers come back within --expire-ms of leaving and get
// whatever was queued for them in the new Redis. Counting: fault_lib.mjs.

import { describe, it } from 'node:test';
import {
  FaultRun,
  WARMUP_MS,
  assertFaultFree,
  assertNoFalseAlarmsFrom,
  report,
  sleep,
  startFaultCluster,
} from './fault_lib.mjs';

const AWAY_BEFORE_KILL_MS = 1000; // frames queue for the away peers this long before Redis dies
const REDIS_DOWN_MS = 1500;
const AWAY_MS = 4000; // < --expire-ms (5000): the away peers come back in time for the new queue

describe('fault: Redis restarted empty while some peers are away', { timeout: 90000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const env = await startFaultCluster({ tag: 'fr' });
    const run = new FaultRun(env.endpoints);
    t.after(async () => {
      run.stop();
      await env.cluster.stop();
    });
    await run.connectAll();
    run.startTraffic();
    await sleep(WARMUP_MS);
    // One in ten peers goes away; their partners stay and keep sending to them.
    const away = run.peers.filter((p) => p.index % 20 === 0 || p.index % 20 === 7);
    run.faultStarted(`${away.length} peers away, then Redis SIGKILL + restart empty after ${REDIS_DOWN_MS} ms`);
    const leftAt = Date.now();
    await run.leave(away);
    await sleep(AWAY_BEFORE_KILL_MS);
    await env.redis.kill('SIGKILL');
    run.mark('redis killed');
    await sleep(REDIS_DOWN_MS);
    await env.redis.start();
    run.mark('redis started (empty)');
    await sleep(Math.max(0, leftAt + AWAY_MS - Date.now()));
    run.rejoin(away);
    run.faultEnded();
    const stats = await run.finish();
    report(t, stats, env.cluster.pods);
    assertFaultFree(stats);
    assertNoFalseAlarmsFrom(stats, env.cluster.pods.map((p) => p.pod)); // Redis died: every link
  });
});
