// Relaying between two connected peers: welcome, from-stamping, byte-identical payloads, ping,
// ordering under load. Contract: docs/protocol.md.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, rawMembers, serverFixture } from './harness.mjs';

const RELAYED_TYPES = ['offer', 'answer', 'candidate', 'bye', 'message'];
const ID_ALPHABET = /^[A-Za-z0-9_-]+$/;

describe('relay', { timeout: 60000 }, () => {
  // The 10,000-message test must not trip the rate limiter.
  const fx = serverFixture({ 'rate-limit': 1000000, 'rate-burst': 1000000 });

  it('welcomes a peer with its requested id and the pod id', async () => {
    const c = await connectPeer(fx.srv, 'welcome-me');
    assert.equal(c.welcome.type, 'welcome');
    assert.equal(c.welcome.peer, 'welcome-me');
    assert.equal(c.welcome.pod, fx.srv.pod);
    await c.expectNothing(100, 'nothing follows welcome for a fresh id');
    c.close();
  });

  it('accepts a 64-character id using the whole alphabet', async () => {
    const id = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
    assert.equal(id.length, 64);
    const c = await connectPeer(fx.srv, id);
    assert.equal(c.welcome.peer, id);
    c.close();
  });

  it('assigns a random 20-character id when no peer is given, and it is addressable', async () => {
    const a = await connectPeer(fx.srv, undefined);
    const b = await connectPeer(fx.srv, undefined);
    for (const c of [a, b]) {
      assert.equal(typeof c.welcome.peer, 'string', `welcome.peer: ${JSON.stringify(c.welcome)}`);
      assert.equal(c.welcome.peer.length, 20, `assigned id must have 20 characters: ${JSON.stringify(c.welcome.peer)}`);
      assert.match(c.welcome.peer, ID_ALPHABET, 'assigned id must use the peer-id alphabet');
    }
    assert.notEqual(a.welcome.peer, b.welcome.peer, 'two assigned ids must differ');
    a.send({ type: 'message', to: b.peer, payload: { hi: 1 } });
    const got = await b.expect('message');
    assert.equal(got.from, a.peer);
    assert.equal(got.to, b.peer);
    assert.deepEqual(got.payload, { hi: 1 });
    a.close();
    b.close();
  });

  it('relays every relayed type both ways, stamping from and ignoring a client-written from', async () => {
    const a = await connectPeer(fx.srv, 'relay-A');
    const b = await connectPeer(fx.srv, 'relay-B');
    for (const type of RELAYED_TYPES) {
      for (const [src, dst] of [
        [a, b],
        [b, a],
      ]) {
        const payload = { type, n: [1, 'two', null, true], from: 'payload-from-is-data' };
        src.send({ type, from: 'mallory', to: dst.peer, payload, extra: 'ignored', id: `${type}-1` });
        const got = await dst.next(3000, `${type} from ${src.peer}`);
        assert.equal(got.type, type, `relayed type: ${JSON.stringify(got)}`);
        assert.equal(got.from, src.peer, `from must be stamped by the server: ${JSON.stringify(got)}`);
        assert.equal(got.to, dst.peer, `to: ${JSON.stringify(got)}`);
        assert.deepEqual(got.payload, payload, `payload: ${JSON.stringify(got)}`);
        assert.equal('extra' in got, false, `unknown members must not be relayed: ${JSON.stringify(got)}`);
      }
    }
    await a.expectNothing(50, 'no errors for valid messages');
    await b.expectNothing(0, 'no errors for valid messages');
    a.close();
    b.close();
  });

  it('relays payload bytes exactly as written (whitespace, unicode, escapes, nesting)', async () => {
    const a = await connectPeer(fx.srv, 'bytes-A');
    const b = await connectPeer(fx.srv, 'bytes-B');
    const payloads = [
      '{ "sdp" :"v=0\\r\\no=- 46117 2 IN IP4 127.0.0.1\\r\\n" ,\n\t"nested":[ [1, 2.50,[ ]], {"\u00e9\u00e8":"😀 \\u00e9 \\" \\\\"} ,[[[ {} ]]] ] , "n":1E3,"neg":-0.0e-2 ,"t":true,"f" : false , "z":null }',
      '[ 1 ,2,\t3 ]',
      '"just a string with \\u2028 and 日本語"',
      '-12.5e+3',
      '[123456789012345678901234567890, -9223372036854775809, 0.1234567890123456789012345, 4.9e-324]',
      'true',
      'null',
      '{}',
      '  {"padded":"outer whitespace is not part of the value"}\t',
    ];
    for (const type of RELAYED_TYPES) {
      for (const payload of payloads) {
        // Members in an unusual order, with whitespace around the colon and commas.
        const raw = `{ "payload" :${payload}, "to":"bytes-B" ,"type" : "${type}" }`;
        a.sendRaw(raw);
        const frame = await b.nextFrame(3000, `${type} with payload ${payload}`);
        assert.equal(frame.msg.type, type);
        assert.equal(frame.msg.from, 'bytes-A');
        const members = rawMembers(frame.text);
        assert.ok(members.has('payload'), `relayed frame has no payload member: ${frame.text}`);
        assert.equal(
          members.get('payload'),
          payload.trim(),
          `payload bytes must be relayed exactly:\n  sent:     ${payload.trim()}\n  received: ${frame.text}`,
        );
      }
    }
    await a.expectNothing(50, 'no errors for valid messages');
    a.close();
    b.close();
  });

  it('relays bye without a payload with "payload":null', async () => {
    const a = await connectPeer(fx.srv, 'bye-A');
    const b = await connectPeer(fx.srv, 'bye-B');
    a.send({ type: 'bye', to: 'bye-B' });
    const frame = await b.nextFrame(3000, 'bye');
    assert.equal(frame.msg.type, 'bye');
    assert.equal(frame.msg.from, 'bye-A');
    assert.equal(frame.msg.to, 'bye-B');
    assert.ok('payload' in frame.msg, `bye must carry "payload":null, got ${frame.text}`);
    assert.equal(frame.msg.payload, null, `bye payload: ${frame.text}`);
    await a.expectNothing(50, 'bye without payload is valid');
    a.close();
    b.close();
  });

  it('answers ping with pong, with ref only when the ping had an id', async () => {
    const a = await connectPeer(fx.srv, 'ping-A');
    a.send({ type: 'ping' });
    const p1 = await a.expect('pong');
    assert.equal('ref' in p1, false, `pong for a ping without id must have no ref: ${JSON.stringify(p1)}`);
    a.send({ type: 'ping', id: 'abc' });
    assert.equal((await a.expect('pong')).ref, 'abc');
    a.send({ type: 'ping', id: 17 });
    const p3 = await a.expect('pong');
    assert.equal(p3.ref, 17, `numeric id must come back as a number: ${JSON.stringify(p3)}`);
    a.send({ type: 'ping', id: 0 });
    assert.equal((await a.expect('pong')).ref, 0, 'id 0 is an id');
    a.send({ type: 'ping', id: '' });
    assert.equal((await a.expect('pong')).ref, '', 'id "" is an id');
    a.close();
  });

  it('delivers 10,000 messages A->B complete and in order', async () => {
    const a = await connectPeer(fx.srv, 'bulk-A');
    const b = await connectPeer(fx.srv, 'bulk-B');
    const TOTAL = 10000;
    const BATCH = 500;
    let expected = 0;
    for (let start = 0; start < TOTAL; start += BATCH) {
      for (let i = start; i < start + BATCH; i++) {
        a.send({ type: 'message', to: 'bulk-B', payload: { seq: i } });
      }
      const got = await b.collect(BATCH, 10000);
      for (const m of got) {
        if (m.type !== 'message' || m.from !== 'bulk-A' || m.payload?.seq !== expected) {
          assert.fail(`message ${expected}: expected seq ${expected} from bulk-A, got ${JSON.stringify(m)}`);
        }
        expected++;
      }
    }
    assert.equal(expected, TOTAL);
    await b.expectNothing(100, 'no more than 10,000 messages');
    await a.expectNothing(0, 'the sender gets no errors');
    a.close();
    b.close();
  });
});
