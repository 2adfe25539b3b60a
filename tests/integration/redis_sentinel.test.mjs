// The Redis Sentinel fixture itself (redis_sentinel.mjs), no switchboard involved: it starts a
// master, replicas and sentinels that know each other; a key written on the master is on the
// new master after the sentinels fail a killed master over, once; a killed master comes back as
// a replica; with a sentinel password, a frozen master is failed over too, and turned into a
// replica when it wakes; stop leaves no process and no directory behind.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { redisCommand } from './harness.mjs';
import { DEFAULT_MASTER_NAME, startRedisSentinel } from './redis_sentinel.mjs';

// How many times the log of every sentinel says +switch-master: each saw that many failovers.
function switches(rs) {
  return rs.sentinels.map((s) => readFileSync(s.logFile, 'utf8').split('\n').filter((l) => l.includes('+switch-master')).length);
}

// True while process `pid` exists.
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('redis sentinel fixture', { timeout: 60000 }, () => {
  it('fails a killed master over to a replica that has its data, and brings it back as a replica', async (t) => {
    const started = Date.now();
    const rs = await startRedisSentinel({ t });
    t.diagnostic(`started in ${Date.now() - started} ms`);
    assert.equal(rs.nodes.length, 3);
    assert.equal(rs.sentinels.length, 3);
    assert.equal(rs.masterName, DEFAULT_MASTER_NAME);
    assert.equal(rs.sentinelAddresses, rs.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','));
    assert.equal(await rs.master(), 0);
    for (let j = 0; j < 3; j++) {
      assert.deepEqual(await rs.sentinelCommand(j, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', rs.masterName]), ['127.0.0.1', String(rs.nodes[0].port)]);
      assert.equal((await rs.sentinelCommand(j, ['SENTINEL', 'REPLICAS', rs.masterName])).length, 2, `sentinel ${j} knows both replicas`);
      assert.equal((await rs.sentinelCommand(j, ['SENTINEL', 'SENTINELS', rs.masterName])).length, 2, `sentinel ${j} knows both peers`);
    }

    assert.equal(await rs.command(['SET', 'fixture:kept', 'v1']), 'OK');
    await rs.waitForReplication();
    for (const i of [1, 2]) assert.equal(await rs.nodes[i].command(['GET', 'fixture:kept']), 'v1', `replica ${i} has the key`);
    await assert.rejects(rs.nodes[1].command(['SET', 'x', 'y']), /READONLY/);

    await rs.kill(0);
    const { promoted, namedMs, ms } = await rs.waitForFailover(0, { timeoutMs: 20000 });
    t.diagnostic(`failover: named node ${promoted} after ${namedMs} ms, settled after ${ms} ms`);
    assert.ok(promoted === 1 || promoted === 2, `promoted ${promoted}`);
    assert.equal(await rs.master(), promoted);
    for (let j = 0; j < 3; j++) assert.equal(await rs.master({ sentinel: j }), promoted, `sentinel ${j}`);
    assert.equal(await rs.command(['GET', 'fixture:kept']), 'v1');
    assert.equal(await rs.command(['SET', 'fixture:after', 'v2']), 'OK');
    assert.deepEqual(switches(rs), [1, 1, 1], 'one failover, seen by every sentinel');

    const restarted = Date.now();
    await rs.restart(0);
    t.diagnostic(`the old master was back as a replica after ${Date.now() - restarted} ms`);
    assert.equal(await rs.master(), promoted);
    await rs.waitForReplication();
    assert.equal(await rs.nodes[0].command(['GET', 'fixture:kept']), 'v1');
    assert.equal(await rs.nodes[0].command(['GET', 'fixture:after']), 'v2');

    const pids = [...rs.nodes, ...rs.sentinels].map((p) => p.child.pid);
    await rs.stop();
    assert.deepEqual(pids.filter(alive), [], 'no redis-server left');
    assert.equal(existsSync(rs.root), false, 'its directory is removed');
  });

  it('with a sentinel password, fails a frozen master over and makes it a replica when it wakes', async (t) => {
    const rs = await startRedisSentinel({ replicas: 1, sentinelPassword: 'fixture-secret', masterName: 'fixture-master', t });
    assert.equal(rs.masterName, 'fixture-master');
    assert.equal(rs.sentinelPassword, 'fixture-secret');
    await assert.rejects(redisCommand(rs.sentinels[0].port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'fixture-master']), /NOAUTH/);
    assert.equal(await rs.master(), 0);
    assert.equal(await rs.command(['SET', 'fixture:frozen', 'v']), 'OK');
    await rs.waitForReplication();

    rs.signal(0, 'SIGSTOP');
    const { promoted, namedMs, ms } = await rs.waitForFailover(0, { timeoutMs: 20000 });
    t.diagnostic(`failover of a frozen master: named node ${promoted} after ${namedMs} ms, settled after ${ms} ms`);
    assert.equal(promoted, 1);
    assert.equal(await rs.command(['GET', 'fixture:frozen']), 'v');

    rs.signal(0, 'SIGCONT');
    const woke = Date.now();
    await rs.waitForSettled({ master: 1, timeoutMs: 20000 });
    t.diagnostic(`the woken master was a replica after ${Date.now() - woke} ms`);
    assert.match(await rs.nodes[0].command(['INFO', 'replication']), new RegExp(`role:slave\\r\\nmaster_host:127\\.0\\.0\\.1\\r\\nmaster_port:${rs.nodes[1].port}\\r\\n`));
    assert.deepEqual(switches(rs), [1, 1, 1]);
  });
});
