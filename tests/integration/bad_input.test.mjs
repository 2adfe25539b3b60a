// Malformed frames, protocol violations at the WebSocket level and refused handshakes.
// Contract: docs/protocol.md, "Errors", "Close codes", "Connecting".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectPeer, openClient, serverFixture, sleep, tryHandshake } from './harness.mjs';

const MAX_MESSAGE_BYTES = 4096;

// Frames that must each be answered with bad-message, leaving the connection open.
// [label, raw text, expected ref (undefined: do not check)]
const BAD_FRAMES = [
  ['not JSON', 'hello there', undefined],
  ['truncated JSON', '{"type":"ping"', undefined],
  ['JSON followed by garbage', '{"type":"ping"} x', undefined],
  ['two JSON objects', '{"type":"ping"}{"type":"ping"}', undefined],
  ['JSON with a comment', '{"type":"ping" /* comment */}', undefined],
  ['block comment inside the payload', '{"type":"message","to":"bad-B","payload":[1 /* c */, 2]}', undefined],
  ['line comment inside the payload', '{"type":"message","to":"bad-B","payload":{"a":1 // c\n}}', undefined],
  ['single-quoted JSON', "{'type':'ping'}", undefined],
  ['trailing comma in an object', '{"type":"ping",}', undefined],
  ['trailing comma in the payload', '{"type":"message","to":"bad-B","payload":[1,2,]}', undefined],
  // jsoncpp reads what simdjson cannot (a lone surrogate, a number past 64 bits), and let a
  // trailing comma after an empty name through: bad-B's JSON.parse would refuse it.
  ['trailing comma after an empty name, beside a lone surrogate', '{"type":"offer","to":"bad-B","payload":{"":"\\udc00",}}', undefined],
  ['trailing comma after an empty name, beside a 100-digit number', `{"type":"offer","to":"bad-B","payload":{"":${'9'.repeat(100)},}}`, undefined],
  ['unquoted key', '{type:"ping"}', undefined],
  ['number with a leading zero', '{"type":"message","to":"bad-B","payload":017}', undefined],
  ['number with a plus sign', '{"type":"message","to":"bad-B","payload":+1}', undefined],
  ['number ending in a dot', '{"type":"message","to":"bad-B","payload":1.}', undefined],
  ['a lone minus sign', '{"type":"message","to":"bad-B","payload":-}', undefined],
  ['NaN', '{"type":"message","to":"bad-B","payload":NaN}', undefined],
  ['raw control character in a string', '{"type":"message","to":"bad-B","payload":"a\tb"}', undefined],
  ['invalid escape in a string', '{"type":"message","to":"bad-B","payload":"\\x41"}', undefined],
  ['empty text frame', '', undefined],
  ['JSON array', '[{"type":"ping"}]', undefined],
  ['JSON string', '"ping"', undefined],
  ['JSON number', '42', undefined],
  ['JSON null', 'null', undefined],
  ['unknown type', '{"type":"shout","to":"bad-B","payload":1}', undefined],
  ['server-only type welcome', '{"type":"welcome","peer":"x","pod":"y"}', undefined],
  ['server-only type pong', '{"type":"pong"}', undefined],
  ['server-only type error', '{"type":"error","code":"bad-message"}', undefined],
  ['missing type', '{"to":"bad-B","payload":1}', undefined],
  ['type not a string', '{"type":5,"to":"bad-B","payload":1}', undefined],
  ['type null', '{"type":null}', undefined],
  ['missing to', '{"type":"offer","payload":{"sdp":"x"}}', undefined],
  ['to with invalid characters', '{"type":"offer","to":"bad.B","payload":1}', undefined],
  ['to with a space', '{"type":"message","to":"bad B","payload":1}', undefined],
  ['to with non-ASCII', '{"type":"message","to":"bäd","payload":1}', undefined],
  ['to empty', '{"type":"offer","to":"","payload":1}', undefined],
  ['to 65 characters', `{"type":"offer","to":"${'t'.repeat(65)}","payload":1}`, undefined],
  ['to a number', '{"type":"offer","to":42,"payload":1}', undefined],
  ['to null', '{"type":"offer","to":null,"payload":1}', undefined],
  ['to an array', '{"type":"offer","to":["bad-B"],"payload":1}', undefined],
  ['missing payload on offer', '{"type":"offer","to":"bad-B"}', undefined],
  ['missing payload on answer', '{"type":"answer","to":"bad-B"}', undefined],
  ['missing payload on candidate', '{"type":"candidate","to":"bad-B"}', undefined],
  ['missing payload on message', '{"type":"message","to":"bad-B"}', undefined],
  ['invalid JSON inside the payload', '{"type":"message","to":"bad-B","payload":{bad}}', undefined],
  ['id an object', '{"type":"ping","id":{"n":1}}', undefined],
  ['id an array', '{"type":"offer","to":"bad-B","payload":1,"id":[1]}', undefined],
  ['id a boolean', '{"type":"ping","id":true}', undefined],
  // ref echoes a valid id on errors about that message.
  ['unknown type with string id', '{"type":"shout","id":"abc"}', 'abc'],
  ['unknown type with numeric id', '{"type":"shout","id":17}', 17],
  ['missing payload with string id', '{"type":"offer","to":"bad-B","id":"x-1"}', 'x-1'],
  ['bad to with numeric id', '{"type":"answer","to":"no way","payload":1,"id":4711}', 4711],
  ['missing to with id 0', '{"type":"candidate","payload":1,"id":0}', 0],
];

describe('bad input: bad-message', { timeout: 30000 }, () => {
  const fx = serverFixture();

  it('answers every malformed frame with bad-message and keeps the connection open', async () => {
    const a = await connectPeer(fx.srv, 'bad-A');
    // A connected target: nothing malformed may be relayed to it.
    const b = await connectPeer(fx.srv, 'bad-B');
    const failures = [];
    for (const [label, raw, ref] of BAD_FRAMES) {
      try {
        a.sendRaw(raw);
        const err = await a.next(1000, `the bad-message error for: ${label}`);
        assert.equal(err.type, 'error', `got ${JSON.stringify(err)}`);
        assert.equal(err.code, 'bad-message', `got ${JSON.stringify(err)}`);
        assert.equal(typeof err.message, 'string', `error without a message text: ${JSON.stringify(err)}`);
        if (ref !== undefined) assert.equal(err.ref, ref, `ref must echo the id: ${JSON.stringify(err)}`);
        else assert.equal('ref' in err && typeof err.ref === 'object', false, `ref must not be an object: ${JSON.stringify(err)}`);
        await a.assertAlive(`after ${label}`);
      } catch (e) {
        failures.push(`- ${label} (sent ${JSON.stringify(raw.slice(0, 80))}): ${e.message.split('\n')[0]}`);
        if (!a.isOpen) {
          failures.push(`  (connection closed: ${JSON.stringify(a.closeInfo)}; remaining cases not run)`);
          break;
        }
        await a.expectNothing(300).catch(() => {
          a.queue.length = 0;
        }); // resynchronise
      }
    }
    await b.expectNothing(100).catch(() => {
      failures.push('- relayed to the target although malformed (the target received these frames):');
      for (const f of b.queue) failures.push(`    ${f.text.slice(0, 200)}`);
    });
    if (failures.length) assert.fail(`\n${failures.join('\n')}`);
    a.close();
    b.close();
  });

  it('a valid message is still relayed after a bad one', async () => {
    const a = await connectPeer(fx.srv, 'after-A');
    const b = await connectPeer(fx.srv, 'after-B');
    a.sendRaw('nope');
    await a.expect('error', { code: 'bad-message' });
    a.send({ type: 'message', to: 'after-B', payload: 'ok' });
    assert.equal((await b.expect('message')).payload, 'ok');
    a.close();
    b.close();
  });
});

describe('bad input: close codes', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'max-message-bytes': MAX_MESSAGE_BYTES });

  it('closes with 1003 on a binary frame', async () => {
    const a = await connectPeer(fx.srv, 'bin-A');
    a.sendRaw(Buffer.from('{"type":"ping"}'), { binary: true });
    const { code } = await a.closed();
    assert.equal(code, 1003);
  });

  it('closes with 1007 on a text frame that is not valid UTF-8', async () => {
    const a = await connectPeer(fx.srv, 'utf-A');
    // A JSON object whose string holds bytes that are not UTF-8 (lone continuation byte, 0xFF).
    const bytes = Buffer.concat([Buffer.from('{"type":"ping","id":"'), Buffer.from([0x80, 0xff, 0xfe]), Buffer.from('"}')]);
    a.sendRaw(bytes, { binary: false });
    const { code } = await a.closed();
    assert.equal(code, 1007);
  });

  it('closes with 1007 on an overlong UTF-8 encoding', async () => {
    const a = await connectPeer(fx.srv, 'utf-B');
    // "/" encoded in two bytes (C0 AF): invalid in UTF-8.
    const bytes = Buffer.concat([Buffer.from('{"type":"ping","id":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    a.sendRaw(bytes, { binary: false });
    assert.equal((await a.closed()).code, 1007);
  });

  it(`accepts a message of exactly --max-message-bytes (${MAX_MESSAGE_BYTES})`, async () => {
    const a = await connectPeer(fx.srv, 'max-A');
    const head = '{"type":"ping","id":"exact","pad":"';
    const tail = '"}';
    const text = head + 'p'.repeat(MAX_MESSAGE_BYTES - head.length - tail.length) + tail;
    assert.equal(Buffer.byteLength(text), MAX_MESSAGE_BYTES);
    a.sendRaw(text);
    const pong = await a.next(3000, 'the pong for a message of exactly the limit');
    assert.deepEqual({ type: pong.type, ref: pong.ref }, { type: 'pong', ref: 'exact' });
    a.close();
  });

  it('closes with 1009 on a message over --max-message-bytes', async () => {
    const a = await connectPeer(fx.srv, 'big-A');
    const b = await connectPeer(fx.srv, 'big-B');
    const text = JSON.stringify({ type: 'message', to: 'big-B', payload: 'x'.repeat(MAX_MESSAGE_BYTES + 100) });
    a.sendRaw(text);
    const { code } = await a.closed();
    assert.equal(code, 1009);
    await b.expectNothing(100, 'the oversized message must not be relayed');
    b.close();
  });

  it('closes with 1009 on a fragmented message whose fragments add up to more than the limit', async () => {
    const a = await connectPeer(fx.srv, 'frag-A');
    const text = JSON.stringify({ type: 'ping', pad: 'y'.repeat(MAX_MESSAGE_BYTES + 100) });
    const cut = Math.floor(text.length / 3);
    // Each fragment is under the limit; the message is not.
    a.sendRaw(text.slice(0, cut), { fin: false });
    a.sendRaw(text.slice(cut, 2 * cut), { fin: false });
    a.sendRaw(text.slice(2 * cut), { fin: true });
    assert.equal((await a.closed()).code, 1009);
  });

  it('reassembles a fragmented message under the limit', async () => {
    const a = await connectPeer(fx.srv, 'frag-B');
    const text = JSON.stringify({ type: 'ping', id: 'fragmented', pad: 'z'.repeat(1000) });
    a.sendRaw(text.slice(0, 10), { fin: false });
    a.sendRaw(text.slice(10, 500), { fin: false });
    a.sendRaw(text.slice(500), { fin: true });
    const pong = await a.next(3000, 'the pong for a fragmented ping');
    assert.deepEqual({ type: pong.type, ref: pong.ref }, { type: 'pong', ref: 'fragmented' });
    a.close();
  });
});

describe('bad input: refused handshakes', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'handshake-timeout-seconds': 1 });

  const cases = [
    ['peer with a dot', { peer: 'bad.id' }, 400],
    ['peer with a space', { peer: 'bad id' }, 400],
    ['peer with a slash', { peer: 'a/b' }, 400],
    ['peer with non-ASCII', { peer: 'pé' }, 400],
    ['empty peer', { peer: '' }, 400],
    ['65-character peer', { peer: 'p'.repeat(65) }, 400],
    ['token over 256 bytes', { peer: 'tok-A', token: 't'.repeat(257) }, 400],
    ['token of 129 characters but 258 bytes in UTF-8', { peer: 'tok-B', token: 'é'.repeat(129) }, 400],
    ['path /', { path: '/' }, 404],
    ['path /wss', { path: '/wss' }, 404],
    ['path /ws/extra', { path: '/ws/extra', peer: 'p1' }, 404],
    ['path /metrics', { path: '/metrics' }, 404],
  ];
  for (const [label, opts, status] of cases) {
    it(`refuses ${label} with ${status}`, async () => {
      const res = await tryHandshake(fx.srv, opts);
      if (res.client) res.client.terminate();
      assert.equal(res.status, status, `handshake ${JSON.stringify(opts).slice(0, 120)}`);
      assert.ok(res.body.length > 0, 'a refusal carries a plain-text reason in the body');
      assert.match(String(res.headers['content-type']), /^text\/plain/, 'content-type of the refusal');
    });
  }

  // An empty argument must not end the query: the id (and the token) after it still count.
  for (const query of ['&peer=after-empty', 'a=1&&peer=after-empty', 'peer=after-empty&&token=t&']) {
    it(`reads the id after an empty query argument (?${query})`, async () => {
      const client = await openClient(fx.srv, { query });
      const welcome = await client.next(3000, 'welcome');
      assert.equal(welcome.peer, 'after-empty', `welcome ${JSON.stringify(welcome)}`);
      client.close();
      await client.closed();
    });
  }

  it('accepts a token of exactly 256 bytes', async () => {
    const res = await tryHandshake(fx.srv, { peer: 'tok-C', token: 't'.repeat(256) });
    assert.equal(res.status, 101, `expected the handshake to succeed, got ${res.status} ${res.body ?? ''}`);
    const welcome = await res.client.next(3000, 'welcome');
    assert.equal(welcome.type, 'welcome');
    res.client.close();
  });

  for (const [label, partial] of [
    ['sends a partial request', 'GET /ws?peer=slowloris HTTP/1.1\r\nHost: 127.0.0.1\r\n'],
    ['sends nothing', ''],
  ]) {
    it(`drops a TCP connection that ${label} after --handshake-timeout-seconds`, async () => {
      const started = Date.now();
      const sock = net.connect(fx.srv.port, fx.srv.host);
      sock.on('error', () => {});
      await new Promise((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      if (partial) sock.write(partial);
      sock.resume(); // read (and ignore) anything the server writes, so that 'end'/'close' fire
      const closed = new Promise((resolve) => sock.once('close', resolve));
      const result = await Promise.race([closed.then(() => 'closed'), sleep(3000).then(() => 'open')]);
      const elapsed = Date.now() - started;
      sock.destroy();
      assert.equal(result, 'closed', 'connection still open 3 s later with --handshake-timeout-seconds 1');
      assert.ok(elapsed >= 800, `dropped after ${elapsed} ms, before the 1 s handshake timeout`);
    });
  }
});
