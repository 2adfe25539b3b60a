// Fault (issue 14, part 4): a scale-in under traffic (lifecycle_scenarios.mjs, SCALE_DOWN): one
// of 3 pods leaves the endpoints, gets SIGTERM and drains over --drain-seconds 1. A close with
// 1001 excuses nothing (fault_lib.mjs, "sender gone"): every frame must be delivered or its
// sender told, in order, without duplicates. bench/pod_lifecycle.mjs runs it longer, with more
// peers and the default drain window.

import { describe, it } from 'node:test';
import { assertFaultFree, report } from './fault_lib.mjs';
import { SCALE_DOWN, runScenario } from './lifecycle_scenarios.mjs';

describe(`fault: ${SCALE_DOWN.title}`, { timeout: 120000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const { stats, extra, pods } = await runScenario(SCALE_DOWN);
    report(t, stats, pods);
    t.diagnostic(`drain ${extra.drainMs} ms; every peer connected again: ${extra.reconnected}`);
    assertFaultFree(stats);
  });
});
