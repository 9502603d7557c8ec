/**
 * `npm test`: runs every suite under test/ with node:test. Suites under test/cluster/ need a
 * NATS server (NATS_URL, default nats://127.0.0.1:4222): without one they are skipped and the
 * skip is reported by name — except on CI (CI=true), where a missing NATS fails the run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'helpers' ? [] : find(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port || 4222), u.hostname);
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.end(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const only = process.argv.slice(2);
let files = find(join(root, 'test')).sort();
if (only.length) files = files.filter((f) => only.some((o) => relative(root, f).includes(o)));
const cluster = files.filter((f) => f.includes(`${join('test', 'cluster')}/`));
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
if (cluster.length > 0 && !(await reachable(natsUrl))) {
  if (process.env.CI === 'true') {
    console.error(`CI: NATS is not reachable at ${natsUrl}; the cluster suites are required on CI`);
    process.exit(1);
  }
  console.log(`NOTE: skipping ${cluster.length} cluster suite(s): no NATS server at ${natsUrl}`);
  for (const f of cluster) console.log(`  skipped: ${relative(root, f)}`);
  files = files.filter((f) => !cluster.includes(f));
}
console.log(`database for integration/e2e suites: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PGlite (DATABASE_URL unset)'}`);

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files.map((f) => relative(root, f))], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NATS_URL: natsUrl },
});
process.exit(result.status ?? 1);
