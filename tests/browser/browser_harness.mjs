// Browser test harness: Debian's Chromium driven by playwright-core, pages served by a node http
// server on 127.0.0.1, Switchboard pods from the integration harness (../integration/harness.mjs).
//
//   describe('...', () => {
//     const fx = browserFixture({ pods: 2, tag: 'bpj', flags: { 'expire-ms': 1500 } });
//     it('...', async (t) => {
//       const a = await fx.openPage(t, 'peerjs.html', 'A');      // closed by t.after
//       const id = await a.run('open peer A', (port) => startPeer('A', null, port), fx.cluster.pods[0].port);
//     });
//   });
//
// Run:   cd tests && npm ci && node --test --test-concurrency=1 --test-reporter=spec browser/
//
// The page's origin (the site server) differs from every pod's, so the pods' HTTP answers must
// carry CORS headers for the pages to read them. Chromium is /usr/bin/chromium, or
// $CHROMIUM_BIN; it is never downloaded (apt-get install chromium, see server/install_deps.sh).

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startCluster } from '../integration/harness.mjs';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// What the site serves: URL path -> [file, content type].
const fromHere = (rel) => fileURLToPath(new URL(rel, import.meta.url));
const SITE_FILES = {
  '/peerjs.html': [fromHere('./pages/peerjs.html'), 'text/html; charset=utf-8'],
  '/native.html': [fromHere('./pages/native.html'), 'text/html; charset=utf-8'],
  '/peerjs.min.js': [fromHere('../node_modules/peerjs/dist/peerjs.min.js'), 'text/javascript; charset=utf-8'],
  '/switchboard-client.js': [fromHere('../../clients/browser/switchboard-client.js'), 'text/javascript; charset=utf-8'],
};

// The static site on a free port of 127.0.0.1. Files are read on every request.
export async function startSite() {
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://site').pathname;
    const entry = SITE_FILES[path];
    if (!entry || req.method !== 'GET') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not served: ${req.method} ${path}`);
      return;
    }
    try {
      const body = await readFile(entry[0]);
      res.writeHead(200, { 'Content-Type': entry[1], 'Cache-Control': 'no-store' }).end(body);
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`cannot read ${entry[0]}: ${err.message}`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    url: (path) => `${origin}/${path}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function launchBrowser(extraArgs = []) {
  try {
    return await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
  } catch (err) {
    throw new Error(
      `cannot launch Chromium at ${CHROMIUM_BIN} (install it: apt-get install chromium, or set CHROMIUM_BIN): ${err.message}`,
    );
  }
}

// Rejects with `message()` if `promise` has not settled within `ms`.
async function within(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// One page in its own browser context. Every console line and page error is kept in `logs`, and a
// failure of run()/waitFor() reports them, with the other open pages' and the pods' logs.
export class TestPage {
  constructor(fixture, context, page, label) {
    this.fixture = fixture;
    this.context = context;
    this.page = page;
    this.label = label;
    this.logs = [];
    const started = Date.now();
    const keep = (line) => this.logs.push(`+${String(Date.now() - started).padStart(5)} ms ${line}`);
    page.on('console', (msg) => keep(`${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (err) => keep(`page error: ${err.message}`));
    page.on('requestfailed', (req) => keep(`request failed: ${req.url()} (${req.failure()?.errorText})`));
    page.on('response', (res) => {
      if (res.status() >= 400) keep(`HTTP ${res.status()} for ${res.url()}`);
    });
    page.on('crash', () => keep('page crashed'));
  }

  // Evaluates fn(arg) in the page and resolves with its (awaited) result, or fails with `what` and
  // the logs if it throws or takes longer than timeoutMs.
  async run(what, fn, arg, timeoutMs = 10000) {
    try {
      return await within(this.page.evaluate(fn, arg), timeoutMs, () => `timed out after ${timeoutMs} ms`);
    } catch (err) {
      throw new Error(`[${this.label}] ${what}: ${err.message}\n${this.fixture.describeState()}`, { cause: err });
    }
  }

  // Resolves with the first truthy value of fn(arg), polled in the page.
  async waitFor(what, fn, arg, timeoutMs = 10000) {
    try {
      const handle = await this.page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 50 });
      return await handle.jsonValue();
    } catch (err) {
      throw new Error(
        `[${this.label}] waiting for ${what}: ${err.message.split('\n')[0]}\n${this.fixture.describeState()}`,
        { cause: err },
      );
    }
  }

  close() {
    this.fixture.pages.delete(this);
    return this.context.close();
  }
}

// Call synchronously inside a describe() body. Starts, in a `before` hook, a cluster of pods
// (startCluster `clusterOptions`), the site and Chromium (with `chromiumArgs` added to its own);
// stops them all in an `after` hook.
export function browserFixture(clusterOptions, { chromiumArgs = [] } = {}) {
  const fx = {
    cluster: null,
    site: null,
    browser: null,
    pages: new Set(),

    // A new page (in a fresh context: no shared storage) showing `path` of the site; closed by
    // t.after. `label` names it in failure messages.
    async openPage(t, path, label) {
      const context = await fx.browser.newContext();
      const page = new TestPage(fx, context, await context.newPage(), label);
      fx.pages.add(page);
      t.after(() => page.close());
      await page.page.goto(fx.site.url(path));
      // The page's script defines pageReady last: a script that failed to load or run shows here.
      await page.waitFor(`${path} to load its scripts`, () => window.pageReady === true, undefined, 5000);
      return page;
    },

    // The open pages' logs and the tail of every pod's log, for failure messages.
    describeState() {
      const parts = [];
      for (const p of fx.pages) {
        parts.push(`  page ${p.label} log:\n${p.logs.map((l) => `    | ${l}`).join('\n') || '    | (empty)'}`);
      }
      for (const pod of fx.cluster?.pods ?? []) parts.push(`  pod ${pod.pod} stderr:\n${pod.stderrTail(12)}`);
      return parts.join('\n');
    },
  };

  before(async () => {
    const [cluster, site, browser] = await Promise.allSettled([
      startCluster(clusterOptions),
      startSite(),
      launchBrowser(chromiumArgs),
    ]);
    fx.cluster = cluster.value ?? null;
    fx.site = site.value ?? null;
    fx.browser = browser.value ?? null;
    const failure = [cluster, site, browser].find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  });

  after(async () => {
    // The browser first, so that the pods stop with no client left to drain.
    if (fx.browser) await fx.browser.close();
    if (fx.site) await fx.site.close();
    if (fx.cluster) await fx.cluster.stop();
  });

  return fx;
}
