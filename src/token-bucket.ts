/**
 * Token bucket: `ratePerS` refill, `burst` capacity. Time is passed in (ms). The one bucket of the
 * node: WebSocket sends and frames (src/edge) and the HTTP API's per-user and per-IP limits
 * (src/http/rate-limit.ts). A room of its own so both can use it without importing each other.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerS: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token, or returns how many ms until one is available. */
  take(now: number): { ok: true } | { ok: false; retryMs: number } {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerS) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryMs: Math.ceil(((1 - this.tokens) * 1000) / this.ratePerS) };
  }
}
