// Test harness for the Switchboard integration tests (docs/protocol.md is the contract).
//
//   const srv = await startServer({ 'expire-ms': 300 });   // stopped by an `after` hook
//   const a = await connectPeer(srv, 'A');                   // open + await welcome
//   a.send({ type: 'ping', id: 1 });
//   const pong = await a.next();                             // next JSON frame (times out clearly)
//
// The binary is $SWITCHBOARD_BIN, else <repo>/build/switchboard.
//
// Run:   cd tests && npm ci && npm test                 (all files, one at a time)
//        node --test --test-reporter=spec integration/drain.test.mjs      (one file)
//        node --test --test-name-pattern='ping' integration/             (matching tests)

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { redisKeys } from './key_layout.mjs';

export { WebSocket, sleep };

export const BIN = process.env.SWITCHBOARD_BIN
  ? process.env.SWITCHBOARD_BIN
  : fileURLToPath(new URL('../../build/switchboard', import.meta.url));

const DEFAULT_NEXT_TIMEOUT_MS = 3000;
const LISTEN_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Ports and processes

// A TCP port that was free a moment ago: listen on port 0, read the port, close.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

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

let podCounter = 0;

function tail(lines, n = 30) {
  const t = lines.slice(-n);
  return t.length ? t.map((l) => `    | ${l}`).join('\n') : '    | (no output)';
}

// Environment for the child: ours minus any SWITCHBOARD_* / POD_NAME that could change its config,
// plus `env`.
function childEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SWITCHBOARD_') || k === 'POD_NAME') continue;
    out[k] = v;
  }
  return { ...out, ...env };
}

function flagArgs(flags) {
  const args = [];
  for (const [name, value] of Object.entries(flags)) {
    if (value === null || value === undefined) continue;
    args.push(`--${name}`, String(value));
  }
  return args;
}

// Runs the binary with `args` to completion (for --help and config errors).
export function runOnce(args, { env = {}, timeoutMs = 5000 } = {}) {
  assertBinaryExists();
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${BIN} ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      // 'exit' can precede the last 'data' events; 'close' follows them.
      child.on('close', () => resolve({ code, signal, stdout, stderr }));
    });
  });
}

function assertBinaryExists() {
  if (!existsSync(BIN)) {
    throw new Error(
      `switchboard binary not found at ${BIN}: build it (cmake -B build && cmake --build build) ` +
        'or point SWITCHBOARD_BIN at it',
    );
  }
}

// Starts a server on a free port of 127.0.0.1 with a unique --pod-id and waits for its
// "listening" log line. With `t` (a test context) it is stopped by `t.after`; otherwise call
// srv.stop() (or use serverFixture, which does it for a whole describe block).
//
// `flags` override the harness defaults; a flag set to null is not passed at all (so that an env
// var or the built-in default applies). `env` adds environment variables; `uid`, if given, is the
// user (and group) the process runs as, and `bin` the binary (BIN by default).
export async function startServer(flags = {}, { env = {}, t, uid, bin = BIN } = {}) {
  assertBinaryExists();
  const port = await freePort();
  const pod = `pod-${process.pid}-${++podCounter}`;
  const allFlags = {
    host: '127.0.0.1',
    port,
    'pod-id': pod,
    // Teardown sends SIGTERM; keep it short unless a test needs the drain.
    'drain-seconds': 1,
    ...flags,
  };
  const args = flagArgs(allFlags);
  const ids = uid === undefined ? {} : { uid, gid: uid };
  const child = spawn(bin, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  liveChildren.add(child);
  // Where it listens and what it calls itself: the flag, else the env var the test set.
  const pick = (name) => allFlags[name] ?? env[`SWITCHBOARD_${name.toUpperCase().replaceAll('-', '_')}`];
  const srv = new Server(child, args, {
    host: pick('host'),
    port: Number(pick('port')),
    pod: pick('pod-id') ?? env.POD_NAME, // the server's own fallback (Kubernetes sets it)
    tls: pick('tls-cert-file') !== undefined,
  });
  if (t) t.after(() => srv.stop());
  try {
    await srv.waitForListening();
  } catch (err) {
    if (srv.running) {
      srv.signal('SIGKILL');
      await srv.exited;
    }
    throw err;
  }
  return srv;
}

// Call synchronously inside a describe() body: one server for the whole block, started in a
// `before` hook and stopped in an `after` hook. Read it as fixture.srv inside the tests.
export function serverFixture(flags = {}, options = {}) {
  const fixture = { srv: null };
  before(async () => {
    fixture.srv = await startServer(flags, options);
  });
  after(async () => {
    if (fixture.srv) await fixture.srv.stop();
  });
  return fixture;
}

export class Server {
  constructor(child, args, { host, port, pod, tls = false }) {
    this.child = child;
    this.tls = tls; // wss:// on the public port
    this.args = args;
    this.host = host;
    this.port = port;
    this.pod = pod;
    this.stderrLines = [];
    this.stdoutText = '';
    this.logs = []; // parsed stderr lines
    this.badLogLines = []; // stderr lines that are not a JSON object with a known "level"
    this.signalsSent = [];
    this.clients = new Set();
    this.exitInfo = null;
    this._logWaiters = [];
    this._stopped = false;

    let partial = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this._onStderrLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    child.stderr.on('end', () => {
      if (partial) this._onStderrLine(partial);
      partial = '';
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (this.stdoutText += d));
    child.on('error', (err) => {
      this.spawnError = err;
    });
    this.exited = new Promise((resolve) => {
      // 'close' fires after the process exited and its stdio ended, so all logs are in.
      child.on('close', (code, signal) => {
        liveChildren.delete(child);
        this.exitInfo = { code, signal, at: Date.now() };
        for (const w of this._logWaiters) w.onExit();
        resolve(this.exitInfo);
      });
    });
  }

  _onStderrLine(line) {
    if (line === '') return;
    this.stderrLines.push(line);
    let obj;
    try {
      obj = JSON.parse(line);
    } catch {
      obj = undefined;
    }
    if (
      obj === null ||
      typeof obj !== 'object' ||
      Array.isArray(obj) ||
      !['debug', 'info', 'warn', 'error'].includes(obj.level)
    ) {
      this.badLogLines.push(line);
      return;
    }
    this.logs.push(obj);
    for (const w of [...this._logWaiters]) w.check(obj);
  }

  describe() {
    return `switchboard ${this.args.join(' ')}`;
  }

  stderrTail(n = 30) {
    return tail(this.stderrLines, n);
  }

  // Resolves with the first log object (already logged or future) for which pred is true.
  waitForLog(pred, timeoutMs = 5000, what = 'log line') {
    const found = this.logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = {
        check: (obj) => {
          if (pred(obj)) done(() => resolve(obj));
        },
        onExit: () =>
          done(() =>
            reject(
              new Error(
                `server exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal}) ` +
                  `before logging ${what}\n  ${this.describe()}\n  stderr:\n${this.stderrTail()}`,
              ),
            ),
          ),
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(
                `no ${what} within ${timeoutMs} ms\n  ${this.describe()}\n  stderr:\n${this.stderrTail()}`,
              ),
            ),
          ),
        timeoutMs,
      );
      const done = (fn) => {
        clearTimeout(timer);
        this._logWaiters = this._logWaiters.filter((x) => x !== w);
        fn();
      };
      this._logWaiters.push(w);
      if (this.exitInfo) w.onExit();
    });
  }

  async waitForListening() {
    const line = await this.waitForLog((o) => o.msg === 'listening', LISTEN_TIMEOUT_MS, '"listening"');
    assert.equal(
      Number(line.port),
      this.port,
      `"listening" log line reports port ${line.port}, expected ${this.port}: ${JSON.stringify(line)}`,
    );
    this.listening = line;
    this.listeningAt = Date.now();
  }

  // If the server is gone, why (for error messages about failed connections).
  deathNote() {
    if (!this.exitInfo) return '';
    return (
      `\n  (the server is not running: it exited with code ${this.exitInfo.code}, signal ${this.exitInfo.signal}` +
      `${this.signalsSent.length ? ` after ${this.signalsSent.join(', ')}` : ' on its own'})\n  stderr tail:\n${this.stderrTail(15)}`
    );
  }

  get running() {
    return this.exitInfo === null;
  }

  wsUrl({ peer, token, path = '/ws', query } = {}) {
    const params = new URLSearchParams();
    if (peer !== undefined) params.set('peer', peer);
    if (token !== undefined) params.set('token', token);
    let qs = params.toString();
    if (query !== undefined) qs = qs ? `${qs}&${query}` : query;
    return `${this.tls ? 'wss' : 'ws'}://${this.host}:${this.port}${path}${qs ? `?${qs}` : ''}`;
  }

  // GET over a fresh HTTP/1.1 connection (no keep-alive: a pooled socket would outlive the test).
  get(path, { timeoutMs = 3000 } = {}) {
    return httpGet(this.host, this.port, path, timeoutMs);
  }

  async metrics() {
    const res = await this.get('/metrics');
    assert.equal(res.status, 200, `GET /metrics returned ${res.status}: ${res.body}`);
    return parseMetrics(res.body);
  }

  signal(sig) {
    this.signalsSent.push(sig);
    this.child.kill(sig);
  }

  // Resolves with {code, signal} once the process exits, or rejects after timeoutMs.
  async waitForExit(timeoutMs) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `server did not exit within ${timeoutMs} ms (signals sent: ${this.signalsSent.join(', ') || 'none'})` +
                `\n  stderr:\n${this.stderrTail()}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Fails if any stderr line so far is not a JSON object with a "level".
  assertLogsAreJson() {
    assert.deepEqual(
      this.badLogLines,
      [],
      `every stderr line must be a JSON object with a "level" field; these are not:\n${tail(this.badLogLines, 20)}`,
    );
  }

  // Teardown: drop our clients, SIGTERM, SIGKILL after a grace period. Fails if the server had
  // died on its own, needed SIGKILL, exited non-zero after a SIGTERM, or logged non-JSON.
  async stop() {
    if (this._stopped) return;
    this._stopped = true;
    for (const c of this.clients) c.terminate();
    const problems = [];
    if (this.exitInfo && this.signalsSent.length === 0) {
      problems.push(
        `server exited on its own during the test (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})`,
      );
    }
    if (this.running) {
      const hadSignals = this.signalsSent.length > 0;
      // A SIGTERM within a few ms of "listening" is a separate case (drain.test.mjs tests it);
      // teardown should not trip over it.
      const sinceListening = Date.now() - (this.listeningAt ?? 0);
      if (!hadSignals && sinceListening < 200) await sleep(200 - sinceListening);
      this.signal('SIGTERM');
      try {
        const { code, signal } = await this.waitForExit(STOP_GRACE_MS);
        if (!hadSignals && (code !== 0 || signal !== null)) {
          problems.push(`server exited with code ${code}, signal ${signal} after SIGTERM (expected code 0)`);
        }
      } catch {
        this.signal('SIGKILL');
        await this.exited;
        problems.push(`server was still running ${STOP_GRACE_MS} ms after SIGTERM with no clients; killed`);
      }
    } else if (this.exitInfo.signal && !this.signalsSent.includes(this.exitInfo.signal)) {
      problems.push(`server died from ${this.exitInfo.signal}`);
    }
    if (this.badLogLines.length) {
      problems.push(`stderr lines that are not JSON objects with "level":\n${tail(this.badLogLines, 20)}`);
    }
    if (problems.length) {
      throw new Error(`${problems.join('\n')}\n  ${this.describe()}\n  stderr tail:\n${this.stderrTail()}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export function httpGet(host, port, path, timeoutMs = 3000) {
  return httpGetWithHeaders(host, port, path, {}, timeoutMs);
}

// GET with extra request headers (e.g. Origin), over a fresh connection.
export function httpGetWithHeaders(host, port, path, headers, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path, method: 'GET', agent: false, headers: { connection: 'close', ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// Prometheus text -> { samples: [{name, labels, value}], types: Map(name -> type), text }
export function parseMetrics(text) {
  const samples = [];
  const types = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${JSON.stringify(raw)}`);
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
      let lm;
      while ((lm = re.exec(m[3]))) labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const v = m[4];
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    samples.push({ name: m[1], labels, value });
  }
  return {
    text,
    samples,
    types,
    // Sum of the samples named `name` whose labels include all of `labels` (0 if none).
    sum(name, labels = {}) {
      return this.find(name, labels).reduce((acc, s) => acc + s.value, 0);
    },
    find(name, labels = {}) {
      return samples.filter(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      );
    },
    has(name) {
      return samples.some((s) => s.name === name) || types.has(name);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// JSON text helpers

// The top-level members of a JSON object text, as the raw text of each value (trimmed). Used to
// check that a relayed payload is byte-identical. Throws on a duplicate key or malformed text.
export function rawMembers(text) {
  let i = 0;
  const fail = (what) => {
    throw new Error(`rawMembers: ${what} at offset ${i} of ${JSON.stringify(text)}`);
  };
  const skipWs = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const str = () => {
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '"') return text.slice(start, ++i);
      else i++;
    }
    return fail('unterminated string');
  };
  const value = () => {
    const start = i;
    const c = text[i];
    if (c === '"') {
      str();
    } else if (c === '{' || c === '[') {
      let depth = 0;
      while (i < text.length) {
        const d = text[i];
        if (d === '"') {
          str();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
        }
        i++;
      }
      if (depth !== 0) fail('unbalanced brackets');
    } else {
      while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++;
    }
    if (i === start) fail('expected a value');
    return text.slice(start, i);
  };
  const out = new Map();
  skipWs();
  if (text[i] !== '{') fail('expected "{"');
  i++;
  skipWs();
  if (text[i] === '}') return out;
  for (;;) {
    skipWs();
    const key = JSON.parse(str());
    skipWs();
    if (text[i] !== ':') fail('expected ":"');
    i++;
    skipWs();
    if (out.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
    out.set(key, value());
    skipWs();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') break;
    fail('expected "," or "}"');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// WebSocket clients

let clientCounter = 0;

export class Client {
  constructor(ws, label, srv) {
    this.ws = ws;
    this.label = label;
    this.srv = srv;
    this.frames = []; // every frame received: {text, msg, binary, at}
    this.queue = []; // frames not yet consumed by next()
    this.errors = []; // 'error' events
    this.pings = 0; // WebSocket-level pings received
    this.closeInfo = null;
    this._waiter = null;

    ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
      let msg;
      let parseError = null;
      if (isBinary) parseError = 'server sent a binary frame (every frame must be text)';
      else {
        try {
          msg = JSON.parse(text);
          if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
            parseError = 'server sent a JSON value that is not an object';
          }
        } catch (e) {
          parseError = `server sent a text frame that is not JSON (${e.message})`;
        }
      }
      const frame = { text, msg, binary: isBinary, parseError, at: Date.now() };
      this.frames.push(frame);
      this.queue.push(frame);
      this._wake();
    });
    ws.on('ping', () => this.pings++);
    ws.on('error', (err) => this.errors.push(err));
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
        this._wake();
        resolve(this.closeInfo);
      });
    });
  }

  _wake() {
    if (this._waiter) this._waiter();
  }

  _describeRecent() {
    const recent = this.frames.slice(-5).map((f) => `      ${f.text.slice(0, 300)}`);
    return recent.length ? recent.join('\n') : '      (none)';
  }

  // Resolves with the next frame received as {text, msg}; rejects if none arrives in time or the
  // connection closes first.
  async nextFrame(timeoutMs = DEFAULT_NEXT_TIMEOUT_MS, what = 'the next message') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.queue.length) {
        const frame = this.queue.shift();
        if (frame.parseError) {
          assert.fail(`[${this.label}] ${frame.parseError}: ${JSON.stringify(frame.text.slice(0, 300))}`);
        }
        return frame;
      }
      if (this.closeInfo) {
        assert.fail(
          `[${this.label}] connection closed (code ${this.closeInfo.code}, reason ${JSON.stringify(this.closeInfo.reason)}) ` +
            `while waiting for ${what}; last frames received:\n${this._describeRecent()}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        assert.fail(
          `[${this.label}] timed out after ${timeoutMs} ms waiting for ${what}; ` +
            `${this.frames.length} frame(s) received so far, last ones:\n${this._describeRecent()}`,
        );
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this._waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this._waiter = null;
    }
  }

  // The next message, parsed.
  async next(timeoutMs = DEFAULT_NEXT_TIMEOUT_MS, what) {
    return (await this.nextFrame(timeoutMs, what)).msg;
  }

  // The next message, asserting its type (and, for errors, its code).
  async expect(type, { code, timeoutMs = DEFAULT_NEXT_TIMEOUT_MS } = {}) {
    const what = code ? `a ${type} frame with code ${code}` : `a ${type} frame`;
    const msg = await this.next(timeoutMs, what);
    assert.equal(msg.type, type, `[${this.label}] expected ${what}, got ${JSON.stringify(msg)}`);
    if (code !== undefined) {
      assert.equal(msg.code, code, `[${this.label}] expected ${what}, got ${JSON.stringify(msg)}`);
    }
    return msg;
  }

  // `n` messages, in order.
  async collect(n, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    const out = [];
    while (out.length < n) {
      const left = Math.max(1, deadline - Date.now());
      out.push(await this.next(left, `message ${out.length + 1} of ${n}`));
    }
    return out;
  }

  // Fails if any message arrives within `ms` (or is already waiting).
  async expectNothing(ms, why = '') {
    await sleep(ms);
    if (this.queue.length) {
      const extra = this.queue.map((f) => `      ${f.text.slice(0, 300)}`).join('\n');
      assert.fail(`[${this.label}] expected no message${why ? ` (${why})` : ''}, got:\n${extra}`);
    }
  }

  // Resolves with {code, reason} when the connection closes; rejects after timeoutMs.
  async closed(timeoutMs = DEFAULT_NEXT_TIMEOUT_MS) {
    if (this.closeInfo) return this.closeInfo;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new assert.AssertionError({
              message:
                `[${this.label}] connection still open ${timeoutMs} ms later (expected it to be closed); ` +
                `last frames received:\n${this._describeRecent()}`,
            }),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(obj) {
    this.sendRaw(JSON.stringify(obj));
  }

  sendRaw(data, options = {}) {
    if (this.ws.readyState !== WebSocket.OPEN) {
      const state = this.closeInfo
        ? `closed with code ${this.closeInfo.code}, reason ${JSON.stringify(this.closeInfo.reason)}`
        : ['connecting', 'open', 'closing', 'closed'][this.ws.readyState];
      assert.fail(`[${this.label}] cannot send: the connection is ${state}`);
    }
    this.ws.send(data, options);
  }

  // Sends a ping with a fresh id and asserts that the next message is its pong: the connection is
  // open and the server is still reading it.
  async assertAlive(why = '') {
    const id = `alive-${++clientCounter}`;
    this.send({ type: 'ping', id });
    const msg = await this.next(DEFAULT_NEXT_TIMEOUT_MS, `the pong for ping ${id}${why ? ` (${why})` : ''}`);
    assert.deepEqual(
      { type: msg.type, ref: msg.ref },
      { type: 'pong', ref: id },
      `[${this.label}] expected {"type":"pong","ref":"${id}"}${why ? ` (${why})` : ''}, got ${JSON.stringify(msg)}`,
    );
  }

  // Waits until everything queued by send() has been handed to the kernel.
  async flush(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (this.ws.bufferedAmount > 0) {
      if (Date.now() > deadline) assert.fail(`[${this.label}] send buffer did not drain within ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  close(code = 1000, reason = '') {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
  }

  terminate() {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

// Opens a WebSocket to `srv` and resolves with a Client once the handshake succeeded; rejects with
// a readable error (including the HTTP status) if it is refused.
export function openClient(srv, { peer, token, path, query, label, wsOptions = {}, timeoutMs = 3000 } = {}) {
  const url = srv.wsUrl({ peer, token, path, query });
  const name = label ?? peer ?? `client${++clientCounter}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, ...wsOptions });
    const client = new Client(ws, name, srv);
    srv.clients.add(client);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        ws.terminate();
        reject(new Error(`[${name}] handshake to ${url} refused: HTTP ${res.statusCode} ${JSON.stringify(body)}`));
      });
    });
    ws.once('open', () => resolve(client));
    ws.once('error', (err) => reject(new Error(`[${name}] cannot connect to ${url}: ${err.message}${srv.deathNote()}`)));
  });
}

// Opens a client that claims `peer` (undefined: let the server pick) and asserts that its first
// frame is a welcome for that id and this server's pod. `client.welcome` holds that frame.
export async function connectPeer(srv, peer, opts = {}) {
  const client = await openClient(srv, { peer, ...opts });
  const welcome = await client.next(DEFAULT_NEXT_TIMEOUT_MS, 'welcome');
  assert.equal(welcome.type, 'welcome', `[${client.label}] first frame must be welcome, got ${JSON.stringify(welcome)}`);
  if (peer !== undefined) {
    assert.equal(welcome.peer, peer, `[${client.label}] welcome for the wrong id: ${JSON.stringify(welcome)}`);
  }
  assert.equal(welcome.pod, srv.pod, `[${client.label}] welcome.pod: ${JSON.stringify(welcome)}`);
  client.welcome = welcome;
  client.peer = welcome.peer;
  if (!opts.label && peer === undefined) client.label = welcome.peer;
  return client;
}

// The status a WebSocket handshake to `url` gets: 101 when accepted (the socket is closed at
// once), else the refusal's. `origin` (undefined: none) is sent as the Origin header.
export function handshakeStatus(url, { origin, timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, ...(origin === undefined ? {} : { origin }) });
    ws.once('unexpected-response', (req, res) => {
      res.resume();
      ws.terminate();
      resolve(res.statusCode);
    });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('error', reject);
  });
}

// Attempts a WebSocket handshake and reports the outcome without throwing:
// {status: 101, client} when accepted, or {status, body, headers} when refused. `headers` are
// sent with the request.
export function tryHandshake(srv, { peer, token, path, query, headers, timeoutMs = 3000 } = {}) {
  const url = srv.wsUrl({ peer, token, path, query });
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, headers });
    const client = new Client(ws, `handshake ${url}`, srv);
    srv.clients.add(client);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        ws.terminate();
        resolve({ status: res.statusCode, body, headers: res.headers });
      });
      res.on('error', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    ws.once('open', () => resolve({ status: 101, client }));
    ws.once('error', (err) =>
      reject(new Error(`handshake to ${url} failed without an HTTP response: ${err.message}${srv.deathNote()}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// PeerJS dialect (docs/peerjs.md)

// Opens a WebSocket at the PeerJS path with the query the peerjs client sends (key, id, token,
// version; values as given, not encoded), or `query` verbatim. Resolves once the socket is open.
export function openPeerJs(srv, { id, token = 'tok', key = 'peerjs', path = '/peerjs', query, label } = {}) {
  const q = query ?? `key=${key}&id=${id}&token=${token}&version=1.5.5`;
  return openClient(srv, { path, query: q, label: label ?? `peerjs ${id}` });
}

// Opens a PeerJS client and asserts that its first frame is exactly {"type":"OPEN"}.
export async function connectPeerJs(srv, id, opts = {}) {
  const client = await openPeerJs(srv, { id, ...opts });
  const open = await client.nextFrame(DEFAULT_NEXT_TIMEOUT_MS, 'OPEN');
  assert.equal(open.text, '{"type":"OPEN"}', `[${client.label}] first frame must be OPEN`);
  client.peer = id;
  return client;
}

// Polls `fn` until it returns without throwing; rethrows its last failure after timeoutMs.
export async function eventually(fn, { timeoutMs = 3000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Multi-pod: a throwaway redis-server and several Switchboard processes sharing it
//
//   const cl = await startCluster({ pods: 3, tag: 'relay', t });      // or clusterFixture(...)
//   const a = await connectPeer(cl.pods[0], 'A');                     // pods already "redis up"
//   assert.deepEqual(await cl.owners(), { A: cl.pods[0].pod });        // every bucket's peers
//   await cl.redis.kill();  await cl.redis.restart();                  // same port, empty
//
// redis-server is $REDIS_SERVER_BIN, else redis-server on the PATH (Debian: apt-get install
// redis-server). Redis is spoken to over RESP directly (redisCommand), no client library.

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const REDIS_START_TIMEOUT_MS = 10000;
// How long a pod may take to log "redis up" after "listening" (ASan builds are slow to start).
export const REDIS_UP_TIMEOUT_MS = 15000;

// Parses one RESP reply from buf at offset; returns {value, end} or null if incomplete.
// Error replies become {redisError: text}.
function parseResp(buf, off) {
  const lineEnd = buf.indexOf('\r\n', off);
  if (lineEnd < 0) return null;
  const kind = String.fromCharCode(buf[off]);
  const line = buf.toString('utf8', off + 1, lineEnd);
  const after = lineEnd + 2;
  switch (kind) {
    case '+':
      return { value: line, end: after };
    case '-':
      return { value: { redisError: line }, end: after };
    case ':':
      return { value: Number(line), end: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: after };
      if (buf.length < after + len + 2) return null;
      return { value: buf.toString('utf8', after, after + len), end: after + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: after };
      const out = [];
      let pos = after;
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, pos);
        if (!r) return null;
        out.push(r.value);
        pos = r.end;
      }
      return { value: out, end: pos };
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(buf.toString('utf8', off, off + 80))}`);
  }
}

// Sends one command (an array of strings) to the Redis at host:port over a fresh connection and
// resolves with its reply: string, number, null, or array. An error reply rejects. With `db`, the
// command runs after SELECT db on the same connection. With {noReply: true} (SHUTDOWN) the
// connection closing counts as success.
export function redisCommand(port, args, { host = '127.0.0.1', db, timeoutMs = 3000, noReply = false } = {}) {
  return new Promise((resolve, reject) => {
    const commands = db === undefined ? [args] : [['SELECT', db], args];
    const parts = [];
    for (const cmd of commands) {
      parts.push(`*${cmd.length}\r\n`);
      for (const a of cmd) {
        const s = String(a);
        parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
      }
    }
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (fn) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const what = `redis ${host}:${port}${db === undefined ? '' : `/${db}`} ${args.join(' ')}`;
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => finish(() => reject(new Error(`${what}: no reply within ${timeoutMs} ms`))), timeoutMs);
    sock.on('connect', () => sock.write(parts.join('')));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const replies = [];
      let pos = 0;
      try {
        while (replies.length < commands.length) {
          const r = parseResp(buf, pos);
          if (!r) return;
          replies.push(r.value);
          pos = r.end;
        }
      } catch (err) {
        finish(() => reject(err));
        return;
      }
      const failed = replies.find((v) => v && typeof v === 'object' && 'redisError' in v);
      if (failed) finish(() => reject(new Error(`${what}: ${failed.redisError}`)));
      else finish(() => resolve(replies[replies.length - 1]));
    });
    sock.on('error', (err) => finish(() => reject(new Error(`${what}: ${err.message}`))));
    sock.on('close', () => {
      if (noReply) finish(() => resolve(null));
      else finish(() => reject(new Error(`${what}: connection closed without a reply`)));
    });
  });
}

// A redis-server child on a fixed port of 127.0.0.1, no persistence. kill()/shutdownNoSave()
// stop it; start() (again) brings up a fresh, empty one on the same port.
export class RedisServer {
  constructor(port) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.child = null;
    this.output = [];
    this.starts = 0;
    this.dir = null;
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  outputTail(n = 20) {
    return tail(this.output.join('').split('\n').filter(Boolean), n);
  }

  async start() {
    if (this.running) throw new Error(`redis-server on port ${this.port} is already running`);
    // A new, empty working directory on every start, no RDB and no AOF: it starts empty. (Not
    // checked with DBSIZE: pods reconnecting may have written to it by the time we could ask.)
    this._removeDir();
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-redis-'));
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--daemonize', 'no',
    ];
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    liveChildren.add(child);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => this.output.push(d));
    child.stderr.on('data', (d) => this.output.push(d));
    let spawnError = null;
    child.on('error', (err) => (spawnError = err));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        liveChildren.delete(child);
        resolve({ code, signal });
      });
    });
    const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
    for (;;) {
      if (spawnError) {
        throw new Error(
          `cannot run ${REDIS_SERVER_BIN} (${spawnError.message}); install it (apt-get install -y redis-server) ` +
            'or point REDIS_SERVER_BIN at it',
        );
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server on port ${this.port} exited at start:\n${this.outputTail()}`);
      }
      try {
        if ((await redisCommand(this.port, ['PING'], { timeoutMs: 1000 })) === 'PONG') break;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`redis-server on port ${this.port} not answering PING: ${err.message}\n${this.outputTail()}`);
        }
      }
      await sleep(20);
    }
    this.startedAt = Date.now();
    return this;
  }

  // kill -9 (or another signal); resolves once it has exited.
  async kill(sig = 'SIGKILL') {
    if (!this.running) return;
    this.child.kill(sig);
    await this.exited;
  }

  // SHUTDOWN NOSAVE over RESP; resolves once the process has exited.
  async shutdownNoSave() {
    if (!this.running) return;
    await redisCommand(this.port, ['SHUTDOWN', 'NOSAVE'], { noReply: true });
    await this.exited;
  }

  // A fresh, empty redis-server on the same port (kill -9 first if it is still running).
  async restart() {
    await this.kill();
    return this.start();
  }

  command(...args) {
    return redisCommand(this.port, args);
  }

  // HGETALL as a plain object.
  // SIGSTOP, SIGCONT: the process freezes or resumes.
  signal(sig) {
    if (this.running) this.child.kill(sig);
  }

  async hgetall(key) {
    const flat = await this.command('HGETALL', key);
    const out = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }

  async stop() {
    await this.kill();
    this._removeDir();
  }

  _removeDir() {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

// With SWITCHBOARD_TEST_REDIS=cluster, the multi-pod tests run on a 3-master Redis Cluster instead
// (redis_cluster.mjs), and their pods get --redis-cluster.
export const TEST_ON_CLUSTER = process.env.SWITCHBOARD_TEST_REDIS === 'cluster';

export async function startRedis() {
  if (TEST_ON_CLUSTER) return startRedisOnCluster();

  const r = new RedisServer(await freePort());
  await r.start();
  return r;
}

// A 3-master Redis Cluster (redis_cluster.mjs) that the multi-pod helpers take for a RedisServer;
// its `redisCluster` is the cluster itself, for tests that kill or move its parts.
export async function startRedisOnCluster({ replicasPerMaster = 0 } = {}) {
  const { startRedisCluster } = await import('./redis_cluster.mjs');
  return new ClusterAsRedis(await startRedisCluster({ masters: 3, replicasPerMaster }));
}

// A Redis Cluster behind the few calls the multi-pod tests make of a RedisServer: a command goes
// to the master of its key (args[1]); one without a key (SCRIPT, CLIENT...) goes to every master.
class ClusterAsRedis {
  static KEYLESS = new Set(['SCRIPT', 'CLIENT', 'FLUSHALL', 'CONFIG']);

  constructor(cluster) {
    this.redisCluster = cluster;
    this.url = cluster.seedUrl;
    this.port = cluster.nodes[0].port;
  }

  async command(...args) {
    if (!ClusterAsRedis.KEYLESS.has(String(args[0]).toUpperCase())) return this.redisCluster.command(args);
    const replies = [];
    for (const master of await this.redisCluster.masters()) replies.push(await this.redisCluster.nodes[master].command(args));
    return replies[0];
  }

  // As RedisServer's, for the whole tier: every node at once (the fault suite's Redis restarted,
  // Redis frozen). A node restarted comes back empty, with its slots.
  async kill() {
    await Promise.all(this.redisCluster.nodes.map((n) => n.kill()));
  }

  async start() {
    await Promise.all(this.redisCluster.nodes.filter((n) => !n.running).map((n) => n.restart()));
  }

  get running() {
    return this.redisCluster.nodes.some((n) => n.running);
  }

  signal(signal) {
    for (const node of this.redisCluster.nodes) node.signal(signal);
  }

  async hgetall(key) {
    const flat = await this.command('HGETALL', key);
    const out = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }

  stop() {
    return this.redisCluster.stop();
  }
}

// A --redis-prefix unique to this test file's process (and `tag`).
export function uniquePrefix(tag = 'test') {
  return `sbt-${tag}-${process.pid}`;
}

export { redisKeys };

// Every bucket's <prefix>:{T}:peers merged, as {peer: pod}.
export async function ownersIn(redis, keys, { db } = {}) {
  const owners = {};
  for (const bucket of keys.buckets) {
    const flat =
      db === undefined
        ? await redis.command('HGETALL', keys.peers(bucket))
        : await redisCommand(redis.port, ['HGETALL', keys.peers(bucket)], { db });
    for (let i = 0; i + 1 < flat.length; i += 2) owners[flat[i]] = flat[i + 1];
  }
  return owners;
}

// The log lines after the first `after` ones (use srv.logs.length before the event).
Server.prototype.waitForLogAfter = function waitForLogAfter(after, pred, timeoutMs = 5000, what = 'log line') {
  return this.waitForLog((o) => this.logs.indexOf(o) >= after && pred(o), timeoutMs, what);
};

// Resolves once this pod has logged "redis up" after its first `after` log lines.
Server.prototype.waitForRedisUp = function waitForRedisUp(after = 0, timeoutMs = REDIS_UP_TIMEOUT_MS) {
  return this.waitForLogAfter(after, (o) => o.msg === 'redis up', timeoutMs, '"redis up"');
};

// Starts one pod on `redis` with `prefix`, asserts its "listening" line says "routing":"redis",
// and waits for its "redis up" line (unless waitUp is false).
export async function startPod(redis, { prefix, pod, flags = {}, env, t, uid, bin, waitUp = true } = {}) {
  const srv = await startServer(
    {
      'redis-url': redis.url,
      'redis-prefix': prefix,
      ...(redis instanceof ClusterAsRedis ? { 'redis-cluster': 'true' } : {}),
      ...(pod ? { 'pod-id': pod } : {}),
      ...flags,
    },
    { env, t, uid, bin },
  );
  try {
    assert.equal(srv.listening.routing, 'redis', `"listening" must say "routing":"redis": ${JSON.stringify(srv.listening)}`);
    if (waitUp) await srv.waitForRedisUp();
  } catch (err) {
    await srv.stop().catch(() => {});
    throw err;
  }
  return srv;
}

// A redis-server and `pods` Switchboard processes sharing it, named <tag>-1 ... <tag>-n, with
// prefix uniquePrefix(tag). With `t`, everything is stopped by t.after; else call cluster.stop().
// `flags` go to every pod; `podFlags[i]` to pod i only.
export async function startCluster({ pods = 3, tag = 'mp', flags = {}, podFlags = [], t } = {}) {
  const redis = await startRedis();
  const prefix = uniquePrefix(tag);
  const cluster = new Cluster(redis, prefix);
  if (t) t.after(() => cluster.stop());
  try {
    cluster.pods = await Promise.all(
      Array.from({ length: pods }, (_, i) =>
        startPod(redis, { prefix, pod: `${tag}-${i + 1}`, flags: { ...flags, ...(podFlags[i] ?? {}) } }),
      ),
    );
  } catch (err) {
    await cluster.stop().catch(() => {});
    throw err;
  }
  return cluster;
}

// Call synchronously inside a describe() body; read fixture.cluster inside the tests.
export function clusterFixture(options = {}) {
  const fixture = { cluster: null };
  before(async () => {
    fixture.cluster = await startCluster(options);
  });
  after(async () => {
    if (fixture.cluster) await fixture.cluster.stop();
  });
  return fixture;
}

export class Cluster {
  constructor(redis, prefix) {
    this.redis = redis;
    this.prefix = prefix;
    this.keys = redisKeys(prefix);
    this.pods = [];
    this._stopped = false;
  }

  // Every bucket's entries as {peer: pod}.
  owners() {
    return ownersIn(this.redis, this.keys);
  }

  async owner(peer) {
    return this.redis.command('HGET', this.keys.peersOf(peer), peer);
  }

  // Adds a pod to the cluster (stopped with it).
  async addPod(pod, flags = {}) {
    const srv = await startPod(this.redis, { prefix: this.prefix, pod, flags });
    this.pods.push(srv);
    return srv;
  }

  // Stops every pod (as Server.stop does: fails on unexpected deaths or non-JSON logs), then
  // Redis.
  async stop() {
    if (this._stopped) return;
    this._stopped = true;
    const results = await Promise.allSettled(this.pods.map((p) => p.stop()));
    await this.redis.stop();
    const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.message ?? String(r.reason));
    if (failed.length) throw new Error(failed.join('\n---\n'));
  }
}
