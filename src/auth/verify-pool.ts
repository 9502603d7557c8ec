/**
 * ES256/RS256 token verification off the edge's event loop: tokens are batched per event-loop
 * turn and verified synchronously in piscina worker threads (verify-worker.ts).
 *
 * Contract: `verify` resolves with the principal, rejects with `AuthError` for a bad token, and
 * with `VerifierUnavailableError` (→ HTTP 503, never 401) when `queueMax` tokens already wait
 * or a worker failed. The bound counts tokens from `verify` until their answer, so an upgrade
 * storm costs at most `queueMax` pending upgrades of memory and is refused beyond it at once
 * instead of timing out in a growing queue.
 */
import { Piscina } from 'piscina';
import { AuthError, type JwtAlgorithm, type Principal } from './verify-token.ts';
import { JWT_VERIFY_BATCH_MAX } from '../config.ts';

/** Fixed per worker at start (structured-cloned, so the key travels as PEM). */
export interface VerifyWorkerData {
  algorithm: Exclude<JwtAlgorithm, 'HS256'>;
  publicKeyPem: string;
  issuer?: string;
  audience?: string;
}

/** One token's answer from a worker. */
export type VerifyResult = Principal | { error: string };

/** The verifier cannot answer now (queue full, worker failed): the client should retry later. */
export class VerifierUnavailableError extends Error {
  override name = 'VerifierUnavailableError';
  constructor(
    message: string,
    readonly retryMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface VerifyPoolOptions {
  threads: number;
  /** Tokens accepted and not yet answered; beyond it `verify` rejects at once. */
  queueMax: number;
  worker: VerifyWorkerData;
}

/** Suggested client back-off when the queue is full: about one queue's worth of work. */
const overloadedRetryMs = 1_000;

interface Waiter {
  token: string;
  resolve(p: Principal): void;
  reject(e: Error): void;
}

export class VerifyPool {
  private readonly pool: Piscina<string[], VerifyResult[]>;
  private batch: Waiter[] = [];
  private flushScheduled = false;
  private waiting = 0;

  constructor(private readonly options: VerifyPoolOptions) {
    if (options.threads < 1 || options.queueMax < 1) throw new RangeError('VerifyPool: threads and queueMax must be >= 1');
    this.pool = new Piscina({
      filename: new URL('./verify-worker-boot.mjs', import.meta.url).href,
      name: 'default',
      minThreads: options.threads,
      maxThreads: options.threads,
      // Never reached before our own token bound (a task holds ≥ 1 token); a backstop only.
      maxQueue: options.queueMax,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      workerData: options.worker,
    });
  }

  /** Tokens accepted and not yet answered. */
  get depth(): number {
    return this.waiting;
  }

  verify(token: string): Promise<Principal> {
    if (this.waiting >= this.options.queueMax) {
      return Promise.reject(new VerifierUnavailableError(`token verification queue full (${this.options.queueMax})`, overloadedRetryMs));
    }
    this.waiting++;
    return new Promise<Principal>((resolve, reject) => {
      this.batch.push({ token, resolve, reject });
      if (this.batch.length >= JWT_VERIFY_BATCH_MAX) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush()); // after this turn's other upgrades joined the batch
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.pool.run(batch.map((w) => w.token)).then(
      (results) => {
        this.waiting -= batch.length;
        batch.forEach((w, i) => {
          const r = results[i];
          if (r && 'sub' in r) w.resolve(r);
          else w.reject(new AuthError(r?.error ?? 'invalid token'));
        });
      },
      (e: unknown) => {
        this.waiting -= batch.length;
        const error = new VerifierUnavailableError('token verification failed in the worker pool', overloadedRetryMs, { cause: e });
        for (const w of batch) w.reject(error);
      },
    );
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
