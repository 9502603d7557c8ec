/**
 * `npm test`: runs every suite under test/ with node:test. Suites under test/cluster/ need a
 * NATS server (NATS_URL, default nats://127.0.0.1:4222): without one they are skipped and the
 * skip is reported by name — except on CI (CI=true), where a missing NATS fails the run.
 *
 * `npx tsx test/run.ts <substring>…` runs only the suites whose path contains one of them.
 *
 * Suites named `*.alone.test.ts` run after the others, one at a time: they hold a bound the
 * issues require in wall-clock time (a takeover answered within LEASE_TTL_MS + renew + 1 s) and
 * would measure a neighbouring suite's load instead of ours when run beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
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

/**
 * One generated test file per suite skipped here, holding one skipped test named after the
 * suite: node's reporters then count it (`# skipped N` in the closing summary, a skipped case
 * in CI's reports) instead of the run claiming `skipped 0` while whole suites did not run.
 */
function skippedSuiteFiles(dir: string, suites: string[], reason: string): string[] {
  return suites.map((suite, i) => {
    const file = join(dir, `skipped-${i}.test.mjs`);
    writeFileSync(file, `import { test } from 'node:test';\ntest(${JSON.stringify(relative(root, suite))}, { skip: ${JSON.stringify(reason)} }, () => {});\n`);
    return file;
  });
}

const only = process.argv.slice(2);
let files = find(join(root, 'test')).sort();
if (only.length) files = files.filter((f) => only.some((o) => relative(root, f).includes(o)));
// With no file arguments `node --test` would search the working directory on its own.
if (files.length === 0) {
  console.error(`no test file under test/ matches ${only.map((o) => JSON.stringify(o)).join(' or ')}`);
  process.exit(1);
}
const cluster = files.filter((f) => f.includes(`${join('test', 'cluster')}/`));
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
let skipped: string[] = [];
if (cluster.length > 0 && !(await reachable(natsUrl))) {
  if (process.env.CI === 'true') {
    console.error(`CI: NATS is not reachable at ${natsUrl}; the cluster suites are required on CI`);
    process.exit(1);
  }
  console.log(`NOTE: skipping ${cluster.length} cluster suite(s): no NATS server at ${natsUrl}`);
  for (const f of cluster) console.log(`  skipped: ${relative(root, f)}`);
  files = files.filter((f) => !cluster.includes(f));
  skipped = cluster;
}
const generatedDir = skipped.length > 0 ? mkdtempSync(join(tmpdir(), 'chat-skipped-suites-')) : undefined;
if (generatedDir) files.push(...skippedSuiteFiles(generatedDir, skipped, `no NATS server at ${natsUrl}`));
console.log(`database for integration/e2e suites: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PGlite (DATABASE_URL unset)'}`);

function runSuites(suites: string[], concurrency: number): number {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...suites.map((f) => relative(root, f))], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NATS_URL: natsUrl },
  });
  return result.status ?? 1;
}

const alone = files.filter((f) => f.endsWith('.alone.test.ts'));
const together = files.filter((f) => !alone.includes(f));
let status = together.length > 0 ? runSuites(together, 2) : 0;
if (alone.length > 0) {
  console.log(`\nsuites that run alone: ${alone.map((f) => relative(root, f)).join(', ')}`);
  status = runSuites(alone, 1) || status;
}
if (generatedDir) rmSync(generatedDir, { recursive: true, force: true });
process.exit(status);
