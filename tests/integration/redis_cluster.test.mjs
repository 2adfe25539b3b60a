// The Redis Cluster fixture itself (redis_cluster.mjs): keySlot agrees with CLUSTER KEYSLOT,
// command() lands on the key's master whatever node it asks first, and a slot migrated with its
// keys is served by its new owner, step by step (ASK in between) and all at once; with replicas,
// a killed master's replica takes over.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc16, keySlot, startRedisCluster } from './redis_cluster.mjs';

describe('redis cluster fixture', { timeout: 60000 }, () => {
  let rc;
  before(async () => {
    rc = await startRedisCluster({ masters: 3 });
  });
  after(async () => {
    if (rc) await rc.stop();
  });

  it('starts three masters that share the slots and agree on them', async () => {
    assert.equal(rc.nodes.length, 3);
    assert.equal(rc.seedUrl, `redis://127.0.0.1:${rc.nodes[0].port}`);
    assert.deepEqual(await rc.masters(), [0, 1, 2]);
    for (const node of rc.nodes) {
      assert.match(await node.command(['CLUSTER', 'INFO']), /cluster_state:ok/);
      assert.deepEqual(await rc.slotsAt(node.index), await rc.slotsAt(0), `CLUSTER SLOTS of node ${node.index}`);
    }
    // redis-cli splits the slots evenly, in node order.
    assert.equal(await rc.masterForSlot(0), 0);
    assert.equal(await rc.masterForSlot(16383), 2);
  });

  it('computes the slot of a key as CLUSTER KEYSLOT does, hash tags included', async () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
    const keys = [
      '', 'foo', 'bar', '123456789', 'user:1000', '{user1000}.following', '{user1000}.followers',
      'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}', '{}', '{', '}', '{{}}', '}{a}', 'a{b}', '{a',
      'sbt:{pod-1}:queue', 'sbt:{peer:42}', 'h\u00e9llo {w\u00f6rld}', '\u{1f600}', 'x'.repeat(300),
    ];
    for (const key of keys) {
      assert.equal(keySlot(key), await rc.nodes[1].command(['CLUSTER', 'KEYSLOT', key]), JSON.stringify(key));
    }
    assert.equal(keySlot('{user1000}.following'), keySlot('user1000'));
    assert.equal(keySlot(Buffer.from('{user1000}x')), keySlot('user1000'));
  });

  it('sends a command to the master of its key and follows MOVED from any node', async () => {
    const key = 'fixture:moved';
    const owner = await rc.masterForSlot(keySlot(key));
    assert.equal(await rc.command(['SET', key, 'v1']), 'OK');
    assert.equal(await rc.nodes[owner].command(['GET', key]), 'v1');
    const other = rc.nodes[(owner + 1) % 3];
    await assert.rejects(other.command(['GET', key]), new RegExp(`MOVED ${keySlot(key)} 127\\.0\\.0\\.1:${rc.nodes[owner].port}`));
    assert.equal(await rc.command(['GET', key]), 'v1');
  });

  it('migrates a slot with its keys, step by step and at once', async () => {
    const key = '{fixture-migrate}.a';
    const slot = keySlot(key);
    const from = await rc.masterForSlot(slot);
    const to = (from + 1) % 3;
    assert.equal(await rc.command(['SET', key, 'moved-value']), 'OK');
    assert.equal(await rc.command(['SET', '{fixture-migrate}.b', 'second']), 'OK');

    await rc.beginMigration(slot, from, to);
    assert.equal(await rc.migrateKeys(slot, from, to, 1), 1);
    await assert.rejects(rc.finishMigration(slot, from, to), /still holds 1 keys/);
    // Mid-migration the source sends the moved key on with ASK; command() finds both keys.
    const answers = await Promise.allSettled([key, '{fixture-migrate}.b'].map((k) => rc.nodes[from].command(['GET', k])));
    assert.equal(answers.filter((a) => a.status === 'rejected' && / ASK /.test(a.reason.message)).length, 1, 'one key answered with ASK');
    assert.equal(await rc.command(['GET', key]), 'moved-value');
    assert.equal(await rc.command(['GET', '{fixture-migrate}.b']), 'second');
    assert.equal(await rc.migrateKeys(slot, from, to), 1);
    assert.equal(await rc.migrateKeys(slot, from, to), 0);
    await rc.finishMigration(slot, from, to);

    assert.equal(await rc.masterForSlot(slot), to);
    for (const node of rc.nodes) assert.equal(await rc.masterForSlot(slot, node.index), to, `per node ${node.index}`);
    assert.equal(await rc.nodes[to].command(['GET', key]), 'moved-value');
    assert.equal(await rc.nodes[from].command(['CLUSTER', 'COUNTKEYSINSLOT', slot]), 0);
    await assert.rejects(rc.nodes[from].command(['GET', key]), new RegExp(`MOVED ${slot} `));
    assert.equal(await rc.command(['GET', key]), 'moved-value');

    // And back in one call.
    await rc.migrateSlot(slot, to, from);
    assert.equal(await rc.masterForSlot(slot), from);
    assert.equal(await rc.nodes[from].command(['GET', key]), 'moved-value');
  });
});

describe('redis cluster fixture with replicas', { timeout: 60000 }, () => {
  it('has a replica take over from a killed master, with its data', async (t) => {
    const rc = await startRedisCluster({ masters: 3, replicasPerMaster: 1, t });
    assert.equal(rc.nodes.length, 6);
    const key = '{fixture-failover}';
    const victim = await rc.masterForSlot(keySlot(key));
    const replicas = await rc.replicasOf(victim);
    assert.equal(replicas.length, 1, `node ${victim} has one replica`);
    assert.equal(await rc.command(['SET', key, 'kept']), 'OK');
    assert.equal(await rc.nodes[victim].command(['WAIT', 1, 2000]), 1, 'the replica has the key');

    await rc.kill(victim);
    const { promoted, forced, ms } = await rc.waitForFailover(victim, { timeoutMs: 15000 });
    t.diagnostic(`failover took ${ms} ms${forced ? ' (takeover forced)' : ' (automatic)'}`);
    assert.equal(promoted, replicas[0]);
    assert.equal(await rc.masterForSlot(keySlot(key)), promoted);
    assert.equal(await rc.command(['GET', key]), 'kept');
    assert.equal((await rc.masters()).length, 3);
  });
});
