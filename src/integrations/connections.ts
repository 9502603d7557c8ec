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

/**
 * Caches definite answers (both yes and no) for `ttlMs`; never caches failures. Concurrent
 * checks of one pair share one lookup.
 */
export class CachedConnections implements ConnectionsAuthority {
  private cache: LRUCache<string, boolean>;
  private inflight = new Map<string, Promise<ConnectionCheck>>();

  constructor(private readonly lookup: ConnectionLookup, ttlMs: number, max: number) {
    this.cache = new LRUCache<string, boolean>({ max, ttl: Math.max(1, ttlMs) });
  }

  check(a: string, b: string): Promise<ConnectionCheck> {
    const key = pairKey(a, b);
    const cached = this.cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached ? 'connected' : 'not_connected');
    let p = this.inflight.get(key);
    if (!p) {
      p = this.lookup(a, b).then(
        (yes): ConnectionCheck => {
          this.cache.set(key, yes);
          return yes ? 'connected' : 'not_connected';
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
    const cached = this.cache.get(pairKey(a, b));
    return cached === undefined ? undefined : cached ? 'connected' : 'not_connected';
  }

  invalidate(a: string, b: string): void {
    this.cache.delete(pairKey(a, b));
  }
}
