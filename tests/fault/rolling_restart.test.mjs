// Fault (issue 14, part 4): a rolling restart under traffic, as a Deployment with maxSurge and
// maxUnavailable: 0 does it (lifecycle_scenarios.mjs, ROLLING_RESTART), with --drain-seconds 1.
// A close with 1001 excuses nothing (fault_lib.mjs, "sender gone"): every frame must be
// delivered or its sender told, in order, without duplicates. bench/pod_lifecycle.mjs runs it
// longer, with more peers and the default drain window.

import { describe, it } from 'node:test';
import { assertFaultFree, report } from './fault_lib.mjs';
import { ROLLING_RESTART, runScenario } from './lifecycle_scenarios.mjs';

describe(`fault: ${ROLLING_RESTART.title}`, { timeout: 120000 }, () => {
  it('loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const { stats, extra, pods } = await runScenario(ROLLING_RESTART);
    report(t, stats, pods);
    t.diagnostic(`rollout ${extra.rolloutMs} ms; every peer connected again: ${extra.reconnected}`);
    assertFaultFree(stats);
  });
});
