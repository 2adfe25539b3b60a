// The Kubernetes manifests (issue 6): every kustomization renders with kubectl, every object
// validates against the Kubernetes (and prometheus-operator) schemas, the objects agree with
// each other, and they agree with the real binary: each variable they set is one
// `switchboard --help` lists, a server started with an overlay's ConfigMap and Secret answers
// its probes, exposes every metric the autoscaler, the dashboard and the alerts use, and drains
// within the pod's grace period.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { parse as parseYamlText } from 'yaml';
import { runOnce, startRedis, startServer, connectPeer, redisCommand, eventually, httpGet, parseMetrics } from '../integration/harness.mjs';
import { claimsFor, ecKeys, keyDir, publicPem, signToken } from '../integration/jwt.mjs';
import { K8S, find, load, render, schemaProblems, selects } from './kustomize.mjs';

const OVERLAYS = ['overlays/dev', 'overlays/prod'];
const KUSTOMIZATIONS = ['base', ...OVERLAYS, 'monitoring'];

const renders = new Map();
function rendered(dir) {
  if (!renders.has(dir)) renders.set(dir, render(dir));
  return renders.get(dir);
}

// After its drain window the server gives the last closes this long (kDrainGraceNs, server.cc).
const SERVER_DRAIN_GRACE_S = Number(
  readFileSync(new URL('../../server/server.cc', import.meta.url), 'utf8').match(/kDrainGraceNs = (\d+)'000'000'000ULL/)[1],
);

// With connection tokens on (SWITCHBOARD_AUTH_JWT_PUBLIC_KEY_FILE), checks that the pod mounts
// the key's Secret where the variable points, and stands in for that Secret: a key pair made
// here, its public half in a file the variable is pointed at. Returns the variables to add and
// the connectPeer options that carry a token for an id.
function tokenKeyFor(pod, container, config, t) {
  const keyPath = config.SWITCHBOARD_AUTH_JWT_PUBLIC_KEY_FILE;
  if (keyPath === undefined) return { env: {}, options: () => ({}) };
  const mount = (container.volumeMounts ?? []).find((m) => keyPath.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `${keyPath} is under no volumeMount of the container`);
  assert.equal(mount.readOnly, true);
  const volume = pod.spec.volumes.find((v) => v.name === mount.name);
  assert.ok(volume?.secret?.secretName, `the volume at ${mount.mountPath} is a Secret`);
  const keys = ecKeys();
  const dir = keyDir(t.after.bind(t));
  const env = { SWITCHBOARD_AUTH_JWT_PUBLIC_KEY_FILE: dir.write('public.pem', publicPem(keys)) };
  const claims = (sub) => claimsFor(sub, { aud: config.SWITCHBOARD_AUTH_AUDIENCE, iss: config.SWITCHBOARD_AUTH_ISSUER });
  const options = (sub) => ({
    query: `access_token=${signToken(claims(sub), { alg: 'ES256', key: keys.privateKey })}`,
  });
  return { env, options };
}

function relay(objects) {
  const deployment = find(objects, 'Deployment', 'switchboard');
  const pod = deployment.spec.template;
  const container = pod.spec.containers.find((c) => c.name === 'switchboard');
  const config = find(objects, 'ConfigMap', 'switchboard-config').data;
  return { deployment, pod, container, config };
}

// Seconds the container's preStop hook sleeps (exec sleep N, or the sleep action).
function preStopSeconds(container) {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const [cmd, seconds] = preStop?.exec?.command ?? [];
  return cmd === 'sleep' ? Number(seconds) : 0;
}

// The PromQL syntax errors in `query`, as the Prometheus UI's own parser finds them. Grafana's
// variables and prometheus-adapter's templates are filled in first, as they would be.
function promqlErrors(query) {
  const filled = query
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$namespace', 'switchboard')
    .replaceAll('<<.Series>>', 'switchboard_connections_open')
    .replaceAll('<<.LabelMatchers>>', 'namespace="switchboard"')
    .replaceAll('<<.GroupBy>>', 'pod');
  const errors = [];
  promqlParser.parse(filled).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`${query}: syntax error at ${node.from}`);
    },
  });
  return errors;
}

// Every switchboard_* metric named in a PromQL expression or adapter rule.
function metricNames(text) {
  return [...new Set(text.match(/\bswitchboard_[a-z_]+\b/g) ?? [])];
}

describe('k8s manifests render and validate', () => {
  for (const dir of KUSTOMIZATIONS) {
    it(`kubectl kustomize k8s/${dir} renders`, () => {
      assert.ok(rendered(dir).length > 0);
    });

    it(`every object of k8s/${dir} validates against its schema`, async () => {
      const problems = [];
      for (const object of rendered(dir)) {
        for (const p of await schemaProblems(object)) problems.push(`${object.kind} ${object.metadata.name}: ${p}`);
      }
      assert.deepEqual(problems, []);
    });
  }

  it('examples/ingress-nginx.yaml validates against its schema', async () => {
    for (const object of load('examples/ingress-nginx.yaml')) assert.deepEqual(await schemaProblems(object), []);
  });

  it('the schema check is live: it refuses broken objects', async () => {
    const deployment = structuredClone(find(rendered('overlays/prod'), 'Deployment', 'switchboard'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    assert.match((await schemaProblems(deployment)).join(), /containerPort/);
    const hpa = structuredClone(find(rendered('overlays/prod'), 'HorizontalPodAutoscaler'));
    hpa.spec.minReplicas = 'two';
    assert.notDeepEqual(await schemaProblems(hpa), []);
    const monitor = structuredClone(find(rendered('monitoring'), 'ServiceMonitor'));
    monitor.spec.endpoints[0].interval = 'often';
    assert.notDeepEqual(await schemaProblems(monitor), []);
    // Misspelt fields, which the OpenAPI schemas alone let through.
    const misspelt = structuredClone(find(rendered('overlays/prod'), 'Deployment', 'switchboard'));
    misspelt.spec.template.spec.terminationGracePeriodSecond = 45;
    assert.deepEqual(await schemaProblems(misspelt), [
      'Deployment.spec.template.spec.terminationGracePeriodSecond: no such field',
    ]);
    const widened = structuredClone(find(rendered('overlays/prod'), 'NetworkPolicy', 'switchboard'));
    widened.spec.ingress[0].form = widened.spec.ingress[0].from;
    delete widened.spec.ingress[0].from;
    assert.deepEqual(await schemaProblems(widened), ['NetworkPolicy.spec.ingress[0].form: no such field']);
    assert.deepEqual(await schemaProblems({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } }), [
      'no schema for apps/v1 Deploymnet',
    ]);
  });
});

describe('the manifests fit together', () => {
  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      it('selectors, ports and names meet: Service, PDB, HPA, NetworkPolicies, ServiceMonitor', () => {
        const objects = rendered(overlay);
        const { deployment, pod, container } = relay(objects);
        const labels = pod.metadata.labels;
        assert.ok(selects(deployment.spec.selector, labels), 'the Deployment selects its own pods');
        const service = find(objects, 'Service', 'switchboard');
        assert.ok(selects({ matchLabels: service.spec.selector }, labels), 'the Service selects the relay pods');
        const portNames = container.ports.map((p) => p.name);
        for (const port of service.spec.ports) assert.ok(portNames.includes(port.targetPort), `targetPort ${port.targetPort}`);
        assert.ok(selects(find(objects, 'PodDisruptionBudget').spec.selector, labels), 'the PDB covers the relay pods');
        const hpa = find(objects, 'HorizontalPodAutoscaler');
        assert.deepEqual(
          [hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name],
          ['Deployment', deployment.metadata.name],
        );
        assert.ok(!('replicas' in deployment.spec), 'the HPA owns the replica count');

        const policy = find(objects, 'NetworkPolicy', 'switchboard');
        assert.ok(selects(policy.spec.podSelector, labels), 'the relay NetworkPolicy applies to the relay pods');
        assert.deepEqual(policy.spec.policyTypes.sort(), ['Egress', 'Ingress']);
        const redisPolicy = find(objects, 'NetworkPolicy', 'switchboard-redis');
        const redisLabels = find(objects, 'StatefulSet', 'switchboard-redis').spec.template.metadata.labels;
        assert.ok(selects(redisPolicy.spec.podSelector, redisLabels), 'the Redis NetworkPolicy applies to Redis');
        assert.ok(
          redisPolicy.spec.ingress.some((rule) => rule.from.some((peer) => selects(peer.podSelector, labels))),
          'Redis admits the relay pods',
        );
        assert.ok(
          policy.spec.egress.some((rule) => rule.to.some((peer) => peer.podSelector && selects(peer.podSelector, redisLabels))),
          'the relay pods may reach Redis',
        );

        const monitor = find(rendered('monitoring'), 'ServiceMonitor');
        assert.ok(selects(monitor.spec.selector, service.metadata.labels), 'the ServiceMonitor selects the Service');
        assert.ok(
          monitor.spec.namespaceSelector.matchNames.includes(service.metadata.namespace),
          `the ServiceMonitor looks in namespace ${service.metadata.namespace}`,
        );
        const servicePorts = service.spec.ports.map((p) => p.name);
        for (const endpoint of monitor.spec.endpoints) {
          assert.ok(servicePorts.includes(endpoint.port), `ServiceMonitor port ${endpoint.port}`);
          assert.equal(endpoint.path, '/metrics');
        }
      });

      it('the pods run locked down: non-root, read-only root, no escalation, no capabilities', () => {
        for (const workload of rendered(overlay).filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))) {
          const spec = workload.spec.template.spec;
          assert.equal(spec.securityContext.runAsNonRoot, true, workload.metadata.name);
          assert.ok(spec.securityContext.runAsUser > 0, workload.metadata.name);
          assert.equal(spec.automountServiceAccountToken, false, workload.metadata.name);
          for (const c of spec.containers) {
            assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
            assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
            assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
            for (const kind of ['requests', 'limits']) {
              assert.ok(c.resources[kind].cpu && c.resources[kind].memory, `${c.name} ${kind}`);
            }
          }
        }
      });

      it('the configured port is the container port, Redis is the bundled Service, its password the Secret', () => {
        const objects = rendered(overlay);
        const { container, config } = relay(objects);
        assert.equal(Number(config.SWITCHBOARD_PORT), container.ports.find((p) => p.name === 'http').containerPort);
        assert.equal(Number(config.SWITCHBOARD_ADMIN_PORT), container.ports.find((p) => p.name === 'admin').containerPort);
        const redisService = find(objects, 'Service', 'switchboard-redis');
        assert.equal(new URL(config.SWITCHBOARD_REDIS_URL).hostname, redisService.metadata.name);
        assert.equal(
          Number(new URL(config.SWITCHBOARD_REDIS_URL).port),
          redisService.spec.ports.find((p) => p.name === 'redis').port,
        );
        const relayRef = container.env.find((e) => e.name === 'SWITCHBOARD_REDIS_PASSWORD').valueFrom.secretKeyRef;
        const redisContainer = find(objects, 'StatefulSet', 'switchboard-redis').spec.template.spec.containers[0];
        const redisRef = redisContainer.env.find((e) => e.name === 'REDIS_PASSWORD').valueFrom.secretKeyRef;
        assert.deepEqual(relayRef, redisRef, 'relay and Redis read the same Secret key');
        assert.ok(redisContainer.args.join(' ').includes('--requirepass $(REDIS_PASSWORD)'));
        const secret = objects.find((o) => o.kind === 'Secret');
        if (overlay === 'overlays/dev') assert.equal(secret?.metadata.name, relayRef.name, 'dev generates the Secret');
        else assert.equal(secret, undefined, 'prod keeps the password out of git: the operator creates the Secret');
      });

      it('terminationGracePeriodSeconds covers preStop + drain + the server\'s last-close grace', () => {
        const { pod, container, config } = relay(rendered(overlay));
        const needed = preStopSeconds(container) + Number(config.SWITCHBOARD_DRAIN_SECONDS) + SERVER_DRAIN_GRACE_S;
        assert.ok(preStopSeconds(container) > 0, 'a preStop pause lets the endpoints drop the pod first');
        assert.ok(
          pod.spec.terminationGracePeriodSeconds >= needed,
          `terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds} < ${needed}`,
        );
      });

      it('the HPA scales on the adapter\'s connections metric and CPU, and scales in slowly', () => {
        const hpa = find(rendered(overlay), 'HorizontalPodAutoscaler');
        const adapter = parseYamlText(find(rendered('monitoring'), 'ConfigMap', 'switchboard-prometheus-adapter').data['config.yaml']);
        const served = adapter.rules.map((r) => r.name.as);
        const pods = hpa.spec.metrics.find((m) => m.type === 'Pods');
        assert.ok(served.includes(pods.pods.metric.name), `${pods.pods.metric.name} is served by the adapter (${served})`);
        assert.ok(hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource.name === 'cpu'));
        assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
        assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, 'scale-down waits at least 5 min');
        const maxConnections = Number(relay(rendered(overlay)).config.SWITCHBOARD_MAX_CONNECTIONS);
        assert.ok(Number(pods.pods.target.averageValue) <= 0.6 * maxConnections, 'scales out well before the ceiling');
      });
    });
  }

  it('the dashboard is Grafana JSON on a chosen Prometheus, and every query parses', () => {
    const dashboard = JSON.parse(readFileSync(new URL('monitoring/dashboards/switchboard.json', K8S), 'utf8'));
    const variables = dashboard.templating.list.map((v) => v.name);
    assert.ok(variables.includes('datasource') && variables.includes('namespace'), `variables: ${variables}`);
    assert.ok(dashboard.panels.length > 0);
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const topic of [/connections per pod/i, /by path/i, /latency/i, /queued|expired/i, /redis up/i, /redis command latency/i]) {
      assert.match(titles, topic);
    }
    for (const panel of dashboard.panels) {
      for (const target of [panel, ...panel.targets]) assert.equal(target.datasource.uid, '${datasource}', panel.title);
      for (const target of panel.targets) assert.deepEqual(promqlErrors(target.expr), [], panel.title);
    }
  });

  it('every alert and the adapter rule parse as PromQL; the parser catches a broken one', () => {
    const rules = find(rendered('monitoring'), 'PrometheusRule').spec.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 0);
    for (const rule of rules) assert.deepEqual(promqlErrors(rule.expr), [], rule.alert);
    const adapter = parseYamlText(
      find(rendered('monitoring'), 'ConfigMap', 'switchboard-prometheus-adapter').data['config.yaml'],
    );
    for (const rule of adapter.rules) {
      assert.deepEqual([...promqlErrors(rule.seriesQuery), ...promqlErrors(rule.metricsQuery)], []);
    }
    assert.notDeepEqual(promqlErrors('sum(rate(switchboard_messages_queued_total[5m]) by'), []);
  });

  it('the ingress example routes the client paths to the Service, and nothing else', () => {
    const [ingress] = load('examples/ingress-nginx.yaml');
    const { config } = relay(rendered('overlays/prod'));
    const service = find(rendered('overlays/prod'), 'Service', 'switchboard');
    const paths = ingress.spec.rules.flatMap((r) => r.http.paths);
    assert.deepEqual(paths.map((p) => p.path).sort(), ['/ws', config.SWITCHBOARD_PEERJS_PATH].sort());
    for (const p of paths) {
      assert.equal(p.backend.service.name, service.metadata.name);
      assert.ok(service.spec.ports.some((port) => port.name === p.backend.service.port.name));
    }
    assert.ok(Number(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 60);
  });
});

describe('the manifests fit the real binary', { timeout: 120000 }, () => {
  it('every variable the manifests set is one `switchboard --help` lists', async () => {
    const { code, stdout } = await runOnce(['--help']);
    assert.equal(code, 0);
    for (const overlay of OVERLAYS) {
      const { container, config } = relay(rendered(overlay));
      const names = [...Object.keys(config), ...container.env.map((e) => e.name)];
      for (const name of names) {
        assert.ok(stdout.includes(name === 'POD_NAME' ? '$POD_NAME' : `(${name},`), `${overlay}: ${name} is not in --help`);
      }
      assert.equal(container.args, undefined, 'flags come from the ConfigMap, not args');
    }
  });

  for (const overlay of OVERLAYS) {
    it(`${overlay}: a server with its ConfigMap and Secret answers the probes, shows the metrics, drains in time`, async (t) => {
      const objects = rendered(overlay);
      const { pod, container, config } = relay(objects);
      const secret = objects.find((o) => o.kind === 'Secret');
      const password = secret ? Buffer.from(secret.data.password, 'base64').toString() : 'prod-test-password';
      const redis = await startRedis();
      t.after(() => redis.stop());
      assert.equal(await redisCommand(redis.port, ['CONFIG', 'SET', 'requirepass', password]), 'OK');

      // The pod's environment, as Kubernetes builds it; only where to listen (both ports) and where
      // Redis is differ (flags beat variables), and the pod id comes from POD_NAME alone.
      const podName = 'switchboard-7c9d8f6b5d-x2x7q';
      const auth = tokenKeyFor(pod, container, config, t);
      const srv = await startServer(
        { 'redis-url': redis.url, 'pod-id': null, 'drain-seconds': null, 'admin-port': 0 },
        { t, env: { ...config, ...auth.env, POD_NAME: podName, SWITCHBOARD_REDIS_PASSWORD: password } },
      );
      assert.equal(srv.listening.pod, podName, 'the pod id is POD_NAME');
      assert.equal(srv.listening.auth, config.SWITCHBOARD_AUTH_JWT_PUBLIC_KEY_FILE ? 'jwt' : 'none');
      await srv.waitForRedisUp();

      // The probes and the ServiceMonitor use the admin port; the public one no longer serves them.
      const admin = (path) => httpGet(srv.host, srv.listening.admin_port, path);
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        assert.equal(probe.httpGet.port, 'admin');
        const res = await admin(probe.httpGet.path);
        assert.equal(res.status, 200, `${probe.httpGet.path}: ${res.status} ${res.body}`);
        assert.equal((await srv.get(probe.httpGet.path)).status, 404, `${probe.httpGet.path} on the public port`);
      }
      assert.equal(find(rendered('monitoring'), 'ServiceMonitor').spec.endpoints[0].port, 'admin');

      const metrics = parseMetrics((await admin('/metrics')).body);
      const exposed = new Set(metrics.samples.map((s) => s.name));
      for (const [name, type] of metrics.types) {
        exposed.add(name);
        if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(name + suffix);
      }
      const users = {
        HPA: JSON.stringify(find(objects, 'HorizontalPodAutoscaler').spec.metrics),
        'prometheus-adapter rule': find(rendered('monitoring'), 'ConfigMap', 'switchboard-prometheus-adapter').data['config.yaml'],
        dashboard: readFileSync(new URL('monitoring/dashboards/switchboard.json', K8S), 'utf8'),
        alerts: JSON.stringify(find(rendered('monitoring'), 'PrometheusRule').spec),
      };
      for (const [user, text] of Object.entries(users)) {
        const names = metricNames(text);
        assert.ok(names.length > 0, `${user} uses some switchboard metric`);
        for (const name of names) assert.ok(exposed.has(name), `${user} uses ${name}, which /metrics does not show`);
      }

      // A rollout: the pod gets SIGTERM after its preStop pause; it must be done within what is
      // left of the grace period.
      const clients = [];
      for (let i = 0; i < 10; i++) clients.push(await connectPeer(srv, `k8s-${i}`, auth.options(`k8s-${i}`)));
      const signalledAt = Date.now();
      srv.signal('SIGTERM');
      // A probe polls: the server turns unready once it has handled the signal, not at the
      // instant it was sent.
      await eventually(async () => {
        const res = await admin(container.readinessProbe.httpGet.path);
        assert.equal(res.status, 503, 'not ready once draining');
      }, { timeoutMs: 2000, intervalMs: 20 });
      const budgetMs = (pod.spec.terminationGracePeriodSeconds - preStopSeconds(container)) * 1000;
      const { code } = await srv.waitForExit(budgetMs);
      assert.equal(code, 0);
      const closes = await Promise.all(clients.map((c) => c.closed(1000)));
      assert.deepEqual([...new Set(closes.map((c) => c.code))], [1001], 'every client told to reconnect (1001)');
      t.diagnostic(`exited ${Date.now() - signalledAt} ms after SIGTERM (budget ${budgetMs} ms)`);
    });
  }
});
