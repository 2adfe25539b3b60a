// Fault (issue 14, part 4): a Redis Sentinel failover under traffic (lifecycle_scenarios.mjs,
// SENTINEL_FAILOVER): 1 master, 2 replicas and 3 sentinels, all real processes; the master is
// killed with SIGKILL. Relaying across pods must be back within RELAY_BACK_MS of the kill (every
// pod up on the new master, and for every ordered pair of pods a message sent after the kill has
// arrived); nothing may be lost silently, reordered or duplicated, and every pair is reachable
// again. bench/pod_lifecycle.mjs runs it longer, with more peers.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertFaultFree, report } from './fault_lib.mjs';
import { SENTINEL_FAILOVER, runScenario } from './lifecycle_scenarios.mjs';

const RELAY_BACK_MS = 10000; // from the kill to every pair of pods relaying again

describe(`fault: ${SENTINEL_FAILOVER.title}`, { timeout: 90000 }, () => {
  it('relays again within 10 s, loses nothing silently, keeps order, and every pair is reachable again', async (t) => {
    const { stats, extra, pods } = await runScenario(SENTINEL_FAILOVER);
    report(t, stats, pods);
    const f = extra.failover;
    t.diagnostic(
      `relaying back ${extra.relayBackMs} ms after the kill; pods redis up at ${JSON.stringify(extra.redisUpMs)} ms; ` +
        `first cross-pod arrival per pod pair ${JSON.stringify(extra.arrivalsMs)} ms; ` +
        `failover: ${f.error ?? `node ${f.promoted} named ${f.namedMs} ms, settled ${f.ms} ms after the kill was done`}`,
    );
    t.diagnostic(`after the kill ${JSON.stringify(extra.afterTheKill)}`);
    if (stats.lostSilently) t.diagnostic(`lost examples: ${stats.lostExamples.join(' | ')}`);
    assertFaultFree(stats);
    assert.ok(
      extra.relayBackMs !== null && extra.relayBackMs < RELAY_BACK_MS,
      `relaying back after ${extra.relayBackMs} ms (at most ${RELAY_BACK_MS}): ${JSON.stringify(extra.arrivalsMs)}`,
    );
  });
});
