/**
 * deploy/ (issue 18) follows the code: every YAML file there parses; every env var set for a chat
 * container (compose `environment`, k8s `env` and the ConfigMap it takes `envFrom`) is a flag the
 * node reads; every probe and healthcheck path is a route a node serves without a token, on the
 * PORT its env sets; grace periods leave room for SHUTDOWN_TIMEOUT_MS after preStop; every compose
 * `depends_on` waits for a healthcheck; Prometheus scrapes the compose chat services on their PORT
 * and loads rule files that are mounted next to its config; no Secret value is committed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import { TestNode } from '../helpers/node.ts';
import { flagsRead } from '../helpers/flags.ts';

const root = resolve(new URL('../../', import.meta.url).pathname);
const deploy = join(root, 'deploy');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

type Yaml = any;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** Each file's documents as plain data (merge keys `<<:` resolved, as compose does); parse errors fail the test. */
function loadAll(): Map<string, Yaml[]> {
  const out = new Map<string, Yaml[]>();
  for (const file of yamlFiles(deploy)) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
    const list = Array.isArray(docs) ? docs : [docs];
    for (const d of list) assert.deepEqual(d.errors.map((e) => e.message), [], `${relative(root, file)} parses`);
    out.set(relative(deploy, file), list.map((d) => d.toJS()).filter((d) => d != null));
  }
  return out;
}

const files = loadAll();
const flags = flagsRead();
const compose: Yaml = parseDocument(readFileSync(join(deploy, 'compose.yaml'), 'utf8'), { merge: true }).toJS();
const k8s: Yaml[] = [...files].filter(([f]) => f.startsWith('k8s/')).flatMap(([, docs]) => docs);

/** Compose services that run the chat image (built from ../Dockerfile). */
const chatServices = Object.entries<Yaml>(compose.services).filter(([, s]) => s.build !== undefined);
const portOf = (env: Record<string, unknown>) => Number(env.PORT ?? 9001);
/** http://host:port/path in a healthcheck command or URL. */
const urlsIn = (text: string) => [...text.matchAll(/https?:\/\/([\w.-]+):(\d+)(\/[\w/-]*)/g)].map((m) => ({ host: m[1], port: Number(m[2]), path: m[3] }));
/** "15s", "1m30s" → seconds. */
function seconds(duration: string | undefined): number {
  if (duration === undefined) return 10; // Docker's default
  let s = 0;
  for (const m of String(duration).matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) s += Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 0.001 }[m[2] as 'h' | 'm' | 's' | 'ms'];
  return s;
}

/** Paths probed by any healthcheck, probe or scrape config under deploy/, checked against a live node below. */
const probedPaths = new Set<string>();

/** The pod templates' chat containers, with the env they get (ConfigMap keys and env entries). */
function k8sContainers(): { where: string; container: Yaml; pod: Yaml; env: Record<string, string | undefined> }[] {
  const configMaps = new Map(k8s.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d.data ?? {}]));
  return k8s
    .filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.kind))
    .flatMap((d) => d.spec.template.spec.containers.map((c: Yaml) => {
      const env: Record<string, string | undefined> = {};
      for (const from of c.envFrom ?? []) {
        assert.ok(from.configMapRef, `${d.kind}/${d.metadata.name}: envFrom only from a ConfigMap (secrets by secretKeyRef, one by one)`);
        const data = configMaps.get(from.configMapRef.name);
        assert.ok(data, `${d.kind}/${d.metadata.name}: ConfigMap ${from.configMapRef.name} is in deploy/k8s/`);
        Object.assign(env, data);
      }
      for (const e of c.env ?? []) env[e.name] = e.value;
      return { where: `${d.kind}/${d.metadata.name} ${c.name}`, container: c, pod: d.spec.template.spec, env };
    }));
}

test('flags are found in src/config.ts, and deploy/ holds the compose file, Prometheus, Grafana and k8s files', () => {
  assert.ok(flags.size > 100 && flags.has('SHUTDOWN_TIMEOUT_MS') && flags.has('RETENTION_DAYS_DM'), `found the flags (${flags.size})`);
  for (const f of ['compose.yaml', 'prometheus/prometheus.yml', 'grafana/provisioning/datasources/prometheus.yaml', 'grafana/provisioning/dashboards/chat.yaml']) {
    assert.ok(files.has(f), `deploy/${f} exists`);
  }
  assert.ok(chatServices.length >= 3, 'compose runs three chat nodes');
  assert.ok(k8sContainers().length >= 1, 'deploy/k8s/ has a chat workload');
});

test('every env var set for a chat container is a flag the node reads', () => {
  const unknown: string[] = [];
  for (const [name, s] of chatServices) {
    assert.ok(s.environment && !Array.isArray(s.environment), `compose ${name}: environment as a map`);
    for (const key of Object.keys(s.environment)) if (!flags.has(key)) unknown.push(`compose ${name}: ${key}`);
  }
  for (const { where, env } of k8sContainers()) for (const key of Object.keys(env)) if (!flags.has(key)) unknown.push(`k8s ${where}: ${key}`);
  assert.deepEqual(unknown, []);
});

test('compose: every chat node has its own NODE_ID, the same cluster settings, and a healthcheck on /readyz at its PORT', () => {
  const ids = chatServices.map(([, s]) => s.environment.NODE_ID);
  assert.equal(new Set(ids).size, chatServices.length, `distinct NODE_IDs: ${ids}`);
  for (const key of ['NATS_URL', 'DATABASE_URL', 'SHARD_COUNT', 'JWT_SECRET', 'BLOB_STORE']) {
    assert.equal(new Set(chatServices.map(([, s]) => s.environment[key])).size, 1, `one ${key} for every node`);
  }
  for (const [name, s] of chatServices) {
    const port = portOf(s.environment);
    const probes = urlsIn([s.healthcheck?.test ?? []].flat().join(' '));
    assert.deepEqual(probes.map((p) => [p.port, p.path]), [[port, '/readyz']], `compose ${name}: healthcheck GETs /readyz on PORT ${port}`);
    probes.forEach((p) => probedPaths.add(p.path));
    for (const mapping of s.ports ?? []) assert.equal(Number(String(mapping).split(':').at(-1)), port, `compose ${name}: published port ${mapping} is PORT`);
    const grace = seconds(s.stop_grace_period);
    const shutdownS = Number(s.environment.SHUTDOWN_TIMEOUT_MS) / 1000;
    assert.ok(grace > shutdownS, `compose ${name}: stop_grace_period ${grace} s > SHUTDOWN_TIMEOUT_MS ${shutdownS} s (Docker SIGKILLs after it)`);
  }
});

test('compose: every service has a healthcheck, and every depends_on waits for one (service_healthy)', () => {
  const services: Record<string, Yaml> = compose.services;
  const problems: string[] = [];
  for (const [name, s] of Object.entries(services)) {
    if (!s.healthcheck?.test) problems.push(`${name}: no healthcheck`);
    const deps = s.depends_on ?? {};
    const entries: [string, Yaml][] = Array.isArray(deps) ? deps.map((d: string) => [d, {}]) : Object.entries<Yaml>(deps);
    for (const [target, spec] of entries) {
      if (!services[target]) problems.push(`${name}: depends_on ${target}, no such service`);
      else if (!services[target].healthcheck?.test) problems.push(`${name}: depends_on ${target}, which has no healthcheck`);
      if (spec.condition !== 'service_healthy') problems.push(`${name}: depends_on ${target} without condition: service_healthy`);
    }
  }
  assert.deepEqual(problems, []);
  for (const [name, s] of chatServices) {
    for (const dep of ['postgres', 'azurite', 'nats-1', 'nats-2', 'nats-3']) assert.ok(s.depends_on?.[dep], `compose ${name} waits for ${dep}`);
  }
});

test('prometheus.yml scrapes the compose chat services on their PORT and loads rule files mounted beside it', () => {
  const [prom] = files.get('prometheus/prometheus.yml')!;
  const promService = compose.services.prometheus;
  // The host directory mounted where --config.file lives; rule_files are relative to that file.
  const configFile = /--config\.file=(\S+)/.exec([promService.command].flat().join(' '))?.[1] ?? '/etc/prometheus/prometheus.yml';
  const configDir = configFile.replace(/\/[^/]+$/, '');
  const mount = (promService.volumes as string[]).map((v) => v.split(':')).find(([, target]) => target === configDir);
  assert.ok(mount, `compose prometheus mounts a host directory at ${configDir}`);
  const hostDir = resolve(deploy, mount[0]);
  assert.ok(existsSync(join(hostDir, 'prometheus.yml')), `${relative(root, hostDir)}/prometheus.yml is the config prometheus reads`);
  assert.ok(prom.rule_files?.length, 'rule_files are loaded');
  for (const f of prom.rule_files as string[]) {
    assert.ok(!f.startsWith('/') && !f.includes('..'), `${f}: beside prometheus.yml`);
    assert.ok(existsSync(join(hostDir, f)), `rule file ${f} exists in ${relative(root, hostDir)}/ (mounted at ${configDir})`);
  }
  const chat = (prom.scrape_configs as Yaml[]).find((j) => j.job_name === 'chat');
  assert.ok(chat, 'a `chat` scrape job');
  probedPaths.add(chat.metrics_path ?? '/metrics');
  assert.equal(chat.scheme ?? 'http', 'http');
  const targets: string[] = chat.static_configs.flatMap((c: Yaml) => c.targets);
  const expected = chatServices.map(([name, s]) => `${name}:${portOf(s.environment)}`);
  assert.deepEqual([...targets].sort(), expected.sort(), 'one target per compose chat node, at its PORT');
  // Grafana reads this Prometheus, and its dashboards from where compose mounts them.
  const [ds] = files.get('grafana/provisioning/datasources/prometheus.yaml')!;
  const url = urlsIn(ds.datasources[0].url + '/')[0];
  assert.equal(url.host, 'prometheus', 'the data source is the compose service');
  assert.ok(compose.services[url.host].ports.some((p: string) => String(p).endsWith(`:${url.port}`)), 'at the port Prometheus listens on');
  const [provider] = files.get('grafana/provisioning/dashboards/chat.yaml')!;
  const dashboardsPath = provider.providers[0].options.path;
  assert.ok((compose.services.grafana.volumes as string[]).some((v) => v.split(':')[1] === dashboardsPath), `compose grafana mounts ${dashboardsPath}`);
});

test('k8s: probes on /readyz and /healthz at PORT, grace ≥ preStop + SHUTDOWN_TIMEOUT_MS, a PDB and Service per workload, no secret values', () => {
  for (const { where, container: c, pod, env } of k8sContainers()) {
    const port = portOf(env);
    const portNumber = (p: number | string) => (typeof p === 'number' ? p : c.ports?.find((x: Yaml) => x.name === p)?.containerPort);
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${where}: readinessProbe on /readyz`);
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${where}: livenessProbe on /healthz`);
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
      assert.equal(portNumber(probe.httpGet.port), port, `${where}: ${probe.httpGet.path} probed on PORT ${port}`);
      probedPaths.add(probe.httpGet.path);
    }
    for (const p of c.ports ?? []) assert.equal(p.containerPort, port, `${where}: containerPort ${p.containerPort} is PORT`);
    assert.ok(env.SHUTDOWN_TIMEOUT_MS, `${where}: SHUTDOWN_TIMEOUT_MS set explicitly (the grace period is sized from it)`);
    const pre = c.lifecycle?.preStop;
    const sleepS = pre?.sleep?.seconds ?? Number(/^sleep (\d+)$/.exec([pre?.exec?.command ?? []].flat().join(' '))?.[1] ?? 0);
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    assert.ok(grace >= sleepS + Number(env.SHUTDOWN_TIMEOUT_MS) / 1000, `${where}: terminationGracePeriodSeconds ${grace} ≥ preStop ${sleepS} s + SHUTDOWN_TIMEOUT_MS ${env.SHUTDOWN_TIMEOUT_MS} ms`);
    assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory, `${where}: resource requests and limits`);
    for (const e of c.env ?? []) {
      if (/SECRET|PASSWORD|DATABASE_URL|CONNECTION_STRING|PRIVATE_KEY/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${where}: ${e.name} from a Secret, not a value`);
    }
  }
  for (const d of k8s.filter((x) => x.kind === 'Secret')) assert.ok(!d.data && !d.stringData, `Secret ${d.metadata.name}: no values committed`);
  for (const w of k8s.filter((d) => ['Deployment', 'StatefulSet'].includes(d.kind))) {
    const labels = w.spec.template.metadata.labels;
    const selects = (sel: Record<string, string> | undefined) => sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
    assert.ok(k8s.some((d) => d.kind === 'PodDisruptionBudget' && selects(d.spec.selector.matchLabels)), `${w.metadata.name}: a PodDisruptionBudget`);
    assert.ok(k8s.some((d) => d.kind === 'Service' && selects(d.spec.selector)), `${w.metadata.name}: a Service`);
    if (w.kind === 'StatefulSet') assert.ok(k8s.some((d) => d.kind === 'Service' && d.metadata.name === w.spec.serviceName), `${w.metadata.name}: its serviceName exists`);
  }
});

describeLiveNode();

/** Every path probed above is a route a node serves, with 200 and no token (Prometheus and kubelets send none). */
function describeLiveNode(): void {
  let node: TestNode;
  before(async () => {
    node = await new TestNode({ env: { SHARD_THREADS: '1' } }).start();
  });
  after(async () => {
    await node?.kill();
  });
  test('every probed path is served by a node, without a token', async () => {
    assert.deepEqual([...probedPaths].sort(), ['/healthz', '/metrics', '/readyz'], 'the paths the files above probe');
    for (const path of probedPaths) {
      const r = await node.fetch(path);
      assert.equal(r.status, 200, `GET ${path}: ${r.text.slice(0, 200)}`);
    }
  });
}
