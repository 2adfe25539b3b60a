// TLS on the public port (--tls-cert-file, --tls-key-file; docs/security.md): wss:// and
// https:// with a certificate the test makes with the openssl command, TLS 1.2 at least, and
// the certificate's rotation (its files replaced the way a Kubernetes Secret is, or SIGHUP)
// without dropping open connections.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { connectPeer, eventually, parseMetrics, runOnce, startServer } from './harness.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tls-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// A self-signed certificate for 127.0.0.1 and localhost, with its key: { cert, key } (PEM).
function makeCertificate(name, { keyType = 'ec' } = {}) {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  const keyOptions = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync('openssl', [
    'req', '-x509', ...keyOptions, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

// The files the server is given, laid out as a mounted Secret is: cert.pem and key.pem are
// symlinks into ..data, itself a symlink to a versioned directory that an update replaces at once.
class SecretVolume {
  constructor(name) {
    this.root = path.join(dir, name);
    fs.mkdirSync(this.root);
    this.version = 0;
    this.certFile = path.join(this.root, 'cert.pem');
    this.keyFile = path.join(this.root, 'key.pem');
  }

  write({ cert, key }) {
    const versioned = `..v${++this.version}`;
    fs.mkdirSync(path.join(this.root, versioned));
    fs.writeFileSync(path.join(this.root, versioned, 'cert.pem'), cert);
    fs.writeFileSync(path.join(this.root, versioned, 'key.pem'), key);
    const next = path.join(this.root, '..data_tmp');
    fs.symlinkSync(versioned, next);
    fs.renameSync(next, path.join(this.root, '..data'));
    if (this.version === 1) {
      fs.symlinkSync('..data/cert.pem', this.certFile);
      fs.symlinkSync('..data/key.pem', this.keyFile);
    }
  }
}

// The subject CN of the certificate the server presents to a new TLS connection.
function servedName(srv, ca) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: srv.host, port: srv.port, ca, rejectUnauthorized: false }, () => {
      const name = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(name);
    });
    socket.once('error', reject);
  });
}

function httpsGet(srv, urlPath, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: srv.host, port: srv.port, path: urlPath, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    req.once('error', reject);
  });
}

// What a plain HTTP request to the TLS port gets back: the bytes, or the error that ended it.
function plainRequest(srv) {
  return new Promise((resolve) => {
    const socket = net.connect(srv.port, srv.host, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => (data += d));
    socket.setTimeout(3000, () => socket.destroy());
    socket.on('close', () => resolve(data));
    socket.on('error', () => {});
  });
}

// The outcome of a TLS handshake that offers at most `maxVersion`: the version agreed, or the
// error code. SECLEVEL=0 lets this client offer TLS 1.1 at all, so a refusal is the server's.
function handshakeAt(srv, ca, maxVersion) {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: srv.host, port: srv.port, ca, maxVersion, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0',
    }, () => {
      const version = socket.getProtocol();
      socket.end();
      resolve(version);
    });
    socket.once('error', (err) => resolve(err.code));
  });
}

const first = makeCertificate('first');
const second = makeCertificate('second');
const rsa = makeCertificate('rsa', { keyType: 'rsa' });
const ca = [first.cert, second.cert, rsa.cert];

describe('TLS on the public port', { timeout: 60000 }, () => {
  it('serves wss:// and https:// on one port, refuses plain requests and TLS 1.1', async (t) => {
    const volume = new SecretVolume('serve');
    volume.write(first);
    const srv = await startServer({ 'tls-cert-file': volume.certFile, 'tls-key-file': volume.keyFile }, { t });
    const listening = srv.logs.find((o) => o.msg === 'listening');
    assert.equal(listening.tls, 'on');
    assert.match(listening.url, /^wss:\/\//);

    const wsOptions = { ca };
    const alice = await connectPeer(srv, 'alice', { wsOptions });
    const bob = await connectPeer(srv, 'bob', { wsOptions });
    alice.send({ type: 'offer', to: 'bob', payload: { sdp: 'over tls' } });
    const offer = await bob.next();
    assert.deepEqual([offer.type, offer.from, offer.payload.sdp], ['offer', 'alice', 'over tls']);

    const health = await httpsGet(srv, '/healthz', ca);
    assert.equal(health.status, 200);
    const metrics = parseMetrics((await httpsGet(srv, '/metrics', ca)).body);
    assert.ok(metrics.sum('switchboard_tls_certificate_expiry_timestamp_seconds') > Date.now() / 1000);

    const plain = await plainRequest(srv);
    assert.doesNotMatch(plain, /^HTTP\/1\.1 200/, 'a plain request on the TLS port was answered');

    assert.equal(await handshakeAt(srv, ca, 'TLSv1.2'), 'TLSv1.2');
    assert.equal(await handshakeAt(srv, ca, 'TLSv1.1'), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('reloads a rotated certificate, keeps open connections, and keeps the old one when the new is bad', async (t) => {
    const volume = new SecretVolume('rotate');
    volume.write(first);
    const srv = await startServer({ 'tls-cert-file': volume.certFile, 'tls-key-file': volume.keyFile }, { t });
    const reloads = async (result) =>
      parseMetrics((await httpsGet(srv, '/metrics', ca)).body).sum('switchboard_tls_reloads_total', { result });
    assert.equal(await servedName(srv, ca), 'first');
    const before = await connectPeer(srv, 'before', { wsOptions: { ca } });

    // The Secret's files are replaced: seen within a few seconds, no signal needed.
    volume.write(second);
    await srv.waitForLog((o) => o.msg === 'TLS certificate reloaded' && o.trigger === 'files changed', 5000);
    assert.equal(await servedName(srv, ca), 'second');
    const after = await connectPeer(srv, 'after', { wsOptions: { ca } });
    after.send({ type: 'offer', to: 'before', payload: { sdp: 'still open' } });
    assert.equal((await before.next()).payload.sdp, 'still open');

    // A bad certificate, then SIGHUP: the served one stays, and the log says why.
    const logged = srv.logs.length;
    volume.write({ cert: 'not a certificate\n', key: second.key });
    srv.signal('SIGHUP');
    const kept = await srv.waitForLog(
      (o) => srv.logs.indexOf(o) >= logged && o.msg === 'TLS certificate not reloaded: serving the old one', 5000);
    assert.match(kept.why, /no PEM certificate/);
    assert.equal(await servedName(srv, ca), 'second');

    // A key that does not match its certificate.
    volume.write({ cert: first.cert, key: second.key });
    srv.signal('SIGHUP');
    await eventually(async () => assert.ok((await reloads('kept-old')) >= 2));
    assert.equal(await servedName(srv, ca), 'second');

    // Another key type is refused too: OpenSSL would serve it beside the old pair.
    volume.write(rsa);
    srv.signal('SIGHUP');
    const typeChange = await srv.waitForLog((o) => o.msg.startsWith('TLS certificate not reloaded') && /key type/.test(o.why), 5000);
    assert.match(typeChange.why, /RSA/);
    assert.equal(await servedName(srv, ca), 'second');

    // SIGHUP with a good pair loads it at once.
    volume.write(first);
    srv.signal('SIGHUP');
    await srv.waitForLog((o) => o.msg === 'TLS certificate reloaded' && o.trigger === 'SIGHUP', 5000);
    assert.equal(await servedName(srv, ca), 'first');
    assert.ok(srv.running);
    before.send({ type: 'ping', id: 1 });
    assert.equal((await before.next()).type, 'pong');
  });

  it('will not start with an unusable pair, or with one file of the two', async () => {
    const volume = new SecretVolume('bad');
    volume.write({ cert: first.cert, key: second.key });
    const mismatch = await runOnce(['--port', '0', '--tls-cert-file', volume.certFile, '--tls-key-file', volume.keyFile]);
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.stderr, /cannot use the TLS certificate.*does not match/);
    const alone = await runOnce(['--port', '0', '--tls-cert-file', volume.certFile]);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /set both or neither/);
  });
});
