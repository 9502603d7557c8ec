/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): attempt n waits a uniform random time in [0, min(maxMs, baseMs · 2^n)). Full jitter
 * spreads a crowd of clients that lost the same node over the whole window instead of bunching
 * them at its edge. Pure apart from `random`, which tests replace.
 */
import { backoffDefaults } from './limits.ts';

export interface BackoffOptions {
  /** Ceiling of the first delay (default `backoffDefaults.baseMs`, 250). */
  baseMs?: number;
  /** Ceiling of every delay (default `backoffDefaults.maxMs`, 10 s). */
  maxMs?: number;
  /** Uniform in [0, 1). */
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? backoffDefaults.baseMs;
    this.maxMs = opts.maxMs ?? backoffDefaults.maxMs;
    this.random = opts.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.maxMs >= this.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs ≤ maxMs (got ${this.baseMs}, ${this.maxMs})`);
    }
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The ceiling the next delay is drawn under. */
  get ceilingMs(): number {
    // The exponent stops growing once the ceiling reaches maxMs, so it can never overflow.
    return Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
  }

  /** The delay before the next attempt; each call counts one more failed attempt. */
  next(): number {
    const ceiling = this.ceilingMs;
    if (ceiling < this.maxMs) this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** A connection succeeded: the next failure starts again from baseMs. */
  reset(): void {
    this.attempt = 0;
  }
}
