// Fault 5 (issue 12): the link between one pod and Redis cut for 5 s (past the liveness TTL),
// everything else untouched. The pod runs in a network namespace of the suite's own and reaches
// Redis over a veth pair with link-local addresses that exist only inside the suite's two
// namespaces; the cut is `ip link set down` on the pod's end, so packets are dropped (no reset:
// Redis keeps the pod's old connections, subscription included, open all along). The peers reach
// that pod through a Unix socket into its namespace, which the cut does not touch. See
// fault_lib.mjs (NetnsPod) for the plumbing, and for the counting.
//
// Why a namespace and not a proxy in this process: a proxy that stops forwarding cannot drop
// packets, only stop reading, and it would sit in the same event loop as the 200 peers.
//
// On a Redis Cluster (SWITCHBOARD_TEST_REDIS=cluster) the pod must reach every node at the
// address the cluster names, so the cut is made with iptables instead (IptablesCut): the pod runs
// as its own user, and the packets of its connections to the nodes are dropped.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, Cluster, TEST_ON_CLUSTER, startPod, startRedis, uniquePrefix } from '../integration/harness.mjs';
import {
  CUT_UID,
  FaultRun,
  IptablesCut,
  NetnsPod,
  POD_FLAGS,
  WARMUP_MS,
  assertFaultFree,
  assertNoFalseAlarmsFrom,
  report,
  sleep,
  tcpEndpoint,
  unixEndpoint,
} from './fault_lib.mjs';

const CUT_MS = 5000;
const TAG = 'fl';

const canNetns = (() => {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 ? true : `ip netns does not work here: ${r.stderr}`;
})();

// The run both cases share: traffic between every pod's peers, the link of `isolated` cut
// (`link.cut()`) for CUT_MS, then restored, and every frame counted.
async function cutLink(t, run, cluster, isolated, link, what) {
  await run.connectAll();
  assert.ok(
    run.peers.some((p) => p.conn?.pod === isolated.pod),
    'some peers are on the pod whose link is cut',
  );
  run.startTraffic();
  await sleep(WARMUP_MS);
  run.faultStarted(`link ${isolated.pod} <-> ${what} cut for ${CUT_MS} ms`);
  link.cut();
  await sleep(CUT_MS);
  link.restore();
  run.faultEnded();
  const stats = await run.finish();
  report(t, stats, cluster.pods);
  assertFaultFree(stats);
  assertNoFalseAlarmsFrom(stats, [isolated.pod]);
}

describe('fault: the link between one pod and Redis cut', { timeout: 90000 }, () => {
  it(
    'loses nothing silently, keeps order, and every pair is reachable again',
    {
      skip: TEST_ON_CLUSTER ? 'on a cluster: the case below' : canNetns === true ? false : canNetns,
    },
    async (t) => {
      const redis = await startRedis();
      const prefix = uniquePrefix(TAG);
      const cluster = new Cluster(redis, prefix);
      const ns = new NetnsPod();
      let run = null;
      t.after(async () => {
        run?.stop();
        try {
          await cluster.stop();
        } finally {
          await ns.destroy();
        }
      });
      cluster.pods = await Promise.all(
        [1, 2].map((i) => startPod(redis, { prefix, pod: `${TAG}-${i}`, flags: POD_FLAGS })),
      );
      ns.create();
      const isolated = await ns.startPod(redis, { prefix, pod: `${TAG}-3` });
      cluster.pods.push(isolated);
      run = new FaultRun([...cluster.pods.slice(0, 2).map(tcpEndpoint), unixEndpoint(isolated, ns.ingressSock)]);
      await cutLink(t, run, cluster, isolated, ns, 'redis');
    },
  );

  const canCut = TEST_ON_CLUSTER ? IptablesCut.available() : 'only on a cluster (SWITCHBOARD_TEST_REDIS=cluster)';
  it(
    'on a Redis Cluster (cut with iptables): loses nothing silently, keeps order, and every pair is reachable again',
    { skip: canCut === true ? false : canCut },
    async (t) => {
      const redis = await startRedis();
      const prefix = uniquePrefix(`${TAG}c`);
      const cluster = new Cluster(redis, prefix);
      const cut = new IptablesCut(redis.redisCluster.nodes.map((n) => n.port));
      const bin = IptablesCut.runnableCopy(BIN);
      let run = null;
      t.after(async () => {
        run?.stop();
        cut.restore();
        await cluster.stop();
      });
      cluster.pods = await Promise.all(
        [1, 2, 3].map((i) =>
          startPod(redis, { prefix, pod: `${TAG}c-${i}`, flags: POD_FLAGS, ...(i === 3 ? { uid: CUT_UID, bin } : {}) }),
        ),
      );
      const isolated = cluster.pods[2];
      run = new FaultRun(cluster.pods.map(tcpEndpoint));
      await cutLink(t, run, cluster, isolated, cut, 'every cluster node');
    },
  );
});
