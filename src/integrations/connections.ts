/**
 * Connections authority port (seed 001 REQ-1-029): may these two users message each other?
 * Fails closed: when the answer cannot be had, the result is `unavailable` and nothing passes.
 */
import { LRUCache } from 'lru-cache';
import type { ConnectionCheck } from '../../actors/types.ts';
import { RetryableError, type Resilient } from './resilience.ts';
import { startSpan } from '../tracing.ts';

export interface ConnectionsAuthority {
  /** Never rejects: errors and timeouts become `unavailable`. */
  check(a: string, b: string): Promise<ConnectionCheck>;
  /** Drops a cached answer (the embedded table changed). */
  invalidate(a: string, b: string): void;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

/** Source of truth behind the cache; may throw. */
export type ConnectionLookup = (a: string, b: string) => Promise<boolean>;

/**
 * Remote service: GET {url}/v1/connections/{a}/{b} → 200 {areConnected} | 404 (not connected),
 * through `policy` (timeout per attempt, retries for network errors and 5xx, breaker).
 * Failure mode: fail closed — the caller turns any failure into `unavailable` (err 503).
 */
export function httpConnectionLookup(baseUrl: string, policy: Resilient): ConnectionLookup {
  const base = baseUrl.replace(/\/+$/, '');
  return (a, b) =>
    traced('connections.lookup', () => policy.execute(async (signal) => {
      let res: Response;
      try {
        res = await fetch(`${base}/v1/connections/${encodeURIComponent(a)}/${encodeURIComponent(b)}`, { signal });
      } catch (e) {
        throw new RetryableError(`connections service unreachable: ${e instanceof Error ? e.message : e}`);
      }
      if (res.status === 404) return false;
      if (res.status >= 500) throw new RetryableError(`connections service answered ${res.status}`);
      if (res.status !== 200) throw new Error(`connections service answered ${res.status}`);
      const body = (await res.json()) as { areConnected?: unknown };
      if (typeof body.areConnected !== 'boolean') throw new Error('connections service: areConnected missing');
      return body.areConnected;
    }));
}

async function traced<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const span = startSpan(name);
  try {
    return await fn();
  } catch (e) {
    span.setStatus({ code: 2, message: e instanceof Error ? e.name : 'error' });
    throw e;
  } finally {
    span.end();
  }
}

/** The embedded connections table as this port reads it (src/persist/store.ts ConnectionsTable). */
export interface ConnectionsTableReader {
  areConnected(a: string, b: string): Promise<boolean>;
}

export function tableConnectionLookup(table: ConnectionsTableReader): ConnectionLookup {
  return (a, b) => table.areConnected(a, b);
}

/** Whether either user of the pair blocked the other (our own table, whoever the authority is); may throw. */
export type BlockLookup = (a: string, b: string) => Promise<boolean>;

/** A definite answer, as cached. */
type Answer = Exclude<ConnectionCheck, 'unavailable'>;

/**
 * Caches definite answers (connected, not connected, blocked) for `ttlMs`; never caches
 * failures: the authority or the block table failing makes the answer `unavailable` (fail
 * closed). Concurrent checks of one pair share one lookup. A block or a connection change
 * invalidates the pair at once (the `connectionsChanged` bus subject); the TTL is the backstop.
 */
export class CachedConnections implements ConnectionsAuthority {
  private cache: LRUCache<string, Answer>;
  private inflight = new Map<string, Promise<ConnectionCheck>>();

  constructor(private readonly lookup: ConnectionLookup, ttlMs: number, max: number, private readonly blocked?: BlockLookup) {
    this.cache = new LRUCache<string, Answer>({ max, ttl: Math.max(1, ttlMs) });
  }

  check(a: string, b: string): Promise<ConnectionCheck> {
    const key = pairKey(a, b);
    const cached = this.cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    let p = this.inflight.get(key);
    if (!p) {
      p = Promise.all([this.lookup(a, b), this.blocked ? this.blocked(a, b) : false]).then(
        ([yes, blocked]): ConnectionCheck => {
          const answer: Answer = blocked ? 'blocked' : yes ? 'connected' : 'not_connected';
          this.cache.set(key, answer);
          return answer;
        },
        (): ConnectionCheck => 'unavailable',
      );
      p.finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Synchronous fast path for the hot send loop; undefined when not cached. */
  peek(a: string, b: string): ConnectionCheck | undefined {
    return this.cache.get(pairKey(a, b));
  }

  invalidate(a: string, b: string): void {
    this.cache.delete(pairKey(a, b));
  }
}
