/** The node refuses to run on the slow ws-based imitation of uWebSockets.js. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('UWS_USE_FALLBACK makes the node refuse to start with a clear message and exit 78', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: new URL('../../', import.meta.url).pathname,
    env: { ...process.env, UWS_USE_FALLBACK: '1', PORT: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'uws-fb-')), NATS_URL: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 78);
  assert.match(r.stderr, /refusing to start: .*fallback/);
});
