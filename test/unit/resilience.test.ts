/** The outside-call policy: per-attempt timeout, retries for retryable failures only, breaker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokenCircuitError } from 'cockatiel';
import { resilient, RetryableError } from '../../src/integrations/resilience.ts';

const opts = { timeoutMs: 50, retries: 2, breakerThreshold: 3, breakerHalfOpenAfterMs: 100 };

test('a retryable failure is retried, then the answer comes through', async () => {
  const p = resilient(opts);
  let calls = 0;
  const v = await p.execute(async () => {
    if (++calls < 3) throw new RetryableError('503');
    return 'ok';
  });
  assert.deepEqual([v, calls], ['ok', 3]);
});

test('a non-retryable failure is not retried', async () => {
  const p = resilient(opts);
  let calls = 0;
  await assert.rejects(p.execute(async () => { calls++; throw new Error('400: bad request'); }), /400/);
  assert.equal(calls, 1);
});

test('an attempt that outlives the timeout is aborted and counts as retryable', async () => {
  const p = resilient(opts);
  let attempts = 0;
  let aborted = 0;
  await assert.rejects(
    p.execute((signal) => {
      attempts++;
      signal.addEventListener('abort', () => aborted++);
      return new Promise(() => {}); // a dependency that never answers
    }),
  );
  assert.deepEqual([attempts, aborted], [3, 3], 'first attempt plus two retries, each cut at the timeout');
});

test('the breaker opens after consecutive failures, fails fast, then lets a probe through', async () => {
  const p = resilient({ ...opts, retries: 0 });
  for (let i = 0; i < 3; i++) await assert.rejects(p.execute(async () => { throw new RetryableError('down'); }));
  assert.equal(p.state(), 'open');
  let called = false;
  await assert.rejects(p.execute(async () => { called = true; return 1; }), BrokenCircuitError);
  assert.equal(called, false, 'open breaker does not call the dependency');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(await p.execute(async () => 'back'), 'back');
  assert.equal(p.state(), 'closed');
});
