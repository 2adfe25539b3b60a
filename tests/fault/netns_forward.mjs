// A byte-for-byte TCP/Unix-socket forwarder, run as its own process (inside a network namespace
// of the fault suite's own, with `ip netns exec`, or on this machine's loopback). It lets a
// process in a namespace reach a socket outside it through a Unix socket file, which crosses
// namespaces (see fault_lib.mjs, NetnsPod):
//
//   node netns_forward.mjs <listen> <connect>
//     <listen>, <connect>:  unix:/path/to/socket  |  tcp:<host>:<port>
//
// Prints "ready" on stdout once it listens. Each accepted connection gets one outgoing connection;
// when either side ends or fails, both are closed. It never buffers without bound beyond what
// net.Socket's pipe() does (back-pressure is passed through), and it never reads or changes the
// bytes.

import net from 'node:net';
import { rmSync } from 'node:fs';

function parse(spec) {
  if (spec.startsWith('unix:')) return { path: spec.slice('unix:'.length) };
  const m = /^tcp:(.+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`bad endpoint ${JSON.stringify(spec)} (unix:/path or tcp:host:port)`);
  return { host: m[1], port: Number(m[2]) };
}

const [listenSpec, connectSpec] = process.argv.slice(2);
if (!listenSpec || !connectSpec) {
  process.stderr.write('usage: node netns_forward.mjs <listen> <connect>\n');
  process.exit(2);
}
const listenAt = parse(listenSpec);
const connectTo = parse(connectSpec);

const server = net.createServer({ pauseOnConnect: true }, (inbound) => {
  const outbound = net.connect(connectTo);
  inbound.setNoDelay?.(true);
  const done = () => {
    inbound.destroy();
    outbound.destroy();
  };
  outbound.on('connect', () => {
    outbound.setNoDelay?.(true);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.resume();
  });
  for (const s of [inbound, outbound]) {
    s.on('error', done);
    s.on('close', done);
  }
});
server.on('error', (err) => {
  process.stderr.write(`netns_forward ${listenSpec} -> ${connectSpec}: ${err.message}\n`);
  process.exit(1);
});
if (listenAt.path) rmSync(listenAt.path, { force: true });
server.listen(listenAt, () => process.stdout.write('ready\n'));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
