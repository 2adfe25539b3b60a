// The operations endpoints on the WebSocket port: /healthz, /readyz, /metrics.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectPeer, eventually, serverFixture, tryHandshake } from './harness.mjs';

const EXPIRE_MS = 300;

// [metric family, Prometheus type]
const FAMILIES = [
  ['switchboard_connections_open', 'gauge'],
  ['switchboard_messages_relayed_total', 'counter'],
  ['switchboard_messages_queued_total', 'counter'],
  ['switchboard_messages_expired_total', 'counter'],
  ['switchboard_errors_total', 'counter'],
  ['switchboard_handshakes_refused_total', 'counter'],
  ['switchboard_bytes_received_total', 'counter'],
  ['switchboard_bytes_sent_total', 'counter'],
  ['switchboard_relay_latency_seconds', 'histogram'],
];

// The TYPE line may name a counter with or without its _total suffix.
function typeOf(m, name) {
  return m.types.get(name) ?? m.types.get(name.replace(/_total$/, ''));
}

describe('http endpoints', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'expire-ms': EXPIRE_MS });

  it('GET /healthz is 200', async () => {
    const res = await fx.srv.get('/healthz');
    assert.equal(res.status, 200, res.body);
  });

  it('GET /readyz is 200 while serving', async () => {
    const res = await fx.srv.get('/readyz');
    assert.equal(res.status, 200, res.body);
  });

  it('GET /healthz and /readyz ignore a query string', async () => {
    assert.equal((await fx.srv.get('/healthz?probe=1')).status, 200);
    assert.equal((await fx.srv.get('/readyz?probe=1')).status, 200);
  });

  it('GET /metrics is Prometheus text with every documented family', async () => {
    const res = await fx.srv.get('/metrics');
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/plain/, 'content-type');
    const m = await fx.srv.metrics();
    const missing = [];
    for (const [name, type] of FAMILIES) {
      const t = typeOf(m, name);
      if (t === undefined) missing.push(`${name}: no "# TYPE" line`);
      else if (t !== type) missing.push(`${name}: TYPE ${t}, expected ${type}`);
    }
    for (const name of [
      'switchboard_connections_open',
      'switchboard_bytes_received_total',
      'switchboard_bytes_sent_total',
      'switchboard_messages_queued_total',
      'switchboard_messages_expired_total',
      'switchboard_relay_latency_seconds_bucket',
      'switchboard_relay_latency_seconds_sum',
      'switchboard_relay_latency_seconds_count',
    ]) {
      if (m.find(name).length === 0) missing.push(`${name}: no sample`);
    }
    if (m.find('switchboard_relay_latency_seconds_bucket', { le: '+Inf' }).length !== 1) {
      missing.push('switchboard_relay_latency_seconds_bucket{le="+Inf"}: missing');
    }
    if (missing.length) assert.fail(`\n${missing.join('\n')}\n--- /metrics ---\n${m.text}`);
  });

  it('counts relayed messages, bytes and relay latency', async () => {
    const a = await connectPeer(fx.srv, 'm-A');
    const b = await connectPeer(fx.srv, 'm-B');
    const before = await fx.srv.metrics();
    const N = 7;
    let bytesSent = 0;
    for (let i = 0; i < N; i++) {
      const text = JSON.stringify({ type: 'message', to: 'm-B', payload: { i, pad: 'x'.repeat(100) } });
      bytesSent += Buffer.byteLength(text);
      a.sendRaw(text);
    }
    const got = await b.collect(N);
    const bytesReceived = got.length * 100;
    const after = await fx.srv.metrics();
    const delta = (name, labels) => after.sum(name, labels) - before.sum(name, labels);

    assert.equal(delta('switchboard_messages_relayed_total', { path: 'local' }), N, 'relayed{path="local"} delta');
    assert.ok(
      delta('switchboard_bytes_received_total') >= bytesSent,
      `bytes_received_total grew by ${delta('switchboard_bytes_received_total')}, less than the ${bytesSent} bytes sent`,
    );
    assert.ok(
      delta('switchboard_bytes_sent_total') >= bytesReceived,
      `bytes_sent_total grew by ${delta('switchboard_bytes_sent_total')}, less than the ~${bytesReceived} payload bytes delivered`,
    );
    const countDelta = delta('switchboard_relay_latency_seconds_count');
    assert.ok(countDelta >= 1, `relay_latency_seconds_count did not move (delta ${countDelta})`);
    assert.ok(after.sum('switchboard_relay_latency_seconds_sum') >= 0);

    // Histogram buckets: cumulative, ending at +Inf == _count.
    const buckets = after
      .find('switchboard_relay_latency_seconds_bucket')
      .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value])
      .sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i][1] >= buckets[i - 1][1], `buckets must be cumulative: ${JSON.stringify(buckets)}`);
    }
    assert.equal(buckets.at(-1)[0], Infinity, 'last bucket is le="+Inf"');
    assert.equal(buckets.at(-1)[1], after.sum('switchboard_relay_latency_seconds_count'), '+Inf bucket == _count');
    a.close();
    b.close();
  });

  it('counts queued and expired messages', async () => {
    const a = await connectPeer(fx.srv, 'mq-A');
    const before = await fx.srv.metrics();
    for (let i = 0; i < 3; i++) a.send({ type: 'message', to: 'mq-nobody', payload: i });
    await a.expect('error', { code: 'peer-unavailable', timeoutMs: EXPIRE_MS + 2000 });
    const after = await fx.srv.metrics();
    const delta = (name) => after.sum(name) - before.sum(name);
    assert.equal(delta('switchboard_messages_queued_total'), 3, 'messages_queued_total delta');
    assert.equal(delta('switchboard_messages_expired_total'), 3, 'messages_expired_total delta (3 messages expired)');
    assert.equal(
      after.sum('switchboard_errors_total', { code: 'peer-unavailable' }) -
        before.sum('switchboard_errors_total', { code: 'peer-unavailable' }),
      1,
      'errors_total{code="peer-unavailable"} delta (one error sent)',
    );
    assert.equal(delta('switchboard_messages_relayed_total'), 0, 'nothing was relayed');
    a.close();
  });

  it('counts errors by code', async () => {
    const a = await connectPeer(fx.srv, 'me-A');
    const before = await fx.srv.metrics();
    a.sendRaw('not json');
    await a.expect('error', { code: 'bad-message' });
    a.sendRaw('[]');
    await a.expect('error', { code: 'bad-message' });
    const after = await fx.srv.metrics();
    const label = { code: 'bad-message' };
    assert.equal(
      after.sum('switchboard_errors_total', label) - before.sum('switchboard_errors_total', label),
      2,
      `errors_total{code="bad-message"} delta\n${after.find('switchboard_errors_total').map((s) => JSON.stringify(s)).join('\n')}`,
    );
    a.close();
  });

  it('counts refused handshakes, with a reason label', async () => {
    const before = await fx.srv.metrics();
    const res = await tryHandshake(fx.srv, { peer: 'bad.peer' });
    assert.equal(res.status, 400);
    const after = await fx.srv.metrics();
    const samples = after.find('switchboard_handshakes_refused_total');
    assert.ok(
      samples.length > 0 && samples.every((s) => typeof s.labels.reason === 'string' && s.labels.reason !== ''),
      `handshakes_refused_total samples need a reason label: ${JSON.stringify(samples)}`,
    );
    assert.equal(
      after.sum('switchboard_handshakes_refused_total') - before.sum('switchboard_handshakes_refused_total'),
      1,
      'handshakes_refused_total delta (all reasons)',
    );
  });

  it('reports open connections in connections_open', async () => {
    // Earlier tests closed all their clients; the server may take a moment to notice.
    const base = 0;
    await eventually(async () => {
      assert.equal((await fx.srv.metrics()).sum('switchboard_connections_open'), base, 'with no clients');
    });
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await connectPeer(fx.srv, `open-${i}`));
    await eventually(async () => {
      assert.equal((await fx.srv.metrics()).sum('switchboard_connections_open'), base + 3, 'after opening 3');
    });
    clients[0].close();
    clients[1].close();
    await eventually(async () => {
      assert.equal((await fx.srv.metrics()).sum('switchboard_connections_open'), base + 1, 'after closing 2 of 3');
    });
    clients[2].terminate(); // an abrupt TCP close counts too
    await eventually(async () => {
      assert.equal((await fx.srv.metrics()).sum('switchboard_connections_open'), base, 'after dropping the last');
    });
  });

  it('answers 404 for an unknown HTTP path', async () => {
    assert.equal((await fx.srv.get('/nope')).status, 404);
  });

  it('HEAD /healthz is 200, with the length of the GET body and no body', async () => {
    const reply = await rawHttp(fx.srv, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 /, reply);
    assert.match(reply, /\r\ncontent-length: 3\r\n/i, reply);
    assert.ok(reply.endsWith('\r\n\r\n'), `no body after the headers: ${JSON.stringify(reply)}`);
  });

  // Request smuggling: what follows a request whose body is framed two ways must never be read as
  // a request of its own. Such requests are refused and the connection closed.
  for (const [label, request, status] of [
    ['two Content-Length headers', 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n', 405],
    ['two Content-Length headers on a GET', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n', 400],
    ['a body on a GET', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 38\r\n\r\n', 400],
    ['a chunked body on a GET', 'GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n26\r\n', 400],
  ]) {
    it(`refuses ${label} with ${status}, and reads nothing after it`, async () => {
      const smuggled = 'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n';
      const reply = await rawHttp(fx.srv, request + smuggled);
      assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `), reply);
      assert.equal(reply.split('HTTP/1.1 ').length - 1, 1, `one response only: ${JSON.stringify(reply)}`);
    });
  }

  it('still serves a GET with an empty body (Content-Length: 0), and the next request after it', async () => {
    const reply = await rawHttp(
      fx.srv,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(reply.split('HTTP/1.1 200 ').length - 1, 2, reply);
  });
});

// Writes `bytes` on a fresh TCP connection and returns everything the server sent until it
// closed the connection (or 3 s passed).
function rawHttp(srv, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(srv.port, srv.host, () => socket.write(bytes));
    let reply = '';
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('data', (data) => (reply += data));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}
