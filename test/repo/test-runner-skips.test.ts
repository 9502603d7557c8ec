/**
 * `npm test` (test/run.ts) counts the suites it skips: without NATS the cluster suites do not
 * run, and the closing summary must say so (`skipped N`), not `skipped 0`. On CI a missing NATS
 * fails the run instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const root = new URL('../../', import.meta.url).pathname;
/** Nothing listens on the discard port: the runner's NATS probe is refused at once. */
const noNats = 'nats://127.0.0.1:9';

function runner(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; out: string }> {
  // NODE_TEST_CONTEXT would make the inner `node --test` report to this test run instead of printing its summary.
  const { NODE_TEST_CONTEXT: _ctx, CI: _ci, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', ...args], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

test('cluster suites skipped for want of NATS are counted in the closing summary, one per suite, by name', async () => {
  // A quick unit suite runs beside the two skipped cluster suites.
  const r = await runner(['unit/shed-level', 'cluster/bus-nats', 'cluster/outbox'], { NATS_URL: noNats });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /NOTE: skipping 2 cluster suite\(s\): no NATS server at nats:\/\/127\.0\.0\.1:9/);
  assert.match(r.out, /ℹ skipped 2\n/, `the summary counts both skipped suites:\n${r.out}`);
  assert.match(r.out, /ℹ pass [1-9]/, 'the unit suite still ran');
  for (const suite of ['test/cluster/bus-nats.test.ts', 'test/cluster/outbox.test.ts']) {
    assert.ok(r.out.split('\n').some((l) => l.includes(suite) && l.includes('# no NATS server')), `${suite} is reported as skipped`);
  }
});

test('on CI a missing NATS fails the run instead of skipping', async () => {
  const r = await runner(['cluster/bus-nats'], { NATS_URL: noNats, CI: 'true' });
  assert.equal(r.code, 1);
  assert.match(r.out, /CI: NATS is not reachable/);
});

test('a filter that matches no suite fails instead of letting node --test search on its own', async () => {
  const r = await runner(['no-such-suite-anywhere'], { NATS_URL: noNats });
  assert.equal(r.code, 1);
  assert.match(r.out, /no test file under test\/ matches "no-such-suite-anywhere"/);
});
