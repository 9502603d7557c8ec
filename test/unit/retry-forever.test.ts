/**
 * retryForever: what the node waits on at start (NATS, Postgres migrations, JetStream) is
 * called until it answers, with capped exponential pauses and jitter, and a stop ends it at once.
 * Pauses here are a few milliseconds: the helper's own, no other sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryForever, RetryStoppedError } from '../../src/integrations/resilience.ts';

const tiny = { initialDelayMs: 2, maxDelayMs: 16 };

test('a failing call is retried until it answers, each failure reported with its attempt', async () => {
  let calls = 0;
  const attempts: number[] = [];
  const errors: unknown[] = [];
  const v = await retryForever(
    async () => {
      if (++calls < 4) throw new Error(`down ${calls}`);
      return 'up';
    },
    { ...tiny, onRetry: (f) => (attempts.push(f.attempt), errors.push(f.error)) },
  );
  assert.equal(v, 'up');
  assert.equal(calls, 4);
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(errors.map((e) => (e as Error).message), ['down 1', 'down 2', 'down 3']);
});

test('pauses double from the first one, never shrink while growing, and stop growing at the cap (half jitter)', async () => {
  const delays: number[] = [];
  let calls = 0;
  await retryForever(
    async () => {
      if (++calls <= 9) throw new Error('down');
      return undefined;
    },
    { ...tiny, onRetry: (f) => delays.push(f.delayMs) },
  );
  assert.equal(delays.length, 9);
  delays.forEach((d, i) => {
    const step = Math.min(tiny.maxDelayMs, tiny.initialDelayMs * 2 ** i); // 2, 4, 8, 16, 16…
    assert.ok(d >= step / 2 && d < step, `pause ${i + 1} = ${d} ms, expected in [${step / 2}, ${step})`);
    const growing = i > 0 && step < tiny.maxDelayMs; // at the cap, jitter alone moves the pause
    if (growing) assert.ok(d >= delays[i - 1], `pause ${i + 1} (${d}) shorter than the one before (${delays[i - 1]})`);
  });
  assert.ok(Math.max(...delays) < tiny.maxDelayMs, 'capped');
  assert.ok(delays.slice(3).every((d) => d >= tiny.maxDelayMs / 2), 'at the cap from the fourth pause on');
});

test('a stop during a pause ends it at once, and no attempt follows', async () => {
  const stop = new AbortController();
  const pauseMs = 20;
  let calls = 0;
  const run = retryForever(
    async () => {
      calls++;
      throw new Error('down');
    },
    { initialDelayMs: pauseMs, maxDelayMs: pauseMs, signal: stop.signal, onRetry: (f) => f.attempt === 2 && stop.abort() },
  );
  await assert.rejects(run, RetryStoppedError);
  assert.equal(calls, 2);
  // The pause the stop cut short is the helper's own (≤ 20 ms): after it, still no third call.
  await new Promise((r) => setTimeout(r, pauseMs * 3));
  assert.equal(calls, 2, 'no attempt after the stop');
});

test('a stop while an attempt hangs ends the retries without waiting for it, and the attempt sees the signal', async () => {
  const stop = new AbortController();
  let seen: AbortSignal | undefined;
  let started!: () => void;
  const attemptStarted = new Promise<void>((r) => (started = r));
  const run = retryForever(
    (signal) => {
      seen = signal;
      started();
      return new Promise<never>(() => {}); // a dependency that never answers
    },
    { ...tiny, signal: stop.signal },
  );
  await attemptStarted;
  stop.abort();
  await assert.rejects(run, RetryStoppedError);
  assert.equal(seen?.aborted, true);
});

test('an already stopped retry does not call at all', async () => {
  const stop = new AbortController();
  stop.abort();
  let calls = 0;
  await assert.rejects(retryForever(async () => ++calls, { ...tiny, signal: stop.signal }), RetryStoppedError);
  assert.equal(calls, 0);
});
