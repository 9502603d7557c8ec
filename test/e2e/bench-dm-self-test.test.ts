/**
 * The bench's dm load checked against the fake server (bench/fake-server.ts): it must count the
 * gaps and duplicates a server causes, or a clean sweep step proves nothing (issue 14 item 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** One short dm run against the fake server; its JSON result line. */
function benchDm(env: Record<string, string>): Promise<Record<string, number>> {
  const args = ['--import', 'tsx', 'bench/run.ts', 'dm', '--pairs', '20', '--rate', '400', '--duration', '1', '--warmup', '0.5', '--drain', '1',
    '--server-cmd', 'node --import tsx bench/fake-server.ts'];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${error.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

test('a clean server shows no gaps and no duplicates', async () => {
  const r = await benchDm({});
  assert.ok(r.delivered > 0, JSON.stringify(r));
  assert.equal(r.gaps, 0);
  assert.equal(r.duplicates, 0);
});

test('a server that takes a seq and never shows it is caught: one gap per skipped seq', async () => {
  const r = await benchDm({ FAKE_SEQ_GAP_EVERY: '5' });
  assert.ok(r.delivered > 100, JSON.stringify(r));
  // Every 5th seq of each conversation is skipped: about a quarter as many gaps as messages shown.
  assert.ok(r.gaps >= r.delivered / 8, `gaps ${r.gaps} for ${r.delivered} delivered`);
  assert.equal(r.duplicates, 0);
});
