// The unmodified peerjs client (1.5.x) in Chromium against two pods that serve wss:// only and
// ask for connection tokens (docs/security.md, docs/peerjs.md): the app passes its token as the
// Peer's `token` option and sets `secure: true`; nothing else changes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { sleep } from '../integration/harness.mjs';
import { claimsFor, keyDir, signToken } from '../integration/jwt.mjs';
import { browserFixture } from './browser_harness.mjs';

const SECRET = 'a-browser-test-secret-longer-than-32-bytes';
const keys = keyDir(after);
const secretFile = keys.write('secret', SECRET);

const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-browser-tls-'));
after(() => fs.rmSync(certDir, { recursive: true, force: true }));
const certFile = path.join(certDir, 'cert.pem');
const keyFile = path.join(certDir, 'key.pem');
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile,
  '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
], { stdio: 'ignore' });

const tokenFor = (sub) => signToken(claimsFor(sub), { alg: 'HS256', key: SECRET });

describe('peerjs client over wss:// with connection tokens, across pods', { timeout: 60000 }, () => {
  const fx = browserFixture(
    {
      pods: 2,
      tag: 'bsec',
      flags: { 'tls-cert-file': certFile, 'tls-key-file': keyFile, 'auth-jwt-secret-file': secretFile },
    },
    { chromiumArgs: ['--ignore-certificate-errors'] }, // the test's self-signed certificate
  );

  it('opens a DataConnection between token-holding peers on two pods, and refuses a squatter', async (t) => {
    const [pod1, pod2] = fx.cluster.pods;
    const secure = (sub) => ({ secure: true, token: tokenFor(sub) });

    const pageB = await fx.openPage(t, 'peerjs.html', 'bob (pod 2)');
    assert.deepEqual(
      await pageB.run('open bob on pod 2', ([port, extra]) => startPeer('B', 'bob', port, extra), [pod2.port, secure('bob')]),
      { id: 'bob' },
    );
    await pageB.run('accept connections', () => acceptAndSend('B', ['hi alice']));

    const pageA = await fx.openPage(t, 'peerjs.html', 'alice (pod 1)');
    assert.deepEqual(
      await pageA.run('open alice on pod 1', ([port, extra]) => startPeer('A', 'alice', port, extra), [pod1.port, secure('alice')]),
      { id: 'alice' },
    );
    await pageA.run('connect to bob', () => connectAndSend('A', 'bob', ['hi bob']));
    await pageB.waitFor('bob to receive', () => received.length >= 1);
    await pageA.waitFor('alice to receive', () => received.length >= 1);
    assert.deepEqual(await pageB.run('read bob', () => received), [{ from: 'alice', data: 'hi bob' }]);
    assert.deepEqual(await pageA.run('read alice', () => received), [{ from: 'bob', data: 'hi alice' }]);

    // A token for mallory does not open "bob", and bob keeps his id.
    const pageM = await fx.openPage(t, 'peerjs.html', 'mallory (pod 1)');
    const squat = await pageM.run(
      'open bob with mallory\'s token',
      ([port, extra]) => startPeer('M', 'bob', port, extra),
      [pod1.port, secure('mallory')],
    );
    assert.ok(squat.error, `the squatter must not open: ${JSON.stringify(squat)}`);
    await sleep(300);
    assert.deepEqual(await pageB.run('read bob', () => ({ open: peers.B.open, errors: peers.B.errorLog })), {
      open: true,
      errors: [],
    });
    assert.equal(await fx.cluster.owner('~bob'), pod2.pod);
    const refused = pod1.logs.find((o) => o.msg === 'handshake refused' && o.status === 403);
    assert.ok(refused, `pod 1 logs the refusal: ${pod1.stderrTail(5)}`);
  });
});
