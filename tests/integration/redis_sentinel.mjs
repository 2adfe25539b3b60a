// A real Redis Sentinel deployment for the integration tests: one master and its replicas
// (redis-server children; no persistence) and sentinels (`redis-server <conf> --sentinel`)
// watching them under one name, all on free ports of 127.0.0.1, each in its own directory with
// its log (a sentinel's with its own writable sentinel.conf, which it rewrites). The timeouts are
// short, so that a failover after the master is killed takes a few seconds, not minutes. Every
// wait polls with a deadline and says what it saw last.
//
//   const rs = await startRedisSentinel({ replicas: 2, sentinels: 3, t });  // 3 nodes, 3 sentinels
//   rs.sentinelAddresses               // '127.0.0.1:p1,127.0.0.1:p2,...': for --redis-sentinels
//   rs.masterName                      // 'switchboard-master' unless masterName was given
//   rs.sentinelPassword                // null unless sentinelPassword was given
//   const m = await rs.master();       // index of the node the sentinels name as master
//   await rs.command(['SET', 'k', 'v']);  // sent to that node
//   await rs.waitForReplication();     // every live replica has processed all of it
//   await rs.kill(m);                  // or rs.signal(m, 'SIGSTOP')
//   const { promoted, namedMs, ms } = await rs.waitForFailover(m, { timeoutMs: 20000 });
//   await rs.restart(m);               // back, as a replica of the new master
//   await rs.sentinelCommand(0, ['SENTINEL', 'MASTER', rs.masterName]);  // AUTH first if need be
//   rs.nodes[i].port, rs.sentinels[j].port   // each has command(), kill(), signal(), restart()
//   await rs.stop();                   // or let t.after do it
//
// startRedisSentinel({ replicas = 2, sentinels = 3, masterName, sentinelPassword, quorum = 2, t })
// (quorum: at most the sentinel count)
// resolves once the deployment can fail over at once: every replica says master_link_status:up,
// and every sentinel names node 0 as master, lists every replica as a plain `slave` whose link
// is ok, lists every other sentinel, and says OK to SENTINEL CKQUORUM (a sentinel that has not yet
// found its peers cannot reach the quorum, nor be elected). With sentinelPassword the sentinels
// have `requirepass` (and `sentinel sentinel-pass`, to speak to each other); the data nodes have
// no password.
//
// waitForFailover(old, { timeoutMs = 20000, replicas = true }) resolves once every live sentinel
// names the same node other than `old`, and that node says role:master (INFO replication): that
// moment is `namedMs` after the call. With `replicas` (the default) it also waits until every
// other live node replicates from it with its link up and every sentinel lists them so, with no
// failover in progress: the deployment is settled again (`ms`), and can fail over once more.
// It resolves {promoted, namedMs, ms}. `old` may be killed or frozen (SIGSTOP); the failover is
// the sentinels' own, never forced.
//
// restart(i) starts a killed node again on its port, empty, as a replica of the node the
// sentinels name as master (if that is another live node), and resolves once the deployment is
// settled; restart(i, { asBefore: true }) starts it with the arguments of its first start (node
// 0 as a master, others as replicas of node 0's port) and resolves as soon as it answers PING: a
// crashed master restarted as it was, which the sentinels turn into a replica of the new master
// some seconds later. A sentinel restarted (rs.sentinels[j].restart()) rereads its rewritten
// sentinel.conf: same id, same peers, the current master.
//
// Nodes and sentinels are told apart by index, in the order they were started; each keeps its
// index (and port) when killed. Needs redis-server ($REDIS_SERVER_BIN, Debian package
// redis-server; the redis-sentinel package is not needed). Redis is spoken to over RESP with the
// harness' redisCommand, and with AUTH first (a small pipeline here) to a sentinel with a
// password.
//
// Timers: `sentinel down-after-milliseconds` DOWN_AFTER_MS, `sentinel failover-timeout`
// FAILOVER_TIMEOUT_MS and `sentinel parallel-syncs` = the replica count are in sentinel.conf.
// Four more are set at every sentinel start with SENTINEL DEBUG (redis >= 7.0), since
// sentinel.conf cannot set them:
//   ping-period 500      PING every 0.5 s, not 1 s. A sentinel's link to a node it has just
//                        been told of (the new master, after a failover) starts its down-after
//                        clock at once, and sends its first PING only one ping-period later:
//                        with both at 1 s, the reply sometimes came too late, the sentinels
//                        flagged the new master down and failed it over again.
//   info-period 1000     INFO to master and replicas every second, not every 10 s: the elected
//                        sentinel skips a replica whose last INFO is older than 5 ping-periods
//                        when the master is down, and with a 10 s period one may well be (then the
//                        failover is aborted, -failover-abort-no-good-slave, and tried again only
//                        after 2 x failover-timeout). It also finds new replicas sooner.
//   publish-period 500   hello messages every 0.5 s, not 2 s: sentinels find each other, and learn
//                        of a new master from the leader, sooner; a stale master is turned into a
//                        replica after 4 of them.
//   tilt-period 5000     a sentinel whose timer stalled for 2 s (frozen with SIGSTOP, a loaded
//                        machine) leaves TILT mode, in which it does nothing, after 5 s, not 30 s.
//
// Learned from redis 7.0.15 here (the self-test, redis_sentinel.test.mjs, prints the timings):
// started and settled in about 0.8 s; after the master is killed the sentinels name a replica,
// which says role:master, after 1.5 to 2.7 s, and all is settled after 2.7 to 4 s (a frozen
// master: about the same); a frozen master woken, or a killed one restarted as it was, is a
// replica of the new one about 3 s later. GET-MASTER-ADDR-BY-NAME names the promoted replica as
// soon as it is promoted, while SENTINEL MASTER still shows the old master's entry, with
// failover_in_progress, until the failover ends. After a failover a sentinel lists its peers as
// master_down (they said the old master was down) for 5 ask-periods (5 s): not waited for.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_SERVER_BIN, freePort, redisCommand, sleep } from './harness.mjs';

export const DEFAULT_MASTER_NAME = 'switchboard-master';
// `sentinel down-after-milliseconds`: a master silent this long is subjectively down.
export const DOWN_AFTER_MS = 1000;
// `sentinel failover-timeout`: also how long a sentinel waits before it tries the same master's
// failover again (twice this), and before it fixes a replica of the wrong master (this).
export const FAILOVER_TIMEOUT_MS = 5000;
// What SENTINEL DEBUG sets at every sentinel start (see the header).
const SENTINEL_DEBUG = ['ping-period', 500, 'info-period', 1000, 'publish-period', 500, 'tilt-period', 5000];
const START_TIMEOUT_MS = 10000;
const SETTLE_TIMEOUT_MS = 30000;
// A command of a poll: a frozen process costs this long, not the harness' 3 s.
const POLL_COMMAND_TIMEOUT_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Processes

const liveChildren = new Set();
const liveRoots = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const root of liveRoots) rmSync(root, { recursive: true, force: true });
});

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

// `commands` on one connection, in order (AUTH + the command); resolves with the last reply, and
// rejects with the first error reply. A minimal RESP reader: the harness' one is not exported.
function pipeline(port, commands, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    let text = '';
    for (const cmd of commands) {
      text += `*${cmd.length}\r\n`;
      for (const a of cmd) text += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
    }
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    // The password is not shown.
    const what = `redis 127.0.0.1:${port} ${commands.map((c) => (c[0] === 'AUTH' ? 'AUTH ***' : c.join(' '))).join(' | ')}`;
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
      try {
        while (replies.length < commands.length) {
          const r = parse(pos);
          if (!r) return;
          replies.push(r.value);
          pos = r.next;
        }
      } catch (err) {
        done(err);
        return;
      }
      const failed = replies.find((v) => v && typeof v === 'object' && 'redisError' in v);
      if (failed) done(new Error(`${what}: ${failed.redisError}`));
      else done(null, replies[replies.length - 1]);
    });
    sock.on('error', (err) => done(new Error(`${what}: ${err.message}`)));
    sock.on('close', () => done(new Error(`${what}: connection closed without a reply`)));
  });
}

// A flat [field, value, field, value...] reply (SENTINEL MASTER, one of SENTINEL REPLICAS) as an
// object.
function fields(flat) {
  const out = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

// One `field:value` line of an INFO reply, or undefined.
function infoField(info, field) {
  const m = new RegExp(`^${field}:(.*?)\\r?$`, 'm').exec(info);
  return m ? m[1] : undefined;
}

// One redis-server child, a data node or a sentinel.
class RedisChild {
  constructor(kind, index, root) {
    this.kind = kind; // 'node' or 'sentinel'
    this.index = index;
    this.root = root;
    this.port = 0;
    this.dir = null;
    this.args = null;
    this.child = null;
    this.output = '';
    this.frozen = false;
  }

  get name() {
    return `${this.kind} ${this.index}`;
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  // Running and not frozen: it answers.
  get usable() {
    return this.running && !this.frozen;
  }

  get logFile() {
    return join(this.dir, `${this.kind}.log`);
  }

  // Starts it on a free port (argsFor(port, dir) gives the arguments, after writing any file they
  // name), retrying with a new port should another process take one first.
  async start(taken, argsFor) {
    let last = '';
    for (let attempt = 0; attempt < 6; attempt++) {
      const port = await freePort();
      if (taken.has(port)) continue;
      this.port = port;
      this.dir = join(this.root, `${this.kind}-${this.index}-${port}`);
      mkdirSync(this.dir, { recursive: true });
      const args = argsFor(port, this.dir);
      try {
        await this._spawn(args);
        this.args = args;
        taken.add(port);
        return;
      } catch (err) {
        last = err.message;
        rmSync(this.dir, { recursive: true, force: true });
        if (/cannot run/.test(last)) break;
      }
    }
    throw new Error(`${this.name}: ${last}`);
  }

  async _spawn(args) {
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    this.frozen = false;
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
        throw new Error(`${this.name} (redis-server on port ${this.port}) exited at start: ${this.output}${this.logTail()}`);
      }
      try {
        if ((await this.command(['PING'], { timeoutMs: 1000 })) === 'PONG') break;
      } catch (err) {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`${this.name} (redis-server on port ${this.port}) not answering PING: ${err.message}${this.logTail()}`);
        }
      }
      await sleep(20);
    }
    try {
      await this._ready();
    } catch (err) {
      await this.kill();
      throw new Error(`${this.name} (redis-server on port ${this.port}) not ready: ${err.message}${this.logTail()}`);
    }
  }

  // After PING answered, at every start (a sentinel sets its timers here).
  async _ready() {}

  // Starts it again after kill(), on the same port, with `args` (default: those of its first
  // start).
  async restart(args = this.args) {
    if (this.running) throw new Error(`${this.name} is running: kill it first`);
    await this._spawn(args);
  }

  // Sends `signal` (SIGSTOP, SIGCONT) to the process, if it runs.
  signal(signal) {
    if (!this.running) return;
    this.child.kill(signal);
    if (signal === 'SIGSTOP') this.frozen = true;
    if (signal === 'SIGCONT') this.frozen = false;
  }

  // One command on it (an error reply rejects).
  command(args, { timeoutMs = 3000 } = {}) {
    return redisCommand(this.port, args, { timeoutMs });
  }

  // SIGKILL, as a crash would (a frozen one too); resolves once it has exited.
  async kill() {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.frozen = false;
  }

  logTail(n = 15) {
    try {
      const lines = readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean);
      return `\n  log of ${this.name} (port ${this.port}):\n${lines.slice(-n).map((l) => `  | ${l}`).join('\n')}`;
    } catch {
      return '';
    }
  }
}

// A data node: master or replica.
class DataNode extends RedisChild {
  constructor(index, root) {
    super('node', index, root);
  }

  // The arguments of a node on `port` in `dir`, a replica of `masterPort` if given.
  static args(port, dir, masterPort) {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--logfile', join(dir, 'node.log'),
      '--daemonize', 'no',
      // A replica's first sync at once (not after 5 s): until it is done it cannot take over.
      '--repl-diskless-sync-delay', '0',
      // Replicas' offsets move every second, as the sentinels see them in INFO.
      '--repl-ping-replica-period', '1',
    ];
    if (masterPort) args.push('--replicaof', '127.0.0.1', String(masterPort));
    return args;
  }

  start(taken, masterPort) {
    return super.start(taken, (port, dir) => DataNode.args(port, dir, masterPort));
  }

  async info() {
    return this.command(['INFO', 'replication'], { timeoutMs: POLL_COMMAND_TIMEOUT_MS });
  }
}

// A sentinel: redis-server <dir>/sentinel.conf --sentinel.
class Sentinel extends RedisChild {
  constructor(index, root, { masterName, masterPort, quorum, parallelSyncs, password }) {
    super('sentinel', index, root);
    this.masterName = masterName;
    this.masterPort = masterPort;
    this.quorum = quorum;
    this.parallelSyncs = parallelSyncs;
    this.password = password;
  }

  // Writes <dir>/sentinel.conf (it must be writable: the sentinel rewrites it with its id, its
  // peers, the replicas and every new master) and gives the arguments that start it.
  _writeConfig(port, dir) {
    const name = this.masterName;
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      `dir "${dir}"`,
      `logfile "${join(dir, 'sentinel.log')}"`,
      `sentinel monitor ${name} 127.0.0.1 ${this.masterPort} ${this.quorum}`,
      `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${name} ${this.parallelSyncs}`,
    ];
    if (this.password !== null) {
      // Clients must AUTH; and a sentinel AUTHs with sentinel-pass to its peers.
      lines.push(`requirepass "${this.password}"`, `sentinel sentinel-pass "${this.password}"`);
    }
    const file = join(dir, 'sentinel.conf');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return [file, '--sentinel'];
  }

  start(taken) {
    return super.start(taken, (port, dir) => this._writeConfig(port, dir));
  }

  async _ready() {
    await this.command(['SENTINEL', 'DEBUG', ...SENTINEL_DEBUG]);
  }

  command(args, { timeoutMs = 3000 } = {}) {
    if (this.password === null) return redisCommand(this.port, args, { timeoutMs });
    return pipeline(this.port, [['AUTH', this.password], args], timeoutMs);
  }

  // The port of the master it names, or null if it names none.
  async masterPortNamed() {
    const addr = await this.command(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName], { timeoutMs: POLL_COMMAND_TIMEOUT_MS });
    return addr ? Number(addr[1]) : null;
  }
}

// ---------------------------------------------------------------------------------------------
// The deployment

export class RedisSentinel {
  constructor({ masterName = DEFAULT_MASTER_NAME, sentinelPassword = null, quorum = 2 } = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'switchboard-sentinel-'));
    liveRoots.add(this.root);
    this.masterName = masterName;
    this.sentinelPassword = sentinelPassword ?? null;
    this.quorum = quorum;
    this.nodes = [];
    this.sentinels = [];
    this._taken = new Set();
  }

  // "127.0.0.1:<port>,..." of every sentinel, dead or alive, in index order: --redis-sentinels.
  get sentinelAddresses() {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  // Starts node 0 (the master), `replicas` nodes replicating it, waits for their first syncs,
  // then starts `sentinels` sentinels and waits until they know every node and each other (see
  // the header).
  async start({ replicas = 2, sentinels = 3 } = {}) {
    if (sentinels < 1) throw new Error('a sentinel deployment needs at least one sentinel');
    const master = new DataNode(0, this.root);
    this.nodes.push(master);
    await master.start(this._taken);
    for (let i = 1; i <= replicas; i++) {
      const node = new DataNode(i, this.root);
      this.nodes.push(node);
      await node.start(this._taken, master.port);
    }
    // The sentinels' first INFO of the master then lists every replica.
    await waitFor('the replicas did not sync', () => this._replicating(0), SETTLE_TIMEOUT_MS);
    const quorum = Math.min(this.quorum, sentinels);
    for (let j = 0; j < sentinels; j++) {
      const sentinel = new Sentinel(j, this.root, {
        masterName: this.masterName,
        masterPort: master.port,
        quorum,
        parallelSyncs: Math.max(1, replicas),
        password: this.sentinelPassword,
      });
      this.sentinels.push(sentinel);
      await sentinel.start(this._taken);
    }
    try {
      await this.waitForSettled({ master: 0, checkQuorum: true });
    } catch (err) {
      throw new Error(`${err.message}${this.sentinels.map((s) => s.logTail(8)).join('')}`);
    }
    return this;
  }

  // Kills every sentinel, then every node, and removes their directories.
  async stop() {
    await Promise.all(this.sentinels.map((s) => s.kill()));
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.root, { recursive: true, force: true });
    liveRoots.delete(this.root);
  }

  _indexOfPort(port) {
    return this.nodes.findIndex((n) => n.port === port);
  }

  // One command on sentinel `j` (with AUTH first if the sentinels have a password).
  sentinelCommand(j, args, options) {
    return this.sentinels[j].command(args, options);
  }

  // The index of the node the sentinels name as master: the answer of the first usable sentinel
  // (or of sentinel `sentinel`), -1 if it names none or a port that is no node's.
  async master({ sentinel } = {}) {
    const asked = sentinel === undefined ? this.sentinels.filter((s) => s.usable) : [this.sentinels[sentinel]];
    let last = 'no sentinel is running';
    for (const s of asked) {
      try {
        const port = await s.masterPortNamed();
        return port === null ? -1 : this._indexOfPort(port);
      } catch (err) {
        last = err.message;
      }
    }
    throw new Error(`no sentinel names a master: ${last}`);
  }

  // Sends `args` to the node the sentinels name as master.
  async command(args, options) {
    const index = await this.master();
    if (index < 0) throw new Error(`the sentinels name no node of ours as master ${this.masterName}`);
    return this.nodes[index].command(args, options);
  }

  // SIGKILL node `i`, as a crash would; resolves once it has exited.
  kill(i) {
    return this.nodes[i].kill();
  }

  // Sends `signal` (SIGSTOP, SIGCONT) to node `i`.
  signal(i, signal) {
    this.nodes[i].signal(signal);
  }

  // Starts killed node `i` again (see the header): by default as a replica of the node the
  // sentinels name as master, resolving once the deployment has settled; with asBefore, with the
  // arguments of its first start, resolving once it answers PING.
  async restart(i, { asBefore = false, timeoutMs = SETTLE_TIMEOUT_MS } = {}) {
    const node = this.nodes[i];
    if (node.running) throw new Error(`node ${i} is running: kill it first`);
    if (asBefore) {
      await node.restart();
      return;
    }
    const master = await this.master();
    if (master < 0 || master === i || !this.nodes[master].usable) {
      throw new Error(`node ${i} cannot restart as a replica: the sentinels name node ${master} as master (use asBefore)`);
    }
    await node.restart(DataNode.args(node.port, node.dir, this.nodes[master].port));
    await this.waitForSettled({ master, timeoutMs });
  }

  // Resolves once every live replica has processed all the master (the node the sentinels name)
  // had when called: its slave_repl_offset reached the master's master_repl_offset.
  async waitForReplication({ timeoutMs = 5000 } = {}) {
    const master = await this.master();
    if (master < 0) throw new Error('the sentinels name no node of ours as master');
    const target = Number(infoField(await this.nodes[master].info(), 'master_repl_offset'));
    await waitFor(
      `the replicas of node ${master} did not reach offset ${target}`,
      async () => {
        for (const node of this.nodes) {
          if (node.index === master || !node.usable) continue;
          const offset = Number(infoField(await node.info(), 'slave_repl_offset'));
          if (!(offset >= target)) return `node ${node.index} is at offset ${offset}`;
        }
        return true;
      },
      timeoutMs,
    );
  }

  // Resolves once the sentinels have failed node `oldIndex` over (see the header):
  // {promoted, namedMs, ms}.
  async waitForFailover(oldIndex, { timeoutMs = 20000, replicas = true } = {}) {
    const old = this.nodes[oldIndex];
    if (this.nodes.filter((n) => n !== old && n.usable).length === 0) {
      throw new Error(`node ${oldIndex} has no live replica to take over`);
    }
    const started = Date.now();
    let promoted = -1;
    let namedMs = null;
    try {
      await waitFor(
        `no failover from node ${oldIndex}`,
        async () => {
          const sentinels = this.sentinels.filter((s) => s.usable);
          if (sentinels.length === 0) return 'no sentinel is running';
          const named = new Map();
          for (const s of sentinels) named.set(s.index, await s.masterPortNamed());
          const ports = new Set(named.values());
          if (ports.size > 1) {
            return `the sentinels disagree: ${[...named].map(([j, p]) => `sentinel ${j} names port ${p}`).join(', ')}`;
          }
          const [port] = ports;
          if (port === old.port) return `the sentinels still name node ${oldIndex}`;
          const index = this._indexOfPort(port);
          if (index < 0) return `the sentinels name port ${port}, no node's`;
          const node = this.nodes[index];
          if (!node.usable) return `the sentinels name node ${index}, which is not running`;
          const role = infoField(await node.info(), 'role');
          if (role !== 'master') return `the sentinels name node ${index}, which says role:${role}`;
          // (Should the sentinels fail this one over too, the time is that of the last.)
          if (index !== promoted) namedMs = Date.now() - started;
          promoted = index;
          return replicas ? this._settled({ master: index }) : true;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${err.message}${this.sentinels.filter((s) => s.running).map((s) => s.logTail(10)).join('')}`);
    }
    return { promoted, namedMs, ms: Date.now() - started };
  }

  // Resolves once the deployment has settled on node `master` (default: the one the sentinels
  // name): see _settled.
  async waitForSettled({ master, checkQuorum = false, timeoutMs = SETTLE_TIMEOUT_MS } = {}) {
    const index = master ?? (await this.master());
    await waitFor(`the sentinels did not settle on node ${index}`, () => this._settled({ master: index, checkQuorum }), timeoutMs);
  }

  // True once every usable node other than `master` replicates it with its link up, else what is
  // not yet so.
  async _replicating(master) {
    const m = this.nodes[master];
    if (!m.usable) return `node ${master} is not running`;
    const role = infoField(await m.info(), 'role');
    if (role !== 'master') return `node ${master} says role:${role}`;
    for (const node of this.nodes) {
      if (node === m || !node.usable) continue;
      const info = await node.info();
      if (infoField(info, 'role') !== 'slave') return `node ${node.index} says role:${infoField(info, 'role')}`;
      if (Number(infoField(info, 'master_port')) !== m.port) return `node ${node.index} replicates port ${infoField(info, 'master_port')}`;
      if (infoField(info, 'master_link_status') !== 'up') return `node ${node.index} says master_link_status:${infoField(info, 'master_link_status')}`;
    }
    return true;
  }

  // True once the deployment is settled on node `master`, else what is not yet so: every usable
  // node replicates it (_replicating), and every usable sentinel names it, sees it as a plain
  // master (no failover in progress), lists every usable replica as a plain slave with its link
  // ok, and every other usable sentinel as a plain sentinel. With checkQuorum: and says OK to
  // SENTINEL CKQUORUM.
  async _settled({ master, checkQuorum = false }) {
    const replicating = await this._replicating(master);
    if (replicating !== true) return replicating;
    const m = this.nodes[master];
    const sentinels = this.sentinels.filter((s) => s.usable);
    if (sentinels.length === 0) return 'no sentinel is running';
    const name = this.masterName;
    const t = { timeoutMs: POLL_COMMAND_TIMEOUT_MS };
    for (const s of sentinels) {
      const port = await s.masterPortNamed();
      if (port !== m.port) return `sentinel ${s.index} names port ${port} (node ${this._indexOfPort(port)}), not node ${master}`;
      // Until a failover ends, this entry is the old master's.
      const entry = fields(await s.command(['SENTINEL', 'MASTER', name], t));
      if (entry.flags !== 'master') return `sentinel ${s.index}'s entry of ${name} (port ${entry.port}) is ${entry.flags}`;
      const known = new Map((await s.command(['SENTINEL', 'REPLICAS', name], t)).map((r) => fields(r)).map((r) => [Number(r.port), r]));
      for (const node of this.nodes) {
        if (node === m || !node.usable) continue;
        const r = known.get(node.port);
        if (!r) return `sentinel ${s.index} does not list node ${node.index} as a replica yet`;
        if (r.flags !== 'slave') return `sentinel ${s.index} sees replica ${node.index} as ${r.flags}`;
        if (Number(r['master-port']) !== m.port || r['master-link-status'] !== 'ok') {
          return `sentinel ${s.index} sees replica ${node.index} on port ${r['master-port']}, link ${r['master-link-status']}`;
        }
      }
      const peers = new Map((await s.command(['SENTINEL', 'SENTINELS', name], t)).map((p) => fields(p)).map((p) => [Number(p.port), p]));
      for (const other of sentinels) {
        if (other === s) continue;
        const p = peers.get(other.port);
        if (!p) return `sentinel ${s.index} does not know sentinel ${other.index} yet`;
        // (master_down, that the peer said the old master was down, stays for 5 ask-periods.)
        if (/\b(s_down|o_down|disconnected)\b/.test(p.flags)) return `sentinel ${s.index} sees sentinel ${other.index} as ${p.flags}`;
      }
      if (checkQuorum) await s.command(['SENTINEL', 'CKQUORUM', name], t);
    }
    return true;
  }
}

// Starts a deployment (see RedisSentinel.start); with `t` (a test context) it is stopped by
// t.after. On failure everything started is stopped before the error is thrown.
export async function startRedisSentinel({ replicas = 2, sentinels = 3, masterName, sentinelPassword, quorum, t } = {}) {
  const rs = new RedisSentinel({ masterName, sentinelPassword, quorum });
  if (t) t.after(() => rs.stop());
  try {
    await rs.start({ replicas, sentinels });
  } catch (err) {
    await rs.stop().catch(() => {});
    throw err;
  }
  return rs;
}
