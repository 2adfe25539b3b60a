// A real Redis Cluster for the integration tests: cluster-enabled redis-server children on free
// ports of 127.0.0.1 (each with its own directory, nodes.conf, log and cluster-bus port; no
// persistence), made one cluster by `redis-cli --cluster create`, and what tests do to a live
// cluster: move a slot (at once, or step by step with traffic in between), kill a node and wait
// for its replica to take over. Every wait polls with a deadline and says what it saw last.
//
//   const rc = await startRedisCluster({ masters: 3, replicasPerMaster: 1, t });  // 6 nodes
//   await rc.command(['SET', 'k', 'v']);               // sent to the key's master (MOVED/ASK followed)
//   const from = await rc.masterForSlot(keySlot('k'));
//   await rc.migrateSlot(keySlot('k'), from, (from + 1) % 3);
//   await rc.kill(from);  await rc.waitForFailover(from);
//   await rc.stop();                                    // or let t.after do it
//
// Needs redis-server ($REDIS_SERVER_BIN) and redis-cli ($REDIS_CLI_BIN, Debian package
// redis-tools) on the PATH. Nodes are told apart by index, in the order they were started; a node
// keeps its index (and port) when killed. Redis is spoken to with the harness' redisCommand.
//
// Learned from redis 7.0.15 here: a master says cluster_state:ok no sooner than 2 s after its
// start, whatever the slots; a replica is left out of CLUSTER SLOTS until its replication offset
// moves (the master's first ping to it: --repl-ping-replica-period, 1 s here); and a replica
// whose first sync had not finished when its master died never takes over (hence the wait for
// master_link_status:up, and --repl-diskless-sync-delay 0).

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_SERVER_BIN, freePort, redisCommand, sleep } from './harness.mjs';
import { crc16, keySlot } from './key_layout.mjs';

export const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli';

// --cluster-node-timeout of every node: a silent node is flagged failing after this long, so a
// failover takes about 2.5 s rather than half a minute.
export const NODE_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 10000;
const SETTLE_TIMEOUT_MS = 30000;

// Slots are computed as the pods compute them (key_layout.mjs).
export { crc16, keySlot };

// ---------------------------------------------------------------------------------------------
// Processes

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// Runs a program to its end (killed after timeoutMs); resolves {code, output}.
function run(bin, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => (output += `cannot run ${bin}: ${err.message} (install redis-tools or set REDIS_CLI_BIN)`));
    child.on('close', (code) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      // redis-cli colours its --cluster output.
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') });
    });
  });
}

// Polls `fn` (which returns true when done, or a string saying what is not yet so) every 50 ms
// until it is done; throws `what` with its last answer after timeoutMs.
async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const answer = await fn();
      if (answer === true) return;
      last = String(answer);
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms; last: ${last}`);
    await sleep(50);
  }
}

// `commands` on one connection, in order (for ASKING + the command); resolves with the last reply.
// A minimal RESP reader: the harness' one is not exported.
function pipeline(port, commands, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    let text = '';
    for (const cmd of commands) {
      text += `*${cmd.length}\r\n`;
      for (const a of cmd) text += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
    }
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const what = `redis 127.0.0.1:${port} ${commands.map((c) => c.join(' ')).join(' | ')}`;
    const timer = setTimeout(() => done(new Error(`${what}: no reply within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    function done(err, value) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    }
    function parse(off) {
      const end = buf.indexOf('\r\n', off);
      if (end < 0) return null;
      const line = buf.toString('utf8', off + 1, end);
      const next = end + 2;
      switch (String.fromCharCode(buf[off])) {
        case '+':
          return { value: line, next };
        case '-':
          return { value: { redisError: line }, next };
        case ':':
          return { value: Number(line), next };
        case '$': {
          const n = Number(line);
          if (n < 0) return { value: null, next };
          if (buf.length < next + n + 2) return null;
          return { value: buf.toString('utf8', next, next + n), next: next + n + 2 };
        }
        case '*': {
          const n = Number(line);
          const items = [];
          let pos = next;
          for (let i = 0; i < n; i++) {
            const r = parse(pos);
            if (!r) return null;
            items.push(r.value);
            pos = r.next;
          }
          return { value: n < 0 ? null : items, next: pos };
        }
        default:
          throw new Error(`unexpected RESP reply from ${what}`);
      }
    }
    sock.on('connect', () => sock.write(text));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const replies = [];
      let pos = 0;
      while (replies.length < commands.length) {
        const r = parse(pos);
        if (!r) return;
        replies.push(r.value);
        pos = r.next;
      }
      const failed = replies.find((v) => v && typeof v === 'object' && 'redisError' in v);
      if (failed) done(new Error(`${what}: ${failed.redisError}`));
      else done(null, replies[replies.length - 1]);
    });
    sock.on('error', (err) => done(new Error(`${what}: ${err.message}`)));
    sock.on('close', () => done(new Error(`${what}: connection closed without a reply`)));
  });
}

// The redirect in a rejected command's error, or null: {kind: 'MOVED'|'ASK', slot, port}.
function redirectOf(err) {
  const m = /\b(MOVED|ASK) (\d+) \S*:(\d+)\s*$/.exec(err?.message ?? '');
  return m ? { kind: m[1], slot: Number(m[2]), port: Number(m[3]) } : null;
}

// One cluster-enabled redis-server child.
class ClusterNode {
  constructor(index, root) {
    this.index = index;
    this.root = root;
    this.port = 0;
    this.busPort = 0;
    this.id = null;
    this.child = null;
    this.output = '';
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  // Starts it on a free port with its bus on another free port (so port + 10000 need not be free),
  // retrying with new ports should another process take one first.
  async start(taken) {
    let last = '';
    for (let attempt = 0; attempt < 6; attempt++) {
      const port = await freePort();
      const busPort = await freePort();
      if (port === busPort || taken.has(port) || taken.has(busPort)) continue;
      this.port = port;
      this.busPort = busPort;
      this.dir = join(this.root, String(port));
      mkdirSync(this.dir, { recursive: true });
      const args = [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-port', String(busPort),
        '--cluster-config-file', join(this.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--save', '',
        '--appendonly', 'no',
        '--dir', this.dir,
        '--logfile', join(this.dir, 'redis.log'),
        '--daemonize', 'no',
        // A replica's first sync at once (not after 5 s): until it is done it cannot take over.
        '--repl-diskless-sync-delay', '0',
        // A replica shows in CLUSTER SLOTS once its offset moves: the master's pings move it.
        '--repl-ping-replica-period', '1',
      ];
      try {
        await this._spawn(args);
        this.args = args;
        taken.add(port);
        taken.add(busPort);
        return;
      } catch (err) {
        last = err.message;
        rmSync(this.dir, { recursive: true, force: true });
        if (/cannot run/.test(last)) break;
      }
    }
    throw new Error(`cluster node ${this.index}: ${last}`);
  }

  async _spawn(args) {
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    liveChildren.add(child);
    child.stdout.on('data', (d) => (this.output += d));
    child.stderr.on('data', (d) => (this.output += d));
    let spawnError = null;
    child.on('error', (err) => (spawnError = err));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        liveChildren.delete(child);
        resolve({ code, signal });
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (spawnError) {
        throw new Error(`cannot run ${REDIS_SERVER_BIN} (${spawnError.message}); install redis-server or set REDIS_SERVER_BIN`);
      }
      if (!this.running) {
        await this.exited;
        throw new Error(`redis-server on port ${this.port} exited at start: ${this.output}${this.logTail()}`);
      }
      try {
        if ((await redisCommand(this.port, ['PING'], { timeoutMs: 1000 })) === 'PONG') return;
      } catch (err) {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`redis-server on port ${this.port} not answering PING: ${err.message}${this.logTail()}`);
        }
      }
      await sleep(20);
    }
  }

  // Starts it again after kill(), on the same ports with the same nodes.conf: it rejoins the
  // cluster with its slots and its id, and no data (nothing is saved).
  async restart() {
    if (this.running) throw new Error(`node ${this.index} is running: kill it first`);
    await this._spawn(this.args);
  }

  // Sends `signal` (SIGSTOP, SIGCONT) to the process, if it runs.
  signal(signal) {
    if (this.running) this.child.kill(signal);
  }

  // One command on this node (an error reply rejects, MOVED included).
  command(args, options) {
    return redisCommand(this.port, args, options);
  }

  // SIGKILL, as a crash would; resolves once it has exited.
  async kill() {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  logTail(n = 15) {
    try {
      const lines = readFileSync(join(this.dir, 'redis.log'), 'utf8').split('\n').filter(Boolean);
      return `\n  log of node ${this.index} (port ${this.port}):\n${lines.slice(-n).map((l) => `  | ${l}`).join('\n')}`;
    } catch {
      return '';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The cluster

export class RedisCluster {
  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'switchboard-cluster-'));
    this.nodes = [];
    this._replicasWhenKilled = new Map();
    this._slots = null; // cached CLUSTER SLOTS for command(); dropped on MOVED
  }

  // "redis://127.0.0.1:<port>" of node 0: where a client may start to discover the cluster.
  get seedUrl() {
    return this.nodes[0].url;
  }

  // Starts masters * (1 + replicasPerMaster) nodes, runs redis-cli --cluster create (even slot
  // split over the masters in node order; redis-cli picks the replicas, read back, never assumed),
  // and resolves once every node says cluster_state:ok, knows every node, and all give the same
  // CLUSTER SLOTS, each master listing its replicas, each replica's link to its master up.
  async start({ masters = 3, replicasPerMaster = 0 } = {}) {
    if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
    const count = masters * (1 + replicasPerMaster);
    const taken = new Set();
    for (let i = 0; i < count; i++) {
      const node = new ClusterNode(i, this.root);
      this.nodes.push(node);
      await node.start(taken);
    }
    for (const node of this.nodes) node.id = await node.command(['CLUSTER', 'MYID']);
    const args = [
      '--cluster', 'create',
      ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicasPerMaster),
      '--cluster-yes',
    ];
    const { code, output } = await run(REDIS_CLI_BIN, args, 60000);
    if (code !== 0) throw new Error(`${REDIS_CLI_BIN} ${args.join(' ')} failed (exit ${code}):\n${output}`);
    try {
      await waitFor('the cluster did not settle', () => this._settled({ requireOk: true, masters, replicas: replicasPerMaster }), SETTLE_TIMEOUT_MS);
    } catch (err) {
      throw new Error(`${err.message}\nredis-cli said:\n${output}`);
    }
    return this;
  }

  // Kills every node and removes their directories.
  async stop() {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }

  // Node `index`'s CLUSTER SLOTS as [{first, last, master: port, replicas: [port, ...] sorted}],
  // sorted by first slot.
  async slotsAt(index) {
    const reply = await this.nodes[index].command(['CLUSTER', 'SLOTS']);
    return reply
      .map((range) => ({
        first: range[0],
        last: range[1],
        master: range[2][1],
        replicas: range.slice(3).map((n) => n[1]).sort((a, b) => a - b),
      }))
      .sort((a, b) => a.first - b.first);
  }

  _firstAlive() {
    const node = this.nodes.find((n) => n.running);
    if (!node) throw new Error('no cluster node is running');
    return node.index;
  }

  _indexOfPort(port) {
    return this.nodes.findIndex((n) => n.port === port);
  }

  // The index of the node serving `slot` as node `askedIndex` (default: the first live one) sees
  // it; -1 if none.
  async masterForSlot(slot, askedIndex = this._firstAlive()) {
    const range = (await this.slotsAt(askedIndex)).find((r) => r.first <= slot && slot <= r.last);
    return range ? this._indexOfPort(range.master) : -1;
  }

  // The indexes, ascending, of the nodes that serve slots.
  async masters() {
    const ports = new Set((await this.slotsAt(this._firstAlive())).map((r) => r.master));
    return [...ports].map((p) => this._indexOfPort(p)).filter((i) => i >= 0).sort((a, b) => a - b);
  }

  // The indexes of the nodes that replicate node `index` (CLUSTER NODES of the first live node).
  async replicasOf(index) {
    const text = await this.nodes[this._firstAlive()].command(['CLUSTER', 'NODES']);
    const out = [];
    for (const line of text.split('\n')) {
      const [, address, , masterId] = line.split(' ');
      if (masterId === this.nodes[index].id) out.push(this._indexOfPort(Number(/:(\d+)@/.exec(address)[1])));
    }
    return out.filter((i) => i >= 0).sort((a, b) => a - b);
  }

  // Sends `args` to the master of its key's slot and follows MOVED (the slot map is read again) and
  // ASK (ASKING first, on the same connection), up to 5 times. The key is args[1] unless `key` is
  // given; a command without one goes to the first live node.
  async command(args, { key = args[1] } = {}) {
    let port;
    if (key === undefined) {
      port = this.nodes[this._firstAlive()].port;
    } else {
      const slot = keySlot(key);
      if (!this._slots) this._slots = await this.slotsAt(this._firstAlive());
      const range = this._slots.find((r) => r.first <= slot && slot <= r.last);
      port = range ? range.master : this.nodes[this._firstAlive()].port;
    }
    let asking = false;
    for (let hop = 0; ; hop++) {
      try {
        return asking ? await pipeline(port, [['ASKING'], args]) : await redisCommand(port, args);
      } catch (err) {
        const redirect = redirectOf(err);
        if (!redirect || hop >= 5) throw err;
        if (redirect.kind === 'MOVED') this._slots = null;
        asking = redirect.kind === 'ASK';
        port = redirect.port;
      }
    }
  }

  // --- Moving a slot (live resharding, as redis-cli --cluster reshard does it) ---------------

  // All of it: beginMigration, migrateKeys until none is left, finishMigration. Keys keep their
  // values and TTLs.
  async migrateSlot(slot, fromIndex, toIndex) {
    await this.beginMigration(slot, fromIndex, toIndex);
    while ((await this.migrateKeys(slot, fromIndex, toIndex, 100)) > 0) {
      // next batch
    }
    await this.finishMigration(slot, fromIndex, toIndex);
  }

  // CLUSTER SETSLOT <slot> IMPORTING on the target, then MIGRATING on the source (which must serve
  // the slot). From then on the source answers -ASK for a key of the slot it no longer holds.
  async beginMigration(slot, fromIndex, toIndex) {
    const [from, to] = this._pair(fromIndex, toIndex);
    const owner = await this.masterForSlot(slot, fromIndex);
    if (owner !== fromIndex) throw new Error(`slot ${slot} is served by node ${owner}, not ${fromIndex}`);
    await to.command(['CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id]);
    await from.command(['CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id]);
  }

  // Moves up to maxKeys keys of the slot (CLUSTER GETKEYSINSLOT, one MIGRATE ... REPLACE KEYS);
  // resolves with how many it moved (0: none left on the source).
  async migrateKeys(slot, fromIndex, toIndex, maxKeys = 100) {
    const [from, to] = this._pair(fromIndex, toIndex);
    const keys = await from.command(['CLUSTER', 'GETKEYSINSLOT', slot, maxKeys]);
    if (keys.length === 0) return 0;
    const answer = await from.command(['MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'REPLACE', 'KEYS', ...keys], { timeoutMs: 10000 });
    if (answer !== 'OK' && answer !== 'NOKEY') throw new Error(`MIGRATE from node ${fromIndex}: ${answer}`);
    return keys.length;
  }

  // CLUSTER SETSLOT <slot> NODE <target> on the target, the source, then every other live master;
  // resolves once every live node's CLUSTER SLOTS says the target serves it. Refused while the
  // source still holds keys of the slot.
  async finishMigration(slot, fromIndex, toIndex, { timeoutMs = 10000 } = {}) {
    const [from, to] = this._pair(fromIndex, toIndex);
    const left = await from.command(['CLUSTER', 'COUNTKEYSINSLOT', slot]);
    if (left !== 0) throw new Error(`node ${fromIndex} still holds ${left} keys of slot ${slot}: migrateKeys until it resolves 0`);
    const others = (await this.masters()).filter((i) => i !== fromIndex && i !== toIndex);
    for (const index of [toIndex, fromIndex, ...others]) {
      await this.nodes[index].command(['CLUSTER', 'SETSLOT', slot, 'NODE', to.id]);
    }
    this._slots = null;
    await this.waitForOwner(slot, toIndex, { timeoutMs });
  }

  // Undoes beginMigration (CLUSTER SETSLOT <slot> STABLE on both), for keys not moved yet.
  async cancelMigration(slot, fromIndex, toIndex) {
    const [from, to] = this._pair(fromIndex, toIndex);
    await from.command(['CLUSTER', 'SETSLOT', slot, 'STABLE']);
    await to.command(['CLUSTER', 'SETSLOT', slot, 'STABLE']);
  }

  // Resolves once every live node's CLUSTER SLOTS says node `index` serves `slot`.
  async waitForOwner(slot, index, { timeoutMs = 10000 } = {}) {
    await waitFor(
      `slot ${slot} not on node ${index} everywhere`,
      async () => {
        for (const node of this.nodes) {
          if (!node.running) continue;
          const seen = await this.masterForSlot(slot, node.index);
          if (seen !== index) return `node ${node.index} says node ${seen} serves it`;
        }
        return this._settled({});
      },
      timeoutMs,
    );
  }

  _pair(fromIndex, toIndex) {
    const from = this.nodes[fromIndex];
    const to = this.nodes[toIndex];
    if (!from || !to || from === to) throw new Error(`bad node pair ${fromIndex} -> ${toIndex}`);
    if (!from.running || !to.running) throw new Error(`a node of the pair ${fromIndex} -> ${toIndex} is not running`);
    return [from, to];
  }

  // --- Failures ---------------------------------------------------------------------------------

  // SIGKILL node `index`, as a crash would (its replicas are noted first, for waitForFailover).
  async kill(index) {
    const node = this.nodes[index];
    if (!node.running) return;
    this._replicasWhenKilled.set(index, await this.replicasOf(index).catch(() => []));
    await node.kill();
    this._slots = null;
  }

  // Resolves once a replica of killed node `index` serves in its place: it is a master, no live
  // node's CLUSTER SLOTS names the killed node, and all live nodes say cluster_state:ok and give
  // the same CLUSTER SLOTS. The failover is the cluster's own (FAIL after NODE_TIMEOUT_MS, then an
  // election; about 2.5 s here). Only if no replica has taken over after 6 node timeouts (and the
  // timeout leaves 2 s) is it forced with CLUSTER FAILOVER TAKEOVER. Resolves
  // {promoted: index, forced, ms}.
  async waitForFailover(index, { timeoutMs = 15000 } = {}) {
    const killed = this.nodes[index];
    if (killed.running) throw new Error(`node ${index} is running: kill it first`);
    let replicas = this._replicasWhenKilled.get(index) ?? (await this.replicasOf(index));
    replicas = replicas.filter((i) => this.nodes[i].running);
    if (replicas.length === 0) throw new Error(`node ${index} has no live replica to take over`);
    const started = Date.now();
    let forced = false;
    let promoted = -1;
    try {
      await waitFor(
        `no failover of node ${index}`,
        async () => {
          promoted = -1;
          for (const r of replicas) {
            const role = await this.nodes[r].command(['ROLE']);
            if (role[0] === 'master') promoted = r;
          }
          if (promoted < 0) {
            const now = Date.now();
            if (!forced && now - started >= 6 * NODE_TIMEOUT_MS && now + 2000 < started + timeoutMs) {
              forced = true;
              await this.nodes[replicas[0]].command(['CLUSTER', 'FAILOVER', 'TAKEOVER']);
            }
            return `no replica of node ${index} is a master yet${forced ? ' (takeover forced)' : ''}`;
          }
          const settled = await this._settled({ requireOk: true });
          if (settled !== true) return settled;
          const stale = (await this.slotsAt(this._firstAlive())).find((r) => r.master === killed.port);
          return stale ? `slots ${stale.first}-${stale.last} are still on the killed node` : true;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${err.message}${this.nodes[replicas[0]].logTail()}`);
    }
    this._slots = null;
    return { promoted, forced, ms: Date.now() - started };
  }

  // True once the live nodes have settled, else what is not yet so: each knows every node, says
  // cluster_state:ok (with requireOk), and all give the same CLUSTER SLOTS. With `masters`: that
  // many serve slots. With `replicas`: each master lists that many, every node is in the map, and
  // every replica's link to its master is up.
  async _settled({ requireOk = false, masters, replicas } = {}) {
    let first = null;
    for (const node of this.nodes) {
      if (!node.running) continue;
      const info = await node.command(['CLUSTER', 'INFO']);
      if (requireOk && !info.includes('cluster_state:ok')) return `node ${node.index} does not say cluster_state:ok`;
      if (!info.includes(`cluster_known_nodes:${this.nodes.length}\r\n`)) return `node ${node.index} does not know every node yet`;
      const view = JSON.stringify(await this.slotsAt(node.index));
      if (first === null) first = view;
      else if (view !== first) return `node ${node.index} gives another CLUSTER SLOTS than the first live node`;
    }
    if (first === null) return 'no node is running';
    const ranges = JSON.parse(first);
    const serving = new Set(ranges.map((r) => r.master));
    if (masters !== undefined && serving.size !== masters) return `${serving.size} masters serve slots, not ${masters}`;
    if (replicas === undefined) return true;
    const replicaPorts = new Set();
    for (const r of ranges) {
      if (r.replicas.length !== replicas) return `slots ${r.first}-${r.last} list ${r.replicas.length} replicas, not ${replicas}`;
      for (const p of r.replicas) replicaPorts.add(p);
    }
    for (const node of this.nodes) {
      if (!node.running) continue;
      if (replicaPorts.has(node.port)) {
        const info = await node.command(['INFO', 'replication']);
        if (!info.includes('master_link_status:up')) return `replica ${node.index} has not finished its first sync`;
      } else if (!serving.has(node.port)) {
        return `node ${node.index} neither serves slots nor replicates yet`;
      }
    }
    return true;
  }
}

// Starts a cluster (see RedisCluster.start); with `t` (a test context) it is stopped by t.after.
// On failure everything started is stopped before the error is thrown.
export async function startRedisCluster({ masters = 3, replicasPerMaster = 0, t } = {}) {
  const cluster = new RedisCluster();
  if (t) t.after(() => cluster.stop());
  try {
    await cluster.start({ masters, replicasPerMaster });
  } catch (err) {
    await cluster.stop().catch(() => {});
    throw err;
  }
  return cluster;
}
