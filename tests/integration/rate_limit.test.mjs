// Per-connection token bucket and flood protection. Contract: docs/protocol.md, "Rate limit".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, serverFixture, sleep } from './harness.mjs';

const RATE = 10;
const BURST = 20;
const STRIKES = 30;

function summarize(msgs) {
  return msgs.map((m) => `${m.type}${m.code ? `:${m.code}` : ''}(${m.ref})`).join(' ');
}

describe('rate limit', { timeout: 30000 }, () => {
  const fx = serverFixture({ 'rate-limit': RATE, 'rate-burst': BURST, 'flood-strikes': STRIKES });

  it(`lets a burst of ${BURST} through and refuses the rest with rate-limited`, async () => {
    const a = await connectPeer(fx.srv, 'rl-A');
    for (let i = 0; i < 25; i++) a.send({ type: 'ping', id: i });
    const replies = await a.collect(25, 3000);
    const pongs = replies.filter((m) => m.type === 'pong').map((m) => m.ref);
    const limited = replies.filter((m) => m.type === 'error' && m.code === 'rate-limited').map((m) => m.ref);
    assert.equal(pongs.length + limited.length, 25, `only pongs and rate-limited errors expected: ${summarize(replies)}`);
    assert.deepEqual(pongs, [...Array(BURST).keys()], `the first ${BURST} pings pass: ${summarize(replies)}`);
    assert.deepEqual(limited, [20, 21, 22, 23, 24], `the last 5 are refused, with ref: ${summarize(replies)}`);
    assert.equal(a.isOpen, true, '5 refusals are far from --flood-strikes');
    a.close();
  });

  it('refills at --rate-limit per second', async () => {
    const a = await connectPeer(fx.srv, 'rl-refill');
    for (let i = 0; i < BURST; i++) a.send({ type: 'ping', id: i });
    const first = await a.collect(BURST, 3000);
    assert.ok(first.every((m) => m.type === 'pong'), `burst: ${summarize(first)}`);
    await sleep(1100); // ~11 tokens back
    for (let i = 0; i < 10; i++) a.send({ type: 'ping', id: 100 + i });
    const second = await a.collect(10, 3000);
    assert.ok(second.every((m) => m.type === 'pong'), `after 1.1 s, 10 pings pass: ${summarize(second)}`);
    a.close();
  });

  it('does not relay a rate-limited message', async () => {
    const a = await connectPeer(fx.srv, 'rl-src');
    const b = await connectPeer(fx.srv, 'rl-dst');
    for (let i = 0; i < 25; i++) a.send({ type: 'candidate', to: 'rl-dst', payload: { i }, id: i });
    const got = await b.collect(BURST, 3000);
    assert.deepEqual(got.map((m) => m.payload.i), [...Array(BURST).keys()]);
    await b.expectNothing(200, `only ${BURST} of 25 may be relayed`);
    const errs = await a.collect(5, 3000);
    assert.deepEqual(
      errs.map((m) => [m.type, m.code, m.ref]),
      [20, 21, 22, 23, 24].map((i) => ['error', 'rate-limited', i]),
    );
    a.close();
    b.close();
  });

  it(`stays open at ${STRIKES} refusals and closes with 1008 at the next one`, async () => {
    const a = await connectPeer(fx.srv, 'rl-edge');
    const n = BURST + STRIKES;
    // All in one go, so that the bucket gets no time to refill between the last of the n and the
    // two after them (the time a round trip would take is not bounded on a busy machine): however
    // far it refills (well under a token, certainly not two), the connection must answer exactly
    // STRIKES refusals and then close.
    for (let i = 0; i < n; i++) a.send({ type: 'ping', id: i });
    a.send({ type: 'ping', id: 'one-too-many' });
    a.send({ type: 'ping', id: 'two-too-many' });
    const { code } = await a.closed(3000);
    assert.equal(code, 1008);
    // What came before the close frame: pongs, and exactly STRIKES refusals. One fewer is a close
    // at the STRIKES-th refusal instead of the next one; one more, a close one refusal late.
    const replies = a.frames.slice(1).map((f) => f.msg); // after the welcome
    const limited = replies.filter((m) => m.code === 'rate-limited').length;
    assert.equal(limited, STRIKES, `${STRIKES} refusals is not more than --flood-strikes ${STRIKES}; the next one closes: ${summarize(replies)}`);
    assert.ok(
      replies.every((m) => m.type === 'pong' || m.code === 'rate-limited'),
      `only pongs and rate-limited errors expected: ${summarize(replies)}`,
    );
    assert.ok(replies.filter((m) => m.type === 'pong').length >= BURST, `the first ${BURST} pings pass: ${summarize(replies)}`);
  });

  it('closes a sustained flood with 1008', async () => {
    const a = await connectPeer(fx.srv, 'rl-flood');
    const started = Date.now();
    let sent = 0;
    while (a.isOpen && Date.now() - started < 3000) {
      for (let i = 0; i < 20; i++) a.send({ type: 'ping', id: sent++ });
      await sleep(20);
    }
    const { code } = await a.closed(3000);
    assert.equal(code, 1008, `flood of ${sent} pings`);
    const limited = a.frames.filter((f) => f.msg?.code === 'rate-limited').length;
    assert.ok(limited >= STRIKES, `${limited} rate-limited errors before the close; expected at least ${STRIKES}`);
  });

  it('limits each connection separately', async () => {
    const a = await connectPeer(fx.srv, 'rl-sep-A');
    const b = await connectPeer(fx.srv, 'rl-sep-B');
    for (let i = 0; i < BURST; i++) a.send({ type: 'ping', id: i });
    await a.collect(BURST, 3000);
    for (let i = 0; i < BURST; i++) b.send({ type: 'ping', id: i });
    const got = await b.collect(BURST, 3000);
    assert.ok(got.every((m) => m.type === 'pong'), `B has its own bucket: ${summarize(got)}`);
    a.close();
    b.close();
  });
});
