// A TCP load balancer for tests, in front of some pods: each new connection goes to the backend
// it has the fewest connections open to (the first such in the list on a tie), as a
// least-connections balancer, or ingress-nginx's ewma, sends a reconnecting client to the pod
// that has room (docs/operations.md, "Rebalancing"). Backends are added and removed while it
// runs, as a pod joins the endpoints once ready and leaves them when it terminates. Bytes are
// piped both ways untouched (plain WebSocket or TLS alike).

import net from 'node:net';

// Starts the balancer on 127.0.0.1 (a free port) with `backends` ({host, port, ...}: a Server of
// harness.mjs will do). Resolves with {port, add(backend), remove(backend), counts(), close()}:
// counts() is the connections open through it per backend (by `${host}:${port}`); close()
// stops listening and destroys every connection it carries.
export async function startBalancer(backends = []) {
  const pool = [...backends];
  const open = new Map(); // backend -> connections open to it
  const sockets = new Set();
  const key = (b) => `${b.host}:${b.port}`;

  const pick = () => {
    let best = null;
    for (const b of pool) if (best === null || (open.get(b) ?? 0) < (open.get(best) ?? 0)) best = b;
    return best;
  };

  const server = net.createServer((client) => {
    const backend = pick();
    if (!backend) return client.destroy();
    open.set(backend, (open.get(backend) ?? 0) + 1);
    const upstream = net.connect(backend.port, backend.host);
    sockets.add(client).add(upstream);
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      open.set(backend, open.get(backend) - 1);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  return {
    port: server.address().port,
    add(backend) {
      pool.push(backend);
    },
    remove(backend) {
      const i = pool.indexOf(backend);
      if (i >= 0) pool.splice(i, 1);
    },
    counts() {
      return Object.fromEntries([...open].map(([b, n]) => [key(b), n]));
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
