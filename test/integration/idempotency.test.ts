/**
 * Idempotency keys against a real database (issue 17): the table's claim / answer / sweep, and
 * idempotent()'s rules — replay, another body 422, a running claim 409, 5xx and transient errors
 * not stored, TTL expiry and the sweep deleting only expired rows. PGlite, or Postgres with DATABASE_URL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatError } from '../../protocol/errors.ts';
import { loadConfig } from '../../src/config.ts';
import { idempotencyKey, idempotent } from '../../src/http/idempotency.ts';
import type { HttpDeps, RouteResult } from '../../src/http/routes.ts';
import { createLogger } from '../../src/log.ts';
import { IdempotencyTable } from '../../src/persist/idempotency.ts';
import { testDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
let deps: HttpDeps;
before(async () => {
  db = await testDatabase();
  deps = { pool: db.pool, config: loadConfig({ DATA_DIR: '/tmp', IDEMPOTENCY_TTL_MS: '60000' }), log: createLogger('silent') } as unknown as HttpDeps;
});
after(() => db.close());

let n = 0;
const user = () => ({ sub: `idem-${process.pid}-${++n}`, roles: ['customer'] }) as Parameters<typeof idempotent>[1];

/** A run that counts its calls and answers what it is given. */
function counted(answer: () => Promise<RouteResult>) {
  const calls = { n: 0 };
  return { calls, run: async () => (calls.n++, answer()) };
}

test('same key and body → the stored answer without running again; another body → 422; keys are per user and scope', async () => {
  const p = user();
  const { calls, run } = counted(async () => ({ status: 201, body: { id: 't1', at: calls.n } }));
  const first = await idempotent(deps, p, 'route:t1', 'k1', 'h1', run);
  assert.deepEqual([first.status, first.body], [201, { id: 't1', at: 1 }]);
  const again = await idempotent(deps, p, 'route:t1', 'k1', 'h1', run);
  assert.equal(again.status, 201);
  assert.deepEqual(JSON.parse(again.body as string), { id: 't1', at: 1 }, 'the original body');
  assert.equal(calls.n, 1, 'not run twice');
  await assert.rejects(idempotent(deps, p, 'route:t1', 'k1', 'h2', run), (e: ChatError) => e.code === 422);
  assert.equal(calls.n, 1);
  // Another scope or another user with the same key is another request.
  await idempotent(deps, p, 'route:t2', 'k1', 'h2', run);
  await idempotent(deps, user(), 'route:t1', 'k1', 'h2', run);
  assert.equal(calls.n, 3);
});

test('a permanent 4xx is stored and replayed; 5xx, exceptions and errors with retryMs are not (a retry runs again)', async () => {
  const p = user();
  const refusal = counted(async () => {
    throw new ChatError(409, 'not now', { state: 'assigned' });
  });
  await assert.rejects(idempotent(deps, p, 's', 'k409', 'h', refusal.run), (e: ChatError) => e.code === 409);
  const replay = await idempotent(deps, p, 's', 'k409', 'h', refusal.run);
  assert.deepEqual([replay.status, JSON.parse(replay.body as string)], [409, { code: 409, message: 'not now', state: 'assigned' }]);
  assert.equal(refusal.calls.n, 1);

  for (const [key, fail] of [
    ['k503', () => Promise.reject(new ChatError(503, 'down', { retryMs: 1000 }))],
    ['k429', () => Promise.reject(new ChatError(429, 'slow down', { retryMs: 200 }))],
    ['kthrow', () => Promise.reject(new Error('database gone'))],
    ['k500', () => Promise.resolve({ status: 500, body: { code: 500, message: 'boom' } })],
  ] as const) {
    const failing = counted(fail);
    await idempotent(deps, p, 's', key, 'h', failing.run).catch(() => {});
    const ok = counted(async () => ({ status: 200, body: { ok: true } }));
    const retry = await idempotent(deps, p, 's', key, 'h', ok.run);
    assert.deepEqual([retry.status, ok.calls.n], [200, 1], `${key}: the retry ran`);
  }
});

test('a request still running under the key → 409 with retryMs (and 422 for another body); a stale claim is taken over', async () => {
  const p = user();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = counted(async () => (await gate, { status: 200, body: { done: true } }));
  const running = idempotent(deps, p, 's', 'kslow', 'h', slow.run);
  // Wait until the first attempt holds its claim (it runs once claimed).
  for (let i = 0; i < 200 && slow.calls.n === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await assert.rejects(idempotent(deps, p, 's', 'kslow', 'h', slow.run), (e: ChatError) => e.code === 409 && typeof e.extra.retryMs === 'number');
  await assert.rejects(idempotent(deps, p, 's', 'kslow', 'other', slow.run), (e: ChatError) => e.code === 422);
  release();
  assert.equal((await running).status, 200);
  assert.equal((await idempotent(deps, p, 's', 'kslow', 'h', slow.run)).status, 200);
  assert.equal(slow.calls.n, 1);

  // A claim whose node died (never answered) is taken over once it is older than the pending bound.
  const table = new IdempotencyTable(db.pool);
  const ref = { user: p.sub, scope: 's', key: 'kdead' };
  assert.deepEqual(await table.claim(ref, 'h', 'dead-claim', 1_000, 0, 0), { kind: 'owned' });
  assert.deepEqual(await table.claim(ref, 'h', 'second', 2_000, 0, 500), { kind: 'running', requestHash: 'h' }, 'young claim: still running');
  assert.deepEqual(await table.claim(ref, 'h', 'third', 3_000, 0, 2_000), { kind: 'owned' }, 'stale claim: taken over');
  assert.equal(await table.complete(ref, 'dead-claim', 200, '{}'), false, 'the dead attempt can no longer store its answer');
  assert.equal(await table.complete(ref, 'third', 200, '{"x":1}'), true);
  assert.deepEqual(await table.claim(ref, 'h', 'fourth', 4_000, 0, 4_000), { kind: 'done', requestHash: 'h', status: 200, body: '{"x":1}' });
});

test('TTL: an expired key runs anew; the sweep deletes only expired rows, in batches', async () => {
  const table = new IdempotencyTable(db.pool);
  const u = `ttl-${process.pid}-${++n}`;
  const t0 = 10_000_000_000; // far from other tests' rows (all at Date.now())
  for (let i = 0; i < 7; i++) {
    const ref = { user: u, scope: 's', key: `old-${i}` };
    await table.claim(ref, 'h', `c${i}`, t0 + i, 0, 0);
    await table.complete(ref, `c${i}`, 200, '{}');
  }
  const young = { user: u, scope: 's', key: 'young' };
  await table.claim(young, 'h', 'cy', t0 + 1_000, 0, 0);
  await table.complete(young, 'cy', 201, '{"young":true}');
  // Expired, not swept yet: the claim treats it as absent.
  assert.deepEqual(await table.claim({ user: u, scope: 's', key: 'old-0' }, 'other', 'again', t0 + 2_000, t0 + 500, 0), { kind: 'owned' });
  await table.release({ user: u, scope: 's', key: 'old-0' }, 'again');
  const count = async () => Number((await db.pool.query('SELECT count(*) AS n FROM idempotency_keys WHERE user_id = $1', [u])).rows[0].n);
  assert.equal(await count(), 7);
  const recent = async () => Number((await db.pool.query('SELECT count(*) AS n FROM idempotency_keys WHERE created_ms >= $1', [t0 + 500])).rows[0].n);
  const kept = await recent();
  assert.ok(kept >= 1 + 3, 'the young row and the other tests\' rows (at Date.now())');
  // Batches of 2: this user's 6 expired rows (and the earlier test's hand-made claim at 3000 ms) go over several statements.
  const removed = await table.sweep(t0 + 500, 2);
  assert.ok(removed >= 6, String(removed));
  assert.equal(await count(), 1, 'only the young row of this user is left');
  assert.equal(await recent(), kept, 'nothing unexpired was deleted');
  assert.equal(await table.sweep(t0 + 500, 2), 0);
  assert.deepEqual(await table.claim(young, 'h', 'cz', t0 + 2_000, t0 + 500, 0), { kind: 'done', requestHash: 'h', status: 201, body: '{"young":true}' });
});

test('idempotency keys: required, at most 200 printable ASCII characters', () => {
  assert.equal(idempotencyKey('a-Key_1'), 'a-Key_1');
  for (const bad of ['', undefined, 'has space', 'x'.repeat(201), 'naïve']) {
    assert.throws(() => idempotencyKey(bad), (e: ChatError) => e.code === 400, String(bad));
  }
});
