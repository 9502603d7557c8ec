/**
 * The policy every outside call goes through (seed 004): a timeout per attempt, retry with
 * exponential backoff and jitter for retryable failures only, and a circuit breaker that fails
 * fast while the dependency keeps failing. Built on cockatiel rather than by hand: its
 * breaker's half-open probing and its decorrelated-jitter backoff are well-tested. cockatiel 3.x:
 * 4.0 needs Node ≥ 22 and we run Node 20; the API used here is the same in both.
 * retryForever (below) is the one way to wait for a dependency the node cannot start without.
 */
import {
  BrokenCircuitError, circuitBreaker, ConsecutiveBreaker, TaskCancelledError, ExponentialBackoff, halfJitterGenerator, handleWhen, retry, timeout, TimeoutStrategy, wrap, CircuitState,
  type IPolicy,
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

/** Whether `e` is the breaker failing fast (open): the call was not attempted. */
export function isBreakerOpen(e: unknown): boolean {
  return e instanceof BrokenCircuitError;
}

/**
 * The pause before attempt `failures + 1` of a durable retry — one whose attempts are kept in a
 * row (a notification's next_ms, src/notify/), so a restart or another node makes the next one:
 * the schedule retryForever waits (cockatiel's half jitter, [d/2, d) for d = initial·2^(failures-1)
 * capped at max), computed instead of awaited.
 */
export function retryDelayMs(failures: number, initialDelayMs: number, maxDelayMs: number): number {
  const [delay] = halfJitterGenerator(Math.max(0, failures - 1), { initialDelay: initialDelayMs, maxDelay: maxDelayMs, exponent: 2, generator: halfJitterGenerator });
  return delay;
}

/** A retryForever that was told to stop before its call answered. */
export class RetryStoppedError extends Error {
  override name = 'RetryStoppedError';
  constructor() {
    super('stopped before it answered');
  }
}

export interface RetryForeverOptions {
  /** Pause after the first failure; each next pause doubles, up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Aborting it ends the retries at once: the call rejects with RetryStoppedError. */
  signal?: AbortSignal;
  /** Called on each failure, with the pause before the next attempt (for a log line). */
  onRetry?: (failure: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Calls `fn` until it answers: for a dependency the node cannot do without (NATS, Postgres,
 * JetStream) that may still be starting. Every failure is retried, after a capped exponential
 * pause with half jitter ([d/2, d) for the step's d): nodes restarted together spread their
 * attempts, and until the cap each pause is at least the one before (the growth shows in logs).
 * cockatiel's own pause ignores the signal, so a stop races it; the attempt it would have
 * started afterwards sees the signal and ends the loop instead.
 */
export async function retryForever<T>(fn: (signal: AbortSignal) => Promise<T>, opts: RetryForeverOptions): Promise<T> {
  const signal = opts.signal ?? new AbortController().signal;
  const policy = retry(handleWhen((e) => !(e instanceof RetryStoppedError)), {
    maxAttempts: Infinity,
    backoff: new ExponentialBackoff({ initialDelay: opts.initialDelayMs, maxDelay: opts.maxDelayMs, generator: halfJitterGenerator }),
  });
  const listener = policy.onRetry((r) => opts.onRetry?.({ attempt: r.attempt, delayMs: r.delay, error: 'error' in r ? r.error : r.value }));
  const attempts = policy.execute(() => {
    if (signal.aborted) throw new RetryStoppedError();
    return fn(signal);
  }, signal);
  let onAbort = (): void => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new RetryStoppedError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  attempts.catch(() => {}); // settles after a stop won the race; nobody waits for it then
  stopped.catch(() => {});
  try {
    return await Promise.race([attempts, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    listener.dispose();
  }
}
