/**
 * The policy every outside call goes through (seed 004): a timeout per attempt, retry with
 * exponential backoff and jitter for retryable failures only, and a circuit breaker that fails
 * fast while the dependency keeps failing. Built on cockatiel rather than by hand: its
 * breaker's half-open probing and its decorrelated-jitter backoff are well-tested. cockatiel 3.x:
 * 4.0 needs Node ≥ 22 and we run Node 20; the API used here is the same in both.
 */
import {
  circuitBreaker, ConsecutiveBreaker, TaskCancelledError, ExponentialBackoff, handleWhen, retry, timeout, TimeoutStrategy, wrap, CircuitState, type IPolicy,
} from 'cockatiel';

/** A failure worth retrying (network error, timeout, 5xx); anything else is an answer. */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

export interface ResilienceOptions {
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Consecutive failures that open the breaker. */
  breakerThreshold: number;
  /** How long an open breaker fails fast before letting one probe through. */
  breakerHalfOpenAfterMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface Resilient {
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  state(): BreakerState;
}

export function resilient(opts: ResilienceOptions): Resilient {
  const retryable = handleWhen((e) => e instanceof RetryableError || e instanceof TaskCancelledError);
  const retryPolicy = retry(retryable, { maxAttempts: opts.retries, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }) });
  const breaker = circuitBreaker(retryable, { halfOpenAfter: opts.breakerHalfOpenAfterMs, breaker: new ConsecutiveBreaker(opts.breakerThreshold) });
  const perAttempt = timeout(opts.timeoutMs, TimeoutStrategy.Aggressive);
  const policy: IPolicy = wrap(breaker, retryPolicy, perAttempt);
  return {
    execute: (fn) => policy.execute(({ signal }) => fn(signal)),
    state: () => (breaker.state === CircuitState.Open || breaker.state === CircuitState.Isolated ? 'open' : breaker.state === CircuitState.HalfOpen ? 'half-open' : 'closed'),
  };
}
