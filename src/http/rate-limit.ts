/**
 * Rate limits of the REST API (issue 17): a token bucket per user and one per client address,
 * per edge thread (like MAX_CONNS_PER_USER: N edge threads let a client N times the rate when the
 * kernel spreads its connections). Over → ChatError 429 with retryMs, which route() answers as
 * HTTP 429 with `Retry-After` (seconds, rounded up) and `{code, message, retryMs}`.
 *
 * The address is the socket's remote address: behind a proxy every client shares the proxy's,
 * so set HTTP_RATE_PER_IP_PER_S=0 (off) there and rely on the per-user bucket; X-Forwarded-For is
 * not trusted. Buckets sit in an LRU of HTTP_RATE_BUCKETS_MAX per kind: past it the least recently
 * used bucket is dropped, and that client starts again with a full bucket (an attacker cycling
 * through more addresses than the bound gains at most one burst per address it cycles through).
 */
import { LRUCache } from 'lru-cache';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import type { Config } from '../config.ts';
import { TokenBucket } from '../token-bucket.ts';

class Buckets {
  private readonly buckets: LRUCache<string, TokenBucket>;

  constructor(private readonly perS: number, private readonly burst: number, max: number, private readonly what: string) {
    this.buckets = new LRUCache({ max });
  }

  take(key: string, now: number): void {
    if (this.perS <= 0) return;
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.perS, this.burst, now)));
    const r = b.take(now);
    if (!r.ok) throw new ChatError(ErrorCode.rateLimited, `more than ${this.perS} requests per second ${this.what}`, { retryMs: r.retryMs });
  }

  get size(): number {
    return this.buckets.size;
  }
}

export class HttpRateLimiter {
  private readonly users: Buckets;
  private readonly ips: Buckets;

  constructor(c: Config['httpRate'], private readonly clock: () => number = Date.now) {
    this.users = new Buckets(c.perUserPerS, c.perUserBurst, c.bucketsMax, 'for this user');
    this.ips = new Buckets(c.perIpPerS, c.perIpBurst, c.bucketsMax, 'from this address');
  }

  /** Throws ChatError 429 {retryMs} when the address is over its rate. */
  takeIp(ip: string): void {
    this.ips.take(ip, this.clock());
  }

  /** Throws ChatError 429 {retryMs} when the user is over their rate. */
  takeUser(user: string): void {
    this.users.take(user, this.clock());
  }

  get bucketCounts(): { users: number; ips: number } {
    return { users: this.users.size, ips: this.ips.size };
  }
}
